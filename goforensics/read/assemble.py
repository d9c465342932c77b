"""Assemble a series: the files of one capture round become one snapshot; processes kept apart.

``goforensics capture --debug1 --leak`` writes four files per round (``debug=2``,
``debug=1``, and the ``goroutineleak`` profile in both forms), and people save the forms
of one moment side by side (``dump-0003.txt``, ``dump-0003.pb.gz``). Read one file per
snapshot, such a folder would count every goroutine several times. Here the files of a
round (the manifest's ``round``, or names that differ only by the form) become one
snapshot: the richest form gives the goroutines (:data:`FORM_RANK`), the others
corroborate it:

* a ``goroutineleak`` profile's ``(leaked)`` verdicts are joined onto the goroutines
  (by goroutine id and stack from a ``debug=2`` leak dump; by stack from a ``debug=1`` or
  ``debug=0`` one, where the counts leave no doubt which goroutines they are);
* a ``debug=1`` profile's declared total says how many goroutines a cut ``debug=2``
  dump is missing.

The snapshot keeps the record: ``forms`` (the primary form first), ``corroborated_by``
(the other files) and ``verdicts_joined``.

Goroutine ids are never reused within a process, so one id carried by goroutines of
different creators (or started by different goroutines) in two snapshots of one instance
means two processes (a restart, or two services' dumps in one folder); so does a goroutine
the runtime proved leaked that is gone from a later dump. :func:`split_processes` gives each its own instance
(``process#1``, ``process#2``) where the instance was not named, and flags it with a
warning where a manifest or the caller named one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model import Dumps

__all__ = ["FORM_RANK", "assemble_rounds", "form_of", "round_key", "split_processes"]

# Which form gives a round's goroutines: a debug=2 dump has ids, states, waits and
# creators; a debug=2 leak dump is one too (all goroutines, leaked ones marked); a
# debug=1/debug=0 goroutine profile has every stack but no ids; a debug=1/debug=0 leak
# profile lists only the leaked goroutines.
FORM_RANK = {
    ("goroutine", "debug=2"): 0,
    ("goroutineleak", "debug=2"): 1,
    ("goroutine", "debug=1"): 2,
    ("goroutine", "debug=0"): 3,
    ("goroutineleak", "debug=1"): 4,
    ("goroutineleak", "debug=0"): 5,
}

_EXT = re.compile(r"\.(gz|txt|text|log|out|pb|proto|pprof|prof|dump|stacks?)$", re.I)
_DEBUG = re.compile(r"debug[=_-]?[012]", re.I)
_FORM_WORDS = re.compile(
    r"^(goroutines?|goroutineleak|leak|leaked|profile|pprof|dump|stacks?|pb|proto|d[012]|)$", re.I
)


def round_key(name: str) -> str:
    """What is left of a file name once the words that name its form are taken out.

    Files side by side whose keys agree were taken together.

    Parameters
    ----------
    name : str
        A file name.

    Returns
    -------
    str
        The name, lower-cased, without the words of its form, debug level and extension.

    Examples
    --------
    >>> round_key("goroutine-debug2-0003.txt"), round_key("goroutineleak-debug1-0003.txt")
    ('0003', '0003')
    >>> round_key("svc-20261130T030000Z.pb.gz"), round_key("svc-20261130T030000Z.txt")
    ('svc-20261130t030000z', 'svc-20261130t030000z')
    """
    stem = name
    while _EXT.search(stem):
        stem = _EXT.sub("", stem)
    stem = _DEBUG.sub("-", stem)
    words = [w for w in re.split(r"[-_.=?&\s]+", stem) if not _FORM_WORDS.match(w)]
    return "-".join(words).lower()


def form_of(profile: str, name: str, kind: str) -> str:
    """``goroutineleak`` or ``goroutine``: from the manifest, else the file name, else the content.

    Parameters
    ----------
    profile : str
        The profile the manifest names ('' when none).
    name : str
        The file's name.
    kind : str
        What the content is (the snapshot's ``kind``).

    Returns
    -------
    str
        ``goroutineleak`` or ``goroutine``.

    Examples
    --------
    >>> form_of("", "goroutineleak-debug2-0001.txt", "goroutine dump")
    'goroutineleak'
    """
    if profile in ("goroutine", "goroutineleak"):
        return profile
    if "leak" in name.lower() or kind == "goroutineleak profile":
        return "goroutineleak"
    return "goroutine"


@dataclass
class _Member:
    snapshot: int
    profile: str
    fmt: str
    truncated: bool
    source: str

    @property
    def rank(self) -> int:
        return FORM_RANK.get((self.profile, self.fmt), 9)

    @property
    def form(self) -> str:
        return f"{self.profile} {self.fmt}"


def assemble_rounds(series: Dumps, groups: pd.DataFrame) -> list[dict]:
    """Fold the files of each round into one snapshot, in place; returns warnings rows.

    Parameters
    ----------
    series : Dumps
        The concatenated files, each snapshot numbered apart (not yet ordered).
    groups : DataFrame
        One row per snapshot: ``snapshot``, ``group`` (a key: the files of one round share
        it; ``None`` for a snapshot on its own) and ``profile`` (goroutine/goroutineleak).

    Returns
    -------
    list of dict
        Rows for the warnings table (rounds that could not be assembled).

    Examples
    --------
    A snapshot on its own is left as it is; ``series.snapshots`` gains the columns
    ``forms``, ``corroborated_by`` and ``verdicts_joined``:

    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n"
    ... )
    >>> groups = pd.DataFrame({"snapshot": [0], "group": [None], "profile": ["goroutine"]})
    >>> assemble_rounds(d, groups)
    []
    >>> d.snapshots[["forms", "verdicts_joined"]]
                   forms  verdicts_joined
    0  goroutine debug=2                0
    """
    s = series.snapshots
    for col, value in (("forms", ""), ("corroborated_by", ""), ("verdicts_joined", 0)):
        s[col] = value
    if not len(s):
        return []
    info = s.set_index("snapshot")
    g = groups.set_index("snapshot")
    info = info.assign(group=g["group"], profile=g["profile"])
    s["forms"] = (info["profile"].astype(str) + " " + info["format"].astype(str)).to_numpy()
    notes: list[dict] = []
    drop: dict[int, int] = {}  # folded snapshot -> its round's snapshot
    grouped = info[info["group"].notna()]
    at = _Rows(series)
    for _, rows in grouped.groupby("group", sort=False):
        if len(rows) < 2:
            continue
        members = [
            _Member(
                int(n), str(r["profile"]), str(r["format"]), bool(r["truncated"]), str(r["source"])
            )
            for n, r in rows.iterrows()
        ]
        if len({m.form for m in members}) < len(members):
            notes.append(_unassembled(members))
            continue
        members.sort(key=lambda m: (m.rank, m.truncated))
        _fold(series, members, at)
        for m in members[1:]:
            drop[m.snapshot] = members[0].snapshot
    if drop:
        _drop(series, drop)
    return notes


def _unassembled(members: list[_Member]) -> dict:
    forms = ", ".join(sorted({m.form for m in members}))
    return {
        "source": members[0].source,
        "snapshot": None,
        "line": None,
        "lines": 0,
        "kind": "assembly",
        "message": f"{len(members)} files of one round hold the same form more than once ({forms}): "
        "kept as separate snapshots",
    }


class _Rows:
    """Goroutine rows per snapshot, and stack signatures, found once for all the rounds."""

    def __init__(self, series: Dumps) -> None:
        self.series = series
        self.at = series.goroutines.groupby("snapshot", sort=False).indices  # positions
        self._sig: pd.Series | None = None

    def of(self, snapshot: int) -> pd.DataFrame:
        g = self.series.goroutines
        return g.iloc[self.at.get(snapshot, np.array([], dtype=np.intp))]

    @property
    def sig(self) -> pd.Series:
        if self._sig is None:
            self._sig = _signatures(self.series)
        return self._sig


def _fold(series: Dumps, members: list[_Member], rows: _Rows) -> None:
    """Corroborate the primary snapshot (members[0]) with the others of its round."""
    s = series.snapshots
    main, others = members[0], members[1:]
    at = s.index[s["snapshot"] == main.snapshot][0]
    joined = 0
    for m in others:
        if m.profile == "goroutineleak" and main.profile != "goroutineleak":
            joined += _join_verdicts(series, main.snapshot, m, rows)
    if main.truncated:  # a goroutine profile of the round declares how many there were
        declared = s.set_index("snapshot")["declared_total"]
        totals = [declared[m.snapshot] for m in others if m.profile == "goroutine"]
        totals = [int(t) for t in totals if pd.notna(t)]
        if totals:
            s.loc[at, "declared_total"] = totals[0]
            s.loc[at, "missing"] = max(totals[0] - int(s.loc[at, "goroutines"]), 0)
    s.loc[at, "forms"] = " + ".join(m.form for m in members)
    s.loc[at, "corroborated_by"] = "\n".join(m.source for m in others)
    s.loc[at, "verdicts_joined"] = joined


def _join_verdicts(series: Dumps, main: int, leak: _Member, rows: _Rows) -> int:
    """Mark the primary's goroutines that the leak profile calls leaked; returns how many."""
    theirs = rows.of(leak.snapshot)
    theirs = theirs[theirs["leaked"]]
    mine = rows.of(main)
    mine = mine[~mine["leaked"]]
    if not len(theirs) or not len(mine):
        return 0
    if leak.fmt == "debug=2":  # ids: the same goroutine has the same id and the same stack
        keys = set(zip(theirs["goid"].astype("Int64"), theirs["stack_id"], strict=True))
        ids = zip(mine["goid"].astype("Int64"), mine["stack_id"], strict=True)
        hit = mine.index[[k in keys for k in ids]]
    else:  # buckets: by the stack's own frames, where the counts leave no doubt
        sig = rows.sig
        proven = theirs.groupby(theirs["stack_id"].map(sig))["count"].sum()
        everyone = rows.of(main)
        have = everyone.groupby(everyone["stack_id"].map(sig))["count"].sum()
        sure = [k for k, n in have.items() if k in proven.index and n <= proven[k]]
        hit = mine.index[mine["stack_id"].map(sig).isin(sure).to_numpy()]
    g = series.goroutines
    g.loc[hit, "leaked"] = True
    return int(g.loc[hit, "count"].sum())


