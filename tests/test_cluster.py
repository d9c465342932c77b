"""Clustering into root causes, on dumps of a real Go program that knows why each goroutine blocks.

Every goroutine of tests/goprogs/clusterdemo carries its cause as a pprof label, and the
program's source marks each blocking statement with a '// blocks' comment: the expected
clusters, sites and counts come from there, never from goforensics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from clusterdemo import (
    ROUNDS,
    SOURCE,
    blocking_lines,
    clusterdemo_fixture,  # noqa: F401 (registers the fixture)
    dumps_of,
    truth,
    variant_source,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone
from sklearn.cluster import DBSCAN

import goforensics as gf
from goforensics.analyze.clustering import (
    ClusterFitter,
    cluster,
    cluster_counts,
    cluster_sites,
    describe_clusters,
    stack_distance,
)
from goforensics.analyze.estimator import StackClusterer

CAUSES = {
    "fanout-send",
    "audit-send",
    "subscribe-recv",
    "pipe-wait",
    "cache-lock",
    "cache-holder",
    "pool-idle",
    "poll-loop",
    "config-lock",
    "retry-backoff",
}
# Goroutines the program starts per cause: (fixed, per round r with n = r + 1).
SPAWNED = {
    "fanout-send": (0, 5),
    "audit-send": (0, 2),
    "subscribe-recv": (0, 3),
    "pipe-wait": (0, 4),
    "cache-lock": (0, 2),
    "cache-holder": (1, 0),
    "pool-idle": (4, 0),
    "poll-loop": (1, 0),
    "config-lock": (0, 1),
    "retry-backoff": (0, 1),
}
SITES = {  # cause -> (site function, the '// blocks: why' comment(s) of its blocking statement)
    "fanout-send": ("main.walk", "nobody reads f.out"),
    "audit-send": ("main.emitAudit", "the audit consumer was never started"),
    "subscribe-recv": ("main.handleSubscribe.func1", "nothing is ever published"),
    "pipe-wait": ("main.pipeline", ("the input is never fed", "acknowledgements never come")),
    "cache-lock": ("main.(*Cache).Get", "refresh holds the lock"),
    "cache-holder": ("main.(*Cache).refresh", "while holding c.mu"),
    "pool-idle": ("main.(*Pool).worker", "waiting for a job or quit"),
    "poll-loop": ("main.pollLoop", "between polls"),
    "config-lock": ("main.(*Config).Reload", "main took the lock and forgot it"),
    "retry-backoff": ("main.retryForever", "backing off before the next try"),
}


def assert_one_cluster_per_cause(labels: pd.Series, cause: pd.Series) -> None:
    known = cause.notna()
    per_cause = pd.crosstab(cause[known], labels[known])
    assert set(per_cause.index) == CAUSES
    for name, row in per_cause.iterrows():
        assert (row > 0).sum() == 1, f"{name} is split over clusters {list(row[row > 0].index)}"
    for c, col in per_cause.items():
        assert (col > 0).sum() == 1, f"cluster {c} mixes {list(col[col > 0].index)}"


@pytest.fixture(scope="module")
def series(clusterdemo_runs) -> gf.Dumps:
    return gf.load(dumps_of(clusterdemo_runs["v1"]), order="given")


@pytest.fixture(scope="module")
def two_builds(clusterdemo_runs) -> gf.Dumps:
    return gf.load(
        dumps_of(clusterdemo_runs["v1"]) + dumps_of(clusterdemo_runs["v2"]), order="given"
    )


def test_each_cause_is_one_cluster_and_causes_stay_apart(series):
    cause = truth(series)
    # the variations are real: recursion depth and middleware chains give many stacks
    assert series.goroutines.loc[cause == "fanout-send", "stack_id"].nunique() == 5
    assert series.goroutines.loc[cause == "subscribe-recv", "stack_id"].nunique() == 3
    assert series.goroutines.loc[cause == "cache-lock", "stack_id"].nunique() == 2
    assert_one_cluster_per_cause(cluster(series), cause)


@pytest.mark.parametrize("level", ["functions", "application"])
def test_every_level_keeps_causes_apart(series, level):
    assert_one_cluster_per_cause(cluster(series, level=level, threshold=0.3), truth(series))


def test_lines_level_keeps_each_blocking_line_apart(series):
    # 'lines' is one build's exact code path: the two blocking points of pipeline's loop
    # are two clusters there, and no cluster mixes causes.
    cause = truth(series)
    labels = cluster(series, level="lines")
    known = cause.notna()
    table = pd.crosstab(cause[known], labels[known])
    assert ((table > 0).sum(axis=0) == 1).all()  # no cluster mixes causes
    splits = (table > 0).sum(axis=1)
    assert splits["pipe-wait"] == 2
    assert splits["fanout-send"] == 1  # recursion depth still does not split


def test_connection_loops_started_together_are_one_cause(realdumps):
    # 020: a net/http client whose connection's readLoop and writeLoop were both started by
    # Transport.dialConn in goroutine 5 (read from the text).
    path = realdumps / "020_goleak-http-go1.21-ingoroutine.txt"
    text = path.read_text()
    assert text.count("created by net/http.(*Transport).dialConn in goroutine 5") == 2
    d = gf.load(path)
    loops = (
        d.goroutines["entry_function"]
        .astype(str)
        .isin(["net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop"])
    )
    assert loops.sum() == 2
    # by default (families), goroutine by goroutine: the two loops of one connection share a cluster
    assert cluster(d)[loops].nunique() == 1
    # without families, the stacks alone keep them apart; companions merges their clusters
    assert cluster(d, families=False)[loops].nunique() == 2
    assert cluster(d, families=False, companions=True)[loops].nunique() == 1
    assert (
        cluster(d, families=False, companions=True).nunique()
        == cluster(d, families=False).nunique() - 1
    )
    # the server's connection (created by net/http.(*Server).Serve in goroutine 4) joins the
    # server's goroutine 4, itself started by main with `go http.Serve(...)`: main stays apart
    assert text.count("created by net/http.(*Server).Serve in goroutine 4") == 1
    g = d.goroutines.set_index("goid")
    lab = cluster(d).set_axis(d.goroutines["goid"].tolist())
    assert lab[8] == lab[4] != lab[1]
    assert cluster(d).nunique() == cluster(d, families=False).nunique() - 2
    assert g.loc[4, "entry_function"] == "net/http.Serve"
    plain = json.loads(run_cli("cluster", str(path), "--summary", "--format", "json").stdout)
    paired = json.loads(
        run_cli("cluster", str(path), "--summary", "--format", "json", "--companions").stdout
    )
    assert len(paired) == len(plain)  # the loops are one cluster already


def test_leaders_for_large_blocks_give_the_same_causes(two_builds):
    # blocks above `leaders_above` buckets are first reduced to leaders: force that path
    cause = truth(two_builds)
    assert_one_cluster_per_cause(cluster(two_builds, leaders_above=1), cause)


def test_refinement_is_what_merges_middleware_chains(series):
    cause = truth(series)
    buckets_only = cluster(series, level="lines", threshold=0)
    assert buckets_only[cause == "subscribe-recv"].nunique() == 3  # one bucket per chain
    assert cluster(series, level="lines")[cause == "subscribe-recv"].nunique() == 1


def test_a_new_build_does_not_split_a_cause(two_builds):
    # Build 2 moved every line and renumbered closures; sends in two functions
    # (fanout-send, audit-send) must still stay apart.
    cause = truth(two_builds)
    assert_one_cluster_per_cause(cluster(two_builds), cause)
    # while exact lines cannot see through the new build
    lines = cluster(two_builds, level="lines")
    assert lines[cause == "audit-send"].nunique() == 2


def test_formats_of_one_moment_cluster_together(clusterdemo_runs):
    run = clusterdemo_runs["v1"]
    d = gf.load([dumps_of(run, k, [ROUNDS - 1])[0] for k in (2, 1, 0)], order="given")
    assert_one_cluster_per_cause(cluster(d), truth(d))


def test_ids_are_stable_across_snapshots_and_ordered_by_size(series):
    labels = cluster(series)
    cause = truth(series)
    snap = series.goroutines["snapshot"]
    for name in CAUSES:
        ids = {int(labels[(cause == name) & (snap == s)].iloc[0]) for s in range(ROUNDS)}
        assert len(ids) == 1, name
    sizes = series.goroutines.groupby(labels)["count"].sum()
    assert list(sizes.index) == list(range(len(sizes)))
    assert sizes.is_monotonic_decreasing


def test_runs_are_deterministic_even_across_processes(clusterdemo_runs, series):
    first = cluster(series).tolist()
    assert cluster(series).tolist() == first
    code = (
        "import sys, json, goforensics as gf; d = gf.load(sys.argv[1:], order='given'); "
        "print(json.dumps(gf.cluster(d).tolist()))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    r = subprocess.run(
        [sys.executable, "-c", code, *map(str, dumps_of(clusterdemo_runs["v1"]))],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    assert json.loads(r.stdout) == first


def test_describe_clusters_names_the_blocking_site(series):
    labels = cluster(series)
    table = describe_clusters(series, labels)
    cause = truth(series)
    lines = blocking_lines((SOURCE / "main.go").read_text())
    assert len(table) == labels.nunique()
    assert int(table["goroutines"].sum()) == series.total
    for name, (function, statement) in SITES.items():
        c = int(labels[cause == name].iloc[0])
        row = table.set_index("cluster").loc[c]
        assert row["site_function"] == function, name
        statements = statement if isinstance(statement, tuple) else (statement,)
        assert int(row["site_line"]) in {lines[x] for x in statements}, name
        assert row["site_file"].endswith("main.go")
        states = json.loads(row["states"])
        assert sum(states.values()) == row["goroutines"]
        assert row["state"] == max(states, key=states.get)
        assert row["snapshots"] == ROUNDS and row["first_snapshot"] == 0
        assert function in row["frames"]
    holder = table.set_index("cluster").loc[int(labels[cause == "cache-holder"].iloc[0])]
    assert holder["state"] == "chan receive"
    lock = table.set_index("cluster").loc[int(labels[cause == "cache-lock"].iloc[0])]
    assert lock["state"] == "sync.Mutex.Lock"


def test_cluster_counts_follow_what_the_program_spawned(series):
    labels = cluster(series)
    counts = cluster_counts(series, labels)
    cause = truth(series)
    assert list(counts.index) == list(range(ROUNDS))
    assert sorted(counts.columns) == list(range(labels.nunique()))
    per_snap = series.goroutines.groupby("snapshot")["count"].sum()
    assert counts.sum(axis=1).tolist() == per_snap.tolist()
    for name, (fixed, per_round) in SPAWNED.items():
        c = int(labels[cause == name].iloc[0])
        want = [fixed + per_round * sum(k + 1 for k in range(r + 1)) for r in range(ROUNDS)]
        assert counts[c].tolist() == want, name


def test_estimator_follows_scikit_learn_conventions(series):
    est = StackClusterer(level="lines", threshold=0.2)
    assert est.get_params()["threshold"] == 0.2
    twin = clone(est).set_params(threshold=0.3)
    assert twin.threshold == 0.3 and est.threshold == 0.2
    assert est.fit(series) is est
    assert len(est.labels_) == len(series.goroutines)
    assert est.n_clusters_ == len(set(est.labels_.tolist()))
    assert est.buckets_["goroutines"].sum() == series.total
    assert np.array_equal(est.fit_predict(series), est.labels_)
    with pytest.raises(ValueError, match="unknown level"):
        StackClusterer(level="nope").fit(series)
    with pytest.raises(ValueError, match="threshold"):
        StackClusterer(threshold=2).fit(series)
    with pytest.raises(ValueError, match="labels"):
        describe_clusters(series, [0, 1])


def _partition(labels) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for i, lab in enumerate(np.asarray(labels).tolist()):
        groups.setdefault(lab if lab >= 0 else -1 - i, set()).add(i)
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=2, max_value=30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.floats(1e-9, 0.3)),
                max_size=3 * n,
            ),
            st.lists(st.integers(1, 50), min_size=n, max_size=n),
        )
    ),
    st.integers(min_value=1, max_value=60),
)
def test_merging_is_dbscans_partition(case, min_samples):
    n, edges, weights = case
    pairs = {(min(a, b), max(a, b)): d for a, b, d in edges if a != b}
    rows = [i for a, b in pairs for i in (a, b)]
    cols = [j for a, b in pairs for j in (b, a)]
    vals = [d for d in pairs.values() for _ in (0, 1)]
    if not vals:
        return
    sw = np.asarray(weights, dtype=np.float64)
    got = ClusterFitter(threshold=0.3, min_samples=min_samples)._merge(rows, cols, vals, sw)
    graph = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
    want = (
        DBSCAN(eps=0.3, min_samples=min_samples, metric="precomputed")
        .fit(graph, sample_weight=sw)
        .labels_
    )
    assert _partition(got) == _partition(want)


def test_exact_level_splits_by_arguments(series):
    cause = truth(series)
    # fanout goroutines carry their own value in walk's arguments
    assert cluster(series, level="exact", threshold=0)[cause == "fanout-send"].nunique() > 1


def test_distance_weights_the_blocking_end_most():
    w = np.array([1.0, 0.5, 0.33, 0.25])
    top = stack_distance([1, 2, 3, 4], [9, 2, 3, 4], w, w)
    bottom = stack_distance([1, 2, 3, 4], [1, 2, 3, 9], w, w)
    assert 0 < bottom < top < 1
    assert stack_distance([1, 2, 3, 4], [1, 2, 3, 4], w, w) == 0
    assert stack_distance([1, 2], [3, 4, 5], w[:2], w[:3]) == stack_distance(
        [3, 4, 5], [1, 2], w[:3], w[:2]
    )


def test_empty_and_stackless_input():
    d = gf.parse_text(
        "goroutine 2 [syscall]:\n\ngoroutine 3 [select]:\nmain.loop()\n\t/a.go:5 +0x1\n"
    )
    labels = cluster(d)
    assert len(labels) == len(d.goroutines) == 2
    assert labels.nunique() == 2
    assert len(describe_clusters(d, labels)) == 2
    empty = gf.Dumps()
    assert cluster(empty).tolist() == []
    assert describe_clusters(empty, []).empty


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "goforensics.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_one_row_per_goroutine(clusterdemo_runs):
    paths = [str(p) for p in dumps_of(clusterdemo_runs["v1"])]
    r = run_cli("cluster", *paths)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(pd.io.common.StringIO(r.stdout))
    assert {"snapshot", "goid", "cluster"} <= set(table.columns)
    headers = sum(open(p).read().count("\ngoroutine ") + 1 for p in paths)
    assert len(table) == headers
    assert table["snapshot"].tolist() == sorted(table["snapshot"])  # order given
    assert "cluster(s) at level functions" in r.stderr
    d = gf.load(paths, order="given")
    assert table["cluster"].tolist() == cluster(d).tolist()


def test_cli_summary_and_options(clusterdemo_runs):
    paths = [str(p) for p in dumps_of(clusterdemo_runs["v1"])]
    r = run_cli(
        "cluster",
        *paths,
        "--summary",
        "--format",
        "json",
        "--level",
        "lines",
        "--threshold",
        "0.25",
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    d = gf.load(paths, order="given")
    assert len(rows) == cluster(d, level="lines", threshold=0.25).nunique()
    assert {"cluster", "goroutines", "site_function", "site_line", "state", "frames"} <= set(
        rows[0]
    )
    assert sum(x["goroutines"] for x in rows) == d.total
    bad = run_cli("cluster", *paths, "--level", "files")
    assert bad.returncode != 0 and "files" in bad.stderr
    missing = run_cli("cluster", "/no/such/dump.txt")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_variant_source_really_moves_lines():
    text = (SOURCE / "main.go").read_text()
    a, b = blocking_lines(text), blocking_lines(variant_source(text))
    assert a.keys() == b.keys() and all(b[k] > a[k] for k in a)


def test_families_keep_a_component_together_and_apart_from_others():
    # gateway (a bundled real series): its ground truth labels each goroutine with the code
    # path that owns it, including the ones net/http starts on the service's behalf
    import goforensics.datasets as gd

    ds = gd.load_dataset("gateway")
    labels = cluster(ds.dumps)
    t = ds.truth.assign(cluster=labels.to_numpy())
    for cause in ("response-body-not-closed", "debug-server"):
        mine = t.loc[t["cause"] == cause, "cluster"].unique()
        assert len(mine) == 1, f"{cause} split over {len(mine)} clusters"
        # ... and nothing else is in that cluster
        assert set(t.loc[t["cluster"] == mine[0], "cause"]) == {cause}
    # the unclosed bodies are connections of two goroutines each: readLoop and writeLoop
    loops = ds.dumps.goroutines.loc[t["cause"] == "response-body-not-closed", "entry_function"]
    assert set(loops.astype(str)) == {
        "net/http.(*persistConn).readLoop",
        "net/http.(*persistConn).writeLoop",
    }
    # stacks alone cannot do this: without families the loops fall into two clusters
    plain = cluster(ds.dumps, families=False)
    assert plain[t["cause"] == "response-body-not-closed"].nunique() == 2


def test_describe_clusters_of_many_distinct_stacks_names_each_ones_own_site():
    # 3,000 goroutines, each blocked in its own function: one cluster each. Some park under
    # runtime frames (debug=2 shows none, a crash dump all), some recurse.
    blocks = []
    for i in range(3000):
        top = "runtime.gopark(0x0?)\n\t/go/src/runtime/proc.go:435 +0xce\n" if i % 2 else ""
        again = f"main.worker{i}()\n\t/app/w.go:{i + 5000} +0x1\n" if i % 3 == 0 else ""
        blocks.append(
            f"goroutine {i + 1} [chan receive]:\n{top}main.worker{i}()\n\t/app/w.go:{i + 1} +0x1\n"
            f"{again}main.main()\n\t/app/main.go:9 +0x1\n"
        )
    d = gf.parse_text("\n".join(blocks))
    labels = cluster(d)
    assert labels.nunique() == 3000
    dc = describe_clusters(d, labels)
    sites = cluster_sites(d, labels)
    own = {f"main.worker{i}": i for i in range(3000)}
    for r, s in zip(dc.itertuples(index=False), sites.itertuples(index=False), strict=True):
        i = own[r.site_function]
        assert r.site_line == i + 1 and r.site_file == "/app/w.go"
        assert r.states == '{"chan receive": 1}' and r.goroutines == 1
        assert r.frames.splitlines()[0] == ("runtime.gopark" if i % 2 else f"main.worker{i}")
        assert r.frames.count("\n\t") == 2 + (i % 2) + (i % 3 == 0)
        assert s.site == r.site_function and s.site_class == "application"
        assert s.site_depth == (1 if i % 2 else 0)


def test_describe_clusters_counts_now_first_and_peak_not_only_the_sum(leakseries_dir):
    # tests/goprograms/leakseries: compute leaks 12 goroutines a tick over ticks 0..5 and
    # 16 workers wait for jobs throughout
    leakseries = gf.load(leakseries_dir)
    dc = describe_clusters(leakseries, cluster(leakseries)).set_index("site_function")
    compute = dc.loc["main.compute"]
    assert compute["goroutines_last"] - compute["goroutines_first"] == 12 * 5
    assert compute["goroutines_peak"] == compute["goroutines_last"]
    assert compute["goroutines"] == sum(compute["goroutines_first"] + 12 * k for k in range(6))
    workers = dc.loc["main.worker"]
    assert (
        workers["goroutines_first"]
        == workers["goroutines_last"]
        == workers["goroutines_peak"]
        == 16
    )
    assert workers["goroutines"] == 16 * 6
