"""The signatures of the leak and hang patterns: one predicate per pattern over a cluster's
facts (:class:`goforensics.analyze.evidence.Facts`), returning ``(confidence, reasons)`` or None.

:mod:`goforensics.analyze.patterns` pairs each with its name, explanation and fix.
"""

from __future__ import annotations

import re

from ..goruntime import CHANNEL_STATES, IO_STATES, LOCK_STATES
from .evidence import Facts

__all__ = [
    "abba",
    "accept_loop",
    "callbacks",
    "client_no_timeout",
    "cond",
    "context_never_cancelled",
    "double_lock",
    "http_server",
    "in_wait_group",
    "io_no_deadline",
    "keepalive",
    "listener",
    "lock_across_channel",
    "lock_while_blocked",
    "nil_channel",
    "parked_in_own_loop",
    "per_request",
    "periodic_loop",
    "receive_forever",
    "recursive_rlock",
    "response_body",
    "retry",
    "runtime",
    "select_no_cases",
    "single",
    "strength",
    "time_after",
    "unconsumed",
    "waitgroup",
    "waits_for_blocked_children",
    "worker_never_stopped",
    "worker_pool",
]


def _c(x: bool, conf: float, *why: str) -> tuple[float, list[str]] | None:
    return (conf, list(why)) if x else None


# --- signatures -------------------------------------------------------------------------------

_LOOP_NAME = re.compile(
    r"(?i)(?:loop|run|watch|poll|worker|monitor|tick|listen|serve|start|process)"
)
_SUBSCRIBE = re.compile(
    r"(?i)(?:subscribe|register|addlistener|addhandler|addcallback|watch|notify|\.on[A-Z])"
)
_RETRY = re.compile(r"(?i)(?:retry|retries|backoff|reconnect|redial|attempt)")


def nil_channel(f: Facts):
    r"""An operation on a nil channel: it blocks forever.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [chan receive (nil chan)]:\nmain.wait()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> nil_channel(f)
    (1.0, ['[chan receive (nil chan)]: an operation on a nil channel blocks forever'])
    """
    return _c(
        f.state in ("chan receive (nil chan)", "chan send (nil chan)"),
        1.0,
        f"[{f.state}]: an operation on a nil channel blocks forever",
    )


def select_no_cases(f: Facts):
    r"""`select {}` outside main: it blocks forever.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [select (no cases)]:\nmain.block()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> select_no_cases(f)[0]
    1.0
    """
    return _c(
        f.state == "select (no cases)" and f.entry != "main.main",
        1.0,
        "[select (no cases)]: `select {}` outside main blocks forever",
    )


def abba(f: Facts):
    r"""Part of a wait-for cycle: each goroutine waits for a lock the next one holds.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> from dataclasses import replace
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.Mutex.Lock]:\nsync.runtime_SemacquireMutex(0xc0, 0x0, 0x1)\n"
    ...     "\t/usr/local/go/src/runtime/sema.go:95 +0x25\nsync.(*Mutex).Lock(...)\n"
    ...     "\t/usr/local/go/src/sync/mutex.go:92\nmain.get()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> abba(f) is None  # one goroutine alone makes no cycle
    True
    >>> abba(replace(f, resources={"cycle": "goroutine 7 -> goroutine 8 -> goroutine 7"}))[0]
    0.95
    """
    cyc = f.resources.get("cycle")
    return _c(
        bool(cyc), 0.95, f"part of a wait-for cycle (each waits for a lock the next holds): {cyc}"
    )


def recursive_rlock(f: Facts):
    r"""Readers waiting in `RLock` on an RWMutex a writer is queued on: a read lock taken twice.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> from dataclasses import replace
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.Mutex.Lock]:\nsync.runtime_SemacquireMutex(0xc0, 0x0, 0x1)\n"
    ...     "\t/usr/local/go/src/runtime/sema.go:95 +0x25\nsync.(*Mutex).Lock(...)\n"
    ...     "\t/usr/local/go/src/sync/mutex.go:92\nmain.get()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> f = replace(f, state="sync.RWMutex.RLock", resources={"rw_writer_waiting": True})
    >>> recursive_rlock(f)[0]
    0.85
    """
    ok = f.state == "sync.RWMutex.RLock" and f.resources.get("rw_writer_waiting")
    return _c(
        bool(ok),
        0.85,
        "readers wait in RLock on an RWMutex a writer is queued on: a reader that already holds "
        "the read lock and asks again can never get it",
    )


