"""Rank leak suspects: which code is leaking goroutines, since when, and how sure we are.

Over a series (several snapshots of one process, or of a fleet), a leak is a cluster
of goroutines that **grows** and whose goroutines **stay**: a Theil–Sen slope and a
Mann–Kendall test with the Hamed–Rao correction (robust to the autocorrelation of
counts) measure the growth; following goroutine ids across snapshots tells a leak
(newcomers never leave) from churn and from a burst that drains. A healthy worker
pool is large but flat; it must never outrank a small leak.

In a single dump there is no growth to see; the evidence is then the LeakProf kind:
many goroutines blocked at the same operation of the application's code, long waits,
states that nothing can ever wake (nil channels, ``select {}``), goroutines whose
creator has returned, and the runtime's own ``(leaked)`` verdicts when present.

Each suspect names its site (the application frame where it blocks), its entry
function, its creator, its state, its counts per snapshot, its slope, its score,
the evidence behind the score, and the pattern it matches with advice.

>>> import goforensics as gf
>>> d = gf.load("bundled:demo")
>>> by_stack = d.goroutines.groupby(["stack_id", "created_by"], observed=True).ngroup()
>>> s = suspects(d, by_stack)
>>> top = s.iloc[0]
>>> print(top.site, top.state, top.goroutines, top.pattern, sep=" | ")
main.(*cache).get | sync.Mutex.Lock | 20 | lock-across-channel
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..goruntime import ACTIVE_STATES, SYNC_STATES, UNWAKEABLE, is_blocked
from ..model import Dumps, headline

__all__ = [
    "SUSPECT_COLUMNS", "cluster_sites", "series_counts", "series_facts", "suspects", "trend", "triage",
]

SUSPECT_COLUMNS = [
    "rank", "cluster", "site", "file", "line", "entry", "created_by", "state", "goroutines",
    "counts", "slope_per_min", "trend", "mk_p", "persistence", "max_wait_minutes", "leaked_share",
    "instances", "score", "pattern", "title", "advice", "evidence",
]

@dataclass
class Trend:
    """Growth of one count series."""

    slope: float  # per minute (or per snapshot when times are unknown)
    per_minute: bool
    mk_trend: str
    mk_p: float
    first: float
    last: float
    peak: float
    test: str = "Mann–Kendall (Hamed–Rao)"
    rises: int = 0  # snapshot-to-snapshot increases

    n: int = 0  # snapshots

    @property
    def grows(self) -> bool:
        """A significant upward trend made of several increases: not one late starter (0 -> 1).

        Below 5 snapshots Mann–Kendall cannot reach p < 0.05 at all (4 rising points give
        p = 0.09); there a rise at every step, by 3 goroutines or more, is the evidence.
        """
        if self.last - self.first < 2 or self.rises < 2:
            return False
        if self.n < 5:
            return self.rises == self.n - 1 and self.last - self.first >= 3
        return self.mk_trend == "increasing" and self.mk_p < 0.05


def trend(counts: np.ndarray, minutes: np.ndarray | None = None) -> Trend:
    """Theil–Sen slope and Mann–Kendall (Hamed–Rao) trend of a count series.

    ``minutes`` are the capture times in minutes; without them (or when they span
    less than a second) the slope is per snapshot.

    >>> t = trend(np.array([0, 4, 9, 15, 18, 25]), np.arange(6) * 2.0)
    >>> t.mk_trend, round(t.slope, 1)
    ('increasing', 2.5)
    """
    from scipy.stats import theilslopes

    y = np.asarray(counts, dtype=float)
    per_min = minutes is not None and len(minutes) == len(y) and np.ptp(minutes) > 1 / 60
    x = np.asarray(minutes, dtype=float) if per_min else np.arange(len(y), dtype=float)
    if len(y) < 2 or np.ptp(y) == 0:
        return Trend(0.0, per_min, "no trend", 1.0, y[0] if len(y) else 0, y[-1] if len(y) else 0,
                     y.max() if len(y) else 0, n=len(y))
    slope = float(theilslopes(y, x).slope)
    mk_trend, p, test = "no trend", 1.0, "Mann–Kendall (Hamed–Rao)"
    if len(y) >= 4:
        import pymannkendall as mk

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                r = mk.hamed_rao_modification_test(y)
                mk_trend, p = str(r.trend), float(r.p)
                # The correction needs residual autocorrelation to estimate; a series that
                # is exactly linear (a steady leak) leaves none and the variance is undefined:
                # the uncorrected test is then the right one.
                if not np.isfinite(p) or not np.isfinite(float(r.var_s)):
                    r = mk.original_test(y)
                    mk_trend, p, test = str(r.trend), float(r.p), "Mann–Kendall"
            except (ValueError, ZeroDivisionError, np.linalg.LinAlgError):
                pass
        if not np.isfinite(p):
            mk_trend, p = "no trend", 1.0
    rises = int((np.diff(y) > 0).sum())
    if len(y) < 5:
        test = "a rise at every snapshot (too few for Mann–Kendall)" if rises == len(y) - 1 else test
    return Trend(slope, per_min, mk_trend, p, y[0], y[-1], y.max(), test, rises, len(y))


def series_counts(dumps: Dumps, labels: pd.Series) -> pd.DataFrame:
    """Goroutines per snapshot (rows) and cluster (columns), zeros where absent.

    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> series_counts(d, pd.Series(0, index=d.goroutines.index)).iloc[0, 0]
    np.int64(77)
    """
    g = dumps.goroutines
    tab = (
        pd.DataFrame({"snapshot": g["snapshot"].to_numpy(), "cluster": labels.to_numpy(),
                      "count": g["count"].to_numpy()})
        .groupby(["snapshot", "cluster"])["count"].sum().unstack(fill_value=0)
    )
    return tab.reindex(dumps.snapshots["snapshot"], fill_value=0)


def cluster_sites(dumps: Dumps, labels: pd.Series) -> pd.DataFrame:
    """Per cluster: :func:`goforensics.analyze.clustering.describe_clusters` under the names suspects use.

    Columns: ``cluster``, ``stack_id`` (representative), ``site``, ``file``, ``line`` (the
    application frame where it blocks), ``site_class``, ``site_depth``, ``state``,
    ``states`` (dict), ``entry``, ``created_by``, ``goroutines``.
    """
    from .clustering import describe_clusters

    dc = describe_clusters(dumps, labels)
    f = dumps.frames[dumps.frames["section"] == 0]
    f = f[f["stack_id"].isin(dc["representative"].to_numpy())]
    first = (
        f.sort_values("depth").drop_duplicates(["stack_id", "function"])
        .set_index(["stack_id", "function"])[["frame_class", "depth"]]
    )
    where = [first.loc[k] if k in first.index else None
             for k in zip(dc["representative"], dc["site_function"], strict=True)]
    return pd.DataFrame({
        "cluster": dc["cluster"],
        "stack_id": dc["representative"],
        "site": dc["site_function"].astype(str),
        "file": dc["site_file"].astype(str),
        "line": pd.array([None if pd.isna(x) else int(x) for x in dc["site_line"]], dtype="Int64"),
        "site_class": ["" if w is None else str(w["frame_class"]) for w in where],
        "site_depth": [None if w is None else int(w["depth"]) for w in where],
        "state": dc["state"].astype(str),
        "states": [json.loads(x) for x in dc["states"]],
        "entry": dc["entry_function"].astype(str),
        "created_by": dc["created_by"].astype(str),
        "goroutines": dc["goroutines"].astype(int),
    })


def _default_labels(dumps: Dumps) -> pd.Series:
    from .clustering import cluster

    return cluster(dumps)


def suspects(
    dumps: Dumps,
    labels: pd.Series | None = None,
    *,
    top: int | None = None,
    min_goroutines: int = 1,
    wait_for=None,
) -> pd.DataFrame:
    """Rank the clusters of a series (or of one dump) as leak suspects, most likely first.

    ``labels`` are cluster ids aligned with ``dumps.goroutines`` (by default
    :func:`goforensics.analyze.clustering.cluster`). Columns are :data:`SUSPECT_COLUMNS`;
    ``counts`` is the list of goroutines per snapshot, ``evidence`` a list of
    sentences, ``score`` the sum of the weighted evidence. ``wait_for``: the last
    snapshot's :func:`goforensics.analyze.graphs.wait_for_graph`, where the caller has it already
    (it is a pass over every goroutine of that snapshot).
    """
    from .patterns import match_patterns

    if labels is None:
        labels = _default_labels(dumps)
    labels = labels.reindex(dumps.goroutines.index)
    g = dumps.goroutines
    if g.empty:
        return pd.DataFrame(columns=SUSPECT_COLUMNS)
    sites = cluster_sites(dumps, labels).set_index("cluster")
    ctx = _Context(dumps, labels, wait_for)
    rows = []
    for c, site in sites.iterrows():
        ev = _evidence(ctx, c, site)
        if ev["last"] < min_goroutines and ev["peak"] < min_goroutines:
            continue
        pat = match_patterns(ctx, c, site, ev)
        score = ev["score"] + (pat.bonus if pat else 0.0)
        rows.append({
            "cluster": c, "site": site["site"], "file": site["file"], "line": site["line"],
            "entry": site["entry"], "created_by": site["created_by"], "state": site["state"],
            "goroutines": int(ev["last"]), "counts": ev["counts"],
            "slope_per_min": ev["slope_per_min"], "trend": ev["trend"], "mk_p": ev["mk_p"],
            "persistence": ev["persistence"], "max_wait_minutes": ev["max_wait"],
            "leaked_share": ev["leaked_share"], "instances": ev["instances"],
            "score": round(score, 3),
            "pattern": pat.id if pat else "", "title": pat.title if pat else "",
            "advice": pat.advice if pat else "",
            "evidence": ev["evidence"] + (pat.evidence if pat else []),
        })
    out = pd.DataFrame(rows, columns=[c for c in SUSPECT_COLUMNS if c != "rank"])
    out["line"] = out["line"].astype("Int64")  # a site without a line (no frames) is <NA>
    out = out.sort_values(["score", "goroutines", "cluster"], ascending=[False, False, True], kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out = out.reset_index(drop=True)
    return out.head(top) if top else out


# --- evidence -------------------------------------------------------------------------------


class _Context:
    """What every cluster's evidence needs, computed once per series."""

    def __init__(self, dumps: Dumps, labels: pd.Series, wait_for=None):
        self.dumps = dumps
        self.labels = labels
        g = dumps.goroutines
        self.g = g
        snaps = dumps.snapshots
        self.instances = sorted(g["instance"].astype(str).unique())
        # snapshot lists and times per instance (a fleet is several series side by side)
        self.snaps_of: dict[str, np.ndarray] = {}
        self.minutes_of: dict[str, np.ndarray | None] = {}
        for inst in self.instances:
            s = snaps[snaps["instance"].astype(str) == inst]
            s = s[s["snapshot"].isin(g.loc[g["instance"].astype(str) == inst, "snapshot"].unique())
                  | (s["format"] == "debug=2")]
            self.snaps_of[inst] = s["snapshot"].to_numpy()
            t = s["taken_at"]
            if t.notna().all() and len(t) > 1 and not (s["time_source"].astype(str) == "mtime").all():
                self.minutes_of[inst] = ((t - t.min()).dt.total_seconds() / 60.0).to_numpy()
            else:
                self.minutes_of[inst] = None
        self.counts = series_counts(dumps, labels)
        # the runtime's own deadlock detector: in these snapshots no goroutine can ever run again
        said = snaps["message"].astype(str)
        self.deadlocked = set(snaps.loc[said.str.contains("all goroutines are asleep", regex=False)
                                        | said.str.contains("synctest bubble", regex=False)
                                        | said.str.contains("deadlock: main bubble", regex=False),
                                        "snapshot"].astype(int))
        self.multi = any(len(v) >= 3 for v in self.snaps_of.values())
        # functions on any stack, per snapshot: a creator no longer running has returned
        f = dumps.frames[dumps.frames["section"] == 0]
        fn_by_stack = f.groupby("stack_id")["function"].agg(lambda s: set(s.astype(str)))
        self.live_functions: dict[int, set[str]] = {}
        for snap, grp in g.groupby("snapshot", observed=True):
            live: set[str] = set()
            for sid in grp["stack_id"].unique():
                live |= fn_by_stack.get(sid, set())
            self.live_functions[int(snap)] = live
        self._wait_for = wait_for
        self._stuck: dict | None = None
        self._label_at: dict | None = None
        self._nodes_of: dict | None = None
        self._graph_facts: dict | None = None
        self._could: dict = {}
        self._readloops: dict | None = None

    def stuck_since(self, instance: str, goid: int) -> int | None:
        """First snapshot from which this goroutine has been on the same stack up to the last."""
        if self._stuck is None:
            h = self.g.loc[self.g["goid"].notna(), ["instance", "goid", "snapshot", "stack_id"]]
            h = h.assign(instance=h["instance"].astype(str), goid=h["goid"].astype("int64"))
            h = h.sort_values(["instance", "goid", "snapshot"], kind="stable")
            keys = ["instance", "goid"]
            last = h.groupby(keys, sort=False)["stack_id"].transform("last")
            moved = h["snapshot"].where(h["stack_id"] != last)  # last time it was elsewhere
            left = moved.groupby([h["instance"], h["goid"]], sort=False).transform("max").fillna(-1)
            since = h[(h["stack_id"] == last) & (h["snapshot"] > left)].groupby(keys)["snapshot"].min()
            self._stuck = {(str(i), int(g)): int(v) for (i, g), v in since.items()}
        return self._stuck.get((instance, goid))

    def _last_nodes(self) -> None:
        g = self.g
        last = (g["snapshot"] == g["snapshot"].max()) & g["goid"].notna()
        sub = g[last]
        nodes = [("g", i, int(x)) for i, x in zip(sub["instance"].astype(str), sub["goid"], strict=True)]
        labs = self.labels[last].to_numpy()
        self._label_at = {(n[1], n[2]): lab for n, lab in zip(nodes, labs, strict=True)}
        self._nodes_of = {}
        for n, lab in zip(nodes, labs, strict=True):
            self._nodes_of.setdefault(lab, []).append(n)

    def label_of(self, instance: str, goid: int):
        """Cluster of a goroutine at the last snapshot."""
        if self._label_at is None:
            self._last_nodes()
        return self._label_at.get((instance, goid))

    def blocked_children(self, cluster) -> list[str]:
        """The blocked goroutines a cluster's goroutines started, alive at the last snapshot
        (known from ``created by ... in goroutine N``, Go 1.21+): 'goroutine 6 in [...] at f'."""
        mine = set(self.nodes_of(cluster))
        if not mine:
            return []
        g = self.g
        sub = g[(g["snapshot"] == g["snapshot"].max()) & g["creator_goid"].notna() & is_blocked(g["state"])]
        inst = sub["instance"].astype(str).to_numpy()
        parent = sub["creator_goid"].to_numpy()
        pick = [("g", i, int(p)) in mine for i, p in zip(inst, parent, strict=True)]
        G = self.wait_for()
        out = []
        for i, goid, state in zip(inst[pick], sub["goid"].to_numpy()[pick], sub["state"].astype(str).to_numpy()[pick],
                                  strict=True):
            where = G.nodes[("g", i, int(goid))].get("function") if ("g", i, int(goid)) in G else ""
            out.append(f"goroutine {int(goid)} in [{state}]" + (f" at {where}" if where else ""))
        return out

    def nodes_of(self, cluster) -> list[tuple]:
        """Wait-for graph nodes of a cluster's goroutines at the last snapshot."""
        if self._nodes_of is None:
            self._last_nodes()
        return self._nodes_of.get(cluster, [])

    def readloops(self) -> dict:
        """States of net/http client connections' readLoops at the last snapshot (goroutines)."""
        if self._readloops is None:
            g = self.g
            rl = g[(g["snapshot"] == g["snapshot"].max())
                   & (g["entry_function"].astype(str) == "net/http.(*persistConn).readLoop")]
            self._readloops = {str(k): int(v) for k, v in rl.groupby("state", observed=True)["count"].sum().items()}
        return self._readloops

    def graph_facts(self) -> dict:
        if self._graph_facts is None:
            from .patterns import graph_facts

            self._graph_facts = graph_facts(self)
        return self._graph_facts

    def could_hold(self, holder: tuple, waiters: list[tuple]) -> bool:
        """Could ``holder`` hold the lock ``waiters`` wait for, given the whole series?

        A goroutine that took a lock and then blocked stays blocked at the same place; if
        it has been there since a snapshot in which nobody waited for the lock, it is not
        the one holding it.
        """
        if not self.multi:
            return True
        since = self.stuck_since(holder[1], holder[2])
        clusters = frozenset(self.label_of(w[1], w[2]) for w in waiters) - {None}
        if since is None or not clusters:
            return True
        key = (since, clusters)
        if key not in self._could:
            counts = self.counts[[c for c in clusters if c in self.counts.columns]].sum(axis=1)
            self._could[key] = bool((counts.loc[counts.index >= since] > 0).all())
        return self._could[key]

    def wait_for(self):
        if self._wait_for is None:
            from .graphs import wait_for_graph

            self._wait_for = wait_for_graph(self.dumps)
        return self._wait_for


