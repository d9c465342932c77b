"""The cause level above clusters (issue 11.2), on the scenario series and their ground truth.

The truth is each service's own record of which goroutine it started for which cause
(datasets/README.md), never goforensics' analysis.
"""

from __future__ import annotations

import re

import numpy as np
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


def test_triage_ranks_causes_unless_asked_for_clusters():
    d = datasets.load_dataset("notifier").dumps
    labels = gf.cluster(d)
    default = suspects.suspects(d, labels)
    assert default.equals(suspects.suspects(d, labels, by="cause"))
    by_site = suspects.suspects(d, labels, by="cluster")
    assert "cause" not in by_site and len(by_site) > len(default)
    assert [r["cause"] for r in suspects.triage(d, labels)["suspects"]] == default["cause"].head(
        10
    ).tolist()


def test_describe_causes_gives_each_cause_its_sites_stacks_and_counts():
    # notifier: publish holds stats.mu across a send; flushGauge and observe queue on it
    d = datasets.load_dataset("notifier").dumps
    labels = gf.cluster(d)
    t = gf.describe_causes(d, labels)
    assert t["cause"].is_unique and sorted(t["cause"]) == sorted(causes.causes(d, labels).unique())
    row = t[t["sites"].map(lambda s: "main.(*stats).publish" in s)].iloc[0]
    assert {"main.(*stats).flushGauge", "main.(*stats).observe"} <= set(row["sites"])
    assert len(row["clusters"]) == len(row["sites"]) == len(row["stacks"]) == row["n_sites"]
    for site, stack in zip(row["sites"], row["stacks"], strict=True):
        assert site in stack.splitlines()  # each site's own representative stack
    mine = d.goroutines[labels.isin(row["clusters"]).to_numpy()]
    per = mine.groupby("snapshot")["count"].sum().reindex(d.snapshots["snapshot"], fill_value=0)
    assert row["counts"] == per.tolist()
    assert row["goroutines_last"] == per.iloc[-1] and row["goroutines_first"] == per.iloc[0]
    assert row["goroutines_peak"] == per.max()


def test_one_dump_joins_an_application_goroutine_stuck_the_same_way_at_two_calls():
    # GoKer cockroach1055: G3 (Cockroach1055.func2.2) runs Quiesce then Stop on the stoppers, both
    # blocked in drain.Wait; with the runtime's verdicts stripped, the top 3 causes name every
    # leak that occurred (the runtime's own verdicts say which)
    cases = datasets.goker_cases()
    case = cases[cases["case"] == "Cockroach1055"].iloc[0]
    d = gf.load(case["stripped"])
    s = suspects.suspects(d)
    g3 = s[s["entry"] == "main.Cockroach1055.func2.2"]
    assert len(g3) == 1 and set(g3.iloc[0]["sites"]) == {
        "main.(*Stopper_cockroach1055).Quiesce",
        "main.(*Stopper_cockroach1055).Stop",
    }
    named = [
        f"{e.removeprefix('main.')}() [{st}]"
        for e, st in zip(s["entry"].head(3), s["state"].head(3), strict=True)
    ]
    for rx, occurred in zip(case["expected"], case["occurred"], strict=True):
        if occurred:
            assert any(re.search(rx, x) for x in named), (rx, named)


def test_the_triage_text_names_every_site_of_a_cause():
    from goforensics.show.text import triage_text

    ds = datasets.load_dataset("checkout")
    report = suspects.triage(ds.dumps)
    joined = [r for r in report["suspects"] if len(r["sites"]) > 1]
    assert joined
    text = triage_text(report)
    for r in joined:
        line = next(ln for ln in text.splitlines() if ln.startswith(f"#{r['rank']} "))
        block = text[text.index(line) :].split("\n\n")[0]
        sites = next(ln for ln in block.splitlines() if ln.startswith("    sites   "))
        assert all(s in sites for s in r["sites"]) and f"({len(r['sites'])} clusters)" in sites


def test_a_cause_of_several_sites_grows_as_its_summed_counts_do():
    from scipy.stats import theilslopes

    d = gf.load("bundled:checkout")
    by_cause = gf.suspects(d)
    by_site = gf.suspects(d, by="cluster").set_index("cluster")
    several = by_cause[by_cause["clusters"].map(len) > 1]
    assert len(several)  # the payment retry loop blocks at three sites
    t = d.snapshots["taken_at"]
    minutes = ((t - t.min()).dt.total_seconds() / 60.0).to_numpy()
    for _, row in several.iterrows():
        summed = sum(np.asarray(by_site.loc[c, "counts"]) for c in row["clusters"])
        assert list(row["counts"]) == summed.tolist()
        assert row["slope_per_min"] == pytest.approx(theilslopes(summed, minutes)[0], abs=1e-3)
        if row["suspected"]:  # a growing cause: its growth, then its main site's
            assert row["evidence"][0].startswith("its sites together: grows from")
            assert row["evidence"][1].startswith(
                f"{row['site']} (line {row['line']}) alone: grows from"
            )
    assert several["suspected"].any()


def test_a_flat_cause_of_several_sites_says_its_own_counts_before_its_sites():
    # the header counts the cause: the first sentence must count the same goroutines
    d = gf.load("bundled:indexer")
    by_cause = gf.suspects(d, top=50)
    several = by_cause[(by_cause["clusters"].map(len) > 1) & ~by_cause["suspected"]]
    assert len(several)
    for _, row in several.iterrows():
        counts = list(row["counts"])
        first = row["evidence"][0]
        assert first.startswith("its sites together: "), first
        if first.startswith("its sites together: flat over"):
            assert f"({counts[0]} -> {counts[-1]})" in first
        assert row["evidence"][1].startswith(f"{row['site']} (line {row['line']}) alone: ")
