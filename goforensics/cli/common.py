"""What the commands share: reading PATHs (files, globs, directories, URLs, standard input),
the common options, writing output, progress, and option parsers."""

from __future__ import annotations

import os
import re
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from ..errors import CaptureError, GoforensicsError

__all__ = [
    "CLUSTER_COLUMNS",
    "PARSE_COLUMNS",
    "app_module_option",
    "duration",
    "emit",
    "is_url",
    "load_paths",
    "manifest_snapshots",
    "option_value",
    "output_dir_option",
    "parsed_option",
    "progress_bar",
    "size",
    "source_option",
    "source_roots_of",
    "step",
    "timeout_option",
    "times_option",
    "write_table",
]

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


def is_url(p: str) -> bool:
    """A live service: ``http(s)://...``, or ``host:port[/path]`` that names no file (as capture
    takes it).

    Parameters
    ----------
    p : str
        A PATH argument.

    Returns
    -------
    bool
        True where it names a live service.

    Examples
    --------
    >>> is_url("localhost:6060"), is_url("http://h/debug/pprof/"), is_url("dumps/a.txt")
    (True, True, False)
    """
    return p.startswith(_URL) or (_HOST_PORT.fullmatch(p) is not None and not os.path.exists(p))


source_option = click.option(
    "--source",
    "source",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="The program's source tree (repeatable; default: GOFORENSICS_SOURCE, separated like "
    "PATH): each suspect shows its code, where it was created, and what the code confirms.",
)


def source_roots_of(source: tuple[str, ...]) -> list:
    """The source roots of ``--source`` (else of ``GOFORENSICS_SOURCE``).

    Parameters
    ----------
    source : tuple of str
        The ``--source`` values.

    Returns
    -------
    list of Path
        See :func:`goforensics.analyze.sourcescan.source_roots`.

    Examples
    --------
    >>> source_roots_of(("/src/app",))
    [PosixPath('/src/app')]
    """
    from ..analyze.sourcescan import source_roots

    return source_roots(source)


times_option = click.option(
    "--times",
    type=click.Path(exists=True, dir_okay=False),
    help="Capture times: a file of FILE<TAB>TIME lines (ISO 8601); wins over a manifest, the "
    "content and the file names.",
)


def progress_bar(desc: str, total: int):
    """A bar of a command's steps on stderr; quiet when stderr is not a terminal.

    Parameters
    ----------
    desc : str
        What the bar counts.
    total : int
        How many steps.

    Returns
    -------
    tqdm
        The bar (disabled off a terminal).

    Examples
    --------
    >>> bar = progress_bar("triage", 2)
    >>> step(bar, "parse")
    >>> bar.update(); bar.close()
    """
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


def step(bar, what: str) -> None:
    """Show the step a bar is at.

    Parameters
    ----------
    bar : tqdm
        A :func:`progress_bar`.
    what : str
        The step's name.

    Examples
    --------
    >>> bar = progress_bar("report", 1)
    >>> step(bar, "charts")
    >>> bar.close()
    """
    bar.set_postfix_str(what, refresh=True)


def load_paths(
    paths: tuple[str, ...],
    order: str = "given",
    app_modules: tuple[str, ...] = (),
    times: str | None = None,
):
    """The Dumps of a command's PATHs (files, globs, directories, URLs, ``-``), or a one-line
    click error (no goroutine in them, nothing given, standard input named twice).

    Parameters
    ----------
    paths : tuple of str
        The PATH arguments.
    order : str, default "given"
        Snapshot order, as for :func:`goforensics.read.series.load`.
    app_modules : tuple of str
        Import-path prefixes of the application.
    times : str, optional
        A times file (``--times``).

    Returns
    -------
    Dumps
        What :func:`goforensics.read.series.load` read.

    Examples
    --------
    >>> len(load_paths(("bundled:demo",)).goroutines)
    77
    >>> load_paths(("-", "-"))
    Traceback (most recent call last):
    ...
    click.exceptions.UsageError: standard input (-) can be read only once
    """
    import tempfile

    from ..read.series import Source, load
    from ..show.text import account, endings

    if not paths:
        raise click.UsageError(
            "give at least one dump file, glob, directory or URL (or - for standard input)"
        )
    if paths.count("-") > 1:
        raise click.UsageError("standard input (-) can be read only once")
    remote = any(is_url(p) for p in paths)
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
            elif is_url(p):
                items.extend(_fetch_now(p, Path(tmp) / f"url-{k}"))
            else:
                items.append(p)
        try:
            d = load(
                items,
                order=order,
                app_modules=app_modules,
                times=times,
                progress=sys.stderr.isatty(),  # a bar over the files; quiet in a pipe
            )
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
    from ..read.capture import capture
    from ..read.series import read_manifest

    try:
        capture(url, out, count=1, progress=False)
    except CaptureError as e:
        raise click.ClickException(str(e)) from None
    sources = read_manifest(out)
    for s in sources:
        s.name = url
    return sources


