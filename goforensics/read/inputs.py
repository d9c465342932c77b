"""The inputs of a series: which files, in which order, with what is known before parsing.

Files, globs, directories (walked without recursion; a link back up the tree is not
followed again and a file reached by two names is read once), capture manifests,
times files and ``bundled:NAME``; each file becomes a :class:`Source`. Names that are
not UTF-8 are carried as they are and shown with ``\\xNN`` escapes.

>>> [s.path.name for s in expand_paths("bundled:demo")]
['goroutines-debug2.txt']
"""

from __future__ import annotations

import glob as _glob
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import LoadError
from .sidefiles import TIMES_FILES, read_manifest_doc, read_times

__all__ = [
    "DATA",
    "MANIFEST",
    "Source",
    "apply_times",
    "bundled_path",
    "display_name",
    "expand_paths",
    "expand_sources",
    "note",
    "read_manifest",
    "time_from_name",
]

MANIFEST = "manifest.json"
_SKIP_NAMES = {MANIFEST, "INDEX.tsv", "truth.csv", "truth.csv.gz", "truth.parquet", "README.md"}
_SKIP_SUFFIX = (
    ".json",
    ".csv",
    ".parquet",
    ".md",
    ".tsv",
    ".py",
    ".go",
    ".mod",
    ".sum",
    ".html",
    ".png",
    ".go.txt",
)
_NAME_TIME = [
    (
        re.compile(
            r"(\d{4})-?(\d\d)-?(\d\d)[T_-]?(\d\d)[:-]?(\d\d)[:-]?(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?"
        ),
        "iso",
    ),
    (re.compile(r"(?<!\d)(1[5-9]\d{8}|2\d{9})(?:\.(\d+))?(?!\d)"), "epoch"),
]


@dataclass
class Source:
    """One input file and what is known about it before parsing.

    ``profile`` and ``debug`` say which form of dump the file holds where a manifest
    or the file name tells (``goroutineleak``, 1); ``round`` groups the files taken
    together (from a manifest, or from names that differ only by the form).
    """

    path: Path
    instance: str = ""
    taken_at: pd.Timestamp | None = None
    time_source: str = ""
    round: int | None = None
    name: str = ""  # what the tables call it (its ``source``); the path where empty
    capped: bool = False  # the capture cut the body at its size limit (the manifest says so)
    kept_bytes: int | None = None  # bytes the capture kept, when it says
    profile: str = ""  # goroutine or goroutineleak, when known before parsing
    debug: int | None = None
    declared_instance: bool = False  # the instance was named (manifest, fleet folder, given)


def display_name(path: str | Path) -> str:
    """A file name fit for the tables: bytes that are not UTF-8 shown as ``\\xNN``.

    Parameters
    ----------
    path : str or Path
        A file name as the file system gave it.

    Returns
    -------
    str
        The name, every byte that is not UTF-8 written ``\\xNN``.

    Examples
    --------
    >>> display_name(b"dump-\\xff.txt".decode("utf-8", "surrogateescape"))
    'dump-\\\\xff.txt'
    """
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def note(notes: list[dict], source: object, kind: str, message: str) -> None:
    """Append a row for the warnings table to ``notes``.

    Parameters
    ----------
    notes : list of dict
        The rows gathered so far; appended to in place.
    source : str or Path
        The file or directory the note is about.
    kind : str
        The warning's kind (``times``, ``unreadable``, ...).
    message : str
        What happened, in words.

    Returns
    -------
    None
        The row (``source``, ``snapshot``, ``line``, ``lines``, ``kind``, ``message``)
        goes into ``notes``.

    Examples
    --------
    >>> notes = []
    >>> note(notes, "a.txt", "times", "no time found")
    >>> sorted(notes[0].items())[:3]
    [('kind', 'times'), ('line', None), ('lines', 0)]
    >>> notes[0]["source"], notes[0]["message"]
    ('a.txt', 'no time found')
    """
    notes.append(
        {
            "source": display_name(source),
            "snapshot": None,
            "line": None,
            "lines": 0,
            "kind": kind,
            "message": message,
        }
    )


