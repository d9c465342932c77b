r"""The fast path: standard goroutine blocks of a stack already seen, added from arrays.

In a big dump most goroutines are parked in a few places. :func:`goforensics.read.scan.scan_blocks`
cuts whole regions of text into arrays (numpy and pyarrow kernels, no Python work per line);
:class:`FastPath` checks every distinct piece of those blocks once against the reader's own
grammar, reads each distinct stack once with a scratch :class:`~goforensics.read.reader.Reader`
(the reference), and then adds every other goroutine on a known stack from arrays: its id,
state, labels, arguments and creator. Anything unusual goes to the reader, in order, so both
paths give the same tables (the property tests check it on every dialect).

>>> from goforensics.read.tables import TableBuilder
>>> from goforensics.read.reader import Reader
>>> b = TableBuilder("<text>")
>>> r = Reader(b)
>>> block = b"goroutine %d [sleep]:\nmain.f(0x1)\n\t/a.go:3 +0x1\n"
>>> text = b"\n".join(block % k for k in range(1, 101))
>>> FastPath(b, r).region(1, text, len(text))
401
>>> _ = r.finish(False)
>>> d = b.tables()
>>> len(d.goroutines), len(d.frames)
(100, 1)
"""

from __future__ import annotations

import re
import threading

import numpy as np
import pandas as pd
import pyarrow as pa

from .grammar import (
    CREATED_BY,
    FILE_LINE,
    HEADER,
    MAX_LINE,
    PANIC,
    Header,
    parse_bracket,
    parse_labels,
)
from .reader import Mode, Reader
from .scan import Blocks, line_bounds, scan_blocks
from .stacks import Frame, Stack
from .tables import TableBuilder

__all__ = ["SMALL_RUN", "FastPath"]

_FAST_HEADER = re.compile(rb"goroutine (\d+) \[([^\]\n]*)\](?: (\{[^\n]*\}))?:\Z")
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")  # what bytes.strip() removes

# Kinds of piece (see goforensics.read.scan), by where they stand in a block. With file lines cut
# apart (crash dumps), a frame's file line is a _LAST piece and the block ends with a _TAIL_*.
_TAIL, _FIRST, _MID, _LAST, _LAST_CB, _LAST_CB_WHOLE, _CB_FILE = range(1, 8)
_TAIL_NONE, _TAIL_CB, _TAIL_CB_WHOLE = range(8, 11)
_BLANK_RUN = 4096  # more repeated blank lines than this in a stretch are skipped in bulk
SMALL_RUN = 48  # runs shorter than this are added row by row (a batch costs more)
_KEY_MIX = np.uint64(0x9E3779B97F4A7C15)


def _fast_name(x: bytes) -> bool:
    """A function name the reader reads as a plain frame (given arguments without parens)."""
    return (
        bool(x)
        and x[0] not in _WHITESPACE
        and len(x) < MAX_LINE
        and b"\n" not in x
        and b"\\" not in x
        and not x.startswith((b"created by ", b'{"'))
        and PANIC.match(x + b"(") is None
    )


def _fast_file(x: bytes) -> bool:
    """A whole line the reader reads as the file line of the frame before it."""
    return (
        len(x) < MAX_LINE
        and b"\n" not in x
        and b"\\" not in x
        and x[:2] != b'{"'
        and FILE_LINE.match(x.strip()) is not None
    )


def _fast_created(x: bytes) -> bool:
    """A whole 'created by ...' line the reader reads as such."""
    return len(x) < MAX_LINE and b"\\" not in x and CREATED_BY.match(x.strip()) is not None


