"""Commands for CI: check test output for leaks, scan Go source for leak-prone code."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import GoforensicsError
from .common import progress_bar, source_option, source_roots_of, step
from .group import cli


@cli.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "junit", "github", "sarif"]),
    default="text",
    show_default=True,
    help="text; JUnit XML (Jenkins, GitLab); GitHub Actions annotations; SARIF 2.1.0.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Write here instead of stdout (the summary line still goes to stderr).",
)
@click.option(
    "--baseline",
    type=click.Path(),
    help="A dump taken before the run: goroutines already in it are not to blame.",
)
@click.option(
    "--ignore-top",
    multiple=True,
    help="Ignore goroutines with this function on top of the stack (goleak's IgnoreTopFunction; repeatable; * globs).",
)
@click.option(
    "--ignore-any",
    multiple=True,
    help="Ignore goroutines with this function anywhere in the stack (IgnoreAnyFunction).",
)
@click.option(
    "--ignore-created-by",
    multiple=True,
    help="Ignore goroutines started by this function (IgnoreCreatedBy).",
)
@click.option(
    "--config",
    type=click.Path(),
    help="A .goforensics.toml ([check]) or pyproject.toml ([tool.goforensics.check]); "
    "default: the nearest one from the current directory up.",
)
@click.option(
    "--no-default-ignores",
    is_flag=True,
    help="Do not ignore the test runner's and the standard library's goroutines.",
)
@click.option(
    "--show-ignored", is_flag=True, help="List the goroutines set aside and why (text format)."
)
@click.option(
    "--root",
    type=click.Path(),
    help="Show files relative to this directory (default: $GITHUB_WORKSPACE, $CI_PROJECT_DIR or the current one).",
)
@source_option
def check_cmd(
    paths,
    fmt,
    output,
    baseline,
    ignore_top,
    ignore_any,
    ignore_created_by,
    config,
    no_default_ignores,
    show_ignored,
    root,
    source,
):
    """Fail a test run that leaked, hung or deadlocked, with the test and the cause.

    PATH is `go test` output (plain, -v or -json, goleak reports, synctest panics, timeouts,
    deadlocks) or a goroutine dump taken at the end of a run; - reads standard input.
    Exit status: 0 clean, 1 a test leaked, hung or deadlocked, 2 unusable input.
    """
    import pandas as pd

    from ..analyze.check import check, load_check_config, rules_frame
    from ..read.gotest import is_empty, read_go_test, read_go_test_paths
    from ..read.series import load
    from ..show import ci

    class Unusable(click.ClickException):
        exit_code = 2

    class Failed(click.ClickException):  # exit status 1; the output has said everything already
        def show(self, file=None) -> None:
            pass

    if not paths:
        raise click.UsageError(
            "give go test output or a dump (a file, a glob, or - for standard input)"
        )
    with progress_bar("check", 2) as bar:
        step(bar, "reading")
        try:
            outs = (
                [read_go_test(click.get_binary_stream("stdin").read(), "<stdin>")]
                if "-" in paths
                else []
            )
            outs += read_go_test_paths([p for p in paths if p != "-"])
            rules, where = load_check_config(config or ".")
            before = load([baseline]) if baseline else None
        except GoforensicsError as e:
            raise Unusable(str(e)) from None
        if all(is_empty(o) for o in outs):
            raise Unusable(f"no go test output and no goroutine dump in {', '.join(paths)}")
        bar.update()
        step(bar, "checking")
        extra = rules_frame(ignore_top, ignore_any, ignore_created_by)
        result = check(
            outs,
            pd.concat([rules, extra], ignore_index=True),
            defaults=not no_default_ignores,
            baseline=before,
            roots=source_roots_of(source),
        )
        bar.update()
    render = {
        "text": lambda r: ci.check_text(r, show_ignored=show_ignored, root=root),
        "junit": lambda r: ci.junit_xml(r, root=root),
        "github": lambda r: ci.github_annotations(r, root=root),
        "sarif": lambda r: ci.check_sarif(r, root=root),
    }[fmt]
    text = render(result)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    if output or fmt in ("junit", "sarif"):
        click.echo(
            ci.summary_line(result) + (f" (ignore rules from {where})" if where else ""), err=True
        )
    if result.exit_code:
        raise Failed(ci.summary_line(result))


@cli.command("scan")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of standard output."
)
@click.option("--tests", is_flag=True, help="Read _test.go files too.")
@click.option(
    "--cache",
    type=click.Path(file_okay=False),
    help="Keep each package's findings here between runs (CI: only changed packages are read again).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def scan_cmd(dirs, fmt, output, tests, cache, quiet):
    """Static rules for leak-prone Go code over the source trees DIRS (no Go toolchain needed).

    Each finding names its rule (GF101...), the fix, and the gosec/linter rule it overlaps;
    --format sarif writes SARIF 2.1.0 for code scanning. Exit status 0 whatever is found;
    1 when DIRS hold no Go file.
    """
    from ..analyze.rules import rules_frame
    from ..analyze.source import scan
    from ..show.findings import findings_json, findings_text
    from ..show.sarif import sarif_json

    try:
        found = scan(list(dirs), tests=tests, progress=False if quiet else None, cache=cache)
    except GoforensicsError as e:
        raise click.ClickException(str(e)) from None
    if not found.attrs.get("files"):  # a mistyped folder must not pass a CI step unseen
        raise click.ClickException(f"no Go file found in {', '.join(dirs)}")
    if fmt == "sarif":
        text = sarif_json(
            found.assign(
                fingerprint=found["rule_id"]
                + ":"
                + found["file"]
                + ":"
                + found["function"].astype(str)
            ),
            rules_frame(),
        )
    else:
        text = (
            findings_json(found)
            if fmt == "json"
            else findings_text(found, files=found.attrs.get("files"))
        )
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)
    click.echo(
        f"scanned {found.attrs.get('files')} file(s) in {found.attrs.get('seconds')} s: "
        f"{len(found)} finding(s)",
        err=True,
    )
