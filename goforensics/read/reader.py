"""The reference reader: a forgiving line-by-line state machine over every dialect of dump text.

It reads ``debug=2`` tracebacks of every Go version (panics, fatal errors, SIGQUIT and crash
dumps with their preambles), ``debug=1`` and ``goroutineleak`` profiles, and all of these
inside logs (learnt line prefixes, quoting, any indentation, test2json, Docker JSON logs,
stacks escaped into one JSON/logfmt field). It never raises on bad content: what it cannot
use is counted in the ``warnings`` table with the line and the reason.

>>> from goforensics.read.tables import TableBuilder
>>> b = TableBuilder("<text>")
>>> r = Reader(b)
>>> for n, ln in enumerate([b"goroutine 1 [running]:", b"main.main()", b"\t/m.go:3 +0x1"], 1):
...     r.feed(n, ln)
>>> r.mode
<Mode.GOROUTINE: 'goroutine'>
>>> r.finish(False)
False
>>> b.tables().goroutines[["goid", "state"]].values.tolist()
[[1, 'running']]
"""

from __future__ import annotations

import json
import re
from enum import Enum

from ..goruntime import infer_state
from .grammar import (
    ANCESTOR,
    BUCKET,
    BUCKET_FRAME,
    BUCKET_LABELS,
    CREATED_BY,
    CUT_HEADER,
    ELIDED_ALL,
    ELIDED_N,
    ESCAPED_HEADER,
    FILE_LINE,
    FUNC_LINE,
    HEADER,
    MAX_LINE,
    PANIC,
    PARTIAL_HEADER,
    PROFILE_HEADER,
    RACE_END,
    RACE_START,
    REGISTERS,
    RUNTIME_STACK,
    TS_PREFIX,
    UNAVAILABLE,
    bounded,
    escaped_dumps,
    is_prefix,
    parse_bracket,
    parse_labels,
)
from .limits import Limits
from .stacks import Frame
from .tables import TableBuilder

__all__ = ["Mode", "Reader"]


class Mode(Enum):
    """Where the reader is. The transitions (any other line keeps the mode):

    ========================  ==========================================  ======================
    from                      on                                          to
    ========================  ==========================================  ======================
    OUT                       a goroutine header                          GOROUTINE
    OUT                       a bucket line (``N @ 0x..``)                BUCKET
    OUT                       ``WARNING: DATA RACE``                      RACE
    OUT                       ``runtime stack:``                          RUNTIME_STACK
    OUT, MESSAGE              ``panic:``, ``fatal error:``, ``SIGxxx:``   MESSAGE
    GOROUTINE                 ``[originating from goroutine N]:``         ANCESTOR
    GOROUTINE, ANCESTOR       a blank line                                OUT
    GOROUTINE, ANCESTOR       a line that is not part of a goroutine      OUT (line re-read)
    BUCKET                    a blank line or one that is not a record's  OUT (line re-read)
    RACE                      ``==================``                      OUT
    RUNTIME_STACK, MESSAGE    a blank line                                OUT
    RUNTIME_STACK             a goroutine header                          GOROUTINE
    any                       the end of the input                        OUT
    ========================  ==========================================  ======================
    """

    OUT = "out"  # between goroutines
    GOROUTINE = "goroutine"  # the frames of a goroutine
    ANCESTOR = "ancestor"  # an '[originating from goroutine N]:' block (GODEBUG=tracebackancestors)
    BUCKET = "bucket"  # a debug=1 record: 'count @ pc...' and its '#' lines
    RACE = "race"  # a race report (another format: skipped, counted)
    RUNTIME_STACK = "runtime stack"  # a 'runtime stack:' block (the system stack, no header)
    MESSAGE = "message"  # the lines of a panic or fatal error message


_HEADERLESS = "debug=1 records without a 'goroutine profile: total N' line: total not declared"
_IN_GOROUTINE = (Mode.GOROUTINE, Mode.ANCESTOR)
_CLOSED_BY_BLANK = (Mode.RUNTIME_STACK, Mode.MESSAGE)