def _fast_tail(t: bytes) -> tuple[Header, str] | None:
    """The header and labels of a header line ending in ``t``, if the reader reads it as a plain header."""
    line = b"goroutine 1" + t
    if len(line) >= MAX_LINE or b"\\n" in line:
        return None
    fm = _FAST_HEADER.match(line)
    m = HEADER.search(line)
    if (
        fm is None
        or m is None
        or m.start()
        or m.group(3) != fm.group(2)
        or m.group(4) != fm.group(3)
    ):
        return None
    labels = fm.group(3)
    hdr = parse_bracket(fm.group(2))
    if hdr.minutes is None:
        return None
    return hdr, (parse_labels(labels.decode("utf-8", "replace")) if labels else "")


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
            m = CREATED_BY.match(body + b"1")
            return (
                _TAIL_CB if m is not None and m.group(2) == b"1" and b"\\" not in body else 0
            ), None
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
                m = CREATED_BY.match(x + b"1")
                return (
                    _LAST_CB if m is not None and m.group(2) == b"1" and b"\\" not in x else 0
                ), None
            return 0, None
        if len(parts) == 3 and _fast_created(parts[1]) and _fast_file(parts[2]):
            return _LAST_CB_WHOLE, None
    return 0, None


class _Entry:
    """A stack the fast path knows: its pieces, and what every goroutine on it shares."""

    __slots__ = ("carried", "codes", "created", "creator", "sections", "st")

    def __init__(self, codes, sections, created, creator):
        self.codes = codes  # global codes of the block's pieces after the header
        self.sections = sections
        self.created = created  # (function, file, line) of 'created by'
        self.creator = creator  # creator goid when it is part of the pieces, else None
        self.st: Stack | None = None  # registered with the builder on first use
        self.carried = False  # learnt in an earlier file: its frames' arguments are that file's

    def carry(self) -> _Entry:
        """This entry for the next file of a series: not registered there yet."""
        e = _Entry(self.codes, self.sections, self.created, self.creator)
        e.carried = True
        return e


