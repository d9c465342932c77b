"""Analysis cost on inputs that once grew faster than their size (issue 12.4).

Each case runs in its own process (so that its peak RSS is its own) and prints, per step,
the seconds it took and the process's peak resident memory after it:

- ``distinct``: a dump of N goroutines on N distinct stacks (default 100,000), each blocked
  in its own application function: one cluster per goroutine. describe_clusters once looped
  in pandas per cluster (it did not finish in 90 s);
- ``snapshots``: one goroutine block repeated N times (default 20,000), which loads as N
  snapshots: triage once asked theilslopes for an N x N array (3 GiB at 20,001);
- ``goker``: the bundled GoKer dump Kubernetes58107 (1.7 MB, 2,909 goroutines, 486
  RWMutexes each guessed to be held by any of 2,206 goroutines): triage once took 32-44 s
  and 0.7-1.6 GB building a million "held-by" edges.

    python benchmarks/analyze_scale.py [--cases distinct snapshots goker] [--goroutines 100000]
                                       [--snapshots 20000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
import goforensics as gf
from goforensics.analyze.clustering import cluster, describe_clusters
from goforensics.analyze.suspects import triage

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

out = []
t = time.perf_counter(); d = gf.load(sys.argv[1]); out.append(("load", time.perf_counter() - t, rss()))
t = time.perf_counter(); lab = cluster(d); out.append(("cluster", time.perf_counter() - t, rss()))
t = time.perf_counter(); dc = describe_clusters(d, lab)
out.append(("describe_clusters", time.perf_counter() - t, rss()))
t = time.perf_counter(); r = triage(d, lab); out.append(("triage", time.perf_counter() - t, rss()))
print(json.dumps({"goroutines": int(d.goroutines["count"].sum()), "snapshots": len(d.snapshots),
                  "clusters": int(lab.nunique()), "steps": out,
                  "top": [s["site"] for s in r["suspects"][:3]]}))
"""


def distinct_dump(path: Path, n: int) -> Path:
    """N goroutines, each blocked in its own function: N distinct stacks."""
    with path.open("w") as f:
        for i in range(1, n + 1):
            f.write(
                f"goroutine {i} [chan receive]:\nmain.worker{i}(0xc000{i:06x})\n"
                f"\t/app/work.go:{i} +0x1d\ncreated by main.main in goroutine 1\n"
                "\t/app/main.go:9 +0x3e\n\n"
            )
    return path


def repeated_dump(path: Path, n: int) -> Path:
    """One goroutine block repeated N times: N snapshots of one goroutine."""
    block = "goroutine 1 [chan receive]:\nmain.wait()\n\t/app/main.go:5 +0x1\n\n"
    path.write_text(block * n)
    return path


def run(case: str, path: Path) -> None:
    env_path = f"{ROOT}"
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=1800,
    )
    if r.returncode != 0:
        print(f"{case}: failed\n{r.stderr[-2000:]}")
        return
    res = json.loads(r.stdout.strip().splitlines()[-1])
    print(
        f"{case}: {res['goroutines']:,} goroutines, {res['snapshots']:,} snapshot(s), "
        f"{res['clusters']:,} clusters; top: {', '.join(res['top'])}"
    )
    for step, sec, peak in res["steps"]:
        print(f"  {step:<18} {sec:8.2f} s   peak RSS {peak:8.0f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["distinct", "snapshots", "goker"])
    ap.add_argument("--goroutines", type=int, default=100_000)
    ap.add_argument("--snapshots", type=int, default=20_000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for case in args.cases:
            if case == "distinct":
                run(case, distinct_dump(tmp / "distinct.txt", args.goroutines))
            elif case == "snapshots":
                run(case, repeated_dump(tmp / "repeated.txt", args.snapshots))
            elif case == "goker":
                run(
                    case, ROOT / "goforensics" / "data" / "goker" / "raw" / "Kubernetes58107.txt.gz"
                )
            else:
                print(f"unknown case {case!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
