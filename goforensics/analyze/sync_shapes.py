"""The signatures of the lock, WaitGroup, Cond and deadlock patterns: one predicate per
pattern over a cluster's facts (:class:`goforensics.analyze.evidence.Facts`),
returning ``(confidence, reasons)`` or None.

:mod:`goforensics.analyze.patterns` pairs each with its name, explanation and fix.

:func:`single` weighs a shape seen in one dump; the channel shapes use it too.
"""

from __future__ import annotations

from ..goruntime import CHANNEL_STATES, LOCK_STATES
from .evidence import Facts, matched

__all__ = [
    "abba",
    "cond",
    "double_lock",
    "in_wait_group",
    "lock_across_channel",
    "lock_while_blocked",
    "recursive_rlock",
    "single",
    "waitgroup",
    "waits_for_blocked_children",
]


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
    return matched(
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
    return matched(
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
    return matched(
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
    return matched(
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
    return matched(
        f.state == "sync.Cond.Wait" and conf > 0,
        conf,
        "waiting in Cond.Wait for a Signal/Broadcast that never comes",
    )
