"""Read ``go test`` output, plain or ``-json`` (test2json): which test failed how, with its stacks.

What ``go test`` prints when goroutines outlive or block a test comes in five shapes, each
with its goroutine stacks after it; each one found is an *event*:

``goleak``
    ``found unexpected goroutines:`` (uber-go/goleak's ``VerifyNone`` through ``t.Error``, or
    ``VerifyTestMain`` on stderr), each stack introduced by goleak's own line
    ``[Goroutine N in state S, with F on top of the stack:``;
``synctest``
    ``panic: deadlock: main bubble goroutine has exited but blocked goroutines remain`` (or
    ``all goroutines in bubble are blocked``) from ``testing/synctest`` (Go 1.25+);
``timeout``
    ``panic: test timed out after D`` with the ``running tests:`` it names and every goroutine;
``deadlock``
    ``fatal error: all goroutines are asleep - deadlock!`` and every goroutine;
``dump``
    an input that is no test output at all: a plain goroutine dump (judged as goleak judges the
    goroutines at the end of a test).

Lines are attributed to a package and a test by test2json's ``Package`` and ``Test`` fields,
or in plain output by the ``=== RUN``/``--- FAIL:`` and ``ok``/``FAIL`` lines. The stacks of
each event are parsed by :func:`goforensics.read.parse.parse_text` into one snapshot per event
(``snapshot`` = ``event``), with goroutine and snapshot lines mapped back to the input's lines.

>>> out = read_go_test('''=== RUN   TestX
... panic: test timed out after 1s
... \\trunning tests:
... \\t\\tTestX (1s)
...
... goroutine 7 [chan send]:
... example.com/p.leak()
... \\t/src/p/p.go:9 +0x1d
... FAIL\\texample.com/p\\t1.0s
... ''')
>>> out.events[["kind", "package", "test", "running", "goroutines"]].values.tolist()
[['timeout', 'example.com/p', 'TestX', ['TestX'], 1]]
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import LoadError
from ..model import WARNING_COLUMNS, Dumps, _conform
from .inputs import display_name
from .parse import parse_file, parse_text, read_chunks

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_KINDS",
    "TEST_COLUMNS",
    "GoTestOutput",
    "is_empty",
    "read_go_test",
    "read_go_test_file",
    "read_go_test_paths",
]

EVENT_KINDS = ("goleak", "synctest", "timeout", "deadlock", "dump")
EVENT_COLUMNS = [
    "event",
    "kind",
    "package",
    "test",
    "message",
    "line",
    "line_end",
    "running",
    "bubble",
    "goroutines",
]
TEST_COLUMNS = ["package", "test", "result", "elapsed", "line"]

_ANCHORS = (
    ("goleak", re.compile(r"found unexpected goroutines:\s*$")),
    (
        "synctest",
        re.compile(
            r"^panic: (deadlock: (?:main bubble goroutine has exited but blocked "
            r"goroutines remain|all goroutines in bubble are blocked))"
        ),
    ),
    ("timeout", re.compile(r"^panic: (test timed out after \S+)")),
    ("deadlock", re.compile(r"^fatal error: (all goroutines are asleep - deadlock!)")),
)
# What ends an event's text in plain or test2json output: the next test or the package's result.
_END = re.compile(
    r"^(?:--- (?:PASS|FAIL|SKIP):|=== (?:RUN|CONT|PAUSE|NAME)\s|ok  \t|FAIL\t|"
    r"FAIL$|PASS$|exit status \d+$)"
)
_RUN = re.compile(r"^=== (RUN|CONT|PAUSE|NAME)\s+(\S+)")
_RESULT = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)")
_PACKAGE = re.compile(r"^(ok  |FAIL|\?   )\t(\S+)(?:\t|$)")
_RUNNING = re.compile(r"^\s+(\S+) \((\S+)\)\s*$")
# goleak's introduction of each stack (Stack.String: the goroutine's header is not repeated)
_GOLEAK_HEAD = re.compile(
    r"^(\s*)[\[ ]?Goroutine (\d+) in state (.*), with (\S+) on top of the stack:\s*$"
)
_BUBBLE = re.compile(r"goroutine (\d+) [^\[]*\[[^\]]*synctest bubble \d+")
_HEADER = re.compile(r"^\s*goroutine \d+ (?:gp=\S+ )?(?:m=\S+ )?(?:mp=\S+ )?\[")
_MARKERS = re.compile(
    r"^(?:=== (?:RUN|CONT|PAUSE|NAME)\s|\s*--- (?:PASS|FAIL|SKIP): |ok  \t|FAIL\t|\?   \t)"
)


@dataclass
class GoTestOutput:
    """What a ``go test`` run printed, as tables.

    ``tests``: one row per test seen (:data:`TEST_COLUMNS`: ``package``, ``test``, ``result``
    pass / fail / skip / timeout / '' when none was printed, ``elapsed`` seconds, ``line``).
    ``events``: one row per event (:data:`EVENT_COLUMNS`; ``running`` lists the tests a
    timeout names, ``bubble`` the goroutine ids a synctest panic prints as in its bubble;
    ``line``/``line_end`` are lines of the input). ``dumps``: the goroutines of
    every event, snapshot = event. ``warnings``: what was skipped, in
    :data:`goforensics.model.WARNING_COLUMNS`. ``test_output``: whether the input was test
    output at all (else it was read as a plain dump).
    """

    tests: pd.DataFrame
    events: pd.DataFrame
    dumps: Dumps
    warnings: pd.DataFrame
    source: str = "<text>"
    test_output: bool = True
    packages: list[str] = field(default_factory=list)


@dataclass
class _Line:
    src: int  # 1-based line of the input
    package: str
    test: str
    text: str


def _is_test2json(lines: list[str]) -> bool:
    for s in lines[:50]:
        s = s.strip()
        if not s:
            continue
        if s.startswith("{") and '"Action"' in s:
            try:
                return "Action" in json.loads(s)
            except ValueError:
                return False
        return False
    return False


def _from_test2json(lines: list[str], tests: dict) -> tuple[list[_Line], int]:
    """Transcript lines and results from test2json events; returns (lines, undecodable)."""
    out: list[_Line] = []
    pending: dict[tuple[str, str], tuple[int, str]] = {}
    bad = 0
    for i, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s:
            continue
        try:
            ev = json.loads(s) if s.startswith("{") else None
        except ValueError:
            ev = None
        if not isinstance(ev, dict) or "Action" not in ev:
            out.append(
                _Line(i, "", "", raw.rstrip("\r\n"))
            )  # go vet or build output between events
            bad += not s.startswith("#")
            continue
        pkg, test, action = str(ev.get("Package", "")), str(ev.get("Test", "")), ev["Action"]
        if action == "output":
            start, buf = pending.pop((pkg, test), (i, ""))
            buf += str(ev.get("Output", ""))
            *done, rest = buf.split("\n")
            out.extend(_Line(start, pkg, test, t.rstrip("\r")) for t in done)
            if rest:
                pending[(pkg, test)] = (start if not done else i, rest)
        elif action in ("run", "pass", "fail", "skip", "start"):
            row = tests.setdefault((pkg, test), {"result": "", "elapsed": None, "line": i})
            if action in ("pass", "fail", "skip"):
                row["result"], row["elapsed"] = action, ev.get("Elapsed")
    out.extend(_Line(s, p, t, rest) for (p, t), (s, rest) in pending.items())
    out.sort(key=lambda x: x.src)
    return out, bad


def _from_plain(lines: list[str], tests: dict) -> list[_Line]:
    """Transcript lines of plain output, tests named by the markers ``go test -v`` prints."""
    out: list[_Line] = []
    current = ""
    since = 0  # first transcript line not yet given a package
    for i, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        if m := _RUN.match(text):
            current = m.group(2)
            tests.setdefault(("", current), {"result": "", "elapsed": None, "line": i})
        elif m := _RESULT.match(text):
            current = m.group(2)
            row = tests.setdefault(("", current), {"result": "", "elapsed": None, "line": i})
            row["result"], row["elapsed"] = m.group(1).lower(), float(m.group(3))
        out.append(_Line(i, "", current, text))
        if m := _PACKAGE.match(text):
            pkg = m.group(2)
            for x in out[since:]:
                x.package = pkg
            for key in [k for k in tests if k[0] == ""]:
                tests[(pkg, key[1])] = tests.pop(key)
            tests.setdefault((pkg, ""), {"result": "", "elapsed": None, "line": i})["result"] = (
                "pass"
                if m.group(1).startswith("ok")
                else "fail"
                if m.group(1) == "FAIL"
                else "skip"
            )
            since, current = len(out), ""
        elif text in ("PASS", "FAIL"):
            current = ""
    return out


def _anchor(text: str) -> tuple[str, str] | None:
    s = text.strip()
    for kind, rx in _ANCHORS:
        if m := rx.search(s):
            return kind, (m.group(1) if m.groups() else s)
    return None


def _running(seg: list[_Line]) -> list[str]:
    """The tests a timeout's ``running tests:`` block names (without their durations)."""
    names, inside = [], False
    for x in seg[1:]:
        s = x.text.strip()
        if s == "running tests:":
            inside = True
        elif inside and (m := _RUNNING.match(x.text)):
            names.append(m.group(1))
        elif inside or s.startswith("goroutine "):
            break
    return names


