"""The signatures of the I/O and HTTP patterns (server and client connections, listeners,
reads with no deadline, retries), and of the runtime's own goroutines: one predicate per
pattern over a cluster's facts (:class:`goforensics.analyze.evidence.Facts`),
returning ``(confidence, reasons)`` or None.

:mod:`goforensics.analyze.patterns` pairs each with its name, explanation and fix.
"""

from __future__ import annotations

import re

from ..goruntime import IO_STATES
from .evidence import Facts, matched

__all__ = [
    "accept_loop",
    "client_no_timeout",
    "http_server",
    "io_no_deadline",
    "keepalive",
    "listener",
    "per_request",
    "response_body",
    "retry",
    "runtime",
]

_RETRY = re.compile(r"(?i)(?:retry|retries|backoff|reconnect|redial|attempt)")
_CONN_LOOPS = ("net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop")


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
    return matched(
        ok,
        0.9,
        "server connections parked reading the next request: clients hold them open and "
        "the server sets no ReadHeaderTimeout / IdleTimeout",
    )


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
    return matched(
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
    return matched(
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
    return matched(ok, 0.85, "accept loops accumulate: listeners are opened and never closed")


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
    return matched(
        ok, 0.92, f"a goroutine started per request by {f.created_by} outlives its request"
    )


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
    return matched(
        ok,
        0.88,
        "goroutines pile up in a retry loop: attempts have no deadline and the loop no ctx",
    )


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
    return matched(ok, 0.6, "reads with no deadline pile up")


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
    return matched(ok, 0.7, "idle keep-alive connections, not growing")


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
    return matched(ok, 0.8, "a server's accept loop")


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
    # the goroutine that ended the process is never "nothing to fix", runtime or not (a GC
    # worker that finds a pointer to a freed object reports corruption made elsewhere)
    return matched(
        ok and not f.raised, 0.9, "the runtime's or the standard library's own goroutine"
    )
