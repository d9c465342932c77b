"""Single-dump and crash calibration (issue 11.4), on dumps written by real Go programs.

tests/goprograms/calibration holds healthy shapes (a worker pool ranging over its jobs channel
whose creator returned, a ticker loop) and, with ``panic``, goroutines mid-flight in
WaitGroup.Wait when another goroutine panics; tests/goprograms/hungsyscall is a test hung in a
system call that ``go test -timeout`` stops. What is expected comes from the programs' source.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import GO_ENV, ROOT

import goforensics as gf
from goforensics import datasets
from goforensics.analyze import patterns, suspects

PROGRAMS = ROOT / "tests" / "goprograms"


@pytest.fixture(scope="module")
def healthy(go_dump):
    return suspects.suspects(go_dump("calibration", "healthy"))


@pytest.fixture(scope="module")
def crashed(go_dump):
    return suspects.suspects(go_dump("calibration", "panic", crash=True))


def test_healthy_dump_has_no_suspect_above_the_threshold(healthy):
    assert len(healthy)
    assert not healthy["suspected"].any(), healthy[["site", "score"]].to_string()
    assert (healthy["score"] < suspects.SUSPECT_THRESHOLD).all()


def test_pool_ranging_over_its_channel_is_not_called_a_leak(healthy):
    pool = healthy[healthy["site"] == "main.worker"].iloc[0]
    assert pool["goroutines"] == 6  # startPool(jobs, 6)
    assert pool["pattern"] == "worker-pool"
    assert not any("nobody is left to unblock" in e for e in pool["evidence"])


def test_ticker_loop_is_never_told_to_close_the_channel(healthy):
    loop = healthy[healthy["site"] == "main.reconcile"].iloc[0]
    assert loop["advice"] != patterns.by_id("receive-never-closed").advice
    assert "close the channel" not in loop["advice"].lower()


def test_goroutine_that_panicked_leads_a_crash_dump(crashed):
    top = crashed.iloc[0]
    assert top["site"] == "main.explode"
    assert top["suspected"]
    assert any("assignment to entry in nil map" in e for e in top["evidence"])


def test_goroutines_caught_mid_flight_by_a_crash_are_not_never_returns(crashed):
    fan = crashed[crashed["state"] == "sync.WaitGroup.Wait"]
    assert len(fan) and fan["goroutines"].sum() == 4  # four fanOut calls waiting on their batches
    assert (fan["pattern"] != "waitgroup-missing-done").all()
    assert not fan["suspected"].any()


@pytest.fixture(scope="module")
def hung_test(go):
    r = subprocess.run(
        [go, "test", "-timeout=2s", "."],
        cwd=PROGRAMS / "hungsyscall",
        env={**os.environ, **GO_ENV},
        capture_output=True,
        timeout=300,
    )
    out = r.stdout + r.stderr
    assert b"test timed out after 2s" in out, out.decode(errors="replace")
    return suspects.suspects(gf.parse_text(out, source="go test hungsyscall"))


def test_syscall_hung_in_a_test_is_a_candidate_above_idle_workers(hung_test):
    hung = hung_test[hung_test["state"] == "syscall"]
    assert len(hung) == 1
    row = hung.iloc[0]
    assert row["pattern"] != "runtime-internal"
    assert "WaitForPeer" in row["site"] or "TestWaitForPeer" in row["site"]
    pool = hung_test[hung_test["state"] == "chan receive"]
    pool = pool[pool["entry"].str.contains("StartPool")]
    assert len(pool) and row["score"] > pool["score"].max()
    # the alarm that stopped the test is the messenger, not the culprit
    alarm = hung_test[hung_test["entry"] == "testing.(*M).startAlarm.func1"]
    assert alarm.empty or alarm["rank"].min() > row["rank"]


def _last_alone(name: str):
    """A scenario series' last snapshot as one dump, with its truth."""
    ds = datasets.load_dataset(name)
    n = len(ds.dumps.snapshots)
    keep = (ds.dumps.goroutines["snapshot"] == n - 1).to_numpy()
    d = ds.dumps
    one = gf.Dumps(
        d.goroutines[keep].reset_index(drop=True),
        d.frames,
        d.snapshots[d.snapshots["snapshot"] == n - 1].reset_index(drop=True),
        d.warnings.iloc[0:0],
    )
    return ds, one, ds.truth[keep].reset_index(drop=True)


@pytest.mark.parametrize("by", ["cause", "cluster"])
@pytest.mark.parametrize("name", ["checkout", "gateway", "notifier"])
def test_last_snapshot_alone_names_its_leaks_above_every_healthy_group(name, by):
    _, one, truth = _last_alone(name)
    labels = gf.cluster(one)
    s = suspects.suspects(one, labels, by=by)
    if by == "cause":  # a cause's truth is that of all its sites' goroutines
        of = {c: k for k, cs in zip(s["cluster"], s["clusters"], strict=True) for c in cs}
        labels = labels.map(of).fillna(labels)
        s = s.drop(columns="cause")
    t = truth.assign(cluster=labels.to_numpy(), n=one.goroutines["count"].to_numpy())
    major = t.groupby(["cluster", "cause", "leak"])["n"].sum().reset_index()
    major = major.sort_values("n", ascending=False).drop_duplicates("cluster").set_index("cluster")
    ranked = s.join(major[["cause", "leak"]], on="cluster")
    first_healthy = ranked.index[~ranked["leak"].astype(bool)].min()
    above = set(ranked.loc[: first_healthy - 1, "cause"])
    leaks = set(truth.loc[truth["leak"], "cause"])
    assert len(above & leaks) >= 0.75 * len(leaks), (above, leaks)


def test_control_dump_alone_has_no_suspect():
    _, one, _ = _last_alone("indexer")  # the control: no leak
    s = suspects.suspects(one)
    assert not s["suspected"].any(), s.head(3)[["site", "score"]].to_string()