def _signatures(series: Dumps) -> pd.Series:
    """Each stack as the sequence of its non-runtime frames (function and line), outermost
    first: what a debug=2 goroutine and a debug=1/debug=0 bucket of one stack share."""
    f = series.frames
    f = f[(f["section"] == 0) & ~f["function"].astype(str).str.match(r"runtime[./]|internal/")]
    f = f.sort_values(["stack_id", "depth"], ascending=[True, False])
    key = f["function"].astype(str) + ":" + f["line"].astype("string").fillna("?")
    return key.groupby(f["stack_id"], sort=False).agg("|".join)


def _drop(series: Dumps, drop: dict[int, int]) -> None:
    """Remove folded snapshots and their goroutines; their warnings go to their round's snapshot."""
    s = series.snapshots
    series.snapshots = s[~s["snapshot"].isin(drop)].reset_index(drop=True)
    g = series.goroutines
    series.goroutines = _tidy(g[~g["snapshot"].isin(drop)])
    w = series.warnings
    if len(w):
        snap = w["snapshot"]
        w["snapshot"] = snap.map(lambda n: drop.get(n, n) if pd.notna(n) else n).astype("Int32")
    used = set(series.goroutines["stack_id"].unique())
    f = series.frames
    series.frames = _tidy(f[f["stack_id"].isin(used)])


