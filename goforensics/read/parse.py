"""Parse goroutine dumps in text form into the tables of :mod:`goforensics.model`.

One forgiving parser reads everything a Go program writes about its goroutines:
``debug=2`` tracebacks of every Go version (panics, fatal errors, SIGQUIT and
crash dumps with their preambles), ``debug=1`` and ``goroutineleak`` profiles
(several per file too), and all of these inside logs (line prefixes, quoting,
any indentation, CRLF, test2json, stacks escaped into one JSON/logfmt field).
It never raises on bad input: what it cannot use is counted in the
``warnings`` table with the line and the reason.

Two paths read the text and give the same tables (the tests check it on real
dumps, on random ones in every dialect and on mangled ones):

* the reference reader (:class:`_Reader`), line by line, for every dialect;
* the fast path (:class:`_Fast`) for standard blocks of a stack already seen (the
  usual case in a big dump: thousands of goroutines parked in the same place):
  :func:`goforensics.read.scan.scan_blocks` cuts whole regions of text into arrays
  with numpy and pyarrow, each distinct stack is read once by the reference
  reader, and the other goroutines on it are added from arrays.

It streams: the input is read in chunks and cut into regions at blank lines,
scanned ahead by threads (the kernels release the GIL), so memory follows the
size of the tables, not of the text.

>>> d = parse_text('''goroutine 7 [chan receive, 3 minutes] {handler: /api}:
... main.worker(0xc000012345)
... \t/app/main.go:42 +0x1d
... created by main.main in goroutine 1
... \t/app/main.go:20 +0x3e
... ''')
>>> g = d.goroutines.iloc[0]
>>> print(g.goid, g.state, g.wait_minutes, g.labels, g.created_by, g.creator_goid, sep=" | ")
7 | chan receive | 3 | {"handler": "/api"} | main.main | 1
"""

from __future__ import annotations

import gzip
import json
import os
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import xxhash

from ..errors import ParseError
from ..goruntime import classify_frames, infer_state, normalize_state, split_function
from ..model import (
    FRAME_COLUMNS,
    GOROUTINE_COLUMNS,
    SNAPSHOT_COLUMNS,
    WARNING_COLUMNS,
    Dumps,
    _conform,
)
from .scan import Blocks, line_bounds, scan_blocks

__all__ = ["CHUNK_SIZE", "parse_file", "parse_text", "read_chunks"]

CHUNK_SIZE = 8 << 20
# A single line longer than this is not a line of a dump: it is skipped unless it
# carries an escaped dump, which is searched for with linear-time scans only.
MAX_LINE = 8 << 20
PPROF_LIMIT = 64 << 20  # runtime/pprof stops a debug=2 dump here


def _bounded(digits: bytes, bits: int, base: int = 10) -> int | None:
    """The number, or None where it does not fit the column (a signed ``bits + 1``-bit int).

    >>> _bounded(b"42", 31), _bounded(b"9" * 30, 63)
    (42, None)
    """
    v = int(digits, base)
    return v if v < (1 << bits) else None


# --- line grammar ----------------------------------------------------------------------

_HEADER = re.compile(
    rb"goroutine (\d+)(?: gp=(?:0x[0-9a-fA-F]+|nil))?(?: m=(\d+|nil))?(?: mp=(?:0x[0-9a-fA-F]+|nil))?"
    rb" \[([^\]\n]*)\](?: (\{[^\n]*\}))?:[ \t]*$"
)
# The start of a goroutine header cut before its end (the last line of a cut input).
_PARTIAL_HEADER = re.compile(
    rb"^(?:" + b"|".join(b"goroutine"[:k] for k in range(1, 10)) + rb"|goroutine \d*(?: gp=\S*)?"
    rb"(?: m=\S*)?(?: mp=\S*)?(?: \[[^\]\n]*(?:\](?: \{[^\n]*)?)?)?)$"
)
_PROFILE_HEADER = re.compile(rb"(goroutine|goroutineleak) profile: total (\d+)\s*$")
_BUCKET = re.compile(rb"^(\d+) @((?: 0x[0-9a-fA-F]+)*)\s*$")
_BUCKET_FRAME = re.compile(
    rb"^#\s+0x([0-9a-fA-F]+)(?:\s+(\S+?)\+0x([0-9a-fA-F]+)\s+(.*?):(\d+))?\s*$"
)
_BUCKET_LABELS = re.compile(rb"^# labels: (\{.*\})\s*$")
_FILE_LINE = re.compile(
    rb"^\s*(.*?):(\d+)(?: \+0x([0-9a-fA-F]+))?(?: fp=0x[0-9a-fA-F]+ sp=0x[0-9a-fA-F]+ pc=0x[0-9a-fA-F]+)?\s*$"
)
_CREATED_BY = re.compile(rb"^created by (\S+?)(?: in goroutine (\d+))?\s*$")
_ELIDED_ALL = b"...additional frames elided..."
# what a fatal error prints for a goroutine it could not stop (running on another thread)
_UNAVAILABLE = b"goroutine running on other thread; stack unavailable"
_ELIDED_N = re.compile(rb"^\s*\.\.\.(\d+) frames elided\.\.\.\s*$")
_ANCESTOR = re.compile(rb"^\[originating from goroutine (\d+)\]:\s*$")
_FUNC_LINE = re.compile(rb"^(\S.*)\(([^()]*)\)\s*$")
_PANIC = re.compile(rb"(?:panic: |fatal error: |SIG[A-Z]+: |unexpected fault address |runtime: )")
_SIGNAL_DETAIL = re.compile(rb"^\[signal |^PC=0x[0-9a-f]+ m=")
_RUNTIME_STACK = b"runtime stack:"
_REGISTERS = re.compile(  # a signal's register dump (amd64, 386, arm64, arm, ...)
    rb"^(?:(?:r[a-z0-9]{1,3}|e[a-z]{2}|rip|eip|rflags|eflags|[c-g]s|pc|lr|sp|fp|x\d{1,2}|trap|error|oldmask|fault|cpsr)\s+0x[0-9a-f]+|-{3,})$"
)
_RACE_START = b"WARNING: DATA RACE"
_RACE_END = b"=================="
_GO_VERSION = re.compile(r"go[-/@]?(1\.\d+(?:\.\d+)?(?:rc\d+|beta\d+)?)(?:/libexec)?/src/")
_TS_PREFIX = re.compile(
    rb"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?)"
)

# States for which Go never prints frames below a header that a healthy dump
# shows (e.g. goroutine 2 [syscall] in Go 1.1): an empty stack is legal.

_ESCAPE = re.compile(r'\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)')
_SIMPLE_ESC = {"a": b"\a", "b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v"}


def _go_unquote(s: str) -> str:
    r"""Undo Go's quoting of a label key or value (``\\xNN`` are raw UTF-8 bytes).

    >>> _go_unquote(r'"a\"b\xe2\x9c\x93"')
    'a"b✓'
    """
    body = s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s
    if "\\" not in body:
        return body
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        out += body[pos : m.start()].encode("utf-8", "surrogateescape")
        e = m.group(1)
        if e[0] == "x":
            out.append(int(e[1:], 16))
        elif e[0] in "uU" and len(e) > 1:
            cp = int(e[1:], 16)
            out += chr(cp).encode("utf-8", "surrogatepass") if cp <= 0x10FFFF else "\ufffd".encode()
        elif len(e) == 3 and e.isdigit():
            out.append(int(e, 8) & 0xFF)
        else:
            out += _SIMPLE_ESC.get(e, e.encode())
        pos = m.end()
    out += body[pos:].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "replace")


_LABEL_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^,:{}"\s]*)\s*')


