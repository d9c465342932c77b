"""Source attached to dumps: mapping a dump's file paths onto a tree, telling a tree that is not
the dump's build, and the code and static evidence each suspect gets (scenario series, GoKer)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

import goforensics as gf
from goforensics import datasets
from goforensics.analyze.source import SOURCE_COLUMNS, SourceIndex, attach_source
from goforensics.analyze.suspects import suspects
from goforensics.read.gosource import SourceError, SourceTree, parse_go

SCENARIOS = ROOT / "datasets" / "scenarios"

# the scenarios' own pattern names (datasets/README.md) -> catalogue ids (as tests/test_patterns.py)
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


# --- mapping ---------------------------------------------------------------------------------------


def test_trimpath_module_paths_map_through_go_mod_and_its_replaces():
    tree = SourceTree([SCENARIOS / "checkout"])
    r = tree.resolve("example.com/checkout/payments.go")
    assert (r.how, r.path) == ("module", (SCENARIOS / "checkout" / "payments.go").resolve())
    r = tree.resolve("example.com/scenariokit/platform/platform.go")  # replace => ../scenariokit
    assert (r.how, r.path) == (
        "module",
        (SCENARIOS / "scenariokit" / "platform" / "platform.go").resolve(),
    )
    assert (
        tree.resolve("net/http/transport.go").how == "missing"
    )  # the standard library is not the tree


def test_paths_from_another_machine_map_by_longest_suffix(tmp_path):
    for d in ("svc/a/x", "svc/b/x"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "util.go").write_text("package x\n")
    tree = SourceTree([tmp_path])
    r = tree.resolve("/home/ci/build/svc/a/x/util.go")
    assert (r.how, r.path, r.matched) == ("suffix", (tmp_path / "svc/a/x/util.go").resolve(), 4)
    r = tree.resolve("C:\\Users\\ci\\work\\svc\\b\\x\\util.go")  # a Windows build machine
    assert (r.how, r.path) == ("suffix", (tmp_path / "svc/b/x/util.go").resolve())
    r = tree.resolve("/elsewhere/c/x/util.go")  # a/x and b/x share the longest suffix: no guess
    assert (r.how, r.path, r.candidates) == ("ambiguous", None, 2)


def test_vendor_and_module_cache_paths(tmp_path):
    (tmp_path / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    lib = tmp_path / "vendor" / "github.com" / "lib" / "pq"
    lib.mkdir(parents=True)
    (lib / "conn.go").write_text("package pq\n")
    tree = SourceTree([tmp_path])
    assert tree.resolve("github.com/lib/pq/conn.go").how == "vendor"
    r = tree.resolve(
        "github.com/lib/pq@v1.10.9/conn.go"
    )  # -trimpath names a dependency with its version
    assert (r.how, r.path) == ("vendor", (lib / "conn.go").resolve())


def test_gopath_layout(tmp_path):
    app = tmp_path / "src" / "github.com" / "u" / "app"
    app.mkdir(parents=True)
    (app / "main.go").write_text("package main\n\nfunc main() {}\n")
    tree = SourceTree([tmp_path])
    assert tree.resolve("github.com/u/app/main.go") == tree.resolve("github.com/u/app/main.go")
    r = tree.resolve("github.com/u/app/main.go")
    assert (r.how, r.path) == ("gopath", (app / "main.go").resolve())
    assert (
        tree.resolve("/home/u/go/src/github.com/u/app/main.go").path == (app / "main.go").resolve()
    )


def test_a_missing_root_is_a_one_line_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        SourceTree([tmp_path / "nope"])


# --- mismatch ------------------------------------------------------------------------------------


def test_closures_and_package_level_functions_belong_to_their_declarations(tmp_path):
    p = tmp_path / "m.go"
    p.write_text(
        "package main\n\nvar f = func() int {\n\treturn 1\n}\n\nfunc (s *srv) run() {\n\tgo func() {\n"
        "\t\tprintln()\n\t}()\n}\n\ntype srv struct{}\n"
    )
    g = parse_go(p)
    assert g.frame_mismatch(4, "main.glob..func1") == ""
    assert g.frame_mismatch(9, "main.(*srv).run.func1") == ""
    assert g.frame_mismatch(9, "main.(*srv).run.gowrap1") == ""
    assert "not in main.(*srv).stop" in g.frame_mismatch(9, "main.(*srv).stop")
    assert "past its end" in g.frame_mismatch(99, "main.(*srv).run")


@pytest.fixture(scope="module")
def checkout():
    ds = datasets.load_dataset("checkout")
    labels = gf.cluster(ds.dumps)
    return ds, labels, suspects(ds.dumps, labels)


def test_a_tree_that_is_not_the_dumps_build_is_flagged(checkout, tmp_path):
    ds, labels, s = checkout
    tree = tmp_path / "checkout"
    shutil.copytree(SCENARIOS / "checkout", tree)
    shutil.copytree(SCENARIOS / "scenariokit", tmp_path / "scenariokit")
    pay = tree / "payments.go"  # an edited file: 30 lines added at the top shift every function
    pay.write_text(
        pay.read_text().replace("package main\n", "package main\n" + "// note\n" * 30, 1)
    )
    rec = tree / "recommend.go"  # a file cut short
    rec.write_text("\n".join(rec.read_text().splitlines()[:15]) + "\n")
    a = attach_source(s, [tree], ds.dumps, labels).set_index("site")
    retry = a.loc[a.index == "main.(*paymentClient).callWithRetry"].iloc[0]
    assert retry["source_verdict"] == "mismatch"
    assert "not in main.(*paymentClient).callWithRetry" in retry["source_mismatch"]
    assert any("does not match the dump's build" in e for e in retry["evidence"])
    orphan = a.loc["main.firstOr[...].func1"]
    assert orphan["source_verdict"] == "mismatch" and "past its end" in orphan["source_mismatch"]
    watcher = a.loc[a.index == "main.(*server).watchPrice"].iloc[
        0
    ]  # quotes.go untouched: still fine
    assert watcher["source_mismatch"] == "" and watcher["source_verdict"] == "confirms"


# --- the scenario series --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["checkout", "gateway", "notifier"])
def attached(request):
    ds = datasets.load_dataset(request.param)
    labels = gf.cluster(ds.dumps)
    before = suspects(ds.dumps, labels)
    after = attach_source(before, [SCENARIOS / request.param], ds.dumps, labels)
    return ds, labels, before, after


def _best(s, who, cause):
    mine = s[s["cluster"].isin(who.index[who["cause"] == cause])]
    return mine.iloc[0]


def test_every_leak_shows_its_code(attached):
    ds, labels, _, after = attached
    assert set(SOURCE_COLUMNS) <= set(after.columns)
    who = ds.attribute(labels)
    for cause in ds.truth.loc[ds.truth["leak"], "cause"].unique():
        row = _best(after, who, cause)
        assert row["source_mismatch"] == "", cause
        if row["source_file"]:  # the blocking frame is in the tree: the code shown is that line
            lines = Path(row["source_file"]).read_text().splitlines()
            assert f"> {row['source_line']:5d}  {lines[row['source_line'] - 1]}" in row["code"]
        else:  # net/http's own goroutines: the evidence comes from elsewhere in the tree
            assert row["source_evidence"], cause
        if row["go_file"] and Path(row["go_file"]).is_relative_to(SCENARIOS):
            go_line = Path(row["go_file"]).read_text().splitlines()[row["go_line"] - 1]
            assert "go " in go_line, (cause, go_line)


def test_static_evidence_makes_no_verdict_worse(attached):
    ds, labels, before, after = attached
    who = ds.attribute(labels)
    assert who.loc[before.iloc[0]["cluster"], "leak"] and who.loc[after.iloc[0]["cluster"], "leak"]
    kinds = ds.truth[ds.truth["leak"]].groupby("cause")["pattern"].first()
    for cause, kind in kinds.items():
        b, a = _best(before, who, cause), _best(after, who, cause)
        if b["pattern"] in SCENARIO_PATTERNS[kind]:
            assert a["pattern"] in SCENARIO_PATTERNS[kind], (cause, b["pattern"], a["pattern"])
        assert a["source_verdict"] != "contradicts", cause
    benign_before = before[~before["cluster"].map(who["leak"])]["rank"].min()
    worst_leak_after = max(_best(after, who, c)["rank"] for c in kinds.index)
    worst_leak_before = max(_best(before, who, c)["rank"] for c in kinds.index)
    assert worst_leak_after <= max(worst_leak_before, benign_before - 1)


def test_source_confirms_the_seeded_constructs(attached):
    ds, labels, _, after = attached
    who = ds.attribute(labels)
    leaks = ds.truth.loc[ds.truth["leak"], "cause"].unique()
    confirmed = [
        c for c in leaks if _best(after, who, c)["source_verdict"] in ("confirms", "suggests")
    ]
    assert set(confirmed) == set(leaks)


def test_attach_without_the_dumps_uses_the_site_only(checkout):
    _ds, _labels, s = checkout
    a = attach_source(s, SCENARIOS / "checkout")
    row = a[a["site"] == "main.firstOr[...].func1"].iloc[0]
    assert row["source_line"] == row["line"] and row["go_file"] == ""
    assert row["source_verdict"] == "confirms"


# --- GoKer ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def goker_root(go) -> Path:
    out = subprocess.run(
        [go, "env", "GOROOT"], capture_output=True, text=True, check=True
    ).stdout.strip()
    root = Path(out) / "src" / "runtime" / "testdata" / "testgoroutineleakprofile"
    if not root.is_dir():
        pytest.skip(f"no GoKer kernels in {root}")
    return root


def test_goker_suspects_show_the_kernels_code(goker_root):
    cases = datasets.goker_cases()
    cases = cases[cases["occurred"].map(any)]
    tree_root = SourceIndex([goker_root])  # one index: each package is checked once for every case
    shown = 0
    for _, c in cases.iterrows():
        d = gf.load(c["stripped"])
        labels = gf.cluster(d)
        a = attach_source(suspects(d, labels, top=3), tree_root, d, labels)
        for r in a.itertuples():
            assert r.source_mismatch == "", (c["case"], r.source_mismatch)
            if r.source_file:
                lines = Path(r.source_file).read_text().splitlines()
                assert f"> {r.source_line:5d}  {lines[r.source_line - 1]}" in r.code
                shown += 1
    assert shown >= len(cases)  # at least one suspect's code per case
