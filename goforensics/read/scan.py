"""Vectorised scanning of standard goroutine blocks: the kernels of the parser's fast path.

A *standard block* is the usual shape of a goroutine in a ``debug=2`` dump, preceded by a
blank line (or the start of the text) and followed by one (or the end)::

    goroutine 7 [chan receive] {handler: /api}:
    main.worker(0xc000012345, {0x1, 0x2})
    <TAB>/app/main.go:42 +0x1d
    created by main.main in goroutine 1
    <TAB>/app/main.go:20 +0x3e

:func:`scan_blocks` finds such blocks in a whole buffer with numpy and pyarrow kernels, with
no Python work per line. What varies from one goroutine to the next is cut out as arrays:
the goroutine id, the arguments of each frame (joined by newlines, one string per goroutine)
and the creator's id. What is left between those fields are the block's *pieces*: the
header's tail (state and labels), then the text from one frame's arguments to the next
(``)\\n<TAB>file:line +0x..\\nnext.function(``), and the ``created by`` lines. Pieces are
dictionary-encoded, so that each distinct piece is looked at once, and the sequence of a
block's pieces after the header identifies its stack.

The scan only looks at shapes. Whether a block may skip the reference reader is decided by
the parser (:class:`goforensics.read.fast.FastPath`), which checks every distinct piece with the
reader's own grammar and reads anything unusual with the reader.

>>> text = (b"goroutine 7 [sleep]:\\nmain.f(0x1)\\n\\t/a.go:3 +0x1\\n"
...         b"created by main.main in goroutine 1\\n\\t/a.go:9 +0x2")
>>> b = scan_blocks(text)
>>> b.goid.tolist(), b.cb_goid.tolist(), b.args.to_pylist()
([7], [1], [b'0x1'])
>>> [b.dictionary[c] for c in b.codes]
[b' [sleep]:', b'\\nmain.f(', b')\\n\\t/a.go:3 +0x1\\ncreated by main.main in goroutine ', b'\\n\\t/a.go:9 +0x2']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Blocks", "line_bounds", "scan_blocks"]

MAX_DIGITS = 18  # goroutine ids: int64 without overflow
MAX_ARGS = 8 << 20  # the reader skips longer lines
_GOROUTINE = b"goroutine "
_CREATED = b"created by "
_IN_GOROUTINE = b" in goroutine "


@dataclass
class Blocks:
    """The standard-shaped blocks of one buffer, as arrays (one entry per block)."""

    newlines: np.ndarray  # offset of every '\n' of the buffer (line i ends at newlines[i])
    size: int  # length of the buffer
    header: np.ndarray  # line index of each block's header
    end: np.ndarray  # line index just past each block's last line
    goid: np.ndarray  # goroutine id from the header
    cb_goid: np.ndarray  # id after 'created by ... in goroutine ', -1 where the piece keeps it
    nframes: np.ndarray  # frames (function lines) of each block
    has_cb: np.ndarray  # the block ends with 'created by' and its file line
    piece_off: np.ndarray  # block b's pieces: codes[piece_off[b]:piece_off[b+1]]
    codes: np.ndarray  # int32 index into dictionary: header tail, then the stack's pieces
    dictionary: list[bytes]
    args: pa.Array  # large_binary, one per block: each frame's arguments, '\n'-joined
    suspect: np.ndarray | None = None  # blocks whose arguments hold a parenthesis (None: none)
    m: np.ndarray | None = (
        None  # crash headers: the M id ('m=N'), -1 for 'm=nil'; None: no crash header
    )
    crash: np.ndarray | None = None  # crash headers ('gp=... m=...'): per block
    split_files: bool = False  # file lines are pieces of their own (their fp=/sp=/pc= cut out)
    extra: object = None  # what the caller computes from these (the parser's checks)

    @property
    def n_lines(self) -> int:
        return len(self.newlines) + 1

    def __len__(self) -> int:
        return len(self.header)


def line_bounds(
    newlines: np.ndarray, size: int, first: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of lines ``first`` to ``stop - 1`` of a buffer, from its newlines.

    Parameters
    ----------
    newlines : ndarray
        Offsets of the buffer's newline bytes.
    size : int
        The buffer's length.
    first, stop : int
        The lines wanted: ``first`` to ``stop - 1``.

    Returns
    -------
    tuple of (ndarray, ndarray)
        Each line's start offset and end offset (its newline excluded).

    Examples
    --------
    >>> nl = np.array([2, 3])
    >>> [x.tolist() for x in line_bounds(nl, 6, 0, 3)]
    [[0, 3, 4], [2, 3, 6]]
    """
    idx = np.arange(first, stop)
    return _pick(newlines, idx - 1, -1) + 1, _pick(newlines, idx, size)


