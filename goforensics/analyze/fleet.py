"""Triage a fleet: per-instance analyses where the partitions are, fleet verdicts on the client.

The question on call is "which instances, since when, and is it the same cause
everywhere?". :func:`goforensics.fleet.fleet_triage` answers it over hundreds of instances, on a Dask
cluster or in this process, in three steps:

1. **Load** every instance where its files are (:func:`goforensics.read.fleet.load_instance`,
   one task per instance); the tables stay there.
2. **Cluster once for the fleet.** Cluster ids must name the same cause on every
   instance, so they cannot come from clustering each instance alone. Each partition
   sends its *distinct stacks* (one row per stack, state and creator, with the goroutines
   they stand for over its snapshots, and those stacks' frames: small) to one task, which
   clusters their union with :func:`goforensics.analyze.clustering.cluster`. Weighting
   by those sums makes the buckets, their states and the cluster numbering exactly those
   of clustering the whole fleet's goroutines at once. Family adoption (a standard-library
   goroutine joining the cluster of the goroutine that started it) follows goroutine ids
   row by row, so it is left out (``families=False``): a fleet cluster is a function of
   the stack, ``stack_id -> cluster``, and that small table labels each partition.
3. **Analyse per partition** (:func:`analyze_partition`): suspects, per-snapshot counts
   and the growth of each cause in that instance. Only these small tables come back;
   :func:`fleet_verdicts` then says, for each cause, which instances carry it (it grows
   there: the same test as :func:`goforensics.analyze.suspects.trend`), since when, and
   whether it is everywhere or an outlier.

The result does not depend on the scheduler: every step is a pure function of its
partition, and tables are sorted before they are returned.

The run itself (schedulers, progress, the task graph) is :func:`goforensics.fleet.fleet_triage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ..errors import LoadError
from ..model import Dumps
from ..read.fleet import Partition
from .clustering import DEFAULT_LEVEL, DEFAULT_THRESHOLD, cluster, cluster_counts, describe_clusters
from .suspects import suspects
from .trend import trend

__all__ = [
    "FleetResult",
    "analyze_partition",
    "distinct_stacks",
    "fleet_clusters",
    "fleet_verdicts",
]

_STACK_KEYS = ["stack_id", "state", "created_by"]
_SUMMARY = [
    "cluster",
    "stacks",
    "representative",
    "frames",
    "site_function",
    "site_file",
    "site_line",
    "state",
    "entry_function",
    "created_by",
]


@dataclass
class FleetResult:
    """What a fleet triage brings back: small tables, one row per instance or cause.

    ``instances``: instance, files, snapshots, first_taken_at, last_taken_at,
    goroutines_first, goroutines_last, warnings, unreadable. ``clusters``: the fleet's
    causes (cluster, stacks, representative, frames, site_function, site_file, site_line,
    state, entry_function, created_by). ``counts``: instance, snapshot, taken_at, cluster,
    goroutines (non-zero cells). ``growth``: instance, cluster, snapshots, first, last, peak,
    slope, per_minute, mk_p, grows, since_snapshot, since. ``suspects``: instance then
    :data:`goforensics.analyze.suspects.SUSPECT_COLUMNS` (the top of each instance).
    ``verdicts``: see :func:`fleet_verdicts`. ``warnings``: instance, source, kind,
    message (files that could not be read).
    """

    instances: pd.DataFrame
    clusters: pd.DataFrame
    counts: pd.DataFrame
    growth: pd.DataFrame
    suspects: pd.DataFrame
    verdicts: pd.DataFrame
    warnings: pd.DataFrame
    parquet: str | None = None
    extra: dict = field(default_factory=dict)

    def equals(self, other: FleetResult) -> bool:
        """Every table equal to ``other``'s (values and dtypes).

        Parameters
        ----------
        other : FleetResult
            The result to compare with.

        Returns
        -------
        bool
            True when every table has the same values and dtypes.

        Examples
        --------
        >>> import pandas as pd
        >>> e = pd.DataFrame()
        >>> FleetResult(e, e, e, e, e, e, e).equals(FleetResult(e, e, e, e, e, e, e))
        True
        """
        return all(
            getattr(self, f.name).equals(getattr(other, f.name))
            for f in fields(self)
            if f.type == "pd.DataFrame"
        )


def distinct_stacks(part: Partition) -> Dumps:
    """A partition's distinct stacks: what clustering needs, a few rows per stack.

    Parameters
    ----------
    part : a loaded instance.

    Returns
    -------
    Dumps whose goroutines have one row per (``stack_id``, ``state``, ``created_by``)
    with ``count`` the goroutines it stands for over all snapshots (``entry_function``,
    ``top_function`` of the stack), and the frames of those stacks.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.read.fleet import Partition
    >>> t = "goroutine {} [chan send]:\\nmain.emit()\\n\\t/app/a.go:7 +0x1\\n\\n"
    >>> s = distinct_stacks(Partition("a", gf.parse_text(t.format(1) + t.format(2))))
    >>> s.goroutines[["state", "count"]].values.tolist()
    [['chan send', 2]]
    """
    g = part.dumps.goroutines
    if g.empty:
        return Dumps()
    by = g.groupby(_STACK_KEYS, observed=True, sort=True, dropna=False)
    rows = by.agg(
        count=("count", "sum"),
        entry_function=("entry_function", "first"),
        top_function=("top_function", "first"),
        n_frames=("n_frames", "first"),
    )
    rows = rows.reset_index()
    for c in ("state", "created_by", "entry_function", "top_function"):
        rows[c] = rows[c].astype(str)
    rows["raw_state"] = rows["state"]
    frames = part.dumps.frames
    frames = frames[frames["stack_id"].isin(rows["stack_id"].to_numpy())]
    return Dumps.concat([Dumps(goroutines=rows, frames=frames)])


def fleet_clusters(
    stacks: list[Dumps], level: str = DEFAULT_LEVEL, threshold: float = DEFAULT_THRESHOLD
) -> tuple[pd.Series, pd.DataFrame]:
    """Cluster the union of the partitions' distinct stacks, once for the fleet.

    Parameters
    ----------
    stacks : :func:`distinct_stacks` of every partition (in any order).
    level, threshold : as for :func:`goforensics.analyze.clustering.cluster`; the
        ``exact`` level (arguments of each goroutine) is not a property of a stack and
        is refused.

    Returns
    -------
    (mapping, clusters): ``mapping`` is the cluster id of each ``stack_id`` (a Series
    indexed by stack_id); ``clusters`` one row per cluster with the columns of
    :attr:`FleetResult.clusters`.

    Examples
    --------
    >>> from goforensics.read.fleet import discover, load_instance
    >>> part = load_instance(discover("bundled:demo")[0])
    >>> mapping, clusters = fleet_clusters([distinct_stacks(part)])
    >>> mapping.index.name, len(clusters) == mapping.nunique()
    ('stack_id', True)
    """
    if level == "exact":
        raise ValueError("a fleet is clustered per stack: choose a level other than 'exact'")
    union = Dumps.concat(stacks)
    g = union.goroutines
    if g.empty:
        return pd.Series([], dtype=np.int64, name="cluster"), pd.DataFrame(columns=_SUMMARY)
    for c in _STACK_KEYS[1:]:
        g[c] = g[c].astype(str)
    rows = (
        g.groupby(_STACK_KEYS, sort=True)
        .agg(
            count=("count", "sum"),
            entry_function=("entry_function", "first"),
            top_function=("top_function", "first"),
            n_frames=("n_frames", "first"),
        )
        .reset_index()
    )
    rows["raw_state"] = rows["state"]
    compact = Dumps.concat([Dumps(goroutines=rows, frames=union.frames)])
    labels = cluster(compact, level=level, threshold=threshold, families=False)
    sid = compact.goroutines["stack_id"].to_numpy(dtype=np.uint64)
    mapping = pd.Series(labels.to_numpy(), index=pd.Index(sid, name="stack_id"), name="cluster")
    mapping = mapping.groupby(level=0, sort=True).first()
    summary = describe_clusters(compact, labels)
    return mapping, summary[_SUMMARY].reset_index(drop=True)


def _minutes(snaps: pd.DataFrame) -> np.ndarray | None:
    """Capture times in minutes, where they are real (as suspects measures growth)."""
    t = snaps["taken_at"]
    if len(t) > 1 and t.notna().all() and not (snaps["time_source"].astype(str) == "mtime").all():
        return ((t - t.min()).dt.total_seconds() / 60.0).to_numpy()
    return None


def _growth(name: str, wide: pd.DataFrame, snaps: pd.DataFrame) -> pd.DataFrame:
    """Per cluster of one instance: its trend, whether it grows, and since when."""
    minutes = _minutes(snaps)
    times = snaps.set_index("snapshot")["taken_at"]
    rows = []
    for c in wide.columns:
        y = wide[c].to_numpy()
        t = trend(y, minutes)
        since = None
        if t.grows:
            # the first snapshot from which the count stays above where the series began
            above = y > y[0]
            k = len(y) - int(np.argmin(above[::-1])) if not above.all() else 0
            since = int(wide.index[min(k, len(y) - 1)])
        rows.append(
            {
                "instance": name,
                "cluster": int(c),
                "snapshots": len(y),
                "first": int(y[0]),
                "last": int(y[-1]),
                "peak": int(y.max()),
                "slope": float(t.slope),
                "per_minute": bool(t.per_minute),
                "mk_p": float(t.mk_p),
                "grows": bool(t.grows),
                "since_snapshot": since,
                "since": times.get(since) if since is not None else pd.NaT,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "instance",
            "cluster",
            "snapshots",
            "first",
            "last",
            "peak",
            "slope",
            "per_minute",
            "mk_p",
            "grows",
            "since_snapshot",
            "since",
        ],
    )
    out["since_snapshot"] = out["since_snapshot"].astype("Int64")
    out["since"] = pd.to_datetime(out["since"], utc=True)
    return out


def analyze_partition(
    part: Partition, mapping: pd.Series, top: int = 10
) -> dict[str, pd.DataFrame]:
    """The per-instance analyses, run where the partition is; returns only small tables.

    Parameters
    ----------
    part : a loaded instance.
    mapping : ``stack_id -> cluster`` from :func:`fleet_clusters`.
    top : suspects kept per instance.

    Returns
    -------
    dict of DataFrames ``instance``, ``counts``, ``growth``, ``suspects``, ``warnings``
    (the columns of the :class:`FleetResult` tables of those names, for this instance).

    Examples
    --------
    >>> from goforensics.read.fleet import discover, load_instance
    >>> part = load_instance(discover("bundled:demo")[0])
    >>> mapping, _ = fleet_clusters([distinct_stacks(part)])
    >>> out = analyze_partition(part, mapping, top=3)
    >>> sorted(out), len(out["suspects"])
    (['counts', 'growth', 'instance', 'suspects', 'warnings'], 3)
    """
    d, name = part.dumps, part.name
    g, snaps = d.goroutines, d.snapshots.sort_values("snapshot")
    labels = pd.Series(
        mapping.reindex(g["stack_id"].to_numpy(dtype=np.uint64)).to_numpy(),
        index=g.index,
        name="cluster",
    )
    if labels.isna().any():
        raise LoadError(f"{name}: stacks missing from the fleet clustering")
    labels = labels.astype(np.int64)
    wide = cluster_counts(d, labels) if len(g) else pd.DataFrame(index=snaps["snapshot"])
    per = wide.sum(axis=1)
    long = wide.rename_axis(columns="cluster").stack().rename("goroutines").reset_index()
    long = long[long["goroutines"] > 0]
    long.insert(0, "instance", name)
    long.insert(
        2, "taken_at", snaps.set_index("snapshot")["taken_at"].reindex(long["snapshot"]).to_numpy()
    )
    sus = suspects(d, labels, top=top, by="cluster") if len(g) else pd.DataFrame()
    sus.insert(0, "instance", name)
    w = d.warnings[d.warnings["kind"].astype(str) == "unreadable"]
    w = pd.DataFrame(
        {
            "source": w["source"].astype(str),
            "kind": "unreadable",
            "message": w["message"].astype(str),
        }
    )
    if part.files and not len(snaps):
        # files that hold no dump are said, not passed over: the instance is in the fleet
        # but nothing in it can carry a cause
        why = d.warnings["message"].astype(str).head(1).tolist()
        w.loc[len(w)] = [
            name,
            "no dump",
            f"no goroutine dump in its {part.files} file(s)" + (f" ({why[0]})" if why else ""),
        ]
    facts = {
        "instance": name,
        "files": part.files,
        "snapshots": len(snaps),
        "first_taken_at": snaps["taken_at"].min(),
        "last_taken_at": snaps["taken_at"].max(),
        "goroutines_first": int(per.iloc[0]) if len(per) else 0,
        "goroutines_last": int(per.iloc[-1]) if len(per) else 0,
        "warnings": len(d.warnings),
        "unreadable": len(part.unreadable),
    }
    return {
        "instance": pd.DataFrame([facts]),
        "counts": long.reset_index(drop=True),
        "growth": _growth(name, wide, snaps),
        "suspects": sus.drop(columns=["instances"], errors="ignore"),
        "warnings": w.assign(instance=name)[["instance", "source", "kind", "message"]],
    }


def fleet_verdicts(
    growth: pd.DataFrame, clusters: pd.DataFrame, instances: pd.DataFrame
) -> pd.DataFrame:
    """For each cause that grows somewhere: which instances, since when, everywhere or not.

    Parameters
    ----------
    growth, clusters, instances : the :class:`FleetResult` tables.

    Returns
    -------
    One row per cause carried by at least one instance: ``cluster``, ``site``, ``file``,
    ``line``, ``state``; ``carried_by`` (instances where it grows, sorted), ``carriers``
    and ``of`` (instances with 3+ snapshots: where growth can be told at all);
    ``present_in`` (instances with goroutines of it at their last snapshot); ``scope``:
    ``everywhere`` (every instance that can tell), ``outlier`` (one instance of three or
    more), ``some`` (the others), ``only instance``; ``since`` (earliest capture time
    from which it stayed above its first count, over its carriers) and ``since_first``
    (the carrier it started on); ``goroutines`` (last counts summed over carriers).
    Sorted by carriers, goroutines (descending), then cluster.

    Examples
    --------
    >>> gr = pd.DataFrame({"instance": ["a", "b", "c"], "cluster": 0, "snapshots": 5,
    ...                    "last": [9, 1, 1], "grows": [True, False, False],
    ...                    "since": pd.to_datetime(["2026-01-01", None, None], utc=True)})
    >>> cl = pd.DataFrame({"cluster": [0], "site_function": ["main.f"], "site_file": ["a.go"],
    ...                    "site_line": [3], "state": ["chan send"]})
    >>> v = fleet_verdicts(gr, cl, pd.DataFrame({"instance": ["a", "b", "c"], "snapshots": 5}))
    >>> v[["cluster", "carried_by", "scope", "present_in"]].values.tolist()
    [[0, ['a'], 'outlier', 3]]
    """
    cols = [
        "cluster",
        "site",
        "file",
        "line",
        "state",
        "carried_by",
        "carriers",
        "of",
        "present_in",
        "scope",
        "since",
        "since_first",
        "goroutines",
    ]
    of = int((instances["snapshots"] >= 3).sum()) if len(instances) else 0
    grows = growth[growth["grows"]] if len(growth) else growth
    if not len(grows):
        return pd.DataFrame(columns=cols)
    site = clusters.set_index("cluster")
    present = growth[growth["last"] > 0].groupby("cluster")["instance"].nunique()
    rows = []
    for c, x in grows.groupby("cluster", sort=True):
        x = x.sort_values(["since", "instance"], na_position="last", kind="stable")
        n = len(x)
        scope = (
            "only instance"
            if of <= 1
            else "everywhere"
            if n >= of
            else "outlier"
            if n == 1 and of >= 3
            else "some"
        )
        s = site.loc[c] if c in site.index else None
        rows.append(
            {
                "cluster": int(c),
                "site": "" if s is None else str(s["site_function"]),
                "file": "" if s is None else str(s["site_file"]),
                "line": None if s is None or pd.isna(s["site_line"]) else int(s["site_line"]),
                "state": "" if s is None else str(s["state"]),
                "carried_by": sorted(x["instance"].tolist()),
                "carriers": n,
                "of": of,
                "present_in": int(present.get(c, 0)),
                "scope": scope,
                "since": x["since"].iloc[0],
                "since_first": str(x["instance"].iloc[0]),
                "goroutines": int(x["last"].sum()),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    out["line"] = out["line"].astype("Int64")
    out["since"] = pd.to_datetime(out["since"], utc=True)
    out = out.sort_values(
        ["carriers", "goroutines", "cluster"], ascending=[False, False, True], kind="stable"
    )
    return out.reset_index(drop=True)
