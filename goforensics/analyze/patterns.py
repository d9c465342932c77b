"""A catalogue of goroutine leak and deadlock patterns: how each looks in a dump, and the fix.

Each :class:`Pattern` has a dump signature (in words, and as a predicate over the
:class:`goforensics.analyze.evidence.Facts` of one cluster: its state, its frames, its
creator, its growth over the series, the wait-for graph), an explanation, and the advice
an on-call engineer needs. Patterns see the facts only, never the tables. Benign
shapes (idle worker pools, keep-alive connections, accept loops, the runtime's own
goroutines) are in the catalogue too, with a negative weight, so that they do not
outrank real leaks.

>>> [p.id for p in CATALOGUE][:3]
['nil-channel', 'select-no-cases', 'abba-deadlock']
>>> by_id("unconsumed-result").title
'Result sent on a channel nobody receives from'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from . import channel_shapes, io_shapes, sync_shapes
from .evidence import Facts

__all__ = ["CATALOGUE", "Match", "Pattern", "by_id", "catalogue_frame", "match_patterns"]


@dataclass(frozen=True)
class Pattern:
    """One pattern: what it is, how it shows in a dump, how to fix it."""

    id: str
    title: str
    signature: str  # how it looks in a dump, in words
    explanation: str
    advice: str
    leak: bool  # False for benign shapes
    weight: float  # score added (or taken away) when it matches, times its confidence
    test: Callable[[Facts], tuple[float, list[str]] | None] = field(repr=False, compare=False)


@dataclass
class Match:
    """The best pattern found for a cluster."""

    id: str
    title: str
    advice: str
    confidence: float
    bonus: float
    evidence: list[str]


CATALOGUE: tuple[Pattern, ...] = (
    Pattern(
        "nil-channel",
        "Operation on a nil channel",
        "[chan receive (nil chan)] or [chan send (nil chan)]",
        "Sending to or receiving from a nil channel blocks forever; a channel field or variable "
        "was never initialised, or was set to nil to disable a case and then used outside a select.",
        "Initialise the channel with make before any goroutine uses it; only rely on nil channels "
        "to disable a case inside a select that has other live cases.",
        True,
        3.0,
        channel_shapes.nil_channel,
    ),
    Pattern(
        "select-no-cases",
        "select {} outside main",
        "[select (no cases)] in a goroutine other than main",
        "`select {}` blocks its goroutine forever; outside main it is a goroutine that can never end.",
        "Wait on a context or a done channel instead (`<-ctx.Done()`), so the goroutine can return.",
        True,
        3.0,
        channel_shapes.select_no_cases,
    ),
    Pattern(
        "abba-deadlock",
        "Locks taken in opposite orders (AB-BA deadlock)",
        "two or more goroutines in [sync.Mutex.Lock], each holding the mutex the other waits for "
        "(a cycle in the wait-for graph)",
        "Goroutine 1 holds A and waits for B while goroutine 2 holds B and waits for A.",
        "Acquire locks in one global order everywhere, or hold only one lock at a time.",
        True,
        2.5,
        sync_shapes.abba,
    ),
    Pattern(
        "recursive-rlock",
        "Recursive read lock on an RWMutex",
        "[sync.RWMutex.RLock] waiters plus a writer in [sync.RWMutex.Lock] on the same RWMutex",
        "A pending Lock blocks new readers; a goroutine that holds a read lock and calls RLock again "
        "waits for the writer, which waits for it.",
        "Never RLock recursively: take the read lock once at the top and call unexported helpers "
        "that assume it is held.",
        True,
        2.0,
        sync_shapes.recursive_rlock,
    ),
    Pattern(
        "lock-across-channel",
        "Mutex held across a blocked channel operation",
        "one goroutine blocked on a channel (or select) while other goroutines pile up in "
        "[sync.Mutex.Lock] on a mutex it holds",
        "The holder waits for a channel operation that needs someone else to make progress, while "
        "every other user of the mutex queues behind it.",
        "Do not hold a mutex across channel sends/receives: copy what you need under the lock, "
        "Unlock, then communicate; or select with ctx.Done() and a timeout.",
        True,
        2.0,
        sync_shapes.lock_across_channel,
    ),
    Pattern(
        "lock-held-while-blocked",
        "Mutex held while blocked on something else",
        "goroutines in [sync.Mutex.Lock] (or RWMutex) whose lock holder is itself blocked: on "
        "another lock, on IO, in a sleep",
        "The holder took the lock, then blocked; everyone who needs the lock queues behind it. "
        "Chains of such holders end in a deadlock or in a slow dependency.",
        "Keep critical sections short and free of blocking calls (IO, sleeps, other locks); take "
        "several locks in one global order.",
        True,
        1.5,
        sync_shapes.lock_while_blocked,
    ),
    Pattern(
        "waitgroup-missing-done",
        "WaitGroup.Wait that never returns",
        "[sync.WaitGroup.Wait] (older Go: [semacquire] under WaitGroup.Wait), often long waits",
        "Wait returns when the counter reaches zero; a goroutine exited without Done, an error path "
        "skipped it, or Add was called more times than goroutines were started.",
        "Call `defer wg.Done()` as the first statement of every goroutine that was Add-ed; Add before "
        "the go statement, once per goroutine.",
        True,
        2.0,
        sync_shapes.waitgroup,
    ),
    Pattern(
        "waits-for-blocked-children",
        "WaitGroup.Wait on goroutines that are blocked themselves",
        "[sync.WaitGroup.Wait] in a goroutine whose children (`created by ... in goroutine N`) are "
        "alive and blocked",
        "The Wait is a victim: the goroutines it started cannot finish, so they never call Done. The "
        "cause is where they block (often a deadlock among them, listed as its own suspect).",
        "Fix the suspect its children belong to; bound the Wait with a context (errgroup.WithContext) "
        "so that stuck children cannot hang their parent.",
        True,
        1.5,
        sync_shapes.waits_for_blocked_children,
    ),
    Pattern(
        "double-lock",
        "Mutex locked twice, or never unlocked",
        "[sync.Mutex.Lock] waiters on a mutex that no other live goroutine can be holding",
        "A path locks a mutex it already holds (Go mutexes are not reentrant), or a goroutine returned "
        "early without Unlock.",
        "Use `mu.Lock(); defer mu.Unlock()` and never call a locking method "
        "from inside another that holds the same lock.",
        True,
        1.5,
        sync_shapes.double_lock,
    ),
    Pattern(
        "cond-never-signalled",
        "Cond.Wait never signalled",
        "[sync.Cond.Wait]",
        "Waiters sleep until Signal or Broadcast; a state change that forgot to "
        "signal, or a signal sent before the waiter started waiting, leaves them asleep.",
        "Signal/Broadcast after every change of the condition, and wait in a loop that re-checks it; "
        "a channel close is often simpler.",
        True,
        1.5,
        sync_shapes.cond,
    ),
    Pattern(
        "http-server-no-timeouts",
        "HTTP server without ReadHeaderTimeout / IdleTimeout",
        "growing net/http.(*conn).serve goroutines in [IO wait]",
        "Each client connection holds a goroutine while the server waits for the next request; "
        "slow or idle clients keep them open forever when no timeout is set.",
        "Set http.Server{ReadHeaderTimeout, ReadTimeout, IdleTimeout, WriteTimeout}; "
        "never use the zero-value server (http.ListenAndServe) in production.",
        True,
        1.5,
        io_shapes.http_server,
    ),
    Pattern(
        "response-body-not-closed",
        "HTTP response bodies never closed",
        "growing net/http.(*persistConn).readLoop and writeLoop pairs, created by Transport.dialConn",
        "An unclosed response body keeps its connection, and the connection's two goroutines, alive.",
        "`defer resp.Body.Close()` right after checking the error, and drain the body "
        "(io.Copy(io.Discard, resp.Body)) to reuse connections.",
        True,
        1.5,
        io_shapes.response_body,
    ),
    Pattern(
        "http-client-no-timeout",
        "HTTP calls without a timeout to a hung server",
        "growing net/http.(*persistConn).readLoop in [IO wait] (waiting for a response) with their "
        "writeLoops, and callers parked in persistConn.roundTrip",
        "http.Client's zero value has no timeout: a call to a server that never answers waits for "
        "ever, holding its caller, its connection and the connection's two goroutines.",
        "Set http.Client{Timeout: ...} or pass a context with a deadline "
        "(http.NewRequestWithContext); bound retries.",
        True,
        1.5,
        io_shapes.client_no_timeout,
    ),
    Pattern(
        "listener-never-closed",
        "Listener or poller never closed",
        "growing goroutines in Accept (net.(*TCPListener).Accept) or in a polling loop",
        "Every listener opened keeps its accept loop goroutine; opened per request or per retry and "
        "never closed, they accumulate.",
        "Close listeners (defer l.Close()) and stop accept loops "
        "on shutdown; open a listener once.",
        True,
        1.5,
        io_shapes.listener,
    ),
    Pattern(
        "unconsumed-result",
        "Result sent on a channel nobody receives from",
        "[chan send] in a goroutine whose creator has returned (often a closure .funcN), many copies",
        "The caller started a goroutine to compute a result, then returned (timeout, error, early "
        "exit) without receiving; the goroutine blocks on its send forever.",
        "Make the result channel buffered (`make(chan T, 1)`) so the send cannot block, or select on "
        "the send and ctx.Done().",
        True,
        1.5,
        channel_shapes.unconsumed,
    ),
    Pattern(
        "callbacks-never-unregistered",
        "Callbacks registered and never unregistered",
        "growing subscriber goroutines blocked in [chan receive]/[select], created by a "
        "Subscribe/Register/Watch function",
        "Each registration starts a goroutine (or keeps a "
        "channel) that lives until it is unregistered; callers never unregister.",
        "Return an unsubscribe/cancel function from registration and call it (defer); tie the "
        "subscriber's lifetime to a context.",
        True,
        1.2,
        channel_shapes.callbacks,
    ),
    Pattern(
        "per-request-goroutine",
        "Middleware starting a goroutine per request",
        "growing goroutines created by an HTTP handler or middleware function",
        "Work started in a goroutine per request outlives the request and is unbounded under load.",
        "Bound background work (worker pool or semaphore), pass the request context and stop on "
        "ctx.Done().",
        True,
        1.2,
        io_shapes.per_request,
    ),
    Pattern(
        "retry-loop-no-ctx",
        "Retry loop without a deadline or context",
        "growing goroutines sleeping or waiting in a retry/backoff loop, or in IO wait inside it",
        "An RPC retried forever with its timeout disabled and no context never gives up; each caller "
        "adds a goroutine.",
        "Give every attempt a context with a deadline, cap the retries, and "
        "stop when ctx.Done() fires.",
        True,
        1.2,
        io_shapes.retry,
    ),
    Pattern(
        "context-never-cancelled",
        "Contexts never cancelled",
        "growing context.propagateCancel watcher goroutines",
        "A context made with WithCancel/"
        "WithTimeout whose cancel function is never called keeps its watcher goroutine.",
        "Always `defer cancel()` right after context.WithCancel / WithTimeout / WithDeadline.",
        True,
        1.0,
        channel_shapes.context_never_cancelled,
    ),
    Pattern(
        "io-no-deadline",
        "Network IO without deadlines",
        "growing goroutines in [IO wait] started by the application",
        "A read or write with no deadline waits as long as the peer wants.",
        "Set read/write deadlines or use context-aware calls; close the connection on ctx.Done().",
        True,
        0.8,
        io_shapes.io_no_deadline,
    ),
    Pattern(
        "worker-never-stopped",
        "Background loop started and never stopped",
        "growing goroutines in [select]/[chan receive]/[sleep] in a loop function (Start.func1, "
        "run, poll, watch...)",
        "Each Start (per connection, per retry, per test) launches a loop "
        "that has no way to stop, or whose Stop is never called.",
        "Give every loop a stop path (ctx.Done() or a quit channel) and call Stop/cancel on every "
        "path; stop tickers with defer t.Stop().",
        True,
        1.0,
        channel_shapes.worker_never_stopped,
    ),
    Pattern(
        "time-after-ignores-ctx",
        "select waiting without a cancellation case",
        "growing goroutines in [select] in application code (time.After, a result channel) with no "
        "ctx.Done() case",
        "A select that only waits on a timer or a result keeps the goroutine "
        "until that fires, however long the caller stopped caring.",
        "Add `case <-ctx.Done(): return` to the select; prefer time.NewTimer with Stop over "
        "time.After in loops.",
        True,
        0.8,
        channel_shapes.time_after,
    ),
    Pattern(
        "receive-never-closed",
        "Receive on a channel that is never written or closed",
        "[chan receive] in application code, creator gone or growing (range over a channel never "
        "closed)",
        "The producer finished (or failed) without closing the channel, so the consumer's "
        "range or receive never ends.",
        "Close the channel when the producer is done (defer "
        "close(ch) in the sender), or select on ctx.Done().",
        True,
        1.0,
        channel_shapes.receive_forever,
    ),
    Pattern(
        "worker-pool",
        "Idle worker pool (healthy)",
        "many goroutines in [chan receive]/[select] at one site, count flat over the series",
        "Workers waiting for jobs: this is what a healthy pool looks like.",
        "Nothing to fix while the count stays flat.",
        False,
        -1.5,
        channel_shapes.worker_pool,
    ),
    Pattern(
        "periodic-loop",
        "Periodic background loop (healthy)",
        "one or a few goroutines of a loop "
        "function (run, loop, tick, poll...) parked between ticks, count flat",
        "A ticker or polling loop between two runs.",
        "Nothing to fix while the count stays flat.",
        False,
        -0.8,
        channel_shapes.periodic_loop,
    ),
    Pattern(
        "keepalive",
        "Idle keep-alive connections (healthy)",
        "a few conn.serve / persistConn loops, flat",
        "Connections kept for reuse.",
        "Nothing to fix while the count stays flat.",
        False,
        -1.0,
        io_shapes.keepalive,
    ),
    Pattern(
        "accept-loop",
        "Accept loop (healthy)",
        "one goroutine per listener in Accept",
        "A server waiting for connections.",
        "Nothing to fix.",
        False,
        -1.0,
        io_shapes.accept_loop,
    ),
    Pattern(
        "runtime-internal",
        "Runtime goroutine (healthy)",
        "entry in runtime/os/signal/internal",
        "The runtime's and the standard library's own goroutines.",
        "Nothing to fix.",
        False,
        -1.0,
        io_shapes.runtime,
    ),
)


def by_id(pid: str) -> Pattern:
    """A pattern of the catalogue by its id.

    Parameters
    ----------
    pid : str
        The pattern's id, such as ``"nil-channel"`` (see :func:`catalogue_frame`).

    Returns
    -------
    Pattern
        The catalogue's pattern of that id.

    Raises
    ------
    KeyError
        If no pattern has that id.

    Examples
    --------
    >>> p = by_id("nil-channel")
    >>> p.title, p.leak
    ('Operation on a nil channel', True)
    """
    for p in CATALOGUE:
        if p.id == pid:
            return p
    raise KeyError(pid)


def catalogue_frame() -> pd.DataFrame:
    """The catalogue as a table (id, title, signature, explanation, advice, leak).

    Returns
    -------
    pandas.DataFrame
        One row per pattern, in catalogue order (specific before generic), with columns
        ``id``, ``title``, ``signature``, ``explanation``, ``advice`` and ``leak`` (False
        for benign shapes).

    Examples
    --------
    >>> t = catalogue_frame()
    >>> t.columns.tolist()
    ['id', 'title', 'signature', 'explanation', 'advice', 'leak']
    >>> t["id"].iloc[0], bool(t["leak"].iloc[0])
    ('nil-channel', True)
    """
    return pd.DataFrame(
        [(p.id, p.title, p.signature, p.explanation, p.advice, p.leak) for p in CATALOGUE],
        columns=["id", "title", "signature", "explanation", "advice", "leak"],
    )


# --- matching --------------------------------------------------------------------------------


def match_patterns(facts: Facts) -> Match | None:
    """The best-matching pattern of the catalogue for one cluster's facts, or None.

    Parameters
    ----------
    facts : :class:`goforensics.analyze.evidence.Facts` of the cluster.

    Returns
    -------
    Match or None
        The pattern of highest confidence (ties: the first in catalogue order, specific
        before generic), its advice, and ``bonus``: its weight times its confidence.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = gf.parse_text("goroutine 4 [chan receive (nil chan)]:\\nmain.f()\\n\\t/app/m.go:9 +0x18\\n")
    >>> match_patterns(cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]).id
    'nil-channel'
    """
    best: tuple[float, Pattern, list[str]] | None = None
    for p in CATALOGUE:
        r = p.test(facts)
        if r is None:
            continue
        conf, why = r
        # leak patterns in catalogue order win ties: specific before generic
        if best is None or conf > best[0]:
            best = (conf, p, why)
    if best is None:
        return None
    conf, p, why = best
    return Match(p.id, p.title, p.advice, conf, p.weight * conf, why)
