"""The verdict of a test run on its goroutines: which Go test leaked, hung or deadlocked, and why.

:func:`check` takes what :mod:`goforensics.read.gotest` read from ``go test`` output (or a
plain dump) and, for each event (a goleak report, a ``testing/synctest`` leak panic, a test
timeout, the runtime's deadlock), keeps the goroutines that are to blame, names the Go test
each belongs to and groups them per test by cause with
:func:`goforensics.analyze.clustering.cluster`, :func:`~goforensics.analyze.clustering.describe_clusters`
and :func:`goforensics.analyze.suspects.suspects` (blocking site in the application's code,
pattern and fix).

Goroutines that :mod:`goforensics.analyze.ignore` rules set aside (goleak's ``top``, ``any``,
``created-by``, and the defaults for the test runner's and the standard library's goroutines)
are listed in ``ignored``, never blamed; ``check`` re-exports those rules' functions.

Which goroutines are to blame, per event: goleak, every goroutine it reported that no rule
ignores; synctest, the goroutines of the bubble (``synctest bubble N`` in their state); a
timeout, the goroutines traced to a test it names as running; a deadlock, every goroutine
(all are asleep); a plain dump, every goroutine but the one that took it. A goroutine is
traced to a test by its own stack (``pkg.TestX`` under ``testing.tRunner``), then by its
creator's function, its ancestors (``GODEBUG=tracebackancestors``) and the chain of
``created by ... in goroutine N``.

>>> from goforensics.read.gotest import read_go_test
>>> out = read_go_test('''--- FAIL: TestFetch (0.45s)
...     fetch_test.go:10: found unexpected goroutines:
...         [Goroutine 5 in state chan send, with example.com/p.Fetch.func1 on top of the stack:
...         example.com/p.Fetch.func1()
...         \\t/src/p/fetch.go:13 +0x65
...         created by example.com/p.Fetch in goroutine 4
...         \\t/src/p/fetch.go:11 +0x51
...         ]
... FAIL
... FAIL\\texample.com/p\\t0.449s
... ''')
>>> r = check(out)
>>> r.exit_code, r.causes[["test", "verdict", "goroutines", "site", "line"]].values.tolist()
(1, [['TestFetch', 'leak', 1, 'example.com/p.Fetch.func1', 13]])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..goruntime import is_blocked
from ..model import Dumps
from ..read.gotest import GoTestOutput
from .clustering import cluster, describe_clusters
from .ignore import DEFAULT_RULES, RULE_COLUMNS, load_check_config, match_rules, rules_frame
from .normalize import goroutine_fingerprints
from .patterns import by_id
from .source import attach_source
from .suspects import suspects

__all__ = [
    "CAUSE_COLUMNS",
    "DEFAULT_RULES",
    "IGNORED_COLUMNS",
    "RULE_COLUMNS",
    "TEST_VERDICT_COLUMNS",
    "VERDICTS",
    "CheckResult",
    "check",
    "goroutine_tests",
    "load_check_config",
    "match_rules",
    "rules_frame",
]

VERDICTS = {
    "goleak": "leak",
    "synctest": "leak",
    "timeout": "hang",
    "deadlock": "deadlock",
    "dump": "leak",
}
CAUSE_COLUMNS = [
    "event",
    "kind",
    "package",
    "test",
    "verdict",
    "cause",
    "goroutines",
    "state",
    "site",
    "file",
    "line",
    "entry",
    "created_by",
    "pattern",
    "title",
    "advice",
    "evidence",
    "stack",
    "goids",
    "code",
    "message",
    "source",
]
IGNORED_COLUMNS = ["event", "package", "test", "goid", "state", "top_function", "rule", "reason"]
TEST_VERDICT_COLUMNS = ["package", "test", "result", "verdict", "causes", "goroutines"]
PACKAGE_TEST = "(package)"

_TEST_FUNC = re.compile(r"^(?:Test|Benchmark|Fuzz|Example)(?:[^a-z.][^.]*)?$")


@dataclass
class CheckResult:
    """The verdict of :func:`check`.

    ``tests``: one row per Go test (:data:`TEST_VERDICT_COLUMNS`; ``result`` as ``go test``
    said, ``verdict`` pass / leak / hang / deadlock, or the result where no goroutine is to
    blame). ``causes``: one row per test and cause (:data:`CAUSE_COLUMNS`: blocking ``site``
    with its ``file`` and ``line`` in the application, ``state``, ``pattern``, ``title``,
    ``advice`` (the fix), ``evidence``, the representative ``stack`` and the ``goids``).
    ``ignored``: every goroutine set aside and the rule that did it (:data:`IGNORED_COLUMNS`).
    ``rules``: the rules applied. ``events`` and ``warnings``: from the reader.
    """

    tests: pd.DataFrame
    causes: pd.DataFrame
    ignored: pd.DataFrame
    rules: pd.DataFrame
    events: pd.DataFrame
    warnings: pd.DataFrame
    sources: list[str]

    @property
    def exit_code(self) -> int:
        """0 when clean, 1 when a test leaked, hung or deadlocked."""
        return 1 if len(self.causes) else 0


# --- which test a goroutine belongs to ------------------------------------------------------


def _test_name(function: str, package: str, method: str) -> str:
    first = method.split(".", 1)[0]
    return first if "(" not in method and _TEST_FUNC.match(first) else ""


def goroutine_tests(dumps: Dumps) -> pd.Series:
    """The Go test each goroutine belongs to ('' where it cannot be traced).

    By its own stack (the outermost ``TestX`` frame), its creator's function, its ancestors'
    stacks, then its creator goroutine (``created by ... in goroutine N``) in the same snapshot.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.

    Returns
    -------
    Series of str
        The test's name per goroutine row (index kept), '' where none is found.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 8 [chan send]:\\np.Run.func1()\\n\\t/p.go:3 +0x1\\n"
    ...                   "created by p.Run in goroutine 7\\n\\t/p.go:2 +0x1\\n\\n"
    ...                   "goroutine 7 [sync.WaitGroup.Wait]:\\np.Run()\\n\\t/p.go:4 +0x1\\n"
    ...                   "p.TestRun(0x1)\\n\\t/p_test.go:9 +0x1\\ntesting.tRunner()\\n\\t/t.go:1 +0x1\\n")
    >>> goroutine_tests(d).tolist()
    ['TestRun', 'TestRun']
    """
    g = dumps.goroutines
    f = dumps.frames
    f = f[f["receiver"].astype(str) == ""]
    named = f.assign(
        test=[
            _test_name(*x)
            for x in zip(
                f["function"].astype(str),
                f["package"].astype(str),
                f["method"].astype(str),
                strict=True,
            )
        ]
    )
    named = named[named["test"] != ""].sort_values(["section", "depth"], ascending=[True, False])
    by_stack = named.drop_duplicates("stack_id").set_index("stack_id")["test"]
    out = g["stack_id"].map(by_stack).astype(object)
    out = out.where(out.notna(), "")
    creators = (
        g["created_by"]
        .astype(str)
        .map(lambda fn: _test_name(fn, "", fn.rsplit("/", 1)[-1].split(".", 1)[-1]))
    )
    out = out.where(out != "", creators)
    for _ in range(8):  # creator chains: a goroutine started by a goroutine of the test
        known = {
            (s, gid): t
            for s, gid, t in zip(g["snapshot"], g["goid"], out, strict=True)
            if t and pd.notna(gid)
        }
        new = [
            t or known.get((s, c), "") if pd.notna(c) else t
            for s, c, t in zip(g["snapshot"], g["creator_goid"], out, strict=True)
        ]
        if new == out.tolist():
            break
        out = pd.Series(new, index=g.index, dtype=object)
    return out


# --- the check ------------------------------------------------------------------------------


def _select(dumps: Dumps, keep: pd.Series) -> Dumps:
    g = dumps.goroutines[np.asarray(keep, dtype=bool)]
    return Dumps(
        g,
        dumps.frames[dumps.frames["stack_id"].isin(g["stack_id"])],
        dumps.snapshots,
        dumps.warnings.iloc[:0],
    )


def _baseline_old(d: Dumps, before: Dumps | None) -> pd.Series:
    """Goroutines of ``d`` that were already there in the ``before`` dump: by goroutine id where
    the two are of one process (same id, same code), else by count per code path."""
    g = d.goroutines
    if before is None or g.empty or before.goroutines.empty:
        return pd.Series(False, index=g.index)
    fa = goroutine_fingerprints(d, "functions")
    fb = goroutine_fingerprints(before, "functions")
    seen = set(zip(before.goroutines["goid"], fb, strict=True))
    old = pd.Series(
        [(gid, fp) in seen for gid, fp in zip(g["goid"], fa, strict=True)], index=g.index
    )
    budget = fb.value_counts().to_dict()
    for fp, n in fa[old].value_counts().items():
        budget[fp] = budget.get(fp, 0) - n
    for i in g.sort_values("goid").index:  # the oldest of the rest count against the baseline
        if not old[i] and budget.get(fa[i], 0) > 0:
            old[i], budget[fa[i]] = True, budget[fa[i]] - 1
    return old


def _blame(ev, d: Dumps, rule: pd.Series, tests: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(to blame, why not) per goroutine of one event."""
    g = d.goroutines
    kind, running = ev.kind, list(ev.running)
    why = rule.map(lambda r: f"ignore rule: {r}" if r else "")
    if kind == "synctest":
        bubble = g["goid"].isin(list(ev.bubble)).fillna(False).astype(bool)
        if bubble.any():
            why = why.where(
                why != "", np.where(bubble, "", "outside the synctest bubble (the test itself)")
            )
    elif kind == "timeout":
        tops = {r.split("/", 1)[0] for r in running}
        traced = tests.isin(tops)
        if traced.any():
            why = why.where(
                why != "",
                np.where(traced, "", "blocked at the timeout but not traced to a running test"),
            )
        else:  # nothing traced (no test frames, no creator ids): every blocked goroutine is suspect
            blocked = is_blocked(g["state"])
            why = why.where(
                why != "", np.where(blocked, "", "running, not blocked, at the timeout")
            )
    elif kind == "dump" and len(g):
        first = g["line"].astype("Float64").idxmin()
        if str(g.at[first, "state"]) == "running":  # the runtime prints the dumping goroutine first
            why[first] = why[first] or "the goroutine that took the dump"
    return why == "", why


