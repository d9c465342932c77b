"""diff: what appeared, grew, shrank and vanished, on real dumps."""

from __future__ import annotations

import pytest

import goforensics as gf
from goforensics.analyze.diff import diff


@pytest.fixture(scope="module")
def series_dir(leakseries_dir):
    return leakseries_dir


def test_first_and_last_snapshot(series_dir):
    d = gf.load(series_dir)
    t = diff(d).set_index("site")
    # the program's leaks grow by 12 and 2 goroutines per tick; its 16 workers stay
    assert t.loc["main.compute", "change"] == "grew"
    assert t.loc["main.compute", "delta"] == 12 * 5
    assert t.loc["main.waitAll", "change"] == "grew"
    assert t.loc["main.waitAll", "delta"] == 2 * 5
    assert t.loc["main.worker", "change"] == "same"
    assert t.iloc[0]["change"] == "grew"  # sorted by the size of the change


def test_snapshot_in_the_middle_shows_the_burst_vanishing(series_dir):
    d = gf.load(series_dir)
    # the 40 sleepers start at tick 1 and end before the last tick
    t = diff(d, before=1, after=-1).set_index("site")
    assert t.loc["main.sleeper", "change"] == "vanished"
    assert t.loc["main.sleeper", "before"] == 40 and t.loc["main.sleeper", "after"] == 0
    t = diff(d, before=0, after=1).set_index("site")
    assert t.loc["main.sleeper", "change"] == "appeared"


def test_two_series_compare_mean_counts_per_snapshot(series_dir):
    files = sorted(series_dir.glob("snap-*.txt"))
    early = gf.load(files[:2], order="given")
    late = gf.load(files[-2:], order="given")
    t = diff(early, late).set_index("site")
    # mean of ticks 0-1 vs ticks 4-5: 12*1.5 = 18 vs 12*5.5 = 66 result-leak goroutines
    assert t.loc["main.compute", "before"] == 18 and t.loc["main.compute", "after"] == 66
    assert t.loc["main.compute", "ratio"] == pytest.approx(66 / 18)


def test_diff_of_identical_dumps_is_all_same():
    d = gf.load("bundled:demo")
    t = diff(d, d)
    assert set(t["change"]) == {"same"} and (t["delta"] == 0).all()
