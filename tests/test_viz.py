"""Charts: their data are aggregates that add up to what the dumps hold, and they render offline.

Expectations come from the dumps' text (goroutine headers counted with a regexp) and from
tests/goprograms/leakseries' own comments (what grows by how much), never from the charts.
"""

from __future__ import annotations

import re
from pathlib import Path

import altair as alt
import networkx as nx
import pandas as pd
import pytest

import goforensics as gf
from goforensics.analyze.suspects import suspects
from goforensics.show import charts as viz
from goforensics.show.counts import count_chart

ROOT = Path(__file__).resolve().parent.parent
HEADER = re.compile(r"^goroutine (\d+) \[([^\],]*)", re.M)
ACTIVE = {"running", "runnable"}


@pytest.fixture(scope="module")
def series_dir(leakseries_dir):
    return leakseries_dir


@pytest.fixture(scope="module")
def series(series_dir):
    return gf.load(series_dir)


def _headers(series_dir: Path) -> list[list[tuple[str, str]]]:
    return [HEADER.findall(p.read_text()) for p in sorted(series_dir.glob("snap-*.txt"))]


def test_over_time_adds_up_to_every_snapshot(series, series_dir):
    heads = _headers(series_dir)
    for top in (8, 2):
        chart = viz.over_time_chart(series, top=top)
        per = chart.data.groupby("snapshot")["goroutines"].sum()
        assert per.tolist() == [len(h) for h in heads]
        assert chart.data["cluster"].nunique() <= top + 1
    assert chart.data["cluster"].str.startswith("other (").any()  # top=2: the rest is "other"
    assert chart.to_dict()["encoding"]["x"]["type"] == "temporal"  # the manifest's capture times


def test_states_over_time_adds_up(series, series_dir):
    heads = _headers(series_dir)
    data = viz.states_chart(series).data
    last = data[data["snapshot"] == len(heads) - 1].set_index("state")["goroutines"]
    want = pd.Series([s for _, s in heads[-1]]).value_counts()
    assert last[last > 0].sort_index().to_dict() == want.sort_index().to_dict()


def test_suspects_growth_shows_the_programs_leaks(series):
    chart = viz.suspects_chart(suspects(series))
    _names, _bars, spark, text = chart.hconcat
    rows = text.data.set_index("label").sort_values("row")
    # leakseries: its two leaks first; compute's senders grow by 12 a tick over 6 ticks
    assert {n.split()[1] for n in rows.index[:2]} == {"main.compute", "main.waitAll"}
    compute = rows[rows.index.str.contains("main.compute")].iloc[0]
    assert compute["change"].startswith("12 → 72")
    sp = spark.data[spark.data["label"] == compute.name]
    assert sp.sort_values("snapshot")["goroutines"].tolist() == [12, 24, 36, 48, 60, 72]
    # the 40 sleepers started at tick 1 and gone before the end
    sleeper = rows[rows.index.str.contains("main.sleeper")].iloc[0]
    assert "peak 40" in sleeper["change"]


def test_wait_times_count_the_blocked_goroutines_of_the_last_snapshot(series, series_dir):
    last = _headers(series_dir)[-1]
    blocked = sum(1 for _, s in last if s not in ACTIVE)
    data = viz.wait_times_chart(series).data
    assert data["goroutines"].sum() == blocked
    assert set(data["wait"]) == {"<1 min"}  # the program runs for two seconds


def test_icicle_boxes_are_prefix_sums_of_the_blocked_stacks(series, series_dir):
    last = _headers(series_dir)[-1]
    blocked = sum(1 for _, s in last if s not in ACTIVE)
    chart = viz.icicle_chart(series, min_share=0, hide_runtime=False)
    boxes = chart.data
    roots = boxes[boxes["depth"] == 0]
    assert roots["goroutines"].sum() == blocked
    assert abs(roots["x1"].max() - 1.0) < 1e-9
    # a child never holds more goroutines than its parent's row above: widths shrink downwards
    per_depth = boxes.groupby("depth")["goroutines"].sum()
    assert (per_depth.diff().dropna() <= 0).all()
    assert "main.compute" in set(roots["function"])  # entry of the 72 leaked senders


def test_charts_stay_aggregated_on_a_big_profile(realdumps):
    d = gf.load(realdumps / "035_erigon-debug1-20161-goroutines-go1.21.txt")
    assert d.total == 20161
    labels = gf.cluster(d)
    over = viz.over_time_chart(d, labels, top=8)
    assert len(over.data) <= 9 and over.data["goroutines"].sum() == 20161
    ice = viz.icicle_chart(d)
    assert len(ice.data) < 400
    for chart in (
        over,
        ice,
        viz.call_graph_chart(d),
        viz.spawn_graph_chart(d),
        viz.wait_for_chart(d),
    ):
        assert viz.to_svg(chart).startswith("<svg")


