"""A self-contained HTML report of a series: causes with evidence and fix, charts, graphs.

One file, nothing fetched when it is viewed. Everything that comes from a dump (function
names, file paths, labels, panic messages, file names) is untrusted and goes through
:func:`html.escape`. Two forms:

- **interactive** (the default): one script of the project's own
  (:func:`goforensics.show.explore.script`) draws the flame graph of blocked stacks (search,
  zoom, focus and ignore regexes, a card's stacks), the other charts are inline SVG with a
  tooltip on every mark; the Content-Security-Policy allows that script by its hash and
  nothing else (:func:`goforensics.show.page.csp`); dump text reaches it only as JSON data.
- **static** (``static=True``, ``report --static``): no script at all, charts are SVG images
  inlined as ``data:`` URIs (an SVG shown through ``<img>`` never runs a script).

>>> import goforensics as gf
>>> page = report_html(gf.load("bundled:demo"), charts=False, static=True)
>>> "main.(*cache).get" in page, "<script" in page
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from ..analyze.clustering import cluster_counts, describe_clusters
from ..analyze.diff import diff
from ..analyze.graphs import deadlock_cycles, node_text, wait_for_graph
from ..analyze.source import attach_source
from ..analyze.suspects import SUSPECT_THRESHOLD, series_facts, suspects
from ..model import Dumps
from .cards import answer_list, apart_table, cause_card, cause_sites, records, top_labels
from .fleet import fleet_html
from .labels import cluster_labels
from .page import CSP, e, ended, facts_table, figure, page, table

__all__ = ["CSP", "report_html", "triage_html", "write_report"]


_NONE = (
    "<p>No suspects: no group of goroutines shows enough evidence of a leak or a hang (a score "
    f"of {SUSPECT_THRESHOLD:g}); the groups seen are listed below.</p>"
)


def _suspected(rec: dict) -> bool:
    if "suspected" in rec and rec["suspected"] is not None:
        return bool(rec["suspected"])
    return rec["score"] >= SUSPECT_THRESHOLD


def _ids(rec: dict) -> list[int]:
    ids = rec.get("clusters")
    return [int(c) for c in ids] if ids is not None and len(ids) else [int(rec["cluster"])]


def _scripted(static: bool) -> dict:
    """What :func:`page` takes for the interactive form: its script and the flame graph's style."""
    if static:
        return {}
    from .explore import script
    from .flame import FLAME_STYLE

    return {"script": script(), "style": FLAME_STYLE + _SVG_STYLE}


def _flame(dumps: Dumps, labels) -> str:
    from .flame import flame_data, flame_section

    return flame_section(flame_data(dumps, labels))


_SVG_STYLE = (
    "figure.svg svg{max-width:100%;height:auto;display:block}figure.svg svg.zoomable{cursor:grab}"
)

# --- the triage page --------------------------------------------------------------------------------


def triage_html(
    report: dict,
    *,
    charts: bool = True,
    title: str = "goforensics triage",
    dumps: Dumps | None = None,
    labels: pd.Series | None = None,
    static: bool = False,
) -> str:
    """A self-contained HTML page of a triage report (:func:`goforensics.analyze.suspects.triage`).

    Parameters
    ----------
    report : dict
        The triage report.
    charts : bool
        Draw the suspects chart.
    title : str
        The page's title.
    dumps, labels : optional
        The dumps (and the cluster labels) the report came from: with them each card lists
        its sites with their counts and stacks, and unless ``static`` the page has the flame
        graph of blocked stacks, each card focusing it on its own.
    static : bool
        No script at all.

    Returns
    -------
    str
        The page.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.suspects import triage
    >>> page = triage_html(triage(gf.load("bundled:demo")), charts=False)
    >>> page.count('class="card'), "also seen, not suspected" in page  # one dump: none above
    (0, True)
    """
    leaking = [s for s in report["suspects"] if _suspected(s)]
    rest = [s for s in report["suspects"] if not _suspected(s)]
    body = [f"<h1>{e(title)}</h1>", ended(report["series"]), "<h2>Suspects</h2>"]
    if not leaking:
        body.append(_NONE)
    focus = dumps is not None and not static
    body.extend(
        cause_card(s, sites, clusters=_ids(s) if focus else None)
        for s, sites in zip(leaking, _sites_of(leaking, dumps, labels), strict=True)
    )
    if rest:
        body.append(apart_table(rest, SUSPECT_THRESHOLD))
    if charts and leaking:
        from .charts import suspects_chart
        from .explore import inline_figure

        draw = inline_figure if focus else figure  # interactive: a tooltip on every mark
        body.append(draw(lambda: suspects_chart(leaking), "suspects ranked, with their growth"))
    if focus:
        body.append("<h2>Where goroutines block</h2>" + _flame(dumps, labels))
    body += ["<h2>Overview</h2>", facts_table(report["series"], report.get("clusters"))]
    return page(title, "".join(body), **_scripted(not focus))


