"""Charts of graphs (call, spawn, wait-for): a layered layout and one drawing for any directed graph.

Part of :mod:`goforensics.show.charts` (``gf.viz``), which re-exports every name here.
Nodes are aggregates (functions, groups of goroutines, kinds of resources), so a
graph of 100,000 goroutines draws at most ``top`` nodes.
"""

from __future__ import annotations

from collections import defaultdict

import altair as alt
import networkx as nx
import numpy as np
import pandas as pd

from ..analyze.graphs import call_graph, spawn_graph, wait_for_graph
from ..model import Dumps
from .draw import CHAR_PX, CLASS_SCALE, chart, clip, last_snapshot, note, short_function
from .safe import safe_records

__all__ = [
    "call_graph_chart",
    "collapse_chains",
    "graph_layout",
    "network_chart",
    "spawn_graph_chart",
    "wait_for_chart",
]

# --- graphs -----------------------------------------------------------------------------------------------


def graph_layout(G: nx.DiGraph) -> dict:
    """Layered positions: callers (sources) left, callees right; a cycle shares a layer.

    Layers come from the condensation of the graph (strongly connected components
    are one layer), so any directed graph gets a left-to-right layout.

    Parameters
    ----------
    G : networkx.DiGraph
        Any directed graph.

    Returns
    -------
    dict
        Node -> ``(x, y)`` position; empty for an empty graph.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("main.run", "main.worker"), ("main.worker", "runtime.chanrecv")])
    >>> {n: float(x) for n, (x, y) in graph_layout(G).items()}
    {'main.run': -1.0, 'main.worker': 0.0, 'runtime.chanrecv': 1.0}
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

    Parameters
    ----------
    G : networkx.DiGraph
        A graph (a call graph).
    label : callable
        ``label(node, attributes) -> str``, the text of a node.
    weight : str, default "goroutines"
        The attribute that says which member of a chain is the heaviest.

    Returns
    -------
    networkx.DiGraph
        A new graph whose chains are single nodes.

    Examples
    --------
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
        start = next(
            (m for m in members if not any(p in inside for p in G.predecessors(m))), members[0]
        )
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
        attrs["text"] = (
            label(first, G.nodes[first])
            if len(order) == 1
            else f"{label(first, G.nodes[first])} → {label(last, G.nodes[last])} ({len(order)} frames)"
        )
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


def _graph_frames(H, w: dict, weight: str, label, color, width: int):
    """Per node its position, weight, label and colour category; per edge its two ends."""
    pos = graph_layout(H)
    layers = len({round(p[0], 6) for p in pos.values()})
    fit = max(int(width / max(layers, 1) / CHAR_PX) - 3, 12)
    color = color or (lambda n, a: a.get("frame_class", ""))
    nodes = pd.DataFrame(
        safe_records(
            [
                {
                    "id": str(n),
                    "x": pos[n][0],
                    "y": pos[n][1],
                    "weight": w[n],
                    "label": clip(label(n, a), fit),
                    "name": str(label(n, a)),
                    "kind": str(color(n, a)),
                }
                for n, a in H.nodes(data=True)
            ]
        )
    )
    edges = pd.DataFrame(
        [
            {
                "x": pos[a][0],
                "y": pos[a][1],
                "x2": pos[b][0],
                "y2": pos[b][1],
                "weight": float(d.get(weight) or 1),
            }
            for a, b, d in H.edges(data=True)
        ],
        columns=["x", "y", "x2", "y2", "weight"],
    )
    return nodes, edges


def _network_layers(H, w, weight, label, color, color_scale, width, height) -> alt.LayerChart:
    """Edges (rules with arrowheads), nodes (circles) and their labels, at layered positions."""
    nodes, edges = _graph_frames(H, w, weight, label, color, width)
    xd = [float(nodes["x"].min()) - 0.05, float(nodes["x"].max()) + 0.45]
    yd = [float(nodes["y"].min()) - 0.05, float(nodes["y"].max()) + 0.05]
    xs = alt.Scale(domain=xd, nice=False, zero=False)
    ys = alt.Scale(domain=yd, nice=False, zero=False)
    ax = dict(axis=None, scale=xs)
    ay = dict(axis=None, scale=ys)
    rules = (
        chart(edges)
        .mark_rule(color="#888", opacity=0.6)
        .encode(
            x=alt.X("x:Q", **ax),
            y=alt.Y("y:Q", **ay),
            x2="x2:Q",
            y2="y2:Q",
            strokeWidth=alt.StrokeWidth("weight:Q", scale=alt.Scale(range=[0.6, 5]), legend=None),
        )
    )
    # an arrowhead near each edge's end tells the direction where layers collide
    px = width / (xd[1] - xd[0])
    py = height / (yd[1] - yd[0])
    heads = edges.assign(
        hx=edges["x"] + 0.85 * (edges["x2"] - edges["x"]),
        hy=edges["y"] + 0.85 * (edges["y2"] - edges["y"]),
        # Vega turns a mark clockwise from "up"; data y grows upwards
        angle=np.degrees(
            np.arctan2((edges["x2"] - edges["x"]) * px, (edges["y2"] - edges["y"]) * py)
        ),
    )
    arrows = (
        chart(heads)
        .mark_point(shape="triangle-up", filled=True, size=40, color="#666")
        .encode(
            x=alt.X("hx:Q", **ax),
            y=alt.Y("hy:Q", **ay),
            angle=alt.Angle("angle:Q", scale=None),
        )
    )
    cenc = alt.Color("kind:N", title="", legend=alt.Legend(orient="bottom"))
    if color_scale is not None:
        cenc = alt.Color("kind:N", title="", scale=color_scale, legend=alt.Legend(orient="bottom"))
    dots = (
        chart(nodes)
        .mark_circle(opacity=0.95, stroke="#333", strokeWidth=0.5)
        .encode(
            x=alt.X("x:Q", **ax),
            y=alt.Y("y:Q", **ay),
            size=alt.Size("weight:Q", scale=alt.Scale(range=[40, 900]), title=weight),
            color=cenc,
            tooltip=[
                alt.Tooltip("name:N", title="node"),
                alt.Tooltip("weight:Q", title=weight),
                "kind:N",
            ],
        )
    )
    text = (
        chart(nodes)
        .mark_text(align="left", dx=9, fontSize=10)
        .encode(
            x=alt.X("x:Q", **ax),
            y=alt.Y("y:Q", **ay),
            text="label:N",
        )
    )
    return rules + arrows + dots + text


def network_chart(
    G: nx.DiGraph,
    *,
    weight: str = "goroutines",
    label=None,
    color=None,
    color_scale: alt.Scale | None = None,
    top: int = 30,
    title: str = "",
    collapse: bool = False,
    width: int = 760,
    height: int = 360,
) -> alt.LayerChart | alt.Chart:
    """Draw a directed graph from a networkx layout: edges as rules, nodes as circles, labels as text.

    The ``top`` nodes by their ``weight`` attribute are drawn (the rest, and their
    edges, left out and counted in the subtitle). ``label(node, attrs)`` and
    ``color(node, attrs)`` give each node's text and colour category. With
    ``collapse``, chains of nodes are drawn as one (:func:`collapse_chains`).

    Parameters
    ----------
    G : networkx.DiGraph
        The graph.
    weight : str, default "goroutines"
        The node attribute that sizes nodes and picks the ``top`` ones.
    label : callable, optional
        ``label(node, attrs)`` -> the node's text.
    color : callable, optional
        ``color(node, attrs)`` -> the node's colour category.
    color_scale : altair.Scale, optional
        The colour scale for those categories.
    top : int, default 30
        How many nodes are drawn.
    title : str
        The chart's title.
    collapse : bool, default False
        Draw chains of nodes as one node.
    width, height : int
        The chart's size in pixels.

    Returns
    -------
    altair.LayerChart or altair.Chart
        Edges, nodes and labels; a note chart where the graph is empty.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph([("main.run", "main.worker"), ("main.worker", "runtime.chanrecv")])
    >>> nx.set_node_attributes(G, 1, "goroutines")
    >>> c = network_chart(G, title="calls")
    >>> type(c).__name__, c.to_dict()["title"]
    ('LayerChart', {'text': 'calls', 'subtitle': '3 of 3 nodes'})
    """
    if G.number_of_nodes() == 0:
        return note(f"{title}: empty graph" if title else "empty graph", width)
    w = {n: float(a.get(weight) or 0) for n, a in G.nodes(data=True)}
    keep = sorted(G.nodes, key=lambda n: (-w[n], str(n)))[:top]
    H = G.subgraph(keep).copy()
    label = label or (lambda n, a: short_function(n))
    if collapse:
        H = collapse_chains(H, label, weight)
        inner = label
        label = lambda n, a: a.get("text") or inner(n, a)  # noqa: E731
    layers = _network_layers(H, w, weight, label, color, color_scale, width, height)
    shown = sum(len(a.get("members", [n])) for n, a in H.nodes(data=True))
    sub = f"{shown} of {G.number_of_nodes()} nodes" + (
        f" (top {top} by {weight})" if shown < G.number_of_nodes() else ""
    )
    if collapse and shown > H.number_of_nodes():
        sub += ", chains drawn as one node"
    return layers.properties(
        title=alt.TitleParams(title or "graph", subtitle=sub),
        width=width,
        height=height,
    )


def call_graph_chart(
    dumps: Dumps,
    *,
    snapshot: int | None = None,
    labels: pd.Series | None = None,
    clusters: list[int] | None = None,
    top: int = 30,
    **kw,
) -> alt.LayerChart | alt.Chart:
    """The call graph of blocked goroutines (:func:`goforensics.analyze.graphs.call_graph`), callers left.

    Node size is goroutines through the function, colour its frame class; ``snapshot``
    defaults to the last one.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int, optional
        The snapshot to draw (default: the last one).
    labels : pandas.Series, optional
        Cluster ids aligned with ``dumps.goroutines``; needed with ``clusters``.
    clusters : list of int, optional
        Only goroutines of these clusters.
    top : int, default 30
        How many nodes are drawn, the heaviest first.
    **kw
        Passed to :func:`network_chart` (``width``, ``height``, ...).

    Returns
    -------
    altair.LayerChart or altair.Chart
        Edges, nodes and labels; a note chart where the graph is empty.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> c = call_graph_chart(d)
    >>> type(c).__name__, c.to_dict()["title"]["text"]
    ('LayerChart', 'Call graph of blocked goroutines')
    """
    G = call_graph(dumps, snapshot=last_snapshot(dumps, snapshot), labels=labels, clusters=clusters)
    return network_chart(
        G,
        weight="goroutines",
        color_scale=CLASS_SCALE,
        top=top,
        collapse=True,
        title="Call graph of blocked goroutines",
        **kw,
    )


def spawn_graph_chart(
    dumps: Dumps, *, snapshot: int | None = None, top: int = 30, **kw
) -> alt.LayerChart | alt.Chart:
    """Who starts which goroutines (:func:`goforensics.analyze.graphs.spawn_graph`), creators left.

    Node size is goroutines created by or started in the function; colour the
    dominant state of the goroutines started in it (``creator`` for pure creators).

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int, optional
        The snapshot to draw (default: the last one).
    top : int, default 30
        How many nodes are drawn, the heaviest first.
    **kw
        Passed to :func:`network_chart` (``width``, ``height``, ...).

    Returns
    -------
    altair.LayerChart or altair.Chart
        Edges, nodes and labels; a note chart where the graph is empty.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> c = spawn_graph_chart(d)
    >>> type(c).__name__, c.to_dict()["title"]["subtitle"]
    ('LayerChart', '6 of 6 nodes')
    """
    G = spawn_graph(dumps, snapshot=last_snapshot(dumps, snapshot))
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
    return network_chart(
        G,
        weight="goroutines",
        color=lambda n, a: a["state"],
        top=top,
        title="Spawn graph: creators -> goroutines' entry functions",
        **kw,
    )


def wait_for_chart(
    dumps: Dumps,
    *,
    snapshot: int | None = None,
    top: int = 30,
    graph: nx.DiGraph | None = None,
    **kw,
) -> alt.LayerChart | alt.Chart:
    """The wait-for graph (:func:`goforensics.analyze.graphs.wait_for_graph`), aggregated to stay legible.

    Goroutines are grouped by where they wait (function and state); resources by
    kind and by the groups that wait on them and hold them. An edge group ->
    resource is "waits", resource -> group "held-by" (an inferred lock holder).
    ``graph`` is the wait-for graph if already made (it costs a pass over every goroutine).

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int, optional
        The snapshot to draw (default: the last one).
    top : int, default 30
        How many nodes are drawn, the heaviest first.
    graph : networkx.DiGraph, optional
        The wait-for graph, if already made.
    **kw
        Passed to :func:`network_chart` (``width``, ``height``, ...).

    Returns
    -------
    altair.LayerChart or altair.Chart
        Edges, nodes and labels; a note chart where the graph is empty.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> c = wait_for_chart(d)
    >>> type(c).__name__, c.to_dict()["title"]["subtitle"]
    ('LayerChart', '7 of 7 nodes')
    """
    W = (
        graph
        if graph is not None
        else wait_for_graph(dumps, snapshot=last_snapshot(dumps, snapshot))
    )
    group_of = {}
    A = nx.DiGraph()
    for n, a in W.nodes(data=True):
        if a.get("kind") == "goroutine":
            key = ("g", a.get("function", ""), a.get("state", ""))
            group_of[n] = key
            if key not in A:
                A.add_node(
                    key,
                    goroutines=0,
                    kind="goroutines",
                    text=f"{short_function(key[1])} [{key[2]}]",
                )
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
        A[a][b]["goroutines"] = (
            A.nodes[a]["goroutines"] if a[0] == "g" else A.nodes[b]["goroutines"]
        )
    return network_chart(
        A,
        weight="goroutines",
        top=top,
        label=lambda n, a: a["text"] + (f" ×{a['goroutines']}" if n[0] == "g" else ""),
        color=lambda n, a: "goroutines" if n[0] == "g" else a["kind"],
        title="Wait-for graph: goroutines -> what they wait on -> its holder",
        **kw,
    )