class Reader:
    """The forgiving line-by-line parser; the reference for every dialect.

    It is a state machine over :class:`Mode`; each line is taken in the current mode or ends
    it (see :class:`Mode` for the transitions). What it reads goes to a :class:`TableBuilder`;
    what it cannot use is counted as skipped lines, in runs, with their reasons.
    """

    def __init__(self, builder: TableBuilder, limits: Limits | None = None):
        self.b = builder
        self.limits = limits or Limits()
        self.max_depth = self.limits.depth
        # longer lines are not lines of a dump (but may carry an escaped one, up to the budget)
        self.max_line = min(MAX_LINE, self.limits.line)
        self.mode = Mode.OUT
        self.g: dict | None = None
        self.bucket: dict | None = None
        self.pending: tuple | None = None  # a function line waiting for its file line
        self.prefix: re.Pattern | None = None
        self.skip_start: int | None = None
        self.skip_race = False
        self.skip_reasons: dict[str, int] = {}
        self.skip_n = 0
        self.skip_last = ""
        self.json_partial = b""
        self.last_time: str | None = None
        self.races = 0
        self.msg_skip = False  # message lines of a crash dump's later M sections
        self.rejected_in_g = (
            -1
        )  # last line that ended a goroutine (or bucket) without belonging to it
        self.incomplete_at = -1  # last line that ended a goroutine waiting for a file line
        self.last_lineno = 0

    # -- skipped-line accounting ------------------------------------------------------------
    def skip(self, lineno: int, reason: str) -> None:
        """Count a line that is not part of any goroutine; runs of them make one warning.

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        reason : str
            Why it is skipped (``text that is not part of a dump``, ``race report`` ...).

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.skip(1, "text that is not part of a dump"); r.skip(2, "text that is not part of a dump")
        >>> r.flush_skip()
        >>> r.b.tables().warnings[["line", "kind", "message"]].values.tolist()
        [[1, 'skipped', '2 line(s) skipped: 2 text that is not part of a dump']]
        """
        race = reason == "race report"
        self.skip_last = reason
        if self.skip_start is not None and (self.skip_race == race):
            self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1
            self.skip_n += 1
            return
        self.flush_skip()
        self.skip_start, self.skip_race, self.skip_n = lineno, race, 1
        self.skip_reasons = {reason: 1}

    def flush_skip(self) -> None:
        """Record the open run of skipped lines as one warning (nothing when there is none).

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.skip(4, "register dump")
        >>> r.flush_skip(); r.flush_skip()  # the second has nothing left to record
        >>> len(r.b.tables().warnings)
        1
        """
        if self.skip_start is not None:
            kind = "race-report" if self.skip_race else "skipped"
            why = ", ".join(f"{n} {r}" for r, n in self.skip_reasons.items())
            self.b.warn(self.skip_start, self.skip_n, kind, f"{self.skip_n} line(s) skipped: {why}")
            self.skip_start = None

    # -- unwrapping: the dump line inside a raw line ------------------------------------------
    def feed(self, lineno: int, raw: bytes) -> None:
        r"""Take one raw line of the input: test2json events, JSON log records, over-long lines and
        escaped dumps are unwrapped here; the dump lines inside go to :meth:`text`.

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        raw : bytes
            The line as read, without its newline.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.feed(1, b'{"Action":"output","Test":"TestA","Output":"goroutine 1 [running]:\\n"}')
        >>> r.feed(2, b'{"Action":"output","Test":"TestA","Output":"main.main()\\n\\t/m.go:3 +0x1\\n"}')
        >>> _ = r.finish(False)
        >>> r.b.tables().goroutines[["goid", "state", "top_function"]].values.tolist()
        [[1, 'running', 'main.main']]
        """
        self.last_lineno = lineno
        if len(raw) > self.max_line:
            if len(raw) > self.limits.line:
                self.end_goroutine()
                self.skip(lineno, "lines past the line budget (GOFORENSICS_LIMIT_LINE)")
            elif b"goroutine " in raw and b"\\n" in raw:
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
        """A line of text: through a learnt log prefix, or holding a whole escaped dump.

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        raw : bytes
            The line as read, without its newline.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.text(1, b"I1201 10:00:00.000000 12 main.go:9] goroutine 1 [running]:")
        >>> r.text(2, b"I1201 10:00:00.000000 12 main.go:9] main.main()")  # the prefix learnt is dropped
        >>> r.text(3, b"I1201 10:00:00.000000 12 main.go:9] \\t/m.go:3 +0x1")
        >>> _ = r.finish(False)
        >>> r.b.tables().goroutines["top_function"].tolist()
        ['main.main']
        """
        if self.prefix is not None:
            m = self.prefix.match(raw)
            if m:
                self.line(lineno, raw[m.end() :])
                return
            self.prefix = None
        if b"\\n" in raw and b"goroutine " in raw and ESCAPED_HEADER.search(raw):
            self.escaped(lineno, raw)
            return
        self.line(lineno, raw)

    def test2json(self, lineno: int, raw: bytes) -> None:
        r"""Take one ``go test -json`` event: the output it carries is read line by line (a line
        split over events is joined); other events are skipped.

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        raw : bytes
            The line as read, without its newline.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.test2json(1, b'{"Action":"run","Test":"TestA"}')
        >>> r.test2json(2, b'{"Action":"output","Output":"goroutine 7 [chan send]:\\nmain.f()\\n"}')
        >>> r.test2json(3, b'{"Action":"output","Output":"\\t/m.go:9 +0x1\\n"}')
        >>> _ = r.finish(False)
        >>> r.b.tables().goroutines[["goid", "state"]].values.tolist()
        [[7, 'chan send']]
        """
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
        line longer than 16 KiB split over several). False when the line is not one.

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        raw : bytes
            The line as read, without its newline.

        Returns
        -------
        bool
            True when the line was such a record (and its text was read).

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.json_log(1, b'{"log":"goroutine 1 [running]:\\\\n","stream":"stderr"}')
        True
        >>> r.json_log(2, b'{"level":"info"}')
        False
        """
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
        """Dumps escaped into one field of a log line (zap ``stack="goroutine 1 [..]:\\n..."``).

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        raw : bytes
            The line as read, without its newline.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.escaped(1, rb'level=error stack="goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n"')
        >>> _ = r.finish(False)
        >>> r.b.tables().goroutines[["goid", "top_function"]].values.tolist()
        [[1, 'main.main']]
        """
        self.end_goroutine()
        for text in escaped_dumps(raw):
            for ln in text.split(b"\n"):
                self.line(lineno, ln.rstrip(b"\r"))
            self.end_goroutine()

    # -- the dump grammar ---------------------------------------------------------------------
    def line(self, lineno: int, s: bytes) -> None:
        r"""Take one line of dump text in the current :class:`Mode`, or end that mode and read it
        outside.

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        s : bytes
            The line, any log prefix taken off.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> for n, s in enumerate([b"goroutine 1 [sleep]:", b"main.main()", b"\t/m.go:3 +0x1", b""], 1):
        ...     r.line(n, s)
        >>> r.mode, r.b.tables().goroutines["state"].tolist()
        (<Mode.OUT: 'out'>, ['sleep'])
        """
        stripped = s.strip()
        mode = self.mode
        if mode is Mode.RACE:
            self.skip(lineno, "race report")
            if stripped.startswith(RACE_END):
                self.mode = Mode.OUT
                self.flush_skip()
            return
        if not stripped:
            if mode in _IN_GOROUTINE:
                self.end_goroutine()
            elif mode is Mode.BUCKET:
                self.end_bucket()
            elif mode in _CLOSED_BY_BLANK:
                self.mode = Mode.OUT
            return
        if mode in _IN_GOROUTINE:
            if self.goroutine_line(s, stripped):
                return
            self.rejected_in_g = lineno
            self.end_goroutine()
        elif mode is Mode.BUCKET:
            if self.bucket_line(stripped):
                return
            self.rejected_in_g = lineno
            self.end_bucket()
        elif mode is Mode.RUNTIME_STACK:
            if HEADER.search(s) is None:
                self.skip(lineno, "runtime (system) stack")
                return
            self.mode = Mode.OUT
        self.outside(lineno, s, stripped)

    def outside(self, lineno: int, s: bytes, stripped: bytes) -> None:
        """Read a line outside any goroutine: a header, a profile's header or bucket, a panic or
        signal line, a race report, a runtime stack, else text that is skipped.

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        s : bytes
            The line.
        stripped : bytes
            The line without surrounding white space.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.outside(1, b"panic: boom", b"panic: boom")
        >>> r.mode, r.b.part["kind"], r.b.part["message"]
        (<Mode.MESSAGE: 'message'>, 'panic', 'panic: boom')
        """
        m = HEADER.search(s)
        if m and bounded(m.group(1), 63) is not None:
            self.flush_skip()
            if m.start() > 0:
                self.learn_prefix(s[: m.start()])
            self.start_goroutine(lineno, m)
            return
        m = PROFILE_HEADER.search(s)
        if m and (m.start() == 0 or is_prefix(s[: m.start()])):
            self.flush_skip()
            if m.start() > 0 and s[: m.start()].strip():  # a log prefix or quoting, on every line
                self.learn_prefix(s[: m.start()])
            leak = m.group(1) == b"goroutineleak"
            self.b.new_part(
                lineno,
                "debug=1",
                "goroutineleak profile" if leak else "goroutine profile",
                declared_total=bounded(m.group(2), 63),
            )
            self.mode = Mode.OUT
            return
        in_profile = self.b.part is not None and self.b.part["format"] == "debug=1"
        m = BUCKET.match(stripped)
        # outside a profile, only a record with its PCs ('N @ 0x..') is taken for one
        if m and bounded(m.group(1), 63) is not None and (in_profile or m.group(2)):
            self.flush_skip()
            if not in_profile:
                self.headerless(lineno)
            self.bucket = {"line": lineno, "count": int(m.group(1)), "frames": [], "labels": ""}
            self.mode = Mode.BUCKET
            return
        if stripped.startswith(RACE_START):
            self.races += 1
            self.mode = Mode.RACE
            self.skip(lineno, "race report")
            return
        if stripped == RUNTIME_STACK:
            self.mode = Mode.RUNTIME_STACK
            self.skip(lineno, "runtime (system) stack")
            return
        pm = PANIC.search(stripped, 0, 96)
        if pm and (pm.start() == 0 or is_prefix(stripped[: pm.start()])):
            if self.preamble(lineno, stripped[pm.start() :]):
                if pm.start() > 0:
                    self.learn_prefix(s[: s.find(stripped[pm.start() :])])
                return
        if self.mode is Mode.MESSAGE:
            p = self.b.part
            if not self.msg_skip:
                p["message"] = f"{p['message']}\n{stripped.decode('utf-8', 'replace')}"
                p["line_end"] = lineno
            return
        if self.b.part is not None and self.b.part.get("_crash") and REGISTERS.match(stripped):
            self.skip(lineno, "register dump")
            return
        if in_profile:  # a note typed between the records of a posted profile
            self.skip(lineno, "text between the records of a debug=1 profile")
            return
        self.skip(lineno, "text that is not part of a dump")

    def headerless(self, lineno: int) -> None:
        """Records posted without their ``goroutine profile: total N`` line: said, not guessed.

        It opens a debug=1 snapshot with no declared total and records a ``headerless``
        warning, so the missing total is reported rather than made up.

        Parameters
        ----------
        lineno : int
            The number of the first record's line in the input.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.headerless(4)
        >>> r.b.part["format"], r.b.part["declared_total"], r.b.warnings[-1][1:4]
        ('debug=1', None, (4, 1, 'headerless'))
        """
        self.b.new_part(lineno, "debug=1", "goroutine profile", declared_total=None)
        self.b.warn(lineno, 1, "headerless", _HEADERLESS)

    def learn_prefix(self, prefix: bytes) -> None:
        """Text before a header: a log prefix repeated on every line, or text glued to it.

        Parameters
        ----------
        prefix : bytes
            The text before the header on its line.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.learn_prefix(b"app-1  | ")
        >>> r.prefix.match(b"app-2  | main.main()").end()
        9
        """
        ts = TS_PREFIX.search(prefix)
        if ts:
            self.last_time = ts.group(1).decode()
        pat = re.sub(rb"\d+", rb"\\d+", re.escape(prefix))
        pat = re.sub(rb"(?:\\ |\\\t)+", rb"\\s+", pat)
        self.prefix = re.compile(pat)

    def preamble(self, lineno: int, text: bytes) -> bool:
        """A panic / fatal error / signal line: it opens a new snapshot. False if not one here.

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        text : bytes
            The line from its ``panic:``, ``fatal error:``, ``runtime:`` or signal word on.

        Returns
        -------
        bool
            True when it opens (or continues) a snapshot's message.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.preamble(1, b"fatal error: all goroutines are asleep - deadlock!")
        True
        >>> r.b.part["kind"], r.mode
        ('fatal error', <Mode.MESSAGE: 'message'>)
        """
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
        if (
            kind == "signal"
            and p is not None
            and p.get("_crash")
            and p["kind"] == "signal"
            and p["message"].split("\n", 1)[0] == msg
        ):
            # GOTRACEBACK=crash: after the first M's dump, each other M prints the same signal
            # line, its g0 and its current goroutine: the same capture, not a new snapshot
            self.mode = Mode.MESSAGE
            self.msg_skip = True
            return True
        if p is None or p["rows"] or p["format"] != "debug=2":
            if not kind and p is not None and p["rows"]:
                return False  # 'runtime: ...' after goroutines: noise, not a new dump
            p = self.b.new_part(
                lineno, "debug=2", kind or "fatal error", message=msg, _weak=not kind
            )
        else:
            if kind and (p["kind"] == "goroutine dump" or p.get("_weak")):
                p["kind"], p["_weak"] = kind, False
            p["message"] = f"{p['message']}\n{msg}" if p["message"] else msg
        p["line_end"] = lineno
        if self.last_time and p.get("taken_at") is None:
            p["taken_at"] = self.last_time
        self.mode = Mode.MESSAGE
        self.msg_skip = False
        return True

    # -- goroutines ------------------------------------------------------------------------------
    def start_goroutine(self, lineno: int, m: re.Match) -> None:
        """Open a goroutine at its header line (its bracket, labels and thread read).

        Parameters
        ----------
        lineno : int
            The line's number in the input.
        m : re.Match
            The header's match of :data:`goforensics.read.grammar.HEADER`.

        Examples
        --------
        >>> from goforensics.read.grammar import HEADER
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.start_goroutine(1, HEADER.search(b"goroutine 9 [select, 4 minutes]:"))
        >>> r.mode, r.g["goid"], r.g["hdr"].minutes
        (<Mode.GOROUTINE: 'goroutine'>, 9, 4)
        """
        hdr = parse_bracket(m.group(3))
        labels = parse_labels(m.group(4).decode("utf-8", "replace")) if m.group(4) else ""
        mm = m.group(2)
        self.g = {
            "line": lineno,
            "goid": int(m.group(1)),
            "hdr": hdr,
            "labels": labels,
            "m": bounded(mm, 31) if mm and mm != b"nil" else None,
            "sections": [[]],
            "created": ("", "", None, None),
            "elided": False,
            "ancestors": [],
            "after_created": False,
            "elided_n": None,
            "crash": mm is not None,
            "over_depth": 0,
        }
        self.pending = None
        self.mode = Mode.GOROUTINE
        if self.last_time:
            p = self.b.ensure_part(lineno)
            if p.get("taken_at") is None:
                p["taken_at"] = self.last_time

    def goroutine_line(self, s: bytes, stripped: bytes) -> bool:
        """Take one line inside a goroutine; False when the line is not part of it.

        Parameters
        ----------
        s : bytes
            The line.
        stripped : bytes
            The line without surrounding white space.

        Returns
        -------
        bool
            True when the line is a frame, a file line, a ``created by`` or another line of it.

        Examples
        --------
        >>> from goforensics.read.grammar import HEADER
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.start_goroutine(1, HEADER.search(b"goroutine 9 [select]:"))
        >>> r.goroutine_line(b"main.loop()", b"main.loop()"), r.goroutine_line(b"ok  \\tp\\t0.1s", b"ok  \\tp\\t0.1s")
        (True, False)
        """
        g = self.g
        pend = self.pending
        if pend is not None:
            fm = FILE_LINE.match(stripped)
            if fm:
                self.pending = None
                file = fm.group(1).decode("utf-8", "replace")
                line = bounded(fm.group(2), 31)
                if pend[0] == "created":
                    g["created"] = (pend[1], file, line, pend[2])
                    g["after_created"] = True
                elif pend[0] == "frame":
                    off = bounded(fm.group(3), 63, 16) if fm.group(3) else None
                    self.add_frame(Frame(pend[1], pend[2], pend[3], file, line, off, g["elided_n"]))
                return True
            self.flush_pending()  # a function line without its file line (cut or mangled)
        if stripped == ELIDED_ALL:
            g["elided"] = True
            return True
        if stripped == UNAVAILABLE:  # part of the dump: a goroutine with no frames to show
            return True
        em = ELIDED_N.match(stripped)
        if em:
            g["elided"] = True
            g["elided_n"] = bounded(em.group(1), 63)
            return True
        am = ANCESTOR.match(stripped)
        if am:
            g["ancestors"].append(am.group(1).decode())
            g["sections"].append([])
            self.mode = Mode.ANCESTOR
            return True
        if g["after_created"] and self.mode is Mode.GOROUTINE:
            return False
        cm = CREATED_BY.match(stripped)
        if cm:
            if self.mode is Mode.ANCESTOR:
                self.pending = ("ancestor-creator",)
            else:
                fn = cm.group(1).decode("utf-8", "replace")
                self.pending = ("created", fn, bounded(cm.group(2), 63) if cm.group(2) else None)
            return True
        fm = FUNC_LINE.match(stripped)
        if fm and not PANIC.match(stripped) and HEADER.search(s) is None:
            args = fm.group(2).decode("utf-8", "replace")
            self.pending = ("frame", fm.group(1).decode("utf-8", "replace"), args, args == "...")
            return True
        return False

    def flush_pending(self) -> None:
        """Keep a frame or ``created by`` line whose file line never came (a cut or mangled dump).

        Examples
        --------
        >>> from goforensics.read.grammar import HEADER
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.start_goroutine(1, HEADER.search(b"goroutine 9 [select]:"))
        >>> _ = r.goroutine_line(b"main.loop()", b"main.loop()")
        >>> r.flush_pending()
        >>> [(f.function, f.file) for f in r.g["sections"][0]]
        [('main.loop', '')]
        """
        pend, self.pending = self.pending, None
        if pend is None or self.g is None:
            return
        self.incomplete_at = self.last_lineno  # a frame or creator without its file line
        g = self.g
        if pend[0] == "created":
            g["created"] = (pend[1], "", None, pend[2])
            g["after_created"] = True
        elif pend[0] == "frame":
            self.add_frame(Frame(pend[1], pend[2], pend[3], "", None, None, g["elided_n"]))

    def add_frame(self, frame: Frame) -> None:
        """A frame of the open goroutine; past the depth budget it is counted, not kept.

        Parameters
        ----------
        frame : Frame
            The frame, its file line read.

        Examples
        --------
        >>> from goforensics.read.grammar import HEADER
        >>> from goforensics.read.limits import Limits
        >>> from goforensics.read.stacks import Frame
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"), Limits(depth=1))
        >>> r.start_goroutine(1, HEADER.search(b"goroutine 9 [select]:"))
        >>> r.add_frame(Frame("main.loop", "", False, "/m.go", 9, None))
        >>> r.add_frame(Frame("main.main", "", False, "/m.go", 3, None))  # past the depth budget
        >>> len(r.g["sections"][0]), r.g["over_depth"], r.g["elided"]
        (1, 1, True)
        """
        g = self.g
        frames = g["sections"][-1]
        if len(frames) < self.max_depth:
            frames.append(frame)
        else:
            g["over_depth"] += 1
            g["elided"] = True
        g["elided_n"] = None

    def end_goroutine(self, truncated: bool = False) -> None:
        """Close the open goroutine and add its row (nothing when none is open).

        Parameters
        ----------
        truncated : bool, default False
            The input was cut inside it.

        Examples
        --------
        >>> from goforensics.read.grammar import HEADER
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.start_goroutine(1, HEADER.search(b"goroutine 9 [select]:"))
        >>> r.end_goroutine(truncated=True)
        >>> r.b.tables().goroutines[["goid", "n_frames", "truncated"]].values.tolist()
        [[9, 0, True]]
        """
        g = self.g
        if g is None:
            return
        self.flush_pending()
        self.g = None
        self.mode = Mode.OUT
        if g["over_depth"]:
            self.b.warn(
                g["line"],
                0,
                "limit",
                f"goroutine {g['goid']}: {g['over_depth']} frames past the depth budget of"
                f" {self.max_depth} not kept (GOFORENSICS_LIMIT_DEPTH)",
            )
        sections = g["sections"]
        st = self.b.stack(sections, g["elided"])
        self.b.add(
            g["line"],
            g["goid"],
            1,
            g["hdr"],
            g["labels"],
            st,
            "\n".join(f.args for f in sections[0]),
            g["created"],
            " ".join(g["ancestors"]),
            g["elided"],
            truncated,
            g["m"],
            crash=g["crash"],
        )

    def cut_header(self, line: bytes) -> None:
        """A last line that is a header cut after its goroutine id: that goroutine is a row.

        A capped dump (pprof's debug=2 writer stops at 64 MiB) can end in the middle of a
        header; the goroutine was there, so it is counted, truncated, with the state as far as
        it was written (``unknown`` when the bracket is cut), rather than skipped as text.

        Parameters
        ----------
        line : bytes
            The input's last line, without a log prefix.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.feed(1, b"goroutine 30 [chan rec")
        >>> r.cut_header(b"goroutine 30 [chan rec")
        >>> r.flush_skip()
        >>> d = r.b.tables()
        >>> d.goroutines[["goid", "state", "truncated"]].values.tolist(), len(d.warnings)
        ([[30, 'unknown', True]], 0)
        """
        m = CUT_HEADER.match(line)
        if m is None or HEADER.search(line) is not None:
            return
        if self.skip_start is not None and self.skip_n:  # the line was counted as skipped
            self.skip_n -= 1
            left = self.skip_reasons.get(self.skip_last, 0) - 1
            if left > 0:
                self.skip_reasons[self.skip_last] = left
            else:
                self.skip_reasons.pop(self.skip_last, None)
            if not self.skip_n:
                self.skip_start = None
        state = m.group(3) if m.group(4) else b""
        whole = b"goroutine %s [%s]:" % (m.group(1), state)
        self.start_goroutine(self.last_lineno, HEADER.search(whole))
        self.end_goroutine(truncated=True)

    # -- debug=1 buckets ------------------------------------------------------------------------
    def bucket_line(self, stripped: bytes) -> bool:
        r"""Take one line of a ``debug=1`` profile's bucket: a ``# labels:`` line or a frame.

        Parameters
        ----------
        stripped : bytes
            The line without surrounding white space.

        Returns
        -------
        bool
            True when the line is part of the bucket.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.outside(1, b"goroutine profile: total 3", b"goroutine profile: total 3")
        >>> r.outside(2, b"3 @ 0x43b 0x40a", b"3 @ 0x43b 0x40a")
        >>> r.bucket_line(b"#\t0x43b\tmain.worker+0x1b\t/m.go:9"), r.bucket_line(b"hello")
        (True, False)
        """
        bk = self.bucket
        lm = BUCKET_LABELS.match(stripped)
        if lm:
            bk["labels"] = parse_labels(lm.group(1).decode("utf-8", "replace"))
            return True
        fm = BUCKET_FRAME.match(stripped)
        if not fm:
            return False
        if fm.group(2):
            bk["frames"].append(
                Frame(
                    fm.group(2).decode("utf-8", "replace"),
                    "",
                    False,
                    fm.group(4).decode("utf-8", "replace"),
                    bounded(fm.group(5), 31),
                    bounded(fm.group(3), 63, 16),
                )
            )
        else:  # a PC the runtime could not symbolize
            bk["frames"].append(Frame("0x" + fm.group(1).decode(), "", False, "", None, None))
        return True

    def end_bucket(self) -> None:
        r"""Close the open ``debug=1`` bucket and add its row (its state inferred from its frames).

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.outside(1, b"goroutine profile: total 3", b"goroutine profile: total 3")
        >>> r.outside(2, b"3 @ 0x43b", b"3 @ 0x43b")
        >>> _ = r.bucket_line(b"#\t0x43b\ttime.Sleep+0x1b\t/go/src/runtime/time.go:9")
        >>> r.end_bucket()
        >>> r.b.tables().goroutines[["count", "state", "top_function"]].values.tolist()
        [[3, 'sleep', 'time.Sleep']]
        """
        bk, self.bucket = self.bucket, None
        self.mode = Mode.OUT
        if bk is None:
            return
        st = self.b.stack([bk["frames"]], False)
        leak = self.b.part is not None and self.b.part["kind"] == "goroutineleak profile"
        self.b.add(
            bk["line"],
            None,
            bk["count"],
            None,
            bk["labels"],
            st,
            "",
            ("", "", None, None),
            state=infer_state(st.functions),
            inferred=True,
            leaked=leak,
        )

    def finish(self, ends_mid_line: bool, last_line: bytes = b"") -> bool:
        """Close what is open; True when the input was cut inside a goroutine.

        A cut shows when the text ends on a frame or a ``created by`` line without its file
        line, inside a line that cannot end a goroutine, inside a header, or inside a
        profile's bucket. (A cut that leaves a well-formed last line cannot be seen.)

        Parameters
        ----------
        ends_mid_line : bool
            The input did not end with a newline.
        last_line : bytes, optional
            Its last line, to see a header cut in the middle.

        Returns
        -------
        bool
            True when the input was cut inside a goroutine.

        Examples
        --------
        >>> from goforensics.read.tables import TableBuilder
        >>> r = Reader(TableBuilder("<text>"))
        >>> r.feed(1, b"goroutine 1 [running]:")
        >>> r.feed(2, b"main.main()")  # no file line: the input ends here
        >>> r.finish(True, b"main.main()")
        True
        """
        if self.json_partial:
            self.line(self.last_lineno, self.json_partial)
            self.json_partial = b""
        if self.prefix is not None and (pm := self.prefix.match(last_line)):
            last_line = last_line[pm.end() :]
        cut = (self.g is not None and self.pending is not None) or (
            ends_mid_line
            and (
                self.last_lineno in (self.rejected_in_g, self.incomplete_at)
                or self.mode is Mode.BUCKET
                or (
                    PARTIAL_HEADER.search(last_line.strip()) is not None
                    and HEADER.search(last_line) is None
                )
            )
        )
        if self.mode is Mode.BUCKET:
            self.end_bucket()
        if self.g is not None:
            self.end_goroutine(truncated=cut)
        elif cut and self.b.n_rows():
            self.b.mark_last_truncated()
        if cut and ends_mid_line:
            self.cut_header(last_line.strip())
        if cut and self.b.part is not None:
            self.b.part["truncated"] = True
        self.flush_skip()
        if self.races:
            self.b.warn(
                None,
                0,
                "race-report",
                f"{self.races} race report(s): not goroutine dumps, not counted",
            )
        return cut