def _full_name(test: str, candidates: list[str]) -> str:
    """A subtest's full name where the reporter or the running list has one under ``test``."""
    under = sorted((c for c in candidates if c == test or c.startswith(test + "/")), key=len)
    return under[-1] if under else test


def _causes_of(sub: Dumps, head: dict, roots=None) -> list[dict]:
    labels = cluster(sub)
    desc = describe_clusters(sub, labels).set_index("cluster")
    s = suspects(sub, labels, by="cluster")  # one row per cluster: its members are the cause
    if roots:  # the code of each cause, and what it confirms, as evidence
        s = attach_source(s, roots, sub, labels)
    rows = []
    for k, r in enumerate(s.itertuples(index=False), 1):
        members = sub.goroutines[labels.to_numpy() == r.cluster]
        # a benign shape (a worker pool, the runtime's own) says nothing of a goroutine the check
        # has already found to blame: no pattern rather than a reassuring one
        pat = r.pattern if r.pattern and by_id(r.pattern).leak else ""
        rows.append(
            {
                **head,
                "cause": k,
                "goroutines": int(members["count"].sum()),
                "state": r.state,
                "site": r.site,
                "file": r.file,
                "line": r.line,
                "entry": r.entry,
                "created_by": r.created_by,
                "pattern": pat,
                "title": r.title if pat else "",
                "advice": r.advice if pat else "",
                "evidence": [
                    e
                    for e in (list(r.evidence) if pat or not r.pattern else list(r.evidence)[:-1])
                    # a test's goroutine: its runner returns by design
                    if "creator testing." not in e
                ],
                "stack": desc.at[r.cluster, "frames"],
                "goids": [int(x) for x in members["goid"].dropna()],
                "code": str(getattr(r, "code", "") or ""),
            }
        )
    return rows


