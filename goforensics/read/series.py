"""Load many dumps as one series: files, globs, directories, capture manifests, fleets.

A series is one :class:`~goforensics.model.Dumps` whose snapshots are numbered in
capture order. Capture times come, in order of trust, from what the caller gives,
a ``manifest.json`` written by ``goforensics capture``, the content itself (a
profile's ``time_nanos``, test2json or log timestamps), the file name
(``goroutines-20261130T032131Z.txt``, ``1764472891.txt``) or the file's mtime.

Dumps of several processes load together, kept apart by the ``instance`` column:
from the manifest, from sub-directories (``fleet/host-a/*.txt``), or given.

>>> import goforensics as gf
>>> d = gf.load([])
Traceback (most recent call last):
...
goforensics.errors.LoadError: no input: give files, globs or directories
"""

from __future__ import annotations

import glob as _glob
import json
import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LoadError
from ..goruntime import classify_frames
from ..model import Dumps
from .parse import parse_file

__all__ = ["MANIFEST", "Source", "bundled_path", "expand_paths", "load", "read_manifest"]

MANIFEST = "manifest.json"
_SKIP_NAMES = {MANIFEST, "INDEX.tsv", "truth.csv", "truth.csv.gz", "truth.parquet", "README.md"}
_SKIP_SUFFIX = (".json", ".csv", ".parquet", ".md", ".tsv", ".py", ".go", ".mod", ".sum", ".html", ".png", ".go.txt")
_NAME_TIME = [
    (re.compile(r"(\d{4})-?(\d\d)-?(\d\d)[T_-]?(\d\d)[:-]?(\d\d)[:-]?(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?"), "iso"),
    (re.compile(r"(?<!\d)(1[5-9]\d{8}|2\d{9})(?:\.(\d+))?(?!\d)"), "epoch"),
]


@dataclass
class Source:
    """One input file and what is known about it before parsing."""

    path: Path
    instance: str = ""
    taken_at: pd.Timestamp | None = None
    time_source: str = ""
    round: int | None = None
    name: str = ""  # what the tables call it (its ``source``); the path where empty


def read_manifest(directory: str | Path) -> list[Source]:
    """Sources listed in a capture manifest (``manifest.json``), in capture order.

    The manifest is a JSON object ``{"instance": str, "snapshots": [{"file": str,
    "taken_at": ISO-8601, "round": int, "instance"?: str, ...}, ...]}``; files are
    relative to it. ``goforensics capture`` adds the URL, profile, debug level,
    status, bytes and whether the body was capped to each snapshot, and ``extras``
    (other endpoints, not dumps); the full schema is in :mod:`goforensics.read.capture`.
    Snapshots whose file is missing are left out.
    """
    directory = Path(directory)
    try:
        doc = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LoadError(f"{directory / MANIFEST}: unreadable manifest: {e}") from None
    out = []
    for snap in doc.get("snapshots", []):
        if not isinstance(snap, dict) or "file" not in snap:
            continue
        p = directory / snap["file"]
        if not p.exists():
            continue
        ts = pd.Timestamp(snap["taken_at"]) if snap.get("taken_at") else None
        if ts is not None and ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        out.append(Source(p, str(snap.get("instance", doc.get("instance", "")) or ""), ts,
                          "manifest" if ts is not None else "", snap.get("round")))
    return out


def _is_dump_file(p: Path) -> bool:
    return p.is_file() and p.name not in _SKIP_NAMES and not p.name.startswith(".") and not (
        p.name.endswith(_SKIP_SUFFIX)
    )


