"""What a clustering says: each cluster described (size now, first, peak; its blocking site,
representative stack and state mix), its sites, and its goroutines per snapshot.

These read any labels aligned with ``dumps.goroutines`` (from :func:`goforensics.cluster`, a
cause level, or your own), so they live apart from the clustering that makes them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..goruntime import is_wait_plumbing
from ..model import Dumps

__all__ = ["cluster_counts", "cluster_sites", "describe_clusters"]


def _labels(dumps: Dumps, labels) -> np.ndarray:
    lab = np.asarray(labels, dtype=np.int64)
    if len(lab) != len(dumps.goroutines):
        raise ValueError(f"{len(lab)} labels for {len(dumps.goroutines)} goroutine rows")
    return lab


def _stack_sites(dumps: Dumps, stack_ids: np.ndarray) -> pd.DataFrame:
    """Per stack: its frames as text (``frames``, top first) and the frame where it blocks
    in application code (``site_function``, ``site_file``, ``site_line``; ``site_class`` and
    ``site_depth`` of that function's topmost frame).

    The site is the topmost application frame, else the topmost frame outside the runtime
    and low-level plumbing (net/http's ``(*persistConn).Read`` rather than
    ``internal/poll.runtime_pollWait``), else the topmost non-runtime frame, else the top
    frame. One pass over the frames of all the stacks: no work per stack in pandas.
    """
    own = dumps.frames
    f = own[(own["section"] == 0) & own["stack_id"].isin(stack_ids)].sort_values(
        ["stack_id", "depth"], kind="stable"
    )
    if f.empty:
        return pd.DataFrame(
            columns=[
                "stack_id",
                "frames",
                "site_function",
                "site_file",
                "site_line",
                "site_class",
                "site_depth",
            ]
        ).astype({"stack_id": np.uint64})
    sid = f["stack_id"].to_numpy(dtype=np.uint64)
    fn = f["function"].astype(str).to_numpy(dtype=object)
    file = f["file"].astype(str).to_numpy(dtype=object)
    line = f["line"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    cls = f["frame_class"].astype(str).to_numpy(dtype=object)
    depth = f["depth"].to_numpy(dtype=np.int64)
    plumbing = is_wait_plumbing(f["function"]).to_numpy(dtype=bool)
    runtime = cls == "runtime"
    prio = np.where(
        cls == "application", 0, np.where(~runtime & ~plumbing, 1, np.where(~runtime, 2, 3))
    )
    pos = np.arange(len(f))
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    ends = np.r_[starts[1:], len(f)].astype(np.int64)
    stack_of = np.repeat(np.arange(len(starts)), ends - starts)
    order = np.lexsort((pos, prio, stack_of))
    site = order[np.r_[True, stack_of[order][1:] != stack_of[order][:-1]]]
    # the site function's topmost frame (recursion puts it higher than the site itself)
    same = np.flatnonzero(fn == fn[site][stack_of])
    top = same[np.r_[True, stack_of[same][1:] != stack_of[same][:-1]]]
    line_text = ["" if np.isnan(x) else str(int(x)) for x in line]
    pieces = [f"{a}\n\t{b}:{c}" for a, b, c in zip(fn, file, line_text, strict=True)]
    return pd.DataFrame(
        {
            "stack_id": sid[starts],
            "frames": [
                "\n".join(pieces[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
            ],
            "site_function": fn[site],
            "site_file": file[site],
            "site_line": pd.array(
                [None if np.isnan(x) else int(x) for x in line[site]], dtype="Int64"
            ),
            "site_class": cls[top],
            "site_depth": depth[top],
        }
    )


def _describe(dumps: Dumps, labels) -> pd.DataFrame:
    """:func:`describe_clusters` plus ``site_class`` and ``site_depth``."""
    lab = _labels(dumps, labels)
    g = dumps.goroutines
    t = pd.DataFrame(
        {
            "cluster": lab,
            "stack_id": g["stack_id"].to_numpy(dtype=np.uint64),
            "count": g["count"].to_numpy(dtype=np.int64),
            "snapshot": g["snapshot"].to_numpy(dtype=np.int64),
        }
    )
    by = t.groupby("cluster", sort=True)
    out = pd.DataFrame(
        {
            "goroutines": by["count"].sum(),
            "rows": by.size(),
            "stacks": by["stack_id"].nunique(),
            "snapshots": by["snapshot"].nunique(),
            "first_snapshot": by["snapshot"].min(),
            "last_snapshot": by["snapshot"].max(),
        }
    )
    out = out.join(_counts_now(dumps, t))
    out["representative"] = _representative(dumps, t)
    for col in ("state", "entry_function", "created_by"):
        t[col] = g[col].astype(str).to_numpy()
        out[col] = _top_value(t, col)
    # The state said beside the site is that of the goroutines on the stack the site is read
    # from: a request running into a crash, with its connection's reader parked in IO wait
    # beside it, is "running" at the handler's line, not "IO wait" there.
    on_rep = t["stack_id"].to_numpy() == out["representative"].reindex(t["cluster"]).to_numpy()
    out["state"] = _top_value(t[on_rep], "state")
    out["states"] = _state_mix(t)
    out = out.rename_axis("cluster").reset_index()
    out["representative"] = out["representative"].astype(np.uint64)
    sites = _stack_sites(dumps, pd.unique(out["representative"].to_numpy()))
    out = out.merge(sites, how="left", left_on="representative", right_on="stack_id").drop(
        columns="stack_id"
    )
    out["frames"] = out["frames"].fillna("")
    for c in ("site_function", "site_file", "site_class"):
        out[c] = out[c].fillna("").astype(object)
    out["site_line"] = out["site_line"].astype("Int64")
    out["site_depth"] = out["site_depth"].astype("Int64")
    for c in ("goroutines", "rows", "stacks", "snapshots", "first_snapshot", "last_snapshot"):
        out[c] = out[c].astype(np.int64)
    return out


def _counts_now(dumps: Dumps, t: pd.DataFrame) -> pd.DataFrame:
    """Per cluster: goroutines in the first and in the last snapshot (of each instance,
    summed over instances) and in its peak snapshot, from the long (cluster, snapshot) sums."""
    long = t.groupby(["cluster", "snapshot"], sort=False)["count"].sum().reset_index()
    s = dumps.snapshots
    by_inst = s.groupby(s["instance"].astype(str), sort=False)["snapshot"]
    out = pd.DataFrame(index=pd.Index(pd.unique(long["cluster"]), name="cluster"))
    for name, snaps in (("goroutines_first", by_inst.min()), ("goroutines_last", by_inst.max())):
        sel = long[long["snapshot"].isin(snaps.to_numpy())]
        out[name] = sel.groupby("cluster")["count"].sum()
    out["goroutines_peak"] = long.groupby("cluster")["count"].max()
    return out.fillna(0).astype(np.int64)


def _state_mix(t: pd.DataFrame) -> pd.Series:
    """Per cluster, a JSON object of goroutines per state, most first (ties: by name)."""
    st = t.groupby(["cluster", "state"], sort=True)["count"].sum().reset_index()
    st = st.sort_values(["cluster", "count", "state"], ascending=[True, False, True], kind="stable")
    cl = st["cluster"].to_numpy()
    starts = np.flatnonzero(np.r_[True, cl[1:] != cl[:-1]])
    ends = np.r_[starts[1:], len(cl)]
    items = [f"{json.dumps(k)}: {int(v)}" for k, v in zip(st["state"], st["count"], strict=True)]
    return pd.Series(
        ["{" + ", ".join(items[a:b]) + "}" for a, b in zip(starts, ends, strict=True)],
        index=cl[starts],
    )


def describe_clusters(dumps: Dumps, labels) -> pd.DataFrame:
    """One row per cluster: size, representative stack, blocking site, state mix, creators.

    Columns: ``cluster``; ``goroutines_last`` (goroutines in the last snapshot of each
    instance: the current state), ``goroutines_first`` (in the first), ``goroutines_peak``
    (in its largest snapshot); ``goroutines`` (summed over every snapshot: a series counts a
    goroutine once per snapshot it is seen in); ``rows``; ``stacks`` (distinct stacks);
    ``snapshots`` (snapshots it appears in), ``first_snapshot``, ``last_snapshot``;
    ``representative`` (the ``stack_id`` with the most goroutines) and ``frames`` (its frames
    as text, top first); ``site_function``, ``site_file``, ``site_line`` (the topmost
    application frame of the representative, else its topmost non-runtime frame);
    ``state`` (dominant) and ``states`` (JSON object of goroutines per state);
    ``entry_function``, ``created_by`` (dominant). Sorted by ``cluster``.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    labels : Series
        Cluster id per goroutine row.

    Returns
    -------
    DataFrame
        One row per cluster, with the columns above.

    Examples
    --------
    >>> import goforensics as gf
    >>> t = "goroutine {} [chan send]:\\nmain.emit()\\n\\t/app/a.go:7 +0x1\\n\\n"
    >>> d = gf.parse_text(t.format(1) + t.format(2))
    >>> row = describe_clusters(d, gf.cluster(d)).iloc[0]
    >>> int(row["goroutines"]), row["site_function"], int(row["site_line"]), row["states"]
    (2, 'main.emit', 7, '{"chan send": 2}')
    """
    cols = [
        "cluster",
        "goroutines_last",
        "goroutines_first",
        "goroutines_peak",
        "goroutines",
        "rows",
        "stacks",
        "snapshots",
        "first_snapshot",
        "last_snapshot",
        "representative",
        "frames",
        "site_function",
        "site_file",
        "site_line",
        "state",
        "states",
        "entry_function",
        "created_by",
    ]
    if not len(dumps.goroutines):
        return pd.DataFrame(columns=cols)
    return _describe(dumps, labels)[cols]


def cluster_sites(dumps: Dumps, labels) -> pd.DataFrame:
    """Per cluster, where it blocks: :func:`describe_clusters` under the names suspects use.

    Parameters
    ----------
    dumps : the series.
    labels : cluster ids aligned with ``dumps.goroutines``.

    Returns
    -------
    DataFrame
        One row per cluster: ``cluster``, ``stack_id`` (representative), ``site``, ``file``,
        ``line`` (the application frame where it blocks), ``site_class``, ``site_depth``
        (that frame's class and depth), ``state``, ``states`` (dict), ``entry``,
        ``created_by``, ``goroutines`` (summed over the snapshots).

    Examples
    --------
    >>> import goforensics as gf
    >>> t = "goroutine {} [chan send]:\\nmain.emit()\\n\\t/app/a.go:7 +0x1\\n\\n"
    >>> d = gf.parse_text(t.format(1) + t.format(2))
    >>> cluster_sites(d, gf.cluster(d))[["site", "line", "site_class", "states"]].values.tolist()
    [['main.emit', 7, 'application', {'chan send': 2}]]
    """
    if not len(dumps.goroutines):
        return pd.DataFrame(
            columns=[
                "cluster",
                "stack_id",
                "site",
                "file",
                "line",
                "site_class",
                "site_depth",
                "state",
                "states",
                "entry",
                "created_by",
                "goroutines",
            ]
        )
    dc = _describe(dumps, labels)
    return pd.DataFrame(
        {
            "cluster": dc["cluster"],
            "stack_id": dc["representative"],
            "site": dc["site_function"].astype(str),
            "file": dc["site_file"].astype(str),
            "line": dc["site_line"],
            "site_class": dc["site_class"].astype(str),
            "site_depth": [None if pd.isna(x) else int(x) for x in dc["site_depth"]],
            "state": dc["state"].astype(str),
            "states": [json.loads(x) for x in dc["states"]],
            "entry": dc["entry_function"].astype(str),
            "created_by": dc["created_by"].astype(str),
            "goroutines": dc["goroutines"].astype(int),
        }
    )


def _representative(dumps: Dumps, t: pd.DataFrame) -> pd.Series:
    """Per cluster, the stack with the most goroutines; of stacks as many, one with
    application code (a request and its connection's reader, one each: the request)."""
    s = t.groupby(["cluster", "stack_id"], sort=True)["count"].sum().reset_index()
    f = dumps.frames
    app = f.loc[
        (f["section"] == 0) & (f["frame_class"].astype(str) == "application"), "stack_id"
    ].unique()
    s["app"] = s["stack_id"].isin(app)
    s = s.sort_values(
        ["cluster", "count", "app", "stack_id"], ascending=[True, False, False, True], kind="stable"
    )
    return s.drop_duplicates("cluster").set_index("cluster")["stack_id"]


def _top_value(t: pd.DataFrame, col: str) -> pd.Series:
    """Per cluster, the value of ``col`` with the most goroutines (ties: the smallest value)."""
    s = t.groupby(["cluster", col], sort=True)["count"].sum().reset_index()
    s = s.sort_values(["cluster", "count", col], ascending=[True, False, True], kind="stable")
    return s.drop_duplicates("cluster").set_index("cluster")[col]


def cluster_counts(dumps: Dumps, labels) -> pd.DataFrame:
    """Goroutines per snapshot (rows, every snapshot of the series) and cluster (columns).

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    labels : Series
        Cluster id per goroutine row.

    Returns
    -------
    DataFrame
        Goroutines per snapshot (index) and cluster (columns), 0 where a cluster is absent.

    Examples
    --------
    >>> import goforensics as gf
    >>> t = "goroutine {} [chan send]:\\nmain.emit()\\n\\t/app/a.go:7 +0x1\\n\\n"
    >>> d = gf.Dumps.concat([gf.parse_text(t.format(1)), gf.parse_text(t.format(1) + t.format(2))])
    >>> d.goroutines["snapshot"] = [0, 1, 1]
    >>> cluster_counts(d, gf.cluster(d)).to_dict()
    {0: {0: 1, 1: 2}}
    """
    lab = _labels(dumps, labels)
    g = dumps.goroutines
    snaps = sorted(set(dumps.snapshots["snapshot"].astype(int)) | set(g["snapshot"].astype(int)))
    t = pd.DataFrame(
        {
            "snapshot": g["snapshot"].to_numpy(dtype=np.int64),
            "cluster": lab,
            "count": g["count"].to_numpy(dtype=np.int64),
        }
    )
    wide = t.pivot_table(
        index="snapshot", columns="cluster", values="count", aggfunc="sum", fill_value=0
    )
    wide = wide.reindex(index=snaps, fill_value=0).astype(np.int64)
    wide.columns = wide.columns.astype(np.int64)
    wide.columns.name = "cluster"
    wide.index.name = "snapshot"
    return wide
