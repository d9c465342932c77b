"""The signatures of the channel, select and timer patterns, and of the loops and pools
parked on channels: one predicate per pattern over a cluster's facts
(:class:`goforensics.analyze.evidence.Facts`), returning ``(confidence, reasons)`` or None.

:mod:`goforensics.analyze.patterns` pairs each with its name, explanation and fix.

:func:`strength` weighs how strongly the circumstances point at a leak.
"""

from __future__ import annotations

import re

from .evidence import Facts, matched
from .sync_shapes import single

__all__ = [
    "callbacks",
    "context_never_cancelled",
    "nil_channel",
    "parked_in_own_loop",
    "periodic_loop",
    "receive_forever",
    "select_no_cases",
    "strength",
    "time_after",
    "unconsumed",
    "worker_never_stopped",
    "worker_pool",
]

_LOOP_NAME = re.compile(
    r"(?i)(?:loop|run|watch|poll|worker|monitor|tick|listen|serve|start|process)"
)
_SUBSCRIBE = re.compile(
    r"(?i)(?:subscribe|register|addlistener|addhandler|addcallback|watch|notify|\.on[A-Z])"
)
_CLOSURE = re.compile(r"\.func\d+(?:\.\d+)*$")
_PARKED = ("chan receive", "select", "sync.Cond.Wait")
_POOL_SIZE = 16  # in one dump, more goroutines parked in their own loop is more than a pool


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
    return matched(
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
    return matched(
        f.state == "select (no cases)" and f.entry != "main.main",
        1.0,
        "[select (no cases)]: `select {}` outside main blocks forever",
    )


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
    return matched(ok, conf, "blocked sending on a channel its receiver has stopped reading")


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
    return matched(
        ok,
        0.8,
        f"subscriber goroutines started by {f.created_by or f.entry} keep growing: "
        "callbacks are registered and never unregistered",
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
    return matched(ok, 0.8, "context watcher goroutines grow: derived contexts are never cancelled")


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
    return matched(
        ok, conf, "blocked in a select none of whose cases will fire: no cancellation case"
    )


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
    return matched(
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
    return matched(ok, conf, "blocked receiving on a channel no sender will ever write to or close")


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
        return matched(
            ok,
            0.6,
            f"{f.n_now} goroutines parked in {f.entry} waiting for work: what an "
            "idle worker pool looks like in one dump",
        )
    ok = f.flat and f.n >= 2 and f.state in _PARKED and not f.growing
    return matched(
        ok, 0.8, f"{f.n} goroutines waiting for work at one place, count flat: an idle worker pool"
    )


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
        return matched(
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
    return matched(ok, 0.7, f"{f.n} background loop(s) in {f.entry}, count flat: a periodic task")