def _find(buf, sub: bytes) -> bool:
    """Is ``sub`` in buf (bytes, or a memoryview of bytes starting at offset 0)?"""
    if isinstance(buf, memoryview):
        obj = buf.obj
        return obj.find(sub, 0, len(buf)) >= 0 if isinstance(obj, bytes) else sub in bytes(buf)
    return sub in buf


def _pick(x: np.ndarray, idx: np.ndarray, default: int) -> np.ndarray:
    """``x[idx]`` where idx is in range, else default."""
    if not len(x):
        return np.full(len(idx), default, np.int64)
    return np.where((idx >= 0) & (idx < len(x)), x[np.clip(idx, 0, len(x) - 1)], default)


def _equal_at(a: np.ndarray, pos: np.ndarray, pattern: bytes) -> np.ndarray:
    """Does ``a[p:p+len(pattern)]`` equal pattern, for each p (all in bounds)."""
    width = len(pattern)
    windows = np.lib.stride_tricks.as_strided(
        a, (len(a) - width + 1, width), (1, 1), writeable=False
    )
    return (windows[pos] == np.frombuffer(pattern, np.uint8)).all(axis=1)


def _leading_number(a: np.ndarray, pos: np.ndarray, limit: np.ndarray):
    """Decimal digits starting at pos (stopping at limit): (value, number of digits)."""
    n = len(a)
    val = np.zeros(len(pos), np.int64)
    nd = np.zeros(len(pos), np.int64)
    alive = np.ones(len(pos), bool)
    for k in range(MAX_DIGITS + 1):
        p = pos + k
        d = a[np.minimum(p, n - 1)] - np.uint8(48)
        alive &= (p < limit) & (d <= 9)
        if not alive.any():
            break
        val[alive] = val[alive] * 10 + d[alive]
        nd += alive
    return val, nd


def _equal_at_within(
    a: np.ndarray, pos: np.ndarray, pattern: bytes, stop: np.ndarray
) -> np.ndarray:
    """Like :func:`_equal_at`, False where the pattern would run past ``stop`` or the buffer."""
    width = len(pattern)
    inside = (pos >= 0) & (pos + width <= stop) & (pos + width <= len(a))
    out = np.zeros(len(pos), bool)
    if inside.any():
        out[inside] = _equal_at(a, pos[inside], pattern)
    return out


_HEX = np.zeros(256, bool)
_HEX[np.frombuffer(b"0123456789abcdefABCDEF", np.uint8)] = True


def _hex_run(a: np.ndarray, pos: np.ndarray, limit: np.ndarray, step: int) -> np.ndarray:
    """How many hex digits run from pos (step 1) or end just before pos (step -1), up to 17."""
    n = len(a)
    count = np.zeros(len(pos), np.int64)
    alive = np.ones(len(pos), bool)
    for k in range(17):
        p = pos + k if step > 0 else pos - 1 - k
        inside = (p < limit) if step > 0 else (p >= limit)
        alive &= inside & _HEX[a[np.clip(p, 0, n - 1)]]
        if not alive.any():
            break
        count += alive
    return count