def _tidy(t: pd.DataFrame) -> pd.DataFrame:
    """Renumbered rows and only the categories still used: as if the folded files were never read."""
    t = t.reset_index(drop=True)
    for col in t.columns[[isinstance(x, pd.CategoricalDtype) for x in t.dtypes]]:
        t[col] = t[col].cat.remove_unused_categories()
    return t


# --- processes ----------------------------------------------------------------------------


@dataclass
class _Ids:
    """What one snapshot says of its goroutines' identities."""

    everyone: np.ndarray  # every goroutine id, sorted
    goid: np.ndarray  # ids one can vouch for (a whole stack, a creator), sorted
    creator: np.ndarray  # their created_by (codes of one coding for the whole table)
    line: np.ndarray  # line of the go statement, -1 where unknown
    parent: np.ndarray  # the creating goroutine's id (Go 1.21+), -1 where unknown
    leaked: np.ndarray  # ids the runtime proved leaked: they never leave their process
    whole: bool  # the dump was not cut (a cut one may lack anyone)


def _identities(g: pd.DataFrame, cut: set[int]) -> dict[int, _Ids]:
    has = g["goid"].notna().to_numpy()
    snap = g["snapshot"].to_numpy()[has]
    goid = g["goid"].to_numpy(dtype="float64", na_value=-1)[has].astype(np.int64)
    vouch = (~g["truncated"] & (g["created_by"].astype(str) != "")).to_numpy()[has]
    creator = g["created_by"].cat.codes.to_numpy()[has]
    line = g["created_by_line"].to_numpy(dtype="float64", na_value=-1)[has].astype(np.int64)
    parent = g["creator_goid"].to_numpy(dtype="float64", na_value=-1)[has].astype(np.int64)
    leaked = g["leaked"].to_numpy()[has]
    order = np.lexsort((goid, snap))
    cols = [x[order] for x in (snap, goid, vouch, creator, line, parent, leaked)]
    snap, goid, vouch, creator, line, parent, leaked = cols
    cuts = np.flatnonzero(np.diff(snap)) + 1
    out = {}
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(snap)], strict=True):
        if hi > lo:
            v = slice(lo, hi)
            ok = vouch[v]
            n = int(snap[lo])
            out[n] = _Ids(
                goid[v],
                goid[v][ok],
                creator[v][ok],
                line[v][ok],
                parent[v][ok],
                goid[v][leaked[v]],
                n not in cut,
            )
    return out


