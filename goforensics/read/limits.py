"""Budgets: how much of a hostile or huge input the readers take before they stop.

Dumps come from production, from fleets and from tickets: a ``.gz`` may be a decompression bomb,
a "line" may be gigabytes long, a file may hold thousands of concatenated dumps. Each budget
below bounds one kind of cost. Going over one is never a traceback: the text readers keep what
they read so far and record a ``limit`` warning (the snapshot is marked truncated); where a
partial result would mean nothing (a protobuf message) they raise
:class:`~goforensics.errors.LimitError`, a one-line error naming the budget.

====================  ===========  ===============================================================
budget                default      what goes over it
====================  ===========  ===============================================================
``decompressed``      4 GiB        bytes inflated from one gzip input, whatever its size
``ratio``             200          inflated / compressed bytes (real dumps: 20-60x; a bomb: 1000x),
                                   applied beyond ``ratio_floor`` (64 MiB) of output
``line``              64 MiB       one line (the rest of it is dropped as it streams, not kept)
``depth``             262,144      frames of one goroutine (the deeper ones are dropped, counted)
``message``           64 MiB       one protobuf profile, inflated (goroutine profiles are small)
``snapshots``         1,000        dumps in one file (a log with a dump a minute holds 1,440 a day)
====================  ===========  ===============================================================

Override per call (``parse_file(path, limits=Limits(snapshots=5000))``) or for a whole process
with environment variables ``GOFORENSICS_LIMIT_<NAME>`` (``GOFORENSICS_LIMIT_SNAPSHOTS=5000``),
which :func:`current` reads on each call.

>>> Limits().snapshots, Limits(line=1 << 20).line
(1000, 1048576)
>>> Limits().inflate_budget(3 << 20) // (1 << 20)  # a 3 MiB .gz may inflate to 600 MiB
600
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import LimitError, ParseError

__all__ = ["InflateBudget", "Limits", "current", "gunzip_chunks"]


@dataclass(frozen=True)
class Limits:
    """The budgets of one read (see the module's table); every field is a positive integer."""

    decompressed: int = 4 << 30
    ratio: int = 200
    ratio_floor: int = 64 << 20
    line: int = 64 << 20
    depth: int = 1 << 18
    message: int = 64 << 20
    snapshots: int = 1000

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise LimitError(f"limit {f.name} must be a positive integer, not {v!r}")

    def inflate_budget(self, compressed: int | None) -> int:
        """Bytes one gzip input of ``compressed`` bytes may inflate to (None: size unknown).

        Parameters
        ----------
        compressed : int or None
            The gzip input's size in bytes, None where it is unknown.

        Returns
        -------
        int
            The most bytes it may inflate to.

        Examples
        --------
        >>> Limits().inflate_budget(None) > 0
        True
        """
        if compressed is None:
            return self.decompressed
        return min(self.decompressed, max(self.ratio_floor, self.ratio * compressed))


def current(limits: Limits | None = None) -> Limits:
    """The given limits, else the defaults with any ``GOFORENSICS_LIMIT_<NAME>`` override.

    Parameters
    ----------
    limits : Limits, optional
        Limits to use as they are.

    Returns
    -------
    Limits
        ``limits``, else the defaults with the environment's overrides.

    Examples
    --------
    >>> import os
    >>> os.environ["GOFORENSICS_LIMIT_SNAPSHOTS"] = "5000"
    >>> current().snapshots
    5000
    >>> del os.environ["GOFORENSICS_LIMIT_SNAPSHOTS"]
    """
    if limits is not None:
        return limits
    over = {}
    for f in dataclasses.fields(Limits):
        raw = os.environ.get(f"GOFORENSICS_LIMIT_{f.name.upper()}")
        if raw is not None:
            try:
                over[f.name] = int(float(raw))
            except ValueError:
                raise LimitError(
                    f"GOFORENSICS_LIMIT_{f.name.upper()}={raw!r} is not a number"
                ) from None
    return Limits(**over)


class InflateBudget(LimitError):
    """A gzip input inflates past its budget (see :meth:`Limits.inflate_budget`)."""


def gunzip_chunks(fileobj: BinaryIO, budget: int, name: str, chunk_size: int) -> Iterator[bytes]:
    """Inflate a gzip stream (every member) chunk by chunk, never more than ``budget`` bytes.

    Raises :class:`InflateBudget` past the budget and :class:`~goforensics.errors.ParseError`
    where the stream is corrupt, each with a one-line message.

    Parameters
    ----------
    fileobj : binary file
        The gzip stream.
    budget : int
        The most bytes it may inflate to.
    name : str
        The input's name, for the messages.
    chunk_size : int
        Bytes read at a time.

    Yields
    ------
    bytes
        Inflated chunks, in order.

    Examples
    --------
    >>> import gzip, io
    >>> bomb = gzip.compress(bytes(1 << 20))
    >>> sum(map(len, gunzip_chunks(io.BytesIO(bomb), 1 << 20, "ok.gz", 1 << 16)))
    1048576
    >>> list(gunzip_chunks(io.BytesIO(bomb), 1000, "bomb.gz", 1 << 16))
    Traceback (most recent call last):
    ...
    goforensics.read.limits.InflateBudget: bomb.gz: inflates past 1000 bytes (budget: ...)
    """
    stream = gzip.GzipFile(fileobj=fileobj)
    total = 0
    try:
        # read one byte past the budget at most: GzipFile inflates no more than it is asked for
        while chunk := stream.read(min(chunk_size, budget - total + 1)):
            total += len(chunk)
            if total > budget:
                if len(chunk) > total - budget:  # what is within the budget is kept
                    yield chunk[: len(chunk) - (total - budget)]
                raise InflateBudget(
                    f"{name}: inflates past {budget} bytes"
                    " (budget: GOFORENSICS_LIMIT_RATIO, GOFORENSICS_LIMIT_DECOMPRESSED)"
                )
            yield chunk
    except (OSError, EOFError, zlib.error) as e:
        raise ParseError(f"{name}: unreadable gzip stream: {e}") from None