def _event_check(
    ev,
    d: Dumps,
    rules: pd.DataFrame,
    before: Dumps | None,
    reported: set,
    source: str,
    roots=None,
) -> tuple[list, list]:
    """(cause rows, ignored rows) of one event."""
    tests = goroutine_tests(d)
    rule = match_rules(d, rules)
    blame, why = _blame(ev, d, rule, tests)
    old = _baseline_old(d, before)
    why = why.where(~(old & blame), "present in the baseline dump")
    blame &= ~old
    default = ev.test or (ev.running[0] if len(ev.running) == 1 else "")
    owner = tests.where(tests != "", default)
    if ev.kind == "goleak":  # t.Parallel: another test's goroutine in flight, its own check passed
        other = blame & (tests != "") & (ev.test != "") & (tests != ev.test.split("/", 1)[0])
        other &= ~tests.isin(reported)
        why = why.where(~other, "another test's goroutine, still running when this test checked")
        blame &= ~other
    g = d.goroutines
    ignored = [
        {"event": ev.event, "package": ev.package, "test": owner[i], "goid": g.at[i, "goid"],
         "state": str(g.at[i, "state"]), "top_function": str(g.at[i, "top_function"]),
         "rule": rule[i], "reason": why[i]}
        for i in g.index[~blame.to_numpy()]
    ]  # fmt: skip
    rows = []
    for test, idx in owner[blame].groupby(owner[blame], sort=True).groups.items():
        head = {"event": ev.event, "kind": ev.kind, "package": ev.package,
                "test": _owner_name(ev, test, source), "verdict": _verdict(ev),
                "message": ev.message}  # fmt: skip
        rows += _causes_of(_select(d, g.index.isin(idx)), head, roots)
    if not rows and ev.kind not in ("goleak", "dump"):
        # the runtime or the test binary said so: a timeout or deadlock stands with nothing to blame
        rows.append(_nothing_left(ev, default))
    return rows, ignored