def _same_process(a: _Ids, b: _Ids) -> bool:
    """Can ``b`` (taken after ``a``) come from ``a``'s process?

    Not when one goroutine id names goroutines of different creators (ids are never reused
    in a process), nor when a goroutine the runtime proved leaked in ``a`` is gone from an
    uncut ``b`` (a leaked goroutine never leaves).
    """
    if b.whole and len(a.leaked) and not np.isin(a.leaked, b.everyone, assume_unique=True).all():
        return False
    _, ia, ib = np.intersect1d(a.goid, b.goid, assume_unique=True, return_indices=True)
    if not len(ia):
        return True

    def differ(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x >= 0) & (y >= 0) & (x != y)

    bad = (a.creator[ia] != b.creator[ib]) | differ(a.line[ia], b.line[ib])
    bad |= differ(a.parent[ia], b.parent[ib])
    return not bool(bad.any())


def split_processes(series: Dumps, declared: dict[str, bool], *, look_back: int = 8) -> list[dict]:
    """Tell apart processes that share an instance, in place; returns warnings rows.

    Parameters
    ----------
    series : Dumps
        An ordered series (snapshots numbered in time order).
    declared : dict
        ``{instance: True}`` for instances named by a manifest, a fleet folder or the
        caller: those are flagged, not split.
    look_back : int
        How many processes already seen a snapshot is compared with.

    Returns
    -------
    list of dict
        Rows for the warnings table, one per instance that holds several processes.

    Examples
    --------
    One dump is one process:

    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n"
    ... )
    >>> split_processes(d, {})
    []
    """
    s, g = series.snapshots, series.goroutines
    notes = []
    if not len(g) or g["goid"].isna().all():
        return notes
    rename: dict[int, str] = {}
    ids = _identities(g, set(s.loc[s["truncated"], "snapshot"].tolist()))
    for inst, snaps in s.groupby(s["instance"].astype(str), sort=False):
        seg_of, n = _segments(ids, snaps["snapshot"].tolist(), look_back)
        if n < 2:
            continue
        first_split = min(k for k, v in seg_of.items() if v > 0)
        where = f"instance {inst!r}" if inst else "these dumps"
        if declared.get(inst, False):
            notes.append(
                _process_note(
                    s,
                    first_split,
                    f"goroutine ids show {n} processes in {where} "
                    "(an id worn by two goroutines, or a leaked one gone): its trends mix them; give each "
                    "process its own sub-folder or instance",
                )
            )
            continue
        base = inst or "process"
        for snap, k in seg_of.items():
            rename[snap] = f"{base}#{k + 1}"
        notes.append(
            _process_note(
                s,
                first_split,
                f"goroutine ids show {n} processes in {where} "
                f"(an id worn by two goroutines, or a leaked one gone): split into instances {base}#1 .. "
                f"{base}#{n}",
            )
        )
    if rename:
        _rename(series, rename)
    return notes


def _segments(ids: dict[int, _Ids], snaps: list[int], look_back: int) -> tuple[dict[int, int], int]:
    """Each snapshot's process (0, 1, ...) in time order; profiles without ids join the last."""
    seg_of: dict[int, int] = {}
    last: list[_Ids] = []  # per process: the goroutines of its latest snapshot
    seen: list[int] = []  # per process: when it was last seen (position in snaps)
    current = 0
    for pos, snap in enumerate(snaps):
        ident = ids.get(snap)
        if ident is None:
            seg_of[snap] = current
            continue
        recent = sorted(range(len(last)), key=lambda k: -seen[k])[:look_back]
        match = next((k for k in recent if _same_process(last[k], ident)), None)
        if match is None:
            last.append(ident)
            seen.append(pos)
            match = len(last) - 1
        last[match], seen[match] = ident, pos
        seg_of[snap] = current = match
    return seg_of, len(last)


def _process_note(s: pd.DataFrame, snapshot: int, message: str) -> dict:
    src = s.loc[s["snapshot"] == snapshot, "source"]
    return {
        "source": str(src.iloc[0]) if len(src) else "",
        "snapshot": snapshot,
        "line": None,
        "lines": 0,
        "kind": "processes",
        "message": message,
    }


def _rename(series: Dumps, rename: dict[int, str]) -> None:
    for name in ("snapshots", "goroutines"):
        t = getattr(series, name)
        new = t["snapshot"].map(rename)
        inst = t["instance"].astype(str).where(new.isna(), new)
        t["instance"] = pd.Categorical(inst, categories=sorted(set(inst)))
