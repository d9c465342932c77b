"""Fuzzing harness: generated and mutated dumps through the API and every command that reads dumps.

    python benchmarks/fuzz.py --minutes N [--workers K] [--seed S] [--corpus DIR ...] [--out DIR]
    python benchmarks/fuzz.py --cases N ...          # a bounded run (the CI test)
    python benchmarks/fuzz.py --replay DIR/case.json # one saved failure again, in a fresh process

Inputs come from benchmarks/fuzzgen.py: structured dumps drawn by a seeded hypothesis run (the
property tests' model of debug=2 text in each log dialect, CR-only, CRLF, log prefixes, test2json,
Docker json, gzip, debug=1 buckets, profile.proto whole and cut), and mutations of real dumps (the
bundled datasets, or ``--corpus`` folders, and $GOFORENSICS_REALDUMPS when set): byte flips,
line duplication, deletion and splicing, control characters and invalid UTF-8 in names, huge lines,
deep stacks, repeated blocks, corrupt gzip, gzip and protobuf bombs, folders with copies, symlink
loops, deep nesting, odd manifests and non-UTF-8 file names.

Each input runs through ``api`` (load, cluster, triage, write_report) and a few of the commands
(``--per-case``; every command is drawn in turn). Every run is a child process with a wall-time
limit (``--timeout``) and a memory limit (``--memory`` GiB of resident memory over the run's
process tree, watched; RLIMIT_AS cannot serve: the chart renderer's JavaScript engine reserves
far more address space than it uses). Children are forked from this process once the library is
imported (a command costs its own work, not Python's start); any run that is not OK or a clean
error is run again from a fresh interpreter, and only that run's class counts. Classes:

* ok; clean (a one-line error, exit 1 or 2, or a GoforensicsError from the API);
* crash: a traceback, a signal, an abort, the CLI's "internal error" (exit 70), or an error
  blamed on an option that was not given;
* hang: over the time limit; memory: over the memory limit (or a MemoryError);
* lost: the load's goroutines differ from what the generator wrote (or from the unmodified
  file's count under a transformation that must not change it), or one snapshot holds a
  goroutine id twice where the input does not.

Printed: class counts per target, the slowest and the largest (peak RSS) runs. Each failing
input is saved under ``--out`` with ``case.json`` (command, class, output) for ``--replay``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

import fuzzgen

ROOT = fuzzgen.ROOT
GiB = 1 << 30
HERE = Path(__file__).resolve()
CLASSES = ["ok", "clean", "crash", "hang", "memory", "lost"]
BAD = {"crash", "hang", "memory", "lost"}

# Every command that reads dumps, as (name, argv with IN for the input and OUT for a scratch dir).
COMMANDS: list[tuple[str, list[str]]] = [
    ("parse", ["parse", "IN"]),
    ("parse-json-frames", ["parse", "--format", "json", "--frames", "IN"]),
    ("parse-parquet", ["parse", "--format", "parquet", "-o", "OUT/p", "IN"]),
    ("summary", ["summary", "IN"]),
    ("cluster", ["cluster", "--format", "csv", "IN"]),
    ("cluster-summary-json", ["cluster", "--summary", "--format", "json", "IN"]),
    ("cluster-cause", ["cluster", "--level", "cause", "--format", "text", "IN"]),
    ("triage", ["triage", "IN"]),
    ("triage-json", ["triage", "--format", "json", "--by", "cause", "IN"]),
    ("triage-html", ["triage", "--format", "html", "-o", "OUT/t.html", "IN"]),
    ("diff", ["diff", "--all", "IN"]),
    ("diff-two", ["diff", "--format", "json", "IN", "IN"]),
    ("report", ["report", "-o", "OUT/r.html", "IN"]),
    ("report-no-charts", ["report", "--no-charts", "-o", "OUT/r.html", "IN"]),
    ("export-pprof", ["export", "--format", "pprof", "-o", "OUT/e.pb.gz", "IN"]),
    ("export-speedscope", ["export", "--format", "speedscope", "--per", "cluster", "IN"]),
    ("export-folded", ["export", "--format", "folded", "--per", "snapshot", "IN"]),
    ("export-parquet", ["export", "--format", "parquet", "-o", "OUT/e.parquet", "IN"]),
    ("check", ["check", "IN"]),
    ("check-sarif", ["check", "--format", "sarif", "--show-ignored", "IN"]),
    ("check-baseline", ["check", "--baseline", "IN", "--format", "junit", "IN"]),
    ("triage-stdin", ["triage", "--format", "json", "-"]),
    ("parse-stdin", ["parse", "-"]),
    ("fleet", ["fleet", "--format", "json", "IN"]),
]
COMMAND = dict(COMMANDS)
# exit codes the commands document for a bad input (check: 1 is its verdict, 2 unusable input)
CLEAN_RC = {"check": {2}, "check-sarif": {2}, "check-baseline": {2}}
VERDICT_RC = {"check": {0, 1}, "check-sarif": {0, 1}, "check-baseline": {0, 1}}


# --- the child: one target on one input ---------------------------------------------------------


def child_api(path: str, out: str, full: bool = True) -> int:
    """load, cluster, triage, write_report (``full``); the load's accounting to out/result.json."""
    import numpy as np

    import goforensics as gf
    from goforensics.errors import GoforensicsError

    res: dict = {}
    try:
        d = gf.load(path)
        g = d.goroutines
        goids = g["goid"] if "goid" in g else None
        dup = 0
        if goids is not None and len(g):
            # a crash dump (gp=/m= headers) prints an M's current goroutine again, by design
            plain = goids.notna() & (g["m"].isna() if "m" in g else True)
            keyed = g.loc[plain, ["snapshot", "goid"]]
            dup = int(keyed.duplicated().sum())
        res.update(
            goroutines=int(np.asarray(g["count"]).sum()) if "count" in g else len(g),
            rows=len(g),
            snapshots=int(g["snapshot"].nunique()) if len(g) else 0,
            duplicates=dup,
            warnings=len(d.warnings),
        )
        Path(out, "result.json").write_text(json.dumps(res))
        if not full:
            return 0
        labels = gf.cluster(d)
        gf.triage(d, labels)
        gf.write_report(d, Path(out) / "report.html")
    except GoforensicsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except MemoryError:
        traceback.print_exc()
        return 99
    except Exception:  # a crash: the traceback is the finding
        traceback.print_exc()
        return 70
    return 0


