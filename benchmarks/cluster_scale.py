"""Clustering at fleet scale: 1,000,000 goroutines on 50,000 distinct stacks (goal: <= 60 s, <= 4 GiB).

How the input is made (printed as the script runs):

* The seed stacks are every distinct stack of two frames or more in the real-dump corpus
  (``../shared/realdumps``, 63 files from real Go programs: erigon, nats, kubernetes, etcd,
  gVisor, syncthing, ...), with their real functions, files, lines and frame classes.
* 50,000 distinct stacks are derived from them by the variations a fleet shows: builds
  that move lines (a per-file edit point and shift, 8 builds), closures renumbered by
  a build, recursion of 1-6 extra levels at an application frame, middleware chains of
  1-4 frames above the entry, and different callers of the blocking function.
* 1,000,000 goroutine rows spread over 16 snapshots (two processes of each build, a
  snapshot being one process): every stack once, the rest drawn by a Zipf law (a few
  causes hold most goroutines, as in real leaks); creators' goroutine ids vary. The tables are
written to Parquet, and a fresh subprocess loads
  them and clusters them, so that its peak RSS is the clustering's (input included).

Run: ``.venv/bin/python benchmarks/cluster_scale.py [--goroutines N] [--stacks K]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xxhash

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import goforensics as gf  # noqa: E402
from goforensics.goruntime import split_function  # noqa: E402
from goforensics.model import FRAME_COLUMNS, GOROUTINE_COLUMNS, _conform  # noqa: E402

REALDUMPS = Path(os.environ.get("GOFORENSICS_REALDUMPS", ROOT.parent / "shared" / "realdumps"))
BUILDS = 8
MIDDLEWARE = [
    f"github.com/acme/edge/middleware.{n}.func1"
    for n in (
        "Logging",
        "Auth",
        "Tracing",
        "Metrics",
        "Recover",
        "RateLimit",
        "CORS",
        "Gzip",
        "Timeout",
        "RequestID",
        "Session",
        "Audit",
    )
]
CALLERS = [
    f"github.com/acme/edge/api.(*Server).{n}"
    for n in ("handleOrders", "handleUsers", "handleSearch", "handleBilling", "batchSync", "replay")
]


def seed_stacks() -> list[list[tuple]]:
    """Every distinct own stack of two frames or more in the real-dump corpus."""
    d = gf.load(REALDUMPS)
    used = d.goroutines.loc[d.goroutines["n_frames"] >= 2, "stack_id"].unique()
    f = d.frames[(d.frames["section"] == 0) & d.frames["stack_id"].isin(used)]
    f = f.sort_values(["stack_id", "depth"])
    out = []
    for _, s in f.groupby("stack_id", sort=True):
        out.append(
            list(
                zip(
                    s["function"].astype(str),
                    s["file"].astype(str),
                    s["line"].fillna(0).astype(int),
                    s["frame_class"].astype(str),
                    strict=True,
                )
            )
        )
    return out


def vary(stack: list[tuple], rng: np.random.Generator, edits: dict) -> tuple[list[tuple], int]:
    """One variant of a real stack, as another build / call path of the same code would give."""
    build = int(rng.integers(BUILDS))
    frames = []
    for fn, file, line, cls in stack:
        if cls in ("application", "third-party") and build:
            point, shift = edits.setdefault(
                (file, build), (int(rng.integers(1, 400)), int(rng.integers(1, 30)))
            )
            if line > point:
                line += shift
            fn = re.sub(r"\.func(\d+)", lambda m: f".func{int(m.group(1)) + build % 3}", fn)
        frames.append((fn, file, line, cls))
    app = [i for i, fr in enumerate(frames) if fr[3] == "application"]
    if app and rng.random() < 0.3:  # recursion at an application frame
        i = app[int(rng.integers(len(app)))]
        fn, file, line, cls = frames[i]
        frames[i + 1 : i + 1] = [(fn, file, line + 3, cls)] * int(rng.integers(1, 7))
    app = [i for i, fr in enumerate(frames) if fr[3] == "application"]
    if app and len(frames) > 2 and rng.random() < 0.4:  # middleware between handler and entry
        k = int(rng.integers(1, 5))
        mw = [
            (MIDDLEWARE[int(j)], "/src/edge/middleware/chain.go", 20 + 7 * int(j), "application")
            for j in rng.choice(len(MIDDLEWARE), k, replace=False)
        ]
        at = max(app[0] + 1, len(frames) - 1)
        frames[at:at] = mw
    if app and rng.random() < 0.3:  # another caller of the blocking function
        j = int(rng.integers(len(CALLERS)))
        frames.insert(
            app[0] + 1, (CALLERS[j], "/src/edge/api/server.go", 100 + 13 * j, "application")
        )
    return frames, build


def make_input(n_goroutines: int, n_stacks: int, out: Path, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    seeds = seed_stacks()
    edits: dict = {}
    stacks: dict[int, tuple[list[tuple], int, int]] = {}
    tries = 0
    while len(stacks) < n_stacks:
        tries += 1
        base = int(rng.integers(len(seeds)))
        frames, build = vary(seeds[base], rng, edits)
        sid = xxhash.xxh3_64_intdigest("\n".join(f"{a}\t{b}:{c}" for a, b, c, _ in frames).encode())
        stacks.setdefault(sid, (frames, base, build))
    sids = np.fromiter(stacks.keys(), dtype=np.uint64)
    rows = []
    for sid, (frames, _, _) in stacks.items():
        for depth, (fn, file, line, cls) in enumerate(frames):
            pkg, recv, meth = split_function(fn)
            rows.append(
                (sid, 0, depth, fn, pkg, recv, meth, file, line, None, "", False, None, cls)
            )
    frames_df = _conform(pd.DataFrame(rows, columns=list(FRAME_COLUMNS)), FRAME_COLUMNS)

    # every stack once, then a Zipf law over the stacks for the rest
    extra = n_goroutines - n_stacks
    ranks = np.minimum(rng.zipf(1.25, extra), n_stacks) - 1
    which = np.r_[np.arange(n_stacks), rng.permutation(n_stacks)[ranks]]
    # A snapshot is one process of one build (two per build): a stack of build b shows up
    # only in the snapshots of build b.
    build_of = np.asarray([stacks[int(s)][2] for s in sids])
    snap = (build_of[which] + BUILDS * rng.integers(0, 2, n_goroutines)).astype(np.int32)
    first = {sid: frames for sid, (frames, _, _) in stacks.items()}
    top = np.asarray([first[int(s)][0][0] for s in sids], dtype=object)
    entry = np.asarray([first[int(s)][-1][0] for s in sids], dtype=object)
    state_pool = np.asarray(
        ["chan receive", "select", "IO wait", "sync.Mutex.Lock", "chan send", "sleep"]
    )
    base_of = np.asarray([stacks[int(s)][1] for s in sids])  # the real seed of each stack
    g = pd.DataFrame(
        {
            "snapshot": snap,
            "instance": "",
            "source": "synthetic",
            "line": 0,
            "goid": np.arange(1, n_goroutines + 1),
            "count": 1,
            "state": state_pool[base_of[which] % len(state_pool)],
            "raw_state": "",
            "state_inferred": False,
            "labels": "",
            "top_function": top[which],
            "entry_function": entry[which],
            "created_by": "github.com/acme/edge.(*Server).Start",
            "created_by_file": "",
            "created_by_line": 0,
            "creator_goid": rng.integers(1, 5000, n_goroutines),
            "ancestors": "",
            "elided": False,
            "truncated": False,
            "n_frames": 0,
            "stack_id": sids[which],
            "args": "",
        }
    )
    g = _conform(g, GOROUTINE_COLUMNS)
    snaps = _conform(
        pd.DataFrame(
            {
                "snapshot": np.arange(2 * BUILDS),
                "instance": "",
                "source": "synthetic",
                "time_source": "",
                "format": "debug=2",
                "kind": "goroutine dump",
                "go_version": "",
            }
        ),
        gf.model.SNAPSHOT_COLUMNS,
    )
    d = gf.Dumps(g, frames_df, snaps)
    d.to_parquet(out)
    seed_of = pd.Series(base_of[which])
    seed_of.to_frame("seed").to_parquet(out / "seed.parquet")
    return {
        "seed_stacks": len(seeds),
        "distinct_stacks": len(stacks),
        "frames": len(frames_df),
        "goroutines": n_goroutines,
        "draws": tries,
    }


CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import goforensics as gf
from goforensics.analyze.clustering import describe_clusters, cluster_counts
from goforensics.analyze.estimator import StackClusterer
d = gf.Dumps.from_parquet(sys.argv[1])
t1 = time.perf_counter()
est = StackClusterer(level=sys.argv[2], threshold=float(sys.argv[3])).fit(d)
t2 = time.perf_counter()
desc = describe_clusters(d, est.labels_)
counts = cluster_counts(d, est.labels_)
t3 = time.perf_counter()
import numpy as np
np.save(sys.argv[4], est.labels_)
print(json.dumps({"load_s": t1 - t0, "cluster_s": t2 - t1, "describe_s": t3 - t2,
                  "clusters": est.n_clusters_, "buckets": len(est.buckets_),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goroutines", type=int, default=1_000_000)
    ap.add_argument("--stacks", type=int, default=50_000)
    ap.add_argument("--level", default="functions")
    ap.add_argument("--threshold", type=float, default=0.3)
    args = ap.parse_args()
    if not (REALDUMPS / "INDEX.tsv").exists():
        sys.exit(f"real-dump corpus not found at {REALDUMPS} (set GOFORENSICS_REALDUMPS)")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "tables"
        t = time.perf_counter()
        facts = make_input(args.goroutines, args.stacks, data)
        print(
            f"input: {facts['goroutines']:,} goroutines on {facts['distinct_stacks']:,} distinct stacks "
            f"({facts['frames']:,} frames), derived from {facts['seed_stacks']} real stacks "
            f"of {REALDUMPS.name}/ in {time.perf_counter() - t:.1f} s"
        )
        labels_path = Path(tmp) / "labels.npy"
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(data),
                args.level,
                str(args.threshold),
                str(labels_path),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if r.returncode:
            sys.exit(r.stderr)
        m = json.loads(r.stdout)
        labels = np.load(labels_path)
        seed = pd.read_parquet(data / "seed.parquet")["seed"].to_numpy()
    # How the derived variants regrouped: clusters per real seed stack (1 is ideal; several
    # seeds may share one cause, so this is a lower bound on recall, not a precision figure).
    per_seed = pd.Series(labels).groupby(seed).nunique()
    total = m["load_s"] + m["cluster_s"]
    print(
        f"level={args.level} threshold={args.threshold}: {m['buckets']:,} fingerprint buckets -> "
        f"{m['clusters']:,} clusters"
    )
    print(
        f"load {m['load_s']:.1f} s + cluster {m['cluster_s']:.1f} s = {total:.1f} s "
        f"(goal <= 60 s: {'met' if total <= 60 else 'NOT met'}); describe_clusters + cluster_counts "
        f"{m['describe_s']:.1f} s"
    )
    print(
        f"peak RSS {m['peak_rss_mib']:,.0f} MiB (goal <= 4096 MiB: "
        f"{'met' if m['peak_rss_mib'] <= 4096 else 'NOT met'})"
    )
    print(
        f"clusters per seed stack: median {per_seed.median():.0f}, mean {per_seed.mean():.2f}, "
        f"max {per_seed.max()}; seeds kept in one cluster: {(per_seed == 1).mean():.1%}"
    )


if __name__ == "__main__":
    main()