def read_manifest(directory: str | Path) -> list[Source]:
    """Sources listed in a capture manifest (``manifest.json``), in capture order.

    Parameters
    ----------
    directory : str or Path
        The directory holding ``manifest.json``.

    Returns
    -------
    list of Source
        One per listed snapshot whose file exists, with its time, round, form and
        whether the capture cut it.

    Notes
    -----
    The manifest is a JSON object ``{"instance": str, "snapshots": [{"file": str,
    "taken_at": ISO-8601, "round": int, "instance"?: str, ...}, ...]}``; files are
    relative to it. ``goforensics capture`` adds the URL, profile, debug level,
    status, bytes and whether the body was capped to each snapshot, and ``extras``
    (other endpoints, not dumps); the full schema is in :mod:`goforensics.read.capture`
    and it is checked against :data:`goforensics.read.sidefiles.MANIFEST_SCHEMA`.

    Examples
    --------
    >>> read_manifest(bundled_path("checkout"))[0].time_source
    'manifest'
    """
    return _read_manifest(Path(directory), [])


def _read_manifest(directory: Path, notes: list[dict]) -> list[Source]:
    doc = read_manifest_doc(directory / MANIFEST)
    if not doc["snapshots"]:
        why = f" (the capture stopped: {doc['stopped']})" if doc.get("stopped") else ""
        raise LoadError(
            f"{display_name(directory / MANIFEST)}: the manifest lists no snapshot{why}"
        )
    out, gone = [], []
    for snap in doc["snapshots"]:
        p = directory / snap["file"]
        if not p.is_file():
            gone.append(snap["file"])
            continue
        inst = snap.get("instance", doc.get("instance"))
        ts = snap["taken_at"]
        out.append(
            Source(
                p,
                str(inst or ""),
                ts,
                "manifest" if ts is not None else "",
                snap.get("round"),
                capped=bool(snap.get("capped", False)),
                kept_bytes=snap.get("bytes"),
                profile=str(snap.get("profile") or ""),
                debug=snap.get("debug"),
                declared_instance=inst is not None,
            )
        )
    if gone:
        note(
            notes,
            directory / MANIFEST,
            "missing-file",
            f"{len(gone)} file(s) the manifest lists are not there: {', '.join(gone[:3])}"
            + (" ..." if len(gone) > 3 else ""),
        )
    return out


def _is_dump_name(name: str) -> bool:
    return name not in _SKIP_NAMES and not name.startswith(".") and not name.endswith(_SKIP_SUFFIX)


def expand_paths(paths: str | Path | Source | Iterable[str | Path | Source]) -> list[Source]:
    """Expand files, globs and directories into sources, in the order given.

    Parameters
    ----------
    paths : str, Path, Source, or a list of them
        Files, globs, directories, ``bundled:NAME``; a :class:`Source` is taken as it is.

    Returns
    -------
    list of Source
        A directory expands to its files sorted by name (or its manifest's order); a
        directory whose sub-directories hold dumps is a fleet: one instance per
        sub-directory. Links are followed once: a link back up the tree is not walked
        again, and a file reached by two names is read once.

    Examples
    --------
    >>> [s.path.name for s in expand_paths("bundled:demo")]
    ['goroutines-debug2.txt']
    """
    return expand_sources(paths, [])


