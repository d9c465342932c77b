"""Causes above clusters: the sites of one leaking mechanism, as one cause.

A cluster is a site (where a group of goroutines blocks, in which state, from which entry). One
mechanism often shows at several sites; ranking the sites puts one bug in the top K several
times and pushes the next bug out. Clusters are joined into one cause when:

- **one application function** blocks them, at several lines or reached from several entries
  (same site function), or, in one dump, one application entry function blocked in one state
  at several sites;
- they are **one client connection's goroutines**: the ``readLoop`` and ``writeLoop`` of
  ``net/http.(*persistConn)`` and the callers parked in ``persistConn.roundTrip``, paired through
  their creator (``Transport.dialConn``) when they grow together;
- they are **one server's connections**: goroutines of one entry function that grow together
  (``conn.serve`` waiting in the server's reader or in a handler's body read);
- they are **a lock's waiters and its blocked holder** (the wait-for graph's holder facts), or,
  where the dump has no goroutine ids to build that graph (``debug=1``, ``debug=0``), growing
  waiters for a lock in methods of one receiver type.

Benign shapes (idle pools, periodic loops, keep-alive connections, accept loops, the runtime's
own goroutines) never join a growing group. Connections and entries pair only by growing
together (healthy keep-alive connections share their entry with leaked ones); in one dump there
is no growth to pair them with, so only the first rule (in its one-dump form) and the last apply.

>>> import goforensics as gf
>>> d = gf.load("bundled:notifier")
>>> labels = gf.cluster(d)
>>> of = cause_of(d, labels)
>>> sites = cause_sites(d, labels, of)
>>> [s for s in sites if "main.(*stats).publish" in s][0]
['main.(*stats).flushGauge', 'main.(*stats).observe', 'main.(*stats).publish']
"""

from __future__ import annotations

import re

import pandas as pd

from ..goruntime import LOCK_STATES, frame_class, is_wait, split_function
from ..model import Dumps
from .clustering import cluster_sites, describe_clusters, resolve_labels
from .evidence import Facts, cluster_facts
from .patterns import CATALOGUE, match_patterns

__all__ = ["BENIGN_PATTERNS", "cause_of", "cause_sites", "causes", "describe_causes"]

#: Pattern ids of the catalogue's healthy shapes: they never join a growing group.
BENIGN_PATTERNS = frozenset(p.id for p in CATALOGUE if not p.leak)

_CONN_LOOPS = ("net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop")
_ROUND_TRIP = re.compile(r"^net/http\.\(\*persistConn\)\.roundTrip$")
_HOLDER_AT = re.compile(r" at (\S+)$")
_RECEIVER = re.compile(r"^(.+\.\(\*?[^)]+\))\.[^.]+$")


class _Union:
    def __init__(self, items) -> None:
        self.parent = {x: x for x in items}

    def find(self, x):
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _keys(f: Facts) -> list[tuple]:
    """The keys a cluster shares with the other sites of its cause."""
    keys: list[tuple] = []
    if f.site_class == "application" and f.state:
        keys.append(("site", f.site))
    if f.multi and f.growing:
        recv = _RECEIVER.match(f.site)
        if f.state in LOCK_STATES and recv:
            # without goroutine ids (debug=1, debug=0) there is no holder to pair by: growing
            # waiters for a lock in methods of one type wait for that type's mutex
            keys.append(("lock", recv.group(1)))
        if f.entry in _CONN_LOOPS or f.has(_ROUND_TRIP.pattern):
            keys.append(("client-conn",))
        elif f.entry:
            keys.append(("entry", f.entry))
    elif not f.multi and f.site_class == "application" and is_wait(f.state) and _app(f.entry):
        # one dump, no growth to pair by: one application goroutine body stuck the same way at
        # several of its calls (a stopper's Quiesce and Stop both in WaitGroup.Wait)
        keys.append(("entry-state", f.entry, f.state))
    return keys


def _app(function: str) -> bool:
    return bool(function) and frame_class(split_function(function)[0]) == "application"


def _holder_sites(f: Facts) -> list[str]:
    """The site functions of the blocked goroutines holding the lock this cluster waits for."""
    out = []
    for k in ("holder_blocked_on_channel", "holder_blocked"):
        m = _HOLDER_AT.search(str(f.resources.get(k, "")))
        if m:
            out.append(m.group(1))
    return out


def cause_of(
    dumps: Dumps, labels: pd.Series | None = None, *, facts: list[Facts] | None = None
) -> pd.Series:
    """The cause of each cluster: a Series indexed by cluster id, named ``cause``.

    Parameters
    ----------
    dumps : the series (or one dump).
    labels : cluster ids aligned with ``dumps.goroutines`` (default: clustered here).
    facts : the clusters' :func:`goforensics.analyze.evidence.cluster_facts`, where the caller
        has them already.

    Returns
    -------
    Series
        Indexed by cluster id; values are cause ids (the smallest cluster id of the cause).

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:checkout")
    >>> labels = gf.cluster(d)
    >>> of = cause_of(d, labels)
    >>> of.nunique() < labels.nunique()
    True
    """
    labels = resolve_labels(dumps, labels)
    facts = cluster_facts(dumps, labels) if facts is None else facts
    growing = {f.cluster: f.growing for f in facts}
    benign = {
        f.cluster: (m := match_patterns(f)) is not None and m.id in BENIGN_PATTERNS for f in facts
    }
    u = _Union([f.cluster for f in facts])
    first: dict[tuple, list] = {}
    for f in facts:
        for key in _keys(f):
            first.setdefault(key, []).append(f.cluster)
    multi = facts[0].multi if facts else False
    for key, members in first.items():
        for c in members[1:]:
            a, b = members[0], c
            if multi and growing[a] != growing[b] and key[0] != "site":
                continue  # connections and entries pair by growing together
            if (growing[a] or growing[b] or key[0] == "entry-state") and (benign[a] or benign[b]):
                continue
            u.join(a, b)
    # a lock's waiters and its blocked holder: one cause whether the holder grows or not (it is
    # often a single goroutine), never with a benign shape
    for f in facts:
        for site in _holder_sites(f):
            for c in first.get(("site", site), []):
                if not benign[c] and not benign[f.cluster]:
                    u.join(f.cluster, c)
    return pd.Series({f.cluster: u.find(f.cluster) for f in facts}, name="cause")


