"""Read ``debug=0`` goroutine profiles: gzipped ``profile.proto`` messages.

No maintained pprof parser exists on PyPI, and the part of the wire format a
goroutine profile uses is small, so this module decodes it directly: varints,
length-delimited fields, packed repeated integers. It reads the samples (one
per distinct stack and label set, with a goroutine count), their locations
(inlined calls expanded, innermost first), functions, labels and the capture
time. Profiles carry no goroutine ids or wait states: states are inferred
from the frames and flagged ``state_inferred``.

>>> from goforensics.read.pprof import encode_varint, decode_varint
>>> decode_varint(encode_varint(300), 0)
(300, 2)
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pandas as pd

from ..errors import LimitError, ParseError
from ..goruntime import infer_state
from ..model import Dumps
from .limits import Limits, current, gunzip_chunks
from .stacks import Frame
from .tables import TableBuilder

__all__ = [
    "Profile",
    "decode_profile",
    "decode_varint",
    "encode_varint",
    "looks_like_profile",
    "parse_profile",
]


def decode_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns (value, next position).

    Parameters
    ----------
    buf : bytes
        The message.
    pos : int
        Offset of the varint's first byte.

    Returns
    -------
    tuple of (int, int)
        The value, and the offset just past the varint.

    Raises
    ------
    ParseError
        If the varint is truncated or longer than 10 bytes.

    Examples
    --------
    >>> decode_varint(b"\\xac\\x02", 0)
    (300, 2)
    """
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ParseError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ParseError("varint longer than 10 bytes")


def looks_like_profile(head: bytes) -> bool:
    """Is this the start of a profile.proto message (binary; fields 1-14, valid wire types)?

    Parameters
    ----------
    head : bytes
        The first bytes of an input (after gunzip).

    Returns
    -------
    bool
        True where they parse as the start of a profile.proto message.

    Examples
    --------
    >>> looks_like_profile(b"goroutine 1 [running]:"), looks_like_profile(b"\\x0a\\x04\\x08\\x01\\x10\\x02\\x5a\\x00")
    (False, True)
    """
    if not head or head[:1] in (b"g", b"p", b"f", b"{") or b"goroutine " in head[:256]:
        return False
    if sum(1 for c in head[:1024] if c < 9 or 13 < c < 32) * 20 < min(len(head), 1024):
        return False
    pos, seen = 0, 0
    try:
        while pos < len(head) and seen < 8:
            key, pos = decode_varint(head, pos)
            num, wt = key >> 3, key & 7
            if not 1 <= num <= 14 or wt not in (0, 2):
                return False
            val, pos = decode_varint(head, pos)
            if wt == 2:
                pos += val
            seen += 1
    except ParseError:  # the head is cut inside a field: judge by what was read
        pass
    return seen >= 2


def encode_varint(value: int) -> bytes:
    """Encode an integer as a protobuf varint (the profile writer's and tests' encoder).

    Parameters
    ----------
    value : int
        An integer; a negative one is written as protobuf writes an int64, in 64-bit two's
        complement (ten bytes).

    Returns
    -------
    bytes
        Its base-128 varint encoding, low groups first.

    Examples
    --------
    >>> encode_varint(300), encode_varint(1)
    (b'\\xac\\x02', b'\\x01')
    >>> decode_varint(encode_varint(2**40), 0)
    (1099511627776, 6)
    >>> len(encode_varint(-1)), decode_varint(encode_varint(-1), 0)[0] == 2**64 - 1
    (10, True)
    """
    value &= (1 << 64) - 1  # int64 fields are two's complement on the wire
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf: bytes):
    """Yield (field number, wire type, value) for one message; value is int or bytes."""
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = decode_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = decode_varint(buf, pos)
        elif wt == 2:
            ln, pos = decode_varint(buf, pos)
            if pos + ln > n:
                raise ParseError(f"field {num} runs past the end of its message")
            val = buf[pos : pos + ln]
            pos += ln
        elif wt in (1, 5):
            size = 8 if wt == 1 else 4
            if pos + size > n:
                raise ParseError(f"field {num} runs past the end of its message")
            val = int.from_bytes(buf[pos : pos + size], "little")
            pos += size
        else:
            raise ParseError(f"unsupported wire type {wt} (field {num})")
        yield num, wt, val


def _ints(wt: int, val) -> list[int]:
    """A repeated integer field: packed (bytes) or one value."""
    if wt != 2:
        return [val]
    out, pos = [], 0
    while pos < len(val):
        v, pos = decode_varint(val, pos)
        out.append(v)
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _message(buf: bytes) -> dict[int, int | bytes]:
    """The fields of a small sub-message (last value wins), numbers and bytes as decoded."""
    return {n: v for n, _, v in _fields(buf)}


