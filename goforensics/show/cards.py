"""The cards at the top of a report: one per suspected cause, its sites and their stacks.

A cause (:func:`goforensics.analyze.causes.cause_of`) is one leaking mechanism seen at one
or more sites (clusters). Its card says, in this order: the rank and where it blocks, the
score band, the state, its goroutines first → last (and what that count is), the pattern,
the fix, the evidence, then each site with its state, its own count and its stack, where
it entered and who created it, its pprof labels and, with ``--source``, its code. A
ranking by cluster (``by="cluster"``) gives each card one site.

>>> rec = {"rank": 1, "site": "main.f", "entry": "main.f", "created_by": "", "state": "chan send",
...        "score": 5.0, "counts": [2, 9], "goroutines": 9, "line": 3, "file": "/a.go"}
>>> card = cause_card(rec, [site_row("main.f", "chan send", [2, 9], "/a.go", 3, "main.f\\n")])
>>> "2 → 9 goroutines (first → last snapshot)" in card
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..model import Dumps
from .page import _source_html, e
from .text import score_band, trend_text

__all__ = [
    "answer_list",
    "apart_table",
    "cause_card",
    "cause_sites",
    "count_text",
    "records",
    "site_row",
    "top_labels",
]


def count_text(counts: Sequence[int], slope_per_min: float | None = None) -> str:
    """Goroutines first → last, and what the count is (the snapshots compared, or the dump).

    Parameters
    ----------
    counts : sequence of int
        The goroutines per snapshot, first to last; one count for a single dump.
    slope_per_min : float, optional
        The growth in goroutines per minute, shown after the snapshots when given.

    Returns
    -------
    str
        ``N goroutines (in the dump)`` for one count, else ``first → last goroutines
        (first → last snapshot[, slope])``.

    Examples
    --------
    >>> count_text([12, 40], 3.0), count_text([7])
    ('12 → 40 goroutines (first → last snapshot, +3.0/min)', '7 goroutines (in the dump)')
    """
    counts = [int(c) for c in counts]
    if len(counts) <= 1:
        return f"{counts[0] if counts else 0:,} goroutines (in the dump)"
    words = trend_text(counts, slope_per_min)
    rate = ""
    if words.endswith(")") and " (" in words:  # the slope trend_text appends
        words, rate = words.rsplit(" (", 1)
        rate = ", " + rate[:-1]
    return f"{words} goroutines (first → last snapshot{rate})"


def site_row(
    site: str, state: str, counts: Sequence[int], file: str, line, stack: str, entry: str = ""
) -> dict:
    """One site of a cause as its card shows it.

    Parameters
    ----------
    site : str
        The function the site's goroutines block in.
    state : str
        The state they wait in.
    counts : sequence of int
        Its goroutines per snapshot, first to last.
    file : str
        The source file of the blocking line ("" when unknown).
    line : int or None
        The blocking line (None or NaN when unknown).
    stack : str
        The stack as the card prints it.
    entry : str, default ""
        The function its goroutines entered by.

    Returns
    -------
    dict
        ``site``, ``state``, ``counts`` (list of int), ``where`` (``file:line``, the file
        alone, or ""), ``stack`` and ``entry``.

    Examples
    --------
    >>> site_row("main.f", "select", [1, 4], "/a.go", 9, "main.f\\n")["where"]
    '/a.go:9'
    """
    line = None if line is None or pd.isna(line) else int(line)
    where = f"{file}:{line}" if file and line is not None else str(file or "")
    return {
        "site": site,
        "state": state,
        "counts": [int(c) for c in counts],
        "where": where,
        "stack": stack,
        "entry": entry,
    }


def cause_sites(rec: dict, clusters: pd.DataFrame, counts: pd.DataFrame) -> list[dict]:
    """The sites of a ranked cause (or cluster) from the clusters' descriptions and counts.

    Parameters
    ----------
    rec : dict
        A record of :func:`goforensics.analyze.suspects.suspects` (``clusters``: its sites'
        cluster ids, best first, where ranked by cause; else its ``cluster``).
    clusters : DataFrame
        :func:`goforensics.analyze.clustering.describe_clusters`, indexed by cluster id.
    counts : DataFrame
        :func:`goforensics.analyze.clustering.cluster_counts` (snapshots × clusters).

    Returns
    -------
    list of dict
        :func:`site_row` per site, best first.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> labels = gf.cluster(d)
    >>> rec = gf.suspects(d, labels, by="cause").iloc[0].to_dict()
    >>> desc = gf.describe_clusters(d, labels).set_index("cluster", drop=False)
    >>> [s["site"] for s in cause_sites(rec, desc, gf.cluster_counts(d, labels))]
    ['main.(*cache).get', 'main.(*cache).refresh']
    """
    ids = rec.get("clusters")
    ids = [rec["cluster"]] if ids is None or not len(ids) else list(ids)
    out = []
    for c in ids:
        if c not in clusters.index:
            continue
        d = clusters.loc[c]
        n = counts[c].tolist() if c in counts.columns else [int(d["goroutines_last"])]
        out.append(
            site_row(
                str(d["site_function"]),
                str(d["state"]),
                n,
                str(d["site_file"]),
                d["site_line"],
                str(d["frames"]),
                str(d["entry_function"]),
            )
        )
    return out


def _sites_table(sites: list[dict]) -> str:
    several = len(sites[0]["counts"]) > 1
    head = "goroutines, first → last snapshot" if several else "goroutines (in the dump)"
    rows = [
        f'<table class="sites"><tr><th>site</th><th>state</th><th>{head}</th><th>stack</th></tr>'
    ]
    for s in sites:
        rows.append(
            f'<tr><td><code>{e(s["site"])}</code><br><span class="muted">{e(s["where"])}'
            f"</span></td><td>{e(s['state'])}</td>"
            f'<td class="n">{e(trend_text(s["counts"]))}</td>'
            f"<td><details><summary>stack</summary><pre>{e(s['stack'])}</pre></details></td></tr>"
        )
    return "".join(rows) + "</table>"


def _sum_counts(sites: list[dict]) -> list[int]:
    width = max(len(s["counts"]) for s in sites)
    return [sum(s["counts"][i] for s in sites if i < len(s["counts"])) for i in range(width)]


def cause_card(
    rec: dict, sites: list[dict] | None = None, extra: dict | None = None, *, clusters=None
) -> str:
    """The card of one suspected cause (or cluster).

    Parameters
    ----------
    rec : dict
        A record of :func:`goforensics.analyze.suspects.suspects` or of a triage report.
    sites : list of dict, optional
        :func:`cause_sites` (its sites with counts and stacks); without them the card lists
        the record's ``sites`` by name.
    extra : dict, optional
        ``labels``: its pprof labels as (text, goroutines) in the last snapshot.
    clusters : list of int, optional
        The cluster ids of its stacks, for the interactive report (``data-clusters``: a
        button focuses the flame graph on them).

    Returns
    -------
    str
        A ``<div class="card band-...">``.

    Examples
    --------
    >>> rec = {"rank": 2, "site": "main.g", "entry": "main.g", "created_by": "main.main",
    ...        "state": "select", "score": 3.1, "counts": [5], "goroutines": 5,
    ...        "advice": "add ctx.Done()", "sites": ["main.g", "main.h"]}
    >>> card = cause_card(rec, clusters=[4, 7])
    >>> card.startswith('<div class="card band-strong" data-clusters="4 7"><h3>#2 main.g</h3>')
    True
    """
    counts = _sum_counts(sites) if sites else list(rec.get("counts") or []) or [rec["goroutines"]]
    one_site = not sites or len(sites) == 1
    band = score_band(rec["score"])
    data = f' data-clusters="{" ".join(str(int(c)) for c in clusters)}"' if clusters else ""
    pills = [
        f'<span class="pill score" title="evidence: {band}">score {rec["score"]:.2f}</span>',
        f'<span class="pill">{e(rec["state"])}</span>',
        f'<span class="pill">{e(count_text(counts, rec.get("slope_per_min") if one_site else None))}'
        "</span>",
    ]
    if rec.get("title"):
        pills.append(f'<span class="pill">{e(rec["title"])}</span>')
    names = [s["site"] for s in sites] if sites else list(rec.get("sites") or [])
    if len(names) > 1:
        pills.append(f'<span class="pill">{len(names)} sites</span>')
    parts = [
        f'<div class="card band-{band}"{data}>',
        f"<h3>#{e(rec['rank'])} {e(rec['site'] or rec['entry'])}</h3>",
        "<p>" + "".join(pills) + "</p>",
    ]
    if rec.get("advice"):
        parts.append(f'<div class="advice"><b>Fix:</b> {e(rec["advice"])}</div>')
    if rec.get("evidence"):
        parts.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in rec["evidence"]) + "</ul>")
    if sites:
        parts.append(_sites_table(sites))
    elif len(names) > 1:
        parts.append("<p>sites: " + ", ".join(f"<code>{e(n)}</code>" for n in names) + "</p>")
    parts += _where(rec, counts, bool(sites))
    parts += _source_html(rec)
    labels = (extra or {}).get("labels")
    if labels:
        parts.append(
            "<p>pprof labels (last snapshot seen): "
            + ", ".join(f"<code>{e(k)}</code> ×{n:,}" for k, n in labels)
            + "</p>"
        )
    parts.append("</div>")
    return "".join(parts)


def _where(rec: dict, counts: list[int], with_sites: bool) -> list[str]:
    rows = []
    if not with_sites:
        line = rec.get("line")
        where = rec["site"] + (
            f" ({rec['file']}:{'' if line is None or pd.isna(line) else int(line)})"
            if rec.get("file")
            else ""
        )
        rows.append(f"<tr><td>blocks at</td><td><code>{e(where)}</code></td></tr>")
    rows += [
        f"<tr><td>entry</td><td><code>{e(rec['entry'])}</code></td></tr>",
        "<tr><td>created by</td><td><code>"
        f"{e(rec.get('created_by') or '(main or unknown)')}</code></td></tr>",
    ]
    if len(counts) > 1:
        rows.append(
            f"<tr><td>per snapshot</td><td>{e(', '.join(f'{c:,}' for c in counts))}</td></tr>"
        )
    return ['<table class="where">', *rows, "</table>"]


def apart_table(recs: list[dict], threshold: float) -> str:
    """The groups below the suspect threshold, in a folded table, apart from the cards.

    Parameters
    ----------
    recs : list of dict
        Records of :func:`goforensics.analyze.suspects.suspects` that are not suspected.
    threshold : float
        The score a suspect needs (:data:`goforensics.analyze.suspects.SUSPECT_THRESHOLD`).

    Returns
    -------
    str
        A ``<details>`` holding a table of site, state, goroutines (first → last snapshot),
        score, pattern, entry and creator (and the pprof labels of the records with
        ``labels``: (text, goroutines) pairs).

    Examples
    --------
    >>> rec = {"site": "main.pool", "state": "chan receive", "counts": [8, 8], "goroutines": 8,
    ...        "score": -0.6, "title": "Worker pool", "entry": "main.pool", "created_by": ""}
    >>> apart_table([rec], 2.5).split("<table>")[0]
    '<details><summary>also seen, not suspected (score under 2.5): 1 group(s)</summary>'
    """
    several = any(len(x.get("counts") or []) > 1 for x in recs)
    head = "goroutines, first → last snapshot" if several else "goroutines (in the dump)"
    with_labels = any(x.get("labels") for x in recs)
    cols = ["site", "state", head, "score", "pattern", "entry", "created by"]
    cols += ["pprof labels (last snapshot seen)"] if with_labels else []
    body = []
    for x in recs:
        cells = [
            f"<td><code>{e(x['site'] or x['entry'])}</code></td>",
            f"<td>{e(x['state'])}</td>",
            f'<td class="n">{e(trend_text(list(x.get("counts") or []) or [x["goroutines"]]))}</td>',
            f'<td class="n">{x["score"]:.2f}</td>',
            f"<td>{e(x.get('title') or '')}</td>",
            f"<td><code>{e(x['entry'])}</code></td>",
            f"<td><code>{e(x.get('created_by') or '')}</code></td>",
        ]
        if with_labels:
            shown = ", ".join(f"{k} ×{n:,}" for k, n in x.get("labels") or [])
            cells.append(f"<td>{e(shown)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    return (
        f"<details><summary>also seen, not suspected (score under {threshold:g}): "
        f"{len(recs)} group(s)</summary><table><tr>{head}</tr>{''.join(body)}</table></details>"
    )


def answer_list(recs: list[dict]) -> str:
    """The suspected causes in one line each (where, what, how many, the fix): the first screen.

    Parameters
    ----------
    recs : list of dict
        The causes as records: ``site``, ``entry``, ``state``, ``goroutines``, and optionally
        ``counts``, ``title`` and ``advice``.

    Returns
    -------
    str
        An HTML ordered list, one item per cause, with its text escaped.

    Examples
    --------
    >>> rec = {"rank": 1, "site": "main.f", "entry": "main.f", "state": "chan send",
    ...        "counts": [2, 9], "goroutines": 9, "title": "Unread result", "advice": "buffer it"}
    >>> print(answer_list([rec]).replace(" · ", "\\n"))
    <ol class="answer"><li><code>main.f</code> — Unread result
    2 → 9 goroutines (first → last snapshot)
    <b>Fix:</b> buffer it</li></ol>
    """
    items = []
    for x in recs:
        counts = list(x.get("counts") or []) or [x["goroutines"]]
        parts = [f"<code>{e(x['site'] or x['entry'])}</code> — {e(x.get('title') or x['state'])}"]
        parts.append(e(count_text(counts)))
        if x.get("advice"):
            parts.append(f"<b>Fix:</b> {e(x['advice'])}")
        items.append("<li>" + " · ".join(parts) + "</li>")
    return '<ol class="answer">' + "".join(items) + "</ol>"


def top_labels(dumps: Dumps, mask: np.ndarray, k: int = 5) -> list[tuple[str, int]]:
    """The commonest pprof label sets of some goroutines in the last snapshot they are seen in,
    with their goroutines there (not a sum over snapshots).

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    mask : ndarray of bool
        Which rows of ``dumps.goroutines`` to count.
    k : int, default 5
        How many label sets to keep.

    Returns
    -------
    list of (str, int)
        Up to ``k`` pairs of the label set as ``key=value, ...`` and its goroutines in the
        last snapshot, most goroutines first; empty when none of them carries labels.

    Examples
    --------
    >>> import goforensics as gf, numpy as np
    >>> d = gf.load("bundled:checkout")
    >>> top_labels(d, np.ones(len(d.goroutines), bool), k=1)
    [('handler=/quote, tenant=t-1', 50)]
    """
    g = dumps.goroutines[mask]
    g = g[(g["snapshot"] == g["snapshot"].max()) & (g["labels"].astype(str) != "")]
    if g.empty:
        return []
    by = (
        g.groupby(g["labels"].astype(str), observed=True)["count"]
        .sum()
        .sort_values(ascending=False)
    )
    out = []
    for text, n in by.head(k).items():
        try:
            pairs = json.loads(text)
            shown = ", ".join(f"{key}={value}" for key, value in pairs.items())
        except (ValueError, AttributeError):
            shown = str(text)
        out.append((shown, int(n)))
    return out


def records(sus: pd.DataFrame) -> list[dict]:
    """The suspects table as records for the cards: a missing line or slope as None.

    Parameters
    ----------
    sus : DataFrame
        The suspects table (:func:`goforensics.analyze.suspects.suspects`).

    Returns
    -------
    list of dict
        One record per row with the table's columns as keys, ``line`` as int or None and
        ``slope_per_min`` as float or None.

    Examples
    --------
    >>> import goforensics as gf
    >>> records(gf.suspects(gf.load("bundled:demo")))[0]["slope_per_min"] is None
    True
    """
    recs = []
    for rec in sus.to_dict("records"):
        rec["line"] = None if pd.isna(rec["line"]) else int(rec["line"])
        slope = rec.get("slope_per_min")
        rec["slope_per_min"] = None if slope is None or pd.isna(slope) else float(slope)
        recs.append(rec)
    return recs
