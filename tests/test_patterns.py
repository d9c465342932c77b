"""The pattern catalogue, each pattern on real dumps of it.

Where a pattern comes from is independent of goforensics: GoKer's micro cases are named after
the bug they contain (NilRecv, WaitGroup, Cond...), the scenario services say in their ground
truth which pattern each cause is (in their own vocabulary, mapped below), and the small Go
programs under tests/goprograms/ are written to contain one pattern each.
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import ROOT

import goforensics as gf
from goforensics import datasets
from goforensics.analyze import patterns, suspects

# the scenarios' own pattern names (datasets/README.md) -> catalogue ids
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

# GoKer micro cases (runtime/testdata/testgoroutineleakprofile/simple.go), named by their bug
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


@pytest.fixture(scope="module")
def goker():
    return datasets.goker_cases().set_index("case")


def leaked_suspect(case):
    """The best-ranked suspect whose goroutines the runtime itself marked leaked."""
    s = suspects.suspects(gf.load(case["stripped"]))
    leaked = set(gf.load(case["raw"]).goroutines.query("leaked")["entry_function"].astype(str))
    mine = s[s["entry"].isin(leaked)]
    assert len(mine), "no suspect covers the leaked goroutines"
    return mine.iloc[0]


@pytest.mark.parametrize("case, pattern", sorted(GOKER_MICRO.items()))
def test_goker_micro_cases(goker, case, pattern):
    top = leaked_suspect(goker.loc[case])
    assert top["pattern"] == pattern
    assert top["advice"] == patterns.by_id(pattern).advice


@pytest.mark.parametrize("name", ["checkout", "gateway", "notifier"])
def test_every_leak_of_the_scenarios_gets_its_pattern(name):
    ds = datasets.load_dataset(name)
    labels = gf.cluster(ds.dumps)
    s = suspects.suspects(ds.dumps, labels)
    who = ds.attribute(labels)
    kind = ds.truth[ds.truth["leak"]].groupby("cause")["pattern"].first()
    for cause, pattern in kind.items():
        want = SCENARIO_PATTERNS[pattern]
        mine = s[s["cluster"].isin(who.index[who["cause"] == cause])]
        best = mine.iloc[0]
        assert best["pattern"] in want, f"{cause}: got {best['pattern']!r}, want one of {want}"
        # every other cluster of the cause that matched a leak pattern matched one of its own
        others = set(mine["pattern"]) & {p.id for p in patterns.CATALOGUE if p.leak}
        assert others <= want, f"{cause}: {others - want}"


def test_goker_kernels_with_lock_cycles_and_recursive_read_locks(goker):
    found = set()
    for case in goker.index:
        if (
            case in GOKER_MICRO
            or not goker.loc[case, "occurred"]
            or not any(goker.loc[case, "occurred"])
        ):
            continue
        s = suspects.suspects(gf.load(goker.loc[case, "stripped"]), top=4)
        found |= set(s["pattern"])
    # real bugs from cockroach, etcd, kubernetes... include both
    assert {
        "abba-deadlock",
        "recursive-rlock",
        "lock-held-while-blocked",
        "lock-across-channel",
    } <= found


def test_abba_program(go_dump):
    s = suspects.suspects(go_dump("abba"))
    transfer = s[s["site"] == "main.(*account).transferTo"].iloc[0]
    assert transfer["pattern"] == "abba-deadlock"
    assert any("cycle" in e for e in transfer["evidence"])


def test_context_and_io_leaks_in_a_real_series(build_go, tmp_path):
    exe = build_go(ROOT / "tests" / "goprograms" / "ctxleak")
    subprocess.run([str(exe), str(tmp_path), "6", "300ms"], check=True, timeout=120)
    s = suspects.suspects(gf.load(tmp_path)).set_index("entry")
    assert (
        s.loc["context.(*cancelCtx).propagateCancel.func2", "pattern"] == "context-never-cancelled"
    )
    assert s.loc["main.readReply", "pattern"] == "io-no-deadline"
    # the accept loop of the silent peer is healthy and flat
    assert s.loc["main.silent", "pattern"] == "accept-loop"


def test_benign_shapes_do_not_outrank_leaks():
    ds = datasets.load_dataset("checkout")
    s = suspects.suspects(ds.dumps)
    pool = s[s["pattern"] == "worker-pool"]
    assert len(pool) and (pool["score"] < 0).all()
    leaks = s[s["pattern"].isin([p.id for p in patterns.CATALOGUE if p.leak])]
    assert pool["rank"].min() > leaks["rank"].min()


def test_select_no_cases_in_main_is_not_a_leak():
    d = gf.parse_text("goroutine 1 [select (no cases)]:\nmain.main()\n\t/app/main.go:9 +0x18\n")
    assert suspects.suspects(d).iloc[0]["pattern"] != "select-no-cases"


def test_catalogue_is_complete_and_consistent():
    ids = [p.id for p in patterns.CATALOGUE]
    assert len(ids) == len(set(ids))
    for p in patterns.CATALOGUE:
        assert p.title and p.signature and p.explanation and p.advice
        assert (p.weight > 0) == p.leak
    table = patterns.catalogue_frame()
    assert list(table["id"]) == ids


# patterns asserted on real dumps by the tests of this module (and test_graphs for the demo
# and etcd#5509), beyond the two tables above
ASSERTED_ELSEWHERE = {
    "abba-deadlock",
    "recursive-rlock",
    "lock-held-while-blocked",
    "context-never-cancelled",
    "io-no-deadline",
    "lock-across-channel",
    "waits-for-blocked-children",
}


def test_every_leak_pattern_is_expected_on_some_real_dump():
    leak_ids = {p.id for p in patterns.CATALOGUE if p.leak}
    expected = set(GOKER_MICRO.values()) | ASSERTED_ELSEWHERE
    for ids in SCENARIO_PATTERNS.values():
        expected |= ids
    assert leak_ids <= expected, f"no real dump exercises {sorted(leak_ids - expected)}"


def test_abba_between_plain_functions_in_a_global_deadlock(go_dump):
    # tests/goprograms/deadlock: transfer(a, b) and transfer(b, a) lock in opposite orders while
    # main waits for both on a WaitGroup, until the runtime reports all goroutines asleep
    s = suspects.suspects(go_dump("deadlock", crash=True))
    top = s.iloc[0]
    assert top["site"] == "main.transfer" and top["pattern"] == "abba-deadlock"
    assert any("deadlock detector" in e for e in top["evidence"])
    assert any("goroutine" in e and "cycle" in e for e in top["evidence"])
    # main's Wait is a victim of the cycle, not a missing Done
    wait = s[s["state"] == "sync.WaitGroup.Wait"].iloc[0]
    assert wait["pattern"] == "waits-for-blocked-children" and wait["rank"] > top["rank"]
    assert sum("[sync.Mutex.Lock] at main.transfer" in e for e in wait["evidence"]) == 1
