"""Goroutine counts as data (load_metrics), leak onsets (leak_onset) and the trigger rules.

The curves in tests/curves/ were recorded from real Go services by
``benchmarks/watch_quality.py --record``: every second, the service's goroutine count and
its own ground truth (``leaked``: goroutines of its leaking code paths alive then, from the
service's registry or counter, never from goforensics).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import goforensics as gf
from goforensics.analyze import triggers as trig
from goforensics.errors import LoadError

CURVES = Path(__file__).resolve().parent / "curves"
LEAKY = ["checkout", "notifier", "gateway", "lw-warmup-leak", "lw-leak-bursts", "lw-slow-leak"]
CONTROL = ["indexer", "lw-bursts", "lw-quiet"]


def recorded(name: str) -> pd.DataFrame:
    return pd.read_csv(CURVES / f"{name}.csv")


def truth_onset(rec: pd.DataFrame) -> float:
    """Seconds from the first sample to the first one where the service counts a leaked goroutine."""
    t = pd.to_datetime(rec["time"], utc=True)
    return (t[rec["leaked"] > 0].iloc[0] - t.iloc[0]).total_seconds()


# --- load_metrics -------------------------------------------------------------------------------


def test_prometheus_range_query_of_several_instances(tmp_path):
    # the HTTP API's answer to query_range?query=go_goroutines, built from two recorded curves
    series, want = [], {}
    for name in ("checkout", "indexer"):
        rec = recorded(name)
        unix = (
            pd.to_datetime(rec["time"], utc=True) - pd.Timestamp(0, tz="UTC")
        ).dt.total_seconds()
        series.append(
            {
                "metric": {"__name__": "go_goroutines", "instance": f"{name}:6060", "job": "shop"},
                "values": [
                    [float(u), str(v)] for u, v in zip(unix, rec["goroutines"], strict=True)
                ],
            }
        )
        want[f"{name}:6060"] = rec
    p = tmp_path / "range.json"
    p.write_text(
        json.dumps({"status": "success", "data": {"resultType": "matrix", "result": series}})
    )

    m = gf.load_metrics(p)
    assert list(m.columns) == ["time", "instance", "goroutines"]
    assert sorted(m["instance"].unique()) == sorted(want)
    for inst, rec in want.items():
        got = m[m["instance"] == inst]
        assert got["goroutines"].tolist() == rec["goroutines"].tolist()
        t = pd.to_datetime(rec["time"], utc=True)
        assert (abs(got["time"].reset_index(drop=True) - t) < pd.Timedelta("1ms")).all()


def test_csv_forms_with_and_without_instance(tmp_path):
    rec = recorded("lw-warmup-leak")
    m = gf.load_metrics(
        CURVES / "lw-warmup-leak.csv"
    )  # time, instance, goroutines, leaked (ignored)
    assert m["goroutines"].tolist() == rec["goroutines"].tolist()
    assert set(m["instance"]) == {"lw-warmup-leak"}

    p = tmp_path / "plain.csv"
    p.write_text("timestamp,value\n1764633600,12\n1764633605,15\n1764633610,19\n")
    m = gf.load_metrics(p)
    assert m["goroutines"].tolist() == [12, 15, 19]
    assert set(m["instance"]) == {""}
    assert m["time"].iloc[0] == pd.Timestamp("2025-12-02T00:00:00Z")


def test_the_watchers_count_log_and_a_watch_folder(tmp_path):
    for inst, counts in {"a": [10, None, 12], "b": [7, 8, 9]}.items():
        d = tmp_path / inst
        d.mkdir()
        lines = [
            json.dumps(
                {
                    "time": f"2026-12-01T10:00:0{k}Z",
                    "instance": inst,
                    "goroutines": n,
                    "error": None if n is not None else "connection refused",
                }
            )
            for k, n in enumerate(counts)
        ]
        # an interrupted watcher may leave a cut last line
        (d / "counts.jsonl").write_text("\n".join(lines) + '\n{"time": "2026-12-01T10:0')
    m = gf.load_metrics(tmp_path)
    assert m.groupby("instance")["goroutines"].apply(list).to_dict() == {
        "a": [10, 12],
        "b": [7, 8, 9],
    }


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("no-value.csv", "time,instance\n1,a\n", "value column"),
        ("bad-value.csv", "time,value\n1,12\n2,lots\n", "not a goroutine count: 'lots'"),
        ("negative.csv", "time,value\n1,-3\n", "not a goroutine count"),
        ("bad-time.csv", "time,value\nyesterday,3\n", "not a time"),
        (
            "failed.json",
            '{"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}',
            "the query failed: bad_data parse error",
        ),
        (
            "heap.json",
            '{"status": "success", "data": {"resultType": "matrix", "result": '
            '[{"metric": {"__name__": "go_memstats_heap_alloc_bytes"}, "values": [[1, "5"]]}]}}',
            "not a goroutine count",
        ),
        (
            "scalar.json",
            '{"status": "success", "data": {"resultType": "scalar", "result": [1, "2"]}}',
            "'scalar'",
        ),
        ("empty.csv", "", "unreadable CSV"),
        (
            "log.jsonl",
            '{"time": "2026-12-01T10:00:00Z", "goroutines": 3}\nnot json\n{"time": 1}\n',
            "not a JSON line",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_file(tmp_path, name, content, says):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(LoadError) as e:
        gf.load_metrics(p)
    assert says in str(e.value) and name in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_paths_and_binary_files(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        gf.load_metrics(tmp_path / "nope.csv")
    with pytest.raises(LoadError, match=r"no counts\.jsonl"):
        gf.load_metrics(tmp_path)
    (tmp_path / "x.gz").write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(LoadError, match="not a text file"):
        gf.load_metrics(tmp_path / "x.gz")


# --- leak_onset -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lw-warmup-leak", "lw-leak-bursts", "lw-slow-leak"])
def test_leak_onset_finds_the_planted_onset(name):
    rec = recorded(name)
    t = pd.to_datetime(rec["time"], utc=True)
    secs = (t - t.iloc[0]).dt.total_seconds().to_numpy()
    truth = truth_onset(rec)
    # The tolerance, from the recording: a sampling interval (the first leaked goroutine
    # appeared somewhere between two samples), plus the time the leak takes to add as many
    # goroutines as the count's own spread before it started (the middle half of its values:
    # bursts are the outer few), before which nothing tells the leak from the noise.
    before = rec["goroutines"][(secs > 5) & (secs < truth)]
    after = rec[secs >= truth]
    rate = (after["leaked"].iloc[-1] - after["leaked"].iloc[0]) / (secs[-1] - truth)
    spread = float(np.percentile(before, 75) - np.percentile(before, 25))
    tolerance = float(np.median(np.diff(secs))) + spread / rate

    r = gf.leak_onset(gf.load_metrics(CURVES / f"{name}.csv"), limit=10_000)
    assert len(r) == 1
    onset = (r.loc[0, "onset"] - t.iloc[0]).total_seconds()
    assert abs(onset - truth) <= tolerance, (onset, truth, tolerance)
    # the slope after it is the service's leak rate (within a fifth)
    assert r.loc[0, "slope_per_min"] == pytest.approx(rate * 60, rel=0.2)
    # and the time to the limit follows that slope from where the count is
    assert r.loc[0, "seconds_to_limit"] == pytest.approx(
        (10_000 - r.loc[0, "current"]) / rate, rel=0.25
    )


@pytest.mark.parametrize("name", CONTROL)
def test_no_onset_on_a_control_or_drained_bursts(name):
    r = gf.leak_onset(gf.load_metrics(CURVES / f"{name}.csv"), limit=1000)
    assert r.loc[0, "onset"] is pd.NaT
    assert np.isnan(r.loc[0, "seconds_to_limit"])


def test_leak_onset_per_instance_and_already_over_the_limit():
    m = pd.concat([gf.load_metrics(CURVES / f"{n}.csv") for n in ("checkout", "lw-quiet")])
    r = gf.leak_onset(m, limit=50).set_index("instance")
    assert r.loc["checkout", "seconds_to_limit"] == 0  # it holds hundreds by the end
    assert r.loc["lw-quiet", "onset"] is pd.NaT


# --- the trigger rules ---------------------------------------------------------------------------


def test_cockroach_rule_follows_cockroachdbs_own_heuristic_test():
    # pkg/server/goroutinedumper's TestHeuristic, threshold 100: dumps at 120, 250 and 500
    vals = [
        (0, 30),
        (10, 40),
        (20, 120),
        (50, 35),
        (70, 150),
        (80, 250),
        (100, 135),
        (180, 30),
        (190, 80),
        (220, 500),
    ]
    fired = [
        n for _, n, _ in trig.replay(trig.CockroachRule(threshold=100), *zip(*vals, strict=True))
    ]
    assert fired == [120, 250, 500]


def test_holmes_rule_as_its_readme_states_it():
    # Config(500, 25, 20000): dump when count > 500 and > 125% of the average, or > 20000;
    # nothing during the 10 warm-up samples; no dump above max; cooldown after a dump
    r = trig.HolmesRule(min=500, diff=25, abs=20_000, max=50_000, cooldown=60)
    warm = [r.update(t, 30_000 if t == 0 else 600) for t in range(10)]
    assert warm == [None] * 10  # even 30,000 goroutines fire nothing while warming up
    assert r.update(10, 700) is None  # 700 < 125% of the mean of the last ten
    assert r.update(11, 900).startswith("holmes: 900 goroutines")
    assert r.update(12, 25_000) is None  # in the cooldown
    assert "(abs)" in r.update(80, 25_000)
    assert r.update(200, 60_000) is None  # above max: a dump that big would stop the world
    assert r.update(201, 400) is None  # below min


def test_promql_rules_on_a_line():
    # deriv is the least-squares slope per second; predict_linear reads the line ahead
    ts = np.arange(0, 301, 15.0)
    d = trig.replay(trig.DerivRule(), ts, 100 + 12 * ts)
    assert len(d) == 1 and "+12.0 goroutines/s" in d[0][2]
    assert trig.replay(trig.DerivRule(), ts, 100 + 9 * ts) == []
    # 2 goroutines/s: 7200 s ahead adds 14,400; from 1000 goroutines that crosses 10,000 at once
    p = trig.replay(trig.PredictLinearRule(), ts, 1000 + 2 * ts)
    assert len(p) == 1 and p[0][0] == 15.0


def test_trend_rule_on_every_recorded_curve():
    """Ours fires on every leaky curve after its leak started, never on a control, a drained burst,
    or before a leak."""
    for name in LEAKY + CONTROL:
        rec = recorded(name)
        fires = trig.replay(trig.TrendRule(), rec["time"], rec["goroutines"])
        if name in CONTROL:
            assert fires == [], name
        else:
            assert fires, name
            assert fires[0][0] >= truth_onset(rec), name
