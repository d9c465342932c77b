"""Datasets: the bundled series load with a truth that covers them, and the data is what it claims.

The checks derive their expectations from the dump text itself (counting headers),
from the Go programs' own declarations (dataset.json, the Go test file) and from
the definition of a leak (it grows), never from goforensics' analysis.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import goforensics as gf
import goforensics.datasets as gd
from tools import build_datasets as builder
from tools import goker, truth

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = gd.list_datasets()
BUNDLED = BUNDLED[BUNDLED["source"] == "bundled"]
SCENARIOS = sorted(BUNDLED.loc[BUNDLED["kind"] == "scenario", "name"])
HEADER = re.compile(r"^goroutine (\d+) ", re.M)


@functools.cache
def bundled(name: str) -> gd.Dataset:
    """Each bundled dataset is loaded once per session (the tests only read it)."""
    return gd.load_dataset(name)


def text_of(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()


def per_snapshot(truth: pd.DataFrame, mask: pd.Series) -> pd.Series:
    n = truth["snapshot"].max() + 1
    return truth[mask].groupby("snapshot").size().reindex(range(n), fill_value=0)


def test_every_scenario_and_goker_are_bundled():
    assert len(SCENARIOS) >= 3
    assert set(SCENARIOS) == set(builder.scenario_names()), (
        "a scenario in datasets/scenarios is not bundled"
    )
    assert "goker" in set(BUNDLED["name"])
    # a few MB in all
    assert BUNDLED["size"].sum() < 8e6


@pytest.mark.parametrize("name", SCENARIOS)
def test_bundled_scenario_truth_covers_every_goroutine_of_every_snapshot(name):
    ds = bundled(name)
    g, t = ds.dumps.goroutines, ds.truth
    doc = json.loads((ds.path / "manifest.json").read_text())
    # the dumps hold exactly the goroutines their text has headers for, snapshot by snapshot
    headers = [len(HEADER.findall(text_of(ds.path / s["file"]))) for s in doc["snapshots"]]
    assert g.groupby("snapshot").size().tolist() == headers
    assert len(t) == len(g) and (t.index == g.index).all()
    assert t["cause"].notna().all()
    assert (t[["snapshot", "goid"]].to_numpy() == g[["snapshot", "goid"]].to_numpy()).all()
    assert "unattributed" not in set(t["cause"]), t[t["cause"] == "unattributed"]
    # causes and their leak flags are the Go program's own
    declared = {c["name"]: c["leak"] for c in ds.meta["causes"]}
    assert set(t["cause"]) <= set(declared)
    assert (t["leak"] == t["cause"].map(declared)).all()
    assert set(ds.causes["name"]) == set(declared)


@pytest.mark.parametrize("name", SCENARIOS)
def test_leaks_grow_and_healthy_goroutines_do_not(name):
    ds = bundled(name)
    t = ds.truth
    leaks = sorted(set(t.loc[t["leak"], "cause"]))
    if name == "indexer":
        assert leaks == [], "the control scenario must have no leak"
    else:
        assert len(leaks) >= 2
    for cause in leaks:
        n = per_snapshot(t, t["cause"] == cause).to_numpy()
        assert n[-1] >= n[0] + 10, (cause, n)
        assert (np.diff(n) >= 0).mean() >= 0.7, (cause, n)  # mostly non-decreasing
    for cause in sorted(set(t.loc[~t["leak"], "cause"])):
        n = per_snapshot(t, t["cause"] == cause).to_numpy()
        assert n[-1] <= n[: len(n) // 2].max() + 3, (
            cause,
            n,
        )  # flat, drained or bursting, not growing
    # total leaked goroutines grow; the control scenario stays flat overall
    total = per_snapshot(t, t["cause"].notna()).to_numpy()
    if leaks:
        assert total[-1] > 2 * total[0]
    else:
        assert total[-1] < 2 * np.median(total)


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_pprof_label_gives_the_answer_away(name):
    ds = bundled(name)
    labels = " ".join(set(ds.dumps.goroutines["labels"].astype(str)))
    assert "handler" in labels or "pool" in labels  # the services do use labels
    for cause in ds.causes["name"]:
        if cause not in ("main", "runtime"):
            assert cause not in labels


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_truth_readers_stack_reader_agrees_with_the_parser(name):
    # two independent readers of the same text: goids, creators and entries agree
    ds = bundled(name)
    doc = json.loads((ds.path / "manifest.json").read_text())
    stacks = [
        s for snap in doc["snapshots"] for s in truth.read_stacks(text_of(ds.path / snap["file"]))
    ]
    g = ds.dumps.goroutines
    assert [s.goid for s in stacks] == g["goid"].tolist()
    assert [s.created_by for s in stacks] == g["created_by"].astype(str).tolist()


def test_growth_in_the_truth_matches_the_stacks_of_a_known_leak():
    # checkout's orphan senders run the closure inside firstOr (recommend.go); nearly all of
    # them are blocked on its send, the few others are still computing their result
    ds = bundled("checkout")
    g, t = ds.dumps.goroutines, ds.truth
    senders = t["cause"] == "recommend-orphan-sender"
    assert (g.loc[senders, "entry_function"].astype(str) == "main.firstOr[...].func1").all()
    blocked = g.loc[senders, "state"].astype(str) == "chan send"
    assert blocked.mean() > 0.9
    assert (g.loc[senders & blocked, "top_function"].astype(str) == "main.firstOr[...].func1").all()


def test_goker_cases_match_the_go_test_file_and_their_dumps():
    cases = gd.goker_cases()
    assert {"micro", "patterns", "goker"} <= set(cases["suite"])
    assert (cases["suite"] == "goker").sum() >= 50
    for _, c in cases.iterrows():
        raw, stripped = text_of(Path(c["raw"])), text_of(Path(c["stripped"]))
        assert "(leaked)" not in stripped
        assert len(HEADER.findall(raw)) == len(HEADER.findall(stripped)) == c["goroutines"]
        assert raw.count(" (leaked)]") == c["marked_leaked"]
        assert len(c["occurred"]) == len(c["expected"])
        if c["marked_leaked"] == 0:
            assert not any(c["occurred"])
    # the Go test's own promise: every leak of a non-flaky listed case shows up
    steady = cases[(~cases["flaky"]) & (cases["suite"] != "unlisted")]
    assert all(all(o) for o in steady["occurred"])


def test_goker_truth_covers_the_stripped_series():
    ds = bundled("goker")
    cases = gd.goker_cases()
    assert len(ds.dumps.snapshots) == len(cases)
    assert ds.truth["cause"].notna().all()
    # snapshot k is case k: the runtime's verdicts per snapshot are the case's count of "(leaked)"
    marked = ds.truth.groupby("snapshot")["runtime_leaked"].sum().to_numpy()
    assert marked.tolist() == cases["marked_leaked"].tolist()
    assert (
        ds.truth.groupby("snapshot")["case"].first().to_numpy() == cases["case"].to_numpy()
    ).all()
    # the stripped dumps carry no verdict the tools could read
    assert not ds.dumps.goroutines["leaked"].any()


def test_list_datasets_sizes_are_the_bytes_on_disk():
    for _, r in BUNDLED.iterrows():
        files = [f for f in Path(r["path"]).rglob("*") if f.is_file()]
        assert r["size"] == sum(f.stat().st_size for f in files)


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(gf.DatasetError, match="no dataset 'nope'"):
        gd.load_dataset("nope")


def test_cli_lists_datasets():
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "datasets", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    for name in [*SCENARIOS, "goker"]:
        assert name in r.stdout


def test_goker_expectations_are_those_of_the_go_test_file(go):
    goroot = Path(
        subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True).stdout.strip()
    )
    test_file = goroot / "src/runtime/goroutineleakprofile_test.go"
    exp = goker.goker_expectations(test_file)
    text = test_file.read_text()
    live = [ln for ln in text.splitlines() if not ln.lstrip().startswith("//")]
    names = re.findall(r'make(?:Flaky)?Test\("(\w+)"', "\n".join(live))
    assert exp["case"].tolist() == names
    assert set(exp.loc[exp["flaky"], "case"]) == set(
        re.findall(r'makeFlakyTest\("(\w+)"', "\n".join(live))
    )
    mixed = exp.set_index("case").loc["Mixed", "expected"]
    assert mixed == [
        r"Mixed\.func1\(.* \[sync\.WaitGroup\.Wait\]",
        r"Mixed\.func1.1\(.* \[chan send\]",
    ]


# --- end to end: build and run real programs -------------------------------------------------------


def test_a_scenario_builds_runs_and_labels_itself_end_to_end(go, tmp_path):
    out = tmp_path / "build"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "goforensics.cli",
            "datasets",
            "build",
            "checkout",
            "--out",
            str(out),
            "--snapshots",
            "4",
            "--every",
            "2s",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    ds = gd.load_dataset("checkout", build_dir=out)
    t = ds.truth
    assert len(ds.dumps.snapshots) == 4
    assert t["cause"].notna().all() and "unattributed" not in set(t["cause"])
    assert (t["how"] != "none").all()
    # the leaks the program declares grow over a few seconds already
    grew = [
        c
        for c in sorted(set(t.loc[t["leak"], "cause"]))
        if per_snapshot(t, t["cause"] == c).iloc[-1] > per_snapshot(t, t["cause"] == c).iloc[0]
    ]
    assert len(grew) >= 2, t.groupby(["cause", "snapshot"]).size()
    # the capture's manifest is complete and the dumps load in its order
    doc = json.loads((ds.path / "manifest.json").read_text())
    assert doc["stopped"] == "count reached" and len(doc["extras"]) == 4
    assert gf.load(ds.path).snapshots["time_source"].astype(str).eq("manifest").all()


def test_goker_builds_and_runs_selected_cases(go, tmp_path):
    p = goker.build_goker(
        tmp_path, cases=["Mixed", "NoLeakGlobal", "Cockroach7504"], progress=False
    )
    cases = gd.goker_cases(p).set_index("case")
    assert cases.loc["Mixed", "occurred"] == [True, True]  # a simple case: both leaks every time
    assert (
        cases.loc["NoLeakGlobal", "expected"] == []
        and cases.loc["NoLeakGlobal", "marked_leaked"] == 0
    )
    assert (cases["exit_code"] == 0).all()
    ds = gd.load_dataset("goker", build_dir=tmp_path)
    assert ds.truth.groupby("case")["leak"].sum()["Mixed"] == 2