def expand_paths(paths: str | Path | Source | Iterable[str | Path | Source]) -> list[Source]:
    """Expand files, globs and directories into sources, in the order given.

    A directory expands to its files sorted by name (or its manifest's order); a
    directory whose sub-directories hold dumps is a fleet: one instance per
    sub-directory. A :class:`Source` is taken as it is.
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
            out.extend(_expand_dir(p, ""))
        elif p.exists():
            out.append(Source(p))
        elif any(c in s for c in "*?["):
            matches = sorted(_glob.glob(s, recursive=True))
            if not matches:
                raise LoadError(f"{s}: no file matches this pattern")
            out.extend(Source(Path(m)) for m in matches if Path(m).is_file())
        else:
            raise LoadError(f"{s}: no such file or directory")
    return out


DATA = Path(__file__).resolve().parent.parent / "data"


def bundled_path(name: str) -> Path:
    """Where a bundled example series lives (``bundled:NAME`` on the command line).

    >>> bundled_path("demo").name
    'demo'
    """
    p = DATA / name
    if not name or not p.exists():
        have = ", ".join(sorted(x.name for x in DATA.iterdir() if x.is_dir())) if DATA.exists() else ""
        raise LoadError(f"bundled:{name}: no such bundled dataset (have: {have})")
    return p


def _expand_dir(d: Path, instance: str) -> list[Source]:
    if (d / MANIFEST).exists():
        srcs = read_manifest(d)
        for s in srcs:
            # in a fleet tree the directory names the process (two captures may carry the
            # same manifest instance, e.g. one port-forward address); alone, the manifest does
            s.instance = instance or s.instance
        return srcs
    files = sorted(p for p in d.iterdir() if _is_dump_file(p))
    subdirs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    out = [Source(p, instance) for p in files]
    for sd in subdirs:
        out.extend(_expand_dir(sd, f"{instance}/{sd.name}" if instance else sd.name))
    return out


def _time_from_name(name: str) -> pd.Timestamp | None:
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


def _parse_one(args: tuple[str, str, bool]) -> Dumps:
    path, source, fast = args
    return parse_file(path, source=source, fast=fast, classify=False)  # load classifies the series once


def load(
    paths: str | Path | Source | Iterable[str | Path | Source],
    *,
    order: str = "time",
    instance: str | Mapping[str, str] | None = None,
    taken_at: Iterable | Mapping[str, object] | None = None,
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
    app_modules : import-path prefixes of the application (overriding inference).
    workers : parse files in this many local processes.
    scheduler : hand the parsing of the files to Dask instead (a fleet's thousands of
        dumps): ``"dask"`` for Dask's current scheduler (a ``dask.distributed`` Client
        if one is active), ``"processes"`` / ``"threads"`` for a local one, or a Client.
        Needs the ``fleet`` extra (``pip install 'goforensics[fleet]'``).

    >>> import goforensics as gf, tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "a-20261130T030000Z.txt").write_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
    >>> _ = (tmp / "b-20261130T020000Z.txt").write_text("goroutine 1 [sleep]:\\nmain.main()\\n\\t/m.go:4 +0x1\\n")
    >>> gf.load(tmp).snapshots[["snapshot", "source", "time_source"]].values.tolist()[0][2]
    'filename'
    """
    sources = expand_paths(paths)
    if not sources:
        raise LoadError("no input: give files, globs or directories")
    _apply_given(sources, instance, taken_at)
    for s in sources:
        if s.taken_at is None:
            t = _time_from_name(s.path.name)
            if t is not None:
                s.taken_at, s.time_source = t, "filename"

    jobs = [(str(s.path), s.name or str(s.path), fast) for s in sources]
    it: Iterable[Dumps]
    if scheduler is not None:
        it = _parse_with_dask(jobs, scheduler)
        pool = None
    elif workers > 1 and len(jobs) > 1:
        pool = ProcessPoolExecutor(max_workers=workers)
        it = pool.map(_parse_one, jobs)
    else:
        pool = None
        it = map(_parse_one, jobs)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(jobs), unit="file", desc="parsing")
    try:
        parts = list(it)
    finally:
        if pool is not None:
            pool.shutdown()

    for k, (src, d) in enumerate(zip(sources, parts, strict=True)):
        _stamp(d, src, k)
    series = Dumps.concat(parts)
    _order(series, order)
    _pair_truncated(series, sources)
    if len(series.frames):
        series.frames["frame_class"] = classify_frames(series.frames, tuple(app_modules))
    return series


