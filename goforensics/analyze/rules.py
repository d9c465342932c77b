"""Static rules for leak-prone Go code, checked on tree-sitter syntax trees.

Each rule has an id, a description, the fix, the rule of another linter it overlaps (gosec,
golangci-lint, go vet, semgrep-go) and the leak patterns of
:mod:`goforensics.analyze.patterns` it is evidence for. The checks themselves are in
:mod:`goforensics.analyze.gochecks`.

>>> list(rules_frame()["id"])[:3]
['GF101', 'GF102', 'GF103']
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["FINDING_COLUMNS", "RULES", "Rule", "rules_frame"]


@dataclass(frozen=True)
class Rule:
    """One static rule."""

    id: str
    name: str
    description: str
    help: str  # the fix
    overlaps: str  # the rule of another linter it overlaps ('' when none does)
    level: str  # SARIF level: error, warning, note
    patterns: tuple[str, ...]  # catalogue patterns it is evidence for


RULES: tuple[Rule, ...] = (
    Rule(
        "GF101",
        "select-without-cancel",
        "A blocking select with no ctx.Done() (or done channel) case "
        "although a context is in scope",
        "Add `case <-ctx.Done(): return` so the goroutine ends with its request or its owner.",
        "",
        "warning",
        ("time-after-ignores-ctx", "callbacks-never-unregistered", "worker-never-stopped"),
    ),
    Rule(
        "GF102",
        "unbuffered-send-orphan",
        "A goroutine sends its result on an unbuffered channel whose "
        "receiver can return first (a select with another case, or an early return)",
        "Make the channel buffered (`make(chan T, 1)`) or select on the send and ctx.Done().",
        "",
        "warning",
        ("unconsumed-result",),
    ),
    Rule(
        "GF103",
        "range-over-unclosed-channel",
        "A loop ranges over a channel that nothing in its package "
        "closes: it ends only with the process",
        "Close the channel when the producer is done (`defer "
        "close(ch)`), or select on ctx.Done() in the loop.",
        "",
        "note",
        ("receive-never-closed", "worker-never-stopped"),
    ),
    Rule(
        "GF104",
        "time-after-in-loop",
        "time.After in a loop: before Go 1.23 each call keeps a timer until "
        "it fires; in any version a goroutine waiting on it has no way out but the timer",
        "Use one time.NewTimer (Stop/Reset it) and select on ctx.Done() as well.",
        "semgrep-go timeafter",
        "note",
        ("time-after-ignores-ctx",),
    ),
    Rule(
        "GF105",
        "http-server-no-timeouts",
        "An http.Server without ReadHeaderTimeout (or ReadTimeout) or "
        "IdleTimeout: slow and idle clients hold its connections' goroutines for ever",
        "Set ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout.",
        "gosec G112",
        "warning",
        ("http-server-no-timeouts",),
    ),
    Rule(
        "GF106",
        "bare-listen-and-serve",
        "http.ListenAndServe / http.Serve use a server with no timeouts",
        "Build an http.Server with timeouts and call its ListenAndServe.",
        "gosec G114",
        "warning",
        ("http-server-no-timeouts",),
    ),
    Rule(
        "GF107",
        "http-client-no-timeout",
        "An http.Client without Timeout (or http.DefaultClient): a call "
        "to a server that never answers waits for ever",
        "Set http.Client{Timeout: ...} or give every "
        "request a context with a deadline (http.NewRequestWithContext).",
        "golangci-lint noctx",
        "warning",
        ("http-client-no-timeout", "retry-loop-no-ctx", "response-body-not-closed"),
    ),
    Rule(
        "GF108",
        "response-body-not-closed",
        "A response body is not closed on every path: its connection "
        "and the connection's readLoop and writeLoop goroutines stay",
        "`defer resp.Body.Close()` right after checking the error.",
        "golangci-lint bodyclose",
        "warning",
        ("response-body-not-closed",),
    ),
    Rule(
        "GF109",
        "waitgroup-done-not-deferred",
        "wg.Add before a goroutine that does not `defer wg.Done()`: "
        "a path that returns early leaves Wait blocked for ever",
        "Make `defer wg.Done()` the goroutine's first statement.",
        "",
        "warning",
        ("waitgroup-missing-done",),
    ),
    Rule(
        "GF110",
        "lock-held-across-channel-op",
        "A mutex is held across a blocking channel operation: when "
        "the operation blocks, every user of the mutex queues behind it",
        "Copy what you need under the lock, Unlock, then communicate (or select with ctx.Done()).",
        "",
        "warning",
        ("lock-across-channel", "lock-held-while-blocked"),
    ),
    Rule(
        "GF111",
        "goroutine-in-handler-without-context",
        "An HTTP handler or middleware starts a goroutine "
        "that gets no context (or context.Background): nothing stops it when the request ends",
        "Pass the request's context (or a bounded one derived from it) and stop on ctx.Done(); bound the "
        "work with a pool.",
        "gosec G118",
        "warning",
        ("per-request-goroutine", "worker-never-stopped", "listener-never-closed"),
    ),
    Rule(
        "GF112",
        "cleanup-not-called",
        "A cancel or unsubscribe function is not called on every path: the "
        "context's (or the subscription's) goroutine stays",
        "`defer cancel()` (or `defer unsubscribe()`) right after getting it.",
        "go vet lostcancel",
        "warning",
        ("context-never-cancelled", "callbacks-never-unregistered"),
    ),
    Rule(
        "GF113",
        "listener-never-closed",
        "A listener is opened and nothing closes it: its accept loop waits for ever",
        "Close the listener when its owner is done (`defer ln.Close()`, or in the session's end).",
        "",
        "warning",
        ("listener-never-closed",),
    ),
    Rule(
        "GF114",
        "nil-channel-operation",
        "A send or receive on a channel variable declared and never made: it blocks for ever",
        "make the channel before use (`c := make(chan T)`); a nil channel only belongs in a select, "
        "to disable a case.",
        "",
        "error",
        ("nil-channel",),
    ),
    Rule(
        "GF115",
        "select-no-cases",
        "`select {}` outside main: the goroutine can never end",
        "Wait on a context or a done channel (`<-ctx.Done()`) so the goroutine can return.",
        "",
        "warning",
        ("select-no-cases",),
    ),
)

FINDING_COLUMNS = [
    "rule_id",
    "level",
    "file",
    "line",
    "end_line",
    "column",
    "function",
    "message",
    "related",
    "snippet",
]


def rules_frame() -> pd.DataFrame:
    """The rules as a table: ``id``, ``name``, ``description``, ``help``, ``overlaps``, ``level``,
    ``patterns`` (the format :func:`goforensics.show.sarif.sarif_log` takes).

    Returns
    -------
    DataFrame
        One row per rule, with the columns above.

    Examples
    --------
    >>> rules_frame().set_index("id").loc["GF105", "overlaps"]
    'gosec G112'
    """
    return pd.DataFrame(
        [
            {
                "id": r.id,
                "name": r.name,
                "description": r.description,
                "help": r.help,
                "overlaps": r.overlaps,
                "level": r.level,
                "patterns": list(r.patterns),
            }
            for r in RULES
        ]
    )