def _goleak_text(seg: list[_Line]) -> list[str]:
    """goleak's report rewritten as a plain dump: its ``Goroutine N in state S, with F ...``
    lines become ``goroutine N [S]:`` headers, its closing ``]`` goes."""
    out = []
    for x in seg:
        if m := _GOLEAK_HEAD.match(x.text):
            out.extend(["", f"goroutine {m.group(2)} [{m.group(3)}]:"])
        elif x.text.strip() == "]":
            out.append("")
        else:
            out.append(x.text)
    return out


def _segments(lines: list[_Line]) -> list[tuple[str, str, int, int]]:
    """(kind, message, first, stop) of every event: transcript index ranges."""
    found = [(k, a) for k, x in enumerate(lines) if (a := _anchor(x.text))]
    segs = []
    for j, (k, (kind, message)) in enumerate(found):
        stop = found[j + 1][0] if j + 1 < len(found) else len(lines)
        pkg = lines[k].package
        for e in range(k + 1, stop):
            x = lines[e]
            if x.package != pkg or _END.match(x.text.strip()):
                stop = e
                break
        segs.append((kind, message, k, stop))
    return segs


def _event_dumps(kind: str, seg: list[_Line], source: str, event: int) -> Dumps:
    text = _goleak_text(seg) if kind == "goleak" else [x.text for x in seg]
    d = parse_text("\n".join(text) + "\n", source=source)
    src = [x.src for x in seg]
    if kind == "goleak":  # the rewrite added a blank line before each header
        src = _rewritten_lines(seg)
    remap = lambda s: s.map(lambda v: src[min(int(v), len(src)) - 1] if pd.notna(v) else v)  # noqa: E731
    g = d.goroutines.copy()
    g["line"] = remap(g["line"]).astype("Int64")
    g["snapshot"] = event
    s = d.snapshots.copy()
    for c in ("line_start", "line_end"):
        s[c] = remap(s[c]).astype("Int64")
    s["snapshot"] = event
    w = d.warnings.copy()
    w["snapshot"] = event
    w["line"] = remap(w["line"]).astype("Int64")
    return Dumps(g, d.frames, s, w)


