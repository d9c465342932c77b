"""The line grammar of goroutine dumps: what each line of a dump looks like, as regular expressions.

Everything the reference reader (:mod:`goforensics.read.reader`) and the fast path
(:mod:`goforensics.read.fast`) know about the text is here: goroutine headers of every Go
version (``gp=``/``m=`` crash headers, labels, ``(leaked)``), frames and their file lines,
``created by``, elided-frame markers, ancestor blocks, ``debug=1`` buckets, panic and signal
preambles, register dumps, race reports, log prefixes and dumps escaped into one log field.
Patterns work on bytes: a dump is not always valid UTF-8.

>>> m = HEADER.search(b"goroutine 7 [chan receive, 3 minutes] {handler: /api}:")
>>> m.group(1), parse_bracket(m.group(3)).minutes, parse_labels(m.group(4).decode())
(b'7', 3, '{"handler": "/api"}')
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "ANCESTOR",
    "BUCKET",
    "BUCKET_FRAME",
    "BUCKET_LABELS",
    "CREATED_BY",
    "CUT_HEADER",
    "ELIDED_ALL",
    "ELIDED_N",
    "ESCAPED_HEADER",
    "FILE_LINE",
    "FUNC_LINE",
    "GO_VERSION",
    "HEADER",
    "LOG_PREFIX",
    "MAX_LINE",
    "PANIC",
    "PARTIAL_HEADER",
    "PROFILE_HEADER",
    "RACE_END",
    "RACE_START",
    "REGISTERS",
    "RUNTIME_STACK",
    "SIGNAL_DETAIL",
    "TS_PREFIX",
    "UNAVAILABLE",
    "Header",
    "bounded",
    "escaped_dumps",
    "go_unquote",
    "is_prefix",
    "parse_bracket",
    "parse_labels",
]

# A single line longer than this is not a line of a dump: it is skipped unless it
# carries an escaped dump, which is searched for with linear-time scans only.
MAX_LINE = 8 << 20


def bounded(digits: bytes, bits: int, base: int = 10) -> int | None:
    """The number, or None where it does not fit the column (a signed ``bits + 1``-bit int).

    Parameters
    ----------
    digits : bytes
        The number's digits as printed.
    bits : int
        The column's width in bits, sign excluded.
    base : int, default 10
        The digits' base.

    Returns
    -------
    int or None
        The number, or None where it overflows.

    Examples
    --------
    >>> bounded(b"42", 31), bounded(b"9" * 30, 63)
    (42, None)
    """
    v = int(digits, base)
    return v if v < (1 << bits) else None


HEADER = re.compile(
    rb"goroutine (\d+)(?: gp=(?:0x[0-9a-fA-F]+|nil))?(?: m=(\d+|nil))?(?: mp=(?:0x[0-9a-fA-F]+|nil))?"
    rb" \[([^\]\n]*)\](?: (\{[^\n]*\}))?:[ \t]*$"
)
# A header cut after its id: the goroutine existed (its id is whole), its state may be cut.
CUT_HEADER = re.compile(
    rb"^goroutine (\d+)(?: gp=\S*)?(?: m=(\d+|nil))?(?: mp=\S*)? \[([^\]\n]*)(\])?"
)
# The start of a goroutine header cut before its end (the last line of a cut input).
PARTIAL_HEADER = re.compile(
    rb"^(?:" + b"|".join(b"goroutine"[:k] for k in range(1, 10)) + rb"|goroutine \d*(?: gp=\S*)?"
    rb"(?: m=\S*)?(?: mp=\S*)?(?: \[[^\]\n]*(?:\](?: \{[^\n]*)?)?)?)$"
)
PROFILE_HEADER = re.compile(rb"(goroutine|goroutineleak) profile: total (\d+)\s*$")
# debug=1 records, also as people post them: the leading '#' of a frame or labels line lost
# (markdown makes it a heading, chat clients eat it) and tabs turned into spaces
BUCKET = re.compile(rb"^(\d+)\s+@((?:\s+0x[0-9a-fA-F]+)*)\s*$")
BUCKET_FRAME = re.compile(
    rb"^(?:#\s*)?0x([0-9a-fA-F]+)(?:\s+(\S+?)\+0x([0-9a-fA-F]+)\s+(.*?):(\d+))?\s*$"
)
BUCKET_LABELS = re.compile(rb"^(?:#\s*)?labels: (\{.*\})\s*$")
FILE_LINE = re.compile(
    rb"^\s*(.*?):(\d+)(?: \+0x([0-9a-fA-F]+))?(?: fp=0x[0-9a-fA-F]+ sp=0x[0-9a-fA-F]+ pc=0x[0-9a-fA-F]+)?\s*$"
)
CREATED_BY = re.compile(rb"^created by (\S+?)(?: in goroutine (\d+))?\s*$")
ELIDED_ALL = b"...additional frames elided..."
# what a fatal error prints for a goroutine it could not stop (running on another thread)
UNAVAILABLE = b"goroutine running on other thread; stack unavailable"
ELIDED_N = re.compile(rb"^\s*\.\.\.(\d+) frames elided\.\.\.\s*$")
ANCESTOR = re.compile(rb"^\[originating from goroutine (\d+)\]:\s*$")
FUNC_LINE = re.compile(rb"^(\S.*)\(([^()]*)\)\s*$")
PANIC = re.compile(rb"(?:panic: |fatal error: |SIG[A-Z]+: |unexpected fault address |runtime: )")
SIGNAL_DETAIL = re.compile(rb"^\[signal |^PC=0x[0-9a-f]+ m=")
RUNTIME_STACK = b"runtime stack:"
REGISTERS = re.compile(  # a signal's register dump (amd64, 386, arm64, arm, ...)
    rb"^(?:(?:r[a-z0-9]{1,3}|e[a-z]{2}|rip|eip|rflags|eflags|[c-g]s|pc|lr|sp|fp|x\d{1,2}|trap|error|oldmask|fault|cpsr)\s+0x[0-9a-f]+|-{3,})$"
)
RACE_START = b"WARNING: DATA RACE"
RACE_END = b"=================="
GO_VERSION = re.compile(r"go[-/@]?(1\.\d+(?:\.\d+)?(?:rc\d+|beta\d+)?)(?:/libexec)?/src/")
TS_PREFIX = re.compile(
    rb"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?)"
)

# States for which Go never prints frames below a header that a healthy dump
# shows (e.g. goroutine 2 [syscall] in Go 1.1): an empty stack is legal.

_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)")
_SIMPLE_ESC = {"a": b"\a", "b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v"}


def go_unquote(s: str) -> str:
    r"""Undo Go's quoting of a label key or value (``\\xNN`` are raw UTF-8 bytes).

    Parameters
    ----------
    s : str
        A Go-quoted string, quotes included.

    Returns
    -------
    str
        The text it stands for.

    Examples
    --------
    >>> go_unquote(r'"a\"b\xe2\x9c\x93"')
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


