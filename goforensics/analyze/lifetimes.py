"""Goroutine lifetimes: each goroutine id followed across the snapshots of a series.

The one place that follows ids: suspects' persistence ("newcomers never left") and the
"stuck since" of a lock holder are read off :func:`lifetimes`. It also says which snapshot
is "the last one" (:func:`last_snapshot`), the default of every view of one snapshot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import Dumps

__all__ = ["LIFETIME_COLUMNS", "last_snapshot", "lifetimes", "persistence", "since"]

LIFETIME_COLUMNS = [
    "instance",
    "goid",
    "first_snapshot",
    "last_snapshot",
    "first_seen",
    "last_seen",
    "snapshots",
    "age",
    "wait_minutes_last",
    "blocked_at_least",
    "state_last",
    "stack_id_last",
    "stuck_since",
]


def last_snapshot(dumps: Dumps, snapshot: int | None = None) -> int | None:
    """``snapshot`` if given, else the last snapshot that holds goroutines (None: none does).

    Parameters
    ----------
    dumps : the series.
    snapshot : an explicit choice, returned as is.

    Returns
    -------
    int or None

    Examples
    --------
    >>> import goforensics as gf
    >>> last_snapshot(gf.load("bundled:demo")), last_snapshot(gf.load("bundled:demo"), 0)
    (0, 0)
    """
    if snapshot is not None:
        return int(snapshot)
    g = dumps.goroutines
    return int(g["snapshot"].max()) if len(g) else None


def lifetimes(dumps: Dumps, labels: pd.Series | None = None) -> pd.DataFrame:
    """Follow each goroutine id across the snapshots of a series.

    Parameters
    ----------
    dumps : the series; rows without a goroutine id (debug=1, debug=0) are not followed.
    labels : cluster ids aligned with ``dumps.goroutines``; when given, a goroutine is
        followed within each cluster it was seen in (one row per instance, goid, cluster).

    Returns
    -------
    DataFrame
        One row per (instance, goid[, cluster]): ``first_snapshot``, ``last_snapshot``,
        ``first_seen``, ``last_seen`` (capture times), ``snapshots`` (how many it was seen
        in), ``age`` (last seen minus first seen), ``wait_minutes_last``, ``state_last``,
        ``stack_id_last`` (at its last sighting), ``blocked_at_least`` (the larger of the
        age and the wait the runtime printed last) and ``stuck_since`` (the first snapshot
        from which it was on its last stack at every sighting).

    Examples
    --------
    >>> import goforensics as gf
    >>> a = gf.parse_text("goroutine 5 [chan receive]:\\nmain.f()\\n\\t/m.go:3 +0x1\\n")
    >>> lifetimes(a)[["goid", "snapshots", "stuck_since"]].values.tolist()
    [[5, 1, 0]]
    """
    g = dumps.goroutines
    keep = g["goid"].notna().to_numpy()
    keys = ["instance", "goid"]
    cols = list(LIFETIME_COLUMNS)
    if labels is not None:
        # aligned by position, as every labels argument is (a selection keeps its old index)
        g = g.assign(cluster=np.asarray(labels))
        keys.append("cluster")
        cols.insert(2, "cluster")
    g = g[keep]
    if g.empty:
        return pd.DataFrame(columns=cols)
    g = g.sort_values(["snapshot"], kind="stable")
    grp = g.groupby(keys, observed=True, sort=True)
    out = grp.agg(
        first_snapshot=("snapshot", "min"),
        last_snapshot=("snapshot", "max"),
        first_seen=("taken_at", "min"),
        last_seen=("taken_at", "max"),
        snapshots=("snapshot", "nunique"),
        wait_minutes_last=("wait_minutes", "last"),
        state_last=("state", "last"),
        stack_id_last=("stack_id", "last"),
    )
    out["stuck_since"] = _stuck_since(g, keys).reindex(out.index)
    out = out.reset_index()
    out["age"] = out["last_seen"] - out["first_seen"]
    waited = pd.to_timedelta(
        out["wait_minutes_last"].astype("Float64").fillna(0).astype(float), unit="m"
    )
    age = out["age"].fillna(pd.Timedelta(0))
    out["blocked_at_least"] = pd.to_timedelta(np.maximum(age.to_numpy(), waited.to_numpy()))
    # a goroutine whose stacks cannot be compared (no frames) is known stuck only since now
    out["stuck_since"] = out["stuck_since"].fillna(out["last_snapshot"]).astype(np.int64)
    return out[cols]


def _stuck_since(g: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Per key: the first snapshot of the last run of sightings on the last stack.

    ``g`` is sorted by snapshot. A goroutine that took a lock and then blocked stays on the
    same stack; the snapshot since which it has been there bounds when it took the lock.
    """
    by = [g[k] for k in keys]
    last = g.groupby(by, observed=True, sort=False)["stack_id"].transform("last")
    moved = g["snapshot"].where(g["stack_id"] != last)  # last time it was elsewhere
    left = moved.groupby(by, observed=True, sort=False).transform("max").fillna(-1)
    on = (g["stack_id"] == last) & (g["snapshot"] > left)
    return g[on].groupby([g.loc[on, k] for k in keys], observed=True)["snapshot"].min()


