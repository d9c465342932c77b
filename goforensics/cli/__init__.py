"""The ``goforensics`` command: a thin door onto the library's functions.

Every command reads dumps with :func:`goforensics.load`, prints its table or
report on stdout (or ``-o FILE``) and a short account on stderr. Bad input
gives a one-line error and a non-zero exit, never a traceback.

Commands only parse their options and call library functions; every sentence
they print is written in :mod:`goforensics.show.text`. Each command imports the
library inside its body: the library brings pandas (and the analysis networkx, the report
Altair), and ``goforensics --help`` should not wait for them.
"""

from __future__ import annotations

import os
import sys

import click

from . import ci, datasets, dumps, live  # noqa: F401  (each registers its commands on the group)
from .group import cli

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; unexpected errors become one line on stderr, not a traceback.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the process's).

    Returns
    -------
    int
        The exit status: 0, a command's own, 2 for a usage error, 130 when interrupted, 70
        for an internal error.

    Examples
    --------
    >>> main(["triage", "--top", "nine"])
    2
    """
    # jsonschema (which Altair and the manifest check import) compiles some forty grammars of
    # the optional rfc3987_syntax at import, 1-3 s, for its 'iri' formats: no schema checked
    # here uses them (Vega-Lite's formats are uri and color-hex), so this process goes without.
    sys.modules.setdefault("rfc3987_syntax", None)
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
