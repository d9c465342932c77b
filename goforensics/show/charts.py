"""Charts of goroutine dumps: plain functions returning :class:`altair.Chart` objects.

Every chart is drawn from an *aggregate* (counts per snapshot and cluster, per wait
bin and state, per frame prefix, per graph node), never one mark per goroutine, so a
dump of 100,000 goroutines gives the same few hundred marks as one of a hundred.
Charts render offline: :func:`to_svg` and :func:`to_png` go through vl-convert, and
:func:`offline` makes Jupyter show PNG or SVG images (no Vega JavaScript, no CDN).

Text taken from a dump (function names, file paths, labels) only ever reaches a
chart as data, which Vega draws as text.

>>> import goforensics as gf
>>> d = gf.load("bundled:demo")
>>> chart = goroutines_over_time(d)
>>> int(chart.data["goroutines"].sum()) == d.total
True
>>> to_svg(chart).startswith("<svg")
True
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import altair as alt
import networkx as nx
import numpy as np
import pandas as pd

from ..analyze.graphs import call_graph, spawn_graph, wait_for_graph
from ..goruntime import is_blocked
from ..model import Dumps

__all__ = [
    "FRAME_CLASS_COLORS",
    "blocked_icicle",
    "call_graph_chart",
    "cluster_names",
    "collapse_chains",
    "goroutines_over_time",
    "graph_layout",
    "network_chart",
    "offline",
    "short_function",
    "spawn_graph_chart",
    "states_over_time",
    "suspects_growth",
    "to_png",
    "to_svg",
    "wait_for_chart",
    "wait_times",
]

FRAME_CLASS_COLORS = {
    "application": "#d6604d", "third-party": "#f4a582", "stdlib": "#92c5de", "runtime": "#bababa",
}
_CLASS_SCALE = alt.Scale(domain=list(FRAME_CLASS_COLORS), range=list(FRAME_CLASS_COLORS.values()))
WIDTH = 640
_CHAR_PX = 6.6  # average glyph width at Vega's default 10-11px sans font, for truncating labels


# --- rendering ------------------------------------------------------------------------------------


def _vl_version() -> str:
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"{major}.{minor}"


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (vl-convert; nothing fetched)."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_dict(), vl_version=_vl_version())


def to_png(chart: alt.TopLevelMixin, scale: float = 1.0) -> bytes:
    """The chart as PNG bytes (vl-convert; nothing fetched)."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(chart.to_dict(), vl_version=_vl_version(), scale=scale)


def offline(renderer: str = "png", scale: float = 1.0) -> None:
    """Make Jupyter display charts as static PNG (or SVG) images drawn by vl-convert.

    Static images render on GitHub and offline and need no JavaScript; Altair's
    default HTML output would load Vega from a CDN.
    """
    if renderer not in ("png", "svg"):
        raise ValueError("renderer must be 'png' or 'svg'")
    if renderer == "png":
        alt.renderers.enable("png", scale_factor=scale)
    else:
        alt.renderers.enable("svg")


# --- names --------------------------------------------------------------------------------------------


def short_function(name: str) -> str:
    """A function name without its import path (``pkg.(*T).m``).

    >>> short_function("github.com/acme/api/store.(*DB).Query.func2")
    'store.(*DB).Query.func2'
    >>> short_function("main.main")
    'main.main'
    """
    name = str(name)
    masked = re.sub(r"\[[^\]]*\]", lambda m: "_" * len(m.group()), name)
    return name[masked.rfind("/") + 1 :]


def _clip(text: str, chars: int) -> str:
    text = str(text)
    if chars <= 1:
        return ""
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def cluster_names(dumps: Dumps, labels: pd.Series) -> dict[int, str]:
    """A readable name per cluster: ``id: site [state]`` (the site without its import path)."""
    from ..analyze.clustering import describe_clusters

    desc = describe_clusters(dumps, labels)
    return {
        int(r.cluster): f"{int(r.cluster)}: {_clip(short_function(r.site_function or r.entry_function), 48)} [{r.state}]"
        for r in desc.itertuples()
    }


