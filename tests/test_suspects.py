"""Leak suspects over a real series, and in single dumps.

tests/goprograms/leakseries is a small Go service that records its own series: two leaks
that grow ("result-leak": compute blocked sending after fetch timed out; "wg-leak": waitAll
with one Add too many), an idle worker pool that stays flat and a burst that drains. What
is a leak comes from that program's source, not from goforensics.
"""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

import goforensics as gf
from goforensics.analyze import suspects as su
from goforensics.analyze.trend import MAX_TREND_POINTS, bin_series, trend

LEAKS = {"main.compute", "main.waitAll"}
BENIGN = {"main.worker", "main.sleeper", "main.main"}


@pytest.fixture(scope="module")
def leakseries(leakseries_dir):
    return gf.load(leakseries_dir)


def test_leaks_rank_above_every_benign_cluster(leakseries):
    s = su.suspects(leakseries)
    sites = s["site"].tolist()
    leak_ranks = [s.loc[s["site"] == x, "rank"].min() for x in LEAKS]
    benign_ranks = [s.loc[s["site"] == x, "rank"].min() for x in BENIGN if x in sites]
    assert max(leak_ranks) < min(benign_ranks)
    assert set(s.head(2)["site"]) == LEAKS


def test_growth_is_measured_with_a_trend_test(leakseries):
    s = su.suspects(leakseries).set_index("site")
    for leak in LEAKS:
        r = s.loc[leak]
        assert r["trend"] == "increasing" and r["mk_p"] < 0.05
        assert r["slope_per_min"] > 0
        assert r["counts"] == sorted(r["counts"]) and r["counts"][-1] > r["counts"][0]
        # leaked goroutines never leave: newcomers are all still there at the end
        assert r["persistence"] == 1.0
    pool = s.loc["main.worker"]
    assert pool["trend"] == "no trend" and pool["pattern"] == "worker-pool"
    assert len(set(pool["counts"])) == 1  # 16 workers, every snapshot


def test_a_burst_that_drains_is_not_a_leak(leakseries):
    s = su.suspects(leakseries).set_index("site")
    burst = s.loc["main.sleeper"]
    assert max(burst["counts"]) > 0 and burst["counts"][-1] == 0
    assert any("drains" in e for e in burst["evidence"])
    assert burst["score"] < 0


def test_patterns_and_advice_of_the_leaks(leakseries):
    s = su.suspects(leakseries).set_index("site")
    assert s.loc["main.compute", "pattern"] == "unconsumed-result"
    assert s.loc["main.waitAll", "pattern"] == "waitgroup-missing-done"
    assert "buffered" in s.loc["main.compute", "advice"]
    assert s.loc["main.compute", "file"].endswith("leakseries/main.go")
    # the site line is the send statement in compute (the line with `out <- result{i}`)
    src = (ROOT / "tests/goprograms/leakseries/main.go").read_text().splitlines()
    assert "out <- result{i}" in src[int(s.loc["main.compute", "line"]) - 1]


def test_trend_on_known_series():
    t = trend([0, 3, 5, 9, 12, 15, 19, 20], [0, 1, 2, 3, 4, 5, 6, 7])
    assert t.mk_trend == "increasing" and t.mk_p < 0.05 and t.per_minute
    t = trend([5, 5, 5, 5, 5], None)
    assert t.mk_trend == "no trend" and t.slope == 0 and not t.per_minute
    t = trend([40, 30, 20, 10, 5, 1], [0, 1, 2, 3, 4, 5])
    assert t.mk_trend == "decreasing" and t.slope < 0
    # a steady leak (exactly linear) has no residual autocorrelation: plain Mann–Kendall
    t = trend([12, 24, 36, 48, 60, 72], [0, 1, 2, 3, 4, 5])
    assert t.mk_trend == "increasing" and t.test == "Mann–Kendall"


def test_single_dump_mode_on_the_demo():
    d = gf.load("bundled:demo")
    # the demo's three bugs (see goforensics/data/demo/main.go.txt) outrank its healthy sleepers
    bugs = {"main.(*cache).get", "main.(*cache).refresh", "main.handle", "main.main.func1"}
    s = su.suspects(d, by="cluster")
    assert set(s.head(4)["site"]) == bugs
    assert s.set_index("site").loc["main.(*cache).get", "pattern"] == "lock-across-channel"
    # by cause (the default): the lock's 20 waiters and its holder are one suspect
    c = su.suspects(d)
    assert {site for sites in c.head(3)["sites"] for site in sites} == bugs
    lock = c[c["site"] == "main.(*cache).get"].iloc[0]
    assert sorted(lock["sites"]) == ["main.(*cache).get", "main.(*cache).refresh"]
    assert lock["goroutines"] == 21 and lock["pattern"] == "lock-across-channel"


def test_triage_report_has_the_promised_fields(leakseries):
    rep = su.triage(leakseries, top=3)
    assert len(rep["suspects"]) == 3
    for rec in rep["suspects"]:
        for k in (
            "rank",
            "site",
            "file",
            "line",
            "entry",
            "created_by",
            "state",
            "counts",
            "slope_per_min",
            "score",
            "pattern",
            "advice",
            "evidence",
        ):
            assert k in rec
    assert rep["series"]["snapshots"] == 6
    assert rep["series"]["time_sources"] == ["manifest"]


def test_cluster_counts_fill_missing_snapshots_with_zero(leakseries):
    labels = gf.cluster(leakseries)
    tab = gf.cluster_counts(leakseries, labels)
    assert list(tab.index) == list(range(6))
    assert (
        tab.sum(axis=1).to_numpy()
        == leakseries.goroutines.groupby("snapshot")["count"].sum().to_numpy()
    ).all()
    assert isinstance(tab, pd.DataFrame)


