"""Blocked stacks for the tools people already use: pprof, speedscope, flame graphs, Parquet.

One table says what is exported, :func:`stack_counts`: goroutines per distinct stack
(and per snapshot or cluster where asked). Each writer turns it into one format:

- :func:`to_pprof`: a gzipped ``profile.proto`` (the public wire format of
  github.com/google/pprof's ``proto/profile.proto``), written here with a small
  protobuf encoder; ``go tool pprof -top FILE`` and ``-http`` open it. One sample per
  distinct stack (and group) with its goroutine count, like Go's own goroutine
  profile; the group is a sample label (``-tagfocus snapshot=3``).
- :func:`to_speedscope`: speedscope's JSON file format, one sampled profile per group.
- :func:`to_folded`: folded stacks (``entry;...;where it blocks N``) for
  flamegraph.pl, inferno and other flame-graph tools; a group is the root frame.

A group is a snapshot, a cluster (a site) or a cause (the sites of one leaking mechanism,
:func:`goforensics.analyze.causes.causes`, named by its largest site).

Only the goroutines' own stacks are written (not their ancestors), frames
outermost first where a format wants a root. Names are written as the dump
printed them; in the text formats control characters are escaped
(:func:`goforensics.show.safe.safe_text`), as a line-based format must.

>>> import goforensics as gf
>>> d = gf.load("bundled:demo")
>>> t = stack_counts(d)
>>> blocked = is_blocked(d.goroutines["state"])
>>> int(t["goroutines"].sum()) == int(d.goroutines.loc[blocked, "count"].sum())
True
"""

from __future__ import annotations

import gzip
from importlib import metadata

import pandas as pd

from ..analyze.causes import causes
from ..analyze.clustering import cluster_sites
from ..goruntime import is_blocked
from ..model import Dumps
from ..read.pprof import encode_varint
from .labels import cluster_labels
from .safe import safe_text

__all__ = [
    "FORMATS",
    "stack_counts",
    "stack_frames",
    "stacks_table",
    "to_folded",
    "to_pprof",
    "to_speedscope",
]

FORMATS = ("pprof", "speedscope", "folded", "parquet")


def stack_counts(
    dumps: Dumps,
    *,
    per: str | None = None,
    snapshot: int | None = None,
    labels=None,
    blocked_only: bool = True,
) -> pd.DataFrame:
    """Goroutines per distinct stack: what every export writes.

    Parameters
    ----------
    dumps : Dumps
        Loaded dumps.
    per : {None, "snapshot", "cluster", "cause"}
        None: one snapshot; "snapshot": every snapshot, each its own group (a goroutine
        seen in several snapshots counts in each); "cluster": one snapshot, grouped by
        cluster; "cause": one snapshot, grouped by cause.
    snapshot : int, optional
        The snapshot (default the last) where ``per`` is not "snapshot".
    labels : array-like, optional
        Cluster ids for ``per="cluster"`` and ``per="cause"`` (default
        :func:`goforensics.cluster`).
    blocked_only : bool
        Only goroutines in a blocking state (the default), else every goroutine.

    Returns
    -------
    DataFrame
        ``group`` (str: ``""``, ``"snapshot 3"``, ``"cluster 0"`` or ``"cause 0: main.f"``, a
        cause named by the site of its largest cluster), ``stack_id``, ``goroutines``; groups
        in snapshot, cluster or cause order, largest stack first in each.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> bool(stack_counts(d, per="cluster")["group"].str.startswith("cluster ").all())
    True
    >>> sorted(set(stack_counts(d, per="cause")["group"]))[:2]
    ['cause 0: main.handle', 'cause 1: main.(*cache).get']
    """
    if per not in (None, "snapshot", "cluster", "cause"):
        raise ValueError(f"per must be None, 'snapshot', 'cluster' or 'cause', not {per!r}")
    g = dumps.goroutines
    keep = is_blocked(g["state"]).to_numpy() if blocked_only else pd.Series(True, index=g.index)
    if per != "snapshot" and len(g):
        snap = int(g["snapshot"].max()) if snapshot is None else snapshot
        keep = keep & (g["snapshot"] == snap).to_numpy()
    if per == "cluster":
        key = cluster_labels(dumps, labels).to_numpy()
    elif per == "cause":
        labels = cluster_labels(dumps, labels)
        key = causes(dumps, labels).to_numpy()
    elif per == "snapshot":
        key = g["snapshot"].to_numpy()
    else:
        key = pd.Series(0, index=g.index).to_numpy()
    t = pd.DataFrame({"key": key, "stack_id": g["stack_id"].to_numpy(), "n": g["count"].to_numpy()})
    t = t[keep]
    out = t.groupby(["key", "stack_id"], sort=False).agg(goroutines=("n", "sum")).reset_index()
    out = out[out["goroutines"] > 0].sort_values(
        ["key", "goroutines"], ascending=[True, False], kind="stable"
    )
    group = f"{per} " + out["key"].astype(str) if per else pd.Series("", index=out.index)
    if per == "cause":  # a cause's id is its largest cluster's: named by that site
        site = cluster_sites(dumps, labels).set_index("cluster")["site"]
        group = group + ": " + out["key"].map(site).fillna("").astype(str)
    out.insert(0, "group", group.astype(object))
    return out.drop(columns="key").reset_index(drop=True)


