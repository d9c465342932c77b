"""The explorable flame graph of blocked stacks: its data, embedded as JSON, and its frame.

:func:`flame_data` aggregates the blocked goroutines of one snapshot per distinct stack and
cluster, frames root first; :func:`flame_section` embeds that data in a
``<script type="application/json">`` block (never run: the browser only parses it, and
``<``, ``>`` and ``&`` are written as ``\\u`` escapes so no name can close the block) beside the
controls the report's own script (``explore.js``, see :mod:`goforensics.show.explore`) wires:
search, focus and ignore regexes as pprof's, runtime frames, reset. The script reads the
data with ``JSON.parse`` and draws it through DOM APIs and ``textContent`` only.

>>> import goforensics as gf
>>> data = flame_data(gf.load("bundled:demo"))
>>> sorted(data), data["goroutines"] == sum(s[1] for s in data["stacks"])
(['classes', 'goroutines', 'names', 'short', 'snapshot', 'stacks', 'states'], True)
"""

from __future__ import annotations

import json

import pandas as pd

from ..goruntime import is_blocked
from ..model import Dumps
from .draw import FRAME_CLASS_COLORS, last_snapshot, short_function
from .labels import cluster_labels
from .safe import safe_text

__all__ = ["FLAME_STYLE", "flame_data", "flame_json", "flame_section"]


def flame_data(dumps: Dumps, labels=None, *, snapshot: int | None = None) -> dict:
    """The blocked goroutines of one snapshot per distinct stack and cluster, for the flame graph.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    labels : Series, optional
        Cluster ids aligned with ``dumps.goroutines`` (default :func:`goforensics.cluster`).
    snapshot : int, optional
        The snapshot drawn (default: the last).

    Returns
    -------
    dict
        ``snapshot``; ``goroutines`` (blocked goroutines in that snapshot); ``names``,
        ``short`` (without import path) and ``classes`` (frame class) of every function, one
        entry per name; ``states``, the states the goroutines wait in; ``stacks``:
        ``[frames, goroutines, cluster, state]`` per distinct stack, cluster and state,
        ``frames`` indexes into ``names``, outermost (the entry) first, ``state`` into
        ``states``, largest stack first. Names are made safe (:func:`goforensics.show.safe.safe_text`, one line).

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 7 [chan send]:\\nmain.leaf()\\n\\t/a.go:3 +0x1\\n"
    ...                   "main.root()\\n\\t/a.go:9 +0x1\\n")
    >>> data = flame_data(d)
    >>> [data["names"][i] for i in data["stacks"][0][0]], data["stacks"][0][1:], data["states"]
    (['main.root', 'main.leaf'], [1, 0, 0], ['chan send'])
    """
    snap = last_snapshot(dumps, snapshot)
    g = dumps.goroutines
    lab = cluster_labels(dumps, labels).to_numpy()
    keep = ((g["snapshot"] == snap) & is_blocked(g["state"])).to_numpy()
    t = pd.DataFrame(
        {
            "stack_id": g["stack_id"].to_numpy()[keep],
            "cluster": lab[keep],
            "state": g["state"].astype(str).to_numpy()[keep],
            "n": g["count"].to_numpy()[keep],
        }
    )
    t = t.groupby(["stack_id", "cluster", "state"], sort=False)["n"].sum().reset_index()
    t = t[t["n"] > 0].sort_values(["n", "cluster"], ascending=[False, True], kind="stable")
    f = dumps.frames
    f = f[(f["section"] == 0) & f["stack_id"].isin(t["stack_id"].unique())]
    f = f.sort_values(["stack_id", "depth"], ascending=[True, False], kind="stable")
    index: dict[str, int] = {}
    names: list[str] = []
    classes: list[str] = []
    paths: dict[int, list[int]] = {}
    for sid, fn, cls in zip(
        f["stack_id"].astype("uint64"),
        f["function"].astype(str),
        f["frame_class"].astype(str),
        strict=True,
    ):
        if fn not in index:
            index[fn] = len(names)
            names.append(fn)
            classes.append(cls if cls in FRAME_CLASS_COLORS else "stdlib")
        paths.setdefault(int(sid), []).append(index[fn])
    states = sorted(set(t["state"]))
    at = {st: i for i, st in enumerate(states)}
    stacks = [
        [paths.get(int(sid), []), int(n), int(c), at[st]]
        for sid, c, st, n in t[["stack_id", "cluster", "state", "n"]].itertuples(index=False)
    ]
    return {
        "snapshot": None if snap is None else int(snap),
        "goroutines": int(t["n"].sum()),
        "names": [safe_text(n, one_line=True) for n in names],
        "short": [safe_text(short_function(n), one_line=True) for n in names],
        "classes": classes,
        "states": [safe_text(st, one_line=True) for st in states],
        "stacks": stacks,
    }


