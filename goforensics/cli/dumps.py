"""Commands over dumps: parse, summary, cluster, triage, diff, report, export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import (
    CLUSTER_COLUMNS,
    PARSE_COLUMNS,
    app_module_option,
    emit,
    load_paths,
    progress_bar,
    source_option,
    source_roots_of,
    step,
    times_option,
    write_table,
)
from .group import cli

static_option = click.option(
    "--static",
    is_flag=True,
    help="HTML with no script at all: charts as images, the stacks as a static icicle.",
)


@cli.command("parse")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "parquet"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--frames",
    is_flag=True,
    help="Write the frames table (one row per frame of each distinct stack, joined on stack_id).",
)
@click.option("--all-columns", is_flag=True, help="Every goroutine column, arguments included.")
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Write here instead of stdout. With --format parquet "
    "and a path without .parquet suffix: a directory with all four tables.",
)
@app_module_option
@times_option
def parse_cmd(paths, fmt, frames, all_columns, output, app_modules, times):
    """Read dumps into a table: one row per goroutine (or profile bucket).

    Snapshots are numbered in the order the paths are given; a directory expands
    to its files sorted by name. A summary goes to stderr: files, snapshots,
    goroutines, and the lines skipped and why.
    """
    from ..show.text import account

    d = load_paths(paths, "given", app_modules, times)
    if fmt == "parquet" and output and not output.endswith(".parquet"):
        d.to_parquet(output)
    elif frames:
        write_table(d.frames, fmt, output)
    else:
        cols = list(d.goroutines.columns) if all_columns else PARSE_COLUMNS
        write_table(d.goroutines[cols], fmt, output)
    click.echo(account(d), err=True)


@cli.command("summary")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--top", default=10, show_default=True, help="How many groups to show.")
@times_option
def summary_cmd(paths, top, times):
    """A readable first look at dumps: snapshots, states, and the largest groups of goroutines."""
    from ..show.text import overview

    emit(overview(load_paths(paths, "time", times=times), top) + "\n", None)


@cli.command("cluster")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "json"]),
    help="Output format [default: text on a terminal, csv otherwise].",
)
@click.option(
    "--level",
    type=click.Choice(["exact", "lines", "functions", "application", "cause"]),
    default="functions",
    show_default=True,
    help="What of a frame counts: lines and args, lines, function names, or "
    "application frames plus the blocking operation; cause: the clusters (at functions) of one "
    "leaking mechanism as one.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Largest weighted edit distance at which two stacks of one blocking site "
    "merge (0: fingerprints only).",
)
@click.option("--summary", is_flag=True, help="One row per cluster instead of one per goroutine.")
@click.option(
    "--companions",
    is_flag=True,
    help="Also merge standard-library goroutines started together by one goroutine "
    "(a connection's readLoop and writeLoop).",
)
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout.")
@app_module_option
@times_option
def cluster_cmd(paths, fmt, level, threshold, summary, companions, output, app_modules, times):
    """Group goroutines into root causes: one row per goroutine with its cluster id.

    The whole series is clustered at once, so a cause keeps its id in every snapshot;
    ids run from 0, the largest cluster. Snapshots are numbered in the order the paths
    are given. With --summary: one row per cluster with its size, blocking site,
    representative stack and state mix. On a terminal the table is text, one line a
    row (a stack shows its first frame); in a pipe or file it is CSV.
    """
    from ..analyze.clustering import cluster, describe_clusters
    from ..show.text import account

    if fmt is None:
        fmt = "text" if output is None and sys.stdout.isatty() else "csv"
    with progress_bar("cluster", 3) as bar:
        step(bar, "reading")
        d = load_paths(paths, "given", app_modules, times)
        bar.update()
        step(bar, "clustering")
        if level == "cause":
            from ..analyze.causes import causes

            labels = causes(d, cluster(d, threshold=threshold, companions=companions))
        else:
            labels = cluster(d, level=level, threshold=threshold, companions=companions)
        bar.update()
        step(bar, "describing")
        if summary:
            table = describe_clusters(d, labels)
            table["representative"] = table["representative"].astype(str)
        else:
            table = d.goroutines[[c for c in CLUSTER_COLUMNS if c != "cluster"]].copy()
            table.insert(5, "cluster", labels)
            table["stack_id"] = table["stack_id"].astype(str)
        bar.update()
    write_table(table, fmt, output)  # after the bar is gone: a terminal gets the table clean
    click.echo(
        account(d) + f"\n{labels.nunique():,} cluster(s) at level {level}, threshold {threshold}",
        err=True,
    )


@cli.command("triage")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--top", default=5, show_default=True, help="How many suspects to show.")
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout.")
@app_module_option
@times_option
@source_option
@click.option(
    "--by",
    type=click.Choice(["cause", "cluster"]),
    default="cause",
    show_default=True,
    help="Rank causes (the sites of one leaking mechanism as one suspect), or clusters.",
)
@click.option(
    "--since",
    help="Judge growth from the last snapshot before this time on (ISO 8601, UTC if no zone): "
    "e.g. when a leak started (gf.leak_onset).",
)
@static_option
def triage_cmd(paths, fmt, top, output, app_modules, times, source, by, since, static):
    """Rank leak suspects: which code is leaking goroutines, since when, and how to fix it.

    Give one dump or a series (snapshots are ordered by capture time). Each suspect
    names where it blocks, its entry function and creator, its counts per snapshot and
    slope, the evidence for it, the pattern it matches and the fix. Groups with no
    evidence of a leak are listed apart, after the suspects.
    """
    import json

    from ..analyze.clustering import cluster
    from ..analyze.suspects import triage
    from ..show.text import account, triage_text

    if since is not None:  # checked first, apart: an error of the analysis is not the option's
        import pandas as pd

        try:
            pd.Timestamp(since)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--since") from None
    if fmt == "html":
        from ..show.draw import warm_renderer

        warm_renderer()  # the page's charts: their engine starts while the dumps are read
    with progress_bar("triage", 3) as bar:
        step(bar, "reading")
        d = load_paths(paths, "time", app_modules, times)
        bar.update()
        step(bar, "clustering and ranking")
        labels = cluster(d)  # the html page's flame graph shows the same clusters
        report = triage(d, labels, top=top, source=source_roots_of(source), by=by, since=since)
        bar.update()
        step(bar, "writing")
        if fmt == "json":
            text = json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"
        elif fmt == "html":
            from ..show.report import triage_html  # the page's charts: only when asked

            text = triage_html(report, dumps=d, labels=labels, static=static)
        else:
            text = triage_text(report, color=output is None and sys.stdout.isatty())
        bar.update()
    emit(text, output)
    click.echo(account(d), err=True)


@cli.command("diff")
@click.argument("before", type=click.Path())
@click.argument("after", type=click.Path(), required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--all", "show_all", is_flag=True, help="Also list the clusters that stayed the same."
)
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout.")
@times_option
@click.option(
    "--min-change",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="A change of fewer goroutines than this is 'same'.",
)
@click.option(
    "--tolerance",
    default=0.1,
    show_default=True,
    type=click.FloatRange(min=0),
    help="A relative change within this (and within the noise of the counts) is 'same'.",
)
def diff_cmd(before, after, fmt, show_all, output, times, min_change, tolerance):
    """What changed between two dumps or series: causes that appeared, grew, shrank or vanished.

    BEFORE and AFTER are each a file, glob or directory; with BEFORE alone (a series),
    its first snapshot is compared with its last. Both sides are clustered together, so
    one cause is one row; sizes are mean goroutines per snapshot of each side.
    """
    from ..analyze.diff import diff
    from ..show.text import diff_text

    a = load_paths((before,), "time", times=times)
    b = load_paths((after,), "time", times=times) if after is not None else None
    table = diff(a, b, min_change=min_change, tolerance=tolerance)
    if not show_all:
        table = table[table["change"] != "same"].reset_index(drop=True)
    if fmt == "text":
        emit(diff_text(table, a, b) + "\n", output)
    else:
        write_table(table, fmt, output)


@cli.command("report")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write here (report.html) instead of stdout.",
)
@click.option("--top", default=10, show_default=True, help="How many suspects to show.")
@click.option("--title", help="Title of the report (default: goforensics report).")
@click.option("--no-charts", is_flag=True, help="Tables and text only (faster on huge series).")
@app_module_option
@times_option
@source_option
@static_option
@click.option(
    "--by",
    type=click.Choice(["cause", "cluster"]),
    default="cause",
    show_default=True,
    help="Rank causes (the sites of one leaking mechanism on one card), or clusters.",
)
def report_cmd(paths, output, top, title, no_charts, app_modules, times, source, static, by):
    """One self-contained HTML report of dumps: the causes with evidence and fix first, then charts, graphs, overview.

    Nothing is fetched when the file is viewed, so it can be attached to a ticket. By
    default one script of goforensics' own (allowed by hash in the page's
    Content-Security-Policy, nothing else runs) makes the blocked stacks an explorable
    flame graph (search, zoom, focus/ignore regexes, a cause's stacks) and gives the charts
    tooltips; --static writes the report with no script at all. Snapshots are ordered by
    capture time.
    """
    from ..show.report import report_html
    from ..show.text import account

    if not no_charts:
        from ..show.draw import warm_renderer

        warm_renderer()  # the chart engine starts while the dumps are read and analysed
    d = load_paths(paths, "time", app_modules, times)
    html = report_html(
        d,
        top=top,
        title=title,
        charts=not no_charts,
        progress=sys.stderr.isatty(),
        source=source_roots_of(source),
        static=static,
        by=by,
    )
    emit(html, output)
    click.echo(account(d) + (f"\nreport written to {output}" if output else ""), err=True)


@cli.command("export")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pprof", "speedscope", "folded", "parquet"]),
    required=True,
    help="pprof: gzipped profile.proto for go tool pprof; speedscope: "
    "JSON for speedscope.app; folded: 'a;b;c N' lines for flame-graph tools; parquet: a table.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write here instead of stdout (needed for pprof on a terminal, and for parquet).",
)
@click.option(
    "--by",
    type=click.Choice(["snapshot", "cluster", "cause"]),
    help="Group the stacks: every snapshot, each its own group; or the snapshot's clusters "
    "(sites), or its causes (the sites of one leaking mechanism), each its own group: a pprof "
    "sample label (-tagfocus cause=...), a speedscope profile, a flame graph's root frame.",
)
@click.option("--per", type=click.Choice(["snapshot", "cluster", "cause"]), hidden=True)
@click.option("--snapshot", type=int, help="The snapshot to export (default: the last).")
@click.option("--all-goroutines", is_flag=True, help="Every goroutine, not only the blocked ones.")
@app_module_option
def export_cmd(paths, fmt, output, by, per, snapshot, all_goroutines, app_modules):
    """Export blocked goroutines' stacks to pprof, speedscope, flame-graph tools or Parquet.

    One sample per distinct stack with its goroutine count, from the last snapshot (or
    --snapshot N, or every snapshot with --by snapshot); --by cluster or --by cause groups
    the stacks of each site or cause. `go tool pprof -http=: FILE`
    opens the pprof file; speedscope.app the speedscope file; flamegraph.pl or inferno
    the folded stacks. Snapshots are ordered by capture time.
    """
    from ..show import export
    from ..show.text import account

    if fmt in ("pprof", "parquet") and output is None and sys.stdout.isatty():
        raise click.UsageError(f"--format {fmt} is binary: give -o FILE (or redirect stdout)")
    with progress_bar("export", 2) as bar:
        step(bar, "reading")
        d = load_paths(paths, "time", app_modules)
        bar.update()
        if snapshot is not None and snapshot not in set(d.snapshots["snapshot"].tolist()):
            raise click.BadParameter(
                f"no snapshot {snapshot} (there are {len(d.snapshots)})", param_hint="--snapshot"
            )
        step(bar, "counting stacks")
        per = by or per  # --per: the option's first name
        counts = export.stack_counts(d, per=per, snapshot=snapshot, blocked_only=not all_goroutines)
        bar.update()
    if fmt == "pprof":
        taken = d.snapshots["taken_at"].dropna()
        when = int(taken.max().value) if len(taken) and per != "snapshot" else 0
        emit(export.to_pprof(d, counts, time_nanos=when), output)
    elif fmt == "speedscope":
        import json

        doc = export.to_speedscope(
            d, counts, name=Path(paths[0]).name if len(paths) == 1 else "goroutines"
        )
        emit(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", output)
    elif fmt == "folded":
        emit(export.to_folded(d, counts), output)
    else:
        write_table(export.stacks_table(d, counts), "parquet", output)
    click.echo(
        account(d) + f"\n{int(counts['goroutines'].sum()):,} goroutine(s) on "
        f"{len(counts):,} stack(s) exported as {fmt}",
        err=True,
    )
