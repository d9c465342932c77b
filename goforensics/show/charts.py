"""Charts of goroutine dumps: plain functions returning :class:`altair.Chart` objects.

Every chart is drawn from an *aggregate* (counts per snapshot and cluster, per wait
bin and state, per frame prefix, per graph node), never one mark per goroutine, so a
dump of 100,000 goroutines gives the same few hundred marks as one of a hundred.
Charts render offline: :func:`to_svg` and :func:`to_png` go through vl-convert, and
:func:`offline` makes Jupyter show PNG or SVG images (no Vega JavaScript, no CDN).

Every chart function is named ``X_chart`` (the graph charts live in
:mod:`goforensics.show.network` and are re-exported here); ``df.gf.plot_X()`` calls
``X_chart``. Labels are cluster ids given as a parameter; where none are given,
:func:`goforensics.show.labels.cluster_labels` clusters once.

Text taken from a dump (function names, file paths, labels) only ever reaches a
chart as data, made safe on its way in (:mod:`goforensics.show.draw`), which Vega
draws as text.

>>> import goforensics as gf
>>> d = gf.load("bundled:demo")
>>> chart = over_time_chart(d)
>>> int(chart.data["goroutines"].sum()) == d.total
True
>>> to_svg(chart).startswith("<svg")
True
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from ..analyze.clustering import cluster_counts, describe_clusters
from ..goruntime import is_blocked
from ..model import Dumps
from .draw import (
    FRAME_CLASS_COLORS,
    WIDTH,
    chart,
    clip,
    last_snapshot,
    note,
    offline,
    short_function,
    to_png,
    to_svg,
)
from .icicle import icicle_chart
from .labels import cluster_labels
from .network import (
    call_graph_chart,
    collapse_chains,
    graph_layout,
    network_chart,
    spawn_graph_chart,
    wait_for_chart,
)
from .safe import safe_records
from .text import BAND_COLORS, score_band, trend_text

__all__ = [
    "FRAME_CLASS_COLORS",
    "call_graph_chart",
    "cluster_names",
    "collapse_chains",
    "graph_layout",
    "icicle_chart",
    "network_chart",
    "offline",
    "over_time_chart",
    "short_function",
    "spawn_graph_chart",
    "states_chart",
    "suspects_chart",
    "to_png",
    "to_svg",
    "wait_for_chart",
    "wait_times_chart",
]

# --- rendering ------------------------------------------------------------------------------------


# --- names --------------------------------------------------------------------------------------------


def cluster_names(dumps: Dumps, labels: pd.Series) -> dict[int, str]:
    """A readable name per cluster: ``id: site [state]`` (the site without its import path).

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    labels : pandas.Series
        Cluster ids aligned with ``dumps.goroutines``.

    Returns
    -------
    dict of int to str
        Cluster id -> its name.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> cluster_names(d, gf.cluster(d))[1]
    '1: main.(*cache).get [sync.Mutex.Lock]'
    """
    desc = describe_clusters(dumps, labels)
    return {
        int(
            r.cluster
        ): f"{int(r.cluster)}: {clip(short_function(r.site_function or r.entry_function), 48)} [{r.state}]"
        for r in desc.itertuples()
    }


def _snapshot_axis(dumps: Dumps) -> tuple[pd.DataFrame, alt.X]:
    """Per snapshot its x value: capture time where every snapshot has a real one, else its number."""
    s = dumps.snapshots[["snapshot", "taken_at", "time_source"]].drop_duplicates("snapshot")
    s = s.sort_values("snapshot")
    timed = (
        len(s) > 1
        and s["taken_at"].notna().all()
        and s["taken_at"].nunique() == len(s)
        and not (s["time_source"].astype(str) == "mtime").all()
    )
    out = pd.DataFrame({"snapshot": s["snapshot"].astype(int).to_numpy()})
    if timed:
        out["time"] = s["taken_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        span = (s["taken_at"].max() - s["taken_at"].min()).total_seconds()
        fmt = "%H:%M:%S" if span < 6 * 3600 else "%H:%M" if span < 86400 else "%m-%d %H:%M"
        return out, alt.X(
            "time:T", title="captured (UTC)", axis=alt.Axis(format=fmt, labelOverlap=True)
        )
    return out, alt.X("snapshot:O", title="snapshot")


# --- over time -----------------------------------------------------------------------------------


def over_time_chart(
    dumps: Dumps,
    labels: pd.Series | None = None,
    *,
    top: int = 8,
    width: int = WIDTH,
    height: int = 260,
) -> alt.Chart:
    """Goroutines per snapshot, stacked by cluster: the ``top`` clusters by peak, the rest as "other".

    ``labels`` are cluster ids aligned with ``dumps.goroutines`` (default:
    :func:`goforensics.cluster`). The chart's data holds one row per snapshot and
    shown cluster.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    labels : pandas.Series, optional
        Cluster ids aligned with ``dumps.goroutines`` (default: :func:`goforensics.cluster`).
    top : int, default 8
        How many clusters get a colour of their own.
    width : int
        The chart's width in pixels.
    height : int
        The chart's height in pixels.

    Returns
    -------
    altair.Chart
        A stacked chart; its data has columns ``snapshot``, ``cluster``, ``goroutines``,
        ``rank``. A note chart where there are no goroutines.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> c = over_time_chart(d)
    >>> type(c).__name__, c.data.columns.tolist()
    ('Chart', ['snapshot', 'cluster', 'goroutines', 'rank'])
    """
    if dumps.goroutines.empty:
        return note("no goroutines", width)
    labels = cluster_labels(dumps, labels)
    counts = cluster_counts(dumps, labels)
    keep = counts.max().sort_values(ascending=False, kind="stable").index[:top]
    names = cluster_names(dumps, labels)
    wide = counts[keep].rename(columns=lambda c: names[int(c)])
    rest = counts.drop(columns=keep).sum(axis=1)
    order = list(wide.columns)
    if len(counts.columns) > len(keep):
        other = f"other ({len(counts.columns) - len(keep)} clusters)"
        wide[other] = rest
        order.append(other)
    long = wide.reset_index().melt(id_vars="snapshot", var_name="cluster", value_name="goroutines")
    long["rank"] = long["cluster"].map({c: i for i, c in enumerate(order)})
    axis, x = _snapshot_axis(dumps)
    long = long.merge(axis, on="snapshot", how="left")
    many = len(axis) >= 3
    mark = chart(long).mark_area(opacity=0.85) if many else chart(long).mark_bar()
    tooltip = ["cluster:N", "snapshot:O", "goroutines:Q"]
    return (
        mark.encode(
            x=x,
            y=alt.Y("goroutines:Q", stack="zero", title="goroutines"),
            color=alt.Color(
                "cluster:N",
                sort=order,
                title="cluster",
                legend=alt.Legend(labelLimit=360, orient="bottom", columns=2),
            ),
            order=alt.Order("rank:Q", sort="ascending"),
            tooltip=tooltip,
        )
        .properties(title="Goroutines over time, by cluster", width=width, height=height)
        .interactive(
            bind_y=False  # in Jupyter: zoom and pan along time (static images are unchanged)
        )
    )


def states_chart(dumps: Dumps, *, top: int = 8, width: int = WIDTH, height: int = 200) -> alt.Chart:
    """Goroutines per snapshot and state (the ``top`` states, the rest as "other").

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    top : int, default 8
        How many states get a colour of their own.
    width : int
        The chart's width in pixels.
    height : int
        The chart's height in pixels.

    Returns
    -------
    altair.Chart
        Areas (bars under three snapshots); its data has columns ``snapshot``, ``state``,
        ``goroutines`` (and ``time`` where the snapshots have capture times). A note chart
        where there are no goroutines.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> c = states_chart(d)
    >>> type(c).__name__, c.data.columns.tolist()
    ('Chart', ['snapshot', 'state', 'goroutines'])
    """
    g = dumps.goroutines
    if g.empty:
        return note("no goroutines", width)
    tab = (
        g.groupby(["snapshot", g["state"].astype(str)], observed=True)["count"]
        .sum()
        .unstack(fill_value=0)
    )
    tab = tab.reindex(sorted(dumps.snapshots["snapshot"].astype(int).unique()), fill_value=0)
    keep = tab.max().sort_values(ascending=False, kind="stable").index[:top]
    wide = tab[keep].copy()
    if len(tab.columns) > len(keep):
        wide["other"] = tab.drop(columns=keep).sum(axis=1)
    wide.index.name = "snapshot"
    long = wide.reset_index().melt(id_vars="snapshot", var_name="state", value_name="goroutines")
    axis, x = _snapshot_axis(dumps)
    long = long.merge(axis, on="snapshot", how="left")
    mark = chart(long).mark_area(opacity=0.85) if len(axis) >= 3 else chart(long).mark_bar()
    return (
        mark.encode(
            x=x,
            y=alt.Y("goroutines:Q", stack="zero"),
            color=alt.Color("state:N", sort=list(wide.columns), legend=alt.Legend(orient="right")),
            tooltip=["state:N", "snapshot:O", "goroutines:Q"],
        )
        .properties(title="Goroutines over time, by state", width=width, height=height)
        .interactive(
            bind_y=False  # in Jupyter: zoom and pan along time
        )
    )


# --- suspects ---------------------------------------------------------------------------------------


def _suspect_records(suspects) -> list[dict]:
    if isinstance(suspects, dict):  # a triage report
        suspects = suspects["suspects"]
    if isinstance(suspects, pd.DataFrame):
        return suspects.to_dict("records")
    return list(suspects)


def _suspect_rows(recs: list[dict]) -> tuple[list[dict], list[dict]]:
    """Per suspect its row (label, band, score, change); per snapshot a sparkline point."""
    rows, points = [], []
    for i, r in enumerate(recs):
        label = (
            f"#{int(r['rank'])} {clip(short_function(r['site'] or r['entry']), 44)} [{r['state']}]"
        )
        counts = [int(c) for c in r["counts"]] or [int(r["goroutines"])]
        peak = max(max(counts), 1)
        change = trend_text(counts, r.get("slope_per_min"))
        rows.append(
            {
                "label": label,
                "row": i,
                "top": i + 0.15,
                "bottom": i + 0.85,
                "mid": i + 0.5,
                "zero": 0.0,
                "score": float(r["score"]),
                "band": score_band(float(r["score"])),
                "pattern": r.get("title") or r.get("pattern") or "",
                "change": change,
            }
        )
        for k, c in enumerate(counts):
            # rows run top-down; within a row a larger count sits higher
            points.append(
                {"label": label, "snapshot": k, "goroutines": c, "y": i + 0.85 - 0.7 * c / peak}
            )
    return rows, points


def suspects_chart(suspects, *, top: int = 10, width: int = WIDTH) -> alt.HConcatChart | alt.Chart:
    """Suspects in rank order: their score, their goroutines per snapshot (a sparkline) and the change.

    ``suspects`` is the table of :func:`goforensics.analyze.suspects.suspects`, or the
    records or report of :func:`goforensics.analyze.suspects.triage`. Each sparkline is scaled
    to its own peak; the text on the right gives the numbers.

    Parameters
    ----------
    suspects : pandas.DataFrame, list of dict or dict
        The suspects table, or triage's records or report.
    top : int, default 10
        How many suspects to show.
    width : int
        The chart's width in pixels.

    Returns
    -------
    altair.HConcatChart or altair.Chart
        Names, sparklines and numbers side by side; a note chart where there are no
        suspects.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> from goforensics.analyze.suspects import suspects
    >>> type(suspects_chart(suspects(d))).__name__
    'HConcatChart'
    """
    recs = _suspect_records(suspects)[:top]
    if not recs:
        return note("no suspects", width)
    rows, points = _suspect_rows(recs)
    table = pd.DataFrame(safe_records(rows))
    spark = pd.DataFrame(safe_records(points))
    n = len(rows)
    height = 28 * n
    ys = alt.Scale(domain=[n, 0], nice=False, zero=False)
    names = (
        chart(table)
        .mark_text(align="right", baseline="middle", fontSize=11)
        .encode(
            y=alt.Y("mid:Q", scale=ys, axis=None),
            x=alt.value(300),
            text="label:N",
        )
        .properties(width=300, height=height)
    )
    bars = (
        chart(table)
        .mark_rect()
        .encode(
            y=alt.Y("top:Q", scale=ys, axis=None),
            y2="bottom:Q",
            color=alt.Color(
                "band:N",
                scale=alt.Scale(domain=list(BAND_COLORS), range=list(BAND_COLORS.values())),
                legend=None,
            ),
            x=alt.X("zero:Q", title="score"),
            x2="score:Q",
            tooltip=["label:N", "score:Q", "band:N", "pattern:N"],
        )
        .properties(width=150, height=height)
    )
    n_snap = int(spark["snapshot"].max()) + 1
    spark_chart = (
        chart(spark)
        .mark_line(color="#2166ac", strokeWidth=1.6, point=n_snap == 1)
        .encode(
            y=alt.Y("y:Q", scale=ys, axis=None),
            x=alt.X(
                "snapshot:Q",
                title="goroutines per snapshot",
                scale=alt.Scale(domain=[0, max(n_snap - 1, 1)], nice=False),
                axis=alt.Axis(values=list(range(n_snap)), format="d"),
            ),
            detail="label:N",
            order="snapshot:Q",
            tooltip=["label:N", "snapshot:Q", "goroutines:Q"],
        )
        .properties(width=200, height=height)
    )
    text = (
        chart(table)
        .mark_text(align="left", baseline="middle", dx=4)
        .encode(
            y=alt.Y("mid:Q", scale=ys, axis=None),
            x=alt.value(0),
            text="change:N",
        )
        .properties(width=170, height=height)
    )
    return (
        alt.hconcat(names, bars, spark_chart, text, spacing=6)
        .properties(title="Suspects, ranked, with their growth")
        .configure_view(stroke=None)
    )


# --- wait times ---------------------------------------------------------------------------------------

WAIT_BINS = [
    (0, 1, "<1 min"),
    (1, 2, "1 min"),
    (2, 5, "2–4 min"),
    (5, 10, "5–9 min"),
    (10, 30, "10–29 min"),
    (30, 60, "30–59 min"),
    (60, 180, "1–3 h"),
    (180, 720, "3–12 h"),
    (720, 1440, "12–24 h"),
    (1440, math.inf, "≥1 day"),
]


def wait_times_chart(
    dumps: Dumps,
    *,
    snapshot: int | None = None,
    top_states: int = 6,
    width: int = WIDTH,
    height: int = 220,
) -> alt.Chart:
    """How long blocked goroutines have waited (as the runtime printed it), by state.

    One snapshot (the last by default): the same goroutine in several snapshots would
    be counted again. Profiles print no waits; their goroutines are left out.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int, optional
        The snapshot to look at (default: the last one).
    top_states : int, default 6
        How many states get a colour of their own.
    width : int
        The chart's width in pixels.
    height : int
        The chart's height in pixels.

    Returns
    -------
    altair.Chart
        Bars per wait bin; its data has columns ``wait``, ``state``, ``goroutines``. A
        note chart where the snapshot has no wait times.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> c = wait_times_chart(d)
    >>> type(c).__name__, c.data.columns.tolist()
    ('Chart', ['wait', 'state', 'goroutines'])
    """
    g = dumps.goroutines
    snapshot = last_snapshot(dumps, snapshot)
    g = g[(g["snapshot"] == snapshot) & is_blocked(g["state"]) & g["wait_minutes"].notna()]
    if g.empty:
        return note("no wait times in this snapshot (profiles print none)", width)
    minutes = g["wait_minutes"].astype(float).to_numpy()
    edges = [b[0] for b in WAIT_BINS] + [math.inf]
    idx = np.searchsorted(edges, minutes, side="right") - 1
    names = [b[2] for b in WAIT_BINS]
    states = g["state"].astype(str)
    top = (
        g.groupby(states, observed=True)["count"]
        .sum()
        .sort_values(ascending=False)
        .index[:top_states]
    )
    t = pd.DataFrame(
        {
            "wait": [names[i] for i in idx],
            "state": states.where(states.isin(top), "other").to_numpy(),
            "goroutines": g["count"].to_numpy(),
        }
    )
    agg = t.groupby(["wait", "state"], as_index=False)["goroutines"].sum()
    used = [n for n in names if n in set(agg["wait"])]
    return (
        chart(agg)
        .mark_bar()
        .encode(
            x=alt.X(
                "wait:O",
                sort=used,
                title="blocked for (as printed by the runtime)",
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("goroutines:Q", title="goroutines"),
            color=alt.Color("state:N", legend=alt.Legend(orient="right")),
            tooltip=["wait:O", "state:N", "goroutines:Q"],
        )
        .properties(
            title=f"Wait times of blocked goroutines (snapshot {snapshot})",
            width=width,
            height=height,
        )
    )