def lock_across_channel(f: Facts):
    """A mutex held across a channel operation: its holder blocks on a channel while others wait.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = gf.load("bundled:demo")
    >>> by_stack = d.goroutines.groupby(["stack_id", "created_by"], observed=True).ngroup()
    >>> f = {x.site: x for x in cluster_facts(d, by_stack)}["main.(*cache).refresh"]
    >>> lock_across_channel(f)
    (0.9, ['blocked in [chan receive] while holding a mutex 20 goroutine(s) wait for'])
    """
    if f.resources.get("holds_lock_waited_by") and f.state in CHANNEL_STATES:
        n = f.resources["holds_lock_waited_by"]
        k = f.resources.get("holder_candidates", 1)
        # one of k goroutines that could be holding it, parked receiving at the top of its own
        # loop (between two iterations): the least likely of them to hold a lock
        if k > 1 and f.state == "chan receive" and f.site == f.entry:
            return (
                0.9 / 2,
                [
                    f"blocked in [{f.state}], one of {k} goroutines that could be holding "
                    f"the mutex {n} goroutine(s) wait for"
                ],
            )
        return (0.9, [f"blocked in [{f.state}] while holding a mutex {n} goroutine(s) wait for"])
    if f.state in LOCK_STATES and f.resources.get("holder_blocked_on_channel"):
        return (
            0.85,
            [
                "they wait for a mutex whose holder is itself blocked on a channel: "
                + f.resources["holder_blocked_on_channel"]
            ],
        )
    return None


def lock_while_blocked(f: Facts):
    r"""Waiting for a mutex whose holder is itself blocked (not on a channel), or holding one while blocked.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> from dataclasses import replace
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.Mutex.Lock]:\nsync.runtime_SemacquireMutex(0xc0, 0x0, 0x1)\n"
    ...     "\t/usr/local/go/src/runtime/sema.go:95 +0x25\nsync.(*Mutex).Lock(...)\n"
    ...     "\t/usr/local/go/src/sync/mutex.go:92\nmain.get()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> f = replace(f, resources={"holder_blocked": "goroutine 8 in [IO wait] at main.save"})
    >>> lock_while_blocked(f)[0]
    0.7
    """
    if f.state in LOCK_STATES and f.resources.get("holder_blocked"):
        return (
            0.7,
            [
                "they wait for a mutex whose holder is itself blocked: "
                + f.resources["holder_blocked"]
            ],
        )
    if f.resources.get("holds_lock_waited_by") and f.state not in CHANNEL_STATES:
        n = f.resources["holds_lock_waited_by"]
        return (0.7, [f"blocked in [{f.state}] while holding a mutex {n} goroutine(s) wait for"])
    return None


def in_wait_group(f: Facts) -> bool:
    r"""Whether the cluster waits in `WaitGroup.Wait` (its own state, or a semacquire under it).

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    bool
        True when it waits in ``sync.(*WaitGroup).Wait``.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.WaitGroup.Wait]:\nsync.runtime_SemacquireWaitGroup(0xc000010)\n"
    ...     "\t/usr/local/go/src/runtime/sema.go:114 +0x2e\nsync.(*WaitGroup).Wait(0xc000010)\n"
    ...     "\t/usr/local/go/src/sync/waitgroup.go:206 +0x85\nmain.run()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> in_wait_group(f)
    True
    """
    return f.state == "sync.WaitGroup.Wait" or (
        f.state == "semacquire" and f.has(r"\(\*WaitGroup\)\.Wait")
    )


