"""Fleet triage at scale: sequential vs Dask threads vs processes vs a 2-worker LocalCluster.

    python benchmarks/fleet.py                       # 100 and 1,000 files
    python benchmarks/fleet.py --sizes 100,1000,2000,10000 --timeout 3600

A fleet of N small dumps over N/10 instances is made in a temporary folder by copying the
bundled scenario series (``goforensics/data/<name>/``: ten gzipped ``debug=2`` dumps and
their ``manifest.json`` each; checkout, gateway, indexer and notifier in turn, so the
fleet has both causes shared by every instance and causes of a few). ``--large`` adds
200 instances x 10 snapshots of ~5,000 goroutines (a bundled series whose every
goroutine is repeated under fresh ids).

Each run is ``fleet_triage`` (load and triage) in a fresh process, so that its peak RSS is
that of the client alone (the workers of ``processes`` and ``local`` are other processes);
its result is pickled and compared with the sequential run's (every table equal).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERIES = ("checkout", "gateway", "indexer", "notifier")
MODES = ("sequential", "threads", "processes", "local")
_TABLES = ("instances", "clusters", "counts", "growth", "suspects", "verdicts", "warnings")


def make_fleet(dest: Path, files: int, per_instance: int = 10, copies: int = 1) -> Path:
    """``files`` dumps in ``files / per_instance`` instance folders, copies of the scenarios."""
    sys.path.insert(0, str(ROOT))
    from goforensics.read.series import bundled_path

    dest.mkdir(parents=True, exist_ok=True)
    for i in range(files // per_instance):
        src = bundled_path(SERIES[i % len(SERIES)])
        inst = dest / f"pod-{i:04d}"
        inst.mkdir()
        manifest = json.loads((src / "manifest.json").read_text())
        manifest["snapshots"] = manifest["snapshots"][:per_instance]
        manifest["instance"] = inst.name
        for snap in manifest["snapshots"]:
            if copies == 1:
                shutil.copyfile(src / snap["file"], inst / snap["file"])
            else:
                (inst / snap["file"]).write_bytes(_widen(src / snap["file"], copies))
        (inst / "manifest.json").write_text(json.dumps(manifest))
    return dest


def _widen(path: Path, copies: int) -> bytes:
    """The dump with every goroutine printed ``copies`` times under fresh ids."""
    text = gzip.decompress(path.read_bytes()).decode()
    blocks = [b for b in text.split("\n\n") if b.strip()]
    out, goid = [], 1
    for _ in range(copies):
        for b in blocks:
            out.append(re.sub(r"^goroutine \d+", f"goroutine {goid}", b, count=1))
            goid += 1
    return gzip.compress(("\n\n".join(out) + "\n").encode(), compresslevel=1)


def run_one(fleet: str, mode: str, out: str) -> None:
    """One measured run (in its own process): time, client peak RSS, pickled result."""
    sys.path.insert(0, str(ROOT))
    from goforensics.fleet import fleet_triage

    t0 = time.perf_counter()
    r = fleet_triage(fleet, scheduler=mode, progress=False)
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(out).write_bytes(pickle.dumps({"secs": secs, "rss": rss, "result": r}))


def measure(fleet: Path, mode: str, timeout: float, tmp: Path) -> dict | None:
    out = tmp / f"{mode}.pkl"
    cmd = [sys.executable, __file__, "--run", str(fleet), mode, str(out)]
    try:
        subprocess.run(cmd, check=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as e:
        print(f"  {mode}: failed ({e.returncode})", file=sys.stderr)
        return None
    return pickle.loads(out.read_bytes())


def bench(label: str, fleet: Path, n_inst: int, n_files: int, modes, timeout: float, tmp: Path):
    ref = None
    cells = []
    loads = []
    for mode in modes:
        loads.append(os.getloadavg()[0])
        m = measure(fleet, mode, timeout, tmp)
        loads.append(os.getloadavg()[0])
        if m is None:
            cells.append(f"> {timeout:.0f} s")
            continue
        if ref is None and mode == "sequential":
            ref = m["result"]
        same = "" if ref is None else (" =" if m["result"].equals(ref) else " ≠")
        if same == " ≠":
            differ = [f for f in _TABLES if not getattr(m["result"], f).equals(getattr(ref, f))]
            print(f"  {mode}: tables that differ: {', '.join(differ)}", file=sys.stderr)
        cells.append(f"{m['secs']:.1f} s, {m['rss']:.0f} MiB{same if mode != 'sequential' else ''}")
        print(f"  {label} {mode}: {cells[-1]}", file=sys.stderr, flush=True)
    causes = "" if ref is None else str(len(ref.verdicts))
    load = f"{min(loads):.1f}–{max(loads):.1f}"
    row = f"| {label} | {n_files:,} | {n_inst:,} | " + " | ".join(cells)
    return row + f" | {causes} | {load} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000", help="numbers of files (10 per instance)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    ap.add_argument("--large", action="store_true", help="add 200 instances x 10 x ~5k goroutines")
    ap.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run:
        run_one(*a.run)
        return
    modes = a.modes.split(",")
    print(f"| fleet | files | instances | {' | '.join(modes)} | causes carried | load average |")
    print("|---|---|---|" + "---|" * len(modes) + "---|---|")
    with tempfile.TemporaryDirectory(prefix="gf-fleet-bench-") as t:
        tmp = Path(t)
        for n in [int(x) for x in a.sizes.split(",")]:
            fleet = make_fleet(tmp / f"fleet-{n}", n)
            print(bench("small dumps", fleet, n // 10, n, modes, a.timeout, tmp), flush=True)
            shutil.rmtree(fleet)
        if a.large:
            fleet = make_fleet(tmp / "fleet-large", 2000, copies=20)
            print(bench("~5k goroutines", fleet, 200, 2000, modes, a.timeout, tmp), flush=True)
    print(
        "seconds: wall time of load + triage in a fresh process; MiB: peak RSS of that "
        "(client) process; '=': every result table equal to the sequential run's"
    )


if __name__ == "__main__":
    main()
