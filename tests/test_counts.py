"""Every count of suspects and triage says what it is (issue 11.5): last, first, peak, a sum."""

from __future__ import annotations

import pytest

import goforensics as gf
from goforensics import datasets
from goforensics.analyze import suspects


@pytest.mark.parametrize("by", ["cause", "cluster"])
def test_suspect_counts_are_last_first_and_peak_of_the_dumps(by):
    d = datasets.load_dataset("checkout").dumps  # one instance, 10 snapshots
    labels = gf.cluster(d)
    s = suspects.suspects(d, labels, by=by)
    if by == "cause":  # a cause counts the goroutines of all its sites
        of = {c: k for k, cs in zip(s["cluster"], s["clusters"], strict=True) for c in cs}
        labels = labels.map(of)
        assert (s["clusters"].map(len) > 1).any()
        s = s.drop(columns="cause")
    s = s.set_index("cluster")
    per = d.goroutines.assign(cluster=labels).pivot_table(
        index="snapshot", columns="cluster", values="count", aggfunc="sum", fill_value=0
    )
    for c in s.index[:8]:
        assert s.loc[c, "goroutines"] == per[c].iloc[-1]
        assert s.loc[c, "goroutines_first"] == per[c].iloc[0]
        assert s.loc[c, "goroutines_peak"] == per[c].max()
        assert list(s.loc[c, "counts"]) == per[c].tolist()


def test_triage_says_what_each_count_is():
    d = datasets.load_dataset("notifier").dumps
    r = suspects.triage(d, top=3)
    assert r["counts"]["goroutines"] == "last snapshot"
    assert r["counts"]["series.leaked_verdicts"] == "sum over the snapshots"
    for key in r["suspects"][0]:
        if key.startswith("goroutines"):
            assert key in r["counts"]