def parse_labels(text: str) -> str:
    """Labels as printed, ``{k: v, k2: "quoted"}`` (debug=2) or ``{"k":"v"}`` (debug=1), as JSON.

    Parameters
    ----------
    text : str
        The labels as the dump prints them, braces included.

    Returns
    -------
    str
        A JSON object, keys sorted.

    Examples
    --------
    >>> parse_labels('{handler: /api, tenant: "t-3, b", empty: }')
    '{"empty": "", "handler": "/api", "tenant": "t-3, b"}'
    >>> parse_labels('{"a":"b", "c":"d"}')
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
        key = go_unquote(km.group(1))
        pos = km.end()
        colon = pos < n and body[pos] == ":"
        if colon:
            vm = _LABEL_TOKEN.match(body, pos + 1)
            value = go_unquote(vm.group(1))
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
class Header:
    """What a goroutine header's bracket says: ``[chan receive (leaked), 3 minutes, locked to thread]``."""

    state: str  # raw state, markers removed
    raw: str  # bracket content minus minutes / locked / bubble
    minutes: int | None  # None: a number too large to be true
    locked: bool
    leaked: bool


_header_cache: dict[bytes, Header] = {}


def parse_bracket(b: bytes) -> Header:
    """The facts of a header's bracket content (cached: a dump repeats a few brackets).

    Parameters
    ----------
    b : bytes
        What stands between the brackets of a goroutine's header.

    Returns
    -------
    Header
        ``state`` (markers removed), ``raw``, ``minutes``, ``locked`` and ``leaked``.

    Examples
    --------
    >>> h = parse_bracket(b"chan send (leaked), 12 minutes, locked to thread")
    >>> h.state, h.minutes, h.locked, h.leaked
    ('chan send', 12, True, True)
    """
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
                minutes = bounded(p.split()[0].encode(), 31)  # None: more than an Int32 holds
            except ValueError:
                raw += ", " + p
        elif p == "locked to thread":
            locked = True
        elif p.startswith("synctest bubble"):
            pass
        else:
            raw += ", " + p
    leaked = "(leaked)" in raw
    h = Header(raw.replace(" (leaked)", "").replace(" (scan)", ""), raw, minutes, locked, leaked)
    if len(_header_cache) < 4096:
        _header_cache[b] = h
    return h


