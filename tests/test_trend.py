"""The trend tests against the libraries they follow: scipy.stats.theilslopes and
pymannkendall (Hamed–Rao and the original Mann–Kendall test), on count series of every shape a
goroutine count takes: ties, plateaus, steady leaks, noise, steps."""

from __future__ import annotations

import warnings

import numpy as np
import pymannkendall as mk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import theilslopes

from goforensics.analyze.trend import (
    MAX_TREND_POINTS,
    _mann_kendall,
    bin_series,
    theil_sen,
    trend,
)

counts = st.lists(st.integers(min_value=0, max_value=40), min_size=4, max_size=60)


def _library_mann_kendall(y: np.ndarray) -> tuple[str, float, str]:
    """What trend() computed with pymannkendall (the fallback as trend.py documents it)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        r = mk.hamed_rao_modification_test(y)
        trend_, p, test = str(r.trend), float(r.p), "Mann–Kendall (Hamed–Rao)"
        if not np.isfinite(p) or not np.isfinite(float(r.var_s)):
            r = mk.original_test(y)
            trend_, p, test = str(r.trend), float(r.p), "Mann–Kendall"
    if not np.isfinite(p):
        trend_, p = "no trend", 1.0
    return trend_, p, test


@settings(max_examples=300, deadline=None)
@given(counts, st.booleans())
def test_theil_sen_slope_is_scipys(ys, uneven):
    y = np.asarray(ys, dtype=float)
    x = np.cumsum(np.linspace(1.0, 3.0, len(y))) if uneven else np.arange(len(y), dtype=float)
    assert theil_sen(y, x) == pytest.approx(theilslopes(y, x).slope, rel=1e-12, abs=1e-12)


@settings(max_examples=400, deadline=None)
@given(counts)
def test_mann_kendall_is_pymannkendalls(ys):
    y = np.asarray(ys, dtype=float)
    got, want = _mann_kendall(y), _library_mann_kendall(y)
    assert got[0] == want[0] and got[2] == want[2]
    assert got[1] == pytest.approx(want[1], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "ys",
    [
        list(range(10)),  # a steady leak: no residual autocorrelation, the plain test
        [5, 5, 5, 6, 6, 6, 7, 7, 7, 8],  # steps with ties
        [3, 9, 1, 8, 2, 7, 3, 9, 1, 8],  # noise
        [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],  # draining
    ],
)
def test_mann_kendall_known_shapes(ys):
    y = np.asarray(ys, dtype=float)
    assert _mann_kendall(y) == pytest.approx(_library_mann_kendall(y))


def test_long_series_runs_on_bins_as_the_libraries_would():
    y = (np.arange(3000) // 7).astype(float)
    t = trend(y)
    yb, xb = bin_series(y, np.arange(3000, dtype=float))
    assert t.binned == MAX_TREND_POINTS == len(yb)
    assert t.slope == pytest.approx(theilslopes(yb, xb).slope, rel=1e-12)
    assert (t.mk_trend, t.mk_p, t.test) == pytest.approx(_library_mann_kendall(yb))
