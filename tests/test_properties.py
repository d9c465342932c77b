"""Property tests: render a random goroutine model as dump text, in each dialect, and parse it back.

The model is drawn by hypothesis; the text is written here the way the Go runtime writes it
(runtime/traceback.go and runtime/pprof, Go 1.27: label quoting, ``(leaked)``, minutes,
``created by ... in goroutine N``, elided-frame markers, ancestors, ``gp=``/``m=`` crash
headers, ``fp=``/``sp=``/``pc=`` suffixes, ``debug=1`` buckets), then wrapped the way logs
carry it. What the parser must return is read off the model, never off an earlier parse. On
every input, the fast path must also give exactly the reference reader's tables.
"""

from __future__ import annotations

import json
import os
import re
import string
from dataclasses import dataclass, field

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import goforensics as gf
import goforensics.read.fast as fast_mod

# Modest by default for CI; GOFORENSICS_PROPERTY_EXAMPLES=500 for a deep run.
SETTINGS = settings(
    max_examples=int(os.environ.get("GOFORENSICS_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- the model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Func:
    name: str  # as printed
    package: str  # as the parser must report it (escapes undone)
    receiver: str
    method: str


@dataclass(frozen=True)
class Frame:
    func: Func
    file: str
    line: int
    offset: int | None  # None: an inlined frame, printed '(...)' with no +0x offset


@dataclass(frozen=True)
class Created:
    func: Func
    file: str
    line: int
    offset: int


@dataclass(frozen=True)
class Stack:
    frames: tuple[Frame, ...]
    created: Created | None
    elided_all: bool  # '...additional frames elided...' after the frames
    elided_mid: tuple[int, int] | None  # (index of the frame after the marker, frames elided)
    ancestors: tuple[tuple[int, tuple[Frame, ...]], ...]  # (goid, frames) per ancestor


@dataclass
class G:
    goid: int
    state: str
    minutes: int
    locked: bool
    leaked: bool
    labels: dict[str, str]
    stack: Stack
    args: tuple[str, ...]  # one per frame
    creator: int | None
    m: int | None = None  # for crash headers
    extra: dict = field(default_factory=dict)


# --- strategies ------------------------------------------------------------------------------

LOWER = string.ascii_lowercase
ident = st.text(LOWER + string.digits + "_", min_size=1, max_size=7).filter(lambda s: s[0] in LOWER)
Ident = st.builds(
    lambda a, b: a + b,
    st.sampled_from(string.ascii_uppercase),
    st.text(string.ascii_letters + string.digits, max_size=6),
)


@st.composite
def packages(draw) -> tuple[str, str]:
    """(printed, real) import path: Go escapes dots of the last element as %2e."""
    kind = draw(st.sampled_from(["main", "std", "module", "module-dotted", "gopkg"]))
    if kind == "main":
        return "main", "main"
    if kind == "std":
        p = draw(
            st.sampled_from(
                [
                    "net/http",
                    "internal/poll",
                    "os/signal",
                    "runtime",
                    "time",
                    "context",
                    "encoding/json",
                ]
            )
        )
        return p, p
    user, repo = draw(ident), draw(ident)
    if kind == "gopkg":
        v = draw(st.integers(1, 9))
        return f"gopkg.in/{repo}%2ev{v}", f"gopkg.in/{repo}.v{v}"
    sub = draw(st.lists(ident, max_size=2))
    path = "/".join(["github.com", user, repo, *sub])
    if kind == "module-dotted":
        last = draw(ident)
        return f"{path}/{last}%2ego", f"{path}/{last}.go"
    return path, path


CLOSURE = st.sampled_from(["", ".func1", ".func2.3", ".gowrap1", ".deferwrap2", ".func1.1.4"])


@st.composite
def funcs(draw) -> Func:
    printed, real = draw(packages())
    kind = draw(
        st.sampled_from(["plain", "generic", "pointer", "pointer-generic", "value", "glob"])
    )
    suffix = draw(CLOSURE)
    if kind == "plain":
        name = draw(st.one_of(ident, Ident)) + suffix
        return Func(f"{printed}.{name}", real, "", name)
    if kind == "generic":
        name = draw(Ident) + "[...]" + suffix
        return Func(f"{printed}.{name}", real, "", name)
    if kind == "glob":
        name = f"glob..func{draw(st.integers(1, 30))}"
        return Func(f"{printed}.{name}", real, "", name)
    typ = draw(Ident) + ("[...]" if kind == "pointer-generic" else "")
    method = draw(st.one_of(ident, Ident)) + suffix
    if kind == "value":
        return Func(f"{printed}.{typ}.{method}", real, typ, method)
    return Func(f"{printed}.(*{typ}).{method}", real, "*" + typ, method)


files = st.one_of(
    st.builds(lambda u, p, f: f"/home/{u}/go/src/{p}/{f}.go", ident, ident, ident),
    st.builds(lambda p, f: f"C:/Program Files/Go/src/{p}/{f}.go", ident, ident),
    st.builds(lambda f: f"C:/Users/my user/project/{f}.go", ident),
    st.builds(lambda f: f"/home/андрей/Рабочий стол/проект/{f}.go", ident),
    st.builds(
        lambda r, v, f: f"github.com/acme/{r}@v1.{v}.0/{f}.go", ident, st.integers(0, 30), ident
    ),
    st.sampled_from(["<autogenerated>", "_cgo_gotypes.go", "/usr/local/go/src/runtime/proc.go"]),
)


@st.composite
def frames_(draw) -> Frame:
    inlined = draw(st.integers(0, 5)) == 0
    return Frame(
        draw(funcs()),
        draw(files),
        draw(st.integers(1, 99999)),
        None if inlined else draw(st.integers(1, 0xFFFF)),
    )


@st.composite
def stacks(draw) -> Stack:
    frames = tuple(draw(st.lists(frames_(), min_size=1, max_size=6)))
    created = draw(
        st.one_of(
            st.none(),
            st.builds(Created, funcs(), files, st.integers(1, 9999), st.integers(1, 0xFFF)),
        )
    )
    elided_all = draw(st.integers(0, 6)) == 0
    elided_mid = None
    if len(frames) >= 2 and not elided_all and draw(st.integers(0, 5)) == 0:
        elided_mid = (draw(st.integers(1, len(frames) - 1)), draw(st.integers(1, 10**8)))
    ancestors = ()
    if draw(st.integers(0, 6)) == 0:
        ancestors = tuple(
            (
                draw(st.integers(1, 10**6)),
                tuple(
                    Frame(f.func, f.file, f.line, f.offset or 1)
                    for f in draw(st.lists(frames_(), min_size=1, max_size=3))
                ),
            )
            for _ in range(draw(st.integers(1, 2)))
        )
    return Stack(frames, created, elided_all, elided_mid, ancestors)


hexword = st.builds(
    lambda v, q: f"{v:#x}" + ("?" if q else ""), st.integers(0, 2**48), st.booleans()
)


@st.composite
def arg_lists(draw, inlined: bool) -> str:
    """Arguments as each Go era prints them."""
    if inlined:
        return "..."
    era = draw(st.sampled_from(["hex", "regabi", "empty", "goexit"]))
    if era == "empty":
        return ""
    if era == "goexit":
        return "{}"
    if era == "hex":
        words = draw(
            st.lists(st.builds(lambda v: f"{v:#x}", st.integers(0, 2**48)), min_size=1, max_size=10)
        )
        return ", ".join(words) + (", ..." if len(words) == 10 else "")
    items = draw(
        st.lists(
            st.one_of(
                hexword, st.lists(hexword, max_size=3).map(lambda w: "{" + ", ".join(w) + "}")
            ),
            min_size=1,
            max_size=5,
        )
    )
    return ", ".join(items) + (", ..." if draw(st.booleans()) else "")


STATES = [
    "running",
    "runnable",
    "syscall",
    "chan receive",
    "chan send",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "select",
    "select (no cases)",
    "IO wait",
    "sleep",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "sync.WaitGroup.Wait",
    "sync.Cond.Wait",
    "GC worker (idle)",
    "finalizer wait",
    "cleanup wait",
]
label_text = st.text(
    alphabet=string.ascii_letters + string.digits + "._/- \"',:{}\\\n\tЖжé😀", max_size=8
)


@st.composite
def dumps(draw, max_goroutines: int = 10) -> list[G]:
    pool = draw(st.lists(stacks(), min_size=1, max_size=3))
    n = draw(st.integers(1, max_goroutines))
    goids = draw(st.lists(st.integers(1, 2**40), min_size=n, max_size=n, unique=True))
    out = []
    for goid in goids:
        stack = draw(st.sampled_from(pool))
        args = tuple(draw(arg_lists(f.offset is None)) for f in stack.frames)
        out.append(
            G(
                goid=goid,
                state=draw(st.sampled_from(STATES)),
                minutes=draw(st.one_of(st.just(0), st.integers(1, 10**5))),
                locked=draw(st.booleans()),
                leaked=draw(st.integers(0, 4)) == 0,
                labels=draw(st.dictionaries(label_text, label_text, max_size=3)),
                stack=stack,
                args=args,
                creator=draw(st.one_of(st.none(), st.integers(1, 2**40)))
                if stack.created
                else None,
            )
        )
    return out


# --- rendering as the runtime does ------------------------------------------------------------------


def go_needs_quoting(s: str) -> bool:
    return any(not (c.isascii() and (c.isalnum() or c in "./_")) for c in s)


def go_quoted(s: str) -> str:
    """runtime.printquoted"""
    out = ['"']
    for ch in s:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch in '\\"':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        elif ord(ch) < 127:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_strconv_quote(s: str) -> str:
    """fmt %q (strconv.Quote), as runtime/pprof's debug=1 labels use it."""
    out = ['"']
    for ch in s:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


@dataclass
class Style:
    indent: str = "\t"
    crash: bool = False  # gp=/m= headers and fp/sp/pc on frame lines


def render_header(g: G, style: Style) -> str:
    h = f"goroutine {g.goid}"
    if style.crash:
        h += f" gp={0xC000002380 + g.goid:#x}"
        h += " m=nil" if g.m is None else f" m={g.m} mp={0xC000100000 + g.m:#x}"
    h += f" [{g.state}"
    if g.leaked:
        h += " (leaked)"
    if g.minutes:
        h += f", {g.minutes} minutes"
    if g.locked:
        h += ", locked to thread"
    h += "]"
    if g.labels:
        q = [
            (go_quoted(k) if go_needs_quoting(k) else k)
            + ": "
            + (go_quoted(v) if go_needs_quoting(v) else v)
            for k, v in sorted(g.labels.items())
        ]
        h += " {" + ", ".join(q) + "}"
    return h + ":"


def render_frame(f: Frame, args: str, style: Style, fpsp: int = 0) -> list[str]:
    loc = f"{style.indent}{f.file}:{f.line}"
    if f.offset is not None:
        loc += f" +{f.offset:#x}"
        if style.crash:
            loc += f" fp={0xC000050000 + fpsp:#x} sp={0xC000049F00 + fpsp:#x} pc={0x401000 + f.offset:#x}"
    return [f"{f.func.name}({args})", loc]


def render_goroutine(g: G, style: Style) -> list[str]:
    s = g.stack
    lines = [render_header(g, style)]
    for k, (f, a) in enumerate(zip(s.frames, g.args, strict=True)):
        if s.elided_mid and s.elided_mid[0] == k:
            lines.append(f"...{s.elided_mid[1]} frames elided...")
        lines += render_frame(f, a, style, fpsp=g.goid * 64 + k)
    if s.elided_all:
        lines.append("...additional frames elided...")
    if s.created:
        c = s.created
        lines.append(
            f"created by {c.func.name}"
            + (f" in goroutine {g.creator}" if g.creator is not None else "")
        )
        lines.append(f"{style.indent}{c.file}:{c.line} +{c.offset:#x}")
    for goid, frames in s.ancestors:
        lines.append(f"[originating from goroutine {goid}]:")
        for f in frames:
            lines += [f"{f.func.name}(...)", f"{style.indent}{f.file}:{f.line} +{f.offset:#x}"]
    return lines


def render_dump(gs: list[G], style: Style) -> str:
    """A debug=2 dump: goroutines separated by blank lines, ending with a newline."""
    return "\n\n".join("\n".join(render_goroutine(g, style)) for g in gs) + "\n"


# --- dialects: how logs carry a dump -------------------------------------------------------------


def dialect(name: str, text: str, draw) -> str:
    lines = text.split("\n")[:-1]  # the text ends with a newline
    if name == "plain":
        return text
    if name == "crlf":
        return "\r\n".join(lines) + "\r\n"
    if name == "no-final-newline":
        return text[:-1]
    if name == "container-log":
        t0 = draw(st.integers(0, 10**6))
        out = []
        for k, ln in enumerate(lines):
            micro = (t0 + k * draw(st.integers(0, 999))) % 10**6
            out.append(f"2026-11-30T03:21:{31 + k % 20:02d}.{micro:06d}Z stderr F {ln}")
        return "\n".join(out) + "\n"
    if name == "quoted":
        return "".join(f"   > {ln}\n" for ln in lines)
    if name == "test2json":
        return "".join(
            json.dumps(
                {
                    "Time": f"2026-11-30T03:21:31.{k:06d}Z",
                    "Action": "output",
                    "Package": "example.com/p",
                    "Test": "TestHang",
                    "Output": ln + "\n",
                }
            )
            + "\n"
            for k, ln in enumerate(lines)
        )
    if name == "zap":
        return (
            json.dumps({"level": "error", "ts": 1764472891.5, "msg": "stuck", "stacktrace": text})
            + "\n"
        )
    if name == "glued":
        return "dumping all stacks" + text
    if name == "docker-json":
        # Docker's json-file driver: a record per line; a line over 16 KiB is split into
        # records of which only the last ends with the newline
        out = []
        for k, ln in enumerate(lines):
            cut = draw(st.integers(0, len(ln)))
            parts = [ln[:cut], ln[cut:] + "\n"] if cut else [ln + "\n"]
            out += [
                json.dumps({"log": p, "stream": "stderr", "time": f"2026-11-30T03:21:31.{k:09d}Z"})
                for p in parts
            ]
        return "\n".join(out) + "\n"
    raise ValueError(name)


DIALECTS = [
    "plain",
    "crlf",
    "no-final-newline",
    "container-log",
    "quoted",
    "test2json",
    "zap",
    "glued",
    "docker-json",
]


# --- what the parser must give --------------------------------------------------------------------


def expected_entry(names: list[str]) -> str:
    """The entry Go's own plain traceback would end with: below it, crash tracebacks print
    runtime.goexit, a go statement's wrapper (``F.gowrapN``) and, under main.main, runtime.main."""
    k = len(names) - 1
    if k > 0 and names[k] == "runtime.goexit":
        k -= 1
    while k > 0 and re.search(r"\.(?:gowrap|deferwrap)\d+$", names[k]):
        k -= 1
    if k > 0 and names[k] == "runtime.main" and names[k - 1] == "main.main":
        k -= 1
    return names[k]


def expected_row(g: G) -> dict:
    s = g.stack
    raw = g.state + (" (leaked)" if g.leaked else "")
    return {
        "goid": g.goid,
        "state": g.state,
        "raw_state": raw,
        "wait_minutes": g.minutes,
        "locked_to_thread": g.locked,
        "leaked": g.leaked,
        "labels": json.dumps(g.labels, ensure_ascii=False, sort_keys=True) if g.labels else "",
        "top_function": s.frames[0].func.name,
        "entry_function": expected_entry([f.func.name for f in s.frames]),
        "created_by": s.created.func.name if s.created else "",
        "created_by_file": s.created.file if s.created else "",
        "created_by_line": s.created.line if s.created else None,
        "creator_goid": g.creator,
        "ancestors": " ".join(str(a) for a, _ in s.ancestors),
        "elided": s.elided_all or s.elided_mid is not None,
        "n_frames": len(s.frames),
        "args": "\n".join(g.args),
        "count": 1,
    }


def check_against_model(d: gf.Dumps, gs: list[G], crash: bool = False) -> None:
    rows = d.goroutines
    assert d.total == len(gs), (d.total, len(gs), d.warnings.to_dict("records"))
    assert list(rows["goid"]) == [g.goid for g in gs]
    assert (rows["snapshot"] == 0).all()
    first_of_stack: dict[int, G] = {}
    for (_, r), g in zip(rows.iterrows(), gs, strict=True):
        want = expected_row(g)
        got = {k: (None if pd.isna(r[k]) else r[k]) for k in want}
        assert got == want, {k: (got[k], want[k]) for k in want if got[k] != want[k]}
        if crash:
            assert (None if pd.isna(r["m"]) else r["m"]) == g.m
        first = first_of_stack.setdefault(int(r["stack_id"]), g)
        fr = d.frames[d.frames["stack_id"] == r["stack_id"]].sort_values(["section", "depth"])
        own = fr[fr["section"] == 0]
        assert len(own) == len(g.stack.frames)
        for (_, x), f, fa, a0 in zip(
            own.iterrows(), g.stack.frames, first.stack.frames, first.args, strict=True
        ):
            assert (
                x["function"],
                x["package"],
                x["receiver"],
                x["method"],
                x["file"],
                x["line"],
            ) == (f.func.name, f.func.package, f.func.receiver, f.func.method, f.file, f.line)
            # offsets, args and the inlined flag are those of the first goroutine on this stack
            assert (None if pd.isna(x["offset"]) else x["offset"]) == fa.offset
            assert x["args"] == a0
            assert x["inlined"] == (a0 == "...")
        elided = [None if pd.isna(v) else v for v in own["elided_before"]]
        want_el = [None] * len(g.stack.frames)
        if g.stack.elided_mid:
            want_el[g.stack.elided_mid[0]] = g.stack.elided_mid[1]
        assert elided == want_el
        for k, (_, frames) in enumerate(g.stack.ancestors, start=1):
            anc = fr[fr["section"] == k]
            assert [(x.function, x.file, x.line) for x in anc.itertuples()] == [
                (f.func.name, f.file, f.line) for f in frames
            ]


def check_fast_equals_reference(text: str | bytes) -> gf.Dumps:
    """Parse with the fast path (rows added one by one and in batches) and with the reader alone."""
    ref = gf.parse_text(text, fast=False)
    small = fast_mod.SMALL_RUN
    try:
        for small_run in (small, 1):  # 1: every run of known stacks is added as a batch
            fast_mod.SMALL_RUN = small_run
            fast = gf.parse_text(text)
            for name in ("goroutines", "frames", "snapshots", "warnings"):
                a, b = getattr(fast, name), getattr(ref, name)
                assert a.equals(b), (
                    name,
                    small_run,
                    a.compare(b) if a.shape == b.shape else (a.shape, b.shape),
                )
    finally:
        fast_mod.SMALL_RUN = small
    return fast


# --- the properties ----------------------------------------------------------------------------------


@SETTINGS
@given(
    gs=dumps(),
    data=st.data(),
    name=st.sampled_from(DIALECTS),
    indent=st.sampled_from(["\t", " " * 8, "  ", " ", ""]),
)
def test_debug2_round_trip_in_every_dialect(gs, data, name, indent):
    text = dialect(name, render_dump(gs, Style(indent=indent)), data.draw)
    d = check_fast_equals_reference(text)
    check_against_model(d, gs)
    assert not (d.warnings["kind"] == "truncated").any()


@SETTINGS
@given(
    gs=dumps(max_goroutines=6),
    copies=st.integers(1, 10),
    data=st.data(),
    ms=st.lists(st.one_of(st.none(), st.integers(0, 200)), min_size=60, max_size=60),
)
def test_crash_dump_headers_and_frame_registers(gs, copies, data, ms):
    gs = replicate(gs, copies)
    for g, m in zip(gs, ms, strict=False):
        g.m = m
    text = dialect(
        data.draw(st.sampled_from(["plain", "crlf", "quoted"])),
        render_dump(gs, Style(crash=True)),
        data.draw,
    )
    d = check_fast_equals_reference(text)
    check_against_model(d, gs, crash=True)


def replicate(gs: list[G], copies: int) -> list[G]:
    """Many goroutines on few stacks (a worker pool): copies with new ids."""
    out = []
    for c in range(copies):
        for g in gs:
            out.append(
                G(
                    g.goid + c * 2**41,
                    g.state,
                    g.minutes,
                    g.locked,
                    g.leaked,
                    g.labels,
                    g.stack,
                    g.args,
                    g.creator,
                    g.m,
                )
            )
    return out


@SETTINGS
@given(gs=dumps(max_goroutines=6), copies=st.integers(8, 20))
def test_many_goroutines_on_few_stacks_take_the_fast_path_exactly(gs, copies):
    # long runs of known stacks are what the fast path adds from arrays, in batches
    gs = replicate(gs, copies)
    d = check_fast_equals_reference(render_dump(gs, Style()))
    check_against_model(d, gs)


@SETTINGS
@given(gs=dumps(max_goroutines=6), copies=st.integers(1, 12), times=st.integers(2, 3))
def test_concatenated_dumps_are_separate_snapshots(gs, copies, times):
    # a goroutine id seen again starts a new snapshot (a dump printed twice, or two dumps)
    gs = replicate(gs, copies)
    one = render_dump(gs, Style())
    d = check_fast_equals_reference(one * times)
    assert len(d.snapshots) == times
    assert list(d.snapshots["goroutines"]) == [len(gs)] * times
    assert list(d.goroutines["snapshot"]) == [k for k in range(times) for _ in gs]
    assert list(d.goroutines["goid"]) == [g.goid for g in gs] * times
    lines_per_dump = one.count("\n")
    assert list(d.snapshots["line_start"]) == [1 + k * lines_per_dump for k in range(times)]


# --- debug=1 profiles ------------------------------------------------------------------------------


@dataclass
class Bucket:
    count: int
    labels: dict[str, str]
    frames: tuple[
        tuple[Func, str, int, int, int], ...
    ]  # func, file, line, offset, pc (func None: no symbol)


@st.composite
def buckets(draw) -> Bucket:
    n = draw(st.integers(1, 5))
    frames = []
    for _ in range(n):
        pc = draw(st.integers(0x400000, 0x7FFFFF))
        if draw(st.integers(0, 8)) == 0:
            frames.append((None, "", 0, 0, pc))
        else:
            frames.append(
                (
                    draw(funcs()),
                    draw(files),
                    draw(st.integers(1, 99999)),
                    draw(st.integers(1, 0xFFF)),
                    pc,
                )
            )
    return Bucket(
        draw(st.integers(1, 5000)),
        draw(st.dictionaries(label_text, label_text, max_size=3)),
        tuple(frames),
    )


def render_profile(kind: str, bs: list[Bucket], tabs) -> str:
    out = [f"{kind} profile: total {sum(b.count for b in bs)}"]
    for b in bs:
        out.append(f"{b.count} @ " + " ".join(f"{f[4]:#x}" for f in b.frames))
        if b.labels:
            out.append(
                "# labels: {"
                + ", ".join(
                    sorted(
                        f"{go_strconv_quote(k)}:{go_strconv_quote(v)}" for k, v in b.labels.items()
                    )
                )
                + "}"
            )
        for f, file, line, off, pc in b.frames:
            if f is None:
                out.append(f"#\t{pc:#x}")
            else:
                t = "\t" * tabs
                out.append(f"#{t}{pc:#x}{t}{f.name}+{off:#x}{t}{file}:{line}")
        out.append("")
    return "\n".join(out) + "\n"


@SETTINGS
@given(
    profiles=st.lists(
        st.tuples(
            st.sampled_from(["goroutine", "goroutineleak"]),
            st.lists(buckets(), min_size=1, max_size=5),
        ),
        min_size=1,
        max_size=3,
    ),
    tabs=st.integers(1, 3),
    name=st.sampled_from(["plain", "crlf", "no-final-newline", "quoted"]),
    data=st.data(),
)
def test_debug1_profiles_round_trip(profiles, tabs, name, data):
    text = dialect(name, "".join(render_profile(k, bs, tabs) for k, bs in profiles), data.draw)
    d = check_fast_equals_reference(text)
    g = d.goroutines
    all_b = [(k, b) for k, bs in profiles for b in bs]
    assert len(g) == len(all_b)
    assert d.total == sum(b.count for _, b in all_b)
    assert list(d.snapshots["declared_total"]) == [sum(b.count for b in bs) for _, bs in profiles]
    assert list(d.snapshots["kind"]) == [f"{k} profile" for k, _ in profiles]
    for (_, r), (k, b) in zip(g.iterrows(), all_b, strict=True):
        assert r["count"] == b.count
        assert pd.isna(r["goid"]) and r["state_inferred"]
        assert r["leaked"] == (k == "goroutineleak")
        assert r["labels"] == (
            json.dumps(b.labels, ensure_ascii=False, sort_keys=True) if b.labels else ""
        )
        fr = d.frames[
            (d.frames["stack_id"] == r["stack_id"]) & (d.frames["section"] == 0)
        ].sort_values("depth")
        want = [
            (f.name if f else f"{pc:#x}", file, line if f else None, off if f else None)
            for f, file, line, off, pc in b.frames
        ]
        got = [
            (
                x.function,
                x.file,
                None if pd.isna(x.line) else x.line,
                None if pd.isna(x.offset) else x.offset,
            )
            for x in fr.itertuples()
        ]
        assert got == want


@SETTINGS
@given(gs=dumps(max_goroutines=5), copies=st.integers(2, 12), data=st.data())
def test_fast_path_equals_reference_on_mangled_dumps(gs, copies, data):
    # Differential: whatever the bytes, both paths must give the same tables. The mangling
    # puts characters that matter to the grammar (parentheses, backslashes, tabs, colons,
    # '\\n' escapes, '{"', 'created by ', 'goroutine ') at random places of random lines.
    lines = render_dump(replicate(gs, copies), Style()).split("\n")
    junk = st.sampled_from(
        [
            "(",
            ")",
            "\\",
            "\\n",
            "\t",
            " ",
            ":",
            "+0x1",
            '{"',
            "created by ",
            "goroutine 3 [x]:",
            "...",
            "]",
            "\r",
            "\x00",
            "é",
        ]
    )
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(lines) - 1))
        at = data.draw(st.integers(0, len(lines[i])))
        lines[i] = lines[i][:at] + data.draw(junk) + lines[i][at:]
    check_fast_equals_reference("\n".join(lines))
