"""The goroutine count over time, with the dumps taken on it: what a watcher saw and when it
captured its evidence (``goforensics watch``, or counts from :func:`goforensics.load_metrics`)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from .draw import WIDTH
from .safe import safe_frame

__all__ = ["count_chart"]


def count_chart(
    counts: pd.DataFrame,
    captures: pd.DataFrame | None = None,
    *,
    onset=None,
    width: int = WIDTH,
    height: int = 220,
) -> alt.LayerChart:
    """The goroutine count of each instance over time, a rule at each dump taken.

    Parameters
    ----------
    counts : DataFrame
        ``time`` (UTC), ``instance``, ``goroutines``: the table of
        :func:`goforensics.load_metrics`.
    captures : DataFrame, optional
        ``taken_at`` and ``instance`` of the dumps (a loaded series' snapshots table).
    onset : Timestamp, optional
        When growth started (:func:`goforensics.leak_onset`), drawn as a dashed rule.
    width, height : int
        Size in pixels.

    Returns
    -------
    altair.LayerChart
        Lines of the counts, grey rules at the captures, a dashed red rule at the onset.

    Examples
    --------
    >>> t = pd.date_range("2026-12-01", periods=4, freq="10s", tz="UTC")
    >>> c = pd.DataFrame({"time": t, "instance": "a", "goroutines": [10, 12, 30, 55]})
    >>> ch = count_chart(c, pd.DataFrame({"taken_at": t[-1:], "instance": ["a"]}), onset=t[1])
    >>> type(ch).__name__, len(ch.layer)
    ('LayerChart', 3)
    """
    data = safe_frame(counts[["time", "instance", "goroutines"]].copy())
    data["instance"] = data["instance"].astype(str).replace("", "(process)")
    x = alt.X("time:T", title="time (UTC)")
    layers = [
        alt.Chart(data)
        .mark_line(point=len(data) <= 200)
        .encode(
            x=x,
            y=alt.Y("goroutines:Q", title="goroutines"),
            color=alt.Color("instance:N", title="instance"),
            tooltip=["time:T", "instance:N", "goroutines:Q"],
        )
    ]
    if captures is not None and len(captures):
        dumps = pd.DataFrame({"time": pd.to_datetime(captures["taken_at"], utc=True)}).dropna()
        layers.append(
            alt.Chart(dumps)
            .mark_rule(color="#999999", strokeWidth=1)
            .encode(x=x, tooltip=[alt.Tooltip("time:T", title="dump taken")])
        )
    if onset is not None and pd.notna(onset):
        layers.append(
            alt.Chart(pd.DataFrame({"time": [pd.Timestamp(onset)]}))
            .mark_rule(color="#c0392b", strokeDash=[4, 3], strokeWidth=2)
            .encode(x=x, tooltip=[alt.Tooltip("time:T", title="growth started")])
        )
    # in Jupyter: zoom and pan along time (the report's images are drawn from the same spec)
    return alt.layer(*layers).properties(width=width, height=height).interactive(bind_y=False)