def _crash_headers(a: np.ndarray, tail: np.ndarray, he: np.ndarray):
    """Headers 'goroutine N gp=0x.. m=(N|nil)[ mp=0x..] [': where the bracket starts, the M id."""
    new_tail, m = tail.copy(), np.full(len(tail), -1, np.int64)
    crash = _equal_at_within(a, tail, b" gp=0x", he)
    i = np.flatnonzero(crash)
    t, e = tail[i], he[i]
    h = _hex_run(a, t + 6, e, 1)
    ok = (h >= 1) & (h <= 16)
    p = t + 6 + h
    ok &= _equal_at_within(a, p, b" m=", e)
    p = p + 3
    mv, md = _leading_number(a, p, e)
    nil = _equal_at_within(a, p, b"nil", e)
    ok &= ((md >= 1) & (md <= 9)) | nil
    p = np.where(nil, p + 3, p + md)
    mp = _equal_at_within(a, p, b" mp=0x", e)
    h2 = _hex_run(a, p + 6, e, 1)
    ok &= ~mp | ((h2 >= 1) & (h2 <= 16))
    p = np.where(mp, p + 6 + h2, p)
    ok &= _equal_at_within(a, p, b" [", e)
    crash[i[~ok]] = False
    new_tail[i[ok]] = p[ok]
    m[i[ok]] = np.where(nil[ok], -1, mv[ok])
    return new_tail, m, crash


def _register_suffix(a: np.ndarray, ls: np.ndarray, le: np.ndarray) -> np.ndarray:
    """Where ' fp=0x.. sp=0x.. pc=0x..' starts at the end of each line [ls, le) (le: none)."""
    p = le.copy()
    ok = np.ones(len(le), bool)
    for name in (b" pc=0x", b" sp=0x", b" fp=0x"):
        h = _hex_run(a, p, ls, -1)
        ok &= (h >= 1) & (h <= 16)
        p = p - h - len(name)
        ok &= _equal_at_within(a, p, name, p + len(name))
    return np.where(ok, p, le)


def _trailing_number(a: np.ndarray, end: np.ndarray, limit: np.ndarray):
    """Decimal digits ending just before ``end`` (not before limit): (value, number of digits)."""
    n = len(a)
    val = np.zeros(len(end), np.int64)
    nd = np.zeros(len(end), np.int64)
    alive = np.ones(len(end), bool)
    scale = np.ones(len(end), np.int64)
    for k in range(1, MAX_DIGITS + 2):
        p = end - k
        d = a[np.clip(p, 0, n - 1)] - np.uint8(48)
        alive &= (p >= limit) & (d <= 9)
        if not alive.any():
            break
        val[alive] += d[alive] * scale[alive]
        scale[alive] *= 10
        nd += alive
    return val, nd


def _none(newlines: np.ndarray, size: int) -> Blocks:
    z = np.zeros(0, np.int64)
    return Blocks(
        newlines,
        size,
        z,
        z,
        z,
        z,
        z,
        np.zeros(0, bool),
        np.zeros(1, np.int64),
        np.zeros(0, np.int32),
        [],
        pa.array([], pa.large_binary()),
    )


def scan_blocks(buf: bytes) -> Blocks:
    """Find the standard-shaped goroutine blocks of ``buf`` (text with ``\\n`` line ends).

    Parameters
    ----------
    buf : bytes
        Dump text with ``\\n`` line ends.

    Returns
    -------
    Blocks
        One entry per block found: header and end line, goroutine id, frame count,
        ``created by`` id, the stack's pieces and each frame's arguments.

    Examples
    --------
    >>> b = scan_blocks(
    ...     b"goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n\\n"
    ...     b"goroutine 7 [select]:\\nmain.worker()\\n\\t/app/w.go:12 +0x1d\\n\\n"
    ... )
    >>> len(b), b.goid.tolist(), b.header.tolist(), b.end.tolist()
    (2, [1, 7], [0, 4], [3, 7])
    """
    a = np.frombuffer(buf, np.uint8)
    n = len(a)
    nl = np.flatnonzero(a == 10)
    if n < 16:
        return _none(nl, n)
    c = _candidates(buf, a, nl)
    if c is None or not len(c.hdr):
        return _none(nl, n)
    fr = _frames(buf, a, nl, c)
    cb = _created_by(a, c)
    if fr.bad.any():
        c, fr, cb = _drop(c, fr, cb, ~fr.bad)
        if not len(c.hdr):
            return _none(nl, n)
    split_files = c.has_eq and _find(buf, b" fp=0x")
    codes, dictionary, piece_off, frame_args, first_frame = _pieces(
        buf, a, nl, c, fr, cb, split_files
    )
    args, suspect = _joined_args(frame_args, first_frame, len(c.hdr))
    return Blocks(
        nl,
        n,
        c.hdr,
        c.end,
        c.goid,
        cb.goid,
        c.nframes,
        c.has_cb,
        piece_off,
        codes,
        dictionary,
        args,
        suspect,
        c.m,
        c.crash,
        split_files,
    )