def _int(d: dict, k: int) -> int:
    v = d.get(k, 0)
    return v if isinstance(v, int) else 0


@dataclass
class Profile:
    """The decoded parts of a profile.proto that goroutine analysis needs."""

    sample_types: list[tuple[str, str]] = field(default_factory=list)
    samples: list[tuple[list[int], list[int], dict[str, str]]] = field(default_factory=list)
    locations: dict[int, tuple[int, list[tuple[int, int]]]] = field(default_factory=dict)
    functions: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    time_nanos: int = 0
    comments: list[str] = field(default_factory=list)


def decode_profile(data: bytes, limits: Limits | None = None) -> Profile:
    """Decode a (gzipped or raw) profile.proto into a :class:`Profile`.

    A gzipped message is inflated as a stream, never past the ``message`` budget of
    :class:`~goforensics.read.limits.Limits` (:class:`~goforensics.errors.LimitError`).

    Parameters
    ----------
    data : bytes
        The profile, gzipped or not.
    limits : Limits, optional
        Size budgets (default: the current ones).

    Returns
    -------
    Profile
        Sample types, samples (location ids, values, labels), locations, functions,
        ``time_nanos`` and comments.

    Raises
    ------
    ParseError
        If the bytes are not a well-formed protobuf message.

    Examples
    --------
    >>> def fld(n, b):  # a length-delimited field
    ...     return encode_varint(n << 3 | 2) + encode_varint(len(b)) + b
    >>> def num(n, v):  # a varint field
    ...     return encode_varint(n << 3) + encode_varint(v)
    >>> strings = [b"", b"goroutine", b"count", b"main.main", b"/app/main.go"]
    >>> data = (
    ...     fld(1, num(1, 1) + num(2, 2))  # sample type: goroutine/count
    ...     + fld(2, num(1, 1) + num(2, 3))  # one sample: location 1, 3 goroutines
    ...     + fld(4, num(1, 1) + fld(4, num(1, 1) + num(2, 9)))  # location 1: function 1, line 9
    ...     + fld(5, num(1, 1) + num(2, 3) + num(4, 4))  # function 1: main.main in /app/main.go
    ...     + b"".join(fld(6, s) for s in strings)  # the string table
    ... )
    >>> p = decode_profile(data)
    >>> p.sample_types, p.samples, p.functions
    ([('goroutine', 'count')], [([1], [3], {})], {1: ('main.main', '/app/main.go', 0)})
    """
    if data[:2] == b"\x1f\x8b":
        budget = current(limits).message
        data = b"".join(gunzip_chunks(io.BytesIO(data), budget, "profile", 1 << 20))
    strings: list[str] = []
    raw_types, raw_samples, raw_locs, raw_funcs, comments = [], [], [], [], []
    prof = Profile()
    for num, wt, val in _fields(data):
        if num == 1 and wt == 2:
            raw_types.append(val)
        elif num == 2 and wt == 2:
            raw_samples.append(val)
        elif num == 4 and wt == 2:
            raw_locs.append(val)
        elif num == 5 and wt == 2:
            raw_funcs.append(val)
        elif num == 6 and wt == 2:
            strings.append(val.decode("utf-8", "replace"))
        elif num == 9 and wt == 0:
            prof.time_nanos = _signed(val)
        elif num == 13 and wt in (0, 2):
            comments.extend(_ints(wt, val))

    def s(i) -> str:
        return strings[i] if isinstance(i, int) and 0 <= i < len(strings) else ""

    # A field of the wrong wire type reads as absent: mangled input gives fewer facts, not a crash.
    for t in raw_types:
        d = _message(t)
        prof.sample_types.append((s(d.get(1)), s(d.get(2))))
    for f in raw_funcs:
        d = _message(f)
        prof.functions[_int(d, 1)] = (s(d.get(2)), s(d.get(4)), _int(d, 5))
    for loc in raw_locs:
        lid, addr, lines = 0, 0, []
        for n, wt, v in _fields(loc):
            if n == 1 and wt == 0:
                lid = v
            elif n == 3 and wt == 0:
                addr = v
            elif n == 4 and wt == 2:
                ld = _message(v)
                line = _signed(_int(ld, 2))
                lines.append((_int(ld, 1), line if 0 <= line < 1 << 31 else None))
        prof.locations[lid] = (addr, lines)
    for smp in raw_samples:
        locs, values, labels = [], [], {}
        for n, wt, v in _fields(smp):
            if n == 1 and wt in (0, 2):
                locs.extend(_ints(wt, v))
            elif n == 2 and wt in (0, 2):
                values.extend(_signed(x) for x in _ints(wt, v))
            elif n == 3 and wt == 2:
                ld = _message(v)
                labels[s(ld.get(1))] = s(ld.get(2)) if 2 in ld else str(_signed(_int(ld, 3)))
        prof.samples.append((locs, values, labels))
    prof.comments = [s(i) for i in comments]
    return prof