def _labels(dumps: Dumps, labels: pd.Series | None) -> pd.Series:
    if labels is None:
        from ..analyze.clustering import cluster

        return cluster(dumps)
    return pd.Series(np.asarray(labels), index=dumps.goroutines.index)


def _snapshot_axis(dumps: Dumps) -> tuple[pd.DataFrame, alt.X]:
    """Per snapshot its x value: capture time where every snapshot has a real one, else its number."""
    s = dumps.snapshots[["snapshot", "taken_at", "time_source"]].drop_duplicates("snapshot")
    s = s.sort_values("snapshot")
    timed = (
        len(s) > 1 and s["taken_at"].notna().all() and s["taken_at"].nunique() == len(s)
        and not (s["time_source"].astype(str) == "mtime").all()
    )
    out = pd.DataFrame({"snapshot": s["snapshot"].astype(int).to_numpy()})
    if timed:
        out["time"] = s["taken_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        span = (s["taken_at"].max() - s["taken_at"].min()).total_seconds()
        fmt = "%H:%M:%S" if span < 6 * 3600 else "%H:%M" if span < 86400 else "%m-%d %H:%M"
        return out, alt.X("time:T", title="captured (UTC)", axis=alt.Axis(format=fmt, labelOverlap=True))
    return out, alt.X("snapshot:O", title="snapshot")


def _note(text: str, width: int = WIDTH) -> alt.Chart:
    """A chart that only says something (where there is nothing to draw)."""
    return alt.Chart(pd.DataFrame({"text": [text]})).mark_text(
        align="left", fontSize=13, color="#555"
    ).encode(text="text:N").properties(width=width, height=40)


# --- over time -----------------------------------------------------------------------------------


def goroutines_over_time(dumps: Dumps, labels: pd.Series | None = None, *, top: int = 8,
                         width: int = WIDTH, height: int = 260) -> alt.Chart:
    """Goroutines per snapshot, stacked by cluster: the ``top`` clusters by peak, the rest as "other".

    ``labels`` are cluster ids aligned with ``dumps.goroutines`` (default:
    :func:`goforensics.cluster`). The chart's data holds one row per snapshot and
    shown cluster.
    """
    from ..analyze.clustering import cluster_counts

    if dumps.goroutines.empty:
        return _note("no goroutines", width)
    labels = _labels(dumps, labels)
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
    mark = alt.Chart(long).mark_area(opacity=0.85) if many else alt.Chart(long).mark_bar()
    tooltip = ["cluster:N", "snapshot:O", "goroutines:Q"]
    return mark.encode(
        x=x,
        y=alt.Y("goroutines:Q", stack="zero", title="goroutines"),
        color=alt.Color("cluster:N", sort=order, title="cluster",
                        legend=alt.Legend(labelLimit=360, orient="bottom", columns=2)),
        order=alt.Order("rank:Q", sort="ascending"),
        tooltip=tooltip,
    ).properties(title="Goroutines over time, by cluster", width=width, height=height)


def states_over_time(dumps: Dumps, *, top: int = 8, width: int = WIDTH, height: int = 200) -> alt.Chart:
    """Goroutines per snapshot and state (the ``top`` states, the rest as "other")."""
    g = dumps.goroutines
    if g.empty:
        return _note("no goroutines", width)
    tab = g.groupby(["snapshot", g["state"].astype(str)], observed=True)["count"].sum().unstack(fill_value=0)
    tab = tab.reindex(sorted(dumps.snapshots["snapshot"].astype(int).unique()), fill_value=0)
    keep = tab.max().sort_values(ascending=False, kind="stable").index[:top]
    wide = tab[keep].copy()
    if len(tab.columns) > len(keep):
        wide["other"] = tab.drop(columns=keep).sum(axis=1)
    wide.index.name = "snapshot"
    long = wide.reset_index().melt(id_vars="snapshot", var_name="state", value_name="goroutines")
    axis, x = _snapshot_axis(dumps)
    long = long.merge(axis, on="snapshot", how="left")
    chart = alt.Chart(long).mark_area(opacity=0.85) if len(axis) >= 3 else alt.Chart(long).mark_bar()
    return chart.encode(
        x=x, y=alt.Y("goroutines:Q", stack="zero"),
        color=alt.Color("state:N", sort=list(wide.columns), legend=alt.Legend(orient="right")),
        tooltip=["state:N", "snapshot:O", "goroutines:Q"],
    ).properties(title="Goroutines over time, by state", width=width, height=height)


# --- suspects ---------------------------------------------------------------------------------------


def _suspect_records(suspects) -> list[dict]:
    if isinstance(suspects, dict):  # a triage report
        suspects = suspects["suspects"]
    if isinstance(suspects, pd.DataFrame):
        return suspects.to_dict("records")
    return list(suspects)


def suspects_growth(suspects, *, top: int = 10, width: int = WIDTH) -> alt.HConcatChart | alt.Chart:
    """Suspects in rank order: their score, their goroutines per snapshot (a sparkline) and the change.

    ``suspects`` is the table of :func:`goforensics.analyze.suspects.suspects`, or the
    records or report of :func:`goforensics.analyze.suspects.triage`. Each sparkline is scaled
    to its own peak; the text on the right gives the numbers.
    """
    recs = _suspect_records(suspects)[:top]
    if not recs:
        return _note("no suspects", width)
    rows, points = [], []
    for i, r in enumerate(recs):
        label = f"#{int(r['rank'])} {_clip(short_function(r['site'] or r['entry']), 44)} [{r['state']}]"
        counts = [int(c) for c in r["counts"]] or [int(r["goroutines"])]
        peak = max(max(counts), 1)
        change = f"{counts[0]:,} → {counts[-1]:,}" if len(counts) > 1 else f"{counts[-1]:,}"
        if max(counts) > max(counts[0], counts[-1]):
            change += f", peak {max(counts):,}"
        slope = r.get("slope_per_min")
        if slope is not None and not (isinstance(slope, float) and math.isnan(slope)) and len(counts) > 1:
            change += f" ({slope:+.1f}/min)"
        rows.append({"label": label, "row": i, "top": i + 0.15, "bottom": i + 0.85, "mid": i + 0.5,
                     "zero": 0.0, "score": float(r["score"]),
                     "pattern": r.get("title") or r.get("pattern") or "", "change": change})
        for k, c in enumerate(counts):
            # rows run top-down; within a row a larger count sits higher
            points.append({"label": label, "snapshot": k, "goroutines": c, "y": i + 0.85 - 0.7 * c / peak})
    table = pd.DataFrame(rows)
    spark = pd.DataFrame(points)
    n = len(rows)
    height = 28 * n
    ys = alt.Scale(domain=[n, 0], nice=False, zero=False)
    names = alt.Chart(table).mark_text(align="right", baseline="middle", fontSize=11).encode(
        y=alt.Y("mid:Q", scale=ys, axis=None), x=alt.value(300), text="label:N",
    ).properties(width=300, height=height)
    bars = alt.Chart(table).mark_rect().encode(
        y=alt.Y("top:Q", scale=ys, axis=None), y2="bottom:Q",
        color=alt.condition("datum.score > 0", alt.value("#b2182b"), alt.value("#aaaaaa")),
        x=alt.X("zero:Q", title="score"), x2="score:Q",
        tooltip=["label:N", "score:Q", "pattern:N"],
    ).properties(width=150, height=height)
    n_snap = int(spark["snapshot"].max()) + 1
    spark_chart = alt.Chart(spark).mark_line(color="#2166ac", strokeWidth=1.6, point=n_snap == 1).encode(
        y=alt.Y("y:Q", scale=ys, axis=None),
        x=alt.X("snapshot:Q", title="goroutines per snapshot",
                scale=alt.Scale(domain=[0, max(n_snap - 1, 1)], nice=False),
                axis=alt.Axis(values=list(range(n_snap)), format="d")),
        detail="label:N", order="snapshot:Q",
        tooltip=["label:N", "snapshot:Q", "goroutines:Q"],
    ).properties(width=200, height=height)
    text = alt.Chart(table).mark_text(align="left", baseline="middle", dx=4).encode(
        y=alt.Y("mid:Q", scale=ys, axis=None), x=alt.value(0), text="change:N",
    ).properties(width=170, height=height)
    return alt.hconcat(names, bars, spark_chart, text, spacing=6).properties(
        title="Suspects, ranked, with their growth"
    ).configure_view(stroke=None)


# --- wait times ---------------------------------------------------------------------------------------

WAIT_BINS = [(0, 1, "<1 min"), (1, 2, "1 min"), (2, 5, "2–4 min"), (5, 10, "5–9 min"),
             (10, 30, "10–29 min"), (30, 60, "30–59 min"), (60, 180, "1–3 h"), (180, 720, "3–12 h"),
             (720, 1440, "12–24 h"), (1440, math.inf, "≥1 day")]


def wait_times(dumps: Dumps, *, snapshot: int | None = None, top_states: int = 6,
               width: int = WIDTH, height: int = 220) -> alt.Chart:
    """How long blocked goroutines have waited (as the runtime printed it), by state.

    One snapshot (the last by default): the same goroutine in several snapshots would
    be counted again. Profiles print no waits; their goroutines are left out.
    """
    g = dumps.goroutines
    if snapshot is None and len(g):
        snapshot = int(g["snapshot"].max())
    g = g[(g["snapshot"] == snapshot) & is_blocked(g["state"]) & g["wait_minutes"].notna()]
    if g.empty:
        return _note("no wait times in this snapshot (profiles print none)", width)
    minutes = g["wait_minutes"].astype(float).to_numpy()
    edges = [b[0] for b in WAIT_BINS] + [math.inf]
    idx = np.searchsorted(edges, minutes, side="right") - 1
    names = [b[2] for b in WAIT_BINS]
    states = g["state"].astype(str)
    top = g.groupby(states, observed=True)["count"].sum().sort_values(ascending=False).index[:top_states]
    t = pd.DataFrame({"wait": [names[i] for i in idx], "state": states.where(states.isin(top), "other").to_numpy(),
                      "goroutines": g["count"].to_numpy()})
    agg = t.groupby(["wait", "state"], as_index=False)["goroutines"].sum()
    used = [n for n in names if n in set(agg["wait"])]
    return alt.Chart(agg).mark_bar().encode(
        x=alt.X("wait:O", sort=used, title="blocked for (as printed by the runtime)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("goroutines:Q", title="goroutines"),
        color=alt.Color("state:N", legend=alt.Legend(orient="right")),
        tooltip=["wait:O", "state:N", "goroutines:Q"],
    ).properties(title=f"Wait times of blocked goroutines (snapshot {snapshot})", width=width, height=height)


# --- icicle ---------------------------------------------------------------------------------------------


def blocked_icicle(dumps: Dumps, *, snapshot: int | None = None, labels: pd.Series | None = None,
                   clusters: list[int] | None = None, min_share: float = 0.005, max_depth: int = 40,
                   hide_runtime: bool = True, width: int = WIDTH) -> alt.LayerChart | alt.Chart:
    """Icicle of the blocked goroutines' stacks: entry functions on top, where they block below.

    A box's width is the share of blocked goroutines whose stack has that prefix of
    frames (outermost first); boxes under ``min_share`` are left out. ``snapshot``
    defaults to the last; ``clusters`` (with ``labels``) narrows to some clusters.
    With ``hide_runtime``, runtime frames (the same parking plumbing everywhere) are
    left out of the boxes.
    """
    g = dumps.goroutines
    if snapshot is None and len(g):
        snapshot = int(g["snapshot"].max())
    mask = (g["snapshot"] == snapshot) & is_blocked(g["state"])
    if clusters is not None:
        if labels is None:
            raise ValueError("filtering by cluster needs the cluster labels (labels=...)")
        mask &= pd.Series(np.asarray(labels), index=g.index).isin(clusters)
    weight = g[mask].groupby("stack_id", observed=True)["count"].sum()
    weight = weight[weight > 0]
    if weight.empty:
        return _note("no blocked goroutines", width)
    f = dumps.frames
    f = f[(f["section"] == 0) & f["stack_id"].isin(weight.index)]
    if hide_runtime:
        f = f[f["frame_class"].astype(str) != "runtime"]
    f = f.sort_values(["stack_id", "depth"], ascending=[True, False], kind="stable")
    total = float(weight.sum())
    # prefix tree over frames outermost first, built once per distinct stack
    node_w: dict[tuple, float] = defaultdict(float)
    node_cls: dict[tuple, str] = {}
    for sid, grp in f.groupby("stack_id", sort=False):
        w = float(weight[sid])
        path: tuple = ()
        for fn, cls in zip(grp["function"].astype(str), grp["frame_class"].astype(str), strict=True):
            if len(path) >= max_depth:
                break
            path = (*path, fn)
            node_w[path] += w
            node_cls.setdefault(path, cls)
    children: dict[tuple, list[tuple]] = defaultdict(list)
    for path in node_w:
        children[path[:-1]].append(path)
    rows = []
    stack = [((), 0.0)]
    while stack:
        parent, x0 = stack.pop()
        kids = sorted(children.get(parent, []), key=lambda p: (-node_w[p], p[-1]))
        x = x0
        for kid in kids:
            share = node_w[kid] / total
            if share < min_share:
                continue
            px = share * width
            rows.append({"function": kid[-1], "depth": len(kid) - 1, "x0": x, "x1": x + share,
                         "goroutines": int(node_w[kid]), "share": round(share, 4),
                         "frame_class": node_cls[kid],
                         "text": _clip(short_function(kid[-1]), int((px - 6) / _CHAR_PX))})
            stack.append((kid, x))
            x += share
    boxes = pd.DataFrame(rows)
    if boxes.empty:
        return _note("no frame above the minimum share", width)
    boxes["depth1"] = boxes["depth"] + 1
    boxes["mid"] = boxes["depth"] + 0.5
    levels = int(boxes["depth1"].max())
    y = alt.Y("depth:Q", scale=alt.Scale(domain=[levels, 0]), axis=None)
    base = alt.Chart(boxes).encode(
        x=alt.X("x0:Q", scale=alt.Scale(domain=[0, 1]), axis=None), y=y,
        tooltip=["function:N", "goroutines:Q", alt.Tooltip("share:Q", format=".1%"), "frame_class:N"],
    )
    rects = base.mark_rect(stroke="white", strokeWidth=1).encode(
        x2="x1:Q", y2="depth1:Q",
        color=alt.Color("frame_class:N", scale=_CLASS_SCALE, title="frame",
                        legend=alt.Legend(orient="bottom")),
    )
    text = base.mark_text(align="left", baseline="middle", dx=3, fontSize=10, color="#111").encode(
        y=alt.Y("mid:Q", scale=alt.Scale(domain=[levels, 0]), axis=None), text="text:N",
    )
    return (rects + text).properties(
        title=f"Blocked goroutines' stacks, entry on top (snapshot {snapshot}, {int(total):,} goroutines)",
        width=width, height=min(18 * levels, 900),
    )


# --- graphs -----------------------------------------------------------------------------------------------


def graph_layout(G: nx.DiGraph) -> dict:
    """Layered positions: callers (sources) left, callees right; a cycle shares a layer.

    Layers come from the condensation of the graph (strongly connected components
    are one layer), so any directed graph gets a left-to-right layout.
    """
    if G.number_of_nodes() == 0:
        return {}
    C = nx.condensation(G)
    layer_of = {}
    for i, gen in enumerate(nx.topological_generations(C)):
        for comp in gen:
            for n in C.nodes[comp]["members"]:
                layer_of[n] = i
    H = nx.DiGraph()
    for n in G.nodes:
        H.add_node(n, layer=layer_of[n])
    H.add_edges_from(G.edges)
    pos = nx.multipartite_layout(H, subset_key="layer", align="vertical")
    return {n: (float(p[0]), float(p[1])) for n, p in pos.items()}


def collapse_chains(G: nx.DiGraph, label, weight: str = "goroutines") -> nx.DiGraph:
    """Merge each chain of nodes (one way out of a node, one way into the next) into one node.

    A call graph of deep stacks is mostly such chains (``Client.Do -> Client.do ->
    send -> ...``); drawn one node a layer they leave no room for labels. A merged node
    keeps the attributes of its heaviest member, ``members`` (in order) and ``text``
    ("first → last (k frames)").

    >>> G = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "d"), ("a", "e")])
    >>> sorted(collapse_chains(G, lambda n, a: n).nodes(data="text"))
    [('a', 'a'), ('b', 'b → d (3 frames)'), ('e', 'e')]
    """
    parent = {n: n for n in G.nodes}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in G.edges:
        if a != b and G.out_degree(a) == 1 and G.in_degree(b) == 1:
            parent[find(b)] = find(a)
    groups: dict = defaultdict(list)
    for n in G.nodes:
        groups[find(n)].append(n)
    H = nx.DiGraph()
    head_of = {}
    for members in groups.values():
        inside = set(members)
        start = next((m for m in members if not any(p in inside for p in G.predecessors(m))), members[0])
        order, cur = [start], start
        while True:
            nxt = [s for s in G.successors(cur) if s in inside and s not in order]
            if not nxt:
                break
            cur = nxt[0]
            order.append(cur)
        heavy = max(order, key=lambda m: (float(G.nodes[m].get(weight) or 0), -order.index(m)))
        attrs = dict(G.nodes[heavy])
        first, last = order[0], order[-1]
        attrs["members"] = order
        attrs["text"] = (label(first, G.nodes[first]) if len(order) == 1 else
                         f"{label(first, G.nodes[first])} → {label(last, G.nodes[last])} ({len(order)} frames)")
        H.add_node(first, **attrs)
        for m in order:
            head_of[m] = first
    for a, b, d in G.edges(data=True):
        ha, hb = head_of[a], head_of[b]
        if ha != hb:
            if H.has_edge(ha, hb):
                H[ha][hb][weight] = H[ha][hb].get(weight, 0) + d.get(weight, 0)
            else:
                H.add_edge(ha, hb, **d)
    return H


def network_chart(G: nx.DiGraph, *, weight: str = "goroutines", label=None, color=None,
                  color_scale: alt.Scale | None = None, top: int = 30, title: str = "",
                  collapse: bool = False, width: int = 760, height: int = 360) -> alt.LayerChart | alt.Chart:
    """Draw a directed graph from a networkx layout: edges as rules, nodes as circles, labels as text.

    The ``top`` nodes by their ``weight`` attribute are drawn (the rest, and their
    edges, left out and counted in the subtitle). ``label(node, attrs)`` and
    ``color(node, attrs)`` give each node's text and colour category. With
    ``collapse``, chains of nodes are drawn as one (:func:`collapse_chains`).
    """
    if G.number_of_nodes() == 0:
        return _note(f"{title}: empty graph" if title else "empty graph", width)
    w = {n: float(a.get(weight) or 0) for n, a in G.nodes(data=True)}
    keep = sorted(G.nodes, key=lambda n: (-w[n], str(n)))[:top]
    H = G.subgraph(keep).copy()
    label = label or (lambda n, a: short_function(n))
    if collapse:
        H = collapse_chains(H, label, weight)
        inner = label
        label = lambda n, a: a.get("text") or inner(n, a)  # noqa: E731
    pos = graph_layout(H)
    layers = len({round(p[0], 6) for p in pos.values()})
    fit = max(int(width / max(layers, 1) / _CHAR_PX) - 3, 12)
    color = color or (lambda n, a: a.get("frame_class", ""))
    nodes = pd.DataFrame([
        {"id": str(n), "x": pos[n][0], "y": pos[n][1], "weight": w[n], "label": _clip(label(n, a), fit),
         "name": str(label(n, a)), "kind": str(color(n, a))}
        for n, a in H.nodes(data=True)
    ])
    edges = pd.DataFrame([
        {"x": pos[a][0], "y": pos[a][1], "x2": pos[b][0], "y2": pos[b][1],
         "weight": float(d.get(weight) or 1)}
        for a, b, d in H.edges(data=True)
    ], columns=["x", "y", "x2", "y2", "weight"])
    xd = [float(nodes["x"].min()) - 0.05, float(nodes["x"].max()) + 0.45]
    yd = [float(nodes["y"].min()) - 0.05, float(nodes["y"].max()) + 0.05]
    xs = alt.Scale(domain=xd, nice=False, zero=False)
    ys = alt.Scale(domain=yd, nice=False, zero=False)
    ax = dict(axis=None, scale=xs)
    ay = dict(axis=None, scale=ys)
    rules = alt.Chart(edges).mark_rule(color="#888", opacity=0.6).encode(
        x=alt.X("x:Q", **ax), y=alt.Y("y:Q", **ay), x2="x2:Q", y2="y2:Q",
        strokeWidth=alt.StrokeWidth("weight:Q", scale=alt.Scale(range=[0.6, 5]), legend=None),
    )
    # an arrowhead near each edge's end tells the direction where layers collide
    px = width / (xd[1] - xd[0])
    py = height / (yd[1] - yd[0])
    heads = edges.assign(hx=edges["x"] + 0.85 * (edges["x2"] - edges["x"]),
                         hy=edges["y"] + 0.85 * (edges["y2"] - edges["y"]),
                         # Vega turns a mark clockwise from "up"; data y grows upwards
                         angle=np.degrees(np.arctan2((edges["x2"] - edges["x"]) * px,
                                                     (edges["y2"] - edges["y"]) * py)))
    arrows = alt.Chart(heads).mark_point(shape="triangle-up", filled=True, size=40, color="#666").encode(
        x=alt.X("hx:Q", **ax), y=alt.Y("hy:Q", **ay), angle=alt.Angle("angle:Q", scale=None),
    )
    cenc = alt.Color("kind:N", title="", legend=alt.Legend(orient="bottom"))
    if color_scale is not None:
        cenc = alt.Color("kind:N", title="", scale=color_scale, legend=alt.Legend(orient="bottom"))
    dots = alt.Chart(nodes).mark_circle(opacity=0.95, stroke="#333", strokeWidth=0.5).encode(
        x=alt.X("x:Q", **ax), y=alt.Y("y:Q", **ay),
        size=alt.Size("weight:Q", scale=alt.Scale(range=[40, 900]), title=weight),
        color=cenc,
        tooltip=[alt.Tooltip("name:N", title="node"), alt.Tooltip("weight:Q", title=weight), "kind:N"],
    )
    text = alt.Chart(nodes).mark_text(align="left", dx=9, fontSize=10).encode(
        x=alt.X("x:Q", **ax), y=alt.Y("y:Q", **ay), text="label:N",
    )
    shown = sum(len(a.get("members", [n])) for n, a in H.nodes(data=True))
    sub = f"{shown} of {G.number_of_nodes()} nodes" + (f" (top {top} by {weight})" if shown < G.number_of_nodes() else "")
    if collapse and shown > H.number_of_nodes():
        sub += ", chains drawn as one node"
    return (rules + arrows + dots + text).properties(
        title=alt.TitleParams(title or "graph", subtitle=sub), width=width, height=height,
    )


def _last(dumps: Dumps, snapshot):
    if snapshot is None and len(dumps.goroutines):
        return int(dumps.goroutines["snapshot"].max())
    return snapshot


def call_graph_chart(dumps: Dumps, *, snapshot: int | None = None, labels: pd.Series | None = None,
                     clusters: list[int] | None = None, top: int = 30, **kw) -> alt.LayerChart | alt.Chart:
    """The call graph of blocked goroutines (:func:`goforensics.analyze.graphs.call_graph`), callers left.

    Node size is goroutines through the function, colour its frame class; ``snapshot``
    defaults to the last one.
    """
    G = call_graph(dumps, snapshot=_last(dumps, snapshot), labels=labels, clusters=clusters)
    return network_chart(G, weight="goroutines", color_scale=_CLASS_SCALE, top=top, collapse=True,
                         title="Call graph of blocked goroutines", **kw)


def spawn_graph_chart(dumps: Dumps, *, snapshot: int | None = None, top: int = 30, **kw) -> alt.LayerChart | alt.Chart:
    """Who starts which goroutines (:func:`goforensics.analyze.graphs.spawn_graph`), creators left.

    Node size is goroutines created by or started in the function; colour the
    dominant state of the goroutines started in it (``creator`` for pure creators).
    """
    G = spawn_graph(dumps, snapshot=_last(dumps, snapshot))
    for n in G.nodes:
        ins = G.in_edges(n, data=True)
        states: dict[str, int] = defaultdict(int)
        for _, _, d in ins:
            for k, v in d.get("states", {}).items():
                states[k] += v
        started = sum(d.get("goroutines", 0) for _, _, d in ins)
        created = sum(d.get("goroutines", 0) for _, _, d in G.out_edges(n, data=True))
        G.nodes[n]["goroutines"] = max(started, created)
        G.nodes[n]["state"] = max(states, key=states.get) if states else "creator"
    return network_chart(G, weight="goroutines", color=lambda n, a: a["state"], top=top,
                         title="Spawn graph: creators -> goroutines' entry functions", **kw)


def wait_for_chart(dumps: Dumps, *, snapshot: int | None = None, top: int = 30, graph: nx.DiGraph | None = None,
                   **kw) -> alt.LayerChart | alt.Chart:
    """The wait-for graph (:func:`goforensics.analyze.graphs.wait_for_graph`), aggregated to stay legible.

    Goroutines are grouped by where they wait (function and state); resources by
    kind and by the groups that wait on them and hold them. An edge group ->
    resource is "waits", resource -> group "held-by" (an inferred lock holder).
    ``graph`` is the wait-for graph if already made (it costs a pass over every goroutine).
    """
    W = graph if graph is not None else wait_for_graph(dumps, snapshot=_last(dumps, snapshot))
    group_of = {}
    A = nx.DiGraph()
    for n, a in W.nodes(data=True):
        if a.get("kind") == "goroutine":
            key = ("g", a.get("function", ""), a.get("state", ""))
            group_of[n] = key
            if key not in A:
                A.add_node(key, goroutines=0, kind="goroutines", text=f"{short_function(key[1])} [{key[2]}]")
            A.nodes[key]["goroutines"] += 1
    for n, a in W.nodes(data=True):
        if a.get("kind") == "goroutine":
            continue
        waiters = tuple(sorted({str(group_of[p]) for p in W.predecessors(n) if p in group_of}))
        holders = tuple(sorted({str(group_of[s]) for s in W.successors(n) if s in group_of}))
        key = ("r", a.get("kind", ""), waiters, holders)
        if key not in A:
            A.add_node(key, goroutines=0, resources=0, kind=str(a.get("kind", "")))
        A.nodes[key]["resources"] += 1
        for p in W.predecessors(n):
            if p in group_of:
                A.nodes[key]["goroutines"] += 1
                A.add_edge(group_of[p], key, relation="waits")
        for s in W.successors(n):
            if s in group_of:
                A.add_edge(key, group_of[s], relation="held-by")
    for key, a in A.nodes(data=True):
        if key[0] == "r":
            a["text"] = f"{a['resources']} {a['kind']}" + ("" if a["resources"] == 1 else "s")
    for a, b in A.edges:
        A[a][b]["goroutines"] = A.nodes[a]["goroutines"] if a[0] == "g" else A.nodes[b]["goroutines"]
    return network_chart(
        A, weight="goroutines", top=top,
        label=lambda n, a: a["text"] + (f" ×{a['goroutines']}" if n[0] == "g" else ""),
        color=lambda n, a: "goroutines" if n[0] == "g" else a["kind"],
        title="Wait-for graph: goroutines -> what they wait on -> its holder", **kw,
    )
