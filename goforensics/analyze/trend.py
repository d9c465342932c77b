"""Growth of a count series: a Theil–Sen slope and a Mann–Kendall test.

The Mann–Kendall test with the Hamed–Rao correction is robust to the autocorrelation of
counts taken from one process; the Theil–Sen slope to outliers. Both cost the square of
the number of points (every pair is compared), so a series longer than
:data:`MAX_TREND_POINTS` snapshots is first aggregated into that many time bins (the mean
count of each bin, at the mean time of the bin): a trend over a few hundred points is as
clear as over twenty thousand, and its cost stays bounded.

>>> t = trend(np.array([0, 4, 9, 15, 18, 25]), np.arange(6) * 2.0)
>>> t.mk_trend, round(t.slope, 1)
('increasing', 2.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = ["MAX_TREND_POINTS", "Trend", "bin_series", "theil_sen", "trend"]

# Points the trend tests see at most: both are quadratic in the points (theilslopes builds
# an n x n array: 20,001 snapshots asked it for 3 GiB).
MAX_TREND_POINTS = 256


@dataclass
class Trend:
    """Growth of one count series.

    ``first``, ``last`` and ``peak`` are counts of the series as given (not of the bins);
    ``rises`` counts snapshot-to-snapshot increases and ``n`` the snapshots; ``binned`` is
    the number of time bins the tests ran on when the series was longer than
    :data:`MAX_TREND_POINTS` (0 when they saw every point).
    """

    slope: float  # per minute (or per snapshot when times are unknown)
    per_minute: bool
    mk_trend: str
    mk_p: float
    first: float
    last: float
    peak: float
    test: str = "Mann–Kendall (Hamed–Rao)"
    rises: int = 0  # snapshot-to-snapshot increases
    n: int = 0  # snapshots
    binned: int = 0

    @property
    def grows(self) -> bool:
        """A significant upward trend made of several increases: not one late starter (0 -> 1).

        Below 5 snapshots Mann–Kendall cannot reach p < 0.05 at all (4 rising points give
        p = 0.09); there a rise at every step, by 3 goroutines or more, is the evidence.
        """
        if self.last - self.first < 2 or self.rises < 2:
            return False
        if self.n < 5:
            return self.rises == self.n - 1 and self.last - self.first >= 3
        return self.mk_trend == "increasing" and self.mk_p < 0.05


def bin_series(
    y: np.ndarray, x: np.ndarray, bins: int = MAX_TREND_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``bins`` points of a series: the mean of ``y`` and of ``x`` in consecutive,
    equally populated runs of points (unchanged when it is short enough).

    Parameters
    ----------
    y : counts, in snapshot order.
    x : their times (or snapshot positions), same length.
    bins : the most points to return.

    Returns
    -------
    (y, x) : the binned counts and times, as float arrays.

    Examples
    --------
    >>> yb, xb = bin_series(np.arange(10.0), np.arange(10.0), bins=5)
    >>> yb.tolist(), xb.tolist()
    ([0.5, 2.5, 4.5, 6.5, 8.5], [0.5, 2.5, 4.5, 6.5, 8.5])
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    if len(y) <= bins:
        return y, x
    edges = np.linspace(0, len(y), bins + 1).astype(np.int64)
    size = np.diff(edges).astype(float)
    return np.add.reduceat(y, edges[:-1]) / size, np.add.reduceat(x, edges[:-1]) / size


# Why these are written here and not taken from scipy.stats and pymannkendall: importing
# scipy.stats costs 0.7 s of CPU, a third of a command's budget for a ten-snapshot series,
# for three formulas over at most MAX_TREND_POINTS points. They follow the libraries step by
# step (tests/test_trend.py checks them against scipy.stats.theilslopes and pymannkendall's
# hamed_rao_modification_test and original_test).
_Z_975 = NormalDist().inv_cdf(0.975)  # two-sided 5 % (scipy.stats.norm.ppf(0.975))


def theil_sen(y: np.ndarray, x: np.ndarray) -> float:
    """Theil–Sen slope: the median of the slopes between every pair of points with distinct x.

    As :func:`scipy.stats.theilslopes` computes its ``slope``.

    Parameters
    ----------
    y : ndarray of float
        The values (goroutine counts).
    x : ndarray of float
        Their positions (seconds or snapshot numbers), as long as ``y``.

    Returns
    -------
    float
        The slope, in units of ``y`` per unit of ``x``; 0.0 when no two x differ.

    Examples
    --------
    >>> theil_sen(np.array([0.0, 2.0, 4.0, 6.0, 100.0]), np.arange(5.0))  # one outlier
    2.0
    """
    dx = x[:, None] - x
    dy = y[:, None] - y
    up = dx > 0
    return float(np.median(dy[up] / dx[up])) if up.any() else 0.0


def _mk_test(y: np.ndarray, hamed_rao: bool) -> tuple[str, float, float]:
    """(trend, p, var_s) of the Mann–Kendall test, with the Hamed–Rao variance correction
    for autocorrelation or without (pymannkendall's hamed_rao_modification_test with
    ``lag=None`` and original_test, alpha 0.05)."""
    n = len(y)
    s = float(np.sign(y[None, :] - y[:, None])[np.triu_indices(n, 1)].sum())
    _, tp = np.unique(y, return_counts=True)
    var_s = (n * (n - 1) * (2 * n + 5) - float(np.sum(tp * (tp - 1) * (2 * tp + 5)))) / 18
    if hamed_rao:
        i, j = np.triu_indices(n, 1)
        slope = float(np.median((y[j] - y[i]) / (j - i)))  # Sen's slope over positions
        ranks = pd.Series(y - np.arange(1, n + 1) * slope).rank(method="average").to_numpy()
        c = ranks - ranks.mean()
        acov = np.correlate(c, c, "full")[n - 1 :] / n
        acf = acov / acov[0]
        k = np.arange(1, n)
        bound = _Z_975 / np.sqrt(n)
        out = ~((acf[1:] <= bound) & (acf[1:] >= -bound))  # NaN counts as significant
        sni = np.sum(((n - k) * (n - k - 1) * (n - k - 2) * acf[1:])[out])
        var_s *= 1 + (2 / (n * (n - 1) * (n - 2))) * sni
    z = 0.0 if s == 0 else (s - np.sign(s)) / np.sqrt(var_s)
    p = 2 * (1 - NormalDist().cdf(abs(float(z))))  # NaN stays NaN: the caller falls back
    h = abs(z) > _Z_975
    return ("decreasing" if z < 0 and h else "increasing" if z > 0 and h else "no trend"), p, var_s


def _mann_kendall(y: np.ndarray) -> tuple[str, float, str]:
    mk_trend, p, test = "no trend", 1.0, "Mann–Kendall (Hamed–Rao)"
    with np.errstate(all="ignore"):
        mk_trend, p, var_s = _mk_test(y, hamed_rao=True)
        # The correction needs residual autocorrelation to estimate; a series that is
        # exactly linear (a steady leak) leaves none and the variance is undefined: the
        # uncorrected test is then the right one.
        if not np.isfinite(p) or not np.isfinite(var_s):
            mk_trend, p, _ = _mk_test(y, hamed_rao=False)
            test = "Mann–Kendall"
    if not np.isfinite(p):
        mk_trend, p = "no trend", 1.0
    return mk_trend, p, test


def trend(counts: np.ndarray, minutes: np.ndarray | None = None) -> Trend:
    """Theil–Sen slope and Mann–Kendall (Hamed–Rao) trend of a count series.

    Parameters
    ----------
    counts : goroutines per snapshot, in time order.
    minutes : capture times in minutes; without them (or when they span less than a
        second) the slope is per snapshot.

    Returns
    -------
    Trend : slope, test verdict and p-value, first/last/peak counts. Over more than
    :data:`MAX_TREND_POINTS` snapshots the slope and the test run on that many time bins.

    Examples
    --------
    >>> trend(np.array([3, 3, 3])).mk_trend
    'no trend'
    >>> t = trend(np.arange(20000) // 100)
    >>> t.mk_trend, t.binned, round(t.slope, 3)
    ('increasing', 256, 0.01)
    """
    y = np.asarray(counts, dtype=float)
    per_min = minutes is not None and len(minutes) == len(y) and np.ptp(minutes) > 1 / 60
    x = np.asarray(minutes, dtype=float) if per_min else np.arange(len(y), dtype=float)
    if len(y) < 2 or np.ptp(y) == 0:
        return Trend(
            0.0,
            per_min,
            "no trend",
            1.0,
            y[0] if len(y) else 0,
            y[-1] if len(y) else 0,
            y.max() if len(y) else 0,
            n=len(y),
        )
    yb, xb = bin_series(y, x)
    slope = theil_sen(yb, xb)
    mk_trend, p, test = "no trend", 1.0, "Mann–Kendall (Hamed–Rao)"
    if len(yb) >= 4:
        mk_trend, p, test = _mann_kendall(yb)
    rises = int((np.diff(y) > 0).sum())
    if len(y) < 5:
        test = (
            "a rise at every snapshot (too few for Mann–Kendall)" if rises == len(y) - 1 else test
        )
    binned = len(yb) if len(yb) < len(y) else 0
    return Trend(slope, per_min, mk_trend, p, y[0], y[-1], y.max(), test, rises, len(y), binned)