def single(f: Facts) -> float:
    """Confidence of a shape seen in one dump without growth or a long wait: the size of the
    group (:attr:`Facts.crowd`); 0 in a crash dump, whose goroutines were caught mid-flight.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    float
        1.0 after a wait of 5 minutes or more, 0.0 over a series or in a crash, else the crowd.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.WaitGroup.Wait]:\\nsync.runtime_SemacquireWaitGroup(0xc000010)\\n"
    ...     "\\t/usr/local/go/src/runtime/sema.go:114 +0x2e\\nsync.(*WaitGroup).Wait(0xc000010)\\n"
    ...     "\\t/usr/local/go/src/sync/waitgroup.go:206 +0x85\\nmain.run()\\n\\t/app/main.go:9 +0x18\\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> round(single(f), 2)
    0.15
    """
    if (f.max_wait or 0) >= 5:
        return 1.0
    if f.multi or f.crashed:
        return 0.0
    return f.crowd


def waitgroup(f: Facts):
    r"""Waiting in `WaitGroup.Wait` with no blocked child in sight: a `Done` is missing.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.WaitGroup.Wait]:\nsync.runtime_SemacquireWaitGroup(0xc000010)\n"
    ...     "\t/usr/local/go/src/runtime/sema.go:114 +0x2e\nsync.(*WaitGroup).Wait(0xc000010)\n"
    ...     "\t/usr/local/go/src/sync/waitgroup.go:206 +0x85\nmain.run()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> conf, why = waitgroup(f)
    >>> round(conf, 2), why
    (0.14, ['waiting in WaitGroup.Wait: a Done is missing (or an Add too many)'])
    """
    ok = in_wait_group(f) and not f.blocked_children
    conf = 0.9 if f.growing else 0.9 * single(f)
    return _c(
        ok and conf > 0, conf, "waiting in WaitGroup.Wait: a Done is missing (or an Add too many)"
    )


def waits_for_blocked_children(f: Facts):
    r"""Waiting in `WaitGroup.Wait` for goroutines it started that are blocked themselves.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> from dataclasses import replace
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.WaitGroup.Wait]:\nsync.runtime_SemacquireWaitGroup(0xc000010)\n"
    ...     "\t/usr/local/go/src/runtime/sema.go:114 +0x2e\nsync.(*WaitGroup).Wait(0xc000010)\n"
    ...     "\t/usr/local/go/src/sync/waitgroup.go:206 +0x85\nmain.run()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> waits_for_blocked_children(f) is None  # no child of it in the dump
    True
    >>> waits_for_blocked_children(replace(f, blocked_children=["goroutine 8 [chan send]"]))[0]
    0.9
    """
    kids = f.blocked_children
    more = f" and {len(kids) - 3} more" if len(kids) > 3 else ""
    return _c(
        in_wait_group(f) and bool(kids),
        0.9,
        f"the goroutines it waits for are alive and blocked themselves: {'; '.join(kids[:3])}{more}",
    )


def double_lock(f: Facts):
    r"""Waiting for a mutex no other live goroutine can be holding: locked twice, or never unlocked.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.Mutex.Lock]:\nsync.runtime_SemacquireMutex(0xc0, 0x0, 0x1)\n"
    ...     "\t/usr/local/go/src/runtime/sema.go:95 +0x25\nsync.(*Mutex).Lock(...)\n"
    ...     "\t/usr/local/go/src/sync/mutex.go:92\nmain.get()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> double_lock(f)[0]
    0.6
    """
    locks = LOCK_STATES
    if f.state not in locks or f.growing is None:
        return None
    if f.resources.get("no_holder"):
        return (
            0.6,
            [
                "waiting for a mutex no other live goroutine can be holding: it was locked twice "
                "on one path, or its holder returned without Unlock"
            ],
        )
    if not f.resources and not f.multi and single(f) > 0:
        return (
            0.4 * single(f),
            [
                "waiting for a lock that no blocked goroutine appears to hold: its holder may "
                "have returned without Unlock"
            ],
        )
    return None


