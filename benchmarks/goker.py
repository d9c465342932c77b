"""GoKer benchmark: are the leaks that occurred named among the top 3 suspects of their dump?

GoKer (Go 1.27's runtime/testdata/testgoroutineleakprofile) holds micro cases, the six
CGO'24 patterns and 60+ kernels of real concurrency bugs from cockroach, etcd, grpc,
kubernetes, moby and others. Each case's dump is read with the runtime's "(leaked)" verdicts
STRIPPED, so goforensics works from the stacks alone (one dump each: single-dump mode). A
leak counts as named when one of the top 3 suspects has the entry function and wait reason
that the case's expected-leak regexp (from goroutineleakprofile_test.go) describes, matched
the way that test matches them: "<entry>(...) [<wait reason>]" with "main." dropped.
Only the leaks that occurred in the recorded run count (the runtime's verdicts tell).

    python benchmarks/goker.py [--source DIR] [--top 3] [--by cause|cluster] [--verbose]

Goal (issue 5): >= 98% of the leaks that occurred named in the top 3.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict

import goforensics as gf
from goforensics import datasets
from goforensics.analyze import suspects


def named(s, top: int) -> list[str]:
    return [
        f"{e.removeprefix('main.')}() [{st}]"
        for e, st in zip(s["entry"][:top], s["state"][:top], strict=True)
    ]


def by_size(d: gf.Dumps, labels) -> list[str]:
    """Baseline: the largest clusters of blocked goroutines first (what ranking by size gives)."""
    g = d.goroutines.assign(cluster=labels.to_numpy())
    g = g[g["state"].astype(str) != "running"]
    grp = g.groupby("cluster").agg(
        n=("count", "sum"), entry=("entry_function", "first"), state=("state", "first")
    )
    return [
        f"{e.removeprefix('main.')}() [{st}]"
        for e, st in grp.sort_values("n", ascending=False, kind="stable")[
            ["entry", "state"]
        ].itertuples(index=False)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", help="a GoKer build directory (default: the bundled copy)")
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument(
        "--by",
        choices=["cause", "cluster"],
        default="cause",
        help="rank sites, or causes (a cause is named by any of its sites)",
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    cases = datasets.goker_cases(args.source)
    totals: dict[str, list[int]] = defaultdict(
        lambda: [0, 0, 0, 0]
    )  # occurred, named, by size, suspected
    misses = []
    t0 = time.perf_counter()
    n_dumps = 0
    for _, c in cases.iterrows():
        occurred = [rx for rx, occ in zip(c["expected"], c["occurred"], strict=True) if occ]
        if not occurred:
            continue
        d = gf.load(c["stripped"])
        n_dumps += 1
        labels = gf.cluster(d)
        s = suspects.suspects(d, labels, by="cluster")
        if args.by == "cause":
            top = suspects.suspects(d, labels, by="cause", top=args.top)
            site = s.set_index("cluster")
            s = site.loc[[c for cs in top["clusters"] for c in cs]].reset_index()
            ours = named(s, len(s))
            sus = named(s[s["suspected"]], len(s))
        else:
            ours = named(s, args.top)
            sus = named(s.head(args.top)[s.head(args.top)["suspected"]], args.top)
        base = by_size(d, labels)[: args.top]
        for rx in occurred:
            r = re.compile(rx)
            hit = any(r.search(x) for x in ours)
            t = totals[c["suite"]]
            t[0] += 1
            t[1] += hit
            t[2] += any(r.search(x) for x in base)
            t[3] += any(r.search(x) for x in sus)
            if not hit:
                misses.append((c["case"], rx, ours))
        if args.verbose:
            print(c["case"], ours)
    secs = time.perf_counter() - t0

    print(
        f"GoKer: {n_dumps} dumps with leaks that occurred, verdicts stripped; top {args.top} suspects"
    )
    print(
        f"ranked by {args.by}; 'suspected': named by a row at or above the threshold "
        f"({suspects.SUSPECT_THRESHOLD})"
    )
    print(f"{'suite':10} {'leaks':>6} {'named':>6} {'share':>7} {'by size':>8} {'suspected':>9}")
    all_ = [0, 0, 0, 0]
    for suite, (n, hit, base, sus) in sorted(totals.items()):
        print(f"{suite:10} {n:6d} {hit:6d} {hit / n:7.1%} {base / n:8.1%} {sus / n:9.1%}")
        all_ = [a + b for a, b in zip(all_, (n, hit, base, sus), strict=True)]
    n, hit, base, sus = all_
    print(f"{'all':10} {n:6d} {hit:6d} {hit / n:7.1%} {base / n:8.1%} {sus / n:9.1%}")
    print(
        f"goal >= 98%: {'met' if hit / n >= 0.98 else 'NOT met'}; {secs:.1f} s for {n_dumps} dumps "
        f"({secs / max(n_dumps, 1) * 1000:.0f} ms each, clustering and ranking)"
    )
    for case, rx, ours in misses:
        print(f"missed: {case}: {rx}  (top: {ours})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
