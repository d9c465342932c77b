"""The ``goforensics`` command group; the commands register on it from their modules."""

from __future__ import annotations

import click

__all__ = ["cli"]


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
