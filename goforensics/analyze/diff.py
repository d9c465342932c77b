"""What changed between two snapshots, or two series: appeared, grew, shrank, vanished.

Both sides are clustered together, so one cause has one id on both sides; each
cluster's size on a side is its mean goroutine count per snapshot of that side. Changes
within the noise of a count (see :func:`diff`) are "same".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import Dumps
from .clustering import cluster, cluster_sites

__all__ = ["CHANGES", "changes", "diff"]

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
    min_change: float = 2,
    noise_sigmas: float = 3.0,
) -> pd.DataFrame:
    """Compare two series (or, with ``b=None``, two snapshots of ``a``: ``before`` and
    ``after``, by default its first and last).

    A change is "same" when it is noise: smaller than ``min_change`` goroutines, or both
    within ``tolerance`` of the larger side and within ``noise_sigmas`` standard deviations
    of a Poisson count of that size (``sqrt(n)``). So a +1 churn is never listed as a
    change, while a +564 over 6,000 (9%) is growth: 7 standard deviations.

    Parameters
    ----------
    a, b : the two sides (series or single dumps).
    before, after : snapshot ids (negative: from the end) of ``a`` when ``b`` is None.
    labels_fn : ``labels_fn(dumps) -> labels`` clusters the joint series (default
        :func:`goforensics.analyze.clustering.cluster`), so one cause has one id on both sides.
    tolerance : relative change (of the larger side) below which a change may be noise.
    min_change : absolute change, in goroutines, below which a change is noise.
    noise_sigmas : changes larger than this many ``sqrt(n)`` are real whatever their share.

    Returns
    -------
    DataFrame
        One row per cluster: ``cluster``, ``site``, ``file``, ``line``, ``state``, ``entry``,
        ``created_by``; ``before`` and ``after`` (mean goroutines per snapshot of each side:
        the count itself for single dumps), ``delta`` (after - before), ``ratio`` (after /
        before, NaN when before is 0), ``relative`` (delta / before, inf when it appeared)
        and ``change`` (appeared, grew, shrank, vanished, or same for noise). Real changes
        come first, by absolute then relative size; then the rest the same way.

    Examples
    --------
    >>> import goforensics as gf
    >>> a = gf.parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
    >>> leak = "goroutine {} [chan send]:\\nmain.leak()\\n\\t/m.go:9 +0x1\\n\\n"
    >>> b = gf.parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n\\n"
    ...                   + "".join(leak.format(i) for i in range(2, 5)))
    >>> by_stack = lambda d: d.goroutines.groupby("stack_id", observed=True).ngroup()
    >>> diff(a, b, labels_fn=by_stack)[["site", "change", "before", "after"]].values.tolist()
    [['main.leak', 'appeared', 0.0, 3.0], ['main.main', 'same', 1.0, 1.0]]
    """
    if b is None:
        snaps = sorted(a.snapshots["snapshot"].tolist())
        if not snaps:
            raise ValueError("nothing to compare: no snapshots")
        i = snaps[0] if before is None else snaps[before] if before < 0 else before
        j = snaps[-1] if after is None else snaps[after] if after < 0 else after
        g = a.goroutines

        def sel(k: int) -> Dumps:
            s = a.snapshots
            return Dumps(
                g[g["snapshot"] == k], a.frames, s[s["snapshot"] == k], a.warnings.iloc[:0]
            )

        return diff(
            sel(i),
            sel(j),
            labels_fn=labels_fn,
            tolerance=tolerance,
            min_change=min_change,
            noise_sigmas=noise_sigmas,
        )
    shift = int(a.snapshots["snapshot"].max()) + 1 if len(a.snapshots) else 0
    joint = Dumps.concat([a, _shift(b, shift)])
    labels = pd.Series(np.asarray((labels_fn or cluster)(joint)), index=joint.goroutines.index)
    out = _sides(joint, labels, shift, a, b)
    sites = cluster_sites(joint, labels).set_index("cluster")
    out = out.join(sites[["site", "file", "line", "state", "entry", "created_by"]])
    out["delta"] = out["after"] - out["before"]
    out["ratio"] = out["after"] / out["before"].where(out["before"] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["relative"] = np.where(
            out["before"] > 0,
            out["delta"] / out["before"].where(out["before"] > 0),
            np.where(out["after"] > 0, np.inf, 0.0),
        )
    kind = changes(
        out["before"].to_numpy(),
        out["after"].to_numpy(),
        tolerance=tolerance,
        min_change=min_change,
        noise_sigmas=noise_sigmas,
    )
    out["change"] = pd.Categorical(kind, categories=CHANGES)
    out = out.reset_index().rename(columns={"index": "cluster"})
    out = out.assign(
        _same=out["change"] == "same", _abs=out["delta"].abs(), _rel=out["relative"].abs()
    )
    out = out.sort_values(
        ["_same", "_abs", "_rel", "site"], ascending=[True, False, False, True], kind="stable"
    )
    return out[_COLUMNS].reset_index(drop=True)


_COLUMNS = [
    "cluster",
    "site",
    "file",
    "line",
    "state",
    "entry",
    "created_by",
    "before",
    "after",
    "delta",
    "ratio",
    "relative",
    "change",
]


def _sides(joint: Dumps, labels: pd.Series, shift: int, a: Dumps, b: Dumps) -> pd.DataFrame:
    """Mean goroutines per snapshot of each side (``before``, ``after``), per cluster."""
    g = joint.goroutines
    side = np.where(g["snapshot"].to_numpy() >= shift, "after", "before")
    tab = (
        pd.DataFrame({"cluster": labels.to_numpy(), "side": side, "count": g["count"].to_numpy()})
        .groupby(["cluster", "side"])["count"]
        .sum()
        .unstack(fill_value=0)
        .reindex(columns=["before", "after"], fill_value=0)
    )
    tab["before"] = tab["before"] / max(a.snapshots["snapshot"].nunique(), 1)
    tab["after"] = tab["after"] / max(b.snapshots["snapshot"].nunique(), 1)
    return tab


def changes(
    before: np.ndarray,
    after: np.ndarray,
    *,
    tolerance: float = 0.1,
    min_change: float = 2,
    noise_sigmas: float = 3.0,
) -> np.ndarray:
    """The ``change`` of each pair of counts (see :func:`diff` for the rule).

    Parameters
    ----------
    before, after : goroutines on each side.
    tolerance, min_change, noise_sigmas : as in :func:`diff`.

    Returns
    -------
    ndarray of str
        appeared, grew, shrank, vanished or same.

    Examples
    --------
    >>> changes(np.array([100, 100, 6000, 0, 3]), np.array([101, 120, 6564, 1, 0])).tolist()
    ['same', 'grew', 'grew', 'same', 'vanished']
    """
    before = np.asarray(before, dtype=float)
    after = np.asarray(after, dtype=float)
    delta = np.abs(after - before)
    big = np.maximum(before, after)
    noise = (delta < min_change) | (
        (delta <= tolerance * big) & (delta <= noise_sigmas * np.sqrt(big))
    )
    kind = np.where(
        before == 0,
        "appeared",
        np.where(after == 0, "vanished", np.where(after > before, "grew", "shrank")),
    )
    return np.where(noise, "same", kind)