def _parse_labels(text: str) -> str:
    """Labels as printed, ``{k: v, k2: "quoted"}`` (debug=2) or ``{"k":"v"}`` (debug=1), as JSON.

    >>> _parse_labels('{handler: /api, tenant: "t-3, b", empty: }')
    '{"empty": "", "handler": "/api", "tenant": "t-3, b"}'
    >>> _parse_labels('{"a":"b", "c":"d"}')
    '{"a": "b", "c": "d"}'
    """
    if not text:
        return ""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out: dict[str, str] = {}
    pos, n = 0, len(body)
    while pos < n:
        km = _LABEL_TOKEN.match(body, pos)
        key = _go_unquote(km.group(1))
        pos = km.end()
        colon = pos < n and body[pos] == ":"
        if colon:
            vm = _LABEL_TOKEN.match(body, pos + 1)
            value = _go_unquote(vm.group(1))
            pos = vm.end()
        else:
            value = ""
        if key or value or colon:  # '{: }' is a label with an empty key and value
            out[key] = value
        if pos < n and body[pos] == ",":
            pos += 1
        elif pos < n:  # not label syntax: keep the rest verbatim rather than lose it
            out[key] = (value + body[pos:]).strip()
            break
    return json.dumps(out, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class _Header:
    state: str  # raw state, markers removed
    raw: str  # bracket content minus minutes / locked / bubble
    minutes: int | None  # None: a number too large to be true
    locked: bool
    leaked: bool


_header_cache: dict[bytes, _Header] = {}


def _parse_bracket(b: bytes) -> _Header:
    h = _header_cache.get(b)
    if h is not None:
        return h
    parts = b.decode("utf-8", "replace").split(", ")
    raw = parts[0]
    minutes = 0
    locked = False
    for p in parts[1:]:
        if p.endswith(" minutes"):
            try:
                minutes = _bounded(p.split()[0].encode(), 31)  # None: more than an Int32 holds
            except ValueError:
                raw += ", " + p
        elif p == "locked to thread":
            locked = True
        elif p.startswith("synctest bubble"):
            pass
        else:
            raw += ", " + p
    leaked = "(leaked)" in raw
    h = _Header(raw.replace(" (leaked)", "").replace(" (scan)", ""), raw, minutes, locked, leaked)
    if len(_header_cache) < 4096:
        _header_cache[b] = h
    return h


# --- the builder: columns of one source -------------------------------------------------------


@dataclass
class _Frame:
    function: str
    args: str
    inlined: bool
    file: str
    line: int | None
    offset: int | None
    elided_before: int | None = None


class _Stack:
    """A distinct stack: its frames once, plus what every goroutine on it shares."""

    __slots__ = ("entry", "functions", "stack_id", "top")

    def __init__(self, stack_id: int, functions: list[str]):
        self.stack_id = stack_id
        self.functions = functions
        self.top = functions[0] if functions else ""
        self.entry = functions[-1] if functions else ""


def _fingerprint(sections: list[list[_Frame]], elided: bool) -> int:
    h = xxhash.xxh3_64()
    for k, frames in enumerate(sections):
        if k:
            h.update(b"\x01ancestor\n")
        for f in frames:
            h.update(f"{f.function}\t{f.file}:{f.line}\t{f.elided_before or ''}\n".encode())
    if elided:
        h.update(b"\x02elided\n")
    return h.intdigest()


class _Seen:
    """The goroutine ids of the current snapshot: a set for ids added one by one, sorted
    arrays for the fast path's batches (8 bytes an id instead of a set entry and an int)."""

    __slots__ = ("arrays", "small")

    def __init__(self):
        self.small: set[int] = set()
        self.arrays: list[np.ndarray] = []

    def __contains__(self, x: int) -> bool:
        if x in self.small:
            return True
        for a in self.arrays:
            i = int(a.searchsorted(x))
            if i < len(a) and a[i] == x:
                return True
        return False

    def add(self, x: int) -> None:
        self.small.add(x)

    def any_in(self, ids: np.ndarray) -> bool:
        if self.small and not self.small.isdisjoint(ids.tolist()):
            return True
        for a in self.arrays:
            pos = np.minimum(a.searchsorted(ids), len(a) - 1)
            if (a[pos] == ids).any():
                return True
        return False

    def add_sorted(self, ids: np.ndarray) -> None:
        self.arrays.append(ids)
        while len(self.arrays) > 1 and len(self.arrays[-2]) <= 2 * len(self.arrays[-1]):
            last = self.arrays.pop()
            self.arrays[-1] = np.sort(np.concatenate([self.arrays[-1], last]))


# Columns of a batch of rows (besides part, line, goid) and how each is stored.
_BATCH_COLUMNS = {
    "count": "int64", "raw_state": "cat", "state": "cat", "state_inferred": "bool",
    "wait_minutes": "Int32", "locked": "bool", "leaked": "bool", "labels": "cat",
    "created_by": "cat", "created_by_file": "cat", "created_by_line": "Int32",
    "creator_goid": "Int64", "ancestors": "cat", "elided": "bool", "truncated": "bool",
    "n_frames": "int32", "stack_id": "uint64", "args": "args", "m": "Int32", "top": "cat",
    "entry": "cat",
}


class _Builder:
    """Collects rows for one source, cutting it into snapshots (parts)."""

    def __init__(self, source: str):
        self.source = source
        cols = (
            "part line goid count raw_state state state_inferred wait_minutes locked leaked labels "
            "created_by created_by_file created_by_line creator_goid ancestors elided truncated "
            "n_frames stack_id args m top entry"
        ).split()
        self.cols: dict[str, list] = {c: [] for c in cols}
        # Rows come in batches: the reader's rows are appended to the lists of ``cols``,
        # the fast path adds whole arrays; _seal() turns the lists into a batch, in order.
        self.batches: list[dict[str, object]] = []
        # Categorical columns share one code book per column across batches.
        self.books: dict[str, dict[str, int]] = {c: {} for c, k in _BATCH_COLUMNS.items() if k == "cat"}
        self.stacks: dict[int, tuple[list[list[_Frame]], _Stack]] = {}
        self.parts: list[dict] = []
        self.warnings: list[tuple] = []
        self._goids = _Seen()
        self._state_cache: dict[tuple[str, int], str] = {}
        self.part: dict | None = None

    # -- snapshots ------------------------------------------------------------------------
    def new_part(self, line: int, fmt: str = "debug=2", kind: str = "goroutine dump", **kw) -> dict:
        self.part = {
            "part": len(self.parts), "format": fmt, "kind": kind, "message": None,
            "line_start": line, "line_end": line, "goroutines": 0, "rows": 0,
            "declared_total": None, "truncated": False, "taken_at": None,
        }
        self.part.update(kw)
        self.parts.append(self.part)
        self._goids = _Seen()
        return self.part

    def ensure_part(self, line: int, fmt: str = "debug=2") -> dict:
        """The current snapshot, or a new one where the format changes (text dump vs profile)."""
        p = self.part
        if p is None or ((p["format"] == "debug=2") != (fmt == "debug=2") and p["rows"]):
            p = self.new_part(line, fmt, "goroutine dump" if fmt == "debug=2" else "goroutine profile")
        elif p["format"] != fmt and not p["rows"] and (p["format"] == "debug=2") != (fmt == "debug=2"):
            p["format"] = fmt
        return p

    def warn(self, line: int, nlines: int, kind: str, message: str) -> None:
        part = self.part["part"] if self.part is not None else None
        self.warnings.append((part, line, nlines, kind, message))

    # -- stacks ---------------------------------------------------------------------------------
    def stack(self, sections: list[list[_Frame]], elided: bool) -> _Stack:
        sid = _fingerprint(sections, elided)
        got = self.stacks.get(sid)
        if got is None:
            st = _Stack(sid, [f.function for f in sections[0]] if sections else [])
            self.stacks[sid] = (sections, st)
            return st
        return got[1]

    def state_of(self, raw: str, st: _Stack) -> str:
        key = (raw, st.stack_id)
        s = self._state_cache.get(key)
        if s is None:
            s = normalize_state(raw, st.functions)
            self._state_cache[key] = s
        return s

    def add(
        self, line, goid, count, hdr: _Header | None, labels, st: _Stack, args, created,
        ancestors="", elided=False, truncated=False, m=None, state=None, inferred=False,
        leaked=None, crash=False,
    ):
        part = self.ensure_part(line, "debug=2" if goid is not None else "debug=1")
        if goid is not None:
            # A repeated id means a new dump, except goroutine 0 (each M's g0) and in crash
            # dumps (gp=/m= headers), where each M's current goroutine is printed again.
            if goid in self._goids and goid and not crash:
                part = self.new_part(line, "debug=2", "goroutine dump")
            self._goids.add(goid)
            if crash:
                part["_crash"] = True
        c = self.cols
        c["part"].append(part["part"])
        c["line"].append(line)
        c["goid"].append(goid)
        c["count"].append(count)
        if hdr is not None:
            c["raw_state"].append(hdr.raw)
            c["state"].append(self.state_of(hdr.state, st))
            c["wait_minutes"].append(hdr.minutes)
            c["locked"].append(hdr.locked)
            c["leaked"].append(hdr.leaked if leaked is None else leaked)
        else:
            c["raw_state"].append("")
            c["state"].append(state or "unknown")
            c["wait_minutes"].append(None)
            c["locked"].append(False)
            c["leaked"].append(bool(leaked))
        c["state_inferred"].append(inferred)
        c["labels"].append(labels)
        fn, file, ln, cg = created
        c["created_by"].append(fn)
        c["created_by_file"].append(file)
        c["created_by_line"].append(ln)
        c["creator_goid"].append(cg)
        c["ancestors"].append(ancestors)
        c["elided"].append(elided)
        c["truncated"].append(truncated)
        c["n_frames"].append(len(st.functions))
        c["stack_id"].append(st.stack_id)
        c["args"].append(args)
        c["m"].append(m)
        c["top"].append(st.top)
        c["entry"].append(st.entry)
        part["goroutines"] += count
        part["rows"] += 1
        part["line_end"] = line

    def add_bulk(self, lines: np.ndarray, goids: np.ndarray, cols: dict[str, object],
                 taken_at: str | None, crash: np.ndarray | None = None) -> None:
        """Append rows made by the fast path: what :meth:`add` does row by row, on arrays.

        ``cols`` holds every column but ``part``, ``line`` and ``goid`` (as :data:`_BATCH_COLUMNS`
        describes them); the snapshot cuts (a repeated goroutine id starts a new one) and the
        snapshot accounting are done here, exactly as :meth:`add` and the reader do them.
        """
        n = len(lines)
        line_list = lines.tolist()
        part = self.ensure_part(line_list[0], "debug=2")
        if taken_at and part.get("taken_at") is None:  # the reader's start_goroutine does this
            part["taken_at"] = taken_at
        seen = self._goids
        cuts: list[int] = []
        ordered = np.sort(goids)
        if crash is None and not (ordered[1:] == ordered[:-1]).any() and not seen.any_in(goids):
            seen.add_sorted(ordered)
        else:  # a repeated id (or crash headers): cut where the reader would, row by row
            flags = crash.tolist() if crash is not None else [False] * n
            for i, x in enumerate(goids.tolist()):
                if x in seen and x and not flags[i]:
                    cuts.append(i)
                    seen = _Seen()
                seen.add(x)
            self._goids = seen
        part_col = np.empty(n, np.int32)
        bounds = [0, *cuts, n]
        for k in range(len(bounds) - 1):
            lo, hi = bounds[k], bounds[k + 1]
            if k:
                part = self.new_part(line_list[lo], "debug=2", "goroutine dump")
                self._goids = seen if k == len(bounds) - 2 else _Seen()
                if taken_at and lo + 1 < n:  # set when the next goroutine starts
                    part["taken_at"] = taken_at
            part_col[lo:hi] = part["part"]
            if crash is not None and crash[lo:hi].any():
                part["_crash"] = True
            part["goroutines"] += hi - lo
            part["rows"] += hi - lo
            part["line_end"] = line_list[hi - 1]
        self._seal()
        self.batches.append({"part": part_col, "line": lines, "goid": goids, **cols})

    def _seal(self) -> None:
        """Move the rows in the lists of ``cols`` into a batch."""
        c = self.cols
        if not c["part"]:
            return
        batch: dict[str, object] = {
            "part": np.asarray(c["part"], np.int32),
            "line": np.asarray(c["line"], np.int64),
            "goid": pd.array(c["goid"], dtype="Int64"),
        }
        c["part"], c["line"], c["goid"] = [], [], []
        for name, kind in _BATCH_COLUMNS.items():
            v = c[name]
            if kind == "cat":
                batch[name] = self.codes(name, v)
            elif kind == "args":
                batch[name] = pa.array(v, pa.large_string())
            elif kind in ("Int64", "Int32"):
                batch[name] = pd.array(v, dtype=kind)
            else:
                batch[name] = np.asarray(v, dtype=kind)
            c[name] = []
        self.batches.append(batch)

    def mark_last_truncated(self) -> None:
        """Flag the last row read as cut by the end of the input."""
        if self.cols["truncated"]:
            self.cols["truncated"][-1] = True
        elif self.batches:
            t = self.batches[-1]["truncated"]
            t[-1] = True

    def n_rows(self) -> int:
        return len(self.cols["part"]) + sum(len(b["part"]) for b in self.batches)

    # -- output ------------------------------------------------------------------------------------
    def codes(self, name: str, values: list) -> np.ndarray:
        """Codes of ``values`` in the code book of categorical column ``name`` (-1 for None)."""
        book = self.books[name]
        return np.fromiter((-1 if v is None else book.setdefault(v, len(book)) for v in values),
                           np.int32, len(values))

    def _column(self, name: str, kind: str):
        parts = [b.pop(name) for b in self.batches]  # each batch's copy goes once it is joined
        if kind == "cat":
            codes = np.concatenate(parts) if parts else np.zeros(0, np.int32)
            cats = list(self.books[name])
            # the model's canonical form (sorted categories), so that conforming costs nothing
            order = sorted(range(len(cats)), key=cats.__getitem__)
            rank = np.empty(len(cats), np.int32)
            rank[order] = np.arange(len(cats), dtype=np.int32)
            if len(cats):
                codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
            dtype = pd.CategoricalDtype(pd.Index([cats[i] for i in order], dtype="str"))
            return pd.Categorical.from_codes(codes, dtype=dtype)
        if kind == "args":
            chunks = [p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.array(p, pa.large_string())
                      for p in parts] or [pa.array([], pa.large_string())]
            return pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string()))
        if kind in ("Int64", "Int32"):
            if not parts:
                return pd.array([], dtype=kind)
            return pd.concat([pd.Series(p, dtype=kind) for p in parts], ignore_index=True).array
        if not parts:
            return np.zeros(0, kind)
        return np.concatenate([np.asarray(p, dtype=kind) for p in parts])

    def tables(self) -> Dumps:
        self._seal()
        col = {name: self._column(name, kind) for name, kind in _BATCH_COLUMNS.items()}
        col["part"] = self._column("part", "int32")
        col["line"] = self._column("line", "int64")
        col["goid"] = self._column("goid", "Int64")
        n = len(col["part"])
        g = pd.DataFrame(
            {
                "snapshot": col["part"],
                "instance": pd.Categorical.from_codes(np.zeros(n, np.int8), [""]),
                "source": pd.Categorical.from_codes(np.zeros(n, np.int8), [self.source]),
                "taken_at": pd.NaT,
                "line": col["line"],
                "goid": col["goid"],
                "count": col["count"],
                "state": col["state"],
                "raw_state": col["raw_state"],
                "state_inferred": col["state_inferred"],
                "wait_minutes": col["wait_minutes"],
                "locked_to_thread": col["locked"],
                "leaked": col["leaked"],
                "labels": col["labels"],
                "top_function": col["top"],
                "entry_function": col["entry"],
                "created_by": col["created_by"],
                "created_by_file": col["created_by_file"],
                "created_by_line": col["created_by_line"],
                "creator_goid": col["creator_goid"],
                "ancestors": col["ancestors"],
                "elided": col["elided"],
                "truncated": col["truncated"],
                "n_frames": col["n_frames"],
                "stack_id": col["stack_id"],
                "args": col["args"],
                "m": col["m"],
            }
        )
        del col
        self.batches = []
        g = _conform(g, GOROUTINE_COLUMNS)

        rows = []
        for sid, (sections, _st) in self.stacks.items():
            for k, frames in enumerate(sections):
                for d, f in enumerate(frames):
                    pkg, recv, meth = split_function(f.function)
                    rows.append(
                        (sid, k, d, f.function, pkg, recv, meth, f.file, f.line, f.offset, f.args,
                         f.inlined, f.elided_before)
                    )
        fcols = ["stack_id", "section", "depth", "function", "package", "receiver", "method",
                 "file", "line", "offset", "args", "inlined", "elided_before"]
        f = pd.DataFrame(rows, columns=fcols)
        f["stack_id"] = f["stack_id"].astype(np.uint64)
        f["frame_class"] = classify_frames(f) if len(f) else pd.Series([], dtype=object)
        f = _conform(f, FRAME_COLUMNS)

        snaps = (
            pd.DataFrame([{k: v for k, v in p.items() if not k.startswith("_")} for p in self.parts])
            if self.parts else pd.DataFrame(columns=["part"])
        )
        if len(snaps):
            snaps["snapshot"] = snaps["part"]
            snaps["source"] = self.source
            snaps["instance"] = ""
            snaps["go_version"] = _go_version(f, g)
            snaps["missing"] = [
                (p["declared_total"] - p["goroutines"]) if p["declared_total"] is not None
                and p["declared_total"] >= p["goroutines"] else None
                for p in self.parts
            ]
            snaps["time_source"] = ["content" if t is not None else "" for t in snaps["taken_at"]]
        s = _conform(snaps, SNAPSHOT_COLUMNS)
        # Times found in the content (test2json, log prefixes) go onto the goroutines too.
        if len(s) and s["taken_at"].notna().any() and len(g):
            g["taken_at"] = s["taken_at"].to_numpy()[g["snapshot"].to_numpy()]
        w = pd.DataFrame(
            [(self.source, *x) for x in self.warnings],
            columns=["source", "snapshot", "line", "lines", "kind", "message"],
        )
        w = _conform(w, WARNING_COLUMNS)
        return Dumps(g, f, s, w)