def cond(f: Facts):
    r"""Waiting in `Cond.Wait` for a Signal or Broadcast that never comes.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [sync.Cond.Wait, 9 minutes]:\nmain.consume()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> cond(f)
    (0.8, ['waiting in Cond.Wait for a Signal/Broadcast that never comes'])
    """
    conf = 0.8 if f.growing else 0.8 * single(f)
    return _c(
        f.state == "sync.Cond.Wait" and conf > 0,
        conf,
        "waiting in Cond.Wait for a Signal/Broadcast that never comes",
    )


def http_server(f: Facts):
    r"""Server connections parked reading the next request, growing or by the hundred: no
    `ReadHeaderTimeout` / `IdleTimeout`.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> g = (
    ...     "goroutine {} [IO wait]:\ninternal/poll.runtime_pollWait(0x7f, 0x72)\n"
    ...     "\t/usr/local/go/src/runtime/netpoll.go:351 +0x85\nnet/http.(*conn).serve(0xc0, 0x8)\n"
    ...     "\t/usr/local/go/src/net/http/server.go:2102 +0x625\ncreated by net/http.(*Server).Serve "
    ...     "in goroutine 1\n\t/usr/local/go/src/net/http/server.go:3454 +0x485\n\n"
    ... )
    >>> d = parse_text("".join(g.format(i) for i in range(10, 130)))  # 120 connections
    >>> http_server(cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0])[0]
    0.9
    """
    ok = f.entry == "net/http.(*conn).serve" and f.state == "IO wait" and (f.growing or f.n >= 100)
    return _c(
        ok,
        0.9,
        "server connections parked reading the next request: clients hold them open and "
        "the server sets no ReadHeaderTimeout / IdleTimeout",
    )


_CONN_LOOPS = ("net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop")


def response_body(f: Facts):
    r"""Client connections whose responses were read but whose bodies were never closed.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> g = (
    ...     "goroutine {} [select]:\nnet/http.(*persistConn).readLoop(0xc000)\n"
    ...     "\t/usr/local/go/src/net/http/transport.go:2395 +0xc6b\ncreated by "
    ...     "net/http.(*Transport).dialConn in goroutine 19\n\t/usr/local/go/src/net/http/transport.go:1944 +0x174c\n\n"
    ... )
    >>> d = parse_text("".join(g.format(i) for i in range(20, 140)))  # 120 readLoops done reading
    >>> response_body(cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0])[0]
    0.9
    """
    # readLoop parks in select once a response was read and its body is not consumed or
    # closed; it parks in IO wait while the response has not come (see client_no_timeout)
    ok = (
        f.entry in _CONN_LOOPS
        and (f.growing or f.n >= 100)
        and f.readloops.get("select", 0) >= f.readloops.get("IO wait", 0)
    )
    return _c(
        ok,
        0.9,
        f"{f.entry} goroutines pile up, their readLoops done reading: each response body "
        "left unclosed pins a client connection and its read/write loops",
    )


def client_no_timeout(f: Facts):
    r"""Client connections waiting for responses that never come: calls with no timeout.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> g = (
    ...     "goroutine {} [IO wait]:\nnet/http.(*persistConn).readLoop(0xc000)\n"
    ...     "\t/usr/local/go/src/net/http/transport.go:2395 +0xc6b\ncreated by "
    ...     "net/http.(*Transport).dialConn in goroutine 19\n\t/usr/local/go/src/net/http/transport.go:1944 +0x174c\n\n"
    ... )
    >>> d = parse_text("".join(g.format(i) for i in range(20, 140)))  # 120 readLoops still waiting
    >>> client_no_timeout(cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0])[0]
    0.85
    """
    waiting = f.readloops.get("IO wait", 0) > f.readloops.get("select", 0)
    ok = (f.entry in _CONN_LOOPS and waiting and (f.growing or f.n >= 100)) or (
        f.growing
        and f.has(r"^net/http\.\(\*persistConn\)\.roundTrip$|^net/http\.\(\*Client\)\.do$")
    )
    return _c(
        ok,
        0.85,
        "client connections wait for responses that never come: calls with no timeout to "
        "a hung server",
    )


