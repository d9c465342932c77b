"""The side files of a series, validated at the door: capture manifests and times files.

A ``manifest.json`` (written by ``goforensics capture``, by the dataset builders, or by
hand) and a times file (``times.tsv`` beside the dumps, or ``--times FILE``) say when
each dump was taken and which dumps belong together. They come from anywhere, so each
is checked against a schema before anything is read from it, and a bad one is a
one-line :class:`~goforensics.errors.LoadError` that names the field.

>>> import json, tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "manifest.json"
>>> _ = p.write_text(json.dumps({"snapshots": [{"file": "a.txt", "round": "one"}]}))
>>> read_manifest_doc(p)
Traceback (most recent call last):
...
goforensics.errors.LoadError: ...manifest.json: snapshots[0].round: 'one' is not of type 'integer', 'null'
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import sys
from pathlib import Path

import pandas as pd

from ..errors import LoadError

__all__ = [
    "MANIFEST_SCHEMA",
    "MAX_SIDE_FILE",
    "TIMES_FILES",
    "parse_time",
    "read_manifest_doc",
    "read_times",
]

MAX_SIDE_FILE = 256 << 20  # a manifest of 100,000 rounds of four files is about 40 MB
TIMES_FILES = ("times.tsv", "times.csv", "times.txt")

# RFC 3339 / ISO 8601 as Go and Python write it (a space for the T and a missing zone,
# read as UTC, are tolerated); the values themselves are then checked by parsing.
_TIME = r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d([.,]\d{1,9})?)?(Z|z|[+-]\d\d:?\d\d)?$"
_NAME = {"type": ["string", "null"], "maxLength": 4096}
_FILE = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "minLength": 1, "maxLength": 4096},
        "taken_at": {"type": ["string", "null"], "pattern": _TIME},
        "round": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**31 - 1},
        "instance": _NAME,
        "profile": {"type": ["string", "null"], "maxLength": 256},
        "debug": {"type": ["integer", "null"], "enum": [0, 1, 2, None]},
        "capped": {"type": "boolean"},
        "bytes": {"type": ["integer", "null"], "minimum": 0},
    },
}
MANIFEST_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "goforensics capture manifest (goforensics-capture/1)",
    "type": "object",
    "required": ["snapshots"],
    "properties": {
        "format": {"type": "string"},
        "instance": _NAME,
        "url": {"type": ["string", "null"]},
        "started_at": {"type": ["string", "null"], "pattern": _TIME},
        "updated_at": {"type": ["string", "null"], "pattern": _TIME},
        "every": {"type": ["number", "null"], "minimum": 0},
        "stopped": {"type": ["string", "null"]},
        "snapshots": {"type": "array", "items": _FILE},
        "extras": {"type": "array", "items": {"type": "object"}},
    },
}


@functools.cache
def _validator():
    # jsonschema's import builds its format checkers, and where the optional rfc3987_syntax
    # is installed, that compiles some forty grammars (1-3 s, more than the dumps). The manifest
    # schema asserts no format, so that package is kept out of the import when jsonschema is
    # first imported here (the process's format checker then has no 'iri' check).
    hide = "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules
    if hide:
        sys.modules["rfc3987_syntax"] = None  # an import of it raises ImportError
    try:
        import jsonschema
    finally:
        if hide:
            del sys.modules["rfc3987_syntax"]
    return jsonschema.Draft202012Validator(MANIFEST_SCHEMA)


def _field(path) -> str:
    """``snapshots[0].taken_at`` from a jsonschema error path."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "the document"