def stack_frames(dumps: Dumps, stack_ids) -> dict[int, list[tuple[str, str, int, bool]]]:
    """The goroutine's own frames of each stack, innermost first: (function, file, line, inlined).

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    stack_ids : iterable of int
        The stacks wanted.

    Returns
    -------
    dict
        ``stack_id -> [(function, file, line, inlined), ...]``, innermost first.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> sid = int(d.goroutines["stack_id"].iloc[0])
    >>> stack_frames(d, [sid])[sid][-1][0]
    'main.main'
    """
    f = dumps.frames
    f = f[(f["section"] == 0) & f["stack_id"].isin(list(stack_ids))]
    f = f.sort_values(["stack_id", "depth"], kind="stable")
    out: dict[int, list] = {}
    lines = f["line"].astype("Int64").fillna(0).astype(int)
    for sid, fn, file, line, inl in zip(
        f["stack_id"].astype("uint64"),
        f["function"].astype(str),
        f["file"].astype(str),
        lines,
        f["inlined"].astype(bool),
        strict=True,
    ):
        out.setdefault(int(sid), []).append((fn, file, int(line), bool(inl)))
    return out


# --- pprof: profile.proto ------------------------------------------------------------------------


def _int_field(num: int, v: int) -> bytes:
    return encode_varint(num << 3) + encode_varint(v) if v else b""


def _bytes_field(num: int, data: bytes) -> bytes:
    return encode_varint(num << 3 | 2) + encode_varint(len(data)) + data


def _packed(num: int, values: list[int]) -> bytes:
    return _bytes_field(num, b"".join(encode_varint(v) for v in values)) if values else b""


class _Strings:
    """The profile's string table: index 0 is "", each string stored once."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}

    def __call__(self, s: str) -> int:
        return self.index.setdefault(s, len(self.index))

    def encode(self) -> bytes:
        return b"".join(_bytes_field(6, s.encode("utf-8", "backslashreplace")) for s in self.index)


def _locations(frames: list[tuple[str, str, int, bool]]) -> list[list[tuple[str, str, int]]]:
    """Frames (innermost first) as pprof locations: inlined calls share their caller's location."""
    locs, cur = [], []
    for fn, file, line, inlined in frames:
        cur.append((fn, file, line))
        if not inlined:
            locs.append(cur)
            cur = []
    if cur:
        locs.append(cur)
    return locs


def to_pprof(dumps: Dumps, counts: pd.DataFrame, *, time_nanos: int = 0) -> bytes:
    """``counts`` (:func:`stack_counts`) as a gzipped pprof ``profile.proto``.

    Parameters
    ----------
    dumps : Dumps
        The dumps the stacks come from.
    counts : DataFrame
        ``group``, ``stack_id``, ``goroutines``.
    time_nanos : int
        Capture time in Unix nanoseconds (0: unknown).

    Returns
    -------
    bytes
        Sample type ``goroutine``/``count`` (as Go's goroutine profile); one sample per
        row of ``counts``, its locations innermost first, a string label ``snapshot`` or
        ``cluster`` where the row has a group.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.read.pprof import decode_profile
    >>> d = gf.load("bundled:demo")
    >>> t = stack_counts(d)
    >>> p = decode_profile(to_pprof(d, t))
    >>> p.sample_types, bool(sum(v[0] for _, v, _ in p.samples) == t["goroutines"].sum())
    ([('goroutine', 'count')], True)
    """
    st = _Strings()
    funcs: dict[tuple[str, str], int] = {}
    locs: dict[tuple, int] = {}
    frames = stack_frames(dumps, counts["stack_id"].unique())
    samples = []
    for group, sid, n in counts[["group", "stack_id", "goroutines"]].itertuples(index=False):
        ids = []
        for loc in _locations(frames.get(int(sid), [])):
            key = tuple(loc)
            if key not in locs:
                locs[key] = len(locs) + 1
                for fn, file, _ in loc:
                    funcs.setdefault((fn, file), len(funcs) + 1)
            ids.append(locs[key])
        body = _packed(1, ids) + _packed(2, [int(n)])
        if group:
            key, _, value = str(group).partition(" ")
            body += _bytes_field(3, _int_field(1, st(key)) + _int_field(2, st(value)))
        samples.append(_bytes_field(2, body))
    goroutine, count = st("goroutine"), st("count")
    value_type = _int_field(1, goroutine) + _int_field(2, count)
    out = [_bytes_field(1, value_type), *samples]
    for key, lid in locs.items():
        lines = b"".join(
            _bytes_field(4, _int_field(1, funcs[(fn, file)]) + _int_field(2, line))
            for fn, file, line in key
        )
        out.append(_bytes_field(4, _int_field(1, lid) + lines))
    for (fn, file), fid in funcs.items():
        out.append(
            _bytes_field(
                5,
                _int_field(1, fid)
                + _int_field(2, st(fn))
                + _int_field(3, st(fn))
                + _int_field(4, st(file)),
            )
        )
    tail = _int_field(9, time_nanos) + _bytes_field(11, value_type) + _int_field(12, 1)
    return gzip.compress(b"".join(out) + st.encode() + tail, mtime=0)