def expand_sources(paths, notes: list[dict]) -> list[Source]:
    """The input files that paths, directories, glob patterns and ``bundled:`` names stand for.

    Parameters
    ----------
    paths : str, Path, Source or a list of them
        Files, directories (walked; a manifest or times file in one is read),
        glob patterns, or ``bundled:NAME`` for a bundled dataset.
    notes : list of dict
        Warning rows, appended to in place (unreadable directories, link cycles, ...).

    Returns
    -------
    list of Source
        One per file, in order.

    Raises
    ------
    LoadError
        If a path does not exist or a pattern matches no file.

    Examples
    --------
    >>> notes = []
    >>> [s.path.name for s in expand_sources("bundled:demo", notes)], notes
    (['goroutines-debug2.txt'], [])
    """
    if isinstance(paths, (str, Path, Source)):
        paths = [paths]
    out: list[Source] = []
    for item in paths:
        if isinstance(item, Source):
            out.append(item)
            continue
        s = str(item)
        p = bundled_path(s[len("bundled:") :]) if s.startswith("bundled:") else Path(s)
        if p.is_dir():
            out.extend(_walk(p, notes))
        elif p.exists():
            out.append(Source(p))
        elif any(c in s for c in "*?["):
            matches = sorted(_glob.glob(s, recursive=True))
            if not matches:
                raise LoadError(f"{display_name(s)}: no file matches this pattern")
            out.extend(Source(Path(m)) for m in matches if Path(m).is_file())
        else:
            raise LoadError(f"{display_name(s)}: no such file or directory")
    return out


DATA = Path(__file__).resolve().parent.parent / "data"


def bundled_path(name: str) -> Path:
    """Where a bundled example series lives (``bundled:NAME`` on the command line).

    Parameters
    ----------
    name : str
        A bundled series' name (``demo``, ``checkout`` ...).

    Returns
    -------
    Path
        Its directory inside the package.

    Examples
    --------
    >>> bundled_path("demo").name
    'demo'
    """
    p = DATA / name
    if not name or not p.exists():
        have = (
            ", ".join(sorted(x.name for x in DATA.iterdir() if x.is_dir())) if DATA.exists() else ""
        )
        raise LoadError(f"bundled:{name}: no such bundled dataset (have: {have})")
    return p


def _walk(root: Path, notes: list[dict]) -> list[Source]:
    """A directory's dumps, depth first in name order, without recursion or link cycles.

    A directory holding a manifest is read through it (and not walked further); one
    holding a times file takes its files' times from it. Sub-directories are instances
    named by their path below ``root``.
    """
    out: list[Source] = []
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], Path] = {}
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        d, instance = stack.pop()
        try:
            st = d.stat()
        except OSError as e:
            note(notes, d, "unreadable", f"directory not read: {e.strerror or e}")
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            note(notes, d, "link-cycle", "a link back to a directory already read: not read again")
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        if (d / MANIFEST).is_file():
            for s in _read_manifest(d, notes):
                # in a fleet tree the directory names the process (two captures may carry the
                # same manifest instance, e.g. one port-forward address); alone, the manifest does
                s.instance = instance or s.instance
                s.declared_instance = s.declared_instance or bool(instance)
                out.append(s)
            continue
        files, subdirs = _list_dir(d, notes)
        here = []
        for p in files:
            key = _file_key(p)
            if key in seen_files:
                note(
                    notes,
                    p,
                    "duplicate",
                    f"the same file as {display_name(seen_files[key])}: read once",
                )
                continue
            seen_files[key] = p
            here.append(Source(p, instance, declared_instance=bool(instance)))
        _apply_times_file(d, here, notes)
        out.extend(here)
        for sd in reversed(subdirs):
            stack.append((sd, f"{instance}/{sd.name}" if instance else sd.name))
    return out


def _list_dir(d: Path, notes: list[dict]) -> tuple[list[Path], list[Path]]:
    files, subdirs = [], []
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError as e:
        note(notes, d, "unreadable", f"directory not read: {e.strerror or e}")
        return [], []
    for e in entries:
        try:
            if e.is_dir():
                if not e.name.startswith("."):
                    subdirs.append(Path(e.path))
            elif e.is_file() and _is_dump_name(e.name) and e.name not in TIMES_FILES:
                files.append(Path(e.path))
        except OSError:  # a dangling link or a permission problem: not a dump we can read
            continue
    return files, subdirs


def _file_key(p: Path) -> tuple[int, int]:
    try:
        st = p.stat()
    except OSError:
        return (-1, id(p))
    return (st.st_dev, st.st_ino)