def _any_not_empty(s: pd.Series) -> bool:
    """Does a categorical column hold any value other than ''?"""
    cats = s.cat.categories
    return bool(np.isin(s.cat.codes.to_numpy(), np.flatnonzero(cats.astype(str) != "")).any())


def _go_version(frames: pd.DataFrame, g: pd.DataFrame) -> str:
    """Go version from GOROOT paths ('/go1.23.0/src/'), else a lower bound from format features."""
    files = frames["file"].astype(str).unique() if len(frames) else []
    for fpath in files:
        m = _GO_VERSION.search(fpath)
        if m:
            return m.group(1)
    bound = None
    if len(g) and _any_not_empty(g["labels"]) and _any_not_empty(g["raw_state"]):
        bound = "1.27"
    elif len(g) and g["leaked"].any():
        bound = "1.26"
    elif len(g) and g["creator_goid"].notna().any():
        bound = "1.21"
    elif len(frames) and frames["args"].astype(str).str.contains("{", regex=False).any():
        bound = "1.17"
    return f">={bound}" if bound else ""


# --- the reference reader -------------------------------------------------------------------


class _Reader:
    """The forgiving line-by-line parser; the reference for every dialect.

    Modes: ``out`` (between goroutines), ``g`` (frames of a goroutine), ``ancestor``
    (an ``[originating from goroutine N]`` block), ``bucket`` (a ``debug=1`` record),
    ``race`` (a race report), ``rstack`` (a ``runtime stack:`` block), ``message``
    (the lines of a panic or fatal error message).
    """

    def __init__(self, builder: _Builder):
        self.b = builder
        self.mode = "out"
        self.g: dict | None = None
        self.bucket: dict | None = None
        self.pending: tuple | None = None  # a function line waiting for its file line
        self.prefix: re.Pattern | None = None
        self.skip_start: int | None = None
        self.skip_race = False
        self.skip_reasons: dict[str, int] = {}
        self.skip_n = 0
        self.json_partial = b""
        self.last_time: str | None = None
        self.races = 0
        self.msg_skip = False  # message lines of a crash dump's later M sections
        self.rejected_in_g = -1  # last line that ended a goroutine (or bucket) without belonging to it
        self.incomplete_at = -1  # last line that ended a goroutine waiting for a file line
        self.last_lineno = 0

    # -- skipped-line accounting ------------------------------------------------------------
    def skip(self, lineno: int, reason: str) -> None:
        """Count a line that is not part of any goroutine; runs of them make one warning."""
        race = reason == "race report"
        if self.skip_start is not None and (self.skip_race == race):
            self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1
            self.skip_n += 1
            return
        self.flush_skip()
        self.skip_start, self.skip_race, self.skip_n = lineno, race, 1
        self.skip_reasons = {reason: 1}

    def flush_skip(self) -> None:
        if self.skip_start is not None:
            kind = "race-report" if self.skip_race else "skipped"
            why = ", ".join(f"{n} {r}" for r, n in self.skip_reasons.items())
            self.b.warn(self.skip_start, self.skip_n, kind, f"{self.skip_n} line(s) skipped: {why}")
            self.skip_start = None

    # -- unwrapping: the dump line inside a raw line ------------------------------------------
    def feed(self, lineno: int, raw: bytes) -> None:
        self.last_lineno = lineno
        if len(raw) > MAX_LINE:
            if b"goroutine " in raw and b"\\n" in raw:
                self.escaped(lineno, raw)
            else:
                self.end_goroutine()
                self.skip(lineno, "over-long lines")
            return
        if raw[:2] == b'{"':
            if b'"Action"' in raw:
                self.test2json(lineno, raw)
                return
            if b'"log":' in raw and self.json_log(lineno, raw):
                return
        self.text(lineno, raw)

    def text(self, lineno: int, raw: bytes) -> None:
        """A line of text: through a learnt log prefix, or holding a whole escaped dump."""
        if self.prefix is not None:
            m = self.prefix.match(raw)
            if m:
                self.line(lineno, raw[m.end() :])
                return
            self.prefix = None
        if b"\\n" in raw and b"goroutine " in raw and _ESCAPED_HEADER.search(raw):
            self.escaped(lineno, raw)
            return
        self.line(lineno, raw)

    def test2json(self, lineno: int, raw: bytes) -> None:
        try:
            ev = json.loads(raw)
        except ValueError:
            self.line(lineno, raw)
            return
        if not isinstance(ev, dict) or ev.get("Action") != "output" or "Output" not in ev:
            self.skip(lineno, "test2json events")
            return
        if isinstance(ev.get("Time"), str):
            self.last_time = ev["Time"]
        out = self.json_partial + str(ev["Output"]).encode("utf-8", "surrogateescape")
        lines = out.split(b"\n")
        self.json_partial = lines.pop()
        for ln in lines:
            self.line(lineno, ln.rstrip(b"\r"))

    def json_log(self, lineno: int, raw: bytes) -> bool:
        """A JSON log record carrying one line of a program's output in ``log``: Docker's
        json-file driver and Fluent Bit write a crash that way, one record per line (a
        line longer than 16 KiB split over several). False when the line is not one."""
        try:
            ev = json.loads(raw)
        except ValueError:
            return False
        if not isinstance(ev, dict) or not isinstance(ev.get("log"), str):
            return False
        if isinstance(ev.get("time"), str):
            self.last_time = ev["time"]
        lines = (self.json_partial + ev["log"].encode("utf-8", "surrogateescape")).split(b"\n")
        self.json_partial = lines.pop()
        for ln in lines:
            self.text(lineno, ln.rstrip(b"\r"))
        return True

    def escaped(self, lineno: int, raw: bytes) -> None:
        """Dumps escaped into one field of a log line (zap ``stack="goroutine 1 [..]:\\n..."``)."""
        self.end_goroutine()
        for text in _escaped_dumps(raw):
            for ln in text.split(b"\n"):
                self.line(lineno, ln.rstrip(b"\r"))
            self.end_goroutine()

    # -- the dump grammar ---------------------------------------------------------------------
    def line(self, lineno: int, s: bytes) -> None:
        stripped = s.strip()
        mode = self.mode
        if mode == "race":
            self.skip(lineno, "race report")
            if stripped.startswith(_RACE_END):
                self.mode = "out"
                self.flush_skip()
            return
        if not stripped:
            if mode in ("g", "ancestor"):
                self.end_goroutine()
            elif mode == "bucket":
                self.end_bucket()
            elif mode in ("rstack", "message"):
                self.mode = "out"
            return
        if mode in ("g", "ancestor"):
            if self.goroutine_line(s, stripped):
                return
            self.rejected_in_g = lineno
            self.end_goroutine()
        elif mode == "bucket":
            if self.bucket_line(stripped):
                return
            self.rejected_in_g = lineno
            self.end_bucket()
        elif mode == "rstack":
            if _HEADER.search(s) is None:
                self.skip(lineno, "runtime (system) stack")
                return
            self.mode = "out"
        self.outside(lineno, s, stripped)

    def outside(self, lineno: int, s: bytes, stripped: bytes) -> None:
        m = _HEADER.search(s)
        if m and _bounded(m.group(1), 63) is not None:
            self.flush_skip()
            if m.start() > 0:
                self.learn_prefix(s[: m.start()])
            self.start_goroutine(lineno, m)
            return
        m = _PROFILE_HEADER.search(s)
        if m and (m.start() == 0 or _is_prefix(s[: m.start()])):
            self.flush_skip()
            if m.start() > 0 and s[: m.start()].strip():  # a log prefix or quoting, on every line
                self.learn_prefix(s[: m.start()])
            leak = m.group(1) == b"goroutineleak"
            self.b.new_part(
                lineno, "debug=1", "goroutineleak profile" if leak else "goroutine profile",
                declared_total=_bounded(m.group(2), 63),
            )
            self.mode = "out"
            return
        if self.b.part is not None and self.b.part["format"] == "debug=1":
            m = _BUCKET.match(stripped)
            if m and _bounded(m.group(1), 63) is not None:
                self.flush_skip()
                self.bucket = {"line": lineno, "count": int(m.group(1)), "frames": [], "labels": ""}
                self.mode = "bucket"
                return
        if stripped.startswith(_RACE_START):
            self.races += 1
            self.mode = "race"
            self.skip(lineno, "race report")
            return
        if stripped == _RUNTIME_STACK:
            self.mode = "rstack"
            self.skip(lineno, "runtime (system) stack")
            return
        pm = _PANIC.search(stripped, 0, 96)
        if pm and (pm.start() == 0 or _is_prefix(stripped[: pm.start()])):
            if self.preamble(lineno, stripped[pm.start() :]):
                if pm.start() > 0:
                    self.learn_prefix(s[: s.find(stripped[pm.start() :])])
                return
        if self.mode == "message":
            p = self.b.part
            if not self.msg_skip:
                p["message"] = f"{p['message']}\n{stripped.decode('utf-8', 'replace')}"
                p["line_end"] = lineno
            return
        if self.b.part is not None and self.b.part.get("_crash") and _REGISTERS.match(stripped):
            self.skip(lineno, "register dump")
            return
        self.skip(lineno, "text that is not part of a dump")

    def learn_prefix(self, prefix: bytes) -> None:
        """Text before a header: a log prefix repeated on every line, or text glued to it."""
        ts = _TS_PREFIX.search(prefix)
        if ts:
            self.last_time = ts.group(1).decode()
        pat = re.sub(rb"\d+", rb"\\d+", re.escape(prefix))
        pat = re.sub(rb"(?:\\ |\\\t)+", rb"\\s+", pat)
        self.prefix = re.compile(pat)

    def preamble(self, lineno: int, text: bytes) -> bool:
        """A panic / fatal error / signal line: it opens a new snapshot. False if not one here."""
        msg = text.decode("utf-8", "replace")
        if msg.startswith("panic: "):
            kind = "panic"
        elif msg.startswith("fatal error: "):
            kind = "fatal error"
        elif msg.startswith("runtime: "):
            kind = ""  # a runtime diagnostic: part of the message of what follows
        else:
            kind = "signal"
        p = self.b.part
        if (kind == "signal" and p is not None and p.get("_crash") and p["kind"] == "signal"
                and p["message"].split("\n", 1)[0] == msg):
            # GOTRACEBACK=crash: after the first M's dump, each other M prints the same signal
            # line, its g0 and its current goroutine: the same capture, not a new snapshot
            self.mode = "message"
            self.msg_skip = True
            return True
        if p is None or p["rows"] or p["format"] != "debug=2":
            if not kind and p is not None and p["rows"]:
                return False  # 'runtime: ...' after goroutines: noise, not a new dump
            p = self.b.new_part(lineno, "debug=2", kind or "fatal error", message=msg, _weak=not kind)
        else:
            if kind and (p["kind"] == "goroutine dump" or p.get("_weak")):
                p["kind"], p["_weak"] = kind, False
            p["message"] = f"{p['message']}\n{msg}" if p["message"] else msg
        p["line_end"] = lineno
        if self.last_time and p.get("taken_at") is None:
            p["taken_at"] = self.last_time
        self.mode = "message"
        self.msg_skip = False
        return True

    # -- goroutines ------------------------------------------------------------------------------
    def start_goroutine(self, lineno: int, m: re.Match) -> None:
        hdr = _parse_bracket(m.group(3))
        labels = _parse_labels(m.group(4).decode("utf-8", "replace")) if m.group(4) else ""
        mm = m.group(2)
        self.g = {
            "line": lineno, "goid": int(m.group(1)), "hdr": hdr, "labels": labels,
            "m": _bounded(mm, 31) if mm and mm != b"nil" else None, "sections": [[]],
            "created": ("", "", None, None), "elided": False, "ancestors": [],
            "after_created": False, "elided_n": None, "crash": mm is not None,
        }
        self.pending = None
        self.mode = "g"
        if self.last_time:
            p = self.b.ensure_part(lineno)
            if p.get("taken_at") is None:
                p["taken_at"] = self.last_time

    def goroutine_line(self, s: bytes, stripped: bytes) -> bool:
        """Take one line inside a goroutine; False when the line is not part of it."""
        g = self.g
        pend = self.pending
        if pend is not None:
            fm = _FILE_LINE.match(stripped)
            if fm:
                self.pending = None
                file = fm.group(1).decode("utf-8", "replace")
                line = _bounded(fm.group(2), 31)
                if pend[0] == "created":
                    g["created"] = (pend[1], file, line, pend[2])
                    g["after_created"] = True
                elif pend[0] == "frame":
                    off = _bounded(fm.group(3), 63, 16) if fm.group(3) else None
                    g["sections"][-1].append(_Frame(pend[1], pend[2], pend[3], file, line, off, g["elided_n"]))
                    g["elided_n"] = None
                return True
            self.flush_pending()  # a function line without its file line (cut or mangled)
        if stripped == _ELIDED_ALL:
            g["elided"] = True
            return True
        if stripped == _UNAVAILABLE:  # part of the dump: a goroutine with no frames to show
            return True
        em = _ELIDED_N.match(stripped)
        if em:
            g["elided"] = True
            g["elided_n"] = _bounded(em.group(1), 63)
            return True
        am = _ANCESTOR.match(stripped)
        if am:
            g["ancestors"].append(am.group(1).decode())
            g["sections"].append([])
            self.mode = "ancestor"
            return True
        if g["after_created"] and self.mode == "g":
            return False
        cm = _CREATED_BY.match(stripped)
        if cm:
            if self.mode == "ancestor":
                self.pending = ("ancestor-creator",)
            else:
                fn = cm.group(1).decode("utf-8", "replace")
                self.pending = ("created", fn, _bounded(cm.group(2), 63) if cm.group(2) else None)
            return True
        fm = _FUNC_LINE.match(stripped)
        if fm and not _PANIC.match(stripped) and _HEADER.search(s) is None:
            args = fm.group(2).decode("utf-8", "replace")
            self.pending = ("frame", fm.group(1).decode("utf-8", "replace"), args, args == "...")
            return True
        return False

    def flush_pending(self) -> None:
        pend, self.pending = self.pending, None
        if pend is None or self.g is None:
            return
        self.incomplete_at = self.last_lineno  # a frame or creator without its file line
        g = self.g
        if pend[0] == "created":
            g["created"] = (pend[1], "", None, pend[2])
            g["after_created"] = True
        elif pend[0] == "frame":
            g["sections"][-1].append(_Frame(pend[1], pend[2], pend[3], "", None, None, g["elided_n"]))
            g["elided_n"] = None

    def end_goroutine(self, truncated: bool = False) -> None:
        g = self.g
        if g is None:
            return
        self.flush_pending()
        self.g = None
        self.mode = "out"
        sections = g["sections"]
        st = self.b.stack(sections, g["elided"])
        self.b.add(
            g["line"], g["goid"], 1, g["hdr"], g["labels"], st,
            "\n".join(f.args for f in sections[0]), g["created"],
            " ".join(g["ancestors"]), g["elided"], truncated, g["m"], crash=g["crash"],
        )

    # -- debug=1 buckets ------------------------------------------------------------------------
    def bucket_line(self, stripped: bytes) -> bool:
        bk = self.bucket
        lm = _BUCKET_LABELS.match(stripped)
        if lm:
            bk["labels"] = _parse_labels(lm.group(1).decode("utf-8", "replace"))
            return True
        fm = _BUCKET_FRAME.match(stripped)
        if not fm:
            return False
        if fm.group(2):
            bk["frames"].append(
                _Frame(fm.group(2).decode("utf-8", "replace"), "", False,
                       fm.group(4).decode("utf-8", "replace"), _bounded(fm.group(5), 31),
                       _bounded(fm.group(3), 63, 16))
            )
        else:  # a PC the runtime could not symbolize
            bk["frames"].append(_Frame("0x" + fm.group(1).decode(), "", False, "", None, None))
        return True

    def end_bucket(self) -> None:
        bk, self.bucket = self.bucket, None
        self.mode = "out"
        if bk is None:
            return
        st = self.b.stack([bk["frames"]], False)
        leak = self.b.part is not None and self.b.part["kind"] == "goroutineleak profile"
        self.b.add(
            bk["line"], None, bk["count"], None, bk["labels"], st, "", ("", "", None, None),
            state=infer_state(st.functions), inferred=True, leaked=leak,
        )

    def finish(self, ends_mid_line: bool, last_line: bytes = b"") -> bool:
        """Close what is open; True when the input was cut inside a goroutine.

        A cut shows when the text ends on a frame or a ``created by`` line without its file
        line, inside a line that cannot end a goroutine, inside a header, or inside a
        profile's bucket. (A cut that leaves a well-formed last line cannot be seen.)
        """
        if self.json_partial:
            self.line(self.last_lineno, self.json_partial)
            self.json_partial = b""
        if self.prefix is not None and (pm := self.prefix.match(last_line)):
            last_line = last_line[pm.end() :]
        cut = (self.g is not None and self.pending is not None) or (ends_mid_line and (
            self.last_lineno in (self.rejected_in_g, self.incomplete_at) or self.mode == "bucket"
            or (_PARTIAL_HEADER.search(last_line.strip()) is not None and _HEADER.search(last_line) is None)
        ))
        if self.mode == "bucket":
            self.end_bucket()
        if self.g is not None:
            self.end_goroutine(truncated=cut)
        elif cut and self.b.n_rows():
            self.b.mark_last_truncated()
        if cut and self.b.part is not None:
            self.b.part["truncated"] = True
        self.flush_skip()
        if self.races:
            self.b.warn(None, 0, "race-report",
                        f"{self.races} race report(s): not goroutine dumps, not counted")
        return cut


