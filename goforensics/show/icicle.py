"""The icicle of blocked stacks: where goroutines wait, entry on top, one box per frame prefix,
sized by goroutines (the flame graph of a goroutine dump, drawn from aggregates)."""

from __future__ import annotations

from collections import defaultdict

import altair as alt
import pandas as pd

from ..goruntime import is_blocked
from ..model import Dumps
from .draw import CHAR_PX, CLASS_SCALE, WIDTH, chart, clip, last_snapshot, note, short_function
from .labels import cluster_labels

__all__ = ["icicle_chart"]


def _blocked_weights(dumps: Dumps, snapshot, labels, clusters) -> pd.Series:
    """Blocked goroutines per distinct stack in one snapshot (optionally some clusters only)."""
    g = dumps.goroutines
    mask = (g["snapshot"] == snapshot) & is_blocked(g["state"])
    if clusters is not None:
        if labels is None:
            raise ValueError("filtering by cluster needs the cluster labels (labels=...)")
        mask &= cluster_labels(dumps, labels).isin(clusters)
    weight = g[mask].groupby("stack_id", observed=True)["count"].sum()
    return weight[weight > 0]


def _prefix_tree(frames: pd.DataFrame, weight: pd.Series, max_depth: int) -> tuple[dict, dict]:
    """Goroutines per prefix of frames (outermost first), built once per distinct stack."""
    node_w: dict[tuple, float] = defaultdict(float)
    node_cls: dict[tuple, str] = {}
    f = frames.sort_values(["stack_id", "depth"], ascending=[True, False], kind="stable")
    for sid, grp in f.groupby("stack_id", sort=False):
        w = float(weight[sid])
        path: tuple = ()
        for fn, cls in zip(
            grp["function"].astype(str), grp["frame_class"].astype(str), strict=True
        ):
            if len(path) >= max_depth:
                break
            path = (*path, fn)
            node_w[path] += w
            node_cls.setdefault(path, cls)
    return node_w, node_cls


def _icicle_boxes(
    node_w: dict, node_cls: dict, total: float, min_share: float, width: int
) -> pd.DataFrame:
    """One box per prefix at or above ``min_share``: its extent (x0, x1 in 0..1) and depth."""
    children: dict[tuple, list[tuple]] = defaultdict(list)
    for path in node_w:
        children[path[:-1]].append(path)
    rows = []
    stack = [((), 0.0)]
    while stack:
        parent, x = stack.pop()
        for kid in sorted(children.get(parent, []), key=lambda p: (-node_w[p], p[-1])):
            share = node_w[kid] / total
            if share < min_share:
                continue
            rows.append(
                {
                    "function": kid[-1],
                    "depth": len(kid) - 1,
                    "x0": x,
                    "x1": x + share,
                    "goroutines": int(node_w[kid]),
                    "share": round(share, 4),
                    "frame_class": node_cls[kid],
                    "text": clip(short_function(kid[-1]), int((share * width - 6) / CHAR_PX)),
                }
            )
            stack.append((kid, x))
            x += share
    return pd.DataFrame(rows)


def icicle_chart(
    dumps: Dumps,
    *,
    snapshot: int | None = None,
    labels: pd.Series | None = None,
    clusters: list[int] | None = None,
    min_share: float = 0.005,
    max_depth: int = 40,
    hide_runtime: bool = True,
    width: int = WIDTH,
) -> alt.LayerChart | alt.Chart:
    """Icicle of the blocked goroutines' stacks: entry functions on top, where they block below.

    A box's width is the share of blocked goroutines whose stack has that prefix of
    frames (outermost first); boxes under ``min_share`` are left out. ``snapshot``
    defaults to the last; ``clusters`` (with ``labels``) narrows to some clusters.
    With ``hide_runtime``, runtime frames (the same parking plumbing everywhere) are
    left out of the boxes. The chart's data holds one row per box (``function``,
    ``depth``, ``x0``, ``x1``, ``goroutines``, ``share``, ``frame_class``, ``text``).

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int, optional
        The snapshot to look at (default: the last one).
    labels : pandas.Series, optional
        Cluster ids aligned with ``dumps.goroutines``; needed with ``clusters``.
    clusters : list of int, optional
        Only goroutines of these clusters.
    min_share : float, default 0.005
        The smallest share of blocked goroutines a box may have.
    max_depth : int, default 40
        The deepest frame drawn.
    hide_runtime : bool, default True
        Leave runtime frames out of the boxes.
    width : int
        The chart's width in pixels.

    Returns
    -------
    altair.LayerChart or altair.Chart
        Boxes and their labels; a note chart where nothing is blocked.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> c = icicle_chart(d)
    >>> type(c).__name__, c.data.columns.tolist()[:6]
    ('LayerChart', ['function', 'depth', 'x0', 'x1', 'goroutines', 'share'])
    """
    snapshot = last_snapshot(dumps, snapshot)
    weight = _blocked_weights(dumps, snapshot, labels, clusters)
    if weight.empty:
        return note("no blocked goroutines", width)
    f = dumps.frames
    f = f[(f["section"] == 0) & f["stack_id"].isin(weight.index)]
    if hide_runtime:
        f = f[f["frame_class"].astype(str) != "runtime"]
    total = float(weight.sum())
    boxes = _icicle_boxes(*_prefix_tree(f, weight, max_depth), total, min_share, width)
    if boxes.empty:
        return note("no frame above the minimum share", width)
    boxes["depth1"] = boxes["depth"] + 1
    boxes["mid"] = boxes["depth"] + 0.5
    levels = int(boxes["depth1"].max())
    y = alt.Y("depth:Q", scale=alt.Scale(domain=[levels, 0]), axis=None)
    base = chart(boxes).encode(
        x=alt.X("x0:Q", scale=alt.Scale(domain=[0, 1]), axis=None),
        y=y,
        tooltip=[
            "function:N",
            "goroutines:Q",
            alt.Tooltip("share:Q", format=".1%"),
            "frame_class:N",
        ],
    )
    rects = base.mark_rect(stroke="white", strokeWidth=1).encode(
        x2="x1:Q",
        y2="depth1:Q",
        color=alt.Color(
            "frame_class:N", scale=CLASS_SCALE, title="frame", legend=alt.Legend(orient="bottom")
        ),
    )
    text = base.mark_text(align="left", baseline="middle", dx=3, fontSize=10, color="#111").encode(
        y=alt.Y("mid:Q", scale=alt.Scale(domain=[levels, 0]), axis=None),
        text="text:N",
    )
    return (rects + text).properties(
        title=f"Blocked goroutines' stacks, entry on top (snapshot {snapshot}, {int(total):,} goroutines)",
        width=width,
        height=min(18 * levels, 900),
    )