def flame_json(data: dict) -> str:
    """``data`` as JSON that no text inside can end the ``<script>`` block holding it.

    Parameters
    ----------
    data : dict
        What :func:`flame_data` returns, or any JSON-serialisable dict.

    Returns
    -------
    str
        Compact JSON with ``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\\u`` escapes.

    Examples
    --------
    >>> flame_json({"names": ["</script><b>&"]})
    '{"names":["\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"]}'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    # JSON allows these two raw; a script block reader must not stumble on them either
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def flame_section(data: dict) -> str:
    """The flame graph's controls, its (empty) drawing area and its data block.

    Parameters
    ----------
    data : dict
        :func:`flame_data`.

    Returns
    -------
    str
        HTML: a search box with its match count, focus and ignore regex inputs (pprof's
        ``-focus`` and ``-ignore``: keep the stacks through a frame matching one, drop the
        stacks through a frame matching the other), a runtime-frames switch, a reset, the
        breadcrumb of the zoom, the graph, a details line and the JSON data block.

    Examples
    --------
    >>> html = flame_section({"snapshot": 0, "goroutines": 0, "names": [], "short": [],
    ...                       "classes": [], "states": [], "stacks": []})
    >>> '<script type="application/json" id="gf-flame-data">' in html
    True
    """
    snap = "" if data.get("snapshot") is None else f" (snapshot {int(data['snapshot'])})"
    return (
        '<div class="flame" id="gf-flame">'
        '<div class="flame-bar">'
        '<label>search <input type="search" id="gf-search" placeholder="part of a function name"'
        ' autocomplete="off"></label><span id="gf-found" class="muted"></span>'
        '<label>focus <input type="text" id="gf-focus" placeholder="regex: stacks through it"'
        ' autocomplete="off"></label>'
        '<label>ignore <input type="text" id="gf-ignore" placeholder="regex: drop stacks through'
        ' it" autocomplete="off"></label>'
        '<label><input type="checkbox" id="gf-runtime"> runtime frames</label>'
        '<button type="button" id="gf-reset">reset</button>'
        '<span id="gf-error" class="warn"></span></div>'
        '<nav class="crumbs" id="gf-crumbs" aria-label="zoom"></nav>'
        '<div class="flame-graph" id="gf-graph" role="tree"></div>'
        f'<p class="muted" id="gf-detail">blocked goroutines{snap}, entry on top: hover a frame for'
        " its name and count, click it to zoom in.</p>"
        '<div class="flame-tip" id="gf-tip" hidden></div>'
        f'<script type="application/json" id="gf-flame-data">{flame_json(data)}</script>'
        "</div>"
    )


FLAME_STYLE = (
    ".flame{background:#fff;border:1px solid #e3e3e3;padding:8px 10px;margin:12px 0}"
    ".flame-bar{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;font-size:13px}"
    ".flame-bar input[type=search],.flame-bar input[type=text]{width:15em;font:inherit;"
    "padding:2px 5px}"
    ".crumbs{margin:8px 0 4px;font-size:13px;min-height:1.6em}"
    ".crumbs button,.focus-btn,#gf-reset{font:inherit;font-size:12px;cursor:pointer;"
    "background:#f2f2f2;border:1px solid #ccc;border-radius:3px;padding:1px 7px;margin:0 3px 0 0}"
    ".crumbs .sep{color:#999;margin:0 3px 0 0}.crumbs .chip{background:#fde0dc}"
    ".flame-graph{position:relative;overflow:hidden;width:100%;"
    "font:11px/17px ui-monospace,'DejaVu Sans Mono',monospace}"
    ".fr{position:absolute;height:17px;box-sizing:border-box;border:1px solid #fff;"
    "border-width:0 1px 1px 0;padding:0 3px;overflow:hidden;white-space:nowrap;"
    "text-overflow:ellipsis;cursor:pointer;color:#111}"
    ".fr:hover,.fr:focus{filter:brightness(1.12);outline:1px solid #333;z-index:1}"
    + "".join(f".fr.c-{k}{{background:{v}}}" for k, v in FRAME_CLASS_COLORS.items())
    + ".fr.c-all{background:#e8e8e8}"
    ".flame-graph.searching .fr{opacity:.35}"
    ".flame-graph.searching .fr.hit{opacity:1;background:#c51b7d;color:#fff}"
    ".flame-tip{position:absolute;z-index:10;background:#222;color:#fff;padding:5px 8px;"
    "border-radius:4px;font-size:12px;max-width:560px;overflow-wrap:anywhere;pointer-events:none}"
    ".flame-tip b{display:block;font-family:ui-monospace,'DejaVu Sans Mono',monospace}"
    ".card .focus-btn{float:right;margin-left:8px}"
)