@dataclass
class _Cand:
    """Blocks that look standard so far: one entry per block."""

    hdr: np.ndarray  # line of the header
    end: np.ndarray  # line just past the block
    goid: np.ndarray
    tail: np.ndarray  # offset where the header's ' [' starts
    he: np.ndarray  # offset where the header line ends
    has_cb: np.ndarray
    cbs: np.ndarray  # start and end offsets of the 'created by' line
    cbe: np.ndarray
    nframes: np.ndarray
    m: np.ndarray | None  # crash headers only
    crash: np.ndarray | None
    has_eq: bool

    def take(self, keep: np.ndarray) -> _Cand:
        pick = lambda x: None if x is None else x[keep]  # noqa: E731
        return _Cand(
            self.hdr[keep],
            self.end[keep],
            self.goid[keep],
            self.tail[keep],
            self.he[keep],
            self.has_cb[keep],
            self.cbs[keep],
            self.cbe[keep],
            self.nframes[keep],
            pick(self.m),
            pick(self.crash),
            self.has_eq,
        )


def _candidates(buf, a: np.ndarray, nl: np.ndarray) -> _Cand | None:
    """Header lines after a blank line (or first), whose block alternates function and file lines."""
    n, nlines = len(a), len(nl) + 1
    # Blank lines; a header is 'goroutine N [' on the line after a blank one (or the first).
    blank = np.flatnonzero(np.diff(nl) == 1) + 1  # line i is blank when nl[i] == nl[i-1] + 1
    if len(nl) and nl[0] == 0:
        blank = np.concatenate([[0], blank])
    cand = blank + 1
    cand = cand[cand < nlines]
    if n and a[0] == 103:
        cand = np.concatenate([[0], cand])
    hs = _pick(nl, cand - 1, -1) + 1
    he = _pick(nl, cand, n)
    ok = he - hs >= 15
    cand, hs, he = cand[ok], hs[ok], he[ok]
    ok = _equal_at(a, hs, _GOROUTINE)
    cand, hs, he = cand[ok], hs[ok], he[ok]
    if not len(cand):
        return None
    goid, nd = _leading_number(a, hs + 10, he)
    tail = hs + 10 + nd
    has_eq = _find(buf, b"=")  # a one-byte search first: multi-byte ones are slow on dump text
    mval = crash = None
    if has_eq and _find(buf, b" gp=0x"):  # crash dumps: 'goroutine N gp=0x.. m=N mp=0x.. ['
        tail, mval, crash = _crash_headers(a, tail, he)
    ok = (nd >= 1) & (nd <= MAX_DIGITS) & (tail + 2 < he)
    ok &= (a[np.minimum(tail, n - 1)] == 32) & (a[np.minimum(tail + 1, n - 1)] == 91)

    # A block runs to the next blank line; its body alternates function and file lines.
    end = _pick(blank, np.searchsorted(blank, cand), nlines)
    m = end - cand - 1
    ok &= (m >= 2) & (m % 2 == 0)
    # The line before the last may be 'created by ...'.
    cbl = end - 2
    cbs = _pick(nl, cbl - 1, -1) + 1
    cbe = _pick(nl, cbl, n)
    has_cb = ok & (cbe - cbs > len(_CREATED))
    has_cb[has_cb] = _equal_at(a, cbs[has_cb], _CREATED)
    nframes = m // 2 - has_cb
    ok &= nframes >= 1
    c = _Cand(cand, end, goid, tail, he, has_cb, cbs, cbe, nframes, mval, crash, has_eq)
    return c.take(np.flatnonzero(ok))


