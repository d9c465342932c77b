"""The errors goforensics raises: one base, one class per stage.

Every message is one line fit for a user (the CLI prints it as it is), so catching
:class:`GoforensicsError` is enough to turn any failure of ours into a clean exit.

>>> from goforensics.errors import GoforensicsError, LoadError
>>> issubclass(LoadError, GoforensicsError)
True
"""

from __future__ import annotations

__all__ = [
    "CaptureError",
    "DatasetError",
    "GoforensicsError",
    "LimitError",
    "LoadError",
    "ParseError",
]


class GoforensicsError(Exception):
    """Base of every error goforensics raises on purpose; the message is one line."""


class ParseError(GoforensicsError, ValueError):
    """An input that cannot be read at all (an unreadable gzip stream, not a profile ...).

    Bad *content* never raises: the parser skips it and records a warning.
    """


class LimitError(ParseError):
    """An input over one of the budgets of :class:`goforensics.read.limits.Limits` (a decompression
    bomb, a protobuf message too large to be a goroutine profile ...); the message names the budget
    and how to raise it."""


class LoadError(GoforensicsError, ValueError):
    """A set of inputs that cannot be assembled: a missing path, a bad manifest, no input."""


class CaptureError(GoforensicsError, RuntimeError):
    """A capture could not go on (connection refused, HTTP errors, not a dump ...)."""


class DatasetError(GoforensicsError, RuntimeError):
    """A dataset cannot be found, built or read."""
