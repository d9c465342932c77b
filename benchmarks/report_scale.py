"""Benchmark: charts and the HTML report on a dump of 200k goroutines; print times, marks and sizes.

    .venv/bin/python benchmarks/report_scale.py [--goroutines 200000] [--cache DIR]

The dump is the one benchmarks/parse.py makes with benchmarks/bigdump (a real Go program,
cached in ~/.cache/goforensics/bench/). For each chart: the seconds to build it and to
render it to SVG with vl-convert, and the rows of data it draws (its marks come from these
aggregates, never one per goroutine); then the whole report: seconds, size, and that it
holds no script. Target (issue 6): legible and quick at 100k+ goroutines: a few hundred
rows per chart whatever the goroutine count, the report in well under a minute.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from parse import make_dump  # noqa: E402  (benchmarks/parse.py)

import goforensics as gf  # noqa: E402
from goforensics.analyze.suspects import suspects  # noqa: E402
from goforensics.show import charts as viz  # noqa: E402
from goforensics.show.report import report_html  # noqa: E402


def _rows(chart) -> int:
    import altair as alt

    if isinstance(chart, (alt.HConcatChart, alt.VConcatChart)):
        return sum(_rows(c) for c in (getattr(chart, "hconcat", None) or chart.vconcat))
    if isinstance(chart, alt.LayerChart) and not hasattr(chart.data, "__len__"):
        return sum(_rows(c) for c in chart.layer)
    return len(chart.data) if hasattr(chart.data, "__len__") else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goroutines", type=int, default=200_000)
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "goforensics" / "bench"))
    args = ap.parse_args()
    dump, _meta = make_dump(Path(args.cache), args.goroutines)
    t = time.perf_counter()
    d = gf.load(dump)
    print(
        f"load: {time.perf_counter() - t:.1f} s, {d.total:,} goroutines, "
        f"{d.frames['stack_id'].nunique():,} distinct stacks"
    )
    t = time.perf_counter()
    labels = gf.cluster(d)
    print(f"cluster: {time.perf_counter() - t:.1f} s, {labels.nunique()} clusters")
    t = time.perf_counter()
    s = suspects(d, labels)
    print(f"suspects: {time.perf_counter() - t:.1f} s")
    charts = {
        "over_time_chart": lambda: viz.over_time_chart(d, labels),
        "states_chart": lambda: viz.states_chart(d),
        "suspects_chart": lambda: viz.suspects_chart(s),
        "wait_times_chart": lambda: viz.wait_times_chart(d),
        "icicle_chart": lambda: viz.icicle_chart(d),
        "call_graph_chart": lambda: viz.call_graph_chart(d),
        "spawn_graph_chart": lambda: viz.spawn_graph_chart(d),
        "wait_for_chart": lambda: viz.wait_for_chart(d),
    }
    print(f"{'chart':<22} {'build s':>8} {'svg s':>7} {'data rows':>10} {'svg KiB':>8}")
    for name, make in charts.items():
        t = time.perf_counter()
        chart = make()
        built = time.perf_counter() - t
        t = time.perf_counter()
        svg = viz.to_svg(chart)
        drawn = time.perf_counter() - t
        print(f"{name:<22} {built:>8.2f} {drawn:>7.2f} {_rows(chart):>10,} {len(svg) / 1024:>8.0f}")
    t = time.perf_counter()
    html = report_html(d, labels=labels)
    print(
        f"report: {time.perf_counter() - t:.1f} s (clusters given), {len(html) / 1024:.0f} KiB, "
        f"script tags: {html.lower().count('<script')}, failed parts: "
        f"{html.count('chart unavailable') + html.count('section failed')}"
    )


if __name__ == "__main__":
    main()