@dataclass
class _FrameLines:
    """The function lines of the blocks, one entry per frame."""

    fb: np.ndarray  # block of each frame
    k: np.ndarray  # its depth in the block
    first_frame: np.ndarray  # per block: index of its first frame
    lo: np.ndarray  # offset of the '(' that opens the arguments
    fe: np.ndarray  # offset of the end of the function line
    fl: np.ndarray  # line of the function line
    bad: np.ndarray  # per block: a function line that is not a plain frame

    def take(self, keep: np.ndarray, nframes: np.ndarray) -> _FrameLines:
        kf = keep[self.fb]
        fb, first, k = _frame_index(nframes)
        return _FrameLines(fb, k, first, self.lo[kf], self.fe[kf], self.fl[kf], self.bad[keep])


def _frame_index(nframes: np.ndarray):
    """For frames laid out block after block: the block of each, its block's first, its depth."""
    fb = np.repeat(np.arange(len(nframes)), nframes)
    first_frame = np.cumsum(nframes) - nframes
    return fb, first_frame, np.arange(int(nframes.sum())) - first_frame[fb]


def _frames(buf, a: np.ndarray, nl: np.ndarray, c: _Cand) -> _FrameLines:
    """Function lines: the arguments lie inside the line's last '(' and its final ')'."""
    fb, first_frame, k = _frame_index(c.nframes)
    fl = c.hdr[fb] + 1 + 2 * k  # line of each function line
    fe = nl[fl]  # a file line follows, so a newline ends it
    fs = _pick(nl, fl - 1, -1) + 1
    opens = np.flatnonzero(a == 40)
    q = np.searchsorted(opens, fe) - 1
    lo = opens[np.maximum(q, 0)] if len(opens) else np.zeros(len(fe), np.int64)
    good = (q >= 0) & (lo > fs) & (a[fe - 1] == 41) & (fe - lo < MAX_ARGS)
    if _find(buf, b"\\"):  # a backslash in the arguments could make an escaped dump line
        bs = np.flatnonzero(a == 92)
        good &= np.searchsorted(bs, fe) == np.searchsorted(bs, lo)
    bad = np.zeros(len(c.hdr), bool)
    bad[fb[~good]] = True
    return _FrameLines(fb, k, first_frame, lo, fe, fl, bad)


@dataclass
class _CreatedBy:
    """'created by X in goroutine N': N varies per goroutine, the rest is a piece."""

    split: np.ndarray  # per block: N is cut out of the piece
    goid: np.ndarray  # N, -1 where not cut out
    digits: np.ndarray  # its number of digits

    def take(self, keep: np.ndarray) -> _CreatedBy:
        return _CreatedBy(self.split[keep], self.goid[keep], self.digits[keep])


def _created_by(a: np.ndarray, c: _Cand) -> _CreatedBy:
    nb = len(c.hdr)
    cbi = np.flatnonzero(c.has_cb)
    cbv, cbn = _trailing_number(a, c.cbe[cbi], c.cbs[cbi] + len(_CREATED))
    split = (cbn >= 1) & (cbn <= MAX_DIGITS)
    at = c.cbe[cbi] - cbn - len(_IN_GOROUTINE)
    split &= at > c.cbs[cbi] + len(_CREATED)
    split[split] = _equal_at(a, at[split], _IN_GOROUTINE)
    out = _CreatedBy(np.zeros(nb, bool), np.full(nb, -1, np.int64), np.zeros(nb, np.int64))
    out.split[cbi[split]] = True
    out.goid[cbi[split]] = cbv[split]
    out.digits[cbi[split]] = cbn[split]
    return out