def _evidence(ctx: _Context, c, site: pd.Series) -> dict:
    g = ctx.g
    mask = (ctx.labels == c).to_numpy()
    rows = g[mask]
    evidence: list[str] = []
    score = 0.0
    counts_all = ctx.counts[c] if c in ctx.counts.columns else pd.Series(dtype=int)
    last_snap = int(g["snapshot"].max())
    state = site["state"]
    blocked = state not in ACTIVE_STATES

    # -- growth per instance ---------------------------------------------------------------
    best = None
    growing = 0
    for inst in ctx.instances:
        snaps = ctx.snaps_of[inst]
        if len(snaps) == 0:
            continue
        y = counts_all.reindex(snaps, fill_value=0).to_numpy()
        t = trend(y, ctx.minutes_of[inst])
        if best is None or t.last - t.first > best[1].last - best[1].first:
            best = (inst, t, y)
        if t.grows:
            growing += 1
    inst, t, y = best if best else ("", trend(np.zeros(1)), np.zeros(1))
    counts = [int(v) for v in y]
    slope_per_min = round(t.slope, 4) if t.per_minute else None
    last = float(t.last)
    peak = float(t.peak)
    persistence = None
    if ctx.multi and len(y) >= 3:
        rel = (t.last - t.first) / max(t.last, 1.0)
        if t.grows:
            g_strength = min(1.0, max(rel, 0.0) * 1.25) * min(1.0, (t.last - t.first) / 4.0)
            if t.n < 5:  # too few snapshots to tell a leak from a backlog that will drain
                g_strength *= 0.6
            persistence = _persistence(rows, ctx.snaps_of[inst], inst)
            p = 0.5 if persistence is None else persistence
            score += 4.0 * g_strength * (0.25 + 0.75 * p)
            score += 0.5 * min(1.0, math.log10(t.last - t.first + 1) / 3.0)  # bigger leaks first
            unit = "/min" if t.per_minute else "/snapshot"
            how = t.test if t.n < 5 and t.mk_p >= 0.05 else f"{t.test} p={t.mk_p:.2g}"
            evidence.append(
                f"grows from {int(t.first)} to {int(t.last)} goroutines over {len(y)} snapshots "
                f"(Theil–Sen {t.slope:+.2f}{unit}, {how})"
            )
            if persistence is not None:
                evidence.append(f"{persistence:.0%} of the goroutines that arrived later never left")
            if t.n < 5:
                evidence.append(f"only {t.n} snapshots: a backlog that will drain looks the same; "
                                "capture more to confirm")
            if len(ctx.instances) > 1:
                evidence.append(f"growing in {growing} of {len(ctx.instances)} instances")
        elif t.peak > 0 and t.last <= 0.3 * t.peak and t.peak >= 2 * max(t.first, 1):
            score -= 1.0
            evidence.append(f"a burst that drains: peaked at {int(t.peak)}, now {int(t.last)}")
        elif t.mk_trend == "decreasing" and t.mk_p < 0.05:
            score -= 0.5
            evidence.append("shrinking over the series")
        else:
            evidence.append(f"flat over {len(y)} snapshots ({int(t.first)} -> {int(t.last)}): no growth")
    # -- the last snapshot: single-dump evidence ------------------------------------------------
    now = rows[rows["snapshot"] == last_snap] if len(rows) else rows
    if now.empty:
        now = rows[rows["snapshot"] == rows["snapshot"].max()] if len(rows) else rows
    n_now = int(now["count"].sum()) if len(now) else 0
    leaked = int(now.loc[now["leaked"], "count"].sum()) if len(now) else 0
    leaked_share = leaked / n_now if n_now else 0.0
    waits = now["wait_minutes"].dropna()
    max_wait = int(waits.max()) if len(waits) else None
    app_site = site["site_class"] == "application"
    if blocked:
        if state in UNWAKEABLE and not (site["entry"] == "main.main" and state == "select (no cases)"):
            score += 3.0
            evidence.append(f"blocked in [{state}]: nothing can ever wake these goroutines")
        if leaked:
            score += 3.0 * leaked_share
            evidence.append(f"the runtime's goroutineleak profile marked {leaked} of {n_now} as leaked")
        if len(now) and int(now["snapshot"].iloc[0]) in ctx.deadlocked:
            score += 1.0
            evidence.append("the runtime's deadlock detector stopped the program with these blocked: "
                            "nothing was left to wake them")
        if state in SYNC_STATES and app_site:
            # LeakProf: many goroutines parked at one operation of the application's code
            size = min(1.0, math.log10(n_now + 1) / 3.0) if n_now else 0.0
            weight = 1.5 if not ctx.multi else 0.5
            score += weight * (0.6 + size)
            evidence.append(
                f"{n_now} goroutine(s) blocked in [{state}] at {site['site']} "
                f"({_short(site['file'])}:{site['line']})"
            )
        elif app_site and not ctx.multi:
            score += 0.4
        creator = site["created_by"]
        if creator and creator not in ctx.live_functions.get(last_snap, set()) and state in SYNC_STATES:
            # strong in one dump (an orphan); over a series, long-lived workers made by a
            # constructor are orphans too, and growth is the better witness
            score += 0.8 if not ctx.multi else 0.15
            evidence.append(f"their creator {creator} has returned: nobody is left to unblock them")
        if max_wait:
            w = min(1.0, max_wait / 30.0)
            score += (0.8 if not ctx.multi else 0.3) * w
            evidence.append(f"blocked for up to {max_wait} minute(s)")
    else:
        score -= 0.5
    if site["site_class"] in ("runtime",) or str(site["entry"]).startswith("runtime."):
        score -= 1.0  # the runtime's own goroutines (GC workers, finalizers...) are not leaks
    if site["entry"] == "main.main":
        score -= 0.8  # the main goroutine waits by design until the program ends
    return {
        "score": score, "evidence": evidence, "counts": counts, "slope_per_min": slope_per_min,
        "trend": t.mk_trend, "mk_p": round(t.mk_p, 6), "persistence": persistence,
        "max_wait": max_wait, "leaked_share": round(leaked_share, 3), "instances": len(ctx.instances),
        "last": last if ctx.multi else n_now, "peak": peak, "growing": growing, "t": t,
    }


