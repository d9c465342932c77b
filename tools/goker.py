"""GoKer: Go's goroutine-leak-profile test programs, run case by case, with what each expects.

The kernels and their expected leaks ship with the Go toolchain
(``GOROOT/src/runtime/testdata/testgoroutineleakprofile`` and ``goroutineleakprofile_test.go``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from goforensics.datasets import BUILD_DIR, META, TRUTH
from goforensics.errors import DatasetError
from goforensics.read.series import MANIFEST

from .gotool import go_build, go_version, goroot
from .truth import GOROUTINE_HEADER

__all__ = ["build_goker", "extract_leaks", "goker_expectations", "strip_leaked"]

# --- GoKer ----------------------------------------------------------------------------------------

_LISTS = {
    "microTests": "micro",
    "stressTestCases": "stress",
    "patternTestCases": "patterns",
    "gokerTestCases": "goker",
}
_LEAK_TEST = "src/runtime/goroutineleakprofile_test.go"
_LEAK_PROGRAMS = "src/runtime/testdata/testgoroutineleakprofile"


def _go_calls(text: str, names: tuple[str, ...]) -> Iterable[tuple[int, str, list[str]]]:
    """(offset, function, string arguments) of calls to ``names``, comments and all skipped."""
    i, n = 0, len(text)
    call = re.compile(r"\b(" + "|".join(names) + r")\(")
    while i < n:
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if text[i] in '`"':
            q = text[i]
            j = i + 1
            while j < n and text[j] != q:
                j += 2 if q == '"' and text[j] == "\\" else 1
            i = j + 1
            continue
        m = call.match(text, i)
        if not m or (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            i += 1
            continue
        j, depth, args = m.end(), 1, []
        while j < n and depth:
            c = text[j]
            if text.startswith("//", j):
                j = text.find("\n", j)
                continue
            if c in '`"':
                k = j + 1
                while k < n and text[k] != c:
                    k += 2 if c == '"' and text[k] == "\\" else 1
                lit = text[j + 1 : k]
                args.append(lit if c == "`" else json.loads('"' + lit + '"'))
                j = k + 1
                continue
            depth += {"(": 1, ")": -1}.get(c, 0)
            j += 1
        yield i, m.group(1), args
        i = j


def goker_expectations(test_file: str | Path) -> pd.DataFrame:
    """The cases of ``goroutineleakprofile_test.go``: suite, flakiness, expected leak regexps.

    Read from the test file itself: ``makeTest(name, regexps...)`` cases are run
    with ``GOMAXPROCS=1`` and their leaks must all occur; ``makeFlakyTest`` ones
    may or may not. Cases commented out there are not listed.
    """
    text = Path(test_file).read_text(encoding="utf-8")
    starts = sorted(
        (m.start(), _LISTS[m.group(1)])
        for m in re.finditer(r"\b(" + "|".join(_LISTS) + r")\s*:=\s*\[\]testCase\{", text)
    )
    rows = []
    for pos, fn, args in _go_calls(text, ("makeTest", "makeFlakyTest")):
        suite = next((s for p, s in reversed(starts) if p < pos), None)
        if suite is None or not args:
            continue  # the helpers' own definitions
        rows.append(
            {
                "case": args[0],
                "suite": suite,
                "program": "goker" if suite == "goker" else ".",
                "flaky": fn == "makeFlakyTest",
                "simple": fn == "makeTest",
                "expected": args[1:],
            }
        )
    return pd.DataFrame(rows)


def extract_leaks(output: str) -> list[str]:
    """The leaks a goroutineleak profile reports, as ``goroutineleakprofile_test.go`` extracts them.

    A faithful port (quirks included): ``"funcName(...) [wait reason]"`` for each
    goroutine marked ``(leaked)``, the function being the line two above ``created by``.

    >>> extract_leaks("goroutine 1 [running]:\\nmain.main()\\n\\tm.go:1\\n\\n"
    ...               "goroutine 7 [chan send (leaked)]:\\nmain.f.func1()\\n\\tm.go:9\\n"
    ...               "created by main.f in goroutine 1\\n\\tm.go:8\\n")
    ['f.func1()  7 [chan send]:']
    """
    leaks = []
    for stack in output.split("\n\ngoroutine"):
        lines = stack.split("\n")
        if len(lines) < 5 or "(leaked)" not in lines[0]:
            continue
        wait = re.sub(r"goroutine \d+ \[", "[", lines[0]).replace(" (leaked)", "")
        func = ""
        for i in range(len(lines) - 1, -1, -1):
            if "created by" in lines[i]:
                func = lines[i - 2].removeprefix("main.") if i >= 2 else ""
                break
        if func:
            leaks.append(func + " " + wait)
    return leaks


_LEAKED = re.compile(
    r"^(goroutine \d+ (?:gp=\S+ m=\S+(?: mp=\S+)? )?\[[^\]\n]*?) \(leaked\)\]", re.M
)


def strip_leaked(text: str) -> str:
    """Remove the runtime's ``(leaked)`` verdicts from goroutine headers.

    >>> strip_leaked("goroutine 7 [chan send (leaked)]:\\nmain.f()\\n")
    'goroutine 7 [chan send]:\\nmain.f()\\n'
    """
    return _LEAKED.sub(r"\1]", text)


def _goroutine_leak_strings(text: str) -> list[tuple[int, str, bool]]:
    """(goid, "funcName [wait reason]" built as the Go test does, marked leaked) for every goroutine."""
    out = []
    for k, stack in enumerate(text.split("\n\ngoroutine")):
        stack = stack if k == 0 else "goroutine" + stack
        lines = stack.split("\n")
        m = GOROUTINE_HEADER.match(lines[0])
        if not m:
            continue
        marked = "(leaked)" in lines[0]
        wait = "[" + m.group(2).replace(" (leaked)", "") + "]"
        func = ""
        for i in range(len(lines) - 1, -1, -1):
            if "created by" in lines[i]:
                func = lines[i - 2].removeprefix("main.") if i >= 2 else ""
                break
        out.append((int(m.group(1)), f"{func} {wait}" if func else "", marked))
    return out


def _write_manifest(d: Path, files: list[str], times: list[datetime], instance: str) -> None:
    doc = {
        "format": "goforensics-capture/1",
        "instance": instance,
        "snapshots": [
            {
                "file": f,
                "taken_at": t.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                "round": k,
                "profile": "goroutineleak",
                "debug": 2,
            }
            for k, (f, t) in enumerate(zip(files, times, strict=True))
        ],
    }
    (d / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _goker_rows(programs: Path, test_file: Path, cases: Iterable[str] | None) -> list[dict]:
    """The cases to run: those the test file lists (with their expectations), then the cases
    the programs register that no list names ('unlisted', no expectation)."""
    rows = goker_expectations(test_file).to_dict("records")
    seen = {(r["program"], r["case"]) for r in rows}
    for prog, d in ((".", programs), ("goker", programs / "goker")):
        registered = sorted(
            set(
                re.findall(
                    r'\bregister\("(\w+)"',
                    " ".join(p.read_text(encoding="utf-8") for p in sorted(d.glob("*.go"))),
                )
            )
        )
        for case in registered:
            if (prog, case) not in seen:
                rows.append(
                    {
                        "case": case,
                        "suite": "unlisted",
                        "program": prog,
                        "flaky": False,
                        "simple": False,
                        "expected": [],
                    }
                )
    if cases is not None:
        wanted = set(cases)
        unknown = wanted - {r["case"] for r in rows}
        if unknown:
            raise DatasetError(f"no GoKer case(s) {', '.join(sorted(unknown))}")
        rows = [r for r in rows if r["case"] in wanted]
    return rows


def _run_goker_case(exe: Path, r: dict, timeout: float) -> str:
    """Run one case as the runtime's own test does (no async preemption; GOMAXPROCS=1 for the
    simple ones); records exit code and seconds in ``r``; returns what it printed."""
    env = {k: v for k, v in os.environ.items() if k not in ("GODEBUG", "GOTRACEBACK", "GOMAXPROCS")}
    env["GODEBUG"] = "asyncpreemptoff=1"
    if r["simple"]:
        env["GOMAXPROCS"] = "1"
    t0 = time.monotonic()
    try:
        p = subprocess.run(
            [str(exe), r["case"]],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=timeout,
        )
        output, code = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        output, code = (e.stdout or b"").decode("utf-8", "replace"), -1
    r["seconds"] = round(time.monotonic() - t0, 3)
    r["exit_code"] = code
    return output


def _judge_goker_case(r: dict, snap: int, output: str) -> list[dict]:
    """What leaked against what the test expects: fills ``r`` and returns the case's truth rows."""
    leaks = extract_leaks(output)
    rx = [re.compile(x) for x in r["expected"]]
    r["occurred"] = [any(x.search(leak) for leak in leaks) for x in rx]
    # distinct leaks no regexp expects, without the goroutine ids the test's strings carry
    r["unexpected"] = sorted(
        {
            re.sub(r"\s+\d+ \[", " [", leak).rstrip(":")
            for leak in leaks
            if not any(x.search(leak) for x in rx)
        }
    )
    per = _goroutine_leak_strings(output)
    r["goroutines"] = len(per)
    r["marked_leaked"] = sum(m for _, _, m in per)
    truth = []
    for goid, s, marked in per:
        hit = next((k for k, x in enumerate(rx) if s and x.search(s)), None)
        truth.append(
            {
                "snapshot": snap,
                "goid": goid,
                "case": r["case"],
                "cause": f"{r['case']}/other" if hit is None else f"{r['case']}/leak{hit}",
                "leak": hit is not None,
                "runtime_leaked": marked,
            }
        )
    return truth