# --- speedscope ------------------------------------------------------------------------------------


def _version() -> str:
    try:
        return metadata.version("goforensics")
    except metadata.PackageNotFoundError:
        return "unknown"


def to_speedscope(dumps: Dumps, counts: pd.DataFrame, *, name: str = "goroutines") -> dict:
    """``counts`` (:func:`stack_counts`) as a speedscope file: one sampled profile per group.

    Parameters
    ----------
    dumps : Dumps
        The dumps the stacks come from.
    counts : DataFrame
        ``group``, ``stack_id``, ``goroutines``.
    name : str
        Name of the file's profile group.

    Returns
    -------
    dict
        The speedscope JSON document (``json.dumps`` it): shared frames, and per group
        a ``sampled`` profile whose samples are stacks root first, weighted by
        goroutines (unit ``none``).

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> doc = to_speedscope(d, stack_counts(d))
    >>> doc["profiles"][0]["type"], doc["profiles"][0]["unit"]
    ('sampled', 'none')
    """
    frames = stack_frames(dumps, counts["stack_id"].unique())
    index: dict[tuple[str, str, int], int] = {}
    shared = []
    profiles = []
    for group, rows in counts.groupby("group", sort=False):
        samples, weights = [], []
        for sid, n in rows[["stack_id", "goroutines"]].itertuples(index=False):
            stack = []
            for fn, file, line, _ in reversed(frames.get(int(sid), [])):
                key = (fn, file, line)
                if key not in index:
                    index[key] = len(shared)
                    frame = {"name": safe_text(fn, one_line=True)}
                    if file:
                        frame["file"] = safe_text(file, one_line=True)
                    if line:
                        frame["line"] = line
                    shared.append(frame)
                stack.append(index[key])
            samples.append(stack)
            weights.append(int(n))
        profiles.append(
            {
                "type": "sampled",
                "name": safe_text(group or name, one_line=True),
                "unit": "none",
                "startValue": 0,
                "endValue": int(sum(weights)),
                "samples": samples,
                "weights": weights,
            }
        )
    return {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": shared},
        "profiles": profiles,
        "name": safe_text(name, one_line=True),
        "activeProfileIndex": 0,
        "exporter": f"goforensics@{_version()}",
    }


# --- folded stacks and a table ----------------------------------------------------------------------


def _folded_name(fn: str) -> str:
    # ';' separates frames and the last ' ' the count: a name keeps neither meaning
    return safe_text(fn, one_line=True).replace(";", ":")


def to_folded(dumps: Dumps, counts: pd.DataFrame) -> str:
    """``counts`` (:func:`stack_counts`) as folded stacks: ``root;...;leaf N``, one line a stack.

    A group (snapshot or cluster) is the root frame, so a flame graph splits by it.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    counts : DataFrame
        Goroutines per group and stack (:func:`stack_counts`).

    Returns
    -------
    str
        One ``root;...;leaf N`` line per stack and group.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> to_folded(d, stack_counts(d)).splitlines()[0]  # 50 senders nobody receives from
    'main.handle 50'
    """
    frames = stack_frames(dumps, counts["stack_id"].unique())
    lines = []
    for group, sid, n in counts[["group", "stack_id", "goroutines"]].itertuples(index=False):
        names = [_folded_name(fn) for fn, *_ in reversed(frames.get(int(sid), []))]
        if group:
            names.insert(0, _folded_name(group))
        lines.append(f"{';'.join(names) or '(no frames)'} {int(n)}")
    return "\n".join(lines) + ("\n" if lines else "")


def stacks_table(dumps: Dumps, counts: pd.DataFrame) -> pd.DataFrame:
    """``counts`` with each stack's frames: for Parquet and any other table format.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    counts : DataFrame
        Goroutines per group and stack (:func:`stack_counts`).

    Returns
    -------
    DataFrame
        ``group``, ``stack_id``, ``goroutines``, ``where`` (innermost function),
        ``entry`` (outermost), ``depth`` and ``stack`` (frames root first, ``;``-joined).

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> stacks_table(d, stack_counts(d)).columns.tolist()
    ['group', 'stack_id', 'goroutines', 'where', 'entry', 'depth', 'stack']
    """
    frames = stack_frames(dumps, counts["stack_id"].unique())
    t = counts.copy()
    fs = [frames.get(int(s), []) for s in t["stack_id"]]
    t["where"] = [f[0][0] if f else "" for f in fs]
    t["entry"] = [f[-1][0] if f else "" for f in fs]
    t["depth"] = [len(f) for f in fs]
    t["stack"] = [";".join(fn for fn, *_ in reversed(f)) for f in fs]
    return t
