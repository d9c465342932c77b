"""Triage quality on the labelled scenario series: are the leaks on top, and only the leaks?

For each scenario series (bundled, or built with `goforensics datasets build`), goforensics
clusters and ranks the suspects; each suspect is attributed the root cause most of its
goroutines carry in the ground truth (which the services wrote from their own knowledge of
their code). Printed per series:

- recall@k: the share of the series' leak causes with a suspect among the top k;
- precision@k: the share of the top k suspects that belong to a leak cause;
- worst leak rank: the rank of the last leak cause to appear (every leak found by then);
- first benign rank: the rank of the first suspect of a healthy cause; the goal is that it
  comes after the worst leak rank ("no benign suspect above a leak"); "strict" applies it to
  every cluster of a leak cause, not just its best one;
- the same for a baseline that ranks clusters by their size at the last snapshot (what ranking
  groups by size alone gives, which the issue warns puts worker pools above leaks);
- for the series with no leak (the control), the top score: how loud the false alarms are.

Each series is measured whole (10 snapshots, a minute) and cut to its first 3, 4 and 5
snapshots: early in an incident, when the leaks are still small, is where ranking by size
fails and where growth has the fewest points to show.

    python benchmarks/triage_quality.py [--source bundled|build] [--top 10] [--first 3 4 5]

Goals (issue 5): every leak of every scenario series in the top k, no benign suspect above a leak.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

import goforensics as gf
from goforensics import datasets
from goforensics.analyze import suspects


def measure(ranked: pd.DataFrame, leak_causes: set[str], ks: tuple[int, ...]) -> dict:
    """ranked: rows in rank order with columns cause, leak."""
    out = {}
    for k in ks:
        top = ranked.head(k)
        out[f"recall@{k}"] = len(set(top.loc[top["leak"], "cause"]) & leak_causes) / max(len(leak_causes), 1)
        out[f"precision@{k}"] = float(top["leak"].mean()) if len(top) else 0.0
    ranks = np.arange(1, len(ranked) + 1)
    best = {c: ranks[(ranked["cause"] == c).to_numpy()].min() for c in leak_causes
            if (ranked["cause"] == c).any()}
    out["worst_leak_rank"] = max(best.values()) if len(best) == len(leak_causes) and best else None
    benign = ranks[~ranked["leak"].to_numpy()]
    out["first_benign_rank"] = int(benign.min()) if len(benign) else None
    leak_ranks = ranks[ranked["leak"].to_numpy()]
    out["ok"] = out["worst_leak_rank"] is not None and (
        out["first_benign_rank"] is None or out["first_benign_rank"] > out["worst_leak_rank"])
    out["strict_ok"] = out["first_benign_rank"] is None or (
        len(leak_ranks) > 0 and out["first_benign_rank"] > leak_ranks.max())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", choices=["bundled", "build"], default="bundled")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--first", type=int, nargs="*", default=[3, 4, 5],
                    help="also measure each series cut to its first N snapshots")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    ks = (3, 5, args.top)
    listing = datasets.list_datasets()
    listing = listing[(listing["kind"] == "scenario") & (listing["source"] == args.source)]
    rows = []
    for name in listing["name"]:
        whole = datasets.load_dataset(name) if args.source == "bundled" else datasets.load_dataset(
            name, build_dir=datasets.BUILD_DIR)
        n_all = len(whole.dumps.snapshots)
        for n in [*sorted(k for k in args.first if k < n_all), n_all]:
            rows.append(_measure(whole.first(n) if n < n_all else whole, name, n, ks, args))
    out = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    print(out.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    leaky = out[out["leak causes"] > 0]
    for n, grp in leaky.groupby("snapshots", sort=True):
        every = bool(grp[f"recall@{args.top}"].eq(1.0).all()) and bool(grp["ok"].all())
        print(f"{n:2d} snapshots: every leak in the top {args.top} with no benign suspect above a leak: "
              f"{'yes' if every else 'NO'} ({int(grp['ok'].sum())}/{len(grp)} series; ranking by size: "
              f"{int(grp['base ok'].sum())}/{len(grp)})")
    control = out[out["leak causes"] == 0]
    for _, r in control.iterrows():
        print(f"control {r['series']} ({r['snapshots']} snapshots): top score {r['top score']:.2f} "
              "(leaks score above 2 in the leaky series)")
    return 0


def _measure(ds, name: str, n: int, ks: tuple[int, ...], args) -> dict:
    """Rank the suspects of one (cut) series and score the ranking against its truth."""
    t0 = time.perf_counter()
    d, truth = ds.dumps, ds.truth
    labels = gf.cluster(d)
    s = suspects.suspects(d, labels)
    secs = time.perf_counter() - t0
    who = ds.attribute(labels)
    ranked = s[["cluster", "score", "site", "state", "goroutines", "pattern"]].join(who, on="cluster")
    leak_causes = set(truth.loc[truth["leak"], "cause"])
    m = measure(ranked, leak_causes, ks)
    # baseline: clusters by size at the last snapshot
    last = d.goroutines["snapshot"] == d.goroutines["snapshot"].max()
    size = d.goroutines[last].groupby(labels[last])["count"].sum().sort_values(ascending=False, kind="stable")
    base = pd.DataFrame({"cluster": size.index}).join(who, on="cluster")
    b = measure(base, leak_causes, ks)
    if args.verbose:
        print(f"--- {name}, first {n} snapshots")
        print(ranked.head(args.top).to_string(index=False))
    return {"series": name, "snapshots": n, "leak causes": len(leak_causes),
            "clusters": labels.nunique(), "suspects": len(s), **m,
            "top score": float(s["score"].max()) if len(s) else 0.0,
            "base recall@5": b["recall@5"], "base worst leak": b["worst_leak_rank"],
            "base first benign": b["first_benign_rank"], "base ok": b["ok"], "seconds": round(secs, 1)}


if __name__ == "__main__":
    sys.exit(main())