def _write_goker(
    tmp: Path, rows: list[dict], files: list[str], times: list[datetime], truth_rows: list[dict]
) -> None:
    """Manifests (raw, stripped, and the dataset's own: stripped), cases.csv, truth and meta."""
    _write_manifest(tmp / "raw", files, times, "goker")
    _write_manifest(tmp / "stripped", files, times, "goker")
    _write_manifest(tmp, [f"stripped/{f}" for f in files], times, "goker")
    cases = pd.DataFrame(rows)
    for col in ("expected", "occurred", "unexpected"):
        cases[col] = cases[col].map(json.dumps)
    cases = cases[
        [
            "case",
            "suite",
            "program",
            "flaky",
            "simple",
            "expected",
            "occurred",
            "unexpected",
            "exit_code",
            "seconds",
            "goroutines",
            "marked_leaked",
            "raw",
            "stripped",
        ]
    ]
    cases.to_csv(tmp / "cases.csv", index=False)
    truth = pd.DataFrame(
        truth_rows, columns=["snapshot", "goid", "case", "cause", "leak", "runtime_leaked"]
    )
    truth.to_csv(tmp / TRUTH, index=False)
    meta = {
        "name": "goker",
        "kind": "goker",
        "about": "Go's goroutine leak profile test programs (micro cases, CGO'24 patterns, GoKer bugs): "
        "one goroutineleak profile per case, with the test's expected leaks.",
        "built_at": times[0].isoformat(timespec="seconds").replace("+00:00", "Z") if times else "",
        "go": go_version(),
        "cases": len(cases),
        "snapshots": len(cases),
        "goroutines": len(truth),
        "goroutines_per_snapshot": [int(x) for x in cases["goroutines"]],
        "leak_causes": sorted(set(truth.loc[truth["leak"], "cause"])),
        "cases_with_expected_leaks": int((cases["expected"] != "[]").sum()),
    }
    (tmp / META).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def build_goker(
    out: str | Path = BUILD_DIR,
    *,
    cases: Iterable[str] | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Build Go's goroutine-leak-profile test programs, run every case, record what leaked.

    Writes ``out/goker``: ``raw/CASE.txt`` (each case's output as written, a
    ``debug=2`` goroutineleak profile with ``(leaked)`` verdicts),
    ``stripped/CASE.txt`` (the same without the verdicts), a manifest in each and
    one at the top (the stripped ones) so that they load as series (one snapshot
    per case, in ``cases.csv`` order),
    ``cases.csv`` and ``truth.csv`` (see ``datasets/README.md``). ``cases``
    runs only those cases (all of them by default).
    """
    root = goroot()
    programs = root / _LEAK_PROGRAMS
    test_file = root / _LEAK_TEST
    if not programs.is_dir() or not test_file.is_file():
        raise DatasetError(f"{root} has no goroutine leak profile tests (Go 1.26+ needed)")
    out = Path(out)
    tmp = out / ".goker.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("raw", "stripped", "bin"):
        (tmp / sub).mkdir(parents=True)
    exes = {
        ".": go_build(programs, tmp / "bin" / "leakprofile"),
        "goker": go_build(programs / "goker", tmp / "bin" / "goker"),
    }
    rows = _goker_rows(programs, test_file, cases)
    files: list[str] = []
    times: list[datetime] = []
    truth_rows: list[dict] = []
    for snap, r in enumerate(tqdm(rows, unit="case", desc="goker", disable=not progress)):
        output = _run_goker_case(exes[r["program"]], r, timeout)
        times.append(datetime.now(UTC))
        name = f"{r['case']}.txt"
        (tmp / "raw" / name).write_text(output, encoding="utf-8")
        (tmp / "stripped" / name).write_text(strip_leaked(output), encoding="utf-8")
        files.append(name)
        r["raw"], r["stripped"] = f"raw/{name}", f"stripped/{name}"
        truth_rows += _judge_goker_case(r, snap, output)
    _write_goker(tmp, rows, files, times, truth_rows)
    shutil.rmtree(tmp / "bin")
    final = out / "goker"
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final