def _persistence(rows: pd.DataFrame, snaps: np.ndarray, inst: str) -> float | None:
    """Share of the goroutines that arrived after the first snapshot and were still there at the last.

    Only goroutines first seen before the last snapshot count (newcomers at the last
    snapshot have had no chance to leave).
    """
    r = rows[(rows["instance"].astype(str) == inst) & rows["goid"].notna()]
    if r.empty or len(snaps) < 3:
        return None
    first = r.groupby("goid")["snapshot"].min()
    last = r.groupby("goid")["snapshot"].max()
    s0, sN = snaps.min(), snaps.max()
    arrived = first[(first > s0) & (first < sN)].index
    if len(arrived) == 0:
        return None
    stayed = (last.loc[arrived] == sN).mean()
    return float(stayed)


def _short(path: str) -> str:
    parts = str(path).replace("\\", "/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else str(path)


def series_facts(dumps: Dumps) -> dict:
    """Facts about a series for a triage report: snapshots, span, instances, totals.

    >>> import goforensics as gf
    >>> series_facts(gf.load("bundled:demo"))["goroutines_last"]
    77
    """
    s = dumps.snapshots
    g = dumps.goroutines
    per = g.groupby("snapshot", observed=True)["count"].sum().reindex(s["snapshot"], fill_value=0)
    t = s["taken_at"]
    span = (t.max() - t.min()).total_seconds() / 60.0 if t.notna().any() and len(s) > 1 else 0.0
    return {
        "snapshots": len(s),
        "instances": sorted(s["instance"].astype(str).unique().tolist()),
        "sources": int(s["source"].nunique()),
        "first_taken_at": None if not t.notna().any() else t.min().isoformat(),
        "last_taken_at": None if not t.notna().any() else t.max().isoformat(),
        "time_sources": sorted(s["time_source"].astype(str).unique().tolist()),
        "span_minutes": round(span, 3),
        "goroutines_first": int(per.iloc[0]) if len(per) else 0,
        "goroutines_last": int(per.iloc[-1]) if len(per) else 0,
        "formats": sorted(s["format"].astype(str).unique().tolist()),
        "kinds": sorted(s["kind"].astype(str).unique().tolist()),
        "go_versions": sorted(v for v in s["go_version"].astype(str).unique().tolist() if v),
        "leaked_verdicts": int(g.loc[g["leaked"], "count"].sum()),
        "truncated_snapshots": int(s["truncated"].sum()),
        "warnings": len(dumps.warnings),
        **_ending(dumps),
    }


def _ending(dumps: Dumps) -> dict:
    """How the last snapshot ends the process, if it does: ``ended_by`` (the panic, fatal
    error or signal line) and ``ended_at`` (where the goroutine that raised it was, in the
    application's code; a deadlock or a signal has no such goroutine)."""
    s = dumps.snapshots
    out = {"ended_by": None, "ended_at": None}
    if not len(s) or str(s["kind"].iloc[-1]) not in ("panic", "fatal error", "signal"):
        return out
    kind, message = str(s["kind"].iloc[-1]), s["message"].iloc[-1]
    out["ended_by"] = headline(kind, "" if pd.isna(message) else message)
    if kind == "signal" or "all goroutines are asleep" in out["ended_by"]:
        return out
    g = dumps.goroutines
    g = g[g["snapshot"] == s["snapshot"].iloc[-1]]
    if g.empty:
        return out
    first = g.loc[g["line"].idxmin()]  # the runtime prints the goroutine that raised it first
    f = dumps.frames
    f = f[(f["stack_id"] == first["stack_id"]) & (f["section"] == 0)].sort_values("depth")
    app = f[f["frame_class"] == "application"]
    if len(app):
        fr = app.iloc[0]
        out["ended_at"] = f"goroutine {int(first['goid'])} at {fr['function']} ({_short(fr['file'])}:{fr['line']})"
    return out


def triage(dumps: Dumps, labels: pd.Series | None = None, *, top: int = 10) -> dict:
    """The triage report as plain data (what ``goforensics triage --format json`` prints).

    ``{"suspects": [{"rank", "site", "file", "line", "entry", "created_by", "state",
    "counts", "slope_per_min", "score", "pattern", "advice", "evidence", ...}, ...],
    "series": {...}, "clusters": N}``
    """
    if labels is None:
        labels = _default_labels(dumps)
    s = suspects(dumps, labels, top=top)
    records = []
    for r in s.to_dict("records"):
        rec = {}
        for k, v in r.items():
            if isinstance(v, (np.integer,)):
                v = int(v)
            elif isinstance(v, (np.floating, float)):
                v = None if not np.isfinite(v) else float(v)
            elif v is pd.NA:
                v = None
            rec[k] = v
        records.append(rec)
    return {
        "suspects": records,
        "series": series_facts(dumps),
        "clusters": int(pd.Series(labels).nunique()),
    }