def listener(f: Facts):
    r"""Accept loops that accumulate: listeners opened and never closed.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> from dataclasses import replace
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [IO wait]:\ninternal/poll.runtime_pollWait(0x7f, 0x72)\n"
    ...     "\t/usr/local/go/src/runtime/netpoll.go:351 +0x85\nnet.(*netFD).accept(0xc00)\n"
    ...     "\t/usr/local/go/src/net/fd_unix.go:172 +0x29\nnet.(*TCPListener).Accept(0xc00)\n"
    ...     "\t/usr/local/go/src/net/tcpsock.go:380 +0x30\nmain.serve()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> listener(f) is None, listener(replace(f, growing=True))[0]  # one dump shows no growth
    (True, 0.85)
    """
    ok = (
        f.has(r"\.\(\*(?:TCP|Unix)Listener\)\.Accept$|\(\*netFD\)\.accept$|\(\*FD\)\.Accept$")
        and f.growing
    )
    return _c(ok, 0.85, "accept loops accumulate: listeners are opened and never closed")


def strength(f: Facts) -> float:
    """How strongly the circumstances point at a leak: orphaned, growing, or just blocked.

    The main goroutine is left out: it blocks by design until the program ends.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    float
        From 0 (no leak in sight) to 0.9 (growing, or many, with their creator gone).

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [chan send, 12 minutes]:\\nmain.send()\\n\\t/app/main.go:9 +0x18\\n"
    ...     "created by main.start in goroutine 1\\n\\t/app/main.go:5 +0x1c\\n"
    ... )
    >>> strength(cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0])
    0.9
    """
    if f.entry == "main.main":
        return 0.0
    if f.multi:  # over a series only growth makes these shapes a leak
        return (0.9 if f.creator_gone else 0.7) if f.growing else 0.0
    # in one dump a returned creator is true of every pool and loop: the group's size weighs
    return (0.9 if f.creator_gone else 0.4) * single(f)


def unconsumed(f: Facts):
    r"""Blocked sending on a channel whose receiver has stopped reading.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [chan send, 12 minutes]:\nmain.send()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> unconsumed(f)
    (0.9, ['blocked sending on a channel its receiver has stopped reading'])
    """
    conf = strength(f)
    ok = f.state == "chan send" and f.site_class == "application" and conf > 0
    return _c(ok, conf, "blocked sending on a channel its receiver has stopped reading")


def callbacks(f: Facts):
    r"""Subscriber goroutines that keep growing: callbacks registered and never unregistered.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> main = "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n\n"
    >>> g = (
    ...     "goroutine {} [chan receive]:\nmain.listen()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.subscribe in goroutine 1\n\t/app/main.go:5 +0x1c\n\n"
    ... )
    >>> snaps = [main + "".join(g.format(10 * k + i) for i in range(n)) for k, n in enumerate((1, 3, 6))]
    >>> d = parse_text("".join(snaps))  # three snapshots: 1, 3, then 6 goroutines
    >>> f = cluster_facts(d, (d.goroutines["entry_function"] == "main.listen").astype(int))[-1]
    >>> callbacks(f)[0]
    0.8
    """
    ok = (
        f.state in ("chan receive", "select")
        and f.growing
        and bool(_SUBSCRIBE.search(f.created_by))
    )
    return _c(
        ok,
        0.8,
        f"subscriber goroutines started by {f.created_by or f.entry} keep growing: "
        "callbacks are registered and never unregistered",
    )