_LOG_PREFIX = re.compile(rb"^[\W_]*" + _TS_PREFIX.pattern + rb"[\W_]*(?:[\w.:-]{1,8}[\W_]*){0,2}$")


def _is_prefix(text: bytes) -> bool:
    r"""Is this text before 'panic: ' a log prefix (a timestamp, quoting) rather than prose?

    >>> _is_prefix(b"2026-11-30T03:21:31.5Z stderr F "), _is_prefix(b"^\\"), _is_prefix(b"we saw a ")
    (True, True, False)
    """
    return re.search(rb"[A-Za-z0-9]", text) is None or _LOG_PREFIX.match(text) is not None


_ESCAPED_HEADER = re.compile(rb"goroutine \d+ (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[[^\]\\]*\](?: \{[^\n]*?\})?:\\[rn]")


def _escaped_dumps(raw: bytes) -> Iterator[bytes]:
    """Find dumps escaped inside quoted fields and unescape them (JSON / Go quoting rules)."""
    pos = 0
    while True:
        m = _ESCAPED_HEADER.search(raw, pos)
        if not m:
            return
        start = m.start()
        i, end = m.end(), len(raw)
        while True:  # the field ends at the first unescaped quote
            q = raw.find(b'"', i)
            if q < 0:
                break
            j = q - 1
            while j >= start and raw[j] == 0x5C:
                j -= 1
            if (q - 1 - j) % 2 == 0:
                end = q
                break
            i = q + 1
        body = raw[start:end]
        try:
            text = json.loads(b'"' + body + b'"').encode("utf-8", "surrogateescape")
        except ValueError:
            text = (
                body.replace(b"\\n", b"\n").replace(b"\\t", b"\t").replace(b'\\"', b'"')
                .replace(b"\\\\", b"\\")
            )
        yield text
        pos = end + 1