def child_run(target: str, path: str, out: str) -> int:
    if target in ("api", "api-load"):
        return child_api(path, out, full=target == "api")
    from goforensics.cli import main

    return main(expand(COMMAND[target], path, out))


def expand(argv: list[str], path: str, out: str) -> list[str]:
    """A command's argv with IN the input and OUT/... in the run's scratch directory."""
    return [path if a == "IN" else out + a[3:] if a.startswith("OUT/") else a for a in argv]


def fork_run(target: str, path: str, run_dir: Path) -> int:
    """Fork a child running ``target``; returns its pid (stdout/stderr in run_dir)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        os.setsid()
        os.chdir(run_dir)
        os.dup2(os.open(stdin_of(target, path), os.O_RDONLY), 0)
        os.dup2(os.open(run_dir / "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(run_dir / "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        code = child_run(target, path, str(run_dir))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def fresh_argv(target: str, path: str, out: str) -> list[str]:
    """The command that runs ``target`` from a fresh interpreter (what a replay runs)."""
    if target in ("api", "api-load"):
        return [sys.executable, str(HERE), "--child", target, path, out]
    return [sys.executable, "-m", "goforensics.cli", *expand(COMMAND[target], path, out)]


def stdin_of(target: str, path: str) -> str:
    """What a command reading ``-`` gets on its standard input: the input file (a folder: nothing)."""
    if target in COMMAND and "-" in COMMAND[target] and os.path.isfile(path):
        return path
    return os.devnull


def fresh_run(target: str, path: str, run_dir: Path) -> subprocess.Popen:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.Popen(
        fresh_argv(target, path, str(run_dir)),
        cwd=run_dir,
        stdin=open(stdin_of(target, path), "rb"),
        stdout=open(run_dir / "stdout", "wb"),
        stderr=open(run_dir / "stderr", "wb"),
        env=env,
        start_new_session=True,
    )


def wait(pid: int, timeout: float, budget: int) -> tuple:
    """Wait for ``pid``: rc, signal, seconds, peak RSS KiB, timed out, over the memory budget."""
    return wait_many([pid], timeout, budget)[pid]


def tree_rss(pid: int) -> int:
    """Resident KiB of ``pid`` and its descendants (a command's worker processes count)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for ln in Path(f"/proc/{p}/status").read_text().splitlines():
                if ln.startswith("VmRSS:"):
                    total += int(ln.split()[1])
            for t in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{t}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def wait_many(pids: list[int], timeout: float, budget: int) -> dict[int, tuple]:
    """Wait for children started together; each is killed with its session after ``timeout`` or
    when its process tree's RSS passes ``budget`` bytes (an address-space limit cannot be used:
    the chart renderer's JavaScript engine reserves tens of GiB it never touches)."""
    t0 = time.monotonic()
    left, done, timed, over = set(pids), {}, set(), set()
    peak = dict.fromkeys(pids, 0)
    while left:
        for pid in list(left):
            got, status, ru = os.wait4(pid, os.WNOHANG)
            if not got:
                peak[pid] = max(peak[pid], tree_rss(pid))
                if pid not in timed | over:
                    if peak[pid] * 1024 > budget:
                        over.add(pid)
                        kill_session(pid)
                    elif time.monotonic() - t0 > timeout:
                        timed.add(pid)
                        kill_session(pid)
                continue
            left.discard(pid)
            kill_session(pid)  # workers it may have left behind end with it
            rc = os.waitstatus_to_exitcode(status)
            sig = -rc if rc < 0 else None
            secs = time.monotonic() - t0
            kib = max(peak[pid], ru.ru_maxrss)
            done[pid] = (None if sig else rc), sig, secs, kib, pid in timed, pid in over
        time.sleep(0.05)
    return done


def kill_session(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- classification -----------------------------------------------------------------------------

MEM = re.compile(r"MemoryError|bad_alloc|Cannot allocate memory|out of memory|std::length_error")
OPTION_BLAMED = re.compile(r"Invalid value for '?(--[\w-]+)")


def _remove(path: Path) -> None:
    """Remove a case's folder. Cases nest folders deeper than Python's stack, which
    shutil's recursive walk does not survive; rm walks them without recursion."""
    subprocess.run(["rm", "-rf", "--", str(path)], check=False)


def _copy(src: Path, dest: Path) -> None:
    """Copy an input as it is (links kept), however deep (see :func:`_remove`)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--", str(src), str(dest)], check=True)


def classify(target: str, rc, sig, timed_out: bool, over: bool, stderr: str):
    """(class, reason) of one run."""
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if over:
        return "memory", "over the memory limit"
    if timed_out:
        return "hang", "over the time limit"
    if sig is not None:
        if MEM.search(stderr):
            return "memory", f"signal {sig} after a failed allocation"
        return "crash", f"signal {signal.Signals(sig).name}"
    if MEM.search(stderr) and (rc in (70, 99) or "Traceback" in stderr):
        return "memory", tail[:200]
    if "Traceback (most recent call last)" in stderr or "internal error" in stderr or rc == 70:
        return "crash", tail[:200]
    if target != "api":
        m = OPTION_BLAMED.search(stderr)
        if rc and m and m.group(1) not in COMMAND[target]:
            return "crash", f"error blamed on {m.group(1)}, not given: {tail[:160]}"
        if rc == 0 or rc in VERDICT_RC.get(target, ()):
            return "ok", ""
        if rc in CLEAN_RC.get(target, {1, 2}) and tail:
            return "clean", tail[:200]
        return "crash", f"exit {rc}: {tail[:160]}"
    if rc == 1 and tail.startswith("error: ") and "\n" not in tail:
        return "clean", tail[:200]
    if rc != 0:
        return "crash", f"exit {rc}: {tail[:160]}"
    return "ok", ""


def accounting(run_dir: Path, expect: int | None, dup_ok: bool) -> tuple[str, str] | None:
    """'lost' when the load's account does not add up; None when it does (or cannot be judged)."""
    p = run_dir / "result.json"
    if not p.exists():
        return None
    res = json.loads(p.read_text())
    if expect is not None and res["goroutines"] != expect:
        return "lost", f"{res['goroutines']} goroutines read, {expect} written"
    if res["duplicates"] and not dup_ok:
        return "lost", f"{res['duplicates']} goroutine ids repeated within a snapshot"
    return None


def verdict(target: str, status: tuple, run_dir: Path, expect: int | None, dup_ok: bool):
    """(class, reason) of a finished run from its status (rc, signal, timed out, over memory),
    its stderr and, for the API, the load's accounting."""
    err = run_dir / "stderr"
    text = err.read_text("utf-8", "replace") if err.exists() else ""
    cls, why = classify(target, *status, text)
    if target == "api" and cls == "clean" and expect:
        return "lost", f"{why} where {expect} goroutines were written"
    if target == "api" and cls == "ok":
        return accounting(run_dir, expect, dup_ok) or (cls, why)
    return cls, why


# --- the campaign ------------------------------------------------------------------------------


class Campaign:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = Path(tempfile.mkdtemp(prefix="gf-fuzz-"))
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.runs: list[tuple[float, int, str, str, str]] = []  # secs, KiB, class, target, case
        self.findings: list[dict] = []
        self.harness_errors: list[str] = []  # the harness's own failures, not goforensics'
        self.baseline: dict[str, tuple[int, int]] = {}  # corpus file -> (goroutines, duplicates)
        self.budget = int(args.memory * GiB)
        self.n = 0

    def targets(self) -> list[str]:
        k = min(self.args.per_case, len(COMMANDS))
        names = [c for c, _ in COMMANDS]
        start = (self.n * k) % len(names)
        picked = [names[(start + i) % len(names)] for i in range(k)]
        return ["api", *picked]

    def run_case(self, case: fuzzgen.Case) -> None:
        self.n += 1
        if self.args.only and not re.search(self.args.only, case.name):
            return
        cdir = self.work / f"c{self.n}"
        try:
            path = case.write(cdir)
        except (OSError, RecursionError, ValueError) as e:
            # A case the generator cannot write says nothing about goforensics; the run goes on
            # and the summary names it, so a harness fault is never taken for a clean hour.
            self.harness_errors.append(f"{case.name}: {type(e).__name__}: {e}"[:200])
            _remove(cdir)
            return
        expect, dup_ok = case.expect, False
        if case.expect_ref:
            base = self.baseline_of(case.expect_ref[0])
            if base is None:
                expect, dup_ok = None, True
            else:
                expect, dup_ok = base[0] * case.expect_ref[1], base[1] > 0 or case.expect_ref[1] > 1
        targets = self.targets()
        for i in range(0, len(targets), self.args.workers):
            group = targets[i : i + self.args.workers]
            pids = {}
            for target in group:
                (cdir / target).mkdir()
                pids[target] = fork_run(target, str(path), cdir / target)
            res = wait_many(list(pids.values()), self.args.timeout, self.budget)
            for target in group:
                self.record(case, target, str(path), cdir, expect, dup_ok, res[pids[target]])
        _remove(cdir)

    def record(self, case, target, path, cdir, expect, dup_ok, res) -> None:
        run_dir = cdir / target
        rc, sig, secs, kib, to, mem = res
        cls, why = self.judge(target, rc, sig, to, mem, run_dir, expect, dup_ok)
        if cls in BAD:  # confirm from a fresh interpreter: only that run counts
            for f in run_dir.iterdir():
                if f.is_file():
                    f.unlink()
            p = fresh_run(target, path, run_dir)
            res = wait(p.pid, self.args.timeout, self.budget)
            rc, sig, secs, kib, to, mem = res
            cls, why = self.judge(target, rc, sig, to, mem, run_dir, expect, dup_ok)
            if cls in BAD:
                self.save(case, target, path, cdir, run_dir, cls, why, res, expect, dup_ok)
        elif self.args.save_slow and secs > self.args.save_slow:
            self.save(case, target, path, cdir, run_dir, "slow", why, res, expect, dup_ok)
        self.counts[target][cls] += 1
        self.counts["all"][cls] += 1
        self.runs.append((secs, kib, cls, target, case.name))
        if self.args.verbose or cls in BAD:
            print(
                f"{cls:6} {secs:7.1f}s {kib / 1024:7.0f} MiB  {target:22} {case.name}  {why}",
                flush=True,
            )

    def judge(self, target, rc, sig, to, mem, run_dir, expect, dup_ok):
        return verdict(target, (rc, sig, to, mem), run_dir, expect, dup_ok)

    def save(self, case, target, path, cdir, run_dir, cls, why, res, expect, dup_ok) -> None:
        rc, sig, secs, kib = res[:4]
        dest = self.out / f"{cls}-{len(self.findings):04d}-{target}-{case.name}"[:120]
        _copy(cdir / "input", dest / "input")
        rel = Path(path).relative_to(cdir / "input") if path != str(cdir / "input") else Path()
        inp = dest / "input" / rel
        for f in ("stdout", "stderr"):
            src = run_dir / f
            if src.exists():
                (dest / f).write_bytes(src.read_bytes()[: 1 << 16])
        rec = {
            "class": cls,
            "why": why,
            "target": target,
            "case": case.name,
            "note": case.note,
            "input": str(inp),
            "command": fresh_argv(target, str(inp), str(dest / "scratch")),
            "stdin": stdin_of(target, str(inp)),
            "exit": rc,
            "signal": sig,
            "seconds": round(secs, 2),
            "peak_rss_mib": round(kib / 1024),
            "expect_goroutines": expect,
            "duplicates_expected": dup_ok,
            "timeout": self.args.timeout,
            "memory_gib": self.args.memory,
        }
        (dest / "case.json").write_text(json.dumps(rec, indent=1))
        self.findings.append(rec)

    def baseline_of(self, ref: str) -> tuple[int, int] | None:
        """The unmodified corpus file's (goroutines, duplicate ids), from a load in a child."""
        if ref not in self.baseline:
            run_dir = self.work / f"base{len(self.baseline)}"
            run_dir.mkdir()
            pid = fork_run("api-load", ref, run_dir)
            wait(pid, self.args.timeout, self.budget)
            p = run_dir / "result.json"
            self.baseline[ref] = (
                tuple(json.loads(p.read_text())[k] for k in ("goroutines", "duplicates"))
                if p.exists()
                else None
            )
        return self.baseline[ref]

    def cases(self):
        """Structured and mutated cases, alternating, forever (the caller stops)."""
        corpus = fuzzgen.corpus_files(self.corpus_dirs())
        g = self.args.bomb_gib
        bombs = {
            "zeros.gz": fuzzgen.bomb("zeros", g),
            "newlines.gz": fuzzgen.bomb("newlines", g / 2),
            "bomb.pb.gz": fuzzgen.pb_bomb(int(g * 200)),
        }
        batch = 0
        while True:
            for case in fuzzgen.structured_cases(self.args.seed + batch, 20):
                yield case
                for _ in range(2 if corpus else 0):
                    try:
                        mutated = fuzzgen.mutated_case(self.n, corpus, self.rng, bombs)
                    except (OSError, RecursionError, ValueError, MemoryError) as e:
                        self.harness_errors.append(f"mutation: {type(e).__name__}: {e}"[:200])
                        continue
                    yield mutated
            batch += 1

    def corpus_dirs(self) -> list[Path]:
        dirs = [Path(p) for p in self.args.corpus] or [ROOT / "goforensics" / "data"]
        real = os.environ.get("GOFORENSICS_REALDUMPS")
        if real and Path(real).is_dir() and not self.args.corpus:
            dirs.append(Path(real))
        return dirs

    def run(self) -> int:
        t_end = time.monotonic() + self.args.minutes * 60
        t0 = time.monotonic()
        for case in self.cases():
            if self.args.cases and self.n >= self.args.cases:
                break
            if not self.args.cases and time.monotonic() >= t_end:
                break
            self.run_case(case)
        self.print_summary(time.monotonic() - t0)
        _remove(self.work)
        bad = sum(self.counts["all"][c] for c in BAD)
        return 1 if bad else 0

    def print_summary(self, secs: float) -> None:
        print(
            f"\n{self.n} cases, {len(self.runs)} runs in {secs / 60:.1f} min (seed {self.args.seed})"
        )
        print(f"{'target':22} " + " ".join(f"{c:>6}" for c in CLASSES))
        for t in ["all", "api", *COMMAND]:
            if t in self.counts:
                print(f"{t:22} " + " ".join(f"{self.counts[t][c]:6d}" for c in CLASSES))
        print("slowest:")
        for secs_, kib, cls, target, name in sorted(self.runs, reverse=True)[:5]:
            print(f"  {secs_:7.1f} s  {kib / 1024:6.0f} MiB  {cls:6} {target:22} {name}")
        print("largest peak RSS:")
        for secs_, kib, cls, target, name in sorted(self.runs, key=lambda r: -r[1])[:5]:
            print(f"  {kib / 1024:6.0f} MiB  {secs_:7.1f} s  {cls:6} {target:22} {name}")
        print(f"harness errors (cases not run): {len(self.harness_errors)}")
        for h in self.harness_errors[:10]:
            print(f"  {h}")
        for f in self.findings:
            print(f"saved: {f['class']} {f['target']} {f['case']}: {f['why']}  ({f['input']})")


def replay(path: Path, timeout: float | None) -> int:
    rec = json.loads(path.read_text())
    scratch = path.parent / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    print("$ " + " ".join(rec["command"]))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    p = subprocess.Popen(
        rec["command"],
        cwd=scratch,
        stdin=open(rec.get("stdin", os.devnull), "rb"),
        stdout=open(scratch / "stdout", "wb"),
        stderr=open(scratch / "stderr", "wb"),
        env=env,
        start_new_session=True,
    )
    rc, sig, secs, kib, to, mem = wait(
        p.pid, timeout or rec["timeout"], int(rec["memory_gib"] * GiB)
    )
    cls, why = verdict(
        rec["target"],
        (rc, sig, to, mem),
        scratch,
        rec["expect_goroutines"],
        rec.get("duplicates_expected", False),
    )
    err = (scratch / "stderr").read_text("utf-8", "replace")
    sys.stdout.write(err[-4000:])
    print(
        f"\n{cls} {why} (exit {rc}, signal {sig}, {secs:.1f} s, {kib / 1024:.0f} MiB); was {rec['class']}"
    )
    return 1 if cls in BAD else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--cases", type=int, default=0, help="stop after this many cases (not minutes)")
    ap.add_argument("--workers", type=int, default=1, help="runs at once (1 on a shared machine)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", action="append", default=[], help="folders or files of real dumps")
    ap.add_argument("--out", default="fuzz-out")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    ap.add_argument("--memory", type=float, default=4.0, help="GiB per run")
    ap.add_argument("--per-case", type=int, default=2, help="commands per input besides the API")
    ap.add_argument("--bomb-gib", type=float, default=1.0, help="GiB a gzip bomb inflates to")
    ap.add_argument(
        "--small", action="store_true", help="mutations at CI sizes (see fuzzgen.SIZES)"
    )
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--only", help="run only the cases whose name matches this regex")
    ap.add_argument("--save-slow", type=float, help="also save the inputs of runs over SECONDS")
    ap.add_argument("--replay", type=Path)
    ap.add_argument("--child", nargs=3, metavar=("TARGET", "PATH", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child_run(*a.child)
    if a.replay:
        return replay(a.replay, None)
    if a.small:
        fuzzgen.small()
    # imported once here, so each forked run pays its own work only
    import goforensics.analyze
    import goforensics.cli
    import goforensics.show.report  # noqa: F401

    for heavy in (
        "sklearn.cluster",
        "scipy.stats",
        "networkx",
        "altair",
        "vl_convert",
        "pyarrow.parquet",
    ):
        try:
            __import__(heavy)
        except ImportError:
            pass

    return Campaign(a).run()


if __name__ == "__main__":
    sys.exit(main())