def per_request(f: Facts):
    r"""A goroutine started per request that outlives its request.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> main = "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n\n"
    >>> g = (
    ...     "goroutine {} [chan send]:\nmain.audit()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.(*api).ServeHTTP in goroutine 1\n\t/app/main.go:5 +0x1c\n\n"
    ... )
    >>> snaps = [main + "".join(g.format(10 * k + i) for i in range(n)) for k, n in enumerate((1, 3, 6))]
    >>> d = parse_text("".join(snaps))  # three snapshots: 1, 3, then 6 goroutines
    >>> f = cluster_facts(d, (d.goroutines["entry_function"] == "main.audit").astype(int))[-1]
    >>> per_request(f)[0]
    0.92
    """
    handler = re.compile(r"ServeHTTP|Handler|handler|Middleware|middleware")
    ok = f.growing and bool(handler.search(f.created_by)) and f.entry != "net/http.(*conn).serve"
    return _c(ok, 0.92, f"a goroutine started per request by {f.created_by} outlives its request")


def retry(f: Facts):
    r"""Goroutines piling up in a retry loop with no deadline.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> main = "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n\n"
    >>> g = (
    ...     "goroutine {} [sleep]:\nmain.retryConnect()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n\n"
    ... )
    >>> snaps = [main + "".join(g.format(10 * k + i) for i in range(n)) for k, n in enumerate((1, 3, 6))]
    >>> d = parse_text("".join(snaps))  # three snapshots: 1, 3, then 6 goroutines
    >>> f = cluster_facts(d, (d.goroutines["entry_function"] == "main.retryConnect").astype(int))[-1]
    >>> retry(f)[0]
    0.88
    """
    ok = (
        f.growing
        and any(_RETRY.search(x) for x in f.functions)
        and f.state in ("sleep", "select", "IO wait", "chan receive")
    )
    return _c(
        ok,
        0.88,
        "goroutines pile up in a retry loop: attempts have no deadline and the loop no ctx",
    )


def context_never_cancelled(f: Facts):
    r"""Context watcher goroutines that grow: derived contexts never cancelled.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> main = "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n\n"
    >>> g = (
    ...     "goroutine {} [select]:\ncontext.propagateCancel.func2()\n\t/app/main.go:9 +0x18\n"
    ...     "created by context.WithCancel in goroutine 1\n\t/app/main.go:5 +0x1c\n\n"
    ... )
    >>> snaps = [main + "".join(g.format(10 * k + i) for i in range(n)) for k, n in enumerate((1, 3, 6))]
    >>> d = parse_text("".join(snaps))  # three snapshots: 1, 3, then 6 goroutines
    >>> f = cluster_facts(d, (d.goroutines["entry_function"] == "context.propagateCancel.func2").astype(int))[-1]
    >>> context_never_cancelled(f)[0]
    0.8
    """
    ok = f.growing and (f.entry.startswith("context.") or f.has(r"^context\.propagateCancel"))
    return _c(ok, 0.8, "context watcher goroutines grow: derived contexts are never cancelled")


def io_no_deadline(f: Facts):
    r"""Reads with no deadline that pile up in the application's code.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> main = "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n\n"
    >>> g = (
    ...     "goroutine {} [IO wait]:\nmain.readFrame()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n\n"
    ... )
    >>> snaps = [main + "".join(g.format(10 * k + i) for i in range(n)) for k, n in enumerate((1, 3, 6))]
    >>> d = parse_text("".join(snaps))  # three snapshots: 1, 3, then 6 goroutines
    >>> f = cluster_facts(d, (d.goroutines["entry_function"] == "main.readFrame").astype(int))[-1]
    >>> io_no_deadline(f)[0]
    0.6
    """
    ok = (
        f.growing
        and f.state == "IO wait"
        and f.site_class == "application"
        and f.entry != "net/http.(*conn).serve"
    )
    return _c(ok, 0.6, "reads with no deadline pile up")


def time_after(f: Facts):
    r"""Blocked in a select none of whose cases will fire (no cancellation case).

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [select, 7 minutes]:\nmain.wait()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> round(time_after(f)[0], 2)
    0.54
    """
    conf = 0.65 if f.growing else strength(f) * 0.6
    ok = f.state == "select" and f.site_class == "application" and conf > 0
    return _c(ok, conf, "blocked in a select none of whose cases will fire: no cancellation case")