def _apply_times_file(d: Path, sources: list[Source], notes: list[dict]) -> None:
    found = [d / n for n in TIMES_FILES if (d / n).is_file()]
    if not found or not sources:
        return
    apply_times(read_times(found[0]), found[0], sources, notes)


def apply_times(
    times: Mapping[str, pd.Timestamp],
    where: Path,
    sources: list[Source],
    notes: list[dict],
    given: bool = False,
) -> None:
    """Times from a times file onto the sources it names (by path relative to it, or by name).

    One found beside the dumps yields to a manifest; one the caller gives wins over it.

    Parameters
    ----------
    times : mapping of str to pandas.Timestamp
        File (path relative to the times file, full path, or name) -> when it was taken.
    where : Path
        The times file.
    sources : list of Source
        The sources; their ``taken_at`` and ``time_source`` are set in place.
    notes : list of dict
        Warning rows, appended to in place (files missing from the times file, and
        names in it that were not loaded).
    given : bool, default False
        The caller gave the times file: it wins over a manifest's times.

    Returns
    -------
    None

    Examples
    --------
    >>> import pandas as pd
    >>> src = [Source(Path("/d/a.txt")), Source(Path("/d/b.txt"))]
    >>> notes = []
    >>> apply_times({"a.txt": pd.Timestamp("2024-05-01 12:00", tz="UTC")},
    ...             Path("/d/times.csv"), src, notes)
    >>> str(src[0].taken_at), src[0].time_source, src[1].taken_at
    ('2024-05-01 12:00:00+00:00', 'times file', None)
    >>> notes[0]["message"]
    '1 file(s) not in the times file: their times come from elsewhere'
    """
    base = where.parent
    unused = set(times)
    missing = 0
    for s in sources:
        if s.time_source == "given" or (s.time_source == "manifest" and not given):
            continue
        try:
            rel = os.path.relpath(s.path, base)
        except ValueError:
            rel = ""
        key = next((k for k in (rel, str(s.path), s.path.name) if k in times), None)
        if key is None:
            missing += 1
            continue
        unused.discard(key)
        s.taken_at, s.time_source = times[key], "times file"
    if missing:
        note(
            notes,
            where,
            "times",
            f"{missing} file(s) not in the times file: their times come from elsewhere",
        )
    if unused:
        note(
            notes,
            where,
            "times",
            f"{len(unused)} file(s) in the times file were not loaded: "
            + ", ".join(sorted(unused)[:3]),
        )


def time_from_name(name: str) -> pd.Timestamp | None:
    """When a dump was taken, read from its file name (an ISO-like date and time, or Unix seconds).

    Parameters
    ----------
    name : str
        A file name.

    Returns
    -------
    pandas.Timestamp or None
        The time in UTC (a name without an offset is read as UTC), or None where the
        name holds none.

    Examples
    --------
    >>> time_from_name("goroutines-2024-05-01T12-30-00Z.txt")
    Timestamp('2024-05-01 12:30:00+0000', tz='UTC')
    >>> time_from_name("dump-1714566600.txt")
    Timestamp('2024-05-01 12:30:00+0000', tz='UTC')
    >>> time_from_name("dump.txt") is None
    True
    """
    for rx, kind in _NAME_TIME:
        m = rx.search(name)
        if not m:
            continue
        try:
            if kind == "iso":
                y, mo, d, h, mi, s, frac, tz = m.groups()
                ts = pd.Timestamp(f"{y}-{mo}-{d}T{h}:{mi}:{s}" + (f".{frac}" if frac else ""))
                if tz and tz != "Z":
                    ts = ts.tz_localize(tz.replace(":", "")[:3] + ":" + tz.replace(":", "")[3:])
                return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            sec, frac = m.groups()
            return pd.Timestamp(float(f"{sec}.{frac or 0}"), unit="s", tz="UTC")
        except (ValueError, OverflowError):
            continue
    return None