def parse_profile(data: bytes, source: str = "<profile>", *, pieces: bool = False) -> Dumps:
    """Parse a ``debug=0`` goroutine (or goroutineleak) profile into tables.

    Raises :class:`~goforensics.errors.ParseError` when the bytes are not a profile.

    Parameters
    ----------
    data : bytes
        The profile, gzipped or not.
    source : str
        A name for the input, used in messages.
    pieces : bool
        Return the file's :class:`~goforensics.read.columns.Pieces` instead of its tables
        (what a loader of many files builds its tables from).

    Returns
    -------
    Dumps
        One snapshot; one goroutine row per sample, its ``count`` the sample's value
        (a debug=0 profile gives no goroutine ids, and ``state`` reads ``unknown``).

    Examples
    --------
    >>> def fld(n, b):  # a length-delimited field
    ...     return encode_varint(n << 3 | 2) + encode_varint(len(b)) + b
    >>> def num(n, v):  # a varint field
    ...     return encode_varint(n << 3) + encode_varint(v)
    >>> strings = [b"", b"goroutine", b"count", b"main.main", b"/app/main.go"]
    >>> data = (
    ...     fld(1, num(1, 1) + num(2, 2))  # sample type: goroutine/count
    ...     + fld(2, num(1, 1) + num(2, 3))  # one sample: location 1, 3 goroutines
    ...     + fld(4, num(1, 1) + fld(4, num(1, 1) + num(2, 9)))  # location 1: function 1, line 9
    ...     + fld(5, num(1, 1) + num(2, 3) + num(4, 4))  # function 1: main.main in /app/main.go
    ...     + b"".join(fld(6, s) for s in strings)  # the string table
    ... )
    >>> d = parse_profile(data)
    >>> d.goroutines[["state", "count"]]
         state  count
    0  unknown      3
    >>> d.frames[["function", "file", "line"]]
        function          file  line
    0  main.main  /app/main.go     9
    """
    try:
        prof = decode_profile(data)
    except LimitError:
        raise
    except ParseError as e:
        raise ParseError(f"{source}: not a readable pprof profile: {e}") from None
    if not prof.sample_types and not prof.samples:
        raise ParseError(f"{source}: not a pprof profile (no sample types, no samples)")
    kind_name = prof.sample_types[0][0] if prof.sample_types else "goroutine"
    leak = kind_name == "goroutineleak"
    b = TableBuilder(source)
    try:
        taken = pd.Timestamp(prof.time_nanos, unit="ns", tz="UTC") if prof.time_nanos > 0 else None
    except (ValueError, OverflowError):
        taken = None
    part = b.new_part(
        1, "debug=0", "goroutineleak profile" if leak else "goroutine profile", taken_at=taken
    )
    if kind_name not in ("goroutine", "goroutineleak"):
        b.warn(None, 0, "unexpected-profile", f"a {kind_name!r} profile, read as goroutine counts")
    total = 0
    for i, (locs, values, labels) in enumerate(prof.samples):
        frames: list[Frame] = []
        for lid in locs:
            addr, lines = prof.locations.get(lid, (0, []))
            if not lines:
                frames.append(Frame(f"0x{addr:x}", "", False, "", None, None))
                continue
            for k, (fid, line) in enumerate(lines):
                name, file, _start = prof.functions.get(fid, (f"0x{addr:x}", "", 0))
                # all but the last line of a location were inlined into it
                frames.append(Frame(name, "", k < len(lines) - 1, file, line, None))
        count = values[0] if values else 1
        if count < 0:
            b.warn(i + 1, 1, "malformed", f"sample {i + 1} has a negative count ({count}): skipped")
            continue
        total += count
        st = b.stack([frames], False)
        lab = json.dumps(labels, ensure_ascii=False, sort_keys=True) if labels else ""
        b.add(
            i + 1,
            None,
            count,
            None,
            lab,
            st,
            "",
            ("", "", None, None),
            state=infer_state(st.functions),
            inferred=True,
            leaked=leak,
        )
    part["declared_total"] = total
    return b.pieces() if pieces else b.tables()