def _owner_name(ev, test: str, source: str) -> str:
    if test:
        return _full_name(test, [ev.test, *ev.running])
    if ev.kind == "goleak":
        return "TestMain"  # goleak's package-level check runs there
    return f"dump {Path(source).name}" if ev.kind == "dump" else PACKAGE_TEST


def _nothing_left(ev, test: str) -> dict:
    empty = dict.fromkeys(("state", "site", "file", "entry", "created_by", "pattern", "title",
                           "advice", "stack", "code"), "")  # fmt: skip
    return {**empty, "event": ev.event, "kind": ev.kind, "package": ev.package,
            "test": test or PACKAGE_TEST, "verdict": _verdict(ev), "cause": 1, "goroutines": 0,
            "line": pd.NA, "goids": [], "message": ev.message,
            "evidence": ["no goroutine of the test is left blocked in the dump"]}  # fmt: skip


def _verdict(ev) -> str:
    if ev.kind == "synctest" and "all goroutines in bubble are blocked" in ev.message:
        return "deadlock"
    return VERDICTS[ev.kind]


def _event_dumps(out: GoTestOutput, event: int) -> Dumps:
    d = out.dumps
    g = d.goroutines[d.goroutines["snapshot"] == event]
    return Dumps(
        g,
        d.frames[d.frames["stack_id"].isin(g["stack_id"])],
        d.snapshots[d.snapshots["snapshot"] == event],
        d.warnings.iloc[:0],
    )


def _test_table(outs: list[GoTestOutput], causes: pd.DataFrame, cleared: set) -> pd.DataFrame:
    """Verdict per test: the worst of its causes, else go test's result; a test whose failure
    was a goleak report with nothing left to blame in it (``cleared``) passes."""
    seen = pd.concat([o.tests for o in outs], ignore_index=True) if outs else pd.DataFrame()
    seen = (
        seen[seen["test"] != ""]
        if len(seen)
        else pd.DataFrame(columns=["package", "test", "result"])
    )
    rows = {
        (p, t): {
            "package": p,
            "test": t,
            "result": r,
            "verdict": "pass" if (p, t) in cleared or not r else r,
            "causes": 0,
            "goroutines": 0,
        }
        for p, t, r in zip(seen["package"], seen["test"], seen["result"].fillna(""), strict=True)
    }
    rank = {"pass": 0, "skip": 0, "fail": 1, "leak": 2, "hang": 3, "deadlock": 4}
    for (p, t), c in causes.groupby(["package", "test"], sort=False):
        row = rows.setdefault(
            (p, t),
            {
                "package": p,
                "test": t,
                "result": "",
                "verdict": "pass",
                "causes": 0,
                "goroutines": 0,
            },
        )
        worst = max(c["verdict"], key=lambda v: rank.get(v, 1))
        if rank.get(worst, 1) > rank.get(row["verdict"], 1):
            row["verdict"] = worst
        row["causes"] += len(c)
        row["goroutines"] += int(c["goroutines"].sum())
    return pd.DataFrame(list(rows.values()), columns=TEST_VERDICT_COLUMNS)


