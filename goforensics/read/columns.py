"""A parsed file as light columns, and the tables of any number of them built at once.

Parsing a small dump is quick; making its four pandas tables is not (a DataFrame per table,
every column cast to the catalogue's dtype, the frames of every distinct stack split and
classified, categoricals sorted), and concatenating thousands of such tables costs more
again. So a file's parse ends in :class:`Pieces`: plain arrays and lists, the categorical
columns as codes into the file's own code book, its distinct stacks keyed by fingerprint.
:func:`build_tables` then makes the tables of a whole series in one go: code books merged
once, each distinct stack's frames written once (the first file that has it gives them, as
a concatenation that drops repeated stacks would), every table cast once. One file's tables
are made the same way (:meth:`goforensics.read.tables.TableBuilder.tables`), so a series
loaded at once has exactly the tables of its files parsed one by one and concatenated.

>>> from goforensics.read.parse import parse_text
>>> d = parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
>>> d.goroutines[["snapshot", "goid", "state"]].values.tolist()
[[0, 1, 'running']]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from ..goruntime import classify_frames, split_function
from ..model import (
    FRAME_COLUMNS,
    GOROUTINE_COLUMNS,
    SNAPSHOT_COLUMNS,
    WARNING_COLUMNS,
    Dumps,
    _conform,
    _empty,
)
from .stacks import Frame

__all__ = ["BATCH_COLUMNS", "CAT", "Pieces", "build_tables"]

CAT = "cat"  # how a categorical column is held: (codes into ``cats``, -1 for missing; cats)

# Columns of a batch of rows (besides part, line, goid) and how each is stored.
BATCH_COLUMNS = {
    "count": "int64",
    "raw_state": CAT,
    "state": CAT,
    "state_inferred": "bool",
    "wait_minutes": "Int32",
    "locked": "bool",
    "leaked": "bool",
    "labels": CAT,
    "created_by": CAT,
    "created_by_file": CAT,
    "created_by_line": "Int32",
    "creator_goid": "Int64",
    "ancestors": CAT,
    "elided": "bool",
    "truncated": "bool",
    "n_frames": "int32",
    "stack_id": "uint64",
    "args": "args",
    "m": "Int32",
    "top": CAT,
    "entry": CAT,
}

# Builder columns named otherwise in the goroutines table.
_GOROUTINE_NAMES = {"locked": "locked_to_thread", "top": "top_function", "entry": "entry_function"}
_FRAME_FIELDS = [
    "stack_id",
    "section",
    "depth",
    "function",
    "package",
    "receiver",
    "method",
    "file",
    "line",
    "offset",
    "args",
    "inlined",
    "elided_before",
]
_SNAPSHOT_INTS = {"declared_total": "Int64", "missing": "Int64", "line_start": "Int64"}


@dataclass
class Pieces:
    """One parsed file, before it becomes tables.

    ``cols`` holds the goroutine columns (``part``, ``line``, ``goid`` and
    :data:`goforensics.read.tables.BATCH_COLUMNS`): numpy arrays, pandas masked arrays for
    nullable integers, a pyarrow array for ``args``, and ``(codes, cats)`` pairs for the
    categorical ones. ``parts`` are its snapshots (one dict each, numbered from 0 in
    ``part``, with ``taken_at`` already a time or None and ``time_source``), ``warnings``
    ``(part, line, lines, kind, message)`` tuples, ``stacks`` its distinct stacks
    (fingerprint -> sections of frames, in order of first use) and ``version`` the
    ``go_version`` of its snapshots. ``instance`` and ``round`` are set by whoever loads it.
    """

    source: str
    cols: dict[str, object]
    n: int
    stacks: dict[int, list[list[Frame]]]
    parts: list[dict]
    warnings: list[tuple] = field(default_factory=list)
    version: str = ""
    instance: str = ""
    round: int | None = None


def build_tables(pieces: list[Pieces], *, classify: bool = False, series: bool = True) -> Dumps:
    """The four tables of files parsed into :class:`Pieces`, snapshots numbered across them.

    Parameters
    ----------
    pieces : the files, in order: file k's snapshots come after those of the files before it.
    classify : fill ``frame_class`` (a loader that knows the application's modules does it
        itself, once for the series).
    series : tables of a series: a file with no rows gives no categories to a table (as a
        concatenation of per-file tables skips empty ones). ``False`` for one file's own
        tables, which keep its source and instance as categories even when empty.

    Returns
    -------
    :class:`~goforensics.model.Dumps` with every column of the catalogue.

    Examples
    --------
    >>> from goforensics.read.parse import parse_text
    >>> a = parse_text("goroutine 1 [sleep]:\\nmain.a()\\n\\t/m.go:3 +0x1\\n", "a.txt")
    >>> a.snapshots[["snapshot", "source", "goroutines"]].values.tolist()
    [[0, 'a.txt', 1]]
    """
    offsets = np.cumsum([0] + [len(p.parts) for p in pieces])
    snaps = _snapshot_table(pieces, offsets)
    g = _goroutine_table(pieces, offsets, series, snaps)
    f = _frame_table(pieces, classify)
    w = _warning_table(pieces, offsets)
    return Dumps(g, f, snaps, w)


def _merge_codes(parts: list[tuple[np.ndarray, list]]) -> pd.Categorical:
    """One categorical from (codes, cats) pairs: code books merged once, categories sorted."""
    book: dict[str, int] = {}
    out = []
    for codes, cats in parts:
        remap = np.fromiter((book.setdefault(c, len(book)) for c in cats), np.int32, len(cats))
        if len(remap):
            out.append(np.where(codes >= 0, remap[np.maximum(codes, 0)], -1).astype(np.int32))
        else:
            out.append(np.full(len(codes), -1, np.int32))
    codes = np.concatenate(out) if out else np.zeros(0, np.int32)
    cats = list(book)
    # the model's canonical form (sorted categories), so that conforming costs nothing
    order = sorted(range(len(cats)), key=cats.__getitem__)
    rank = np.empty(len(cats), np.int32)
    rank[order] = np.arange(len(cats), dtype=np.int32)
    if len(cats):
        codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
    dtype = pd.CategoricalDtype(pd.Index([cats[i] for i in order], dtype="str"))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _const(pieces: list[Pieces], attr: str) -> pd.Categorical:
    """A categorical holding each file's ``attr`` on each of its rows."""
    return _merge_codes([(np.zeros(p.n, np.int32), [getattr(p, attr)]) for p in pieces])


