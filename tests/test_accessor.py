"""``df.gf``: rows selected with pandas reach the library's functions, which give what they give
on a Dumps of those rows built by hand."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

import goforensics as gf
from goforensics.analyze.clustering import cluster, describe_clusters
from goforensics.analyze.graphs import call_graph
from goforensics.analyze.suspects import suspects
from goforensics.show.charts import over_time_chart


@pytest.fixture()
def demo():
    return gf.load("bundled:demo")


def by_hand(d: gf.Dumps, rows: pd.DataFrame) -> gf.Dumps:
    return gf.Dumps(rows.copy(), d.frames, d.snapshots, d.warnings)


def test_selection_keeps_its_way_to_the_frames(demo):
    g = demo.goroutines
    senders = g[g["state"] == "chan send"].sort_values("goid").head(30).copy()
    assert senders.gf.dumps.total == 30
    assert senders.gf.frames()["function"].eq("main.handle").any()
    pd.testing.assert_frame_equal(senders.gf.suspects(), suspects(by_hand(demo, senders)))


def test_methods_delegate(demo):
    g = demo.goroutines
    assert g.gf.dumps is demo
    pd.testing.assert_series_equal(g.gf.cluster(), cluster(demo))
    pd.testing.assert_frame_equal(g.gf.describe_clusters(), describe_clusters(demo, cluster(demo)))
    assert sorted(g.gf.call_graph().edges) == sorted(call_graph(demo).edges)
    assert g.gf.plot_over_time().to_dict() == over_time_chart(demo).to_dict()
    assert g.gf.labels()["pool"].dropna().eq("workers").sum() == 4  # the demo's 4 labelled sleepers
    assert "main.(*cache).get" in g.gf.report(charts=False)


def test_a_cluster_column_is_the_labels(demo):
    g = demo.goroutines.assign(cluster=0)  # everything one cluster
    s = g.gf.suspects()
    assert len(s) == 1 and s.iloc[0]["goroutines"] == demo.total


def test_diff_between_two_selections(demo):
    g = demo.goroutines
    before = g[g["state"] != "chan send"]
    t = g.gf.diff(
        before, labels_fn=lambda d: d.goroutines.groupby("stack_id", observed=True).ngroup()
    )
    gone = t[t["change"] == "vanished"]
    assert gone["site"].tolist() == ["main.handle"] and gone["before"].tolist() == [50.0]


def test_unlinked_tables_say_why(demo, tmp_path):
    demo.goroutines.to_parquet(tmp_path / "g.parquet")
    back = pd.read_parquet(tmp_path / "g.parquet")
    with pytest.raises(ValueError, match="not linked to a goforensics Dumps"):
        back.gf.suspects()
    other = gf.parse_text("goroutine 1 [running]:\nmain.main()\n\t/m.go:3 +0x1\n")
    mixed = pd.concat([demo.goroutines, other.goroutines])
    with pytest.raises(ValueError, match="not linked"):
        _ = mixed.gf.dumps
    # a pickled table does not carry its Dumps along
    assert "goforensics" not in pickle.loads(pickle.dumps(demo.goroutines)).attrs or not hasattr(
        pickle.loads(pickle.dumps(demo.goroutines)).attrs["goforensics"], "dumps"
    )


def test_parquet_round_trip_of_the_dumps_links_again(demo, tmp_path):
    back = gf.Dumps.from_parquet(demo.to_parquet(tmp_path / "d"))
    assert back.goroutines.gf.dumps is back


def test_a_selection_of_columns_names_what_it_lost_and_the_fix(demo):
    g = demo.goroutines
    with pytest.raises(gf.GoforensicsError) as info:
        g.loc[:, ["state"]].gf.suspects()
    msg = str(info.value)
    assert isinstance(info.value, KeyError)  # what a missing column is in pandas
    assert "stack_id" in msg or "..." in msg
    assert "select rows, not columns" in msg and "\n" not in msg
    # every column the library needs is named when only a few are missing
    with pytest.raises(KeyError, match=r"\(stack_id\)"):
        g.drop(columns=["stack_id"]).gf.suspects()
    # the fix the message gives works: the full rows of that selection
    sel = g.loc[g["state"] == "chan send", ["state"]]
    assert g.loc[sel.index].gf.dumps.total == len(sel)
