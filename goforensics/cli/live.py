"""Commands on live services: capture a series, watch a fleet, triage a fleet."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CaptureError, GoforensicsError
from .common import (
    app_module_option,
    duration,
    manifest_snapshots,
    output_dir_option,
    parsed_option,
    size,
    timeout_option,
)
from .group import cli


@cli.command("capture")
@click.argument("url")
@output_dir_option("Directory for the series (created; must not hold a capture already).")
@parsed_option(
    "--every", parse=duration, default="10s", help="Time between two rounds (500ms, 10s, 2m)."
)
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many rounds.")
@parsed_option(
    "--duration",
    parse=duration,
    help="Stop after this long (10m, 1h). Without --count or --duration: until Ctrl-C.",
)
@click.option("--debug1", is_flag=True, help="Also capture the debug=1 profile in each round.")
@click.option(
    "--leak", is_flag=True, help="Also capture the goroutineleak profile (Go 1.26+) in each round."
)
@timeout_option
@click.option(
    "--retries",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Attempts after a refused connection, a timeout or an HTTP 5xx (with backoff).",
)
@parsed_option(
    "--max-size",
    parse=size,
    default="256MiB",
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
    from ..read.capture import capture

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
        n = manifest_snapshots(Path(output))
        kept = (
            f"{n} snapshot(s) kept in {output} (its manifest.json is complete)"
            if n
            else "before the first snapshot: nothing kept"
        )
        stop = click.ClickException(f"interrupted: {kept}")
        stop.exit_code = 130
        raise stop from None
    click.echo(f"{manifest_snapshots(manifest.parent)} snapshot(s) in {manifest.parent}", err=True)


@cli.command("watch")
@click.argument("targets", nargs=-1, required=True)
@output_dir_option(
    "Directory for the dumps, count log and reports (one sub-folder per target when several)."
)
@parsed_option(
    "--every", parse=duration, default="5s", help="Time between two samples of the goroutine count."
)
@click.option(
    "--metrics",
    "metrics_urls",
    multiple=True,
    help="A Prometheus /metrics URL to read go_goroutines from, one per target in order "
    "(default: the debug=1 profile's total).",
)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    default=("trend",),
    show_default=True,
    help="Trigger rule, repeatable: trend, holmes, cockroach, deriv, predict_linear, "
    "with parameters as NAME:k=v,k=v (e.g. holmes:min=500,diff=25; trend:windows=60/600).",
)
@parsed_option(
    "--baseline-every",
    parse=duration,
    default="10m",
    help="Time between two baseline dumps (the first at once).",
)
@click.option(
    "--max-goroutines",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Above this count a triggered dump is debug=1 only (a big debug=2 dump stops the world).",
)
@click.option(
    "--no-leak", is_flag=True, help="Do not ask for the goroutineleak profile on a trigger."
)
@parsed_option("--duration", parse=duration, help="Stop after this long (default: until Ctrl-C).")
@click.option(
    "--max-triggers",
    type=click.IntRange(min=1),
    help="Stop once every target has fired this often.",
)
@timeout_option
@parsed_option(
    "--keep-size",
    parse=size,
    default="500MiB",
    help="Keep at most this much of dumps per target (oldest go first).",
)
@click.option(
    "--keep-files",
    default=200,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keep at most this many dumps per target.",
)
@click.option(
    "--on-trigger",
    help="Shell command run after each trigger (GOFORENSICS_REASON, _DUMP, _DUMPS, "
    "_REPORT, _SUSPECTS, _INSTANCE, _GOROUTINES, _DIR in its environment).",
)
@click.option(
    "--no-triage", is_flag=True, help="Do not triage nor write report.html after a trigger."
)
@click.option(
    "--name", "names", multiple=True, help="Instance name per target, in order (default host:port)."
)
def watch_cmd(
    targets,
    output,
    every,
    metrics_urls,
    rules,
    baseline_every,
    max_goroutines,
    no_leak,
    duration,
    max_triggers,
    timeout,
    keep_size,
    keep_files,
    on_trigger,
    no_triage,
    names,
):
    """Watch live services' goroutine counts; on a trigger, capture the evidence.

    TARGETS are pprof base URLs (host:port, http://host:port/prefix). One status line
    per sample; the count log (counts.jsonl) and manifest.json are written as it goes,
    so Ctrl-C leaves a usable series (goforensics triage OUTPUT, gf.load_metrics(OUTPUT)).
    """
    from ..analyze.triggers import rule_from_spec
    from ..watch import watch

    try:
        parsed = [rule_from_spec(r) for r in rules]
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--rule") from None
    try:
        manifests = watch(
            list(targets),
            output,
            every=every,
            metrics=list(metrics_urls) or None,
            rules=parsed,
            names=list(names) or None,
            baseline_every=baseline_every,
            max_goroutines=max_goroutines,
            leak=not no_leak,
            duration=duration,
            max_triggers=max_triggers,
            timeout=timeout,
            keep_bytes=keep_size,
            keep_files=keep_files,
            on_trigger=on_trigger,
            triage=not no_triage,
            status=lambda line: click.echo(line, err=True),
        )
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    except CaptureError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        stop = click.ClickException(
            f"interrupted: the series and count log in {output} are complete"
        )
        stop.exit_code = 130
        raise stop from None
    click.echo(f"watched {len(manifests)} target(s); series in {output}", err=True)


@cli.command("fleet")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--scheduler",
    default=None,
    help="sequential, threads, processes, local (a LocalCluster for this run) or a "
    "scheduler address tcp://host:8786; all but sequential need Dask: pip install "
    "'goforensics[fleet]' [default: $GOFORENSICS_SCHEDULER, else sequential]",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    show_default=True,
    help="Output format (html: a page with the instances x causes view).",
)
@click.option(
    "--parquet",
    help="Also write the tables into a Parquet dataset partitioned by instance "
    "(a folder or fsspec URL), from where they were loaded.",
)
@click.option("--top", default=10, show_default=True, help="Suspects kept per instance.")
@app_module_option
def fleet_cmd(paths, scheduler, fmt, parquet, top, app_modules):
    """Triage a fleet: which instances carry each cause, since when, everywhere or an outlier.

    PATH is a folder whose sub-folders are instances (capture series or folders of dumps),
    a file or a glob; local, or any fsspec URL (s3://bucket/fleet/ ...). Files are parsed
    where they are (on the workers of a Dask cluster with --scheduler) and only small
    results come back. Prints the causes that grow and the instances x causes grid.
    """
    import json

    # Dask (the fleet extra) is imported only when a scheduler other than sequential is asked for
    from ..fleet import fleet_triage
    from ..show.fleet import fleet_json, fleet_page, fleet_text

    try:
        r = fleet_triage(
            list(paths), scheduler=scheduler, parquet=parquet, top=top, app_modules=app_modules
        )
    except GoforensicsError as e:
        raise click.ClickException(str(e)) from None
    for w in r.warnings.itertuples():
        click.echo(f"warning: {w.source}: {w.message}", err=True)
    if fmt == "html":
        click.echo(fleet_page(r))
    else:
        click.echo(json.dumps(fleet_json(r), indent=1) if fmt == "json" else fleet_text(r))
