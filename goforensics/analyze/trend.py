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

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_TREND_POINTS", "Trend", "bin_series", "trend"]

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


def _mann_kendall(y: np.ndarray) -> tuple[str, float, str]:
    import pymannkendall as mk

    mk_trend, p, test = "no trend", 1.0, "Mann–Kendall (Hamed–Rao)"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            r = mk.hamed_rao_modification_test(y)
            mk_trend, p = str(r.trend), float(r.p)
            # The correction needs residual autocorrelation to estimate; a series that is
            # exactly linear (a steady leak) leaves none and the variance is undefined: the
            # uncorrected test is then the right one.
            if not np.isfinite(p) or not np.isfinite(float(r.var_s)):
                r = mk.original_test(y)
                mk_trend, p, test = str(r.trend), float(r.p), "Mann–Kendall"
        except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
            pass
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
    from scipy.stats import theilslopes

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
    slope = float(theilslopes(yb, xb).slope)
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