def causes(dumps: Dumps, labels: pd.Series | None = None) -> pd.Series:
    """Cause ids aligned with ``dumps.goroutines`` (as cluster labels are, one level up).

    Parameters
    ----------
    dumps : the series (or one dump).
    labels : cluster ids aligned with ``dumps.goroutines`` (default: clustered here).

    Returns
    -------
    Series
        Aligned with ``dumps.goroutines``, named ``cause``.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> len(causes(d)) == len(d.goroutines)
    True
    """
    labels = resolve_labels(dumps, labels)
    of = cause_of(dumps, labels)
    return labels.map(of).fillna(labels).astype(labels.dtype).rename("cause")


def cause_sites(dumps: Dumps, labels: pd.Series, of: pd.Series) -> list[list[str]]:
    """The sites of every cause of more than one cluster (sorted), for reading a cause level.

    Parameters
    ----------
    dumps : the series.
    labels : cluster ids aligned with ``dumps.goroutines``.
    of : :func:`cause_of` over those labels.

    Returns
    -------
    list of list of str
        One sorted list of site functions per cause joining several clusters.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> labels = gf.cluster(d)
    >>> cause_sites(d, labels, cause_of(d, labels))
    [['main.(*cache).get', 'main.(*cache).refresh']]
    """
    sites = cluster_sites(dumps, labels).set_index("cluster")["site"]
    out = []
    for _, members in of.groupby(of):
        if len(members) > 1:
            out.append(sorted({str(sites.get(c, "")) for c in members.index}))
    return out


def describe_causes(
    dumps: Dumps, labels: pd.Series | None = None, of: pd.Series | None = None
) -> pd.DataFrame:
    """One row per cause: its sites with their stacks and states, and its counts.

    What a report or a notebook needs to show a cause: each of its clusters (largest at the
    last snapshot first) with the site, state and representative stack of that cluster.

    Parameters
    ----------
    dumps : the series (or one dump).
    labels : cluster ids aligned with ``dumps.goroutines`` (default: clustered here).
    of : :func:`cause_of` over those labels (default: computed here).

    Returns
    -------
    DataFrame
        Columns ``cause`` (cause id: its smallest cluster id); ``n_sites``; ``clusters``,
        ``sites``, ``states``, ``stacks`` (lists, one item per cluster: its id, site function,
        dominant state and representative stack as text, top frame first);
        ``goroutines_last``, ``goroutines_first`` (summed over its clusters, as
        :func:`goforensics.analyze.clustering.describe_clusters` counts them: the last and the
        first snapshot of each instance) and ``goroutines_peak`` (the most in one snapshot);
        ``counts`` (goroutines per snapshot, in snapshot order). Sorted by ``cause``.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> t = describe_causes(d)
    >>> row = t[t["n_sites"] > 1].iloc[0]
    >>> row["sites"], row["states"], row["counts"]
    (['main.(*cache).get', 'main.(*cache).refresh'], ['sync.Mutex.Lock', 'chan receive'], [21])
    >>> row["stacks"][1].splitlines()
    ['main.(*cache).refresh', '\\t/tmp/gdemo/main.go:19']
    """
    cols = ["cause", "n_sites", "clusters", "sites", "states", "stacks"]
    cols += ["goroutines_last", "goroutines_first", "goroutines_peak", "counts"]
    labels = resolve_labels(dumps, labels)
    if not len(dumps.goroutines):
        return pd.DataFrame(columns=cols)
    of = cause_of(dumps, labels) if of is None else of
    desc = describe_clusters(dumps, labels)
    desc["cause"] = desc["cluster"].map(of).fillna(desc["cluster"]).astype("int64")
    desc = desc.sort_values(["cause", "goroutines_last", "cluster"], ascending=[True, False, True])
    g = dumps.goroutines
    per = (
        pd.DataFrame({"cause": labels.map(of).fillna(labels).to_numpy(), "snapshot": g["snapshot"]})
        .assign(n=g["count"].to_numpy())
        .pivot_table(index="cause", columns="snapshot", values="n", aggfunc="sum", fill_value=0)
        .reindex(columns=sorted(dumps.snapshots["snapshot"]), fill_value=0)
    )
    by = desc.groupby("cause", sort=True)
    out = pd.DataFrame(
        {
            "n_sites": by.size(),
            "clusters": by["cluster"].agg(list),
            "sites": by["site_function"].agg(list),
            "states": by["state"].agg(lambda x: [str(v) for v in x]),
            "stacks": by["frames"].agg(list),
            "goroutines_last": by["goroutines_last"].sum(),
            "goroutines_first": by["goroutines_first"].sum(),
        }
    )
    out["goroutines_peak"] = per.max(axis=1).reindex(out.index).astype("int64")
    out["counts"] = [per.loc[c].astype(int).tolist() for c in out.index]
    return out.rename_axis("cause").reset_index()[cols]