def check(
    outputs: GoTestOutput | list[GoTestOutput],
    rules: pd.DataFrame | None = None,
    *,
    defaults: bool = True,
    baseline: Dumps | None = None,
    roots=None,
) -> CheckResult:
    """Judge test output: which Go test leaked, hung or deadlocked, grouped by cause.

    Parameters
    ----------
    outputs : GoTestOutput or list of GoTestOutput
        What :func:`goforensics.read.gotest.read_go_test` read (one per input).
    rules : DataFrame, optional
        Ignore rules (:data:`RULE_COLUMNS`, e.g. from :func:`rules_frame` and
        :func:`load_check_config`), applied after :data:`DEFAULT_RULES`.
    defaults : bool
        Apply :data:`DEFAULT_RULES` (the standard library's and the test runner's goroutines).
    baseline : Dumps, optional
        A dump taken before the run: goroutines already in it are not to blame.
    roots : path or list of paths, optional
        The source tree(s) of the tested module (``--source``): each cause gets its code and
        what the code confirms (:func:`goforensics.analyze.source.attach_source`).

    Returns
    -------
    CheckResult
        ``tests`` (package, test, result, verdict, causes, goroutines), ``causes`` (one row
        per test and cause: event, kind, package, test, verdict, cause, goroutines, state,
        site, file, line, entry, created_by, pattern, title, advice, evidence, stack, goids,
        message, source), ``ignored``, ``rules``, ``events``, ``warnings``; ``exit_code``.

    Examples
    --------
    >>> from goforensics.read.gotest import read_go_test
    >>> check(read_go_test("=== RUN   TestA\\n--- PASS: TestA (0.00s)\\nok  \\tp\\t0.1s\\n")).tests.values.tolist()
    [['p', 'TestA', 'pass', 'pass', 0, 0]]
    """
    outs = [outputs] if isinstance(outputs, GoTestOutput) else list(outputs)
    parts = [DEFAULT_RULES] if defaults else []
    if rules is not None and len(rules):
        parts.append(rules[RULE_COLUMNS])
    all_rules = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RULE_COLUMNS)
    causes, ignored, events, offset, cleared = [], [], [], 0, set()
    for out in outs:
        ev = out.events.copy()
        reported = set(ev.loc[ev["kind"] == "goleak", "test"].map(lambda t: t.split("/", 1)[0]))
        for e in ev.itertuples(index=False):
            c, i = _event_check(
                e, _event_dumps(out, e.event), all_rules, baseline, reported, out.source, roots
            )
            causes += [{**x, "event": x["event"] + offset, "source": out.source} for x in c]
            if e.kind == "goleak" and e.test and not c:  # its report held nothing to blame
                cleared.add((e.package, e.test))
            ignored += [{**x, "event": x["event"] + offset} for x in i]
        ev["event"] += offset
        ev["source"] = out.source
        events.append(ev)
        offset += len(ev)
    cause_df = pd.DataFrame(causes, columns=CAUSE_COLUMNS)
    cause_df["line"] = cause_df["line"].astype("Int64")
    warn = [o.warnings for o in outs if len(o.warnings)]
    return CheckResult(
        tests=_test_table(outs, cause_df, cleared),
        causes=cause_df,
        ignored=pd.DataFrame(ignored, columns=IGNORED_COLUMNS),
        rules=all_rules,
        events=pd.concat(events, ignore_index=True) if events else pd.DataFrame(),
        warnings=pd.concat(warn, ignore_index=True)
        if warn
        else (outs[0].warnings if outs else pd.DataFrame()),
        sources=[o.source for o in outs],
    )
