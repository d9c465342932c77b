"""What changed between two snapshots, or two series: appeared, grew, shrank, vanished.

Both sides are clustered together, so one cause has one id on both sides; each
cluster's size on a side is its mean goroutine count per snapshot of that side.

>>> import goforensics as gf
>>> a = gf.parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
>>> b = gf.parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n\\n"
...                   "goroutine 9 [chan send]:\\nmain.leak()\\n\\t/m.go:9 +0x1\\n")
>>> by_stack = lambda d: d.goroutines.groupby("stack_id", observed=True).ngroup()
>>> diff(a, b, labels_fn=by_stack)[["site", "change", "before", "after"]].values.tolist()
[['main.leak', 'appeared', 0.0, 1.0], ['main.main', 'same', 1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import Dumps
from .clustering import cluster, cluster_sites

__all__ = ["CHANGES", "diff"]

# the values of the ``change`` column
CHANGES = ("appeared", "grew", "shrank", "vanished", "same")


def _shift(d: Dumps, by: int) -> Dumps:
    g = d.goroutines.copy()
    g["snapshot"] = g["snapshot"] + by
    s = d.snapshots.copy()
    s["snapshot"] = s["snapshot"] + by
    w = d.warnings.copy()
    w["snapshot"] = w["snapshot"] + by
    return Dumps(g, d.frames, s, w)


def diff(
    a: Dumps,
    b: Dumps | None = None,
    *,
    before: int | None = None,
    after: int | None = None,
    labels_fn=None,
    tolerance: float = 0.1,
) -> pd.DataFrame:
    """Compare two series (or, with ``b=None``, two snapshots of ``a``: ``before`` and
    ``after``, by default its first and last).

    Returns one row per cluster: ``cluster``, ``site``, ``file``, ``line``, ``state``,
    ``entry``, ``created_by``, ``before``, ``after`` (mean goroutines per snapshot on
    each side), ``delta``, ``ratio`` and ``change`` (appeared / grew / shrank /
    vanished / same, where a relative change within ``tolerance`` is "same"), sorted
    by absolute delta. ``labels_fn(dumps) -> labels`` clusters the joint series
    (default :func:`goforensics.analyze.clustering.cluster`).
    """
    if b is None:
        snaps = sorted(a.snapshots["snapshot"].tolist())
        if not snaps:
            raise ValueError("nothing to compare: no snapshots")
        i = snaps[0] if before is None else snaps[before] if before < 0 else before
        j = snaps[-1] if after is None else snaps[after] if after < 0 else after
        g = a.goroutines
        sel = lambda k: Dumps(g[g["snapshot"] == k], a.frames,  # noqa: E731
                              a.snapshots[a.snapshots["snapshot"] == k], a.warnings.iloc[:0])
        return diff(sel(i), sel(j), labels_fn=labels_fn, tolerance=tolerance)
    shift = int(a.snapshots["snapshot"].max()) + 1 if len(a.snapshots) else 0
    joint = Dumps.concat([a, _shift(b, shift)])
    labels = pd.Series(np.asarray((labels_fn or cluster)(joint)), index=joint.goroutines.index)
    g = joint.goroutines
    side = np.where(g["snapshot"].to_numpy() >= shift, "after", "before")
    n_snap = {
        "before": max(a.snapshots["snapshot"].nunique(), 1),
        "after": max(b.snapshots["snapshot"].nunique(), 1),
    }
    tab = (
        pd.DataFrame({"cluster": labels.to_numpy(), "side": side, "count": g["count"].to_numpy()})
        .groupby(["cluster", "side"])["count"].sum().unstack(fill_value=0)
        .reindex(columns=["before", "after"], fill_value=0)
    )
    tab["before"] = tab["before"] / n_snap["before"]
    tab["after"] = tab["after"] / n_snap["after"]
    sites = cluster_sites(joint, labels).set_index("cluster")
    out = tab.join(sites[["site", "file", "line", "state", "entry", "created_by"]])
    out["delta"] = out["after"] - out["before"]
    out["ratio"] = out["after"] / out["before"].where(out["before"] > 0)
    out["change"] = pd.Categorical(
        [_change(x, y, tolerance) for x, y in zip(out["before"], out["after"], strict=True)],
        categories=CHANGES,
    )
    out = out.reset_index().rename(columns={"index": "cluster"})
    out["_abs"] = out["delta"].abs()
    out = out.sort_values(["_abs", "site"], ascending=[False, True], kind="stable").drop(columns="_abs")
    cols = ["cluster", "site", "file", "line", "state", "entry", "created_by", "before", "after",
            "delta", "ratio", "change"]
    return out[cols].reset_index(drop=True)


def _change(before: float, after: float, tol: float) -> str:
    if before == 0 and after > 0:
        return "appeared"
    if after == 0 and before > 0:
        return "vanished"
    if before == after or abs(after - before) <= tol * max(before, after):
        return "same"
    return "grew" if after > before else "shrank"
