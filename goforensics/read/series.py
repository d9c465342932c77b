"""Load many dumps as one series: files, globs, directories, capture manifests, fleets.

A series is one :class:`~goforensics.model.Dumps` whose snapshots are numbered in
capture order. Capture times come, in order of trust, from what the caller gives,
a ``manifest.json`` written by ``goforensics capture``, a times file (``times.tsv``
beside the dumps, or ``times=``), the content itself (a profile's ``time_nanos``,
test2json or log timestamps), the file name (``goroutines-20261130T032131Z.txt``,
``1764472891.txt``) or the file's mtime; the ``time_source`` column says which.
Side files are checked against a schema first (:mod:`goforensics.read.sidefiles`).

Directories are walked without recursion; a link back up the tree is not followed
again and a file reached by two names is read once (both are warnings); file names
that are not UTF-8 are shown with ``\\xNN`` escapes in the tables.

Dumps of several processes load together, kept apart by the ``instance`` column:
from the manifest, from sub-directories (``fleet/host-a/*.txt``), or given.

>>> import goforensics as gf
>>> d = gf.load([])
Traceback (most recent call last):
...
goforensics.errors.LoadError: no input: give files, globs or directories
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LoadError
from ..goruntime import classify_frames
from ..model import WARNING_COLUMNS, Dumps, _conform
from .assemble import assemble_rounds, form_of, round_key, split_processes
from .columns import Pieces, build_tables
from .inputs import (
    DATA,
    MANIFEST,
    Source,
    apply_times,
    bundled_path,
    display_name,
    expand_paths,
    expand_sources,
    read_manifest,
    time_from_name,
)
from .parse import parse_pieces
from .sidefiles import read_times

__all__ = [
    "DATA",
    "MANIFEST",
    "Source",
    "bundled_path",
    "display_name",
    "expand_paths",
    "load",
    "read_manifest",
    "series_notes",
]


def _parse_one(args: tuple[str, str, bool]) -> Pieces:
    path, source, fast = args
    # light columns: the tables are built once for the series, its frames classified once
    return parse_pieces(path, source=source, fast=fast)


def load(
    paths: str | Path | Source | Iterable[str | Path | Source],
    *,
    order: str = "time",
    instance: str | Mapping[str, str] | None = None,
    taken_at: Iterable | Mapping[str, object] | None = None,
    times: str | Path | None = None,
    app_modules: Iterable[str] = (),
    fast: bool = True,
    workers: int = 1,
    scheduler: str | object | None = None,
    progress: bool = False,
) -> Dumps:
    """Load dumps into one :class:`~goforensics.model.Dumps`, snapshots numbered in capture order.

    Parameters
    ----------
    paths : file, glob, directory, or a list of them.
    order : ``"time"`` sorts snapshots by capture time (ties keep the given order);
        ``"given"`` numbers them in the order the paths are given.
    instance : one instance name for all, or a mapping ``{path: instance}``.
    taken_at : capture times, one per path in order, or ``{path: time}``; these win
        over every other source of time.
    times : a times file (``FILE<TAB>TIME`` lines, see
        :func:`goforensics.read.sidefiles.read_times`) for the files it names; its times win
        over a manifest's (``taken_at`` wins over it).
    app_modules : import-path prefixes of the application (overriding inference).
    fast : use the vectorised reader where the input allows (the reference reader
        otherwise; both give the same tables).
    workers : parse files in this many local processes.
    scheduler : hand the parsing of the files to Dask instead (a fleet's thousands of
        dumps): ``"dask"`` for Dask's current scheduler (a ``dask.distributed`` Client
        if one is active), ``"processes"`` / ``"threads"`` for a local one, or a Client.
        Needs the ``fleet`` extra (``pip install 'goforensics[fleet]'``).
    progress : a bar over the files on stderr.

    Returns
    -------
    Dumps
        The four tables: ``goroutines``, ``frames``, ``snapshots`` (one row per snapshot, with
        ``source``, ``taken_at`` and ``time_source``) and ``warnings``.

    Examples
    --------
    >>> import goforensics as gf, tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "a-20261130T030000Z.txt").write_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
    >>> _ = (tmp / "b-20261130T020000Z.txt").write_text("goroutine 1 [sleep]:\\nmain.main()\\n\\t/m.go:4 +0x1\\n")
    >>> gf.load(tmp).snapshots[["snapshot", "source", "time_source"]].values.tolist()[0][2]
    'filename'
    """
    notes: list[dict] = []
    paths = [paths] if isinstance(paths, (str, Path, Source)) else list(paths)
    sources = expand_sources(paths, notes)
    if not sources:
        dirs = [p for p in paths if isinstance(p, (str, Path)) and Path(p).is_dir()]
        if dirs:
            raise LoadError(f"{display_name(dirs[0])}: no dump file in this directory")
        raise LoadError("no input: give files, globs or directories")
    _apply_given(sources, instance, taken_at)
    if times is not None:
        apply_times(read_times(times), Path(times), sources, notes, given=True)
    for s in sources:
        if s.taken_at is None:
            t = time_from_name(s.path.name)
            if t is not None:
                s.taken_at, s.time_source = t, "filename"

    jobs = [(str(s.path), s.name or display_name(s.path), fast) for s in sources]
    it: Iterable[Pieces]
    if scheduler is not None:
        it = _parse_with_dask(jobs, scheduler)
        pool = None
    elif workers > 1 and len(jobs) > 1:
        pool = ProcessPoolExecutor(max_workers=workers)
        it = pool.map(_parse_one, jobs)
    else:  # in order, in this process: what a file teaches the fast path serves the next
        pool = None
        carry: list = []
        it = (parse_pieces(p, source=s, fast=f, carry=carry) for p, s, f in jobs)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(jobs), unit="file", desc="parsing")
    try:
        parts = list(it)
    finally:
        if pool is not None:
            pool.shutdown()

    for src, p in zip(sources, parts, strict=True):
        _stamp(p, src)
    groups = _round_groups(sources, parts)
    series = build_tables(parts)  # snapshots numbered by file, in the order given
    notes += assemble_rounds(series, groups)
    _order(series, order)
    declared = {}
    for src in sources:
        declared[src.instance] = declared.get(src.instance, False) or src.declared_instance
    notes += split_processes(series, declared)
    if len(series.frames):
        series.frames["frame_class"] = classify_frames(series.frames, tuple(app_modules))
    if notes:
        w = pd.concat([series.warnings, pd.DataFrame(notes)], ignore_index=True)
        series.warnings = _conform(w, WARNING_COLUMNS)
    return series


_TIME_WORDS = {
    "manifest": "the capture manifest",
    "times file": "a times file",
    "given": "the times given",
    "content": "the dumps' content",
    "filename": "the file names",
    "mtime": "file modification times (the order may be wrong: give --times FILE)",
}


def series_notes(d: Dumps) -> list[str]:
    """What a reader of a loaded series should know of how it was put together.

    Parameters
    ----------
    d : Dumps
        What :func:`load` returned.

    Returns
    -------
    list of str
        Where the capture times came from, and how files of one round were assembled
        into one snapshot (forms, corroborating files, ``(leaked)`` verdicts joined).

    Examples
    --------
    >>> series_notes(load("bundled:checkout"))
    ['capture times from the capture manifest']
    """
    s = d.snapshots
    if not len(s):
        return []
    used = s["time_source"].astype(str).value_counts()
    words = [_TIME_WORDS.get(k, k or "nowhere") for k in used.index]
    if list(used.index) == [""]:  # no times at all: worth saying only where order matters
        lines = [] if len(s) == 1 else ["no capture times: snapshots in the order given"]
    elif list(used.index) == ["mtime"] and len(s) == 1:  # one snapshot: no order to get wrong
        lines = ["capture time from the file's modification time"]
    elif len(used) == 1:
        lines = [f"capture times from {words[0]}"]
    else:
        lines = [
            "capture times from "
            + ", ".join(f"{w} ({n})" for w, n in zip(words, used, strict=True))
        ]
    if "forms" in s and s["forms"].astype(str).str.contains(" + ", regex=False).any():
        many = s[s["forms"].astype(str).str.contains(" + ", regex=False)]
        files = len(s) + sum(len(str(c).splitlines()) for c in many["corroborated_by"])
        forms = many["forms"].astype(str).str.split(" + ", regex=False)
        main = sorted({f[0] for f in forms})
        others = sorted({x for f in forms for x in f[1:]})
        joined = int(pd.to_numeric(s["verdicts_joined"], errors="coerce").fillna(0).sum())
        lines.append(
            f"{files} file(s) read as {len(s)} snapshot(s): {len(many)} round(s) of several forms, "
            f"goroutines from {', '.join(main)}, corroborated by {', '.join(others)}"
            + (f"; {joined:,} (leaked) verdict(s) joined from the leak profile" if joined else "")
        )
    return lines


def _parse_with_dask(jobs: list[tuple[str, str, bool]], scheduler) -> list[Pieces]:
    """Parse files as a Dask bag, one file per partition (files are the unit of work)."""
    try:
        import dask.bag as db
    except ImportError:
        raise LoadError("scheduler needs Dask: pip install 'goforensics[fleet]'") from None
    bag = db.from_sequence(jobs, npartitions=max(len(jobs), 1)).map(_parse_one)
    return bag.compute(scheduler=None if scheduler == "dask" else scheduler)


def _apply_given(sources: list[Source], instance, taken_at) -> None:
    if isinstance(instance, str):
        for s in sources:
            s.instance, s.declared_instance = instance, True
    elif isinstance(instance, Mapping):
        for s in sources:
            got = instance.get(str(s.path), instance.get(s.path.name))
            if got is not None:
                s.instance, s.declared_instance = str(got), True
    if taken_at is None:
        return
    if isinstance(taken_at, Mapping):
        times = [taken_at.get(str(s.path), taken_at.get(s.path.name)) for s in sources]
    else:
        times = list(taken_at)
        if len(times) != len(sources):
            raise LoadError(f"taken_at has {len(times)} times for {len(sources)} files")
    for s, t in zip(sources, times, strict=True):
        if t is not None:
            try:
                ts = pd.Timestamp(t)
            except (ValueError, TypeError) as e:
                raise LoadError(f"taken_at: {t!r} is not a time ({e})") from None
            s.taken_at = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            s.time_source = "given"


_TRUSTED_TIMES = ("given", "manifest", "times file")  # win over the content's own times


def _stamp(p: Pieces, src: Source) -> None:
    """Give a parsed file its source facts; keep content times where nothing better is known."""
    mtime = None
    for part in p.parts:
        if src.time_source in _TRUSTED_TIMES:
            part["taken_at"], part["time_source"] = src.taken_at, src.time_source
            continue
        # the content's own times first, then the file name's, then the file's mtime
        if pd.notna(part["taken_at"]):
            part["time_source"] = "content"
        elif src.taken_at is not None:
            part["taken_at"], part["time_source"] = src.taken_at, src.time_source
        else:
            if mtime is None:
                mtime = pd.Timestamp(os.path.getmtime(src.path), unit="s", tz="UTC")
            part["taken_at"], part["time_source"] = mtime, "mtime"
    p.instance, p.round = src.instance, src.round
    if src.capped:
        _mark_capped(p, src)


def _mark_capped(p: Pieces, src: Source) -> None:
    """The capture cut this file at its size limit: its last dump is truncated, whatever the text
    looks like (a cut that lands between two goroutines leaves text that reads as complete)."""
    if not p.parts:
        return
    last = p.parts[-1]
    last["truncated"] = True
    rows = np.flatnonzero(np.asarray(p.cols["part"]) == last["part"])
    if len(rows) and not _ends_between_goroutines(src.path):
        p.cols["truncated"][rows[-1]] = True  # its stack may have lost its outer frames
    kept = f" after {src.kept_bytes:,} bytes" if isinstance(src.kept_bytes, int) else ""
    message = (
        f"the capture cut this dump at its size limit{kept} (capped in "
        "its manifest): goroutines after the cut are missing"
    )
    p.warnings.append((last["part"], last["line_end"], 0, "truncated", message))


def _ends_between_goroutines(path: Path) -> bool:
    """Does a (plain text) file end with a blank line, i.e. after a complete goroutine?"""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(os.path.getsize(path) - 2, 0))
            return fh.read(2) == b"\n\n"
    except OSError:
        return False


def _round_groups(sources: list[Source], parts: list[Pieces]) -> pd.DataFrame:
    """Which snapshots were taken together: a manifest's round, or a name that differs only by
    the form (``dump-0003.txt`` beside ``dump-0003.pb.gz``) with times that agree.

    Snapshots are numbered as the series numbers them: file by file, in the order given."""
    rows = []
    offset = 0
    for src, p in zip(sources, parts, strict=True):
        key = None
        if len(p.parts) != 1:
            pass  # a file of several dumps is a series of its own, not one form of a round
        elif src.round is not None:
            key = ("round", src.instance, src.round)
        else:
            stem = round_key(src.path.name)
            if stem:  # a name made only of form words says nothing of when it was taken
                key = ("name", src.instance, str(src.path.parent), stem)
        for part in p.parts:
            rows.append(
                {
                    "snapshot": offset + int(part["part"]),
                    "group": key,
                    "profile": form_of(src.profile, src.path.name, str(part["kind"])),
                    "taken_at": part["taken_at"],
                    "dated": part["time_source"] not in ("mtime", ""),
                }
            )
        offset += len(p.parts)
    groups = pd.DataFrame(rows, columns=["snapshot", "group", "profile", "taken_at", "dated"])
    # files saved side by side with one stem but taken apart in time are not one round
    named = groups["group"].map(lambda k: k is not None and k[0] == "name")
    for key, g in groups[named & groups["dated"]].groupby("group"):
        if g["taken_at"].max() - g["taken_at"].min() > _SAME_ROUND:
            groups.loc[groups["group"] == key, "group"] = None
    return groups[["snapshot", "group", "profile"]]


_SAME_ROUND = pd.Timedelta(minutes=1)


def _order(series: Dumps, order: str) -> None:
    """Renumber the snapshots 0..n-1 in capture time (``"time"``) or given order."""
    if order not in ("time", "given"):
        raise LoadError(f"order must be 'time' or 'given', not {order!r}")
    s = series.snapshots
    if not len(s):
        return
    if order == "time":  # ties (and unknown times) keep the given order
        s = s.sort_values(["taken_at", "snapshot"], kind="stable", na_position="last")
    given = s["snapshot"].to_numpy()
    new = np.full(int(given.max()) + 1, -1, dtype=np.int32)  # given number -> number in the series
    new[given] = np.arange(len(s), dtype=np.int32)
    s = s.reset_index(drop=True)
    s["snapshot"] = np.arange(len(s), dtype=np.int32)
    series.snapshots = s
    g = series.goroutines
    if len(g):
        g["snapshot"] = new[g["snapshot"].to_numpy()]
        g = g.iloc[np.argsort(g["snapshot"].to_numpy(), kind="stable")].reset_index(drop=True)
    series.goroutines = g
    w = series.warnings
    if len(w):
        known = w["snapshot"].notna().to_numpy()
        snap = pd.array([pd.NA] * len(w), dtype="Int32")
        snap[known] = new[w.loc[known, "snapshot"].astype("int64").to_numpy()]
        w["snapshot"] = snap
