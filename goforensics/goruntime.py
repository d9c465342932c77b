"""Every fact about the Go runtime that goforensics relies on, in one place.

A new Go release is taught here and nowhere else: the states goroutines are printed in
(and what kind of thing each one waits on), the runtime frames that reveal a state where
the dump prints none, the frames of the sync machinery, how a symbol splits into
package/receiver/method, and which frames belong to the runtime, the standard library,
third-party modules or the application.

Versions are those that changed what a dump says: wait reasons became strings in Go 1.11
(``runtime2.go`` ``waitReasonStrings``); sync primitives parked as plain ``semacquire``
until Go 1.20 (``sync.Mutex.Lock`` …) and Go 1.25 (``sync.WaitGroup.Wait``); the
``(durable)`` suffix of ``testing/synctest`` bubbles came with Go 1.25 and the
``(leaked)`` verdict of the goroutine-leak profile with Go 1.26.

>>> split_function("net/http.(*conn).serve")
('net/http', '*conn', 'serve')
>>> frame_class("net/http", "/usr/local/go/src/net/http/server.go")
'stdlib'
>>> STATE_KIND["sync.WaitGroup.Wait"], cluster_class("syscall"), is_wait("syscall")
('waitgroup', 'active', True)
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = [
    "ACTIVE_STATES",
    "CHANNEL_STATES",
    "CRASH_KINDS",
    "DEADLOCK_MESSAGES",
    "FRAME_CLASSES",
    "GOEXIT",
    "IO_STATES",
    "LOCK_STATES",
    "OWNED_KINDS",
    "RUNTIME_MAIN",
    "STATES",
    "STATE_KIND",
    "SYNC_FRAMES",
    "SYNC_STATES",
    "TEST_TIMEOUT_ALARM",
    "TEST_TIMEOUT_MESSAGE",
    "UNKNOWN_STATES",
    "UNWAKEABLE",
    "classify_frames",
    "cluster_class",
    "frame_class",
    "infer_state",
    "is_blocked",
    "is_go_wrapper",
    "is_sync_plumbing",
    "is_wait",
    "is_wait_plumbing",
    "normalize_state",
    "split_function",
]

FRAME_CLASSES = ("runtime", "stdlib", "third-party", "application")

# --- states -------------------------------------------------------------------------------------
# Each state as Go prints it (runtime2.go gStatusStrings and waitReasonStrings) -> what the
# goroutine waits on (None: it is not parked: it runs, is about to, or is a runtime helper).
# 'syscall' is a status, not a wait reason: the goroutine keeps its OS thread, yet from the
# application's side it waits (on the kernel), so it is a wait here.
STATE_KIND: dict[str, str | None] = {
    # statuses
    "running": None,
    "runnable": None,
    "syscall": "syscall",
    "waiting": "unknown",
    "idle": None,
    "dead": None,
    "copystack": None,
    "preempted": None,
    # channels (Go 1.11+)
    "chan receive": "chan",
    "chan send": "chan",
    "select": "select",
    "chan receive (nil chan)": "nil chan",
    "chan send (nil chan)": "nil chan",
    "select (no cases)": "select (no cases)",
    # IO, timers
    "IO wait": "fd",
    "sleep": "sleep",
    # sync: 'semacquire' for all of them before Go 1.20; named from Go 1.20 (Mutex, RWMutex),
    # Go 1.25 (WaitGroup); Cond since Go 1.11
    "semacquire": "semaphore",
    "sync.Mutex.Lock": "mutex",
    "sync.RWMutex.RLock": "rwmutex",
    "sync.RWMutex.Lock": "rwmutex",
    "sync.WaitGroup.Wait": "waitgroup",
    "sync.Cond.Wait": "cond",
    # the runtime's own helpers
    "GC assist marking": "runtime",
    "GC assist wait": "runtime",
    "GC sweep wait": "runtime",
    "GC scavenge wait": "runtime",
    "GC worker (idle)": "runtime",
    "GC worker (active)": "runtime",
    "GC mark termination": "runtime",
    "GC weak to strong wait": "runtime",
    "finalizer wait": "runtime",
    "force gc (idle)": "runtime",
    "GOMAXPROCS updater (idle)": "runtime",
    "dumping heap": "runtime",
    "garbage collection": "runtime",
    "garbage collection scan": "runtime",
    "panicwait": "runtime",
    "trace reader (blocked)": "runtime",
    "wait for GC cycle": "runtime",
    "debug call": "runtime",
    "stopping the world": "runtime",
    "flushing proc caches": "runtime",
    "trace goroutine status": "runtime",
    "trace proc status": "runtime",
    "page trace flush": "runtime",
    "coroutine": "runtime",
    "cleanup wait": "runtime",
    # testing/synctest (Go 1.24 experiment, Go 1.25): the '(durable)' forms normalise away
    "synctest.Run": "synctest",
    "synctest.Wait": "synctest",
    "chan receive (durable)": "chan",
    "chan send (durable)": "chan",
    "select (durable)": "select",
    "sync.WaitGroup.Wait (durable)": "waitgroup",
    "sleep (durable)": "sleep",
    "unknown": "unknown",
}
STATES = tuple(STATE_KIND)

# Doing work, or about to: everything else waits on something.
ACTIVE_STATES = frozenset(s for s, k in STATE_KIND.items() if k is None)
# States nothing can ever wake: the goroutine is gone for good.
UNWAKEABLE = frozenset({"chan receive (nil chan)", "chan send (nil chan)", "select (no cases)"})
# Snapshot kinds that end a process with a goroutine that raised it (a panic, a fatal error);
# a signal has no such goroutine.
CRASH_KINDS = frozenset({"panic", "fatal error"})
# The frame every goroutine returns into. Plain dumps hide it; crash tracebacks with runtime
# frames (GOTRACEBACK=system, Go 1.21+'s "gp=" headers) print it last, below the real entry.
GOEXIT = "runtime.goexit"
# ... and above it, for the main goroutine, the runtime's own caller of main.main.
RUNTIME_MAIN = "runtime.main"
# The goroutine of a test binary that panics with "test timed out after ..." (testing.go).
TEST_TIMEOUT_ALARM = "testing.(*M).startAlarm.func1"
# ... and what it says ("panic: test timed out after 10m0s"), which stays when a test's own
# goroutines are looked at without the alarm's.
TEST_TIMEOUT_MESSAGE = "test timed out after"
# Waiting on the network or inside a system call: stuck there in application code, a
# goroutine is a leak candidate as much as one parked on a channel.
IO_STATES = frozenset({"IO wait", "syscall"})
CHANNEL_STATES = frozenset({"chan receive", "chan send", "select"})
LOCK_STATES = frozenset({"sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock"})
# Blocked on an in-process primitive (as opposed to the network, a timer, a syscall).
SYNC_STATES = (
    CHANNEL_STATES
    | LOCK_STATES
    | UNWAKEABLE
    | frozenset({"sync.WaitGroup.Wait", "sync.Cond.Wait", "semacquire"})
)
# What the runtime prints when it stops a program in which no goroutine can run again
# ("fatal error: all goroutines are asleep - deadlock!"), and the panics of a testing/synctest
# bubble (runtime/synctest.go, Go 1.24+: "deadlock: all goroutines in bubble are blocked",
# "deadlock: main bubble goroutine has exited but blocked goroutines remain").
DEADLOCK_MESSAGES = (
    "all goroutines are asleep",
    "all goroutines in bubble are blocked",
    "synctest bubble",
    "deadlock: main bubble",
)
# What a state is when the format could not tell (debug=1/0 stacks with no known frame).
UNKNOWN_STATES = frozenset({"unknown", "", "nan", "<NA>"})
# Primitives with an owner (a lock holder, the goroutines that must call Done/Signal).
OWNED_KINDS = frozenset({"mutex", "rwmutex", "waitgroup", "cond", "semaphore"})

# Classes for clustering: goroutines of one cause differ in detail (a channel receive versus a
# select on it) but never across classes. A goroutine in a syscall holds its thread like a
# running one, so a busy worker is not split by where the scheduler caught it.
_CLUSTER_CLASS = {
    "chan": "chan",
    "select": "chan",
    "nil chan": "nil chan",
    "select (no cases)": "select (no cases)",
    "fd": "IO wait",
    "sleep": "sleep",
    "semaphore": "sync",
    "mutex": "sync",
    "rwmutex": "sync",
    "waitgroup": "sync",
    "cond": "sync",
}
_BUSY = frozenset({"running", "runnable", "syscall", "preempted"})


_GO_WRAPPER = re.compile(r"\.(?:gowrap|deferwrap)\d+$")


def is_go_wrapper(function: str) -> bool:
    """Whether a function is a wrapper the compiler made for a ``go`` or ``defer`` statement.

    Go 1.22+ names them ``pkg.F.gowrapN`` / ``deferwrapN``; plain tracebacks hide them, the
    runtime's own (GOTRACEBACK=system, crashes) print them below the function they call.

    Parameters
    ----------
    function : str
        A function name as a traceback prints it.

    Returns
    -------
    bool
        True for ``main.start.gowrap1``, False for ``main.start.func1``.

    Examples
    --------
    >>> is_go_wrapper("main.start.gowrap1"), is_go_wrapper("main.start.func1")
    (True, False)
    """
    return bool(_GO_WRAPPER.search(function))


def is_wait(state: str) -> bool:
    """True where a goroutine in ``state`` waits on something (``syscall`` included).

    Parameters
    ----------
    state : str
        A wait state.

    Returns
    -------
    bool
        False for the states of :data:`ACTIVE_STATES` (running, runnable, preempted ...).

    Examples
    --------
    >>> is_wait("chan send"), is_wait("running"), is_wait("GC worker (idle)")
    (True, False, True)
    """
    return state not in ACTIVE_STATES


def is_blocked(states: pd.Series) -> pd.Series:
    """:func:`is_wait` over a column of states.

    Parameters
    ----------
    states : Series
        Wait states (a ``state`` column).

    Returns
    -------
    Series of bool
        True where the state waits on something, index kept.

    Examples
    --------
    >>> is_blocked(pd.Series(["running", "chan send", "IO wait"])).tolist()
    [False, True, True]
    """
    return ~states.astype(str).isin(ACTIVE_STATES)


def cluster_class(state: str) -> str:
    """The class of a state for clustering (states of one class may share a cluster).

    Parameters
    ----------
    state : str
        A wait state as the tables carry it (``state`` column).

    Returns
    -------
    str
        Its class: ``chan``, ``sync``, ``IO wait``, ``sleep``, ``active`` ... (a state
        of no class is its own).

    Examples
    --------
    >>> cluster_class("select"), cluster_class("chan receive"), cluster_class("runnable")
    ('chan', 'chan', 'active')
    """
    if state in _BUSY:
        return "active"
    kind = STATE_KIND.get(state)
    return _CLUSTER_CLASS.get(kind, state) if kind else state


# --- function names -----------------------------------------------------------

_CLOSURE_PART = re.compile(r"^(?:func\d+|gowrap\d+|deferwrap\d+|\d+|func·\d+)$")


def split_function(name: str) -> tuple[str, str, str]:
    """Split a Go symbol into (package, receiver, method).

    Generic type parameters (``[...]``) stay with their type or function;
    ``%2e`` escapes in package paths are undone.

    Parameters
    ----------
    name : str
        A Go symbol as a stack prints it.

    Returns
    -------
    tuple of (str, str, str)
        ``(package, receiver, method)``; the receiver is empty for a plain function.

    Examples
    --------
    >>> split_function("main.main.func1")
    ('main', '', 'main.func1')
    >>> split_function("github.com/x/y%2ev2.(*T[...]).Get")
    ('github.com/x/y.v2', '*T[...]', 'Get')
    >>> split_function("main.glob..func5")
    ('main', '', 'glob..func5')
    """
    if not name:
        return "", "", ""
    # Slashes inside type parameters would fool the package split: mask them.
    masked = name
    if "[" in name:
        masked = re.sub(r"\[[^\]]*\]", lambda m: "[" + "_" * (len(m.group()) - 2) + "]", name)
    slash = masked.rfind("/")
    dot = masked.find(".", slash + 1)
    if dot < 0:
        return name.replace("%2e", "."), "", ""
    pkg = name[:dot].replace("%2e", ".")
    rest = name[dot + 1 :]
    if rest.startswith("("):
        close = rest.find(")")
        if close > 0:
            receiver = rest[1:close]
            return pkg, receiver, rest[close + 2 :] if close + 2 <= len(rest) else ""
    parts = rest.split(".")
    if (
        len(parts) >= 2
        and parts[0]
        and parts[0] != "glob"
        and parts[1]
        and not _CLOSURE_PART.match(parts[1])
        and parts[0][:1].isupper()
    ):
        return pkg, parts[0], ".".join(parts[1:])
    return pkg, "", rest


# Top-level directories of the standard library (GOROOT/src), all Go versions.
_STD_TOP = frozenset(
    "archive arena bufio builtin bytes cmp compress container context crypto database debug "
    "embed encoding errors expvar flag fmt go hash html image index internal io iter log maps "
    "math mime net os path plugin reflect regexp runtime simd slices sort strconv strings structs "
    "sync syscall testing text time unicode unique unsafe uuid vendor weak "
    # old layouts and cgo/test scaffolding
    "_cgo_ _testmain".split()
)
_RUNTIME_PKGS = re.compile(
    r"^(?:runtime(?:/internal/.*|/cgo)?|internal/runtime/.*|internal/abi|_cgo_.*)$"
)
_THIRD_PARTY_PATH = re.compile(r"(?:/pkg/mod/|@v\d|/vendor/|^vendor/|/third_party/|/external/)")


_RUNTIME_FILE = re.compile(r"(?:^|/)src/runtime/[^/]+\.[cgos]+$")


def frame_class(package: str, file: str = "", app_modules: tuple[str, ...] = ()) -> str:
    """Classify a frame as ``runtime``, ``stdlib``, ``third-party`` or ``application``.

    ``app_modules`` are import-path prefixes that are always application code
    (they override the inference from file paths).

    Parameters
    ----------
    package : str
        The frame's package path (``package`` column).
    file : str, optional
        Its file as printed; where modules live (``/go/pkg/mod/``, ``GOROOT``) tells.
    app_modules : tuple of str, optional
        Import-path prefixes that are always application code.

    Returns
    -------
    str
        ``runtime``, ``stdlib``, ``third-party`` or ``application``.

    Examples
    --------
    >>> frame_class("runtime", "/usr/local/go/src/runtime/proc.go")
    'runtime'
    >>> frame_class("github.com/lib/pq", "/go/pkg/mod/github.com/lib/pq@v1.10.9/conn.go")
    'third-party'
    >>> frame_class("github.com/acme/api", "/src/api/server.go")
    'application'
    >>> frame_class("github.com/lib/pq", "/go/pkg/mod/github.com/lib/pq@v1.10.9/c.go", ("github.com/lib",))
    'application'
    >>> frame_class("panic", "GOROOT/src/runtime/panic.go")  # Go 1.10's 'panic(0x..)'
    'runtime'
    """
    for mod in app_modules:
        if package == mod or package.startswith(mod.rstrip("/") + "/"):
            return "application"
    norm_file = file.replace("\\", "/")
    if _RUNTIME_PKGS.match(package) or (
        "/" not in package
        and "." not in package
        and package not in _STD_TOP
        and _RUNTIME_FILE.search(norm_file)
    ):
        # the second: builtins old runtimes print without a package ('panic(0x..)', Go <= 1.10)
        return "runtime"
    if package == "main" or package.endswith(".test") or package.startswith("main."):
        return "application"
    top = package.split("/", 1)[0]
    if top in _STD_TOP and "." not in top:
        # A module named like a std directory ("net/foo") lives outside GOROOT;
        # GOROOT paths end in /src/<package>/ or, under -trimpath, start with it.
        if "/pkg/mod/" not in norm_file and "@v" not in norm_file:
            return "stdlib"
    if "." not in top and top not in _STD_TOP and not _THIRD_PARTY_PATH.search(norm_file):
        # GOPATH-less local module ("myapp/internal/x"): application.
        return "application"
    if _THIRD_PARTY_PATH.search(norm_file) or top in (
        "golang.org",
        "gopkg.in",
        "google.golang.org",
    ):
        return "third-party"
    return "application"


def classify_frames(frames: pd.DataFrame, app_modules: tuple[str, ...] = ()) -> pd.Series:
    """Frame class for every row of a frames table (computed once per distinct package and file).

    Where every non-std frame sits in the GOPATH (so paths cannot tell code of the
    application from its dependencies), the module holding package ``main`` is taken
    as the application and the rest as third-party.

    Parameters
    ----------
    frames : pandas.DataFrame
        A frames table with ``package`` and ``file`` columns (``Dumps.frames``).
    app_modules : tuple of str
        Import-path prefixes of the application's own modules.

    Returns
    -------
    pandas.Series
        Categorical over ``FRAME_CLASSES`` (``application``, ``third-party``, ``stdlib``,
        ``runtime``, ...), aligned with ``frames``.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 1 [chan receive]:\\nruntime.gopark(0x1)\\n"
    ...     "\\t/usr/local/go/src/runtime/proc.go:398 +0xce\\n"
    ...     "main.main()\\n\\t/app/main.go:9 +0x18\\n"
    ... )
    >>> classify_frames(d.frames).tolist()
    ['runtime', 'application']
    """
    if frames.empty:
        return pd.Series(pd.Categorical([], categories=FRAME_CLASSES), index=frames.index)
    modules = tuple(app_modules) + _main_modules(frames)
    pairs = frames[["package", "file"]].astype(str).drop_duplicates()
    classes = {
        (p, f): frame_class(p, f, modules)
        for p, f in zip(pairs["package"], pairs["file"], strict=True)
    }
    if not app_modules:
        classes = _gopath_fixup(classes)
    keys = list(zip(frames["package"].astype(str), frames["file"].astype(str), strict=True))
    return pd.Series(
        pd.Categorical([classes[k] for k in keys], categories=FRAME_CLASSES), index=frames.index
    )


_GOPATH_SRC = re.compile(r"^(?P<root>.*/src/)(?P<imp>[^/]+\.[^/]+/[^/]+/[^/]+)/")


def _main_modules(frames: pd.DataFrame) -> tuple[str, ...]:
    """Import-path roots of the files of package main, where the path is GOPATH-like."""
    mains = frames.loc[frames["package"].astype(str) == "main", "file"].astype(str).unique()
    roots = []
    for f in mains:
        m = _GOPATH_SRC.match(f.replace("\\", "/"))
        if m:
            roots.append(m.group("imp"))
    return tuple(sorted(set(roots)))


def _gopath_fixup(classes: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    # In GOPATH builds every dependency looks like application code; when a
    # main-module root was found, everything GOPATH-like outside it is third-party.
    gopath = [k for k, c in classes.items() if c == "application" and _GOPATH_SRC.match(k[1])]
    if not gopath:
        return classes
    roots = {m.group("imp") for (p, f) in classes if p == "main" and (m := _GOPATH_SRC.match(f))}
    if not roots:
        return classes
    out = dict(classes)
    for p, f in gopath:
        if p != "main" and not any(p == r or p.startswith(r + "/") for r in roots):
            out[(p, f)] = "third-party"
    return out


# --- states -------------------------------------------------------------------

_OLD_SEMA = {
    # Before Go 1.20 (or 1.24 for some), sync primitives parked as plain 'semacquire';
    # the frame that called into the semaphore tells which primitive it was.
    "sync.(*Mutex).Lock": "sync.Mutex.Lock",
    "sync.(*Mutex).lockSlow": "sync.Mutex.Lock",
    "internal/sync.(*Mutex).Lock": "sync.Mutex.Lock",
    "internal/sync.(*Mutex).lockSlow": "sync.Mutex.Lock",
    "sync.(*RWMutex).RLock": "sync.RWMutex.RLock",
    "sync.(*RWMutex).Lock": "sync.RWMutex.Lock",
    "sync.(*WaitGroup).Wait": "sync.WaitGroup.Wait",
    "sync.(*Cond).Wait": "sync.Cond.Wait",
}


def normalize_state(raw: str, functions: list[str] | tuple[str, ...] = ()) -> str:
    """Map a printed state to the modern wait-reason name.

    Old dumps say ``semacquire`` where Go 1.20+ names the primitive; the caller
    of the semaphore among ``functions`` (top first) tells which one it was.

    Parameters
    ----------
    raw : str
        The state as printed in the goroutine's header (without the wait minutes).
    functions : list of str, optional
        The stack's functions, top first.

    Returns
    -------
    str
        The modern wait-reason name, without ``(leaked)`` or other marks.

    Examples
    --------
    >>> normalize_state("semacquire", ["sync.runtime_SemacquireMutex", "sync.(*Mutex).lockSlow"])
    'sync.Mutex.Lock'
    >>> normalize_state("chan receive (leaked)")
    'chan receive'
    """
    s = raw.strip()
    for marker in (" (leaked)", " (scan)"):
        s = s.replace(marker, "")
    if s in ("semacquire", "sync.Mutex.Lock", "sync.RWMutex.Lock") or s.startswith("semacquire"):
        for fn in functions[:6]:
            if fn in _OLD_SEMA:
                return _OLD_SEMA[fn]
        return s
    if s == "sleep (durable)":
        return "sleep"
    if s.endswith(" (durable)"):
        return s[: -len(" (durable)")]
    return s or "unknown"


# --- state inference (formats that print no state: debug=1, debug=0) ------------------------------

STATE_FRAMES = (
    # (function prefix, state) used to infer a state where the format prints none
    ("runtime.chanrecv", "chan receive"),
    ("runtime.chansend", "chan send"),
    ("runtime.selectgo", "select"),
    ("runtime.block", "select (no cases)"),
    ("internal/poll.runtime_pollWait", "IO wait"),
    ("runtime.netpollblock", "IO wait"),
    ("time.Sleep", "sleep"),
    ("runtime.timeSleep", "sleep"),
    ("sync.runtime_SemacquireMutex", "semacquire"),
    ("sync.runtime_SemacquireRWMutexR", "sync.RWMutex.RLock"),
    ("sync.runtime_SemacquireRWMutex", "sync.RWMutex.Lock"),
    ("sync.runtime_SemacquireWaitGroup", "sync.WaitGroup.Wait"),
    ("internal/sync.runtime_SemacquireMutex", "semacquire"),
    ("sync.runtime_Semacquire", "semacquire"),
    ("sync.runtime_notifyListWait", "sync.Cond.Wait"),
    ("syscall.Syscall", "syscall"),
    ("syscall.RawSyscall", "syscall"),
    ("syscall.syscall", "syscall"),
    ("internal/runtime/syscall.Syscall", "syscall"),
    ("runtime.gcBgMarkWorker", "GC worker (idle)"),
    ("runtime.bgsweep", "GC sweep wait"),
    ("runtime.bgscavenge", "GC scavenge wait"),
    ("runtime.forcegchelper", "force gc (idle)"),
    ("runtime.runfinq", "finalizer wait"),
    ("os/signal.signal_recv", "chan receive"),
)


def infer_state(functions: list[str]) -> str:
    """Guess the wait state of a stack that carries none (profiles), from its top frames.

    Parameters
    ----------
    functions : list of str
        The stack's functions, top first.

    Returns
    -------
    str
        The wait state the top frames show, or ``unknown``.

    Examples
    --------
    >>> infer_state(["runtime.gopark", "runtime.chanrecv", "runtime.chanrecv1", "main.worker"])
    'chan receive'
    >>> infer_state(["main.compute"])
    'unknown'
    """
    for fn in functions[:8]:
        for prefix, state in STATE_FRAMES:
            if fn.startswith(prefix):
                if state == "semacquire":
                    return normalize_state(state, functions)
                return state
    return "unknown"


# --- sync machinery -----------------------------------------------------------------------------

# Frames of the sync machinery that carry the address of what a goroutine waits on:
# function -> (kind, offset of the address from the frame's first argument)
SYNC_FRAMES = {
    "runtime.chanrecv1": ("chan", 0),
    "runtime.chanrecv2": ("chan", 0),
    "runtime.chanrecv": ("chan", 0),
    "runtime.chansend1": ("chan", 0),
    "runtime.chansend": ("chan", 0),
    "sync.(*Mutex).Lock": ("mutex", 0),
    "sync.(*Mutex).lockSlow": ("mutex", 0),
    "internal/sync.(*Mutex).Lock": ("mutex", 0),
    "internal/sync.(*Mutex).lockSlow": ("mutex", 0),
    "sync.runtime_SemacquireMutex": ("mutex", -4),
    "internal/sync.runtime_SemacquireMutex": ("mutex", -4),
    "sync.(*RWMutex).RLock": ("rwmutex", 0),
    "sync.(*RWMutex).Lock": ("rwmutex", 0),
    "sync.(*WaitGroup).Wait": ("waitgroup", 0),
    "sync.(*Cond).Wait": ("cond", 0),
    "internal/poll.(*FD).Read": ("fd", 0),
    "internal/poll.(*FD).Write": ("fd", 0),
    "internal/poll.(*FD).Accept": ("fd", 0),
    "internal/poll.(*pollDesc).wait": ("fd", 0),
}

# Two different questions about plumbing frames, so two patterns:
# the sync machinery between a waiting goroutine and the code that asked to wait (the caller
# of a Lock is the first frame outside it) ...
_SYNC_PLUMBING = re.compile(
    r"^(?:runtime|internal/sync|sync|internal/poll|internal/runtime/[^.]*|sync/atomic)\."
)
# ... and the packages whose frames only say *how* a goroutine waits (polling, syscalls,
# buffering), not what for: a stack with no application code is named by the first frame above.
_WAIT_PLUMBING = re.compile(
    r"^(?:runtime|internal/[^.]*|sync|sync/atomic|syscall|io|bufio|net|os|time|context)\."
)


def is_sync_plumbing(function: str) -> bool:
    """True for frames of the sync machinery (runtime, sync, internal/poll ...).

    Parameters
    ----------
    function : str
        A frame's function name.

    Returns
    -------
    bool
        True for the runtime's and sync's own frames.

    Examples
    --------
    >>> is_sync_plumbing("sync.(*Mutex).Lock"), is_sync_plumbing("main.(*S).Get")
    (True, False)
    """
    return bool(_SYNC_PLUMBING.match(function))


def is_wait_plumbing(functions: pd.Series) -> pd.Series:
    """True where a frame's function only says how a goroutine waits (io, net, os, time ...).

    Parameters
    ----------
    functions : Series
        Frames' function names.

    Returns
    -------
    Series of bool
        True where the frame only says how the goroutine waits, index kept.

    Examples
    --------
    >>> is_wait_plumbing(pd.Series(["bufio.(*Reader).Read", "net/http.(*conn).serve"])).tolist()
    [True, False]
    """
    return functions.astype(str).str.match(_WAIT_PLUMBING)