# --- the fast path ---------------------------------------------------------------------------

_FAST_HEADER = re.compile(rb"goroutine (\d+) \[([^\]\n]*)\](?: (\{[^\n]*\}))?:\Z")
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")  # what bytes.strip() removes

# Kinds of piece (see goforensics.read.scan), by where they stand in a block. With file lines cut
# apart (crash dumps), a frame's file line is a _LAST piece and the block ends with a _TAIL_*.
_TAIL, _FIRST, _MID, _LAST, _LAST_CB, _LAST_CB_WHOLE, _CB_FILE = range(1, 8)
_TAIL_NONE, _TAIL_CB, _TAIL_CB_WHOLE = range(8, 11)
_SMALL_RUN = 48  # runs shorter than this are added row by row (a batch costs more)
_KEY_MIX = np.uint64(0x9E3779B97F4A7C15)


def _fast_name(x: bytes) -> bool:
    """A function name the reader reads as a plain frame (given arguments without parens)."""
    return (
        bool(x) and x[0] not in _WHITESPACE and len(x) < MAX_LINE and b"\n" not in x
        and b"\\" not in x and not x.startswith((b"created by ", b'{"'))
        and _PANIC.match(x + b"(") is None
    )


def _fast_file(x: bytes) -> bool:
    """A whole line the reader reads as the file line of the frame before it."""
    return (
        len(x) < MAX_LINE and b"\n" not in x and b"\\" not in x and x[:2] != b'{"'
        and _FILE_LINE.match(x.strip()) is not None
    )


