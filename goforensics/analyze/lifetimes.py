"""Goroutine lifetimes: each goroutine id followed across the snapshots of a series.

The one place that follows ids: suspects' persistence ("newcomers never left") and
"stuck since" are read off this table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import Dumps

__all__ = ["lifetimes"]


def lifetimes(dumps: Dumps) -> pd.DataFrame:
    """Follow each goroutine id across the snapshots of a series.

    One row per (instance, goid): first and last snapshot and time seen, snapshots
    seen, ``age`` (last seen minus first seen) and ``blocked_at_least``: the larger of
    the age and the wait the runtime printed at the last sighting.

    >>> import goforensics as gf
    >>> a = gf.parse_text("goroutine 5 [chan receive]:\\nmain.f()\\n\\t/m.go:3 +0x1\\n")
    >>> lifetimes(a)[["goid", "snapshots"]].values.tolist()
    [[5, 1]]
    """
    g = dumps.goroutines
    g = g[g["goid"].notna()]
    cols = ["instance", "goid"]
    if g.empty:
        return pd.DataFrame(
            columns=[*cols, "first_snapshot", "last_snapshot", "first_seen", "last_seen", "snapshots",
                     "age", "wait_minutes_last", "blocked_at_least", "state_last", "stack_id_last"]
        )
    g = g.sort_values(["snapshot"], kind="stable")
    grp = g.groupby(cols, observed=True, sort=True)
    out = grp.agg(
        first_snapshot=("snapshot", "min"),
        last_snapshot=("snapshot", "max"),
        first_seen=("taken_at", "min"),
        last_seen=("taken_at", "max"),
        snapshots=("snapshot", "nunique"),
        wait_minutes_last=("wait_minutes", "last"),
        state_last=("state", "last"),
        stack_id_last=("stack_id", "last"),
    ).reset_index()
    out["age"] = out["last_seen"] - out["first_seen"]
    waited = pd.to_timedelta(out["wait_minutes_last"].astype("Float64").fillna(0).astype(float), unit="m")
    age = out["age"].fillna(pd.Timedelta(0))
    out["blocked_at_least"] = np.maximum(age.to_numpy(), waited.to_numpy())
    out["blocked_at_least"] = pd.to_timedelta(out["blocked_at_least"])
    return out