LOG_PREFIX = re.compile(rb"^[\W_]*" + TS_PREFIX.pattern + rb"[\W_]*(?:[\w.:-]{1,8}[\W_]*){0,2}$")


# klog / glog: 'I1201 10:00:00.000000   12 file.go:34] ' (severity, mmdd, time, thread id, place)
KLOG_PREFIX = re.compile(rb"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6}\s+\d+ [^\s\]]+:\d+\] ?$")
# docker compose: 'app-1  | ' (service and replica, padded, then a bar)
COMPOSE_PREFIX = re.compile(rb"^(?:\x1b\[[\d;]*m)?[A-Za-z0-9][\w.-]*\s*\|(?:\x1b\[[\d;]*m)? ?$")
# syslog (RFC 3164) and journalctl's default output: 'Nov 30 03:21:31 host app[42]: '
SYSLOG_PREFIX = re.compile(
    rb"^(?:<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ [^\s:\[]+(?:\[\d+\])?: ?$"
)


def is_prefix(text: bytes) -> bool:
    r"""Is this text before 'panic: ' (or a profile's header) a log prefix rather than prose?

    Quoting, timestamps, klog/glog headers and docker compose's service bars are prefixes.

    Parameters
    ----------
    text : bytes
        The text before the header.

    Returns
    -------
    bool
        True where it looks like a log prefix.

    Examples
    --------
    >>> is_prefix(b"2026-11-30T03:21:31.5Z stderr F "), is_prefix(b"^\\"), is_prefix(b"we saw a ")
    (True, True, False)
    >>> is_prefix(b"I1201 10:00:00.000000   12 file.go:34] "), is_prefix(b"app-1  | ")
    (True, True)
    >>> is_prefix(b"Nov 30 03:21:31 host app[4242]: ")
    True
    """
    return (
        re.search(rb"[A-Za-z0-9]", text) is None
        or LOG_PREFIX.match(text) is not None
        or KLOG_PREFIX.match(text) is not None
        or COMPOSE_PREFIX.match(text) is not None
        or SYSLOG_PREFIX.match(text) is not None
    )


ESCAPED_HEADER = re.compile(
    rb"goroutine \d+ (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[[^\]\\]*\](?: \{[^\n]*?\})?:\\[rn]"
)


def escaped_dumps(raw: bytes) -> Iterator[bytes]:
    r"""Find dumps escaped inside quoted fields and unescape them (JSON / Go quoting rules).

    Parameters
    ----------
    raw : bytes
        A log line.

    Yields
    ------
    bytes
        Each escaped dump found, unescaped.

    Examples
    --------
    >>> list(escaped_dumps(rb'level=error stack="goroutine 1 [running]:\nmain.main()\n" x=1'))
    [b'goroutine 1 [running]:\nmain.main()\n']
    """
    pos = 0
    while True:
        m = ESCAPED_HEADER.search(raw, pos)
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
                body.replace(b"\\n", b"\n")
                .replace(b"\\t", b"\t")
                .replace(b'\\"', b'"')
                .replace(b"\\\\", b"\\")
            )
        yield text
        pos = end + 1