def emit(text: str | bytes, output: str | None) -> None:
    """Write to ``output`` or stdout; text a terminal or file cannot encode is escaped, not fatal.

    Parameters
    ----------
    text : str or bytes
        What to write; bytes are written as they are.
    output : str, optional
        A file to write instead of standard output.

    Examples
    --------
    >>> emit("main.leak\\n", None)
    main.leak
    """
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


def write_table(df, fmt: str, output: str | None) -> None:
    """Write a table as text, CSV, JSON records or Parquet, to ``output`` or standard output.

    Parameters
    ----------
    df : DataFrame
        The table.
    fmt : str
        ``text``, ``csv``, ``json`` or ``parquet`` (which needs ``output``).
    output : str, optional
        A file to write instead of standard output.

    Examples
    --------
    >>> import pandas as pd
    >>> write_table(pd.DataFrame({"state": ["chan send"], "n": [3]}), "csv", None)
    state,n
    chan send,3
    """
    if fmt == "parquet":
        if not output:
            raise click.UsageError("--format parquet needs -o FILE (Parquet is binary)")
        df.to_parquet(
            output, index=False, row_group_size=1 << 16
        )  # as Dumps.to_parquet: bounded buffers
        return
    if fmt == "text":
        from ..show.text import cluster_table_text

        text = cluster_table_text(df) + "\n"
    elif fmt == "csv":
        text = df.to_csv(index=False)
    else:
        text = df.to_json(orient="records", date_format="iso", force_ascii=False) + "\n"
    emit(text, output)


app_module_option = click.option(
    "--app-module",
    "app_modules",
    multiple=True,
    help="Import-path prefix of the application's code (repeatable; overrides inference).",
)


def option_value(parse):
    """A click callback that reads an option's text through ``parse``.

    Parameters
    ----------
    parse : callable
        Text to value; its ``ValueError`` becomes click's error for the option.

    Returns
    -------
    callable
        The callback (None stays None).

    Examples
    --------
    >>> option_value(duration)(None, None, "10s"), option_value(duration)(None, None, None)
    (10.0, None)
    """

    def callback(ctx, param, value):
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None

    return callback


def duration(value: str) -> float:
    """A duration option's text (``500ms``, ``10s``, ``2m``) in seconds.

    Parameters
    ----------
    value : str
        The option's text.

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> duration("2m")
    120.0
    """
    from ..read.capture import parse_duration

    return parse_duration(value)


def size(value: str) -> int:
    """A size option's text (bytes, ``64K``, ``64MiB``) in bytes.

    Parameters
    ----------
    value : str
        The option's text.

    Returns
    -------
    int
        Bytes.

    Examples
    --------
    >>> size("64K")
    65536
    """
    from ..read.capture import parse_size

    return parse_size(value)


def parsed_option(*decls: str, parse, help: str, default: str | None = None):
    """A click option whose text goes through ``parse`` (:func:`duration`, :func:`size` ...).

    Parameters
    ----------
    *decls : str
        The option's names, as for :func:`click.option` (``"--every"``).
    parse : callable
        Text to value; its ``ValueError`` becomes click's usage error for the option.
    help : str
        Its help text.
    default : str, optional
        Its default, shown in the help; without one the option is None when not given.

    Returns
    -------
    callable
        The click decorator.

    Examples
    --------
    >>> @click.command()
    ... @parsed_option("--every", parse=duration, default="10s", help="Between two rounds.")
    ... @parsed_option("--max-size", parse=size, default="256MiB", help="Stop past this size.")
    ... def every(every, max_size):
    ...     click.echo(f"{every} {max_size}")
    >>> every(["--every", "2m"], standalone_mode=False)
    120.0 268435456
    """
    shown = {"show_default": True} if default is not None else {}
    return click.option(*decls, default=default, callback=option_value(parse), help=help, **shown)


def output_dir_option(help: str):
    """The required ``-o/--output`` directory of the commands that write a series.

    Parameters
    ----------
    help : str
        Its help text (what goes into the directory).

    Returns
    -------
    callable
        The click decorator.

    Examples
    --------
    >>> @click.command()
    ... @output_dir_option("Directory for the series.")
    ... def out(output):
    ...     click.echo(output)
    >>> out(["-o", "series"], standalone_mode=False)
    series
    """
    return click.option(
        "-o", "--output", required=True, type=click.Path(file_okay=False), help=help
    )


timeout_option = click.option(
    "--timeout",
    default="10s",
    show_default=True,
    callback=option_value(duration),
    help="Time a request may take in all.",
)


def manifest_snapshots(directory: Path) -> int:
    """How many snapshots a capture directory's manifest lists (0 when it has none to read).

    Parameters
    ----------
    directory : Path
        A capture's output directory.

    Returns
    -------
    int
        The number of snapshots in its ``manifest.json``.

    Examples
    --------
    >>> import tempfile
    >>> manifest_snapshots(Path(tempfile.mkdtemp()))
    0
    """
    import json

    try:
        return len(
            json.loads((directory / "manifest.json").read_text(encoding="utf-8"))["snapshots"]
        )
    except (OSError, ValueError, KeyError):
        return 0