def _short(value: object, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _read_json(path: Path, what: str) -> object:
    try:
        size = os.path.getsize(path)
        if size > MAX_SIDE_FILE:
            raise LoadError(
                f"{path}: {what} of {size:,} bytes, over the {MAX_SIDE_FILE:,}-byte limit"
            )
        text = path.read_bytes().decode("utf-8")
        return json.loads(text)
    except RecursionError:
        raise LoadError(f"{path}: unreadable {what}: JSON nested too deeply") from None
    except UnicodeDecodeError as e:
        raise LoadError(f"{path}: unreadable {what}: not UTF-8 (byte {e.start})") from None
    except ValueError as e:  # json.JSONDecodeError
        raise LoadError(f"{path}: unreadable {what}: {e}") from None
    except OSError as e:
        raise LoadError(f"{path}: unreadable {what}: {e.strerror or e}") from None


def parse_time(value: object, where: str) -> pd.Timestamp:
    """A capture time as a UTC timestamp, or a one-line :class:`LoadError` naming ``where``.

    Parameters
    ----------
    value : str
        An RFC 3339 / ISO 8601 time (``2026-11-30T03:00:00.123Z``, ``...+01:00``); one
        without a zone is UTC.
    where : str
        What to call the value in the error (``manifest.json: snapshots[3].taken_at``).

    Returns
    -------
    pandas.Timestamp
        In UTC.

    Examples
    --------
    >>> parse_time("2026-11-30T04:00:00+01:00", "t")
    Timestamp('2026-11-30 03:00:00+0000', tz='UTC')
    >>> parse_time("2026-11-30T03:00:00+99:99", "manifest.json: snapshots[0].taken_at")
    Traceback (most recent call last):
    ...
    goforensics.errors.LoadError: manifest.json: snapshots[0].taken_at: '2026-11-30T03:00:00+99:99' ...
    """
    if not isinstance(value, str) or not re.match(_TIME, value.strip()):
        raise LoadError(
            f"{where}: {_short(value)} is not a time (use ISO 8601: 2026-11-30T03:00:00Z)"
        )
    try:
        ts = pd.Timestamp(value.strip().replace(",", "."))
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    except (ValueError, OverflowError) as e:
        why = str(e).splitlines()[0][:80]
        raise LoadError(f"{where}: {_short(value)} is not a valid time ({why})") from None


def read_manifest_doc(path: str | Path) -> dict:
    """A capture manifest, checked against :data:`MANIFEST_SCHEMA` and its times parsed.

    Parameters
    ----------
    path : str or Path
        The ``manifest.json``.

    Returns
    -------
    dict
        The document; each snapshot's ``taken_at`` is a UTC :class:`pandas.Timestamp`
        (or ``None``).

    Raises
    ------
    LoadError
        One line naming the file and the field: not JSON, nested too deeply, not an
        object, a field of the wrong type, a time that is not a time.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "manifest.json"
    >>> _ = p.write_text(json.dumps({"snapshots": 5}))
    >>> read_manifest_doc(p)
    Traceback (most recent call last):
    ...
    goforensics.errors.LoadError: ...manifest.json: snapshots: 5 is not of type 'array'
    """
    path = Path(path)
    doc = _read_json(path, "manifest")
    validator = _validator()  # first: it imports jsonschema
    from jsonschema.exceptions import best_match

    err = best_match(validator.iter_errors(doc))
    if err is not None:
        msg = err.message if len(err.message) <= 160 else _short(err.instance) + " is invalid"
        if err.validator == "pattern":
            msg = f"{_short(err.instance)} is not a time (use ISO 8601: 2026-11-30T03:00:00Z)"
        raise LoadError(f"{path}: {_field(err.absolute_path)}: {msg}".replace("\n", " "))
    for k, snap in enumerate(doc["snapshots"]):
        t = snap.get("taken_at")
        snap["taken_at"] = None if t is None else parse_time(t, f"{path}: snapshots[{k}].taken_at")
    return doc


def read_times(path: str | Path) -> dict[str, pd.Timestamp]:
    """Capture times from a times file: one ``FILE<TAB>TIME`` (or ``FILE,TIME``) line per dump.

    Lines starting with ``#`` and a header line (``file,taken_at``) are skipped. FILE is
    a path relative to the times file, or a bare file name.

    Parameters
    ----------
    path : str or Path
        The times file (``times.tsv`` beside the dumps, or the one given with ``--times``).

    Returns
    -------
    dict
        ``{file: UTC timestamp}``, the file as written in the times file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "times.tsv"
    >>> _ = p.write_text("# file\\ttime\\nd1.txt\\t2026-11-30T03:00:00Z\\nd2.txt\\tsoon\\n")
    >>> read_times(p)
    Traceback (most recent call last):
    ...
    goforensics.errors.LoadError: ...times.tsv:3: 'soon' is not a time (use ISO 8601: 2026-11-30T03:00:00Z)
    """
    path = Path(path)
    try:
        if os.path.getsize(path) > MAX_SIDE_FILE:
            raise LoadError(f"{path}: times file over the {MAX_SIDE_FILE:,}-byte limit")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LoadError(f"{path}: unreadable times file: not UTF-8 (byte {e.start})") from None
    except OSError as e:
        raise LoadError(f"{path}: unreadable times file: {e.strerror or e}") from None
    out: dict[str, pd.Timestamp] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = next(csv.reader(io.StringIO(line), delimiter="\t" if "\t" in line else ","))
        if len(row) != 2:
            raise LoadError(f"{path}:{n}: expected FILE<TAB>TIME, found {len(row)} field(s)")
        name, when = row[0].strip(), row[1].strip()
        if not out and name.lower() in ("file", "path") and not re.match(_TIME, when):
            continue  # a header
        if not name:
            raise LoadError(f"{path}:{n}: no file name")
        out[name] = parse_time(when, f"{path}:{n}")
    if not out:
        raise LoadError(f"{path}: the times file lists no file")
    return out
