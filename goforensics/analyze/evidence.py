"""Evidence facts: what is true of each cluster, read off the dumps once.

One :class:`Facts` record per cluster, from four sources computed once per series:

- the cluster's site (:func:`goforensics.analyze.clustering.cluster_sites`): where it
  blocks, in which state, its entry and creator, its representative stack;
- its counts over the series (:func:`goforensics.analyze.clustering.cluster_counts`) and
  their trend per instance (:func:`goforensics.analyze.trend.trend`);
- the goroutine ids followed across snapshots (:func:`goforensics.analyze.lifetimes.lifetimes`):
  whether newcomers stay, since when a lock holder has been stuck;
- the last snapshot: goroutines there, the runtime's own verdicts (``(leaked)``, the
  deadlock detector), waits, whether the creator still runs, and the wait-for graph
  (:func:`goforensics.analyze.graphs.wait_for_graph`): locks held, holders, cycles.

Patterns (:mod:`goforensics.analyze.patterns`) match on these facts only; suspects
(:mod:`goforensics.analyze.suspects`) score them and assemble the ranking.

>>> import goforensics as gf
>>> d = gf.load("bundled:demo")
>>> by_stack = d.goroutines.groupby(["stack_id", "created_by"], observed=True).ngroup()
>>> f = {x.site: x for x in cluster_facts(d, by_stack)}["main.(*cache).get"]
>>> f.state, f.n, f.resources["holder_blocked_on_channel"].split(" at ")[-1]
('sync.Mutex.Lock', 20, 'main.(*cache).refresh')
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..goruntime import (
    CHANNEL_STATES,
    CRASH_KINDS,
    DEADLOCK_MESSAGES,
    TEST_TIMEOUT_ALARM,
    TEST_TIMEOUT_MESSAGE,
    is_blocked,
)
from ..model import Dumps, headline
from .clustering import cluster_counts, cluster_sites
from .graphs import deadlock_cycles, node_text, wait_for_graph
from .lifetimes import last_snapshot, lifetimes, persistence
from .trend import Trend, trend

__all__ = ["Facts", "cluster_facts", "matched"]

# States whose goroutines wait for goroutines they started (their blocked children matter).
_WAITS_FOR_CHILDREN = frozenset({"sync.WaitGroup.Wait", "semacquire"})


def matched(holds: bool, confidence: float, *why: str) -> tuple[float, list[str]] | None:
    """A pattern's answer: its confidence and reasons when its condition holds, else None.

    Every pattern function returns this shape, so the matcher can rank and explain them alike.

    Parameters
    ----------
    holds : bool
        Whether the pattern's condition is true of the cluster.
    confidence : float
        How sure the match is, in [0, 1].
    *why : str
        The facts that made it match, in words.

    Returns
    -------
    tuple of (float, list of str) or None
        ``(confidence, reasons)`` when ``holds``, else ``None``.

    Examples
    --------
    >>> matched(True, 0.8, "blocked in chan send", "no receiver")
    (0.8, ['blocked in chan send', 'no receiver'])
    >>> matched(False, 0.8, "blocked in chan send") is None
    True
    """
    return (confidence, list(why)) if holds else None


@dataclass
class Facts:
    """What is true of one cluster; what the patterns look at and the score weighs."""

    cluster: int
    state: str
    states: dict
    site: str
    file: str
    line: int | None
    site_class: str
    entry: str
    created_by: str
    functions: list[str]  # representative stack, top first
    multi: bool  # a series of 3+ snapshots of one instance: growth can be seen
    instances: int
    instance: str  # the instance where it grew the most
    counts: list[int]  # goroutines per snapshot of that instance
    trend: Trend
    growing_instances: int
    growing: bool
    flat: bool
    persistence: float | None  # share of later arrivals that never left (ids needed)
    n: int  # goroutines now: the series' last count, or the last snapshot's in a single dump
    n_now: int  # goroutines in the last snapshot the cluster appears in
    leaked: int  # of n_now, marked leaked by the runtime
    max_wait: int | None  # minutes, as printed
    deadlocked: bool  # the runtime's deadlock detector stopped the program with them blocked
    creator_gone: bool  # the function that started them runs nowhere in the last snapshot
    resources: dict  # from the wait-for graph, see _cluster_graph_facts
    readloops: dict  # states of the HTTP client connections' readLoops at the last snapshot
    blocked_children: list[str] = field(default_factory=list)  # blocked goroutines they started
    # the last snapshot ends the process with a panic or a fatal error other than the deadlock
    # detector's (its headline): the others were caught mid-flight, not stuck
    crashed: str = ""
    raised: bool = False  # the cluster holds the goroutine that raised that panic or fatal error
    minutes: np.ndarray | None = None  # of each count, from the first snapshot (None: no times)

    @property
    def leaked_share(self) -> float:
        return self.leaked / self.n_now if self.n_now else 0.0

    @property
    def crowd(self) -> float:
        """How much the size of the group weighs in one dump: 0.15 for one goroutine, 0.5 for
        9, 1 from 99 on (log scale). Healthy pools and loops are a few goroutines; one dump
        shows no growth, so a shape they share says little until many goroutines share it."""
        return min(1.0, float(np.log10(self.n_now + 1)) / 2.0)

    def has(self, pattern: str) -> bool:
        """Whether a function of the representative stack matches the regex ``pattern``.

        Parameters
        ----------
        pattern : str
            A regular expression, searched in each function name.

        Returns
        -------
        bool
            True when one function of the representative stack matches.

        Examples
        --------
        >>> import pandas as pd
        >>> from goforensics.read.parse import parse_text
        >>> d = parse_text("goroutine 7 [chan send]:\\nmain.send()\\n\\t/m.go:9 +0x1\\nmain.run()\\n\\t/m.go:3 +0x1\\n")
        >>> f = cluster_facts(d, pd.Series(0, index=d.goroutines.index))[0]
        >>> f.has(r"^main\\.run$"), f.has("Mutex")
        (True, False)
        """
        rx = re.compile(pattern)
        return any(rx.search(f) for f in self.functions)


class _Series:
    """What every cluster's facts need, computed once per series."""

    def __init__(self, dumps: Dumps, labels: pd.Series, wait_for=None):
        self.dumps = dumps
        self.labels = labels
        g = self.g = dumps.goroutines
        self.last = last_snapshot(dumps)
        self._instances()
        self.counts = cluster_counts(dumps, labels)
        self.pos_of = {i: self.counts.index.get_indexer(s) for i, s in self.snaps_of.items()}
        said = dumps.snapshots["message"].astype(str)
        hit = np.zeros(len(said), dtype=bool)
        for m in DEADLOCK_MESSAGES:
            hit |= said.str.contains(m, regex=False).to_numpy()
        self.deadlocked = set(dumps.snapshots.loc[hit, "snapshot"].astype(int))
        now = g[g["snapshot"] == self.last]
        f = dumps.frames
        self.live_functions = set(
            f.loc[
                (f["section"] == 0) & f["stack_id"].isin(now["stack_id"].unique()), "function"
            ].astype(str)
        )
        rl = now[now["entry_function"].astype(str) == "net/http.(*persistConn).readLoop"]
        self.readloops = {
            str(k): int(v) for k, v in rl.groupby("state", observed=True)["count"].sum().items()
        }
        life = lifetimes(dumps)
        self.stuck = dict(
            zip(
                zip(life["instance"].astype(str), life["goid"].astype(int), strict=True),
                life["stuck_since"].astype(int),
                strict=True,
            )
        )
        self._could: dict = {}
        self._last_nodes(now)
        self.G = wait_for_graph(dumps) if wait_for is None else wait_for
        self.node_facts = self._graph_facts()
        self.children = self._children(now)
        self.crashed, self.raised = self._crash(now)

    def _crash(self, now: pd.DataFrame) -> tuple[str, object]:
        """The headline of a panic or fatal error ending the last snapshot (not the deadlock
        detector's), and the cluster of the goroutine that raised it (the runtime prints it
        first), or ``("", None)``."""
        s = self.dumps.snapshots
        row = s[s["snapshot"] == self.last]
        if row.empty or now.empty or str(row["kind"].iloc[0]) not in CRASH_KINDS:
            return "", None
        message = row["message"].iloc[0]
        said = headline(str(row["kind"].iloc[0]), "" if pd.isna(message) else str(message))
        first = now["line"].idxmin()
        # a test binary's timeout alarm panics for the test it stops: its goroutines hung
        # until then, as under the deadlock detector, and the alarm is the messenger
        if (
            any(m in said for m in DEADLOCK_MESSAGES)
            or TEST_TIMEOUT_MESSAGE in said
            or str(now.loc[first, "entry_function"]) == TEST_TIMEOUT_ALARM
        ):
            return "", None
        return said, self.labels.loc[first]

    def _instances(self) -> None:
        """Snapshot lists and times per instance (a fleet is several series side by side)."""
        g, snaps = self.g, self.dumps.snapshots
        self.instances = sorted(g["instance"].astype(str).unique())
        self.snaps_of: dict[str, np.ndarray] = {}
        self.minutes_of: dict[str, np.ndarray | None] = {}
        ginst = g["instance"].astype(str)
        sinst = snaps["instance"].astype(str)
        for inst in self.instances:
            s = snaps[sinst == inst]
            s = s[
                s["snapshot"].isin(g.loc[ginst == inst, "snapshot"].unique())
                | (s["format"] == "debug=2")
            ]
            self.snaps_of[inst] = s["snapshot"].to_numpy()
            t = s["taken_at"]
            if (
                t.notna().all()
                and len(t) > 1
                and not (s["time_source"].astype(str) == "mtime").all()
            ):
                self.minutes_of[inst] = ((t - t.min()).dt.total_seconds() / 60.0).to_numpy()
            else:
                self.minutes_of[inst] = None
        self.multi = any(len(v) >= 3 for v in self.snaps_of.values())

    def _last_nodes(self, now: pd.DataFrame) -> None:
        """Wait-for graph nodes of the last snapshot, and their clusters."""
        has = now["goid"].notna().to_numpy()
        sub = now[has]
        nodes = [
            ("g", i, int(x)) for i, x in zip(sub["instance"].astype(str), sub["goid"], strict=True)
        ]
        labs = self.labels.loc[sub.index].to_numpy()
        self.label_at = {(n[1], n[2]): lab for n, lab in zip(nodes, labs, strict=True)}
        self.nodes_of: dict = defaultdict(list)
        for n, lab in zip(nodes, labs, strict=True):
            self.nodes_of[lab].append(n)

    def _children(self, now: pd.DataFrame) -> dict:
        """Blocked goroutines of the last snapshot by their creator's node (Go 1.21+
        ``created by ... in goroutine N``): (row, 'goroutine 6 in [...] at f')."""
        sub = now[now["creator_goid"].notna() & now["goid"].notna() & is_blocked(now["state"])]
        out: dict = defaultdict(list)
        G = self.G
        for k, (i, parent, goid, state) in enumerate(
            zip(
                sub["instance"].astype(str),
                sub["creator_goid"],
                sub["goid"],
                sub["state"].astype(str),
                strict=True,
            )
        ):
            node = ("g", i, int(goid))
            where = G.nodes[node].get("function") if node in G else ""
            out[("g", i, int(parent))].append(
                (k, f"goroutine {int(goid)} in [{state}]" + (f" at {where}" if where else ""))
            )
        return out

    def blocked_children(self, cluster) -> list[str]:
        """The blocked goroutines a cluster's goroutines started, alive at the last snapshot."""
        kids = [x for n in set(self.nodes_of.get(cluster, ())) for x in self.children.get(n, ())]
        return [text for _, text in sorted(kids)]

    def could_hold(self, holder: tuple, clusters: frozenset) -> bool:
        """Could ``holder`` hold the lock the goroutines of ``clusters`` wait for, given the
        whole series?

        A goroutine that took a lock and then blocked stays blocked at the same place; if
        it has been there since a snapshot in which nobody waited for the lock, it is not
        the one holding it.
        """
        if not self.multi:
            return True
        since = self.stuck.get((holder[1], holder[2]))
        if since is None or not clusters:
            return True
        key = (since, clusters)
        if key not in self._could:
            counts = self.counts[[c for c in clusters if c in self.counts.columns]].sum(axis=1)
            self._could[key] = bool((counts.loc[counts.index >= since] > 0).all())
        return self._could[key]

    def _graph_facts(self) -> dict:
        """Per goroutine node of the last snapshot's wait-for graph: what locks it holds that
        others wait for, the first holder (blocked on a channel, or on something else) of
        what it waits for, and the deadlock cycle it is in. Holders the series rules out
        (see :meth:`could_hold`) are dropped. Linear in the graph's edges and candidates."""
        G = self.G
        facts: dict = {}
        if G.number_of_nodes() == 0:
            return facts
        shared: dict = defaultdict(list)  # locks whose holder is one of many: by candidate set
        for res in [n for n in G if n[0] != "g"]:
            ws = [p for p in G.predecessors(res) if G.edges[p, res].get("relation") == "waits"]
            clusters = frozenset(self.label_at.get((w[1], w[2])) for w in ws) - {None}
            if G.nodes[res].get("candidate_set") is not None:
                shared[(G.nodes[res]["candidate_set"], clusters)].append((res, ws))
                continue
            holders = [
                h
                for h in G.successors(res)
                if G.edges[res, h].get("relation") == "held-by" and self.could_hold(h, clusters)
            ]
            for h in holders:
                _node(facts, h)["waited"] = max(_node(facts, h)["waited"], len(ws))
                _node(facts, h)["candidates"] = max(_node(facts, h)["candidates"], len(holders))
            # only a waiter's first holder of each kind is ever told
            chan = next((h for h in holders if G.nodes[h].get("state") in CHANNEL_STATES), None)
            other = next(
                (h for h in holders if G.nodes[h].get("state") not in CHANNEL_STATES), None
            )
            self._tell_waiters(facts, res, ws, chan, other)
        for (cands, clusters), locks in shared.items():
            self._shared_holders(
                facts, sorted(h for h in cands if self.could_hold(h, clusters)), locks
            )
        for cyc in deadlock_cycles(G, min_confidence=0.5, limit=50):
            text = _cycle_text(cyc)
            for n in cyc:
                if n[0] == "g" and _node(facts, n)["cycle"] is None:
                    _node(facts, n)["cycle"] = text
        return facts

    def _tell_waiters(self, facts: dict, res: tuple, ws: list, chan, other) -> None:
        """Record on each waiter of ``res`` its first holder of each kind, or that it has none."""
        G = self.G
        writer = res[0] == "rwmutex" and any(
            G.nodes[p].get("state") == "sync.RWMutex.Lock" for p in ws
        )
        none = chan is None and other is None and res[0] == "mutex" and len(res) == 2
        for w in ws:
            f = _node(facts, w)
            if chan is not None and not f["holders_chan"]:
                f["holders_chan"].append(_holder_text(G, chan))
            if other is not None and not f["holders_other"]:
                f["holders_other"].append(_holder_text(G, other))
            if none:
                f["no_holder"] = True
            f["rw_writer"] = f["rw_writer"] or writer

    def _shared_holders(self, facts: dict, cands: list, locks: list) -> None:
        """Holder facts of locks that share one sorted list of possible holders: each lock's
        own waiters are not its holders. The same facts as one edge per pair, in time
        linear in the locks and the candidates."""
        G = self.G
        chan = [h for h in cands if G.nodes[h].get("state") in CHANNEL_STATES]
        other = [h for h in cands if G.nodes[h].get("state") not in CHANNEL_STATES]
        by_size = sorted(locks, key=lambda x: -len(x[1]))
        best = [(len(ws), set(ws)) for _, ws in by_size[:2]]
        for h in cands:  # a goroutine waits for one lock: the second largest is its fallback
            n = next((k for k, waiting in best if h not in waiting), 0)
            if n:
                _node(facts, h)["waited"] = max(_node(facts, h)["waited"], n)
                # one of several goroutines that could hold it: the holder is a guess among them
                _node(facts, h)["candidates"] = max(_node(facts, h)["candidates"], len(cands))
        for res, ws in locks:
            waiting = set(ws)
            first_chan = next((h for h in chan if h not in waiting), None)
            first_other = next((h for h in other if h not in waiting), None)
            self._tell_waiters(facts, res, ws, first_chan, first_other)

    def cluster_graph_facts(self, cluster) -> dict:
        """Facts from the wait-for graph about one cluster's goroutines at the last snapshot."""
        per_node = self.node_facts
        fs = (
            [per_node[n] for n in self.nodes_of.get(cluster, ()) if n in per_node]
            if per_node
            else []
        )
        if not fs:
            return {}
        out: dict = {}
        waited = max(f["waited"] for f in fs)
        if waited:
            out["holds_lock_waited_by"] = waited
            out["holder_candidates"] = max(f["candidates"] for f in fs if f["waited"])
        chan = [x for f in fs for x in f["holders_chan"]]
        other = [x for f in fs for x in f["holders_other"]]
        if chan:
            out["holder_blocked_on_channel"] = chan[0]
        if other:
            out["holder_blocked"] = other[0]
        out["no_holder"] = any(f["no_holder"] for f in fs) and not chan and not other
        out["rw_writer_waiting"] = any(f["rw_writer"] for f in fs)
        cycles = [f["cycle"] for f in fs if f["cycle"]]
        if cycles:
            out["cycle"] = cycles[0]
        return out