def _rewritten_lines(seg: list[_Line]) -> list[int]:
    out = []
    for x in seg:
        out.extend([x.src, x.src] if _GOLEAK_HEAD.match(x.text) else [x.src])
    return out


def _tests_frame(tests: dict) -> pd.DataFrame:
    rows = [{"package": p, "test": t, **v} for (p, t), v in tests.items()]
    df = pd.DataFrame(rows, columns=TEST_COLUMNS)
    df["elapsed"] = pd.to_numeric(df["elapsed"], errors="coerce")
    df["line"] = df["line"].astype("Int64")
    return df.sort_values("line", kind="stable").reset_index(drop=True)


def _warn(source: str, line: int, lines: int, kind: str, message: str) -> dict:
    return {
        "source": source,
        "snapshot": None,
        "line": line,
        "lines": lines,
        "kind": kind,
        "message": message,
    }


def read_go_test(text: str | bytes, source: str = "<text>") -> GoTestOutput:
    """Read ``go test`` output (plain, ``-v`` or ``-json``) or a plain goroutine dump.

    Parameters
    ----------
    text : str or bytes
        What ``go test`` printed (stdout and stderr together), or a goroutine dump.
    source : str
        Name of the input, for the tables.

    Returns
    -------
    GoTestOutput
        ``tests`` (package, test, result, elapsed, line), ``events`` (event, kind, package,
        test, message, line, line_end, running, bubble, goroutines), ``dumps`` (the events'
        goroutines, snapshot = event) and ``warnings``.

    Examples
    --------
    >>> out = read_go_test('{"Action":"run","Package":"p","Test":"TestA"}\\n'
    ...                    '{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.1}\\n')
    >>> out.tests[["package", "test", "result"]].values.tolist(), len(out.events)
    ([['p', 'TestA', 'pass']], 0)
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    raw = text.splitlines()
    tests: dict = {}
    warnings = []
    if _is_test2json(raw):
        lines, bad = _from_test2json(raw, tests)
        if bad:
            warnings.append(
                _warn(
                    source,
                    1,
                    bad,
                    "skipped",
                    f"{bad} line(s) between test2json events are not JSON: read as plain text",
                )
            )
    else:
        lines = _from_plain(raw, tests)
    is_test = bool(tests) or any(_MARKERS.match(x.text) for x in lines)
    segs = _segments(lines)
    if not segs and not is_test:
        return _plain_dump(text, source)
    events, parts = [], []
    for ev, (kind, message, a, b) in enumerate(segs):
        seg = lines[a:b]
        d = _event_dumps(kind, seg, source, ev)
        parts.append(d)
        events.append(
            {
                "event": ev,
                "kind": kind,
                "package": seg[0].package,
                "test": seg[0].test,
                "message": message,
                "line": seg[0].src,
                "line_end": seg[-1].src,
                "running": _running(seg) if kind == "timeout" else [],
                "bubble": [int(m.group(1)) for x in seg if (m := _BUBBLE.search(x.text))],
                "goroutines": d.total,
            }
        )
    warnings += _unjudged(lines, segs, source)
    return _output(tests, events, parts, warnings, source, True)


def _unjudged(lines: list[_Line], segs, source: str) -> list[dict]:
    """A warning for goroutine stacks printed outside every event: they are not judged."""
    inside = set()
    for _, _, a, b in segs:
        inside.update(range(a, b))
    outside = [x.src for k, x in enumerate(lines) if k not in inside and _HEADER.match(x.text)]
    if not outside:
        return []
    return [
        _warn(
            source,
            outside[0],
            len(outside),
            "not judged",
            f"{len(outside)} goroutine stack(s) printed outside any leak report, timeout or "
            "deadlock (a test's own log?): not judged",
        )
    ]


def _output(tests, events, parts, warnings, source, is_test) -> GoTestOutput:
    ev = pd.DataFrame(events, columns=EVENT_COLUMNS)
    dumps = Dumps.concat(parts) if parts else Dumps()
    w = (
        pd.concat(
            [
                dumps.warnings,
                _conform(pd.DataFrame(warnings, columns=list(WARNING_COLUMNS)), WARNING_COLUMNS),
            ],
            ignore_index=True,
        )
        if warnings
        else dumps.warnings
    )
    pkgs = sorted({str(p) for p in ev["package"]} | {p for p, _ in tests} - {""})
    return GoTestOutput(
        _tests_frame(tests), ev, dumps, _conform(w, WARNING_COLUMNS), source, is_test, pkgs
    )


def _plain_dump(text: str | None, source: str, path: Path | None = None) -> GoTestOutput:
    d = parse_file(path, source=source) if path is not None else parse_text(text, source=source)
    d.goroutines["snapshot"] = 0
    d.snapshots["snapshot"] = 0
    last = d.snapshots.iloc[-1] if len(d.snapshots) else None
    events = (
        []
        if d.goroutines.empty
        else [
            {
                "event": 0,
                "kind": "dump",
                "package": "",
                "test": "",
                "message": "" if last is None or pd.isna(last["message"]) else str(last["message"]),
                "line": int(d.snapshots["line_start"].min()) if len(d.snapshots) else 1,
                "line_end": int(d.snapshots["line_end"].max()) if len(d.snapshots) else 1,
                "running": [],
                "bubble": [],
                "goroutines": d.total,
            }
        ]
    )
    out = _output({}, events, [d], [], source, False)
    return out


def read_go_test_file(path: str | Path, source: str | None = None) -> GoTestOutput:
    """:func:`read_go_test` of a file (``.gz`` too); a binary profile is read as a plain dump.

    Parameters
    ----------
    path : str or Path
        A file of ``go test`` output (``-json`` or plain), gzip-compressed or not.
    source : str, optional
        The name the tables give it (default: the file's name).

    Returns
    -------
    GoTestOutput
        Its ``tests``, ``events``, ``dumps`` and ``warnings``.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("ok  \\texample.com/p\\t0.01s\\n")
    >>> read_go_test_file(f.name).tests[["package", "result"]].values.tolist()
    [['example.com/p', 'pass']]
    >>> os.unlink(f.name)
    """
    path = Path(path)
    # a file name with bytes that are not UTF-8 is carried as text the tables can hold
    source = display_name(path) if source is None else source
    data = b"".join(read_chunks(path))
    if b"\x00" in data[:4096]:  # a protobuf profile: no test output can be in it
        return _plain_dump(None, source, path)
    return read_go_test(data, source)


def read_go_test_paths(paths: list[str | Path]) -> list[GoTestOutput]:
    """:func:`read_go_test_file` of every file that ``paths`` name (files, globs, directories).

    Raises :class:`goforensics.errors.LoadError` where a path names nothing.

    Parameters
    ----------
    paths : list of str or Path
        Files, globs or directories.

    Returns
    -------
    list of GoTestOutput
        One per file, in the order the paths name them.

    Examples
    --------
    >>> read_go_test_paths(["/no/such/file.json"])
    Traceback (most recent call last):
    ...
    goforensics.errors.LoadError: no such file, directory or glob match: /no/such/file.json
    """
    out = []
    for p in map(str, paths):
        if Path(p).is_dir():
            files = sorted(str(f) for f in Path(p).iterdir() if f.is_file())
        elif Path(p).is_file():
            files = [p]
        else:
            files = sorted(f for f in glob.glob(p) if Path(f).is_file())
        if not files:
            raise LoadError(f"no such file, directory or glob match: {p}")
        out += [read_go_test_file(f) for f in files]
    return out


def is_empty(out: GoTestOutput) -> bool:
    """True where an input held neither test output nor a goroutine: nothing to judge.

    Parameters
    ----------
    out : GoTestOutput
        What :func:`read_go_test` read.

    Returns
    -------
    bool
        True when it holds no test and no goroutine.

    Examples
    --------
    >>> is_empty(read_go_test("hello\\n")), is_empty(read_go_test("ok  \\tp\\t0.1s\\n"))
    (True, False)
    """
    return out.tests.empty and out.events.empty and out.dumps.goroutines.empty
