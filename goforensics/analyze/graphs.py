"""Graphs over blocked goroutines: call graph, spawn graph, hotspots; with the wait-for graph and
deadlock cycles of :mod:`goforensics.analyze.waitfor`, one topic to reach them by (``gf.graphs``).

Every function returns a :class:`networkx.DiGraph` whose node and edge attributes
are documented on the function, built from the tables of a
:class:`~goforensics.model.Dumps` (work is done once per distinct stack, then
weighted by the goroutines on it).

>>> import goforensics as gf
>>> d = gf.parse_text('''goroutine 7 [chan receive]:
... main.worker(0xc000010000)
... \\t/app/w.go:12 +0x1d
... main.run()
... \\t/app/w.go:30 +0x2a
... created by main.main in goroutine 1
... \\t/app/main.go:9 +0x3e
... ''')
>>> G = call_graph(d)
>>> G["main.run"]["main.worker"]["goroutines"]
1
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import networkx as nx
import numpy as np
import pandas as pd

from ..goruntime import is_blocked
from ..model import Dumps
from .waitfor import (
    MAX_TYPE_CANDIDATES,
    Blocker,
    blocked_on,
    deadlock_cycles,
    node_text,
    own_frames,
    wait_for_graph,
)

__all__ = [
    "MAX_TYPE_CANDIDATES",
    "Blocker",
    "blocked_on",
    "call_graph",
    "deadlock_cycles",
    "hotspots",
    "node_text",
    "spawn_graph",
    "wait_for_graph",
]


def _select(
    dumps: Dumps,
    snapshot: int | list[int] | None,
    states: list[str] | None,
    labels: pd.Series | None,
    clusters: list[int] | None,
    blocked_only: bool,
) -> pd.DataFrame:
    g = dumps.goroutines
    mask = pd.Series(True, index=g.index)
    if snapshot is not None:
        snaps = [snapshot] if np.isscalar(snapshot) else list(snapshot)
        mask &= g["snapshot"].isin(snaps)
    if states is not None:
        mask &= g["state"].astype(str).isin(states)
    elif blocked_only:
        mask &= is_blocked(g["state"])
    if clusters is not None:
        if labels is None:
            raise ValueError("filtering by cluster needs the cluster labels (labels=...)")
        mask &= labels.reindex(g.index).isin(clusters)
    return g[mask]


def call_graph(
    dumps: Dumps,
    *,
    snapshot: int | list[int] | None = None,
    states: list[str] | None = None,
    labels: pd.Series | None = None,
    clusters: list[int] | None = None,
    blocked_only: bool = True,
) -> nx.DiGraph:
    """The call graph of (blocked) goroutines' frames, caller -> callee.

    Nodes are functions, with attributes ``package``, ``frame_class``,
    ``goroutines`` (goroutines whose stack passes through it) and ``top``
    (goroutines blocked right in it). Edges carry ``goroutines``: how many
    goroutines made that call. Filter by ``snapshot``, ``states`` (default: every
    blocked state), or ``clusters`` given the cluster ``labels`` of the goroutines.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int or list of int, optional
        Only these snapshots (default: all).
    states : list of str, optional
        Only goroutines in these states (default: every blocked state).
    labels : pandas.Series, optional
        Cluster label per goroutine row; needed with ``clusters``.
    clusters : list of int, optional
        Only goroutines of these clusters.
    blocked_only : bool, default True
        Leave out running and runnable goroutines when ``states`` is not given.

    Returns
    -------
    networkx.DiGraph
        Function nodes and caller -> callee edges, as above.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 7 [chan receive]:\\nmain.worker()\\n\\t/app/w.go:12 +0x1d\\n"
    ...     "main.run()\\n\\t/app/w.go:30 +0x2a\\n"
    ...     "created by main.main in goroutine 1\\n\\t/app/main.go:9 +0x3e\\n"
    ... )
    >>> G = call_graph(d)
    >>> sorted(G.nodes)
    ['main.run', 'main.worker']
    >>> G.nodes["main.worker"]["top"], G["main.run"]["main.worker"]["goroutines"]
    (1, 1)
    """
    g = _select(dumps, snapshot, states, labels, clusters, blocked_only)
    weight = g.groupby("stack_id", observed=True)["count"].sum()
    G = nx.DiGraph()
    if weight.empty:
        return G
    f = own_frames(dumps, weight.index)
    node_w: dict[str, int] = defaultdict(int)
    node_top: dict[str, int] = defaultdict(int)
    edge_w: dict[tuple[str, str], int] = defaultdict(int)
    attrs: dict[str, tuple[str, str]] = {}
    for sid, grp in f.groupby("stack_id", sort=False):
        w = int(weight.get(sid, 0))
        if not w:
            continue
        fns = grp["function"].astype(str).tolist()
        for fn, pkg, cls in zip(
            fns, grp["package"].astype(str), grp["frame_class"].astype(str), strict=True
        ):
            attrs.setdefault(fn, (pkg, cls))
        for fn in set(fns):
            node_w[fn] += w
        node_top[fns[0]] += w
        for callee, caller in set(pairwise(fns)):
            if callee != caller:
                edge_w[(caller, callee)] += w
    for fn, w in node_w.items():
        pkg, cls = attrs[fn]
        G.add_node(fn, package=pkg, frame_class=cls, goroutines=w, top=node_top.get(fn, 0))
    for (a, b), w in edge_w.items():
        G.add_edge(a, b, goroutines=w)
    return G


def hotspots(
    dumps: Dumps,
    *,
    snapshot: int | list[int] | None = None,
    classes: tuple[str, ...] = ("application", "third-party", "stdlib"),
    top: int | None = 20,
) -> pd.DataFrame:
    """Frames (function, file, line) where most blocked goroutines converge.

    Columns: ``function``, ``file``, ``line``, ``frame_class``, ``goroutines``
    (blocked goroutines whose stack passes through the frame), ``stacks`` (distinct
    stacks), ``callers`` (distinct calling functions: the fan-in), ``share`` (of all
    blocked goroutines). Runtime frames are left out by default: every goroutine
    parks in the runtime.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int or list of int, optional
        Only these snapshots (default: all).
    classes : tuple of str
        Frame classes to keep (``application``, ``third-party``, ``stdlib``, ``runtime``).
    top : int or None, default 20
        Keep the first ``top`` rows; ``None`` or 0 keeps all.

    Returns
    -------
    pandas.DataFrame
        One row per frame, most goroutines first, with columns ``function``, ``file``,
        ``line``, ``frame_class``, ``goroutines``, ``stacks``, ``callers``, ``share``.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 7 [chan receive]:\\nmain.worker()\\n\\t/app/w.go:12 +0x1d\\n"
    ...     "main.run()\\n\\t/app/w.go:30 +0x2a\\n"
    ...     "created by main.main in goroutine 1\\n\\t/app/main.go:9 +0x3e\\n"
    ... )
    >>> hotspots(d)[["function", "line", "goroutines", "share"]]
          function  line  goroutines  share
    0  main.worker    12           1    1.0
    1     main.run    30           1    1.0
    """
    g = _select(dumps, snapshot, None, None, None, True)
    weight = g.groupby("stack_id", observed=True)["count"].sum()
    cols = ["function", "file", "line", "frame_class", "goroutines", "stacks", "callers", "share"]
    if weight.empty:
        return pd.DataFrame(columns=cols)
    f = own_frames(dumps, weight.index).copy()
    f["caller"] = f.groupby("stack_id", sort=False)["function"].shift(-1).astype(object)
    f = f[f["frame_class"].astype(str).isin(classes)]
    f = f.drop_duplicates(["stack_id", "function", "file", "line"])
    f["w"] = f["stack_id"].map(weight).astype("int64")
    agg = (
        f.groupby(["function", "file", "line", "frame_class"], observed=True, dropna=False)
        .agg(goroutines=("w", "sum"), stacks=("stack_id", "nunique"), callers=("caller", "nunique"))
        .reset_index()
    )
    agg = agg[agg["goroutines"] > 0]
    agg["share"] = agg["goroutines"] / float(weight.sum())
    agg = agg.sort_values(["goroutines", "callers", "function"], ascending=[False, False, True])
    agg = agg[cols].reset_index(drop=True)
    return agg.head(top) if top else agg


def spawn_graph(
    dumps: Dumps, *, snapshot: int | list[int] | None = None, level: str = "function"
) -> nx.DiGraph:
    """Who starts which goroutines.

    ``level="function"``: nodes are functions; an edge ``creator -> entry``
    (the function that ran the ``go`` statement -> the goroutine's entry function)
    carries ``goroutines`` (how many such goroutines exist), ``file`` and ``line``
    of the go statement, and ``states`` (a dict state -> goroutines).

    ``level="goroutine"``: nodes are ``(instance, goid)`` pairs with ``state``,
    ``entry`` and ``snapshot``; an edge ``creator -> child`` exists where the dump
    names the creator (Go 1.21+ ``created by ... in goroutine N``). Creators that
    have exited appear with ``state=None``: nobody is left to wait for their children.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int or list of int, optional
        Only these snapshots (default: all).
    level : {"function", "goroutine"}
        Whether nodes are functions or single goroutines.

    Returns
    -------
    networkx.DiGraph
        Creator -> created edges, as above.

    Raises
    ------
    ValueError
        If ``level`` is neither ``"function"`` nor ``"goroutine"``.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 7 [chan receive]:\\nmain.worker()\\n\\t/app/w.go:12 +0x1d\\n"
    ...     "main.run()\\n\\t/app/w.go:30 +0x2a\\n"
    ...     "created by main.main in goroutine 1\\n\\t/app/main.go:9 +0x3e\\n"
    ... )
    >>> G = spawn_graph(d)
    >>> e = G["main.main"]["main.run"]
    >>> e["goroutines"], e["line"], e["states"]
    (1, 9, {'chan receive': 1})
    >>> sorted(spawn_graph(d, level="goroutine").edges)
    [(('', 1), ('', 7))]
    """
    g = _select(dumps, snapshot, None, None, None, False)
    G = nx.DiGraph()
    if level == "function":
        sub = g[g["created_by"].astype(str) != ""]
        for (cb, entry, file, line), grp in sub.groupby(
            ["created_by", "entry_function", "created_by_file", "created_by_line"],
            observed=True,
            dropna=False,
        ):
            n = int(grp["count"].sum())
            if not n:
                continue
            states = grp.groupby("state", observed=True)["count"].sum()
            states = {str(k): int(v) for k, v in states.items() if v}
            if G.has_edge(cb, entry):
                e = G[cb][entry]
                e["goroutines"] += n
                for k, v in states.items():
                    e["states"][k] = e["states"].get(k, 0) + v
            else:
                G.add_edge(
                    str(cb),
                    str(entry),
                    goroutines=n,
                    file=str(file),
                    line=None if pd.isna(line) else int(line),
                    states=states,
                )
        for node in G.nodes:
            G.nodes[node]["kind"] = "function"
        return G
    if level != "goroutine":
        raise ValueError("level must be 'function' or 'goroutine'")
    sub = g[g["goid"].notna()]
    for inst, goid, state, entry, snap in zip(
        sub["instance"].astype(str),
        sub["goid"],
        sub["state"].astype(str),
        sub["entry_function"].astype(str),
        sub["snapshot"],
        strict=True,
    ):
        G.add_node(
            (inst, int(goid)), state=state, entry=entry, snapshot=int(snap), kind="goroutine"
        )
    for inst, goid, cg in zip(
        sub["instance"].astype(str), sub["goid"], sub["creator_goid"], strict=True
    ):
        if pd.isna(cg):
            continue
        parent = (inst, int(cg))
        if parent not in G:
            G.add_node(parent, state=None, entry=None, snapshot=None, kind="goroutine")
        G.add_edge(parent, (inst, int(goid)))
    return G


# --- what a goroutine waits on ---------------------------------------------------------------
