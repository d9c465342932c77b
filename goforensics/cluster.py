"""Cluster goroutines into root causes: fingerprint buckets, then weighted edit-distance merges.

1. Every distinct stack is normalised (:mod:`goforensics.normalize`) and bucketed by the
   fingerprint of its normalised frames, so 100,000 goroutines on one stack cost one
   computation.
2. Buckets are compared only within a *block*: the same blocking site (the topmost
   application frame's function, else the topmost frame) and the same blocking operation
   (the topmost frame). Two different blocking sites in application code never merge.
3. Inside a block, bucket representatives are compared by an edit distance over integer
   frame tokens (rapidfuzz aligns; the edits are then weighted) in the manner of ReBucket,
   TraceSim and FaST: a frame weighs more near the blocking end (position), when it is
   application code (class) and when it is rare in the series (an IDF-like weight). The
   distance is the weight of the edited frames over the weight of all frames, in [0, 1].
4. Buckets closer than ``threshold`` are merged by scikit-learn's DBSCAN on the sparse
   precomputed distances, weighted by goroutine counts. Large blocks are first reduced to
   leaders (each bucket joins the heaviest leader within ``threshold / 2``).

Cluster ids are numbered by descending goroutine count over the whole series, then by
fingerprint, so they are the same from run to run, and one cause keeps its id in every
snapshot of the series that was clustered.

>>> import goforensics as gf
>>> text = '''goroutine 1 [chan send]:
... main.walk(...)
... \\t/app/main.go:43 +0x45
... main.walk(...)
... \\t/app/main.go:46 +0x56
... main.start.func1()
... \\t/app/main.go:55 +0x1d
...
... goroutine 2 [chan send]:
... main.walk(...)
... \\t/app/main.go:43 +0x45
... main.start.func1()
... \\t/app/main.go:55 +0x1d
...
... goroutine 3 [select]:
... main.worker()
... \\t/app/pool.go:12 +0x8b
... '''
>>> d = gf.parse_text(text)
>>> cluster(d).tolist()
[0, 0, 1]
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import xxhash
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from scipy import sparse
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN

from .model import Dumps
from .normalize import LEVELS, goroutine_fingerprints, normalize_stacks

__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_THRESHOLD",
    "StackClusterer",
    "cluster",
    "cluster_counts",
    "describe_clusters",
    "stack_distance",
]

DEFAULT_LEVEL = "functions"
DEFAULT_THRESHOLD = 0.3

# Weight of a frame by its class: code the user owns tells the cause, the runtime least.
CLASS_WEIGHTS = {0: 0.1, 1: 0.3, 2: 0.6, 3: 1.0}
_UNKNOWN_STATES = {"unknown", "", "nan", "<NA>"}
# State classes: a goroutine parked on a channel and one asleep are different causes.
_STATE_CLASS = {
    "running": "active", "runnable": "active", "syscall": "active", "preempted": "active",
    "chan receive": "chan", "chan send": "chan", "chan receive (nil chan)": "nil chan",
    "chan send (nil chan)": "nil chan", "select": "chan", "select (no cases)": "select (no cases)",
    "IO wait": "IO wait", "sleep": "sleep", "semacquire": "sync", "sync.Mutex.Lock": "sync",
    "sync.RWMutex.RLock": "sync", "sync.RWMutex.Lock": "sync", "sync.WaitGroup.Wait": "sync",
    "sync.Cond.Wait": "sync",
}


def _weights(tokens: list[int], classes: tuple[int, ...], idf: np.ndarray, decay: float) -> np.ndarray:
    pos = 1.0 / (1.0 + np.arange(len(tokens), dtype=np.float64)) ** decay
    cls = np.asarray([CLASS_WEIGHTS.get(c, 1.0) for c in classes], dtype=np.float64)
    return pos * cls * idf[np.asarray(tokens, dtype=np.int64)] if tokens else pos


def stack_distance(a: list[int], b: list[int], wa: np.ndarray, wb: np.ndarray) -> float:
    """Weighted edit distance in [0, 1] between two token sequences with per-frame weights.

    rapidfuzz finds the alignment (Levenshtein edit operations); each replaced, inserted
    or deleted frame then costs its weight, over the weight of both stacks.

    >>> import numpy as np
    >>> w = np.array([1.0, 0.5, 0.25])
    >>> stack_distance([1, 2, 3], [1, 2, 3], w, w)
    0.0
    >>> round(stack_distance([1, 2, 3], [1, 9, 3], w, w), 3)
    0.286
    """
    total = float(wa.sum() + wb.sum())
    if total <= 0:
        return 0.0
    cost = 0.0
    for tag, s, t in Levenshtein.editops(a, b):
        if tag == "replace":
            cost += wa[s] + wb[t]
        elif tag == "delete":
            cost += wa[s]
        else:
            cost += wb[t]
    return float(min(1.0, cost / total))


class StackClusterer(ClusterMixin, BaseEstimator):
    """Cluster the goroutines of a :class:`~goforensics.model.Dumps` into root causes.

    Parameters
    ----------
    level : normalisation level, one of :data:`goforensics.normalize.LEVELS`.
    threshold : largest weighted edit distance (0..1) at which two buckets merge;
        0 keeps the fingerprint buckets as they are.
    position_decay : exponent of the position weight ``1 / (1 + depth) ** decay``.
    min_samples : DBSCAN's ``min_samples`` in goroutines (1: any two close buckets merge;
        more: light buckets cannot bridge two heavier ones).
    prefilter : unweighted normalised Levenshtein distance above which a pair is not
        even weighed (a speed cut-off; must be >= threshold).
    leaders_above : blocks with more buckets than this are first reduced to leaders.
    workers : threads for rapidfuzz's ``cdist``.

    After ``fit(dumps)``: ``labels_`` (one cluster id per goroutine row), ``n_clusters_``,
    ``fingerprints_`` (per goroutine row) and ``buckets_`` (one row per fingerprint bucket:
    fingerprint, goroutines, cluster).

    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 1 [select]:\\nmain.loop()\\n\\t/a.go:5 +0x1\\n")
    >>> StackClusterer(threshold=0.2).fit(d).labels_.tolist()
    [0]
    >>> StackClusterer(level="functions").get_params()["level"]
    'functions'
    """

    def __init__(
        self,
        level: str = DEFAULT_LEVEL,
        threshold: float = DEFAULT_THRESHOLD,
        position_decay: float = 1.0,
        min_samples: int = 1,
        prefilter: float = 0.75,
        leaders_above: int = 300,
        workers: int = 2,
    ):
        self.level = level
        self.threshold = threshold
        self.position_decay = position_decay
        self.min_samples = min_samples
        self.prefilter = prefilter
        self.leaders_above = leaders_above
        self.workers = workers

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, dumps: Dumps, y=None) -> StackClusterer:
        """Cluster ``dumps`` (all its snapshots at once); returns self."""
        if self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}: choose one of {', '.join(LEVELS)}")
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be within 0..1, got {self.threshold!r}")
        g = dumps.goroutines
        if g.empty:
            self.labels_ = np.array([], dtype=np.int64)
            self.fingerprints_ = np.array([], dtype=np.uint64)
            self.n_clusters_ = 0
            self.buckets_ = pd.DataFrame({"fingerprint": pd.Series([], dtype=np.uint64),
                                          "goroutines": pd.Series([], dtype=np.int64),
                                          "cluster": pd.Series([], dtype=np.int64), "tokens": []})
            return self
        sid = g["stack_id"].to_numpy(dtype=np.uint64)
        norm = normalize_stacks(dumps, self.level, stack_ids=pd.unique(sid))
        fps = goroutine_fingerprints(dumps, self.level, normalized=norm).to_numpy(dtype=np.uint64)
        row_pos = pd.Index(norm["stack_id"]).get_indexer(sid)

        # The site of each stack: (site function, blocking operation, site line).
        fn_t, site_t = norm["functions"].tolist(), norm["site"].tolist()
        site_fn = np.asarray([f[k] if f else "" for f, k in zip(fn_t, site_t, strict=True)] + [""],
                             dtype=object)
        op_fn = np.asarray([f[0] if f else "" for f in fn_t] + [""], dtype=object)
        site_line = np.asarray([ln[k] if ln else 0 for ln, k in
                                zip(norm["lines"].tolist(), site_t, strict=True)] + [0], dtype=np.int64)
        site_off = np.r_[norm["site_offset"].to_numpy(dtype=np.int64), -1]
        counts = g["count"].to_numpy(dtype=np.int64)
        r = np.where(row_pos >= 0, row_pos, len(norm))  # stackless rows point at the blank site
        block_of_row = pd.factorize(pd.Series(site_fn[r]).astype(str) + "\x00" +
                                    pd.Series(op_fn[r]).astype(str))[0]
        if self.level in ("functions", "application"):
            group_line = _site_groups(block_of_row, site_line[r], site_off[r],
                                      g["snapshot"].to_numpy(dtype=np.int64), counts)
            fps = _mix(fps, group_line)
        else:
            group_line = site_line[r]

        # Buckets: one per distinct fingerprint, in a fixed order (ascending fingerprint).
        ufp, first_row, inv = np.unique(fps, return_index=True, return_inverse=True)
        weight = np.bincount(inv, weights=counts, minlength=len(ufp)).astype(np.float64)
        nb = len(ufp)
        # A representative stack per bucket: its first row's (all rows of a bucket share the
        # normalised tokens and site; at 'exact' their arguments are equal too).
        pos = row_pos[first_row]
        tokens_s = [norm["tokens"].iat[p] if p >= 0 else () for p in pos]
        classes = [norm["classes"].iat[p] if p >= 0 else () for p in pos]
        if self.level == "exact":
            tokens_s = self._exact_tokens(g, norm, first_row, pos, tokens_s)
        block_key = list(zip(block_of_row[first_row].tolist(), group_line[first_row].tolist(),
                             strict=True))

        # Dense integer tokens (sorted vocabulary: the same ids from run to run).
        vocab = {t: i for i, t in enumerate(sorted({t for ts in tokens_s for t in ts}))}
        tokens = [[vocab[t] for t in ts] for ts in tokens_s]
        df = np.zeros(len(vocab), dtype=np.float64)
        for ts in tokens:
            for t in set(ts):
                df[t] += 1
        idf = 0.5 + 0.5 * np.log1p(nb / np.maximum(df, 1)) / math.log1p(max(nb, 1))
        w = [_weights(ts, cl, idf, self.position_decay) for ts, cl in zip(tokens, classes, strict=True)]

        states = self._bucket_states(g, inv, counts, nb)
        blocks: dict[tuple[int, int], list[int]] = {}
        for b in range(nb):
            blocks.setdefault(block_key[b], []).append(b)

        labels_b = np.arange(nb, dtype=np.int64)
        if self.threshold > 0:
            for members in blocks.values():
                if len(members) > 1:
                    self._refine(members, tokens, w, weight, ufp, states, labels_b)

        # Number clusters: descending goroutines, then smallest fingerprint.
        roots, root_inv = np.unique(labels_b, return_inverse=True)
        size = np.bincount(root_inv, weights=weight, minlength=len(roots))
        min_fp = np.full(len(roots), np.iinfo(np.uint64).max, dtype=np.uint64)
        np.minimum.at(min_fp, root_inv, ufp)
        rank = np.lexsort((min_fp, -size))
        ids = np.empty(len(roots), dtype=np.int64)
        ids[rank] = np.arange(len(roots))
        bucket_cluster = ids[root_inv]

        self.labels_ = bucket_cluster[inv] if len(fps) else np.array([], dtype=np.int64)
        self.fingerprints_ = fps
        self.n_clusters_ = len(roots)
        self.buckets_ = pd.DataFrame(
            {"fingerprint": ufp, "goroutines": weight.astype(np.int64), "cluster": bucket_cluster,
             "tokens": tokens_s}
        )
        return self

    def fit_predict(self, dumps: Dumps, y=None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(dumps).labels_

    # -- parts ------------------------------------------------------------------------------
    @staticmethod
    def _exact_tokens(g, norm, first_row, pos, tokens_s):
        args = g["args"].fillna("").astype(str).to_numpy()
        out = []
        for r, p, ts in zip(first_row, pos, tokens_s, strict=True):
            parts = args[r].split("\n")
            depths = norm["depths"].iat[p] if p >= 0 else ()
            out.append(tuple(f"{t}({parts[d] if d < len(parts) else ''})"
                             for t, d in zip(ts, depths, strict=True)))
        return out

    @staticmethod
    def _bucket_states(g, inv, counts, nb) -> list[str]:
        """The dominant known state class of each bucket ('' when unknown)."""
        st = g["state"].astype(str).map(lambda x: _STATE_CLASS.get(x, x)).to_numpy(dtype=object)
        t = pd.DataFrame({"bucket": inv, "state": st, "count": counts})
        t = t[~t["state"].isin(list(_UNKNOWN_STATES))]
        s = t.groupby(["bucket", "state"], sort=True)["count"].sum().reset_index()
        s = s.sort_values(["bucket", "count", "state"], ascending=[True, False, True], kind="stable")
        top = s.drop_duplicates("bucket").set_index("bucket")["state"]
        out = [""] * nb
        for b, v in top.items():
            out[int(b)] = str(v)
        return out

    def _refine(self, members, tokens, w, weight, ufp, states, labels_b) -> None:
        """Merge the buckets of one block: leaders if the block is large, then DBSCAN."""
        # Heaviest first, then fingerprint: the order fixes leaders and ties.
        members = sorted(members, key=lambda b: (-weight[b], int(ufp[b])))
        if len(members) > self.leaders_above:
            lead_of = self._leaders(members, tokens, w, states)
        else:
            lead_of = {b: b for b in members}
        leaders = sorted(set(lead_of.values()), key=lambda b: (-weight[b], int(ufp[b])))
        lw = {b: 0.0 for b in leaders}
        for b, lb in lead_of.items():
            lw[lb] += weight[b]
        n = len(leaders)
        if n > 1:
            seqs = [tokens[b] for b in leaders]
            cut = max(self.prefilter, self.threshold)
            rows, cols, vals = [], [], []
            for start in range(0, n, 512):
                block = process.cdist(seqs[start:start + 512], seqs,
                                      scorer=Levenshtein.normalized_distance,
                                      score_cutoff=cut, workers=self.workers, dtype=np.float32)
                ii, jj = np.nonzero(block <= cut)
                for i, j in zip((ii + start).tolist(), jj.tolist(), strict=True):
                    if j <= i:
                        continue
                    a, b = leaders[i], leaders[j]
                    d = stack_distance(tokens[a], tokens[b], w[a], w[b])
                    if d <= self.threshold and self._compatible(a, b, d, states):
                        d = max(d, 1e-9)  # sparse precomputed: a stored zero would vanish
                        rows += [i, j]
                        cols += [j, i]
                        vals += [d, d]
            graph = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
            sw = np.asarray([lw[b] for b in leaders], dtype=np.float64)
            lab = DBSCAN(eps=self.threshold, min_samples=self.min_samples,
                         metric="precomputed").fit(graph, sample_weight=sw).labels_
        else:
            lab = np.zeros(1, dtype=np.int64)
        # Each DBSCAN cluster takes the id of its first (heaviest) leader; noise stays alone.
        root: dict[int, int] = {}
        leader_root = {}
        for i, b in enumerate(leaders):
            if lab[i] < 0:
                leader_root[b] = b
            else:
                leader_root[b] = root.setdefault(int(lab[i]), b)
        for b, lb in lead_of.items():
            labels_b[b] = leader_root[lb]

    def _compatible(self, a: int, b: int, d: float, states: list[str]) -> bool:
        sa, sb = states[a], states[b]
        # Known, different wait states: only nearly identical stacks may merge.
        return not (sa and sb and sa != sb and d > self.threshold / 4)

    def _leaders(self, members, tokens, w, states) -> dict[int, int]:
        radius = self.threshold / 2
        cut = max(self.prefilter, radius)
        leaders: list[int] = []
        seqs: list[list[int]] = []
        lead_of: dict[int, int] = {}
        for b in members:
            best, best_d = -1, 2.0
            if seqs:
                for _, _, k in sorted(
                    process.extract(tokens[b], seqs, scorer=Levenshtein.normalized_distance,
                                    score_cutoff=cut, limit=8),
                    key=lambda x: (x[1], x[2]),
                ):
                    a = leaders[k]
                    d = stack_distance(tokens[b], tokens[a], w[b], w[a])
                    if d <= radius and d < best_d and self._compatible(a, b, d, states):
                        best, best_d = a, d
            if best < 0:
                leaders.append(b)
                seqs.append(tokens[b])
                lead_of[b] = b
            else:
                lead_of[b] = best
        return lead_of


def _site_groups(block: np.ndarray, line: np.ndarray, offset: np.ndarray, snapshot: np.ndarray,
                 counts: np.ndarray) -> np.ndarray:
    """Per row, the canonical line of its site group, for levels that drop line numbers.

    Lines of one blocking site (same function and operation) seen together in a snapshot
    come from one binary: they are different places. Lines never seen together may be one
    place moved by a new build. So the lines are cut into *builds* (lines linked by shared
    snapshots), the heaviest build's lines found the groups, and each other build is laid
    over them with the one line shift that matches most of its lines (a new build moves a
    region of a file as a whole); a line with no counterpart starts its own group. PC
    offsets, where the format has them, must agree within one (debug=1 prints the call's
    PC, debug=2 the return address).
    """
    t = pd.DataFrame({"block": block, "line": line, "offset": offset, "snapshot": snapshot,
                      "count": counts})
    per = t.groupby(["block", "line"], sort=True).agg(
        weight=("count", "sum"), snaps=("snapshot", lambda x: frozenset(x.tolist())),
        offs=("offset", lambda x: frozenset(v for v in x.tolist() if v >= 0)))
    canonical: dict[tuple[int, int], int] = {}
    for blk, sub in per.groupby(level=0, sort=True):
        lines = sub.index.get_level_values(1).tolist()
        if len(lines) == 1:
            canonical[(blk, lines[0])] = lines[0]
            continue
        info = {ln: (sub["weight"].iat[i], sub["snaps"].iat[i], sub["offs"].iat[i])
                for i, ln in enumerate(lines)}
        for build in _builds(info):
            _lay_over(blk, build, info, canonical)
    keys = pd.MultiIndex.from_arrays([block, line])
    known = pd.Series(list(canonical.values()), index=pd.MultiIndex.from_tuples(list(canonical)))
    return known.reindex(keys).to_numpy(dtype=np.int64)


def _builds(info: dict) -> list[list[int]]:
    """Lines linked by shared snapshots, heaviest set first."""
    parent = {ln: ln for ln in info}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_seen: dict[int, int] = {}
    for ln, (_, snaps, _) in info.items():
        for s in snaps:
            other = first_seen.setdefault(s, ln)
            parent[find(ln)] = find(other)
    sets: dict[int, list[int]] = {}
    for ln in info:
        sets.setdefault(find(ln), []).append(ln)
    return sorted((sorted(v) for v in sets.values()),
                  key=lambda v: (-sum(info[x][0] for x in v), v[0]))


def _lay_over(blk: int, build: list[int], info: dict, canonical: dict) -> None:
    groups = {c: ln for (b, ln), c in canonical.items() if b == blk}  # line -> canonical
    snaps = frozenset().union(*(info[x][1] for x in build))

    def fits(ln, x):
        o1, o2 = info[ln][2], info[x][2]
        return not info[x][1] & snaps and (not o1 or not o2 or any(
            abs(a - b) <= 1 for a in o1 for b in o2))

    shifts: Counter = Counter()
    for ln in build:
        for x in groups:
            if fits(ln, x):
                shifts[x - ln] += 1
    if shifts:
        best = min(shifts.items(), key=lambda kv: (-kv[1], abs(kv[0]), kv[0]))[0]
    taken: set[int] = set()
    for ln in build:
        x = ln + best if shifts else None
        if x is not None and x in groups and x not in taken and fits(ln, x):
            canonical[(blk, ln)] = canonical[(blk, x)]
            taken.add(x)
        else:
            canonical[(blk, ln)] = ln


def _mix(fps: np.ndarray, group_line: np.ndarray) -> np.ndarray:
    """Fingerprints that also carry the site group, so two site groups never share a bucket."""
    pairs = pd.DataFrame({"fp": fps, "line": group_line})
    uniq = pairs.drop_duplicates()
    # A fingerprint seen with one site group keeps its value; only split ones change.
    n_groups = uniq.groupby("fp")["line"].transform("size").to_numpy()
    mixed = [
        int(fp) if k == 1 else xxhash.xxh3_64_intdigest(int(fp).to_bytes(8, "little") +
                                                         int(ln).to_bytes(8, "little", signed=True))
        for fp, ln, k in zip(uniq["fp"].tolist(), uniq["line"].tolist(), n_groups.tolist(), strict=True)
    ]
    lut = pd.Series(np.asarray(mixed, dtype=np.uint64),
                    index=pd.MultiIndex.from_frame(uniq.astype({"fp": np.uint64})))
    return lut.reindex(pd.MultiIndex.from_frame(pairs)).to_numpy(dtype=np.uint64)


# --- plain functions ------------------------------------------------------------------------


def cluster(dumps: Dumps, level: str = DEFAULT_LEVEL, threshold: float = DEFAULT_THRESHOLD,
            **params) -> pd.Series:
    """Cluster id of every goroutine row (int64, aligned with ``dumps.goroutines.index``).

    Ids run from 0 (the cluster with the most goroutines over the whole series) upwards.
    ``params`` go to :class:`StackClusterer`.

    >>> import goforensics as gf
    >>> t = "goroutine {} [chan receive]:\\nmain.{}()\\n\\t/a.go:{} +0x1\\n\\n"
    >>> d = gf.parse_text(t.format(1, "a", 5) + t.format(2, "b", 9) + t.format(3, "b", 9))
    >>> cluster(d).tolist()
    [1, 0, 0]
    """
    est = StackClusterer(level=level, threshold=threshold, **params).fit(dumps)
    return pd.Series(est.labels_, index=dumps.goroutines.index, name="cluster", dtype=np.int64)


def _labels(dumps: Dumps, labels) -> np.ndarray:
    lab = np.asarray(labels, dtype=np.int64)
    if len(lab) != len(dumps.goroutines):
        raise ValueError(f"{len(lab)} labels for {len(dumps.goroutines)} goroutine rows")
    return lab


def _site(frames: pd.DataFrame) -> tuple[str, str, int | None]:
    """The frame where a stack blocks in application code: the topmost application frame,
    else the topmost non-runtime frame, else the top frame."""
    if frames.empty:
        return "", "", None
    cls = frames["frame_class"].astype(str)
    for mask in (cls == "application", cls != "runtime", cls == cls):
        sel = frames[mask]
        if len(sel):
            r = sel.iloc[0]
            return str(r["function"]), str(r["file"]), None if pd.isna(r["line"]) else int(r["line"])
    return "", "", None


def _stack_text(frames: pd.DataFrame) -> str:
    out = []
    for fn, file, line in zip(frames["function"].astype(str), frames["file"].astype(str),
                              frames["line"], strict=True):
        out.append(f"{fn}\n\t{file}:{'' if pd.isna(line) else int(line)}")
    return "\n".join(out)


def describe_clusters(dumps: Dumps, labels) -> pd.DataFrame:
    """One row per cluster: size, representative stack, blocking site, state mix, creators.

    Columns: ``cluster``; ``goroutines`` (sum of ``count``); ``rows``; ``stacks`` (distinct
    stacks); ``snapshots`` (snapshots it appears in), ``first_snapshot``, ``last_snapshot``;
    ``representative`` (the ``stack_id`` with the most goroutines) and ``frames`` (its frames
    as text, top first); ``site_function``, ``site_file``, ``site_line`` (the topmost
    application frame of the representative, else its topmost non-runtime frame);
    ``state`` (dominant) and ``states`` (JSON object of goroutines per state);
    ``entry_function``, ``created_by`` (dominant). Sorted by ``cluster``.

    >>> import goforensics as gf
    >>> t = "goroutine {} [chan send]:\\nmain.emit()\\n\\t/app/a.go:7 +0x1\\n\\n"
    >>> d = gf.parse_text(t.format(1) + t.format(2))
    >>> row = describe_clusters(d, cluster(d)).iloc[0]
    >>> int(row["goroutines"]), row["site_function"], int(row["site_line"]), row["states"]
    (2, 'main.emit', 7, '{"chan send": 2}')
    """
    lab = _labels(dumps, labels)
    g = dumps.goroutines
    cols = ["cluster", "goroutines", "rows", "stacks", "snapshots", "first_snapshot",
            "last_snapshot", "representative", "frames", "site_function", "site_file",
            "site_line", "state", "states", "entry_function", "created_by"]
    if not len(g):
        return pd.DataFrame(columns=cols)
    t = pd.DataFrame({"cluster": lab, "stack_id": g["stack_id"].to_numpy(dtype=np.uint64),
                      "count": g["count"].to_numpy(dtype=np.int64),
                      "snapshot": g["snapshot"].to_numpy(dtype=np.int64)})
    by = t.groupby("cluster", sort=True)
    out = pd.DataFrame({
        "goroutines": by["count"].sum(), "rows": by.size(), "stacks": by["stack_id"].nunique(),
        "snapshots": by["snapshot"].nunique(), "first_snapshot": by["snapshot"].min(),
        "last_snapshot": by["snapshot"].max(),
    })
    out["representative"] = _top_value(t, "stack_id")
    for col in ("state", "entry_function", "created_by"):
        t[col] = g[col].astype(str).to_numpy()
    out["state"] = _top_value(t, "state")
    out["entry_function"] = _top_value(t, "entry_function")
    out["created_by"] = _top_value(t, "created_by")
    st = t.groupby(["cluster", "state"], sort=True)["count"].sum().reset_index()
    st = st.sort_values(["cluster", "count", "state"], ascending=[True, False, True], kind="stable")
    out["states"] = pd.Series({c: json.dumps(dict(zip(x["state"], x["count"].astype(int), strict=True)))
                               for c, x in st.groupby("cluster", sort=True)})

    own = dumps.frames[dumps.frames["section"] == 0]
    rep_frames = own[own["stack_id"].isin(out["representative"].to_numpy())]
    frames_by = dict(iter(rep_frames.sort_values(["stack_id", "depth"]).groupby("stack_id", sort=False)))
    texts, sites = {}, {}
    for rep in pd.unique(out["representative"]):
        fr = frames_by.get(rep, own.iloc[:0])
        texts[rep], sites[rep] = _stack_text(fr), _site(fr)
    reps = out["representative"].tolist()
    out["frames"] = [texts[r] for r in reps]
    out["site_function"] = [sites[r][0] for r in reps]
    out["site_file"] = [sites[r][1] for r in reps]
    out["site_line"] = pd.array([sites[r][2] for r in reps], dtype="Int64")
    out = out.rename_axis("cluster").reset_index()
    out["representative"] = out["representative"].astype(np.uint64)
    for c in ("goroutines", "rows", "stacks", "snapshots", "first_snapshot", "last_snapshot"):
        out[c] = out[c].astype(np.int64)
    return out[cols]


def _top_value(t: pd.DataFrame, col: str) -> pd.Series:
    """Per cluster, the value of ``col`` with the most goroutines (ties: the smallest value)."""
    s = t.groupby(["cluster", col], sort=True)["count"].sum().reset_index()
    s = s.sort_values(["cluster", "count", col], ascending=[True, False, True], kind="stable")
    return s.drop_duplicates("cluster").set_index("cluster")[col]


def cluster_counts(dumps: Dumps, labels) -> pd.DataFrame:
    """Goroutines per snapshot (rows, every snapshot of the series) and cluster (columns).

    >>> import goforensics as gf
    >>> t = "goroutine {} [chan send]:\\nmain.emit()\\n\\t/app/a.go:7 +0x1\\n\\n"
    >>> d = gf.Dumps.concat([gf.parse_text(t.format(1)), gf.parse_text(t.format(1) + t.format(2))])
    >>> d.goroutines["snapshot"] = [0, 1, 1]
    >>> cluster_counts(d, cluster(d)).to_dict()
    {0: {0: 1, 1: 2}}
    """
    lab = _labels(dumps, labels)
    g = dumps.goroutines
    snaps = sorted(set(dumps.snapshots["snapshot"].astype(int)) | set(g["snapshot"].astype(int)))
    t = pd.DataFrame({"snapshot": g["snapshot"].to_numpy(dtype=np.int64), "cluster": lab,
                      "count": g["count"].to_numpy(dtype=np.int64)})
    wide = t.pivot_table(index="snapshot", columns="cluster", values="count", aggfunc="sum",
                         fill_value=0)
    wide = wide.reindex(index=snaps, fill_value=0).astype(np.int64)
    wide.columns = wide.columns.astype(np.int64)
    wide.columns.name = "cluster"
    wide.index.name = "snapshot"
    return wide
