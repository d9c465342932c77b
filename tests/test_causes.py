"""The cause level above clusters (issue 11.2), on the scenario series and their ground truth.

The truth is each service's own record of which goroutine it started for which cause
(datasets/README.md), never goforensics' analysis.
"""

from __future__ import annotations

import pytest

import goforensics as gf
from goforensics import datasets
from goforensics.analyze import causes, suspects

LEAKY = ["checkout", "gateway", "notifier"]


@pytest.fixture(scope="module", params=[*LEAKY, "indexer"])
def ranked(request):
    ds = datasets.load_dataset(request.param)
    labels = gf.cluster(ds.dumps)
    s = suspects.suspects(ds.dumps, labels, by="cause")
    of = {c: k for k, cs in zip(s["cause"], s["clusters"], strict=True) for c in cs}
    who = ds.attribute(labels.map(of).fillna(labels))
    return ds, labels, s.join(who.add_suffix("_truth"), on="cause")


def test_every_leak_cause_once_among_the_suspects(ranked):
    ds, _, s = ranked
    leaks = set(ds.truth.loc[ds.truth["leak"], "cause"])
    top = s.head(10)
    assert leaks <= set(top.loc[top["leak_truth"], "cause_truth"])
    sus = s[s["suspected"]]
    assert not sus["cause_truth"].duplicated().any(), sus[["sites", "cause_truth"]].to_string()
    assert set(sus["cause_truth"]) == leaks  # the control (indexer) has none above the threshold


def test_no_cause_joins_leaking_and_healthy_sites(ranked):
    # each site (cluster) is what its goroutines' majority is in the truth; a cause's sites agree
    ds, labels, s = ranked
    leak = ds.attribute(labels)["leak"]
    for _, row in s.iterrows():
        flags = {bool(leak[c]) for c in row["clusters"]}
        assert len(flags) == 1, (row["sites"], flags)


def test_client_connection_loops_pair_into_one_cause():
    # gateway: a webhook forwarder that never closes non-2xx bodies leaks readLoop/writeLoop pairs
    d = datasets.load_dataset("gateway").dumps
    labels = gf.cluster(d)
    s = suspects.suspects(d, labels, by="cause")
    row = s[s["sites"].map(lambda x: any("readLoop" in y for y in x))].iloc[0]
    entries = set(d.goroutines.loc[labels.isin(row["clusters"]), "entry_function"].astype(str))
    assert {"net/http.(*persistConn).readLoop", "net/http.(*persistConn).writeLoop"} <= entries


def test_a_locks_waiters_and_its_blocked_holder_are_one_cause():
    # notifier: publish holds stats.mu across a send; flushGauge and observe queue on it
    d = datasets.load_dataset("notifier").dumps
    labels = gf.cluster(d)
    sites = causes.cause_sites(d, labels, causes.cause_of(d, labels))
    mine = [s for s in sites if "main.(*stats).publish" in s]
    assert len(mine) == 1
    assert {"main.(*stats).flushGauge", "main.(*stats).observe"} <= set(mine[0])


def test_causes_align_with_the_goroutines():
    d = datasets.load_dataset("checkout").dumps
    c = causes.causes(d)
    assert len(c) == len(d.goroutines)
    assert c.nunique() < gf.cluster(d).nunique()


def test_the_cli_ranks_causes_and_clusters_at_the_cause_level():
    import json
    import subprocess
    import sys

    run = [sys.executable, "-m", "goforensics.cli"]
    r = subprocess.run(
        [*run, "triage", "bundled:checkout", "--by", "cause", "--format", "json", "--top", "20"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["suspects"]
    assert rows and all("sites" in s for s in rows)
    causes = [s["cause"] for s in rows]
    assert len(causes) == len(set(causes))  # one suspect per cause
    per_level = {}
    for level in ("functions", "cause"):
        r = subprocess.run(
            [*run, "cluster", "bundled:checkout", "--level", level, "--format", "csv"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr
        per_level[level] = len({ln.split(",")[5] for ln in r.stdout.splitlines()[1:] if ln})
    assert per_level["cause"] <= per_level["functions"]