def test_layout_puts_callers_left_and_a_cycle_in_one_layer():
    G = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("d", "c")])
    pos = viz.graph_layout(G)
    assert pos["a"][0] < pos["b"][0] < pos["c"][0]
    assert pos["c"][0] == pos["d"][0]  # c <-> d is one strongly connected component


def test_network_chart_keeps_the_heaviest_nodes():
    G = nx.DiGraph()
    for i in range(50):
        G.add_node(f"main.f{i}", goroutines=i, frame_class="application")
        if i:
            G.add_edge(f"main.f{i - 1}", f"main.f{i}", goroutines=i)
    chart = viz.network_chart(G, top=10)
    nodes = chart.layer[2].data
    assert sorted(nodes["weight"]) == list(range(40, 50))
    assert len(chart.layer[0].data) == 9  # edges among the kept nodes only


def test_graph_charts_on_the_demo_render_offline():
    d = gf.load("bundled:demo")
    wf = viz.wait_for_chart(d)
    nodes = wf.layer[2].data.set_index("name")
    # the demo: 20 goroutines in cache.get wait for the mutex refresh holds
    get = nodes[nodes.index.str.contains(r"\(\*cache\).get")]
    assert get["weight"].tolist() == [20]
    png = viz.to_png(wf)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = viz.to_svg(viz.call_graph_chart(d))
    assert (
        svg.startswith("<svg")
        and "cache" in svg
        and "https://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )


def test_offline_renderer_is_static():
    before = alt.renderers.active
    try:
        viz.offline("svg")
        assert alt.renderers.active == "svg"
        viz.offline()
        assert alt.renderers.active == "png"
        with pytest.raises(ValueError):
            viz.offline("html")
    finally:
        alt.renderers.enable(before)


def test_empty_input_gives_a_note_not_an_error():
    d = gf.parse_text("goroutine 1 [running]:\nmain.main()\n\t/m.go:3 +0x1\n")
    for chart in (
        viz.wait_times_chart(d),
        viz.icicle_chart(d),
        viz.call_graph_chart(d),
        viz.suspects_chart([]),
    ):
        assert viz.to_svg(chart).startswith("<svg")


def test_chains_collapse_into_one_node_and_forks_stay():
    # a -> b -> c -> d is one chain; d forks to e and f; g -> e joins; h <-> i is a cycle
    G = nx.DiGraph(
        [
            ("a", "b"),
            ("b", "c"),
            ("c", "d"),
            ("d", "e"),
            ("d", "f"),
            ("g", "e"),
            ("h", "i"),
            ("i", "h"),
        ]
    )
    H = viz.collapse_chains(G, lambda n, a: n)
    members = {n: a["members"] for n, a in H.nodes(data=True)}
    assert sorted(m for ms in members.values() for m in ms) == sorted(G.nodes)
    assert members["a"] == ["a", "b", "c", "d"]
    assert {"e", "f", "g"} <= set(members) and len(members["e"]) == 1
    assert sorted(H.edges) == [("a", "e"), ("a", "f"), ("g", "e")]
    assert any(set(ms) == {"h", "i"} for ms in members.values())
    # nothing left to merge
    assert not [(x, y) for x, y in H.edges if H.out_degree(x) == 1 and H.in_degree(y) == 1]


def test_call_graph_chart_of_deep_stacks_draws_chains_as_one(series):
    chart = viz.call_graph_chart(series)
    nodes = chart.layer[2].data
    # waitAll -> WaitGroup.Wait -> runtime_SemacquireWaitGroup is one chain in leakseries
    wait = nodes[nodes["name"].str.startswith("main.waitAll")]
    assert len(wait) == 1 and "frames)" in wait.iloc[0]["name"]


def test_charts_over_time_zoom_and_pan_along_time_in_jupyter(series):
    counts = pd.DataFrame(
        {
            "time": pd.date_range("2026-12-01", periods=4, freq="min", tz="UTC"),
            "instance": "",
            "goroutines": [10, 20, 30, 40],
        }
    )
    for chart in (
        viz.over_time_chart(series),
        viz.states_chart(series),
        count_chart(counts),
    ):
        spec = chart.to_dict()
        params = spec.get("params") or [
            p for layer in spec.get("layer", []) for p in layer.get("params", [])
        ]
        # Vega-Lite's scale binding: an interval selection bound to the x scale pans and zooms it
        bound = [p for p in params if p.get("bind") == "scales"]
        assert bound and bound[0]["select"]["encodings"] == ["x"], spec.get("title")