def _parse_with_dask(jobs: list[tuple[str, str, bool]], scheduler) -> list[Dumps]:
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
            s.instance = instance
    elif isinstance(instance, Mapping):
        for s in sources:
            s.instance = str(instance.get(str(s.path), instance.get(s.path.name, s.instance)))
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
            ts = pd.Timestamp(t)
            s.taken_at = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            s.time_source = "given"


def _stamp(d: Dumps, src: Source, k: int) -> None:
    """Give a parsed file its source facts; keep content times where nothing better is known."""
    snaps = d.snapshots
    mtime = pd.Timestamp(os.path.getmtime(src.path), unit="s", tz="UTC")
    content = snaps["taken_at"]
    if src.time_source in ("given", "manifest"):
        times = pd.Series([src.taken_at] * len(snaps), dtype="datetime64[ns, UTC]")
        how = [src.time_source] * len(snaps)
    else:
        fallback, fb_how = (src.taken_at, "filename") if src.taken_at is not None else (mtime, "mtime")
        times = content.where(content.notna(), fallback)
        how = ["content" if pd.notna(c) else fb_how for c in content]
    snaps["taken_at"] = times.to_numpy()
    snaps["time_source"] = pd.Categorical(how)
    snaps["instance"] = pd.Categorical([src.instance] * len(snaps))
    snaps["file_index"] = k
    snaps["round"] = src.round
    g = d.goroutines
    g["_file"] = k
    d.warnings["_file"] = k
    g["instance"] = pd.Categorical([src.instance] * len(g))
    if len(snaps):
        g["taken_at"] = snaps["taken_at"].to_numpy()[g["snapshot"].to_numpy()]


def _order(series: Dumps, order: str) -> None:
    s = series.snapshots
    if not len(s):
        return
    if order not in ("time", "given"):
        raise ValueError(f"order must be 'time' or 'given', not {order!r}")
    s["_given"] = np.arange(len(s))
    if order == "time":
        s = s.sort_values(["taken_at", "_given"], kind="stable", na_position="last")
    # old (file, part) -> new snapshot number
    key_old = list(zip(s["file_index"], s["part"], strict=True))  # (file, part) identifies a snapshot
    new = dict(zip(key_old, range(len(s)), strict=True))
    g = series.goroutines
    if len(g):  # (with no goroutine at all, the concatenated table has only the catalogue's columns)
        # goroutines still carry their per-file part number in 'snapshot' and their file in _file
        gkey = zip(g["_file"], g["snapshot"], strict=True)
        g["snapshot"] = np.fromiter((new[k] for k in gkey), dtype=np.int32, count=len(g))
    g = g.drop(columns=["_file"], errors="ignore")
    s = s.drop(columns=["_given"])
    s["snapshot"] = np.arange(len(s), dtype=np.int32)
    series.snapshots = s.drop(columns=["file_index"]).reset_index(drop=True)
    w = series.warnings
    if len(w) and "_file" in w:
        w["snapshot"] = [
            new.get((f, p)) if pd.notna(p) else None for f, p in zip(w["_file"], w["snapshot"], strict=True)
        ]
        w["snapshot"] = w["snapshot"].astype("Int32")
        series.warnings = w.drop(columns=["_file"])
    order_idx = np.argsort(g["snapshot"].to_numpy(), kind="stable")
    series.goroutines = g.iloc[order_idx].reset_index(drop=True)


def _pair_truncated(series: Dumps, sources: list[Source]) -> None:
    """A truncated debug=2 dump beside a profile of the same instance and round: say what is missing."""
    s = series.snapshots
    if not len(s) or not s["truncated"].any():
        return
    for i in s.index[s["truncated"] & (s["format"] == "debug=2")]:
        r = s.loc[i]
        same = s[(s["instance"] == r["instance"]) & (s["format"] != "debug=2") & s["declared_total"].notna()]
        if r["round"] is not None and not pd.isna(r["round"]):
            same = same[same["round"] == r["round"]]
        else:
            same = same[(same["taken_at"] - r["taken_at"]).abs() <= pd.Timedelta(minutes=1)]
        if len(same):
            total = int(same["declared_total"].iloc[0])
            s.loc[i, "missing"] = max(total - int(r["goroutines"]), 0)