def _fast_created(x: bytes) -> bool:
    """A whole 'created by ...' line the reader reads as such."""
    return len(x) < MAX_LINE and b"\\" not in x and _CREATED_BY.match(x.strip()) is not None


def _fast_tail(t: bytes) -> tuple[_Header, str] | None:
    """The header and labels of a header line ending in ``t``, if the reader reads it as a plain header."""
    line = b"goroutine 1" + t
    if len(line) >= MAX_LINE or b"\\n" in line:
        return None
    fm = _FAST_HEADER.match(line)
    m = _HEADER.search(line)
    if fm is None or m is None or m.start() or m.group(3) != fm.group(2) or m.group(4) != fm.group(3):
        return None
    labels = fm.group(3)
    hdr = _parse_bracket(fm.group(2))
    if hdr.minutes is None:
        return None
    return hdr, (_parse_labels(labels.decode("utf-8", "replace")) if labels else "")


def _piece_kind(p: bytes) -> tuple[int, tuple | None]:
    """What a piece of a standard block is (0: nothing the fast path may take), and a header's facts."""
    if p[:2] == b" [":
        h = _fast_tail(p)
        return (_TAIL, h) if h is not None else (0, None)
    if not p:
        return _TAIL_NONE, None
    if p[:12] == b"\ncreated by ":  # the end of a block whose file lines are pieces apart
        body = p[1:]
        if body.endswith(b" in goroutine "):
            m = _CREATED_BY.match(body + b"1")
            return (_TAIL_CB if m is not None and m.group(2) == b"1" and b"\\" not in body else 0), None
        cb, _, file = body.partition(b"\n")
        return (_TAIL_CB_WHOLE if _fast_created(cb) and _fast_file(file) else 0), None
    if p[:1] == b"\n":
        body = p[1:]
        if body[-1:] == b"(":
            return (_FIRST if _fast_name(body[:-1]) else 0), None
        return (_CB_FILE if _fast_file(body) else 0), None
    if p[:2] == b")\n":
        parts = p[2:].split(b"\n")
        if not _fast_file(parts[0]):
            return 0, None
        if len(parts) == 1:
            return _LAST, None
        if len(parts) == 2:
            x = parts[1]
            if x[-1:] == b"(":
                return (_MID if _fast_name(x[:-1]) else 0), None
            if x.endswith(b" in goroutine "):
                m = _CREATED_BY.match(x + b"1")
                return (_LAST_CB if m is not None and m.group(2) == b"1" and b"\\" not in x else 0), None
            return 0, None
        if len(parts) == 3 and _fast_created(parts[1]) and _fast_file(parts[2]):
            return _LAST_CB_WHOLE, None
    return 0, None


class _Entry:
    """A stack the fast path knows: its pieces, and what every goroutine on it shares."""

    __slots__ = ("codes", "created", "creator", "sections", "st")

    def __init__(self, codes, sections, created, creator):
        self.codes = codes  # global codes of the block's pieces after the header
        self.sections = sections
        self.created = created  # (function, file, line) of 'created by'
        self.creator = creator  # creator goid when it is part of the pieces, else None
        self.st: _Stack | None = None  # registered with the builder on first use


