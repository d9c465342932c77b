"""Goroutine families: standard-library goroutines belong to the code that started them.

A stack of ``net/http.(*conn).serve`` says nothing of which server it serves, nor does a
connection's ``writeLoop`` of which client it writes for; the ``created by ... in goroutine
N`` line (Go 1.21+) does. :class:`goforensics.analyze.clustering.StackClusterer` uses these
two steps after its stack merges.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["adopt_families", "merge_companions"]


def adopt_families(
    g: pd.DataFrame,
    root: np.ndarray,
    stdlib_only: np.ndarray,
    counts: np.ndarray,
    max_hops: int = 8,
) -> np.ndarray:
    """Goroutines that run only standard-library code belong to the code that started them.

    A stack of ``net/http.(*conn).serve`` says nothing of which server it serves; its
    creator does (``created by net/http.(*Server).Serve in goroutine N``, Go 1.21+). Row by
    row, within one snapshot:

    - a standard-library-only goroutine whose creator chain reaches a live goroutine that
      runs application code takes that goroutine's cluster (a server's connections and
      their background reads join the server's accept loop), unless that is the main
      goroutine, everyone's ancestor: then the topmost standard-library goroutine of the
      chain is the family (``go http.Serve(l, h)`` from main: the server's goroutine);
    - otherwise, goroutines started by the same goroutine that has exited (a connection's
      ``readLoop`` and ``writeLoop``, started by a dialer) share the cluster of the sibling
      whose cluster is the smallest, the most specific: identical ``writeLoop`` stacks of
      different clients follow their own ``readLoop``.

    Rows with application code, or without a creator id (before Go 1.21), keep theirs.

    Parameters
    ----------
    g : the goroutines table.
    root : cluster of each row so far.
    stdlib_only : whether each row's stack has no application or third-party frame.
    counts : goroutines of each row.
    max_hops : the longest creator chain followed.

    Returns
    -------
    ndarray
        The cluster of each row.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 1 [IO wait]:\\nmain.serve()\\n\\t/app/main.go:9 +0x1\\n\\n"
    ...     "goroutine 2 [IO wait]:\\nnet/http.(*conn).serve()\\n\\t/go/src/net/http/server.go:2 +0x1\\n"
    ...     "created by main.serve in goroutine 1\\n\\t/app/main.go:8 +0x1\\n")
    >>> adopt_families(d.goroutines, np.array([0, 1]), np.array([False, True]), np.ones(2)).tolist()
    [0, 0]
    """
    out = root.copy()
    creator = g["creator_goid"].to_numpy(dtype="float64", na_value=np.nan)
    todo = np.flatnonzero(stdlib_only & ~np.isnan(creator))
    if not len(todo):
        return out
    inst = g["instance"].astype(str).to_numpy()
    snap = g["snapshot"].to_numpy(dtype=np.int64)
    goid = g["goid"].to_numpy(dtype="float64", na_value=np.nan)
    live = {(inst[k], snap[k], int(goid[k])): k for k in np.flatnonzero(~np.isnan(goid))}
    size = pd.Series(counts).groupby(root).sum()
    orphans: dict[tuple, list[int]] = {}
    main = g["entry_function"].astype(str).to_numpy() == "main.main"
    for k in todo:
        p, top, hops = live.get((inst[k], snap[k], int(creator[k]))), None, 0
        while p is not None and stdlib_only[p] and hops < max_hops:
            top = p  # the topmost standard-library ancestor so far
            if np.isnan(creator[p]):
                p = None
                break
            p, hops = live.get((inst[k], snap[k], int(creator[p]))), hops + 1
        if p is not None and not stdlib_only[p] and not main[p]:
            out[k] = root[p]
        elif top is not None:
            out[k] = root[top]
        elif (inst[k], snap[k], int(creator[k])) not in live:
            orphans.setdefault((inst[k], snap[k], int(creator[k])), []).append(k)
    for rows in orphans.values():
        if len(rows) > 1:
            best = min(rows, key=lambda r: (size[root[r]], root[r]))
            out[rows] = root[best]
    return out


def merge_companions(
    g: pd.DataFrame,
    inv: np.ndarray,
    labels_b: np.ndarray,
    stdlib_only: list[bool],
    share: float = 0.8,
) -> None:
    """Merge clusters of standard-library stacks whose goroutines come in pairs.

    ``net/http`` starts a connection's ``readLoop`` and ``writeLoop`` together from one
    goroutine: two stacks, two blocking sites, one cause (an idle or leaked connection).
    Two such clusters merge when they have the same creating function and at least
    ``share`` of the (snapshot, creator goroutine id) pairs of the smaller one are also the
    larger one's. Needs Go 1.21+ ``created by ... in goroutine N``; a no-op without it.

    Parameters
    ----------
    g : the goroutines table.
    inv : bucket of each row.
    labels_b : cluster of each bucket, updated in place.
    stdlib_only : per bucket, whether its stack has no application or third-party frame.
    share : the least share of shared (snapshot, creator) pairs.

    Returns
    -------
    None

    Examples
    --------
    >>> import goforensics as gf
    >>> t = ("goroutine {0} [{1}]:\\nnet/http.(*persistConn).{2}()\\n\\t/go/src/net/http/transport.go:{3} +0x1\\n"
    ...      "created by net/http.(*Transport).dialConn in goroutine 9\\n\\t/go/src/net/http/t.go:1 +0x1\\n\\n")
    >>> d = gf.parse_text(t.format(3, "IO wait", "readLoop", 5) + t.format(4, "select", "writeLoop", 7))
    >>> labels_b = np.array([0, 1])
    >>> merge_companions(d.goroutines, np.array([0, 1]), labels_b, [True, True])
    >>> labels_b.tolist()
    [0, 0]
    """
    creator = g["creator_goid"].to_numpy(dtype="float64", na_value=np.nan)
    rows = np.flatnonzero(np.asarray(stdlib_only, dtype=bool)[inv] & ~np.isnan(creator))
    if not len(rows):
        return
    t = pd.DataFrame(
        {
            "root": labels_b[inv[rows]],
            "by": g["created_by"].astype(str).to_numpy()[rows],
            "snap": g["snapshot"].to_numpy(dtype=np.int64)[rows],
            "creator": creator[rows].astype(np.int64),
        }
    )
    pairs = {
        r: frozenset(zip(x["snap"].tolist(), x["creator"].tolist(), strict=True))
        for r, x in t.groupby("root", sort=True)
    }
    by = t.groupby("root", sort=True)["by"].agg(lambda x: x.value_counts().index[0])
    parent = {r: r for r in pairs}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, roots in by.groupby(by, sort=True):
        rs = roots.index.tolist()
        for i, a in enumerate(rs):
            for b in rs[i + 1 :]:
                small = min(len(pairs[a]), len(pairs[b]))
                if small and len(pairs[a] & pairs[b]) >= share * small:
                    ra, rb = find(a), find(b)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    lut = {r: find(r) for r in pairs}
    for b in range(len(labels_b)):
        r = int(labels_b[b])
        if r in lut:
            labels_b[b] = lut[r]