def _node(facts: dict, n: tuple) -> dict:
    return facts.setdefault(
        n,
        {
            "waited": 0,
            "holders_chan": [],
            "holders_other": [],
            "no_holder": False,
            "rw_writer": False,
            "cycle": None,
            "candidates": 1,
        },
    )


def _holder_text(G, h: tuple) -> str:
    return f"goroutine {h[2]} in [{G.nodes[h].get('state')}] at {G.nodes[h].get('function')}"


def _cycle_text(cyc: list) -> str:
    """'goroutine 6 -> mutex 0xc0000140a8 -> goroutine 7 -> ... -> goroutine 6' (waits, held by)."""
    k = next((i for i, n in enumerate(cyc) if n[0] == "g"), 0)
    return " -> ".join(node_text(n) for n in [*cyc[k:], *cyc[:k], cyc[k]])


def _now_table(dumps: Dumps, labels: pd.Series) -> pd.DataFrame:
    """Per cluster, in the last snapshot it appears in: ``snapshot``, ``n_now``, ``leaked``
    (goroutines the runtime marked) and ``max_wait`` (minutes, NaN where none printed)."""
    g = dumps.goroutines
    t = pd.DataFrame(
        {
            "cluster": labels.to_numpy(),
            "snapshot": g["snapshot"].to_numpy(dtype=np.int64),
            "count": g["count"].to_numpy(dtype=np.int64),
            "leaked": np.where(
                g["leaked"].to_numpy(dtype=bool), g["count"].to_numpy(dtype=np.int64), 0
            ),
            "wait": g["wait_minutes"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        }
    )
    t = t[t["snapshot"] == t.groupby("cluster")["snapshot"].transform("max")]
    return t.groupby("cluster").agg(
        snapshot=("snapshot", "first"),
        n_now=("count", "sum"),
        leaked=("leaked", "sum"),
        max_wait=("wait", "max"),
    )


def _growth(ser: _Series, column: np.ndarray | None) -> tuple:
    """(instance, trend, counts, growing instances) of one cluster's counts (a column of
    the counts table, or None): the instance where it grew the most."""
    best = None
    growing = 0
    for inst in ser.instances:
        snaps = ser.snaps_of[inst]
        if len(snaps) == 0:
            continue
        pos = ser.pos_of[inst]
        y = np.zeros(len(snaps), dtype=np.int64)
        if column is not None:
            y[pos >= 0] = column[pos[pos >= 0]]
        t = trend(y, ser.minutes_of[inst])
        # ties (flat everywhere) go to the instance that still holds the most of it, so
        # the count said is one the cluster has, not an instance where it never was
        if best is None or (t.last - t.first, t.last) > (
            best[1].last - best[1].first,
            best[1].last,
        ):
            best = (inst, t, y)
        if t.grows:
            growing += 1
    if best is None:
        return "", trend(np.zeros(1)), np.zeros(1), growing
    return (*best, growing)


def cluster_facts(dumps: Dumps, labels: pd.Series, *, wait_for=None) -> list[Facts]:
    """The facts of every cluster of a series (or of one dump), in cluster order.

    Parameters
    ----------
    dumps : the series.
    labels : cluster ids aligned with ``dumps.goroutines``.
    wait_for : the last snapshot's :func:`goforensics.analyze.graphs.wait_for_graph`, where
        the caller has it already (else it is built here).

    Returns
    -------
    list of Facts
        One per cluster with a site (see :func:`goforensics.analyze.clustering.cluster_sites`).

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 1 [select (no cases)]:\\nmain.f()\\n\\t/app/main.go:9 +0x18\\n")
    >>> [(f.state, f.n, f.multi) for f in cluster_facts(d, pd.Series(0, index=d.goroutines.index))]
    [('select (no cases)', 1, False)]
    """
    labels = labels.reindex(dumps.goroutines.index)
    if dumps.goroutines.empty:
        return []
    sites = cluster_sites(dumps, labels)
    ser = _Series(dumps, labels, wait_for)
    now = _now_table(dumps, labels).to_dict("index")
    rep = _representative_functions(dumps, sites["stack_id"])
    lasting = _persistence(ser, labels)
    col_of = {c: i for i, c in enumerate(ser.counts.columns)}
    table = ser.counts.to_numpy()
    out = []
    for site in sites.itertuples(index=False):
        c = site.cluster
        inst, t, y, growing_n = _growth(ser, table[:, col_of[c]] if c in col_of else None)
        growing = ser.multi and t.grows
        flat = ser.multi and not growing and t.peak <= max(1.5 * max(t.first, 1), t.first + 2)
        nr = now.get(c)
        n_now = int(nr["n_now"]) if nr is not None else 0
        max_wait = None if nr is None or np.isnan(nr["max_wait"]) else int(nr["max_wait"])
        out.append(
            Facts(
                cluster=c,
                state=site.state,
                states=site.states,
                site=site.site,
                file=site.file,
                line=None if pd.isna(site.line) else int(site.line),
                site_class=site.site_class,
                entry=site.entry,
                created_by=site.created_by,
                functions=rep.get(site.stack_id, []),
                multi=ser.multi,
                instances=len(ser.instances),
                instance=inst,
                counts=[int(v) for v in y],
                trend=t,
                growing_instances=growing_n,
                growing=growing,
                flat=flat,
                persistence=lasting.get((c, inst)) if len(y) >= 3 else None,
                n=int(t.last) if ser.multi else n_now,
                n_now=n_now,
                leaked=int(nr["leaked"]) if nr is not None else 0,
                max_wait=max_wait,
                deadlocked=nr is not None and int(nr["snapshot"]) in ser.deadlocked,
                creator_gone=bool(site.created_by) and site.created_by not in ser.live_functions,
                resources=ser.cluster_graph_facts(c),
                readloops=ser.readloops,
                blocked_children=ser.blocked_children(c)
                if site.state in _WAITS_FOR_CHILDREN
                else [],
                crashed=ser.crashed,
                raised=ser.raised is not None and c == ser.raised,
                minutes=ser.minutes_of.get(inst),
            )
        )
    return out


def _representative_functions(dumps: Dumps, stack_ids: pd.Series) -> dict:
    """Functions of each representative stack, top first."""
    f = dumps.frames
    f = f[(f["section"] == 0) & f["stack_id"].isin(stack_ids.to_numpy())].sort_values(
        ["stack_id", "depth"], kind="stable"
    )
    sid = f["stack_id"].to_numpy()
    fns = f["function"].astype(str).to_numpy()
    starts = (
        np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]]) if len(sid) else np.array([], dtype=int)
    )
    ends = np.r_[starts[1:], len(sid)] if len(sid) else starts  # no frames: no stacks
    return {sid[s]: fns[s:e].tolist() for s, e in zip(starts, ends, strict=True)}


def _persistence(ser: _Series, labels: pd.Series) -> dict:
    """(cluster, instance) -> share of later arrivals still there at the last snapshot."""
    if not ser.multi:
        return {}
    life = lifetimes(ser.dumps, labels)
    first = pd.Series({i: s.min() for i, s in ser.snaps_of.items() if len(s) >= 3})
    last = pd.Series({i: s.max() for i, s in ser.snaps_of.items() if len(s) >= 3})
    life = life[life["instance"].astype(str).isin(first.index)]
    return persistence(life, first, last).to_dict()