def _sites_of(recs: list[dict], dumps: Dumps | None, labels) -> list[list[dict] | None]:
    """Each record's sites with their counts and stacks, where the dumps are at hand."""
    if dumps is None or not recs:
        return [None] * len(recs)
    labels = cluster_labels(dumps, labels)
    desc = describe_clusters(dumps, labels).set_index("cluster", drop=False)
    counts = cluster_counts(dumps, labels)
    return [cause_sites(x, desc, counts) or None for x in recs]


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
    site_counts: pd.DataFrame  # cluster_counts: goroutines per snapshot and cluster
    charts: bool
    static: bool = True
    counts: pd.DataFrame | None = None  # goroutine counts over time (a watcher's), if any
    onset: object = None  # when growth started, if known

    def figure(self, make, caption: str) -> str:
        """A chart: an image in the static report, inline SVG with tooltips otherwise."""
        if self.static:
            return figure(make, caption)
        from .explore import inline_figure

        return inline_figure(make, caption)


def _section(name: str, build, r: _Report) -> str:
    """A section whose failure is shown in the report rather than losing the whole report."""
    try:
        return build(r)
    except Exception as exc:
        return (
            f'<h2>{e(name)}</h2><p class="warn">this section failed: {e(type(exc).__name__)}: '
            f"{e(exc)}</p>"
        )


def _verdict(r: _Report) -> str:
    """The answer first: how the process ended, then the suspected causes with evidence and fix."""
    out = [ended(r.facts)]
    recs = records(r.suspects)
    leaking = [x for x in recs if _suspected(x)]
    rest = [x for x in recs if not _suspected(x)]
    by_cause = "clusters" in r.suspects.columns
    out.append("<h2>Suspects, by cause</h2>" if by_cause else "<h2>Suspects</h2>")
    sites = {x["rank"]: cause_sites(x, r.clusters, r.site_counts) for x in leaking}
    for x in leaking:  # a cause counts the goroutines of all its sites
        if sites[x["rank"]]:
            x["counts"] = [
                sum(n) for n in zip(*(s["counts"] for s in sites[x["rank"]]), strict=True)
            ]
    if leaking:
        what = "suspected cause(s)" if by_cause else "suspect(s)"
        out.append(f'<p class="lead">{len(leaking)} {what}, most likely first:</p>')
        out.append(answer_list(leaking))
    if not leaking:
        out.append(_NONE)
    lab = r.labels.to_numpy()
    for rec in leaking:
        ids = _ids(rec)
        extra = {"labels": top_labels(r.dumps, np.isin(lab, ids))}
        out.append(cause_card(rec, sites[rec["rank"]], extra, clusters=None if r.static else ids))
    for rec in rest:
        rec["labels"] = top_labels(r.dumps, np.isin(lab, _ids(rec)), k=3)
    if rest:
        out.append(apart_table(rest, SUSPECT_THRESHOLD))
    if r.charts and leaking:
        from .charts import suspects_chart

        shown = r.suspects[[_suspected(x) for x in recs]]
        out.append(r.figure(lambda: suspects_chart(shown), "suspects ranked, with their growth"))
    return "".join(out)


def _count_curve(r: _Report) -> str:
    if not r.charts or r.counts is None or r.counts.empty:
        return ""
    from .counts import count_chart

    return "<h2>Goroutine count</h2>" + r.figure(
        lambda: count_chart(r.counts, r.dumps.snapshots, onset=r.onset, width=WIDE),
        "goroutines over time; grey: a dump taken; dashed red: when growth started",
    )


