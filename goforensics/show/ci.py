"""What ``goforensics check`` writes for CI systems: text, JUnit XML, GitHub annotations, SARIF.

All four take a :class:`goforensics.analyze.check.CheckResult`:

- :func:`check_text`: per failing test, its causes (site, pattern, fix), and a last line that
  says the verdict (CI logs show the last line);
- :func:`junit_xml`: a ``<testsuite>`` per package, a ``<testcase>`` per Go test and a
  ``<failure>`` per cause (Jenkins, GitLab, Azure DevOps read it);
- :func:`github_annotations`: ``::error file=...,line=...::`` workflow commands on the
  application line of each cause;
- :func:`check_sarif`: SARIF 2.1.0 through :mod:`goforensics.show.sarif` (code scanning).

Paths of the application's files are made relative to ``root`` (by default the CI's checkout:
``GITHUB_WORKSPACE``, ``CI_PROJECT_DIR``, else the current directory) where they lie under it.

>>> from goforensics.read.gotest import read_go_test
>>> from goforensics.analyze.check import check
>>> r = check(read_go_test("=== RUN   TestA\\n--- PASS: TestA (0.00s)\\nok  \\tp\\t0.1s\\n"))
>>> summary_line(r)
'goforensics check: ok: 1 test, no goroutine leaked, hung or deadlocked'
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import pandas as pd
import xxhash

from ..analyze.check import CheckResult
from ..analyze.patterns import by_id
from .sarif import sarif_json

__all__ = [
    "check_sarif",
    "check_text",
    "default_root",
    "github_annotations",
    "junit_xml",
    "relative_path",
    "summary_line",
]

_VERB = {"leak": "leaked", "hang": "hung", "deadlock": "deadlocked"}
_WHAT = {"leak": "goroutine leak", "hang": "test hung", "deadlock": "deadlock"}
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def default_root() -> Path:
    """Where the repository is checked out: ``GITHUB_WORKSPACE``, ``CI_PROJECT_DIR`` or the cwd.

    Returns
    -------
    Path
        ``GITHUB_WORKSPACE`` (GitHub Actions), else ``CI_PROJECT_DIR`` (GitLab CI), else the
        current directory.

    Examples
    --------
    >>> default_root().is_absolute()
    True
    """
    for var in ("GITHUB_WORKSPACE", "CI_PROJECT_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path.cwd()


def relative_path(file: str, root: str | Path | None = None) -> str:
    """``file`` relative to ``root`` where it lies under it, else as printed.

    Parameters
    ----------
    file : str
        A file path as the dump prints it.
    root : str or Path, optional
        The checkout (default :func:`default_root`).

    Returns
    -------
    str
        ``file`` relative to ``root``, in POSIX form, or ``file`` itself.

    Examples
    --------
    >>> relative_path("/home/runner/work/app/app/pay/client.go", "/home/runner/work/app/app")
    'pay/client.go'
    >>> relative_path("/usr/local/go/src/sync/waitgroup.go", "/src/app")
    '/usr/local/go/src/sync/waitgroup.go'
    """
    if not file:
        return ""
    root = default_root() if root is None else Path(root)
    p = PurePosixPath(file.replace("\\", "/"))
    r = (
        PurePosixPath(str(Path(root).resolve()).replace("\\", "/"))
        if Path(root).exists()
        else PurePosixPath(str(root).replace("\\", "/"))
    )
    try:
        return p.relative_to(r).as_posix()
    except ValueError:
        return p.as_posix()


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def summary_line(result: CheckResult) -> str:
    """The verdict in one line, the last a CI log shows.

    Parameters
    ----------
    result : CheckResult
        What :func:`goforensics.analyze.check.check` found.

    Returns
    -------
    str
        ``goforensics check: FAIL: ...`` (tests leaked, hung, deadlocked; goroutines; causes)
        or ``goforensics check: ok: ...``.

    Examples
    --------
    >>> from goforensics.read.gotest import read_go_test
    >>> from goforensics.analyze.check import check
    >>> r = check(read_go_test('''--- FAIL: TestFetch (0.45s)
    ...     fetch_test.go:10: found unexpected goroutines:
    ...         [Goroutine 5 in state chan send, with example.com/p.Fetch.func1 on top of the stack:
    ...         example.com/p.Fetch.func1()
    ...         \\t/src/p/fetch.go:13 +0x65
    ...         created by example.com/p.Fetch in goroutine 4
    ...         \\t/src/p/fetch.go:11 +0x51
    ...         ]
    ... FAIL
    ... FAIL\\texample.com/p\\t0.449s
    ... '''))
    >>> summary_line(r)
    'goforensics check: FAIL: 1 of 1 test: 1 leaked (1 goroutine, 1 cause)'
    """
    t = result.tests
    bad = t[t["verdict"].isin(list(_VERB))]
    if bad.empty:
        return (
            f"goforensics check: ok: {_n(len(t), 'test')}, no goroutine leaked, hung or deadlocked"
        )
    parts = [
        f"{(bad['verdict'] == v).sum()} {w}"
        for v, w in _VERB.items()
        if (bad["verdict"] == v).any()
    ]
    return (
        f"goforensics check: FAIL: {len(bad)} of {_n(len(t), 'test')}: {', '.join(parts)} "
        f"({_n(int(result.causes['goroutines'].sum()), 'goroutine')}, {_n(len(result.causes), 'cause')})"
    )


def _where(c, root) -> str:
    if not c.file:
        return ""
    line = "" if pd.isna(c.line) else f":{int(c.line)}"
    return f"{relative_path(c.file, root)}{line}"


def _cause_sentence(c, root) -> str:
    if not c.goroutines:
        return "; ".join(c.evidence) or c.message
    at = _where(c, root)
    return (
        f"{_n(int(c.goroutines), 'goroutine')} blocked in [{c.state}] at {c.site}"
        + (f" ({at})" if at else "")
        + (f": {c.title}" if c.title else "")
    )


def _cause_lines(c, root) -> list[str]:
    sentence = _cause_sentence(c, root)
    out = [f"  #{c.cause}  {sentence}"]
    if c.created_by:
        out.append(f"      created by {c.created_by}")
    if c.pattern:
        out.append(f"      pattern {c.title} ({c.pattern})")
    for e in c.evidence[:3]:
        if e != sentence:  # a cause with no goroutine is told by its evidence: once
            out.append(f"      - {e}")
    if c.advice:
        out.append(f"      fix: {c.advice}")
    out += [f"      {x}" for x in str(getattr(c, "code", "") or "").splitlines()]
    return out


def check_text(
    result: CheckResult, *, show_ignored: bool = False, root: str | Path | None = None
) -> str:
    """The check as text: each failing test with its causes, then the summary line.

    Parameters
    ----------
    result : CheckResult
        What :func:`goforensics.analyze.check.check` found.
    show_ignored : bool
        List every goroutine set aside, with the rule or the reason.
    root : path, optional
        Directory that file paths are shown relative to (see :func:`default_root`).

    Returns
    -------
    str
        Text ending with :func:`summary_line`.

    Examples
    --------
    >>> from goforensics.read.gotest import read_go_test
    >>> from goforensics.analyze.check import check
    >>> r = check(read_go_test('''--- FAIL: TestFetch (0.45s)
    ...     fetch_test.go:10: found unexpected goroutines:
    ...         [Goroutine 5 in state chan send, with example.com/p.Fetch.func1 on top of the stack:
    ...         example.com/p.Fetch.func1()
    ...         \\t/src/p/fetch.go:13 +0x65
    ...         created by example.com/p.Fetch in goroutine 4
    ...         \\t/src/p/fetch.go:11 +0x51
    ...         ]
    ... FAIL
    ... FAIL\\texample.com/p\\t0.449s
    ... '''))
    >>> print(check_text(r, root="/src").splitlines()[0])
    FAIL TestFetch (example.com/p): goroutine leak, 1 goroutine, 1 cause: fetch_test.go:10: found unexpected goroutines:
    """
    out = []
    for (pkg, test), cs in result.causes.groupby(["package", "test"], sort=False):
        verdict, message = cs["verdict"].iloc[0], str(cs["message"].iloc[0] or "")
        n = int(cs["goroutines"].sum())
        counted = f", {_n(n, 'goroutine')}, {_n(len(cs), 'cause')}" if n else ""
        out.append(
            f"FAIL {test} ({pkg or 'package unknown'}): {_WHAT[verdict]}{counted}"
            + (f": {message}" if message else "")
        )
        for c in cs.itertuples(index=False):
            out.extend(_cause_lines(c, root))
        out.append("")
    ig = result.ignored
    if len(ig):
        if show_ignored:
            out.append(f"ignored ({len(ig)} goroutines):")
            out.extend(
                f"  goroutine {'' if pd.isna(r.goid) else int(r.goid)} [{r.state}] {r.top_function}"
                f" ({r.test or r.package}): {r.reason}"
                for r in ig.itertuples(index=False)
            )
        else:
            out.append(
                f"{_n(len(ig), 'goroutine')} ignored (the test runner's, the standard library's, "
                "or by your rules): --show-ignored lists them"
            )
    w = result.warnings
    if len(w) and "kind" in w:
        for r in w[w["kind"].astype(str) == "not judged"].itertuples(index=False):
            out.append(f"note: {r.message} (line {r.line})")
    out.append(summary_line(result))
    return "\n".join(out) + "\n"


# --- JUnit ------------------------------------------------------------------------------------


def _xml(text: str) -> str:
    return _XML_BAD.sub("\ufffd", str(text))


def _failure_body(c, root) -> str:
    lines = [_cause_sentence(c, root)]
    lines += [f"- {e}" for e in c.evidence]
    if c.advice:
        lines.append(f"fix: {c.advice}")
    if c.stack:
        lines += ["", c.stack]
    if c.goids:
        lines.append(f"goroutines: {' '.join(map(str, c.goids))}")
    return "\n".join(lines)


def junit_xml(result: CheckResult, *, root: str | Path | None = None) -> str:
    """JUnit XML: a testsuite per package, a testcase per Go test, a failure per cause.

    Parameters
    ----------
    result : CheckResult
        What :func:`goforensics.analyze.check.check` found.
    root : path, optional
        Directory that file paths are shown relative to (default :func:`default_root`).

    Returns
    -------
    str
        ``<testsuites>`` with one ``<testsuite name=package>`` each; a testcase's ``<failure
        type=leak|hang|deadlock message=...>`` holds the evidence, the fix and the stack.

    Examples
    --------
    >>> from goforensics.read.gotest import read_go_test
    >>> from goforensics.analyze.check import check
    >>> r = check(read_go_test('''--- FAIL: TestFetch (0.45s)
    ...     fetch_test.go:10: found unexpected goroutines:
    ...         [Goroutine 5 in state chan send, with example.com/p.Fetch.func1 on top of the stack:
    ...         example.com/p.Fetch.func1()
    ...         \\t/src/p/fetch.go:13 +0x65
    ...         created by example.com/p.Fetch in goroutine 4
    ...         \\t/src/p/fetch.go:11 +0x51
    ...         ]
    ... FAIL
    ... FAIL\\texample.com/p\\t0.449s
    ... '''))
    >>> print(junit_xml(r, root="/src").splitlines()[3])
        <testcase name="TestFetch" classname="example.com/p">
    """
    t = result.tests
    suites = ET.Element(
        "testsuites",
        name="goforensics check",
        tests=str(len(t)),
        failures=str(int(t["verdict"].isin(list(_VERB)).sum())),
    )
    causes = result.causes
    for pkg, tests in t.groupby("package", sort=False):
        bad = tests["verdict"].isin(list(_VERB))
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=_xml(pkg or "(unknown package)"),
            tests=str(len(tests)),
            failures=str(int(bad.sum())),
            errors="0",
            skipped=str(int((tests["result"] == "skip").sum())),
        )
        for r in tests.itertuples(index=False):
            case = ET.SubElement(suite, "testcase", name=_xml(r.test), classname=_xml(pkg))
            mine = causes[(causes["package"] == pkg) & (causes["test"] == r.test)]
            for c in mine.itertuples(index=False):
                f = ET.SubElement(
                    case,
                    "failure",
                    type=c.verdict,
                    message=_xml(f"{_WHAT[c.verdict]}: {_cause_sentence(c, root)}"),
                )
                f.text = _xml(_failure_body(c, root))
            if mine.empty and r.result == "skip":
                ET.SubElement(case, "skipped")
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


# --- GitHub Actions ---------------------------------------------------------------------------


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def github_annotations(result: CheckResult, *, root: str | Path | None = None) -> str:
    """GitHub Actions workflow commands: one ``::error`` per cause on its application line.

    Parameters
    ----------
    result : CheckResult
        What :func:`goforensics.analyze.check.check` found.
    root : path, optional
        Directory that file paths are shown relative to (default :func:`default_root`).

    Returns
    -------
    str
        ``::error file=F,line=L,title=T::message`` lines (file and line left out where the
        cause has none), then :func:`summary_line`.

    Examples
    --------
    >>> from goforensics.read.gotest import read_go_test
    >>> from goforensics.analyze.check import check
    >>> r = check(read_go_test('''--- FAIL: TestFetch (0.45s)
    ...     fetch_test.go:10: found unexpected goroutines:
    ...         [Goroutine 5 in state chan send, with example.com/p.Fetch.func1 on top of the stack:
    ...         example.com/p.Fetch.func1()
    ...         \\t/src/p/fetch.go:13 +0x65
    ...         created by example.com/p.Fetch in goroutine 4
    ...         \\t/src/p/fetch.go:11 +0x51
    ...         ]
    ... FAIL
    ... FAIL\\texample.com/p\\t0.449s
    ... '''))
    >>> print(github_annotations(r, root="/src").split("::")[1])
    error file=p/fetch.go,line=13,title=goroutine leak in TestFetch
    """
    out = []
    for c in result.causes.itertuples(index=False):
        props = []
        file = relative_path(c.file, root)
        if file:
            props.append(f"file={_gh_prop(file)}")
            if not pd.isna(c.line):
                props.append(f"line={int(c.line)}")
        props.append(f"title={_gh_prop(f'{_WHAT[c.verdict]} in {c.test}')}")
        msg = _cause_sentence(c, root) + (f"\nfix: {c.advice}" if c.advice else "")
        out.append(f"::error {','.join(props)}::{_gh_data(msg)}")
    out.append(summary_line(result))
    return "\n".join(out) + "\n"


# --- SARIF ------------------------------------------------------------------------------------

_RULES = {
    "goroutine-leak": (
        "Goroutine leaked by a test",
        "Goroutines started during a test were still there when it ended.",
        "Make every goroutine the code starts return: give it a "
        "way out (a context, a done channel, a closed channel) and wait for it.",
    ),
    "test-hang": (
        "Test hung",
        "A test ran past go test's -timeout with these goroutines blocked.",
        "Find what each blocked goroutine waits for and why nothing provides it; bound the "
        "wait with a context or a timeout.",
    ),
    "deadlock": (
        "Deadlock in a test",
        "Every goroutine was asleep: the runtime stopped the test binary.",
        "Break the wait cycle: take locks in one order, never wait on a channel or WaitGroup "
        "while holding what the other side needs.",
    ),
}
_RULE_OF = {"leak": "goroutine-leak", "hang": "test-hang", "deadlock": "deadlock"}


def _sarif_tables(result: CheckResult, root) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, used = [], {}
    for c in result.causes.itertuples(index=False):
        rid = c.pattern or _RULE_OF[c.verdict]
        if rid not in used:
            if c.pattern:
                p = by_id(c.pattern)
                used[rid] = (p.id, p.title, p.explanation, p.advice)
            else:
                used[rid] = (rid, *_RULES[rid])
        key = f"{c.package}\x00{c.test}\x00{c.verdict}\x00{c.site}\x00{c.state}"
        rows.append(
            {
                "rule_id": rid,
                "level": "error",
                "message": f"{_WHAT[c.verdict]} in {c.test} ({c.package}): {_cause_sentence(c, root)}",
                "file": relative_path(c.file, root),
                "line": c.line,
                "fingerprint": f"{xxhash.xxh3_64_intdigest(key.encode()):016x}",
            }
        )
    results = pd.DataFrame(
        rows, columns=["rule_id", "level", "message", "file", "line", "fingerprint"]
    )
    rules = pd.DataFrame(
        [
            {"id": i, "name": n, "description": d, "help": h, "level": "error"}
            for i, n, d, h in used.values()
        ],
        columns=["id", "name", "description", "help", "level"],
    )
    return results, rules


def check_sarif(result: CheckResult, *, root: str | Path | None = None) -> str:
    """SARIF 2.1.0 JSON: a result per cause, its rule the pattern it matches (else the verdict).

    Parameters
    ----------
    result : CheckResult
        What :func:`goforensics.analyze.check.check` found.
    root : path, optional
        Directory that file paths are shown relative to (default :func:`default_root`).

    Returns
    -------
    str
        The log from :func:`goforensics.show.sarif.sarif_json`.

    Examples
    --------
    >>> import json
    >>> from goforensics.read.gotest import read_go_test
    >>> from goforensics.analyze.check import check
    >>> r = check(read_go_test('''--- FAIL: TestFetch (0.45s)
    ...     fetch_test.go:10: found unexpected goroutines:
    ...         [Goroutine 5 in state chan send, with example.com/p.Fetch.func1 on top of the stack:
    ...         example.com/p.Fetch.func1()
    ...         \\t/src/p/fetch.go:13 +0x65
    ...         created by example.com/p.Fetch in goroutine 4
    ...         \\t/src/p/fetch.go:11 +0x51
    ...         ]
    ... FAIL
    ... FAIL\\texample.com/p\\t0.449s
    ... '''))
    >>> [x["ruleId"] for x in json.loads(check_sarif(r, root="/src"))["runs"][0]["results"]]
    ['unconsumed-result']
    """
    results, rules = _sarif_tables(result, root)
    return sarif_json(results, rules)
