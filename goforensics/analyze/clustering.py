"""Cluster goroutines into root causes: fingerprint buckets, then weighted edit-distance merges.

1. Every distinct stack is normalised (:mod:`goforensics.analyze.normalize`) and bucketed by the
   fingerprint of its normalised frames, so 100,000 goroutines on one stack cost one
   computation.
2. Buckets are compared only within a *block*: the same blocking site (the topmost
   application frame's function) and the same blocking operation (the topmost frame).
   Two blocking sites in different application functions never merge; two blocking
   points of one function (a loop that waits in two places) do, except at the ``lines``
   and ``exact`` levels, whose contract is one build's exact code path. Stacks with no
   application frame are not merged further: their whole path tells them apart (an idle
   keep-alive read and a slow client's header read differ only deep in net/http).
3. Inside a block, bucket representatives are compared by an edit distance over integer
   frame tokens (rapidfuzz aligns; the edits are then weighted) in the manner of ReBucket,
   TraceSim and FaST: a frame weighs more near the blocking end (position), when it is
   application code (class) and when it is rare in the series (an IDF-like weight). The
   distance is the weight of the edited frames over the weight of all frames, in [0, 1].
4. Buckets closer than ``threshold`` are merged by scikit-learn's DBSCAN on the sparse
   precomputed distances, weighted by goroutine counts (with ``min_samples`` at most a
   bucket's weight, as by default, its clusters are the graph's connected components, found
   without importing scikit-learn). Large blocks are first reduced to
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

import math

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from ..goruntime import UNKNOWN_STATES, cluster_class
from ..model import Dumps
from .describe import cluster_counts, cluster_sites, describe_clusters
from .families import adopt_families, merge_companions
from .normalize import LEVELS, goroutine_fingerprints, normalize_stacks

__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_THRESHOLD",
    "ClusterFitter",
    "cluster",
    "cluster_counts",
    "cluster_sites",
    "describe_clusters",
    "resolve_labels",
    "stack_distance",
]

DEFAULT_LEVEL = "functions"
DEFAULT_THRESHOLD = 0.3

# Weight of a frame by its class: code the user owns tells the cause, the runtime least.
CLASS_WEIGHTS = {0: 0.1, 1: 0.3, 2: 0.6, 3: 1.0}


def _weights(
    tokens: list[int], classes: tuple[int, ...], idf: np.ndarray, decay: float
) -> np.ndarray:
    pos = 1.0 / (1.0 + np.arange(len(tokens), dtype=np.float64)) ** decay
    cls = np.asarray([CLASS_WEIGHTS.get(c, 1.0) for c in classes], dtype=np.float64)
    return pos * cls * idf[np.asarray(tokens, dtype=np.int64)] if tokens else pos


def stack_distance(a: list[int], b: list[int], wa, wb) -> float:
    """Weighted edit distance in [0, 1] between two token sequences with per-frame weights.

    rapidfuzz finds the alignment (Levenshtein edit operations); each replaced, inserted
    or deleted frame then costs its weight, over the weight of both stacks.

    Parameters
    ----------
    a, b : list of int
        The two stacks' token codes, top first.
    wa, wb : sequence of float
        Each frame's weight, for ``a`` and ``b``.

    Returns
    -------
    float
        0 for equal stacks, 1 for stacks with nothing in common.

    Examples
    --------
    >>> w = [1.0, 0.5, 0.25]
    >>> stack_distance([1, 2, 3], [1, 2, 3], w, w)
    0.0
    >>> round(stack_distance([1, 2, 3], [1, 9, 3], w, w), 3)
    0.286
    """
    total = float(sum(wa) + sum(wb))
    if total <= 0:
        return 0.0
    cost = 0.0
    for tag, s, t in Levenshtein.editops(a, b).as_list():
        if tag == "replace":
            cost += wa[s] + wb[t]
        elif tag == "delete":
            cost += wa[s]
        else:
            cost += wb[t]
    return float(min(1.0, cost / total))


class ClusterFitter:
    """Cluster the goroutines of a :class:`~goforensics.model.Dumps` into root causes.

    The algorithm, with no scikit-learn import: :func:`cluster` uses it as it is, and
    :class:`goforensics.analyze.estimator.StackClusterer` (``gf.StackClusterer``) is this class
    with scikit-learn's estimator API (``get_params``, ``set_params``, ``clone``). Importing
    scikit-learn costs about a second, more than clustering a small dump; it is imported only
    where buckets must be merged with ``min_samples`` above a bucket's own weight (DBSCAN).

    Parameters
    ----------
    level : normalisation level, one of :data:`goforensics.analyze.normalize.LEVELS`.
    threshold : largest weighted edit distance (0..1) at which two buckets merge;
        0 keeps the fingerprint buckets as they are.
    position_decay : exponent of the position weight ``1 / (1 + depth) ** decay``.
    min_samples : DBSCAN's ``min_samples`` in goroutines (1: any two close buckets merge;
        more: light buckets cannot bridge two heavier ones).
    prefilter : unweighted normalised Levenshtein distance above which a pair is not
        even weighed (a speed cut-off; must be >= threshold).
    leaders_above : blocks with more buckets than this are first reduced to leaders.
    workers : threads for rapidfuzz's ``cdist``.
    companions : merge clusters of standard-library goroutines that one goroutine starts
        together (a connection's ``readLoop`` and ``writeLoop``): see
        :func:`goforensics.analyze.families.merge_companions`.
        Off by default: it raises recall, but where identical connection stacks serve
        different causes it lowers precision (measured in benchmarks/cluster_quality.py).
    families : give goroutines that run only standard-library code the cluster of the code
        that started them, goroutine by goroutine: see
        :func:`goforensics.analyze.families.adopt_families`. A server's
        connections join its accept loop, a connection's writeLoop its readLoop.

    After ``fit(dumps)``: ``labels_`` (one cluster id per goroutine row), ``n_clusters_``,
    ``fingerprints_`` (per goroutine row) and ``buckets_`` (one row per fingerprint bucket:
    fingerprint, goroutines, cluster).

    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 1 [select]:\\nmain.loop()\\n\\t/a.go:5 +0x1\\n")
    >>> ClusterFitter(threshold=0.2).fit(d).labels_.tolist()
    [0]
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
        companions: bool = False,
        families: bool = True,
    ):
        self.level = level
        self.threshold = threshold
        self.position_decay = position_decay
        self.min_samples = min_samples
        self.prefilter = prefilter
        self.leaders_above = leaders_above
        self.workers = workers
        self.companions = companions
        self.families = families

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, dumps: Dumps, y=None) -> ClusterFitter:
        """Cluster ``dumps`` (all its snapshots at once); returns self.

        Parameters
        ----------
        dumps : Dumps
            The parsed dumps.
        y : None
            Unused (scikit-learn's signature).

        Returns
        -------
        ClusterFitter
            Itself, with ``labels_`` one cluster id per goroutine row.

        Examples
        --------
        >>> import goforensics as gf
        >>> t = "goroutine {} [chan receive]:\\nmain.{}()\\n\\t/a.go:{} +0x1\\n\\n"
        >>> d = gf.parse_text(t.format(1, "a", 5) + t.format(2, "b", 9) + t.format(3, "b", 9))
        >>> ClusterFitter().fit(d).labels_.tolist()
        [1, 0, 0]
        """
        if self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}: choose one of {', '.join(LEVELS)}")
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be within 0..1, got {self.threshold!r}")
        g = dumps.goroutines
        if g.empty:
            self.labels_ = np.array([], dtype=np.int64)
            self.fingerprints_ = np.array([], dtype=np.uint64)
            self.n_clusters_ = 0
            self.buckets_ = pd.DataFrame(
                {
                    "fingerprint": pd.Series([], dtype=np.uint64),
                    "goroutines": pd.Series([], dtype=np.int64),
                    "cluster": pd.Series([], dtype=np.int64),
                    "tokens": [],
                }
            )
            return self
        b = self._buckets(dumps)
        labels_b = np.arange(b["n"], dtype=np.int64)
        if self.threshold > 0:
            for key, members in b["blocks"].items():
                # Without application code the whole path tells stacks apart (an idle
                # keep-alive read and a slow client's header read differ only deep down):
                # such stacks keep their fingerprint buckets.
                if len(members) > 1 and not key[2]:
                    self._refine(
                        members, b["tokens"], b["w"], b["weight"], b["ufp"], b["states"], labels_b
                    )
        stdlib_only = [bool(cl) and not ({2, 3} & set(cl)) for cl in b["classes"]]
        if self.companions:
            merge_companions(g, b["inv"], labels_b, stdlib_only)
        row_root = labels_b[b["inv"]]
        if self.families:
            row_root = adopt_families(
                g, row_root, np.asarray(stdlib_only, dtype=bool)[b["inv"]], b["counts"]
            )
        self._number(row_root, b)
        return self

    def _buckets(self, dumps: Dumps) -> dict:
        """One bucket per distinct fingerprint (ascending): its representative tokens and
        classes, weights per frame, goroutines, dominant state, and the blocks to compare in."""
        g = dumps.goroutines
        sid = g["stack_id"].to_numpy(dtype=np.uint64)
        norm = normalize_stacks(dumps, self.level, stack_ids=pd.unique(sid))
        fps = goroutine_fingerprints(dumps, self.level, normalized=norm).to_numpy(dtype=np.uint64)
        row_pos = pd.Index(norm["stack_id"]).get_indexer(sid)
        counts = g["count"].to_numpy(dtype=np.int64)
        ufp, first_row, inv = np.unique(fps, return_index=True, return_inverse=True)
        weight = np.bincount(inv, weights=counts, minlength=len(ufp)).astype(np.float64)
        nb = len(ufp)
        # A representative stack per bucket: its first row's (all rows of a bucket share the
        # normalised tokens and site; at 'exact' their arguments are equal too).
        pos = row_pos[first_row]
        cols = {
            c: norm[c].tolist()
            for c in ("tokens", "classes", "functions", "lines", "site", "depths")
        }
        tokens_s = [cols["tokens"][p] if p >= 0 else () for p in pos]
        classes = [cols["classes"][p] if p >= 0 else () for p in pos]
        if self.level == "exact":
            tokens_s = self._exact_tokens(g, cols["depths"], first_row, pos, tokens_s)
        # Dense integer tokens (sorted vocabulary: the same ids from run to run).
        vocab = {t: i for i, t in enumerate(sorted({t for ts in tokens_s for t in ts}))}
        tokens = [[vocab[t] for t in ts] for ts in tokens_s]
        df = np.zeros(len(vocab), dtype=np.float64)
        for ts in tokens:
            for t in set(ts):
                df[t] += 1
        idf = 0.5 + 0.5 * np.log1p(nb / np.maximum(df, 1)) / math.log1p(max(nb, 1))
        blocks: dict[tuple, list[int]] = {}
        for k, p in enumerate(pos.tolist()):
            blocks.setdefault(self._block(cols, p), []).append(k)
        return {
            "n": nb,
            "ufp": ufp,
            "inv": inv,
            "fps": fps,
            "counts": counts,
            "weight": weight,
            "tokens_s": tokens_s,
            "tokens": tokens,
            "classes": classes,
            "blocks": blocks,
            "w": [
                _weights(ts, cl, idf, self.position_decay).tolist()
                for ts, cl in zip(tokens, classes, strict=True)
            ],
            "states": self._bucket_states(g, inv, counts, nb),
        }

    def _number(self, row_root: np.ndarray, b: dict) -> None:
        """Cluster ids by descending goroutines, then smallest fingerprint; the fitted attributes."""
        counts, fps, inv, nb = b["counts"], b["fps"], b["inv"], b["n"]
        roots, root_inv = np.unique(row_root, return_inverse=True)
        size = np.bincount(root_inv, weights=counts, minlength=len(roots))
        min_fp = np.full(len(roots), np.iinfo(np.uint64).max, dtype=np.uint64)
        np.minimum.at(min_fp, root_inv, fps)
        rank = np.lexsort((min_fp, -size))
        ids = np.empty(len(roots), dtype=np.int64)
        ids[rank] = np.arange(len(roots))
        self.labels_ = ids[root_inv]
        # a bucket's cluster: where most of its goroutines went (families can split a bucket)
        t = pd.DataFrame({"b": inv, "c": self.labels_, "n": counts})
        t = (
            t.groupby(["b", "c"])["n"]
            .sum()
            .reset_index()
            .sort_values(["b", "n", "c"], ascending=[True, False, True], kind="stable")
        )
        bucket_cluster = t.drop_duplicates("b").set_index("b")["c"].reindex(range(nb)).to_numpy()
        self.fingerprints_ = fps
        self.n_clusters_ = len(roots)
        self.buckets_ = pd.DataFrame(
            {
                "fingerprint": b["ufp"],
                "goroutines": b["weight"].astype(np.int64),
                "cluster": bucket_cluster,
                "tokens": b["tokens_s"],
            }
        )

    def fit_predict(self, dumps: Dumps, y=None) -> np.ndarray:
        """Fit and return ``labels_``.

        Parameters
        ----------
        dumps : Dumps
            The parsed dumps.
        y : None
            Unused (scikit-learn's signature).

        Returns
        -------
        ndarray
            One cluster id per goroutine row, 0 the largest cluster.

        Examples
        --------
        >>> import goforensics as gf
        >>> t = "goroutine {} [chan receive]:\\nmain.{}()\\n\\t/a.go:{} +0x1\\n\\n"
        >>> d = gf.parse_text(t.format(1, "a", 5) + t.format(2, "b", 9))
        >>> ClusterFitter(level="functions").fit_predict(d).tolist()
        [0, 1]
        """
        return self.fit(dumps).labels_

    # -- parts ------------------------------------------------------------------------------
    def _block(self, cols: dict, p: int) -> tuple:
        """Only stacks with the same key are compared: the function where the stack blocks in
        application code, the blocking operation (its top frame), and where no application
        frame exists, its entry (then the stdlib component is what tells stacks apart). At
        ``lines`` and ``exact`` the site's line is part of it too."""
        if p < 0:
            return ("", "", "", 0)
        fns, classes, k = cols["functions"][p], cols["classes"][p], int(cols["site"][p])
        if not fns:
            return ("", "", "", 0)
        entry = "" if 3 in classes else fns[-1]
        line = cols["lines"][p][k] if self.level in ("lines", "exact") else 0
        return (fns[k], fns[0], entry, line)

    @staticmethod
    def _exact_tokens(g, all_depths, first_row, pos, tokens_s):
        args = g["args"].fillna("").astype(str).to_numpy()
        out = []
        for r, p, ts in zip(first_row, pos, tokens_s, strict=True):
            parts = args[r].split("\n")
            depths = all_depths[p] if p >= 0 else ()
            out.append(
                tuple(
                    f"{t}({parts[d] if d < len(parts) else ''})"
                    for t, d in zip(ts, depths, strict=True)
                )
            )
        return out

    @staticmethod
    def _bucket_states(g, inv, counts, nb) -> list[str]:
        """The dominant known state class of each bucket ('' when unknown)."""
        states = g["state"].astype(str)
        classes = {s: cluster_class(s) for s in pd.unique(states)}  # once per distinct state
        st = states.map(classes).to_numpy(dtype=object)
        t = pd.DataFrame({"bucket": inv, "state": st, "count": counts})
        t = t[~t["state"].isin(list(UNKNOWN_STATES))]
        s = t.groupby(["bucket", "state"], sort=True)["count"].sum().reset_index()
        s = s.sort_values(
            ["bucket", "count", "state"], ascending=[True, False, True], kind="stable"
        )
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
                block = process.cdist(
                    seqs[start : start + 512],
                    seqs,
                    scorer=Levenshtein.normalized_distance,
                    score_cutoff=cut,
                    workers=self.workers,
                    dtype=np.float32,
                )
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
            sw = np.asarray([lw[b] for b in leaders], dtype=np.float64)
            if vals:
                lab = self._merge(rows, cols, vals, sw)
            else:  # nothing close: each leader stays its own cluster
                lab = np.full(n, -1, dtype=np.int64)
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

    def _merge(self, rows: list, cols: list, vals: list, sw: np.ndarray) -> np.ndarray:
        """DBSCAN's labels of the leaders over the sparse graph of their close pairs."""
        n = len(sw)
        if sw.min() >= self.min_samples:
            # Each leader then weighs min_samples on its own, so each is a core point and
            # DBSCAN's clusters are the connected components of the graph: networkx (loaded
            # for the wait-for graph anyway) finds them without scikit-learn's second of
            # imports. The same partition: the tests compare the two.
            import networkx as nx

            graph = nx.Graph()
            graph.add_nodes_from(range(n))
            graph.add_edges_from(zip(rows, cols, strict=True))
            lab = np.empty(n, dtype=np.int64)
            for k, comp in enumerate(nx.connected_components(graph)):
                lab[list(comp)] = k
            return lab
        from scipy import sparse
        from sklearn.cluster import DBSCAN

        graph = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
        dbscan = DBSCAN(eps=self.threshold, min_samples=self.min_samples, metric="precomputed")
        return dbscan.fit(graph, sample_weight=sw).labels_

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
                    process.extract(
                        tokens[b],
                        seqs,
                        scorer=Levenshtein.normalized_distance,
                        score_cutoff=cut,
                        limit=8,
                    ),
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