def _drop(c: _Cand, fr: _FrameLines, cb: _CreatedBy, keep: np.ndarray):
    c = c.take(keep)
    return c, fr.take(keep, c.nframes), cb.take(keep)


def _pieces(buf, a, nl, c: _Cand, fr: _FrameLines, cb: _CreatedBy, split_files: bool):
    """The partition of each block into elements, dictionary-encoded; and each frame's arguments.

    Boundaries: Ts He A1 B1 ... AN BN [D D2] End, an element starting at each: header tail |
    first piece | args | piece | ... | gap. With register suffixes (crash dumps), each frame has
    A B S E: args | file line | fp=.. | name.
    """
    n, nb = len(a), len(c.hdr)
    bend = _pick(nl, c.end - 1, n)  # end of the last line
    per = 4 if split_files else 2
    s2 = 2 * cb.split
    width = 3 + per * c.nframes + s2
    base = np.cumsum(width) - width
    total = int(width.sum())
    bnd = np.empty(total, np.int64)
    valid = np.ones(total, bool)
    bnd[base] = c.tail
    bnd[base + 1] = c.he
    aslot = base[fr.fb] + 2 + per * fr.k
    bnd[aslot] = fr.lo + 1
    bnd[aslot + 1] = fr.fe - 1
    valid[aslot] = False
    if split_files:  # the file line after each function line, and its register suffix
        file_end = _pick(nl, fr.fl + 1, n)
        bnd[aslot + 2] = _register_suffix(a, fr.fe + 1, file_end)
        bnd[aslot + 3] = file_end
        valid[aslot + 2] = False
    last = base + 2 + per * c.nframes
    sb = np.flatnonzero(cb.split)
    bnd[last[sb]] = c.cbe[sb] - cb.digits[sb]
    bnd[last[sb] + 1] = c.cbe[sb]
    valid[last[sb]] = False
    bnd[last + s2] = bend
    valid[last + s2] = False
    elements = total - 1
    offs = pa.py_buffer(bnd)
    data = pa.py_buffer(buf)
    coded = valid[:-1]
    arr = pa.Array.from_buffers(
        pa.large_binary(),
        elements,
        [pa.py_buffer(np.packbits(coded, bitorder="little")), offs, data],
        null_count=int(elements - coded.sum()),
    )
    enc = pc.dictionary_encode(arr)
    ind = enc.indices
    raw = np.frombuffer(ind.buffers()[1], np.int32, count=len(ind) + ind.offset)[ind.offset :]
    npieces = 2 + (2 if split_files else 1) * c.nframes + cb.split
    piece_off = np.zeros(nb + 1, np.int64)
    np.cumsum(npieces, out=piece_off[1:])
    plain = pa.Array.from_buffers(pa.large_binary(), elements, [None, offs, data])
    frame_args = plain.take(pa.array(aslot))
    return raw[coded], enc.dictionary.to_pylist(), piece_off, frame_args, fr.first_frame


def _joined_args(frame_args: pa.Array, first_frame: np.ndarray, nb: int):
    """Each block's arguments joined by newlines; and the blocks whose arguments hold a parenthesis."""
    ends = np.concatenate([first_frame, [len(frame_args)]])
    lists = pa.LargeListArray.from_arrays(pa.array(ends), frame_args)
    args = pc.binary_join(lists, pa.scalar(b"\n", pa.large_binary()))
    # arguments never hold a parenthesis: where one does, the line is not a frame line
    buf = args.buffers()[2]
    joined = np.frombuffer(buf, np.uint8) if buf is not None else np.zeros(0, np.uint8)
    odd = np.flatnonzero((joined | 1) == 41)
    suspect = None
    if len(odd):
        offs = np.frombuffer(args.buffers()[1], np.int64, count=len(args) + 1 + args.offset)[
            args.offset :
        ]
        suspect = np.zeros(nb, bool)
        suspect[np.searchsorted(offs, odd + offs[0], side="right") - 1] = True
    return args, suspect