def test_a_fleet_keeps_instances_apart(build_go, tmp_path):
    # two processes of the same service, captured side by side: fleet/<host>/...
    exe = build_go(ROOT / "tests" / "goprograms" / "leakseries")
    for host in ("host-a", "host-b"):
        subprocess.run([str(exe), str(tmp_path / host), "5", "300ms"], check=True, timeout=120)
    d = gf.load(tmp_path)
    assert sorted(d.snapshots["instance"].astype(str).unique()) == ["host-a", "host-b"]
    assert len(d.snapshots) == 10
    # goroutine ids repeat across processes: lifetimes are per (instance, goid)
    life = gf.lifetimes(d)
    assert life.groupby("goid")["instance"].nunique().max() == 2
    s = su.suspects(d).set_index("site")
    compute = s.loc["main.compute"]
    assert compute["instances"] == 2
    assert any("growing in 2 of 2 instances" in e for e in compute["evidence"])
    # counts per snapshot of the best instance: one process's series, not the two summed
    assert len(compute["counts"]) == 5
    assert set(s.head(2).index) == LEAKS


def test_a_long_series_is_tested_on_bounded_time_bins():
    # 20,000 snapshots of a count that steps up by one every 100 snapshots: a steady leak of
    # 199 goroutines; and the same length of a count that only alternates 5, 6: no leak
    steps = np.arange(20_000) // 100
    t = trend(steps, np.arange(20_000) / 6.0)  # a snapshot every 10 s
    assert t.binned == MAX_TREND_POINTS and t.n == 20_000
    assert t.mk_trend == "increasing" and t.grows
    assert t.first == 0 and t.last == 199 and t.peak == 199
    assert abs(t.slope - 0.06) < 0.005  # one goroutine per 100 snapshots of 10 s: 0.06 a minute
    flat = trend(5 + np.arange(20_000) % 2)
    assert flat.binned == MAX_TREND_POINTS and not flat.grows


def test_bins_keep_the_mean_of_every_point():
    y = np.arange(1000, dtype=float) ** 2
    yb, xb = bin_series(y, np.arange(1000.0), bins=7)
    assert len(yb) == 7 and abs(yb.mean() - y.mean()) / y.mean() < 0.01
    assert xb[0] < xb[-1]
    assert bin_series(y[:5], np.arange(5.0), bins=7)[0].tolist() == y[:5].tolist()


def test_a_file_of_many_snapshots_triages_its_growing_group():
    # 600 captures of one process: main plus a leak of one more goroutine every 20 captures
    text = []
    for k in range(600):
        text.append("goroutine 1 [running]:\nmain.main()\n\t/app/main.go:5 +0x1\n\n")
        for j in range(k // 20):
            text.append(f"goroutine {100 + j} [chan send]:\nmain.leak()\n\t/app/leak.go:9 +0x1\n\n")
    d = gf.parse_text("".join(text))
    assert len(d.snapshots) == 600
    top = su.suspects(d).iloc[0]
    assert top["site"] == "main.leak" and top["goroutines"] == 29
    assert top["counts"][0] == 0 and top["counts"][-1] == 29
    assert any("tested on 256 time bins" in e for e in top["evidence"])


def test_leak_verdicts_of_the_last_snapshot_are_counted_apart_from_the_sum():
    # two captures of one GoKer leak-profile dump (kubernetes#1321): the runtime printed
    # "(leaked)" on some headers; the sum over snapshots counts each goroutine twice
    raw = gzip.decompress(
        (Path(gf.__file__).parent / "data/goker/raw/Kubernetes1321.txt.gz").read_bytes()
    )
    marked = len(re.findall(rb"^goroutine \d+ \[[^\]]*\(leaked\)", raw, re.M))
    assert marked > 0
    one = gf.parse_text(raw.decode())
    two = gf.Dumps.concat([one, one])
    two.goroutines["snapshot"] = [0] * len(one.goroutines) + [1] * len(one.goroutines)
    two.snapshots["snapshot"] = [0, 1]
    facts = su.series_facts(two)
    assert facts["leaked_last"] == marked and facts["leaked_verdicts"] == 2 * marked


def test_lifetimes_survive_a_goroutine_printed_twice_in_one_dump():
    # a crash log can print one goroutine twice (tidb's stack-overflow dump in the real corpus):
    # it is on its last stack since the snapshot it was seen in, not "never"
    text = (
        "goroutine 7 [chan receive]:\nmain.a()\n\t/m.go:3 +0x1\n\n"
        "goroutine 7 [chan receive]:\nmain.b()\n\t/m.go:9 +0x1\n"
    )
    d = gf.parse_text(text)  # read as two snapshots (an id seen again starts a new dump) ...
    g = d.goroutines.assign(snapshot=d.goroutines["snapshot"] * 0)  # ... as the log has them: one
    one = gf.Dumps(g, d.frames, d.snapshots.iloc[:1].reset_index(drop=True), d.warnings)
    life = gf.lifetimes(one, pd.Series([0, 0]))
    assert life[["goid", "stuck_since", "last_snapshot"]].values.tolist() == [[7, 0, 0]]


def test_triage_since_an_onset_judges_growth_from_the_snapshot_before_it():
    d = gf.load("bundled:checkout")
    t = d.snapshots["taken_at"].iloc[4] + pd.Timedelta("1s")
    r = su.triage(d, since=t, top=20)
    assert r["series"]["snapshots"] == 6  # snapshots 4..9: the one before the onset, and after
    firstor = next(s for s in r["suspects"] if s["site"] == "main.firstOr[...].func1")
    whole = su.triage(d, top=20)
    same = next(s for s in whole["suspects"] if s["site"] == "main.firstOr[...].func1")
    assert list(firstor["counts"]) == list(same["counts"])[4:]  # the same goroutines, from 4 on