def _blocking(r: _Report) -> str:
    """The stacks where goroutines block (the flame graph even without charts: it is no chart
    to draw here, only data) and the wait times."""
    if not r.static:
        where = _flame(r.dumps, r.labels)
    elif r.charts:
        from .charts import icicle_chart

        where = figure(
            lambda: icicle_chart(r.dumps, width=WIDE), "blocked goroutines' stacks (last snapshot)"
        )
    else:
        return ""
    if r.charts:
        from .charts import wait_times_chart

        where += r.figure(
            lambda: wait_times_chart(r.dumps, width=WIDE - 150), "wait times (last snapshot)"
        )
    return "<h2>Where goroutines block</h2>" + where


def _graphs(r: _Report) -> str:
    out = ["<h2>Graphs</h2>"]
    if r.charts:
        from .charts import call_graph_chart, spawn_graph_chart, wait_for_chart

        d = r.dumps
        out.append(
            r.figure(
                lambda: call_graph_chart(d, width=WIDE - 150),
                "call graph of blocked goroutines (last snapshot)",
            )
        )
        out.append(
            r.figure(lambda: spawn_graph_chart(d, width=WIDE - 150), "spawn graph (last snapshot)")
        )
        out.append(
            r.figure(
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
            r.figure(
                lambda: over_time_chart(r.dumps, r.labels, width=WIDE - 150),
                "goroutines over time, by cluster",
            )
        )
        out.append(
            r.figure(
                lambda: states_chart(r.dumps, width=WIDE - 150), "goroutines over time, by state"
            )
        )
    return "".join(out)


_CLUSTER_COLUMNS = ["cluster", "last", "first", "peak", "stacks", "snapshots", "state", "site"]
_CLUSTER_COLUMNS += ["file", "line", "entry", "created by"]


def _largest_clusters(r: _Report) -> str:
    desc = r.clusters
    t = desc.sort_values(
        ["goroutines_last", "goroutines_peak"], ascending=False, kind="stable"
    ).head(20)
    names = {
        "goroutines_last": "last",
        "goroutines_first": "first",
        "goroutines_peak": "peak",
        "site_function": "site",
        "site_file": "file",
        "site_line": "line",
        "entry_function": "entry",
        "created_by": "created by",
    }
    t = t.rename(columns=names)
    return (
        f"<h2>Largest clusters ({min(20, len(desc))} of {len(desc):,}, by goroutines in the last "
        "snapshot)</h2>"
        '<p class="muted">last, first, peak: goroutines in the last and the first snapshot, and '
        "the most in any snapshot</p>"
        + table(
            t,
            _CLUSTER_COLUMNS,
            numeric=("last", "first", "peak", "stacks", "snapshots", "line"),
        )
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


def _prepare(dumps: Dumps, labels, top: int, charts: bool, bar, source=None, by="cause") -> _Report:
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
            suspects(dumps, labels, top=top, wait_for=waits, by=by), source, dumps, labels
        ),
        clusters=describe_clusters(dumps, labels).set_index("cluster", drop=False),
        site_counts=cluster_counts(dumps, labels),
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
    static: bool = False,
    by: str = "cause",
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
    static : bool
        No script at all: charts as images, the stacks as a static icicle (the report of
        ``report --static``). By default one script of the package's own, allowed by hash,
        makes the stacks an explorable flame graph and gives the charts tooltips.
    by : {"cause", "cluster"}
        Rank causes (the sites of one leaking mechanism on one card, each site with its
        stack), or clusters.
    fleet : FleetResult, optional
        A fleet triage (:func:`goforensics.fleet.fleet_triage`): its view, instances x causes
        (:func:`goforensics.show.fleet.fleet_html`), comes first.

    Returns
    -------
    str
        The page. It opens with the answer (how the process ended, if it did; the
        suspected causes with their sites, evidence, pattern and fix; the groups not
        suspected apart), then the evidence (where goroutines
        block, the graphs, what changed), then the overview, the largest clusters and
        what the parser skipped.

    Examples
    --------
    >>> import goforensics as gf
    >>> page = report_html(gf.load("bundled:demo"), charts=False)
    >>> page.index("<h2>Suspects") < page.index("<h2>Overview")
    True
    >>> page.count("<script")  # the flame graph's data and the page's own script
    2
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
    r = _prepare(dumps, labels, top, charts, bar, source, by)
    r.counts, r.onset, r.static = counts, onset, static
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
    return page(title, "".join(body), **_scripted(static))


def write_report(dumps: Dumps, path: str | Path, **kw) -> Path:
    """Write :func:`report_html` to ``path``; returns the path.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    path : str or Path
        The file to write.
    **kw
        Passed to :func:`report_html`.

    Returns
    -------
    Path
        ``path``.

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