# --- plain functions ------------------------------------------------------------------------


def cluster(
    dumps: Dumps, level: str = DEFAULT_LEVEL, threshold: float = DEFAULT_THRESHOLD, **params
) -> pd.Series:
    """Cluster id of every goroutine row (int64, aligned with ``dumps.goroutines.index``).

    Ids run from 0 (the cluster with the most goroutines over the whole series) upwards.
    ``params`` go to :class:`ClusterFitter`.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    level : str, default "functions"
        How much of each frame counts (see :func:`goforensics.analyze.normalize.normalize_stacks`).
    threshold : float, default 0.3
        Stacks closer than this (weighted edit distance, 0 to 1) may share a cluster.
    **params
        Passed to :class:`ClusterFitter`.

    Returns
    -------
    Series of int64
        The cluster id of each goroutine row, index kept.

    Examples
    --------
    >>> import goforensics as gf
    >>> t = "goroutine {} [chan receive]:\\nmain.{}()\\n\\t/a.go:{} +0x1\\n\\n"
    >>> d = gf.parse_text(t.format(1, "a", 5) + t.format(2, "b", 9) + t.format(3, "b", 9))
    >>> cluster(d).tolist()
    [1, 0, 0]
    """
    est = ClusterFitter(level=level, threshold=threshold, **params).fit(dumps)
    return pd.Series(est.labels_, index=dumps.goroutines.index, name="cluster", dtype=np.int64)


def resolve_labels(dumps: Dumps, labels=None) -> pd.Series:
    """Cluster ids aligned with ``dumps.goroutines``: ``labels`` as given, else :func:`cluster`.

    Parameters
    ----------
    dumps : the series.
    labels : cluster ids (a Series aligned by index, or a sequence in row order), or None.

    Returns
    -------
    Series
        One cluster id per goroutine row, on ``dumps.goroutines.index``.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 1 [select]:\\nmain.loop()\\n\\t/a.go:5 +0x1\\n")
    >>> resolve_labels(d).tolist(), resolve_labels(d, [7]).tolist()
    ([0], [7])
    """
    if labels is None:
        return cluster(dumps)
    if isinstance(labels, pd.Series):
        return labels.reindex(dumps.goroutines.index)
    return pd.Series(np.asarray(labels), index=dumps.goroutines.index, name="cluster")
