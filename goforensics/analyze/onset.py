"""When did the goroutine count start to grow, how fast, and when will it hit a limit?

:func:`leak_onset` reads a count curve (the table :func:`goforensics.read.metrics.load_metrics`
gives) per instance. Bursts that drain are taken out first: the curve's floor (a
centred rolling minimum a few samples wide) keeps what stays and drops what comes and
goes. Change points of the floor are found with ruptures (PELT on a continuous
piecewise-linear cost, the penalty scaled by the noise of the curve and its length). The
onset is the last change point after which the floor rises (Mann–Kendall) and before
which it did not (past the process's start-up); the slope after it is a Theil–Sen
slope, and the time to a limit is that line read forward, the question ``predict_linear``
answers.

>>> import pandas as pd
>>> t = pd.date_range("2026-01-01", periods=120, freq="s", tz="UTC")
>>> n = [50 + (i % 3) + max(0, i - 60) for i in range(120)]
>>> r = leak_onset(pd.DataFrame({"time": t, "instance": "a", "goroutines": n}), limit=200)
>>> int((r.loc[0, "onset"] - t[0]).total_seconds()) in range(57, 64), round(r.loc[0, "slope_per_min"])
(True, 60)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["leak_onset"]

_COLUMNS = [
    "instance",
    "onset",
    "count_at_onset",
    "slope_per_min",
    "current",
    "limit",
    "seconds_to_limit",
    "change_points",
    "samples",
]


def _noise(y: np.ndarray) -> float:
    """Standard deviation of the noise, from the median absolute first difference (robust to steps)."""
    d = np.abs(np.diff(y))
    return float(np.median(d) / 0.6745 / np.sqrt(2)) if len(d) else 0.0


def _floor(y: np.ndarray, width: int) -> np.ndarray:
    return pd.Series(y).rolling(width, center=True, min_periods=1).min().to_numpy()


def _segments(f: np.ndarray, sigma: float, penalty: float | None, min_size: int) -> list[int]:
    """Change points of the floor ``f``; the penalty is scaled by the noise of the raw curve."""
    import ruptures as rpt

    n = len(f)
    if n < 2 * min_size:
        return [n]
    pen = penalty if penalty is not None else 4.0 * sigma**2 * np.log(n)
    return (
        rpt.Pelt(model="clinear", min_size=min_size, jump=1).fit(f.reshape(-1, 1)).predict(pen=pen)
    )


def _rises_from(x: np.ndarray, f: np.ndarray, c: int, need: float, alpha: float, skip: int) -> bool:
    """Does the floor rise from ``c`` on, and not between ``skip`` (the end of start-up) and ``c``?"""
    import pymannkendall as mk
    from scipy.stats import theilslopes

    slope = theilslopes(f[c:], x[c:]).slope
    if slope <= 0 or slope * (x[-1] - x[c]) < need:
        return False
    if mk.original_test(f[c:], alpha=alpha).trend != "increasing":
        return False
    # growing already before c (weaker evidence is enough to say so): the onset is earlier
    return not (
        c - skip >= 3 and mk.original_test(f[skip:c], alpha=5 * alpha).trend == "increasing"
    )


def _one(
    x: np.ndarray, y: np.ndarray, width: int, penalty: float | None, min_size: int, min_rise: float
) -> tuple[int | None, float, int]:
    """Index of the onset (None: not growing), slope per second after it, change points."""
    from scipy.stats import theilslopes

    f = _floor(y, width)
    sigma = max(_noise(y), 0.5)  # counts are integers: never below rounding
    bounds = _segments(f, sigma, penalty, min_size)
    need = max(min_rise, 2 * sigma)
    # The change points are the candidates; the onset is the last one after which the floor
    # rises (a significant Mann–Kendall trend, a Theil–Sen rise above the noise) and before
    # which it did not. A drain after a rise, or a flat curve, leaves none.
    # a short first segment that rises is the process starting up, not a trend to test
    first = bounds[0]
    skip = first if first <= 2 * min_size and f[first - 1] > f[0] else 0
    cands = [c for c in [0, *bounds[:-1]] if len(f) - c >= min_size]
    rising = [c for c in cands if _rises_from(x, f, c, need, 0.01, skip)]
    if not rising:
        return None, 0.0, len(bounds) - 1
    onset = max(rising)
    # the centred minimum moves a knee later by half its width: move it back
    onset = max(0, onset - width // 2) if onset > 0 else 0
    slope = float(theilslopes(y[onset:], x[onset:]).slope) if len(y) - onset >= 2 else 0.0
    return onset, slope, len(bounds) - 1


def leak_onset(
    metrics: pd.DataFrame,
    *,
    limit: float | None = None,
    floor: int = 5,
    penalty: float | None = None,
    min_size: int = 5,
    min_rise: float = 5.0,
) -> pd.DataFrame:
    """When growth started, its slope, and the time until ``limit``, per instance.

    Parameters
    ----------
    metrics : a table with ``time`` (timestamps), ``goroutines`` and optionally
        ``instance`` columns (what :func:`goforensics.read.metrics.load_metrics` returns).
    limit : a goroutine count to forecast (``predict_linear``'s threshold).
    floor : width in samples of the centred rolling minimum that drops bursts.
    penalty : the PELT penalty; default ``4 * sigma**2 * log(n)`` with sigma the
        curve's noise (from its first differences).
    min_size : the fewest samples a segment may have.
    min_rise : the least rise, in goroutines, of a segment that counts as growth.

    Returns
    -------
    pandas.DataFrame
        One row per instance: ``instance``, ``onset`` (time growth started; NaT when
        the count is not growing at the end of the curve), ``count_at_onset``,
        ``slope_per_min`` (Theil–Sen, goroutines per minute since the onset; 0 when not
        growing), ``current`` (last count), ``limit``, ``seconds_to_limit`` (from the
        last sample along that slope; 0 when already over, NaN when not growing or no
        limit), ``change_points`` (how many), ``samples``.

    Raises
    ------
    ValueError
        If ``metrics`` lacks the ``time`` or ``goroutines`` column.

    Examples
    --------
    Flat at 10 for ten minutes, then 20 more a minute:

    >>> import pandas as pd
    >>> m = pd.DataFrame({
    ...     "time": pd.date_range("2024-01-01", periods=20, freq="min"),
    ...     "goroutines": [10] * 10 + [10 + 20 * i for i in range(1, 11)],
    ... })
    >>> r = leak_onset(m, limit=1000).iloc[0]
    >>> str(r["onset"]), float(r["slope_per_min"]), float(r["seconds_to_limit"])
    ('2024-01-01 00:10:00+00:00', 20.0, 2370.0)
    """
    missing = {"time", "goroutines"} - set(metrics.columns)
    if missing:
        raise ValueError(
            f"leak_onset needs columns time and goroutines; missing {', '.join(sorted(missing))}"
        )
    df = metrics if "instance" in metrics.columns else metrics.assign(instance="")
    rows = []
    for inst, g in df.sort_values("time", kind="stable").groupby(
        "instance", sort=True, observed=True
    ):
        t = pd.to_datetime(g["time"], utc=True)
        x = (t - t.iloc[0]).dt.total_seconds().to_numpy()
        y = g["goroutines"].to_numpy(dtype=float)
        k, slope, cps = _one(x, y, max(1, floor), penalty, min_size, min_rise)
        current = float(y[-1]) if len(y) else np.nan
        to_limit = np.nan
        if limit is not None and k is not None and slope > 0:
            level = np.median(
                y[k:] - slope * (x[k:] - x[-1])
            )  # the Theil–Sen line at the last sample
            to_limit = max(0.0, (limit - level) / slope)
        rows.append(
            {
                "instance": inst,
                "onset": t.iloc[k] if k is not None else pd.NaT,
                "count_at_onset": float(y[k]) if k is not None else np.nan,
                "slope_per_min": slope * 60,
                "current": current,
                "limit": limit,
                "seconds_to_limit": to_limit,
                "change_points": cps,
                "samples": len(y),
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)
