"""A self-contained HTML report of a series: overview, suspects with evidence and advice, charts, graphs.

One file, nothing fetched when it is viewed: charts are SVG images inlined as
``data:`` URIs (an SVG shown through ``<img>`` never runs a script), there is no
JavaScript at all, and a Content-Security-Policy forbids loading anything but those
images and the inline style. Everything that comes from a dump (function names,
file paths, labels, panic messages, file names) is untrusted and goes through
:func:`html.escape`.

>>> import goforensics as gf
>>> page = report_html(gf.load("bundled:demo"), charts=False)
>>> "main.(*cache).get" in page, "<script" in page
(True, False)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from ..analyze.clustering import describe_clusters
from ..analyze.diff import diff
from ..analyze.graphs import deadlock_cycles, node_text, wait_for_graph
from ..analyze.source import attach_source
from ..analyze.suspects import series_facts, suspects
from ..model import Dumps
from .fleet import fleet_html
from .labels import cluster_labels
from .page import (
    CSP,
    e,
    ended,
    facts_table,
    figure,
    healthy_table,
    page,
    suspect_card,
    table,
)

__all__ = ["CSP", "report_html", "triage_html", "write_report"]

# --- the triage page --------------------------------------------------------------------------------


def triage_html(report: dict, *, charts: bool = True, title: str = "goforensics triage") -> str:
    """A self-contained HTML page of a triage report (:func:`goforensics.analyze.suspects.triage`).

    >>> import goforensics as gf
    >>> from goforensics.analyze.suspects import triage
    >>> page = triage_html(triage(gf.load("bundled:demo")), charts=False)
    >>> page.count('class="card')  # main.main, with no evidence of a leak, is listed apart
    4
    """
    leaking = [s for s in report["suspects"] if s["score"] > 0]
    healthy = [s for s in report["suspects"] if s["score"] <= 0]
    body = [f"<h1>{e(title)}</h1>", ended(report["series"]), "<h2>Suspects</h2>"]
    if not leaking:
        body.append(
            "<p>No suspects: no group of goroutines shows evidence of a leak or a hang.</p>"
        )
    body.extend(suspect_card(s) for s in leaking)
    if healthy:
        body.append(healthy_table(healthy))
    if charts and leaking:
        from .charts import suspects_chart

        body.append(figure(lambda: suspects_chart(leaking), "suspects ranked, with their growth"))
    body += ["<h2>Overview</h2>", facts_table(report["series"], report.get("clusters"))]
    return page(title, "".join(body))


# --- the full report ----------------------------------------------------------------------------------


# the charts' drawing width in the report: with legends they fill a 1280-1600 px window
# (images scale down to the page, never past it)
WIDE = 1100


@dataclass
class _Report:
    """What every section of the report draws from, computed once."""

    dumps: Dumps
    labels: pd.Series
    facts: dict
    waits: object  # the last snapshot's wait-for graph (networkx)
    suspects: pd.DataFrame
    clusters: pd.DataFrame  # describe_clusters, indexed by cluster id
    charts: bool
    counts: pd.DataFrame | None = None  # goroutine counts over time (a watcher's), if any
    onset: object = None  # when growth started, if known


def _section(name: str, build, r: _Report) -> str:
    """A section whose failure is shown in the report rather than losing the whole report."""
    try:
        return build(r)
    except Exception as exc:
        return (
            f'<h2>{e(name)}</h2><p class="warn">this section failed: {e(type(exc).__name__)}: '
            f"{e(exc)}</p>"
        )


def _top_labels(dumps: Dumps, mask: np.ndarray, k: int = 5) -> list[tuple[str, int]]:
    g = dumps.goroutines[mask]
    g = g[g["labels"].astype(str) != ""]
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


def _records(sus: pd.DataFrame) -> list[dict]:
    recs = []
    for rec in sus.to_dict("records"):
        rec["line"] = None if pd.isna(rec["line"]) else int(rec["line"])
        slope = rec.get("slope_per_min")
        rec["slope_per_min"] = None if slope is None or pd.isna(slope) else float(slope)
        recs.append(rec)
    return recs


def _verdict(r: _Report) -> str:
    """The answer first: how the process ended, then the suspects with evidence and fix."""
    out = [ended(r.facts)]
    recs = _records(r.suspects)
    leaking = [x for x in recs if x["score"] > 0]
    healthy = [x for x in recs if x["score"] <= 0]
    out.append("<h2>Suspects</h2>")
    if leaking:
        named = "; ".join(
            f"{x['site'] or x['entry']} ({x['title'] or x['state']})" for x in leaking[:3]
        )
        more = f" and {len(leaking) - 3} more" if len(leaking) > 3 else ""
        out.append(f'<p class="lead">{len(leaking)} suspect(s): {e(named)}{more}.</p>')
    if not leaking:
        out.append("<p>No suspects: no group of goroutines shows evidence of a leak or a hang.</p>")
    lab = r.labels.to_numpy()
    for rec in leaking:
        c = rec["cluster"]
        extra = {
            "labels": _top_labels(r.dumps, lab == c),
            "stack": r.clusters.loc[c, "frames"] if c in r.clusters.index else "",
        }
        out.append(suspect_card(rec, extra))
    if healthy:
        out.append(healthy_table(healthy))
    if r.charts and leaking:
        from .charts import suspects_chart

        out.append(
            figure(
                lambda: suspects_chart(r.suspects[r.suspects["score"] > 0]),
                "suspects ranked, with their growth",
            )
        )
    return "".join(out)


def _count_curve(r: _Report) -> str:
    if not r.charts or r.counts is None or r.counts.empty:
        return ""
    from .counts import count_chart

    return "<h2>Goroutine count</h2>" + figure(
        lambda: count_chart(r.counts, r.dumps.snapshots, onset=r.onset, width=WIDE),
        "goroutines over time; grey: a dump taken; dashed red: when growth started",
    )


def _blocking(r: _Report) -> str:
    if not r.charts:
        return ""
    from .charts import icicle_chart, wait_times_chart

    return (
        "<h2>Where goroutines block</h2>"
        + figure(
            lambda: icicle_chart(r.dumps, width=WIDE), "blocked goroutines' stacks (last snapshot)"
        )
        + figure(lambda: wait_times_chart(r.dumps, width=WIDE - 150), "wait times (last snapshot)")
    )


def _graphs(r: _Report) -> str:
    out = ["<h2>Graphs</h2>"]
    if r.charts:
        from .charts import call_graph_chart, spawn_graph_chart, wait_for_chart

        d = r.dumps
        out.append(
            figure(
                lambda: call_graph_chart(d, width=WIDE - 150),
                "call graph of blocked goroutines (last snapshot)",
            )
        )
        out.append(
            figure(lambda: spawn_graph_chart(d, width=WIDE - 150), "spawn graph (last snapshot)")
        )
        out.append(
            figure(
                lambda: wait_for_chart(d, graph=r.waits, width=WIDE - 150),
                "wait-for graph (last snapshot)",
            )
        )
    cycles = deadlock_cycles(r.waits, min_confidence=0.5)
    if not cycles:
        return "".join(out) + "<p>No deadlock cycle in the wait-for graph of the last snapshot.</p>"
    out.append(f"<h3>{len(cycles)} deadlock cycle(s) in the wait-for graph</h3><ol>")
    for cyc in cycles[:20]:
        out.append("<li><code>" + " → ".join(e(node_text(n)) for n in cyc) + "</code></li>")
    return "".join(out) + "</ol>"


def _changes(r: _Report) -> str:
    g = r.dumps.goroutines
    snaps = sorted(g["snapshot"].unique().tolist())
    if len(snaps) < 2:
        return ""
    first, last = snaps[0], snaps[-1]
    lab = r.labels.to_numpy()
    m0 = (g["snapshot"] == first).to_numpy()
    m1 = (g["snapshot"] == last).to_numpy()
    # the same cluster ids as the rest of the report: diff joins the two snapshots in this order
    joint = np.concatenate([lab[m0], lab[m1]])
    t = diff(r.dumps, before=first, after=last, labels_fn=lambda _j: joint)
    t = t[t["change"] != "same"].head(15)
    if t.empty:
        return (
            f"<h2>What changed</h2><p>No cluster changed between snapshot {first} and {last}.</p>"
        )
    return f"<h2>What changed, snapshot {first} → {last}</h2>" + table(
        t,
        ["cluster", "change", "before", "after", "delta", "state", "site", "entry", "created_by"],
        numeric=("before", "after", "delta"),
    )


def _overview(r: _Report) -> str:
    out = ["<h2>Overview</h2>", facts_table(r.facts, int(r.labels.nunique()))]
    s = r.dumps.snapshots.copy()
    s["file"] = s["source"].astype(str).map(lambda p: Path(p).name if p else "")
    s["message"] = (
        s["message"]
        .astype(object)
        .map(
            lambda m: "" if m is None or m is pd.NA or pd.isna(m) else str(m).splitlines()[0][:160]
        )
    )
    cols = ["snapshot", "instance", "taken_at", "file", "kind", "format", "goroutines", "message"]
    if len(s) > 40:
        out.append(f'<p class="muted">first and last 20 of {len(s):,} snapshots</p>')
        s = pd.concat([s.head(20), s.tail(20)])
    out.append(
        "<details><summary>snapshots</summary>"
        + table(s, cols, numeric=("goroutines",))
        + "</details>"
    )
    if r.charts and s["snapshot"].nunique() > 1:  # over one snapshot, "over time" is one bar
        from .charts import over_time_chart, states_chart

        out.append(
            figure(
                lambda: over_time_chart(r.dumps, r.labels, width=WIDE - 150),
                "goroutines over time, by cluster",
            )
        )
        out.append(
            figure(
                lambda: states_chart(r.dumps, width=WIDE - 150), "goroutines over time, by state"
            )
        )
    return "".join(out)


def _largest_clusters(r: _Report) -> str:
    desc = r.clusters
    t = desc.sort_values("goroutines", ascending=False, kind="stable").head(20)
    return f"<h2>Largest clusters ({min(20, len(desc))} of {len(desc):,})</h2>" + table(
        t,
        [
            "cluster",
            "goroutines",
            "stacks",
            "snapshots",
            "state",
            "site_function",
            "site_file",
            "site_line",
            "entry_function",
            "created_by",
        ],
        numeric=("goroutines", "stacks", "snapshots"),
    )


def _accounting(r: _Report) -> str:
    w = r.dumps.warnings
    if w.empty:
        return "<h2>Input</h2><p>Every line of the input was read; nothing skipped.</p>"
    t = w.copy()
    t["file"] = t["source"].astype(str).map(lambda p: Path(p).name if p else "")
    more = f'<p class="muted">first 30 of {len(t):,} warnings</p>' if len(t) > 30 else ""
    return (
        "<h2>Input: what was skipped or doubted</h2>"
        + more
        + table(
            t.head(30), ["file", "snapshot", "line", "lines", "kind", "message"], numeric=("lines",)
        )
    )


# the answer first, then its evidence, then the overview and the accounting
SECTIONS = [
    ("Suspects", _verdict),
    ("Goroutine count", _count_curve),
    ("Where goroutines block", _blocking),
    ("Graphs", _graphs),
    ("What changed", _changes),
    ("Overview", _overview),
    ("Largest clusters", _largest_clusters),
    ("Input", _accounting),
]


def _version() -> str:
    try:
        return metadata.version("goforensics")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _prepare(dumps: Dumps, labels, top: int, charts: bool, bar, source=None) -> _Report:
    """Everything the sections draw from, once, each step told to the progress bar."""
    bar.set_postfix_str("clustering")
    labels = cluster_labels(dumps, labels)
    bar.update()
    bar.set_postfix_str("wait-for graph")
    # once, for the suspects and the graphs: a pass over every goroutine
    waits = wait_for_graph(dumps)
    bar.update()
    bar.set_postfix_str("suspects")
    r = _Report(
        dumps=dumps,
        labels=labels,
        facts=series_facts(dumps),
        waits=waits,
        suspects=_with_source(
            suspects(dumps, labels, top=top, wait_for=waits), source, dumps, labels
        ),
        clusters=describe_clusters(dumps, labels).set_index("cluster", drop=False),
        charts=charts,
    )
    bar.update()
    return r


def _with_source(s: pd.DataFrame, source, dumps: Dumps, labels) -> pd.DataFrame:
    return attach_source(s, source, dumps, labels) if source else s


def report_html(
    dumps: Dumps,
    *,
    labels: pd.Series | None = None,
    top: int = 10,
    title: str | None = None,
    charts: bool = True,
    notes: dict | None = None,
    progress: bool = False,
    source=None,
    counts: pd.DataFrame | None = None,
    onset=None,
    fleet=None,
) -> str:
    """The report of a series (or one dump) as one self-contained HTML page.

    Parameters
    ----------
    dumps : Dumps
        The series (or one dump).
    labels : Series, optional
        Cluster ids aligned with ``dumps.goroutines`` (default
        :func:`goforensics.cluster`, through :func:`goforensics.show.labels.cluster_labels`).
    top : int
        Most suspects shown; groups with no evidence of a leak are listed apart.
    title : str, optional
        Title of the page (default "goforensics report").
    charts : bool
        Draw the charts (False: tables and text only, faster on huge series).
    notes : dict, optional
        Extra key/value lines under the title (service, incident...).
    progress : bool
        Show a progress bar of the steps on stderr (tqdm).
    source : path or list of paths, optional
        The source tree(s) the program was built from: each suspect shows its code and the
        ``go`` statement that created it (:func:`goforensics.analyze.source.attach_source`).
    counts : DataFrame, optional
        Goroutine counts over time (:func:`goforensics.load_metrics`: ``time``, ``instance``,
        ``goroutines``): charted with the dumps' capture times on them.
    onset : Timestamp, optional
        When growth started (:func:`goforensics.leak_onset`), marked on that chart.
    fleet : FleetResult, optional
        A fleet triage (:func:`goforensics.fleet.fleet_triage`): its view, instances x causes
        (:func:`goforensics.show.fleet.fleet_html`), comes first.

    Returns
    -------
    str
        The page. It opens with the answer (how the process ended, if it did; the
        suspects with evidence, pattern and fix), then the evidence (where goroutines
        block, the graphs, what changed), then the overview, the largest clusters and
        what the parser skipped.

    Examples
    --------
    >>> import goforensics as gf
    >>> page = report_html(gf.load("bundled:demo"), charts=False)
    >>> page.index("<h2>Suspects") < page.index("<h2>Overview")
    True
    """

    from tqdm import tqdm

    title = title or "goforensics report"
    bar = tqdm(
        total=3 + len(SECTIONS),
        desc="report",
        unit="step",
        leave=False,
        disable=not progress,
        bar_format="{desc}: {n}/{total}{postfix}",
    )
    r = _prepare(dumps, labels, top, charts, bar, source)
    r.counts, r.onset = counts, onset
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = [
        f"<h1>{e(title)}</h1>",
        f'<p class="meta">made {e(made)} by goforensics {e(_version())}</p>',
    ]
    if notes:
        body.append(
            '<table class="facts">'
            + "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in notes.items())
            + "</table>"
        )
    if fleet is not None:  # the fleet view (show/fleet.py), ahead of the series' sections
        body.append(_section("Fleet", lambda _r: fleet_html(fleet), r))
    for name, build in SECTIONS:
        bar.set_postfix_str(name.lower())
        body.append(_section(name, build, r))
        bar.update()
    bar.close()
    return page(title, "".join(body))


def write_report(dumps: Dumps, path: str | Path, **kw) -> Path:
    """Write :func:`report_html` to ``path``; returns the path.

    Examples
    --------
    >>> import tempfile, goforensics as gf
    >>> p = write_report(gf.load("bundled:demo"), Path(tempfile.mkdtemp()) / "r.html", charts=False)
    >>> p.read_text().startswith("<!DOCTYPE html>")
    True
    """
    path = Path(path)
    path.write_text(report_html(dumps, **kw), encoding="utf-8")
    return path