def persistence(life: pd.DataFrame, first: pd.Series, last: pd.Series) -> pd.Series:
    """Share of the goroutines that arrived after the first snapshot and were still there at
    the last, per (cluster, instance).

    Only goroutines first seen strictly between the first and the last snapshot of their
    instance count (newcomers at the last snapshot have had no chance to leave).

    Parameters
    ----------
    life : :func:`lifetimes` with ``labels``.
    first, last : the first and the last snapshot of each instance (indexed by instance).

    Returns
    -------
    Series
        Indexed by (cluster, instance); pairs with no such newcomer are absent.

    Examples
    --------
    >>> life = pd.DataFrame({"instance": [""] * 3, "cluster": [0, 0, 0],
    ...                      "first_snapshot": [0, 1, 1], "last_snapshot": [2, 2, 1]})
    >>> persistence(life, pd.Series({"": 0}), pd.Series({"": 2})).tolist()
    [0.5]
    """
    inst = life["instance"].astype(str)
    s0 = inst.map(first).to_numpy()
    sn = inst.map(last).to_numpy()
    f = life["first_snapshot"].to_numpy()
    arrived = (f > s0) & (f < sn)
    t = pd.DataFrame(
        {
            "cluster": life["cluster"].to_numpy()[arrived],
            "instance": inst.to_numpy()[arrived],
            "stayed": life["last_snapshot"].to_numpy()[arrived] == sn[arrived],
        }
    )
    return t.groupby(["cluster", "instance"], sort=True)["stayed"].mean().astype(float)


def since(dumps: Dumps, when) -> Dumps:
    """The series from its baseline for ``when`` on: the last snapshot taken at or before
    ``when`` (the state before growth started, e.g. a leak onset) and every one after it.

    Parameters
    ----------
    dumps : Dumps
        A series with capture times (``taken_at``).
    when : Timestamp or str
        A time (UTC if naive). Before the first snapshot, the whole series is kept.

    Returns
    -------
    Dumps
        The same tables cut to those snapshots (numbers unchanged), or ``dumps`` itself when
        it has no capture times.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:checkout")
    >>> t = d.snapshots["taken_at"].iloc[4] + pd.Timedelta("1s")
    >>> since(d, t).snapshots["snapshot"].tolist()
    [4, 5, 6, 7, 8, 9]
    """
    s = dumps.snapshots
    taken = pd.to_datetime(s["taken_at"], utc=True)
    if taken.isna().all():
        return dumps
    when = pd.Timestamp(when)
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    before = s.loc[taken <= when, "snapshot"]
    first = int(before.max()) if len(before) else int(s["snapshot"].min())
    keep = (dumps.goroutines["snapshot"] >= first).to_numpy()
    g = dumps.goroutines[keep]
    return Dumps(
        g,
        dumps.frames[dumps.frames["stack_id"].isin(g["stack_id"])],
        s[s["snapshot"] >= first],
        dumps.warnings[dumps.warnings["snapshot"].isna() | (dumps.warnings["snapshot"] >= first)],
    )