class FastPath:
    """Reads runs of standard blocks (see :mod:`goforensics.read.scan`) without the reference reader.

    Every distinct piece is checked once against the reader's grammar; every distinct stack is
    read once by a scratch reader (the reference) and remembered with its pieces; a block
    whose pieces equal a known stack's is then added from arrays: its id, state, labels,
    arguments and creator. Anything else, and any block met while the reader is not between
    goroutines, goes to the reader, in order. Both paths give the same tables (tested).
    """

    def __init__(self, builder: TableBuilder, reader: Reader, prior: FastPath | None = None):
        """``prior``: the fast path of the file read before, in a series: what it learnt of
        pieces and stacks is taken over (the files of one program share their stacks), so
        each distinct stack is read by the reference reader once per series, not per file.
        A stack taken over gets the arguments of the first goroutine on it in this file, as
        if it had been learnt here (the tables do not change)."""
        self.b = builder
        self.r = reader
        if prior is not None:
            self.code_of = prior.code_of
            self.kinds, self.headers = prior.kinds, prior.headers
            self._kind_arr, self._rand, self._rng = prior._kind_arr, prior._rand, prior._rng
            self.entry_of = prior.entry_of
            self.entries = [e.carry() for e in prior.entries]
            self._ent_arrays = prior._ent_arrays
            self._lock = prior._lock
            return
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
            self._rand = np.concatenate(
                [self._rand, np.frombuffer(self._rng.bytes(8 * extra), np.uint64)]
            )

    def _entry_arrays(self) -> tuple:
        if self._ent_arrays is None or len(self._ent_arrays[1]) != len(self.entries):
            lens = np.array([len(e.codes) for e in self.entries], np.int64)
            start = np.cumsum(lens) - lens
            allc = (
                np.concatenate([e.codes for e in self.entries])
                if self.entries
                else np.zeros(0, np.int64)
            )
            self._ent_arrays = (allc, start, lens)
        return self._ent_arrays

    def learn(self, buf: bytes, sb: Blocks, k: int, codes: np.ndarray) -> _Entry | None:
        """Read block k with a scratch reference reader; its stack, if the block is what it looks.

        Parameters
        ----------
        buf : bytes
            The buffer the blocks were scanned from.
        sb : Blocks
            Its blocks (:func:`goforensics.read.scan.scan_blocks`).
        k : int
            The block to read.
        codes : ndarray
            The global codes of its pieces after the header (the key of its stack).

        Returns
        -------
        _Entry or None
            The stack's frames, its ``created by`` and creator, or None where the reference
            reader reads the block otherwise than its shape says (then the reader takes it).

        Examples
        --------
        >>> import numpy as np
        >>> from goforensics.read.reader import Reader
        >>> from goforensics.read.scan import scan_blocks
        >>> from goforensics.read.tables import TableBuilder
        >>> b = TableBuilder("<text>")
        >>> fp = FastPath(b, Reader(b))
        >>> buf = b"goroutine 1 [sleep]:\\nmain.f(0x1)\\n\\t/a.go:3 +0x1\\n\\ngoroutine 2 [sleep]:\\n"
        >>> sb = scan_blocks(buf)
        >>> e = fp.learn(buf, sb, 0, np.array([], np.int64))
        >>> [(f.function, f.args, f.line) for f in e.sections[0]], e.created
        ([('main.f', '0x1', 3)], ('', '', None))
        """
        starts, ends = line_bounds(sb.newlines, sb.size, int(sb.header[k]), int(sb.end[k]))
        scratch = TableBuilder("")
        rr = Reader(scratch, self.r.limits)
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            rr.feed(1, buf[s:e])
        rr.feed(1, b"")
        c = scratch.cols
        m = None if sb.m is None or sb.m[k] < 0 else int(sb.m[k])
        if (
            len(c["part"]) != 1
            or scratch.warnings
            or rr.g is not None
            or rr.mode is not Mode.OUT
            or c["goid"][0] != sb.goid[k]
            or c["elided"][0]
            or c["ancestors"][0]
            or c["m"][0] != m
        ):
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
        return _Entry(
            codes,
            sections,
            (c["created_by"][0], c["created_by_file"][0], c["created_by_line"][0]),
            creator,
        )

    # -- a region -------------------------------------------------------------------------
    def region(
        self,
        lineno: int,
        buf: bytes,
        length: int,
        open_end: bool = False,
        scanned: Blocks | None = None,
    ) -> int:
        """Read the lines of ``buf[:length]`` (numbered from ``lineno``); returns the next line number.

        ``open_end``: the input ends inside the last line, so the last block is the reader's
        (it may be cut). ``scanned``: :func:`scan_blocks` of it, if already done.

        Parameters
        ----------
        lineno : int
            The number of the buffer's first line.
        buf : bytes
            The text.
        length : int
            How much of it to read.
        open_end : bool, default False
            The input ends inside the last line.
        scanned : Blocks, optional
            :func:`goforensics.read.scan.scan_blocks` of it, if already done.

        Returns
        -------
        int
            The number of the line after the last one read.

        Examples
        --------
        >>> from goforensics.read.reader import Reader
        >>> from goforensics.read.scan import scan_blocks
        >>> from goforensics.read.tables import TableBuilder
        >>> b = TableBuilder("<text>")
        >>> fp = FastPath(b, Reader(b))
        >>> buf = b"goroutine 1 [sleep]:\\nmain.f(0x1)\\n\\t/a.go:3 +0x1\\n\\ngoroutine 2 [sleep]:\\n"
        >>> sb = scan_blocks(buf)
        >>> fp.region(1, buf, len(buf))  # six lines, the last one empty: line 7 comes next
        7
        """
        sb = scanned if scanned is not None else scan_blocks(memoryview(buf)[:length])
        if self.r.max_line < MAX_LINE:  # pieces are checked against MAX_LINE: the reader reads all
            self._feed(buf, sb, lineno, 0, sb.n_lines)
            return lineno + sb.n_lines
        ok, ent, tails = self._prepare(buf, sb, open_end)
        cursor = 0
        good = np.flatnonzero(ok)
        if len(good):
            # runs: consecutive good blocks with exactly one blank line between them
            brk = (
                np.flatnonzero(
                    (np.diff(good) != 1) | (sb.header[good[1:]] != sb.end[good[:-1]] + 1)
                )
                + 1
            )
            args = _decode_args(sb.args)
            for lo, hi in zip(
                np.concatenate([[0], brk]).tolist(),
                np.concatenate([brk, [len(good)]]).tolist(),
                strict=True,
            ):
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
        return (
            r.mode is Mode.OUT
            and r.g is None
            and r.prefix is None
            and r.bucket is None
            and not r.json_partial
            and r.pending is None
        )

    def _feed(self, buf: bytes, sb: Blocks, lineno: int, lo: int, hi: int) -> None:
        if hi <= lo:
            return
        starts, ends = line_bounds(sb.newlines, sb.size, lo, hi)
        empty = starts == ends
        repeat = empty[1:] & empty[:-1]  # an empty line after an empty line
        if int(repeat.sum()) > _BLANK_RUN:
            self._feed_sparse(buf, lineno + lo, starts, ends, repeat)
            return
        feed = self.r.feed
        for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            feed(lineno + lo + i, buf[s:e])

    def _feed_sparse(self, buf: bytes, lineno: int, starts, ends, repeat) -> None:
        """Feed lines, but of a run of empty lines only the first: after one, the reader is
        between goroutines and the others change nothing (but in a race report, which counts
        them). Millions of blank lines cost what their count in numpy costs."""
        r = self.r
        keep = np.flatnonzero(np.concatenate([[True], ~repeat]))
        nxt = np.append(keep[1:], len(starts)).tolist()
        for i, j, s, e in zip(
            keep.tolist(), nxt, starts[keep].tolist(), ends[keep].tolist(), strict=True
        ):
            r.feed(lineno + i, buf[s:e])
            if j > i + 1:
                if r.mode is Mode.RACE:
                    for k in range(i + 1, j):
                        r.feed(lineno + k, b"")
                r.last_lineno = lineno + j - 1

    def precompute(self, sb: Blocks) -> None:
        """What the checks need that does not depend on the reader (the scan threads run it):
        global codes of the pieces, the kind check, and a key per block.

        Parameters
        ----------
        sb : Blocks
            Blocks of a buffer; the result is kept in ``sb.extra``.

        Examples
        --------
        >>> from goforensics.read.reader import Reader
        >>> from goforensics.read.scan import scan_blocks
        >>> from goforensics.read.tables import TableBuilder
        >>> b = TableBuilder("<text>")
        >>> fp = FastPath(b, Reader(b))
        >>> buf = b"goroutine 1 [sleep]:\\nmain.f(0x1)\\n\\t/a.go:3 +0x1\\n\\ngoroutine 2 [sleep]:\\n"
        >>> sb = scan_blocks(buf)
        >>> fp.precompute(sb)
        >>> len(sb.extra)  # piece codes, their blocks and places, counts, firsts, bad blocks, keys
        7
        """
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
            expect[last] = np.where(
                split, _TAIL_CB, np.where(sb.has_cb, _TAIL_CB_WHOLE, _TAIL_NONE)
            )
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
        used, first = np.unique(ents, return_index=True)
        for e, k in sorted(zip(used.tolist(), first.tolist(), strict=True), key=lambda x: x[1]):
            if entries[e].st is None:  # register stacks in order of first use
                entries[e].st = b.stack(_own_sections(entries[e], _arg(args, i + k)), False)
        lines = lineno + sb.header[i:j]
        goids = sb.goid[i:j]
        cbg = sb.cb_goid[i:j]
        tl = tails[i:j]
        n = j - i
        heads = self.headers
        ms = sb.m[i:j] if sb.m is not None else None
        crash = sb.crash[i:j] if sb.crash is not None else None
        if n < SMALL_RUN:  # read at call time: tests lower it to take every run as a batch
            self._rows_one_by_one(sb, i, j, ents, lines, tails[i:j], args)
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
            "wait_minutes": pd.array(
                np.array([h[0].minutes for h in uh], np.int32)[tinv], dtype="Int32"
            ),
            "locked": np.array([h[0].locked for h in uh], bool)[tinv],
            "leaked": np.array([h[0].leaked for h in uh], bool)[tinv],
            "labels": b.codes("labels", [h[1] for h in uh])[tinv],
            "created_by": b.codes("created_by", [e.created[0] for e in ul])[einv],
            "created_by_file": b.codes("created_by_file", [e.created[1] for e in ul])[einv],
            "created_by_line": pd.arrays.IntegerArray(
                np.array([x or 0 for x in cb_lines], np.int32)[einv],
                np.array([x is None for x in cb_lines], bool)[einv],
            ),
            "creator_goid": pd.arrays.IntegerArray(creators, creators < 0),
            "ancestors": np.full(n, b.codes("ancestors", [""])[0], np.int32),
            "elided": np.zeros(n, bool),
            "truncated": np.zeros(n, bool),
            "n_frames": np.array([len(e.st.functions) for e in ul], np.int32)[einv],
            "stack_id": np.array([e.st.stack_id for e in ul], np.uint64)[einv],
            "args": _args_slice(args, i, j),
            "m": (
                pd.arrays.IntegerArray(ms.astype(np.int32), ms < 0)
                if ms is not None
                else pd.arrays.IntegerArray(np.zeros(n, np.int32), np.ones(n, bool))
            ),
            "top": b.codes("top", [e.st.top for e in ul])[einv],
            "entry": b.codes("entry", [e.st.entry for e in ul])[einv],
        }
        b.add_bulk(lines, goids, cols, r.last_time, crash)

    def _rows_one_by_one(self, sb: Blocks, i: int, j: int, ents, lines, tl, args) -> None:
        """Add blocks i..j-1 row by row (a short run: a batch would cost more)."""
        b, entries, heads = self.b, self.entries, self.headers
        last_time = self.r.last_time
        goids, cbg = sb.goid[i:j], sb.cb_goid[i:j]
        ms = sb.m[i:j] if sb.m is not None else None
        crash = sb.crash[i:j] if sb.crash is not None else None
        for k in range(j - i):
            e = entries[ents[k]]
            hdr, labels = heads[tl[k]]
            line = int(lines[k])
            if last_time:
                p = b.ensure_part(line)
                if p.get("taken_at") is None:
                    p["taken_at"] = last_time
            creator = int(cbg[k]) if cbg[k] >= 0 else e.creator
            m = int(ms[k]) if ms is not None and ms[k] >= 0 else None
            crashed = bool(crash is not None and crash[k])
            created = (*e.created, creator)
            b.add(
                line,
                int(goids[k]),
                1,
                hdr,
                labels,
                e.st,
                _arg(args, i + k),
                created,
                m=m,
                crash=crashed,
            )


def _decode_args(arr: pa.Array):
    """The scan's arguments as a large_string array, or a list of str where not valid UTF-8."""
    try:
        return arr.cast(pa.large_string())
    except pa.ArrowInvalid:
        return [x.decode("utf-8", "replace") for x in arr.to_pylist()]


def _own_sections(e: _Entry, args: str) -> list:
    """An entry's frames, with the arguments of the goroutine that first uses it in this file
    (those of the file where it was learnt are not this file's)."""
    if not e.carried:
        return e.sections
    own = args.split("\n")
    frames = e.sections[0]
    if len(own) != len(frames):  # cannot happen for a block whose pieces are the entry's
        return e.sections
    return [
        [
            Frame(f.function, a, f.inlined, f.file, f.line, f.offset, f.elided_before)
            for f, a in zip(frames, own, strict=True)
        ]
    ]


def _arg(args, k: int) -> str:
    return args[k] if isinstance(args, list) else args[k].as_py()


def _args_slice(args, i: int, j: int):
    return args[i:j] if isinstance(args, list) else args.slice(i, j - i)
