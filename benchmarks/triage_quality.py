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
    python benchmarks/triage_quality.py --forms DIR [--top 10]     # the side-by-side table
    python benchmarks/triage_quality.py --capture DIR              # make DIR first (~2 minutes)

The side-by-side table (issue 11), one row per input: each scenario series as ``debug=2``
(bundled), as captured live in the three forms (``debug=2``, ``debug=1``, ``debug=0``: the same
rounds of one run), the mixed-form capture folder of that run (every round's ``debug=2``,
``debug=1`` and ``debug=0`` dumps and ``goroutineleak`` profiles in one folder, as ``capture
--debug1 --leak`` writes them, read as one series: ``form`` "mixed live"), each series' last
snapshot alone, and the control's (indexer) single dump.
Per row: leak causes in the top K, healthy groups ranked above the lowest leak, leak causes
ranked above every healthy group, duplicate suspects of one cause in the top K (suspected rows
of a leak cause beyond the first of their cause; every row before ``suspected`` existed; ``dup
rows``: the same over every row of the top K, suspected or listed below the threshold), the top
score (for the control: how loud it is) and the
suspects at or above ``suspects.SUSPECT_THRESHOLD`` (column ``suspected``, when it exists).

``--capture DIR`` runs the services (as ``goforensics datasets build`` does) and captures, in
every round, what ``capture --debug1 --leak`` asks for (the ``goroutine`` and ``goroutineleak``
profiles as ``debug=2`` and ``debug=1``), then the ``debug=0`` protobuf dump, with the service's
``/debug/truth`` registry. The ``debug=2`` goroutines are labelled
from the registry as the bundled series are; a ``debug=1`` bucket or a ``debug=0`` sample has no
goroutine id, so it gets the majority cause of the same round's ``debug=2`` goroutines with the
same stack (functions and lines), or ``unattributed`` (the column ``unattr`` counts them).