class _Fast:
    """Reads runs of standard blocks (see :mod:`goforensics.read.scan`) without the reference reader.

    Every distinct piece is checked once against the reader's grammar; every distinct stack is
    read once by a scratch reader (the reference) and remembered with its pieces; a block
    whose pieces equal a known stack's is then added from arrays: its id, state, labels,
    arguments and creator. Anything else, and any block met while the reader is not between
    goroutines, goes to the reader, in order. Both paths give the same tables (tested).
    """

    def __init__(self, builder: _Builder, reader: _Reader):
        self.b = builder
        self.r = reader
        self.code_of: dict[bytes, int] = {}
        self.kinds: list[int] = []
        self.headers: list[tuple | None] = []
        self._kind_arr = np.zeros(0, np.uint8)
        self._rand = np.zeros(0, np.uint64)
        self._rng = np.random.default_rng(0x5EED)
        self.entry_of: dict[int, int] = {}
        self.entries: list[_Entry] = []
        self._ent_arrays: tuple | None = None
        self._lock = threading.Lock()

    # -- pieces and stacks ----------------------------------------------------------------
    def _code(self, p: bytes) -> int:
        c = self.code_of.get(p)
        if c is None:
            c = self.code_of[p] = len(self.kinds)
            kind, hdr = _piece_kind(p)
            self.kinds.append(kind)
            self.headers.append(hdr)
        return c

    def _grow(self) -> None:
        n = len(self.kinds)
        if n > len(self._kind_arr):
            self._kind_arr = np.array(self.kinds, np.uint8)
            extra = n - len(self._rand)
            self._rand = np.concatenate([self._rand, np.frombuffer(self._rng.bytes(8 * extra), np.uint64)])

    def _entry_arrays(self) -> tuple:
        if self._ent_arrays is None or len(self._ent_arrays[1]) != len(self.entries):
            lens = np.array([len(e.codes) for e in self.entries], np.int64)
            start = np.cumsum(lens) - lens
            allc = np.concatenate([e.codes for e in self.entries]) if self.entries else np.zeros(0, np.int64)
            self._ent_arrays = (allc, start, lens)
        return self._ent_arrays

    def learn(self, buf: bytes, sb: Blocks, k: int, codes: np.ndarray) -> _Entry | None:
        """Read block k with a scratch reference reader; its stack, if the block is what it looks."""
        starts, ends = line_bounds(sb.newlines, sb.size, int(sb.header[k]), int(sb.end[k]))
        scratch = _Builder("")
        rr = _Reader(scratch)
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            rr.feed(1, buf[s:e])
        rr.feed(1, b"")
        c = scratch.cols
        m = None if sb.m is None or sb.m[k] < 0 else int(sb.m[k])
        if (len(c["part"]) != 1 or scratch.warnings or rr.g is not None or rr.mode != "out"
                or c["goid"][0] != sb.goid[k] or c["elided"][0] or c["ancestors"][0]
                or c["m"][0] != m):
            return None
        sections = scratch.stacks[c["stack_id"][0]][0]
        if len(sections) != 1 or len(sections[0]) != sb.nframes[k]:
            return None
        if c["args"][0] != sb.args[k].as_py().decode("utf-8", "replace"):
            return None
        creator = c["creator_goid"][0]
        if sb.cb_goid[k] >= 0:
            if creator != sb.cb_goid[k]:
                return None
            creator = None
        return _Entry(codes, sections, (c["created_by"][0], c["created_by_file"][0], c["created_by_line"][0]),
                      creator)

    # -- a region -------------------------------------------------------------------------
    def region(self, lineno: int, buf: bytes, length: int, open_end: bool = False,
               scanned: Blocks | None = None) -> int:
        """Read the lines of ``buf[:length]`` (numbered from ``lineno``); returns the next line number.

        ``open_end``: the input ends inside the last line, so the last block is the reader's
        (it may be cut). ``scanned``: :func:`scan_blocks` of it, if already done.
        """
        sb = scanned if scanned is not None else scan_blocks(memoryview(buf)[:length])
        ok, ent, tails = self._prepare(buf, sb, open_end)
        cursor = 0
        good = np.flatnonzero(ok)
        if len(good):
            # runs: consecutive good blocks with exactly one blank line between them
            brk = np.flatnonzero((np.diff(good) != 1) | (sb.header[good[1:]] != sb.end[good[:-1]] + 1)) + 1
            args = _decode_args(sb.args)
            for lo, hi in zip(np.concatenate([[0], brk]).tolist(), np.concatenate([brk, [len(good)]]).tolist(),
                              strict=True):
                i, j = int(good[lo]), int(good[hi - 1]) + 1
                self._feed(buf, sb, lineno, cursor, int(sb.header[i]))
                while i < j and not self._ready():
                    self._feed(buf, sb, lineno, int(sb.header[i]), int(sb.end[i]))
                    i += 1
                if i < j:
                    self._rows(lineno, sb, i, j, ent, tails, args)
                    self.r.last_lineno = lineno + int(sb.end[j - 1]) - 1
                cursor = int(sb.end[j - 1])
        self._feed(buf, sb, lineno, cursor, sb.n_lines)
        return lineno + sb.n_lines

    def _ready(self) -> bool:
        r = self.r
        return (r.mode == "out" and r.g is None and r.prefix is None and r.bucket is None
                and not r.json_partial and r.pending is None)

    def _feed(self, buf: bytes, sb: Blocks, lineno: int, lo: int, hi: int) -> None:
        if hi <= lo:
            return
        starts, ends = line_bounds(sb.newlines, sb.size, lo, hi)
        feed = self.r.feed
        for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            feed(lineno + lo + i, buf[s:e])

    def precompute(self, sb: Blocks) -> None:
        """What the checks need that does not depend on the reader (the scan threads run it):
        global codes of the pieces, the kind check, and a key per block."""
        nb = len(sb)
        if not nb:
            return
        with self._lock:  # codes are handed out in any order: only their pieces matter
            lut = np.fromiter(map(self._code, sb.dictionary), np.int64, len(sb.dictionary))
            self._grow()
            kind_arr, rand = self._kind_arr, self._rand
        g = lut[sb.codes]
        po = sb.piece_off
        first = po[:-1]
        npieces = np.diff(po)
        pblk = np.repeat(np.arange(nb), npieces)
        prel = np.arange(len(g)) - first[pblk]

        # every piece must be of the kind its place asks for
        split = sb.cb_goid >= 0
        if sb.split_files:  # header tail, name, then (file line, name) per frame, then the end
            expect = np.where(prel & 1, _FIRST, _LAST).astype(np.uint8)
            expect[first] = _TAIL
            last = first + 1 + 2 * sb.nframes
            expect[last] = np.where(split, _TAIL_CB, np.where(sb.has_cb, _TAIL_CB_WHOLE, _TAIL_NONE))
        else:  # header tail, first name, one piece from each frame's arguments to the next
            expect = np.full(len(g), _MID, np.uint8)
            expect[first] = _TAIL
            expect[first + 1] = _FIRST
            last = first + 1 + sb.nframes
            expect[last] = np.where(split, _LAST_CB, np.where(sb.has_cb, _LAST_CB_WHOLE, _LAST))
        expect[last[split] + 1] = _CB_FILE
        bad = np.zeros(nb, bool)
        bad[pblk[kind_arr[g] != expect]] = True
        if sb.suspect is not None:
            bad |= sb.suspect

        # a key per block from its pieces after the header
        vals = rand[g] * (2 * prel + 1).astype(np.uint64)
        vals[first] = 0
        key = np.add.reduceat(vals, first) + npieces.astype(np.uint64) * _KEY_MIX
        sb.extra = (g, pblk, prel, npieces, first, bad, key)

    def _prepare(self, buf: bytes, sb: Blocks, open_end: bool):
        """Which blocks may be added from arrays, and the entry and header piece of each."""
        nb = len(sb)
        if not nb:
            return np.zeros(0, bool), None, None
        if sb.extra is None:
            self.precompute(sb)
        g, pblk, prel, npieces, first, bad, key = sb.extra
        po = sb.piece_off
        if open_end:
            bad = bad | (sb.end == sb.n_lines)

        # known keys name an entry; a new key is learnt from its first block
        ent = np.full(nb, -1, np.int64)
        cand = np.flatnonzero(~bad)
        if len(cand):
            ukeys, where, inv = np.unique(key[cand], return_index=True, return_inverse=True)
            uent = np.empty(len(ukeys), np.int64)
            for u, (kk, w) in enumerate(zip(ukeys.tolist(), where.tolist(), strict=True)):
                e = self.entry_of.get(kk)
                if e is None:
                    blk = int(cand[w])
                    new = self.learn(buf, sb, blk, g[first[blk] + 1 : po[blk + 1]].copy())
                    e = -1
                    if new is not None:
                        e = len(self.entries)
                        self.entries.append(new)
                    self.entry_of[kk] = e
                uent[u] = e
            ent[cand] = uent[inv]

        # the pieces of each block must equal its entry's (a key says where to look, not more)
        if (ent >= 0).any():
            allc, estart, elen = self._entry_arrays()
            has = ent >= 0
            bad_len = has & (elen[np.maximum(ent, 0)] != npieces - 1)
            ent[bad_len] = -1
            eb = ent[pblk]
            sel = np.flatnonzero((eb >= 0) & (prel >= 1))
            exp_codes = allc[estart[eb[sel]] + prel[sel] - 1]
            mism = sel[exp_codes != g[sel]]
            ent[pblk[mism]] = -1
        ok = (ent >= 0) & ~bad
        return ok, ent, g[first]

    def _rows(self, lineno, sb: Blocks, i: int, j: int, ent, tails, args) -> None:
        """Add blocks i..j-1 (a run of known stacks) as rows."""
        b, r = self.b, self.r
        if r.skip_start is not None:
            r.flush_skip()
        ents = ent[i:j]
        entries = self.entries
        for e in pd.unique(ents).tolist():  # register stacks in order of first use
            if entries[e].st is None:
                entries[e].st = b.stack(entries[e].sections, False)
        lines = lineno + sb.header[i:j]
        goids = sb.goid[i:j]
        cbg = sb.cb_goid[i:j]
        tl = tails[i:j]
        n = j - i
        heads = self.headers
        ms = sb.m[i:j] if sb.m is not None else None
        crash = sb.crash[i:j] if sb.crash is not None else None
        if n < _SMALL_RUN:
            last_time = r.last_time
            for k in range(n):
                e = entries[ents[k]]
                hdr, labels = heads[tl[k]]
                line = int(lines[k])
                if last_time:
                    p = b.ensure_part(line)
                    if p.get("taken_at") is None:
                        p["taken_at"] = last_time
                creator = int(cbg[k]) if cbg[k] >= 0 else e.creator
                m = int(ms[k]) if ms is not None and ms[k] >= 0 else None
                b.add(line, int(goids[k]), 1, hdr, labels, e.st, _arg(args, i + k), (*e.created, creator),
                      m=m, crash=bool(crash is not None and crash[k]))
            return

        ue, einv = np.unique(ents, return_inverse=True)
        ul = [entries[e] for e in ue.tolist()]
        ut, tinv = np.unique(tl, return_inverse=True)
        uh = [heads[t] for t in ut.tolist()]
        pair, pinv = np.unique(tinv.astype(np.int64) * len(ue) + einv, return_inverse=True)
        states = [b.state_of(uh[p // len(ue)][0].state, ul[p % len(ue)].st) for p in pair.tolist()]
        creators = np.array([-1 if e.creator is None else e.creator for e in ul], np.int64)[einv]
        creators = np.where(cbg >= 0, cbg, creators)
        cb_lines = [e.created[2] for e in ul]
        cols = {
            "count": np.ones(n, np.int64),
            "raw_state": b.codes("raw_state", [h[0].raw for h in uh])[tinv],
            "state": b.codes("state", states)[pinv],
            "state_inferred": np.zeros(n, bool),
            "wait_minutes": pd.array(np.array([h[0].minutes for h in uh], np.int32)[tinv], dtype="Int32"),
            "locked": np.array([h[0].locked for h in uh], bool)[tinv],
            "leaked": np.array([h[0].leaked for h in uh], bool)[tinv],
            "labels": b.codes("labels", [h[1] for h in uh])[tinv],
            "created_by": b.codes("created_by", [e.created[0] for e in ul])[einv],
            "created_by_file": b.codes("created_by_file", [e.created[1] for e in ul])[einv],
            "created_by_line": pd.arrays.IntegerArray(
                np.array([x or 0 for x in cb_lines], np.int32)[einv],
                np.array([x is None for x in cb_lines], bool)[einv]),
            "creator_goid": pd.arrays.IntegerArray(creators, creators < 0),
            "ancestors": np.full(n, b.codes("ancestors", [""])[0], np.int32),
            "elided": np.zeros(n, bool),
            "truncated": np.zeros(n, bool),
            "n_frames": np.array([len(e.st.functions) for e in ul], np.int32)[einv],
            "stack_id": np.array([e.st.stack_id for e in ul], np.uint64)[einv],
            "args": _args_slice(args, i, j),
            "m": (pd.arrays.IntegerArray(ms.astype(np.int32), ms < 0) if ms is not None
                  else pd.arrays.IntegerArray(np.zeros(n, np.int32), np.ones(n, bool))),
            "top": b.codes("top", [e.st.top for e in ul])[einv],
            "entry": b.codes("entry", [e.st.entry for e in ul])[einv],
        }
        b.add_bulk(lines, goids, cols, r.last_time, crash)


def _decode_args(arr: pa.Array):
    """The scan's arguments as a large_string array, or a list of str where not valid UTF-8."""
    try:
        return arr.cast(pa.large_string())
    except pa.ArrowInvalid:
        return [x.decode("utf-8", "replace") for x in arr.to_pylist()]


def _arg(args, k: int) -> str:
    return args[k] if isinstance(args, list) else args[k].as_py()


def _args_slice(args, i: int, j: int):
    return args[i:j] if isinstance(args, list) else args.slice(i, j - i)


# --- driving ---------------------------------------------------------------------------------


def read_chunks(path: str | Path, chunk_size: int | None = None) -> Iterator[bytes]:
    """The bytes of a file in chunks; gzip (by its magic number) is decompressed on the fly."""
    chunk_size = chunk_size or CHUNK_SIZE
    try:
        fh = open(path, "rb")
    except OSError as e:
        raise ParseError(f"{path}: cannot open: {e.strerror or e}") from None
    with fh:
        stream = gzip.GzipFile(fileobj=fh) if fh.read(2) == b"\x1f\x8b" else fh
        fh.seek(0)
        try:
            while chunk := stream.read(chunk_size):
                yield chunk
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise ParseError(f"{path}: unreadable gzip stream: {e}") from None


def _parse_chunks(chunks: Iterable[bytes], source: str, fast: bool = True, workers: int | None = None) -> Dumps:
    """Parse a stream of byte chunks.

    The text is cut into regions that end where a blank line starts, so no goroutine
    straddles two of them. With the fast path, regions are scanned (:func:`scan_blocks`,
    numpy and pyarrow kernels that release the GIL) by ``workers`` threads ahead of the
    reader, which takes them in order: the tables do not depend on the number of workers.
    """
    b = _Builder(source)
    r = _Reader(b)
    fp = _Fast(b, r) if fast else None
    workers = _default_workers() if workers is None else workers
    lineno = 1
    carry = b""
    total = 0
    pool: ThreadPoolExecutor | None = None
    queue: deque = deque()  # regions, in order: (data, length, scan future or None)

    def run_one() -> None:
        nonlocal lineno
        data, length, fut = queue.popleft()
        lineno = _region(r, fp, lineno, data, length, scanned=fut.result() if fut is not None else None)
        r.feed(lineno, b"")  # the blank line that ended the region
        lineno += 1
        if fut is not None:  # give back what the scan's arrays held (memory follows the tables)
            pa.default_memory_pool().release_unused()

    try:
        for chunk in _read_ahead(chunks, fast and workers > 1):
            total += len(chunk)
            data = carry + chunk if carry else chunk
            del chunk
            hold_cr = data[-1:] == b"\r"  # a CRLF may straddle two chunks
            if hold_cr:
                data = data[:-1]
            if b"\r" in data:
                data = data.replace(b"\r\n", b"\n")
            cut = data.rfind(b"\n\n")
            if cut < 0:
                carry = data
                if len(data) > 2 * MAX_LINE:  # no blank line for long: read it line by line
                    nl = data.rfind(b"\n")
                    if nl >= 0:
                        while queue:
                            run_one()
                        lineno = _region(r, None, lineno, data, nl)
                        carry = data[nl + 1 :]
            else:
                # the region ends where a blank line starts: blocks never straddle two regions
                fut = None
                if fp is not None and total > CHUNK_SIZE and workers > 1:
                    if pool is None:
                        pool = ThreadPoolExecutor(workers, thread_name_prefix="goforensics-scan")
                    fut = pool.submit(_scan_job, fp, memoryview(data)[:cut])
                queue.append((data, cut, fut))
                carry = data[cut + 2 :]
                while len(queue) > workers:
                    run_one()
            del data
            if hold_cr:
                carry += b"\r"
        while queue:
            run_one()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    ends_mid_line = bool(carry) and not carry.endswith(b"\n")
    if carry:
        carry = carry.replace(b"\r\n", b"\n").rstrip(b"\r")
        if carry.endswith(b"\n"):
            carry = carry[:-1]
        lineno = _region(r, fp, lineno, carry, len(carry), open_end=ends_mid_line)
    cut_input = r.finish(ends_mid_line, carry.rpartition(b"\n")[2] if ends_mid_line else b"")
    if total == PPROF_LIMIT and b.parts and b.parts[-1]["format"] == "debug=2":
        b.parts[-1]["truncated"] = True
        b.warn(lineno, 0, "truncated",
               "the input is exactly 64 MiB, where runtime/pprof cuts a debug=2 dump: goroutines are missing")
    elif cut_input:
        b.warn(lineno, 0, "truncated", "the input ends inside a goroutine")
    return b.tables()


def _default_workers() -> int:
    # beyond a few scan threads the reader's own work is the bottleneck
    return max(1, min(4, os.cpu_count() or 1))


def _read_ahead(chunks: Iterable[bytes], ahead: bool) -> Iterator[bytes]:
    """The chunks, the next one read (or decompressed) by a thread while this one is used."""
    it = iter(chunks)
    if not ahead:
        yield from it
        return
    first = next(it, None)
    if first is None:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="goforensics-read") as pool:
        nxt = pool.submit(next, it, None)
        yield first
        del first
        while (chunk := nxt.result()) is not None:
            nxt = pool.submit(next, it, None)
            yield chunk
            del chunk


def _scan_job(fp: _Fast, view: memoryview) -> Blocks:
    sb = scan_blocks(view)
    fp.precompute(sb)
    return sb


def _region(r: _Reader, fp: _Fast | None, lineno: int, data: bytes, length: int,
            open_end: bool = False, scanned: Blocks | None = None) -> int:
    """Feed the lines of ``data[:length]`` (fast path where it can); returns the next line number."""
    if fp is not None:
        return fp.region(lineno, data, length, open_end, scanned)
    feed = r.feed
    view = data if length == len(data) else data[:length]
    for ln in view.split(b"\n"):
        feed(lineno, ln)
        lineno += 1
    return lineno


def parse_text(text: str | bytes, source: str = "<text>", fast: bool = True, workers: int | None = None) -> Dumps:
    """Parse dump text of any dialect (or gzipped text) into :class:`~goforensics.model.Dumps`.

    >>> parse_text("no dump here").warnings[["kind", "message"]].values.tolist()
    [['skipped', '1 line(s) skipped: 1 text that is not part of a dump']]
    """
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ParseError(f"{source}: unreadable gzip stream: {e}") from None
    from .pprof import looks_like_profile, parse_profile

    if looks_like_profile(data[:4096]):
        return parse_profile(data, source=source)
    chunks = (data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE))
    return _parse_chunks(chunks, source, fast=fast, workers=workers)


def parse_file(path: str | Path, source: str | None = None, fast: bool = True, workers: int | None = None) -> Dumps:
    """Parse one file: text dumps of any kind, or a ``debug=0`` protobuf profile.

    ``workers``: threads scanning ahead on big inputs (default: the cores, at most 4); the
    tables are the same for any number.
    Raises :class:`ParseError` only when the file cannot be read at all.
    """
    src = str(path) if source is None else source
    chunks = read_chunks(path)
    first = [next(chunks, b"")]
    from .pprof import looks_like_profile, parse_profile

    if looks_like_profile(first[0][:4096]):
        return parse_profile(first[0] + b"".join(chunks), source=src)
    return _parse_chunks(_chain(first, chunks), src, fast=fast, workers=workers)


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """The first chunk, then the rest; the first is not kept once it has been read."""
    head = first.pop()
    if head:
        yield head
    del head
    yield from rest