def worker_never_stopped(f: Facts):
    r"""Background loops started again and again, never stopped: growing, parked in a loop.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> main = "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n\n"
    >>> g = (
    ...     "goroutine {} [chan receive]:\nmain.pollLoop()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n\n"
    ... )
    >>> snaps = [main + "".join(g.format(10 * k + i) for i in range(n)) for k, n in enumerate((1, 3, 6))]
    >>> d = parse_text("".join(snaps))  # three snapshots: 1, 3, then 6 goroutines
    >>> f = cluster_facts(d, (d.goroutines["entry_function"] == "main.pollLoop").astype(int))[-1]
    >>> worker_never_stopped(f)[0]
    0.75
    """
    ok = (
        f.growing
        and f.state in ("select", "chan receive", "sleep")
        and bool(_LOOP_NAME.search(f.entry.rsplit(".", 1)[-1]))
    )
    # a ticker loop parks on `<-t.C` (chan receive) or sleeps; a select is as likely a one-shot wait
    conf = 0.5 if f.state == "select" else 0.75
    return _c(
        ok,
        conf,
        f"background loops started in {f.entry} are started again and again, never stopped",
    )


def receive_forever(f: Facts):
    r"""Blocked receiving on a channel that no sender will write to or close.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [chan receive, 7 minutes]:\nmain.wait()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> round(receive_forever(f)[0], 2)
    0.72
    """
    conf = strength(f) * 0.8
    ok = f.state == "chan receive" and f.site_class == "application" and conf > 0
    return _c(ok, conf, "blocked receiving on a channel no sender will ever write to or close")


# benign shapes -----------------------------------------------------------------------------------


_CLOSURE = re.compile(r"\.func\d+(?:\.\d+)*$")
_PARKED = ("chan receive", "select", "sync.Cond.Wait")
_POOL_SIZE = 16  # in one dump, more goroutines parked in their own loop is more than a pool


def parked_in_own_loop(f: Facts) -> bool:
    """One dump: goroutines parked at the top of their own function (`for j := range jobs`,
    a ticker's `<-t.C`), with no long wait and no verdict: what pools and loops look like.

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    bool
        True when the cluster's site is its entry function, in the application, with no
        long wait and no leak mark, in a single dump.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [chan receive]:\\nmain.poll()\\n\\t/app/main.go:9 +0x18\\n"
    ...     "created by main.start in goroutine 1\\n\\t/app/main.go:5 +0x1c\\n"
    ... )
    >>> parked_in_own_loop(cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0])
    True
    """
    return (
        not f.multi
        and f.site_class == "application"
        and f.site == f.entry
        and not f.leaked
        and (f.max_wait or 0) < 5
    )


def worker_pool(f: Facts):
    r"""An idle worker pool: goroutines parked in their own loop waiting for work, count flat (benign).

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> g = (
    ...     "goroutine {} [chan receive]:\nmain.worker()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n\n"
    ... )
    >>> d = parse_text("".join(g.format(i) for i in range(10, 14)))  # four workers
    >>> worker_pool(cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0])[0]
    0.6
    """
    if not f.multi:
        ok = parked_in_own_loop(f) and f.state in _PARKED and 2 <= f.n_now <= _POOL_SIZE
        return _c(
            ok,
            0.6,
            f"{f.n_now} goroutines parked in {f.entry} waiting for work: what an "
            "idle worker pool looks like in one dump",
        )
    ok = f.flat and f.n >= 2 and f.state in _PARKED and not f.growing
    return _c(
        ok, 0.8, f"{f.n} goroutines waiting for work at one place, count flat: an idle worker pool"
    )