Goals (issue 5): every leak of every scenario series in the top k, no benign suspect above a leak.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

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
        out[f"recall@{k}"] = len(set(top.loc[top["leak"], "cause"]) & leak_causes) / max(
            len(leak_causes), 1
        )
        out[f"precision@{k}"] = float(top["leak"].mean()) if len(top) else 0.0
    ranks = np.arange(1, len(ranked) + 1)
    best = {
        c: ranks[(ranked["cause"] == c).to_numpy()].min()
        for c in leak_causes
        if (ranked["cause"] == c).any()
    }
    out["worst_leak_rank"] = max(best.values()) if len(best) == len(leak_causes) and best else None
    benign = ranks[~ranked["leak"].to_numpy()]
    out["first_benign_rank"] = int(benign.min()) if len(benign) else None
    leak_ranks = ranks[ranked["leak"].to_numpy()]
    out["ok"] = out["worst_leak_rank"] is not None and (
        out["first_benign_rank"] is None or out["first_benign_rank"] > out["worst_leak_rank"]
    )
    out["strict_ok"] = out["first_benign_rank"] is None or (
        len(leak_ranks) > 0 and out["first_benign_rank"] > leak_ranks.max()
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", choices=["bundled", "build"], default="bundled")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument(
        "--first",
        type=int,
        nargs="*",
        default=[3, 4, 5],
        help="also measure each series cut to its first N snapshots",
    )
    ap.add_argument(
        "--forms", type=Path, help="print the side-by-side table, with the live forms in DIR"
    )
    ap.add_argument("--capture", type=Path, help="capture the three forms live into DIR")
    ap.add_argument(
        "--by",
        choices=["cause", "cluster"],
        default="cause",
        help="rank causes (the default of suspects()) or sites (suspects(by='cluster'))",
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.capture:
        capture_forms(args.capture)
        return 0
    if args.forms:
        return side_by_side(args.forms, args.top, args.verbose, args.by)
    ks = (3, 5, args.top)
    listing = datasets.list_datasets()
    listing = listing[(listing["kind"] == "scenario") & (listing["source"] == args.source)]
    rows = []
    for name in listing["name"]:
        whole = (
            datasets.load_dataset(name)
            if args.source == "bundled"
            else datasets.load_dataset(name, build_dir=datasets.BUILD_DIR)
        )
        n_all = len(whole.dumps.snapshots)
        for n in [*sorted(k for k in args.first if k < n_all), n_all]:
            rows.append(_measure(whole.first(n) if n < n_all else whole, name, n, ks, args))
    out = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    print(out.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    leaky = out[out["leak causes"] > 0]
    for n, grp in leaky.groupby("snapshots", sort=True):
        every = bool(grp[f"recall@{args.top}"].eq(1.0).all()) and bool(grp["ok"].all())
        print(
            f"{n:2d} snapshots: every leak in the top {args.top} with no benign suspect above a leak: "
            f"{'yes' if every else 'NO'} ({int(grp['ok'].sum())}/{len(grp)} series; ranking by size: "
            f"{int(grp['base ok'].sum())}/{len(grp)})"
        )
    control = out[out["leak causes"] == 0]
    for _, r in control.iterrows():
        print(
            f"control {r['series']} ({r['snapshots']} snapshots): top score {r['top score']:.2f} "
            "(leaks score above 2 in the leaky series)"
        )
    return 0


def _measure(ds, name: str, n: int, ks: tuple[int, ...], args) -> dict:
    """Rank the suspects of one (cut) series and score the ranking against its truth."""
    t0 = time.perf_counter()
    d, truth = ds.dumps, ds.truth
    labels = gf.cluster(d)
    s = suspects.suspects(d, labels, by=args.by)
    secs = time.perf_counter() - t0
    who = ds.attribute(labels)
    ranked = s[["cluster", "score", "site", "state", "goroutines", "pattern"]].join(
        who, on="cluster"
    )
    leak_causes = set(truth.loc[truth["leak"], "cause"])
    m = measure(ranked, leak_causes, ks)
    # baseline: clusters by size at the last snapshot
    last = d.goroutines["snapshot"] == d.goroutines["snapshot"].max()
    size = (
        d.goroutines[last]
        .groupby(labels[last])["count"]
        .sum()
        .sort_values(ascending=False, kind="stable")
    )
    base = pd.DataFrame({"cluster": size.index}).join(who, on="cluster")
    b = measure(base, leak_causes, ks)
    if args.verbose:
        print(f"--- {name}, first {n} snapshots")
        print(ranked.head(args.top).to_string(index=False))
    return {
        "series": name,
        "snapshots": n,
        "leak causes": len(leak_causes),
        "clusters": labels.nunique(),
        "suspects": len(s),
        **m,
        "top score": float(s["score"].max()) if len(s) else 0.0,
        "base recall@5": b["recall@5"],
        "base worst leak": b["worst_leak_rank"],
        "base first benign": b["first_benign_rank"],
        "base ok": b["ok"],
        "seconds": round(secs, 1),
    }


# --- the side-by-side table (issue 11) ------------------------------------------------------------

SCENARIOS = ("checkout", "gateway", "notifier", "indexer")
CONTROL = "indexer"


def capture_forms(out: Path, names=SCENARIOS) -> None:
    """Run the scenario services and capture every form in every round: as ``capture --debug1
    --leak`` writes them (``goroutine`` and ``goroutineleak``, ``debug=2`` and ``debug=1``), then
    ``debug=0`` and the truth registry. ``<name>/capture`` keeps it all; ``<name>/series`` holds
    the ``goroutine debug=2`` dumps with the other forms as extras (what is labelled);
    ``<name>/mixed`` is the folder of every form, ``debug=0`` included, as one series."""
    from concurrent.futures import ThreadPoolExecutor

    from goforensics.read.capture import capture
    from tools.build_datasets import _Service
    from tools.gotool import go_build
    from tools.truth import label_series

    out.mkdir(parents=True, exist_ok=True)
    exes = {n: go_build(Path(datasets.SCENARIOS_DIR) / n, out / ".bin" / n) for n in names}

    def one(n: str) -> None:
        (out / n).mkdir(exist_ok=True)
        with _Service(exes[n], out / n / "service.log") as svc:
            time.sleep(4)
            capture(
                svc.urls["debug"],
                out / n / "capture",
                every=6,
                count=10,
                debug1=True,
                leak=True,
                instance=n,
                also={"truth": "/debug/truth", "debug0": "/debug/pprof/goroutine?debug=0"},
                timeout=30,
                progress=False,
            )
        _split_forms(out / n)
        truth, causes = label_series(out / n / "series")
        truth.to_csv(out / n / "series" / "truth.csv", index=False)
        (out / n / "series" / "causes.json").write_text(json.dumps(causes))

    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(one, names))


def _split_forms(sdir: Path) -> None:
    """From ``sdir/capture``: ``series`` (goroutine debug=2, the rest as extras) and ``mixed``."""
    import shutil

    doc = json.loads((sdir / "capture" / "manifest.json").read_text())
    snaps, extras = doc["snapshots"], doc["extras"]
    d2 = [e for e in snaps if e["profile"] == "goroutine" and e["debug"] == 2]
    d1 = [{**e, "name": "debug1"} for e in snaps if e["profile"] == "goroutine" and e["debug"] == 1]
    d0 = [{**e, "profile": "goroutine", "debug": 0} for e in extras if e["name"] == "debug0"]
    for name, keep, more in (("series", d2, [*extras, *d1]), ("mixed", [*snaps, *d0], [])):
        (sdir / name).mkdir(exist_ok=True)
        for e in [*keep, *more]:
            shutil.copy(sdir / "capture" / e["file"], sdir / name / e["file"])
        kept = [{k: v for k, v in e.items() if k != "name"} for e in keep]
        (sdir / name / "manifest.json").write_text(
            json.dumps({**doc, "snapshots": kept, "extras": more}, indent=1)
        )


def _signatures(d) -> pd.Series:
    """Each goroutine's stack as text (functions and lines), aligned with ``d.goroutines``."""
    f = d.frames[d.frames["section"] == 0].sort_values(["stack_id", "depth"])
    # debug=0 keeps the runtime's parking frames and names generic shapes (go.shape.int);
    # debug=2 and debug=1 hide the former and print [...] for the latter
    fn = f["function"].astype(str).str.replace(r"\[.*\]", "[...]", regex=True)
    f = f.assign(fn=fn)[~fn.str.startswith("runtime.")]
    sig = (
        (f["fn"] + ":" + f["line"].astype("Int64").astype(str)).groupby(f["stack_id"]).agg("|".join)
    )
    return d.goroutines["stack_id"].map(sig).fillna("")


def _live(dir_: Path, name: str) -> dict:
    """The live capture of one scenario: {form: (dumps, truth)} for debug2, debug1, debug0."""
    sdir = dir_ / name / "series"
    doc = json.loads((sdir / "manifest.json").read_text())
    truth = pd.read_csv(sdir / "truth.csv")
    causes = {c["name"]: bool(c["leak"]) for c in json.loads((sdir / "causes.json").read_text())}
    d2 = gf.load(sdir)
    t2 = d2.goroutines[["snapshot", "goid"]].merge(truth, on=["snapshot", "goid"], how="left")
    t2["cause"] = t2["cause"].fillna("unattributed")
    t2["leak"] = t2["cause"].map(causes).astype("boolean").fillna(False).astype(bool)
    out = {"debug2": (d2, t2[["cause", "leak"]])}
    sig2 = _signatures(d2)
    vote = (
        pd.DataFrame({"snapshot": d2.goroutines["snapshot"], "sig": sig2, "cause": t2["cause"]})
        .groupby(["snapshot", "sig", "cause"])
        .size()
        .reset_index(name="n")
        .sort_values("n", ascending=False)
        .drop_duplicates(["snapshot", "sig"])
    )
    for form in ("debug1", "debug0"):
        extras = sorted((e for e in doc["extras"] if e["name"] == form), key=lambda e: e["round"])
        files = [str(sdir / e["file"]) for e in extras]
        d = gf.load(
            files,
            order="given",
            instance=name,
            taken_at=[pd.Timestamp(e["taken_at"]) for e in extras],
        )
        # snapshot k of this form is round k, as snapshot k of the debug=2 series
        key = pd.DataFrame(
            {"snapshot": d.goroutines["snapshot"].to_numpy(), "sig": _signatures(d).to_numpy()}
        )
        t = key.merge(vote, on=["snapshot", "sig"], how="left")
        t["cause"] = t["cause"].fillna("unattributed")
        t["leak"] = t["cause"].map(causes).astype("boolean").fillna(False).astype(bool)
        out[form] = (d, t[["cause", "leak"]])
    if (dir_ / name / "mixed" / "manifest.json").is_file():
        # every form of a round is one snapshot whose goroutines are the debug=2 dump's: its
        # truth is the debug=2 labels, by snapshot and goroutine id
        dm = gf.load(dir_ / name / "mixed")
        tm = dm.goroutines[["snapshot", "goid"]].merge(t2, on=["snapshot", "goid"], how="left")
        tm["cause"] = tm["cause"].fillna("unattributed")
        tm["leak"] = tm["leak"].astype("boolean").fillna(False).astype(bool)
        out["mixed"] = (dm, tm[["cause", "leak"]])
    return out


def _last(d, truth: pd.DataFrame):
    """The last snapshot of a series alone, with its truth."""
    keep = (d.goroutines["snapshot"] == d.goroutines["snapshot"].max()).to_numpy()
    g = d.goroutines[keep].reset_index(drop=True).copy()
    snap = d.snapshots[d.snapshots["snapshot"] == g["snapshot"].max()].reset_index(drop=True).copy()
    g["snapshot"] = 0
    snap["snapshot"] = 0
    w = d.warnings.iloc[0:0]
    return type(d)(g, d.frames, snap, w), truth[keep].reset_index(drop=True)


def _row(
    label: str, form: str, d, truth: pd.DataFrame, top: int, verbose: bool, by: str = "cause"
) -> dict:
    """Rank one input's suspects and score the ranking against its truth."""
    t0 = time.perf_counter()
    labels = gf.cluster(d)
    s = suspects.suspects(d, labels, by=by)
    secs = time.perf_counter() - t0
    if by == "cause":  # a cause's truth is that of all its sites' goroutines
        of = {c: k for k, cs in zip(s["cause"], s["clusters"], strict=True) for c in cs}
        labels = labels.map(of).fillna(labels)
        s = s.assign(cluster=s["cause"]).drop(columns="cause")
    t = pd.DataFrame(
        {
            "cluster": labels.to_numpy(),
            "cause": truth["cause"].to_numpy(),
            "leak": truth["leak"].to_numpy(),
            "n": d.goroutines["count"].to_numpy(),
        }
    )
    who = (
        t.groupby(["cluster", "cause", "leak"])["n"]
        .sum()
        .reset_index()
        .sort_values(["cluster", "n"], ascending=[True, False], kind="stable")
        .drop_duplicates("cluster")
        .set_index("cluster")[["cause", "leak"]]
    )
    ranked = s.join(who, on="cluster")
    ranked = ranked[~ranked["cause"].isna()].reset_index(drop=True)
    leaks = set(t.loc[t["leak"], "cause"])
    rank_of = {
        c: int(ranked.index[ranked["cause"] == c].min()) + 1
        for c in leaks
        if (ranked["cause"] == c).any()
    }
    lowest = max(rank_of.values()) if rank_of else 0
    healthy_above = int((~ranked["leak"].astype(bool)).head(max(lowest - 1, 0)).sum())
    healthy_ranks = ranked.index[~ranked["leak"].astype(bool)] + 1
    first_healthy = int(healthy_ranks.min()) if len(healthy_ranks) else len(ranked) + 1
    head = ranked.head(top)
    leak_head = head[head["leak"].astype(bool)]
    suspected = s["suspected"] if "suspected" in s else pd.Series(True, index=s.index)
    # a row below the threshold is listed, not suspected: duplicates count among suspects
    sus = leak_head[leak_head["suspected"].astype(bool)] if "suspected" in leak_head else leak_head
    dup = int(len(sus) - sus["cause"].nunique())
    if verbose:
        cols = [
            c
            for c in (
                "rank",
                "score",
                "suspected",
                "site",
                "state",
                "goroutines",
                "pattern",
                "cause",
            )
            if c in ranked
        ]
        print(f"--- {label} {form}")
        print(ranked[cols].head(top).to_string(index=False))
    return {
        "input": label,
        "form": form,
        "snaps": d.snapshots["snapshot"].nunique(),
        "leak causes": len(leaks),
        f"leaks in top {top}": f"{len(set(leak_head['cause']) & leaks)}/{len(leaks)}",
        "healthy above lowest leak": healthy_above
        if len(rank_of) == len(leaks)
        else f"{healthy_above} ({len(leaks) - len(rank_of)} unranked)",
        "leaks above all healthy": f"{sum(r < first_healthy for r in rank_of.values())}/{len(leaks)}",
        "dup suspects": dup,
        "dup rows": int(len(leak_head) - leak_head["cause"].nunique()),
        "top score": float(s["score"].max()) if len(s) else 0.0,
        "suspected": int(suspected.sum()),
        "unattr": int((truth["cause"] == "unattributed").sum()),
        "sec": round(secs, 1),
    }


def _same_ranking(a, b, top: int, by: str) -> str:
    """Whether two inputs rank the same top suspects: sites, states, counts, verdicts."""
    cols = ["site", "state", "goroutines", "suspected"]
    ra = suspects.suspects(a, by=by)[cols].head(top).reset_index(drop=True)
    rb = suspects.suspects(b, by=by)[cols].head(top).reset_index(drop=True)
    return "yes" if ra.equals(rb) else "NO"


def side_by_side(forms: Path, top: int, verbose: bool, by: str = "cause") -> int:
    """Print the issue-11 table: every scenario series in every form, alone, and the control."""
    rows = []
    for name in SCENARIOS:
        ds = datasets.load_dataset(name)
        tr = ds.truth[["cause", "leak"]]
        rows.append(_row(name, "debug2 bundled", ds.dumps, tr, top, verbose, by))
        if (forms / name / "series" / "truth.csv").is_file():
            live = _live(forms, name)
            for form, (d, t) in live.items():
                rows.append(_row(name, f"{form} live", d, t, top, verbose, by))
            if "mixed" in live:  # the folder of every form triages as its debug=2 files alone
                same = _same_ranking(live["mixed"][0], live["debug2"][0], top, by)
                rows[-1][f"top {top} = debug2 live"] = same
        else:
            print(f"(no live capture of {name} in {forms}: run --capture {forms})")
        d, t = _last(ds.dumps, tr)
        rows.append(_row(name, "last snapshot", d, t, top, verbose, by))
    print(f"ranked by {by}")
    out = pd.DataFrame(rows).fillna("")
    pd.set_option("display.width", 250)
    print(out.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