def _goroutine_table(
    pieces: list[Pieces], offsets: np.ndarray, series: bool, snaps: pd.DataFrame
) -> pd.DataFrame:
    used = [p for p in pieces if p.n] if series else pieces
    if not used:
        return _empty(GOROUTINE_COLUMNS)
    kept = [(p, int(offsets[i])) for i, p in enumerate(pieces) if p.n or not series]
    snapshot = np.concatenate(
        [np.asarray(p.cols["part"], np.int32) + np.int32(off) for p, off in kept]
    ).astype(np.int32)
    cols: dict[str, object] = {}
    for name, kind in BATCH_COLUMNS.items():
        vals = [p.cols[name] for p in used]
        if kind == CAT:
            cols[name] = _merge_codes(vals)
        elif kind == "args":
            chunks = [c for v in vals for c in v.chunks if len(c)]
            chunks = chunks or [pa.array([], pa.large_string())]
            cols[name] = pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string()))
        elif kind in ("Int64", "Int32"):
            cols[name] = type(vals[0])._concat_same_type(vals)
        else:
            cols[name] = np.concatenate(vals)
    goids = [p.cols["goid"] for p in used]
    taken = snaps["taken_at"].array.take(snapshot) if len(snaps) else pd.NaT
    g = pd.DataFrame(
        {
            "snapshot": snapshot,
            "instance": _const(used, "instance"),
            "source": _const(used, "source"),
            "taken_at": taken,
            "line": np.concatenate([np.asarray(p.cols["line"], np.int64) for p in used]),
            "goid": type(goids[0])._concat_same_type(goids),
            **{_GOROUTINE_NAMES.get(k, k): v for k, v in cols.items()},
        }
    )
    return _conform(g, GOROUTINE_COLUMNS)


def _frame_table(pieces: list[Pieces], classify: bool) -> pd.DataFrame:
    """The frames of every distinct stack, once: from the first file that has it."""
    stacks: dict[int, list[list[Frame]]] = {}
    for p in pieces:
        for sid, sections in p.stacks.items():
            stacks.setdefault(sid, sections)
    split: dict[str, tuple[str, str, str]] = {}
    rows = []
    for sid, sections in stacks.items():
        for k, frames in enumerate(sections):
            for d, fr in enumerate(frames):
                parts = split.get(fr.function)
                if parts is None:
                    parts = split[fr.function] = split_function(fr.function)
                rows.append(
                    (
                        sid,
                        k,
                        d,
                        fr.function,
                        *parts,
                        fr.file,
                        fr.line,
                        fr.offset,
                        fr.args,
                        fr.inlined,
                        fr.elided_before,
                    )
                )
    f = pd.DataFrame(rows, columns=_FRAME_FIELDS)
    f["stack_id"] = f["stack_id"].astype(np.uint64)
    f["frame_class"] = classify_frames(f) if classify and len(f) else None
    return _conform(f, FRAME_COLUMNS)


def _snapshot_table(pieces: list[Pieces], offsets: np.ndarray) -> pd.DataFrame:
    rows = [(p, int(offsets[i]), part) for i, p in enumerate(pieces) for part in p.parts]
    if not rows:
        return _empty(SNAPSHOT_COLUMNS)

    def col(key: str) -> list:
        return [part[key] for _, _, part in rows]

    s = {
        "snapshot": np.array([off + part["part"] for _, off, part in rows], np.int32),
        "instance": [p.instance for p, _, _ in rows],
        "source": [p.source for p, _, _ in rows],
        "part": np.array(col("part"), np.int32),
        "taken_at": col("taken_at"),
        "time_source": col("time_source"),
        "format": col("format"),
        "kind": col("kind"),
        "message": col("message"),
        "go_version": [p.version for p, _, _ in rows],
        "line_end": pd.array(col("line_end"), dtype="Int64"),
        "goroutines": np.array(col("goroutines"), np.int64),
        "rows": np.array(col("rows"), np.int64),
        "truncated": np.array(col("truncated"), bool),
        "round": pd.array([p.round for p, _, _ in rows], dtype="Int32"),
        **{k: pd.array(col(k), dtype=t) for k, t in _SNAPSHOT_INTS.items()},
    }
    return _conform(pd.DataFrame(s), SNAPSHOT_COLUMNS)


def _warning_table(pieces: list[Pieces], offsets: np.ndarray) -> pd.DataFrame:
    rows = [
        (p.source, None if part is None else int(offsets[i]) + part, *rest)
        for i, p in enumerate(pieces)
        for part, *rest in p.warnings
    ]
    w = pd.DataFrame(rows, columns=["source", "snapshot", "line", "lines", "kind", "message"])
    return _conform(w, WARNING_COLUMNS)