def keepalive(f: Facts):
    r"""Idle keep-alive connections, not growing (benign).

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> g = (
    ...     "goroutine {} [select]:\nnet/http.(*persistConn).readLoop(0xc000)\n"
    ...     "\t/usr/local/go/src/net/http/transport.go:2395 +0xc6b\ncreated by "
    ...     "net/http.(*Transport).dialConn in goroutine 19\n\t/usr/local/go/src/net/http/transport.go:1944 +0x174c\n\n"
    ... )
    >>> d = parse_text("".join(g.format(i) for i in range(20, 24)))  # four idle connections
    >>> keepalive(cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0])
    (0.7, ['idle keep-alive connections, not growing'])
    """
    ok = (
        f.entry
        in (
            "net/http.(*persistConn).readLoop",
            "net/http.(*persistConn).writeLoop",
            "net/http.(*conn).serve",
        )
        and f.state in ("IO wait", "select")
        and f.site_class != "application"
        and not f.growing
        and (f.multi or f.n < 100)
    )
    return _c(ok, 0.7, "idle keep-alive connections, not growing")


def periodic_loop(f: Facts):
    r"""A ticker or polling loop between two runs: one goroutine parked in its own loop (benign).

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [chan receive]:\nmain.poll()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> periodic_loop(f)[0]
    0.6
    """
    if not f.multi:
        # a named function: a closure started once (`go func() { <-ch }()`) is the classic orphan
        ok = (
            parked_in_own_loop(f)
            and f.state in ("chan receive", "select", "sleep")
            and f.n_now == 1
            and not _CLOSURE.search(f.entry)
        )
        return _c(
            ok,
            0.6,
            f"one goroutine parked in its own loop {f.entry}: a ticker or "
            "polling loop between two runs looks like this in one dump",
        )
    ok = (
        f.multi
        and f.flat
        and not f.growing
        and f.n <= 4
        and f.state in ("chan receive", "select", "sleep")
        and bool(_LOOP_NAME.search(f.entry.rsplit(".", 1)[-1] + " " + f.site.rsplit(".", 1)[-1]))
    )
    return _c(ok, 0.7, f"{f.n} background loop(s) in {f.entry}, count flat: a periodic task")


def accept_loop(f: Facts):
    r"""A server's accept loop, not growing (benign).

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [IO wait]:\ninternal/poll.runtime_pollWait(0x7f, 0x72)\n"
    ...     "\t/usr/local/go/src/runtime/netpoll.go:351 +0x85\nnet.(*netFD).accept(0xc00)\n"
    ...     "\t/usr/local/go/src/net/fd_unix.go:172 +0x29\nnet.(*TCPListener).Accept(0xc00)\n"
    ...     "\t/usr/local/go/src/net/tcpsock.go:380 +0x30\nmain.serve()\n\t/app/main.go:9 +0x18\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> accept_loop(f)
    (0.8, ["a server's accept loop"])
    """
    ok = (
        f.has(r"\.\(\*(?:TCP|Unix)Listener\)\.Accept$|\(\*FD\)\.Accept$")
        and not f.growing
        and f.n <= 4
    )
    return _c(ok, 0.8, "a server's accept loop")


def runtime(f: Facts):
    r"""A goroutine of the runtime or the standard library itself (benign).

    Parameters
    ----------
    f : Facts
        One cluster's facts (:func:`goforensics.analyze.evidence.cluster_facts`).

    Returns
    -------
    tuple of (float, list of str) or None
        The confidence and the reasons, or None where the pattern does not show.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.read.parse import parse_text
    >>> from goforensics.analyze.evidence import cluster_facts
    >>> d = parse_text(
    ...     "goroutine 7 [chan receive]:\nos/signal.loop()\n\t/app/main.go:9 +0x18\n"
    ...     "created by main.start in goroutine 1\n\t/app/main.go:5 +0x1c\n"
    ... )
    >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
    >>> runtime(f)
    (0.9, ["the runtime's or the standard library's own goroutine"])
    """
    # a test's goroutine is the test's code when it stops in it, or in a syscall or IO it made
    ok = (
        f.entry.startswith(("runtime.", "os/signal.", "internal/"))
        or f.site_class == "runtime"
        or (
            f.entry in ("testing.(*M).startAlarm.func1", "testing.tRunner")
            and not f.growing
            and f.site_class != "application"
            and f.state not in IO_STATES
        )
    )
    return _c(ok, 0.9, "the runtime's or the standard library's own goroutine")
