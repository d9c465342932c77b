"""Load a fleet where its files are: one partition per instance, parsed on Dask workers.

A fleet is the dumps of many processes: a folder (or an object-storage prefix) whose
sub-folders are instances, each a ``capture``/``watch`` series with its ``manifest.json``
or a plain folder of dumps. :func:`discover` lists it on the client without reading a
dump (fsspec: local paths, ``file://``, ``memory://``, ``s3://`` ... whatever fsspec
has a filesystem for). :func:`load_instance` then runs where the files are (a Dask
worker, or this process): it reads one instance's files through fsspec and assembles
them with :func:`goforensics.load`, so one instance loads exactly as ``gf.load`` of its
folder would. The tables stay per instance: :func:`write_partition` adds them to a
Parquet dataset partitioned by instance (hive style, ``goroutines/instance=host-a/...``)
that pandas, Dask and :func:`read_instance` read back.

A file that cannot be read at all is a warning with its path (``kind`` "unreadable"
in the instance's warnings table), never the loss of its instance.

>>> import fsspec, gzip
>>> fs = fsspec.filesystem("memory")
>>> dump = b"goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n"
>>> fs.pipe({"/doc/fleet/host-a/1.txt": dump, "/doc/fleet/host-b/1.txt.gz": gzip.compress(dump)})
>>> [(i.name, i.n_files) for i in discover("memory://doc/fleet")]
[('host-a', 1), ('host-b', 1)]
>>> p = load_instance(discover("memory://doc/fleet")[1])
>>> p.dumps.goroutines[["instance", "source", "state"]].values.tolist()
[['host-b', 'memory:///doc/fleet/host-b/1.txt.gz', 'chan receive']]
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from fsspec.implementations.local import LocalFileSystem

from ..errors import GoforensicsError, LoadError
from ..model import Dumps
from .series import MANIFEST, Source, bundled_path, load, read_manifest

__all__ = [
    "TABLES",
    "FleetDir",
    "Instance",
    "Partition",
    "dataset_instances",
    "discover",
    "load_instance",
    "read_instance",
    "write_partition",
]

TABLES = ("goroutines", "frames", "snapshots", "warnings")
# side files of a capture or a dataset folder, never dumps (as a directory load skips them)
_NOT_DUMPS = (
    ".json",
    ".csv",
    ".csv.gz",
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
_GLOB = "*?["


@dataclass(frozen=True)
class FleetDir:
    """One folder's share of an instance: its URL, its files (names relative to it), and
    whether a ``manifest.json`` orders them."""

    url: str
    files: tuple[str, ...]
    manifest: bool = False
    mtimes: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class Instance:
    """One process of the fleet: its name (``""`` when the input names none) and its folders."""

    name: str
    dirs: tuple[FleetDir, ...]
    storage_options: tuple = ()

    @property
    def n_files(self) -> int:
        """Dump files (the manifest not counted)."""
        return sum(len([f for f in d.files if f != MANIFEST]) for d in self.dirs)


@dataclass
class Partition:
    """One instance loaded: its tables and the files that could not be read."""

    name: str
    dumps: Dumps
    files: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def _is_dump_name(name: str) -> bool:
    base = posixpath.basename(name)
    return not base.startswith(".") and base != "INDEX.tsv" and not base.endswith(_NOT_DUMPS)


def _mtime(info: dict) -> float | None:
    """Modification time of a listed file, however the filesystem spells it."""
    for k in ("mtime", "LastModified", "last_modified", "updated", "created"):
        v = info.get(k)
        if v is None:
            continue
        try:
            return float(v) if not hasattr(v, "timestamp") else float(v.timestamp())
        except (TypeError, ValueError):
            try:
                return pd.Timestamp(v).timestamp()
            except (TypeError, ValueError):
                continue
    return None


def _listing(fs, root: str) -> dict[str, dict]:
    """Every file under ``root`` (or matching the glob ``root``), path -> info."""
    if any(c in root for c in _GLOB):
        found = {p: fs.info(p) for p in sorted(fs.glob(root))}
        found = {p: i for p, i in found.items() if i.get("type") == "file"}
        if not found:
            raise LoadError(f"{root}: no file matches this pattern")
        return found
    if not fs.exists(root):
        raise LoadError(f"{root}: no such file or directory")
    if fs.isfile(root):
        return {root: fs.info(root)}
    return dict(sorted(_find(fs, root).items()))


def _find(fs, root: str) -> dict[str, dict]:
    """The files below ``root``: a walk without recursion (a tree can be deeper than Python's
    stack), that reads a folder once (a link back to a folder already read is no cycle) and
    skips hidden ones (.git, .cache ...: no instance, as a directory load skips them)."""
    local = "file" in _protocols(fs)
    out: dict[str, dict] = {}
    seen: set[str] = set()
    stack = [root.rstrip("/") or root]
    while stack:
        d = stack.pop()
        key = os.path.realpath(d) if local else d
        if key in seen:
            continue
        seen.add(key)
        try:
            entries = fs.ls(d, detail=True)
        except (OSError, ValueError):  # unreadable: its files are not listed, the others are
            continue
        for info in entries:
            name = str(info["name"]).rstrip("/")
            if posixpath.basename(name).startswith(".") or name == d:
                continue
            if info.get("type") == "directory":
                stack.append(name)
            elif info.get("type") == "file":
                out[name] = info
    return out


def _protocols(fs) -> tuple[str, ...]:
    p = fs.protocol
    return (p,) if isinstance(p, str) else tuple(p)


def _group(fs, root: str, listing: dict[str, dict]) -> dict[str, list[tuple[str, dict]]]:
    """Files by folder; a folder with a manifest takes in its whole subtree (as a load does)."""
    by_dir: dict[str, list[tuple[str, dict]]] = {}
    for p, info in listing.items():
        by_dir.setdefault(posixpath.dirname(p), []).append((p, info))
    manifests = sorted(
        d for d, fl in by_dir.items() if any(posixpath.basename(p) == MANIFEST for p, _ in fl)
    )
    out: dict[str, list[tuple[str, dict]]] = {}
    for d, fl in by_dir.items():
        owner = next((m for m in manifests if d == m or d.startswith(m + "/")), d)
        out.setdefault(owner, []).extend(fl)
    return out


def discover(paths: str | Iterable[str], storage_options: dict | None = None) -> list[Instance]:
    """List a fleet's instances and files, without reading a dump.

    Parameters
    ----------
    paths : a folder, a file or a glob, or several; local paths or fsspec URLs
        (``file://``, ``memory://``, ``s3://bucket/prefix`` ...); ``bundled:NAME`` too.
        A folder's sub-folders are instances named by their path below the folder
        (``host-a``, ``zone-1/host-b``); its own files (or a glob's matches in one
        folder) are the instance its manifest names, else the folder's name.
        Instances of the same name in several inputs are one.
    storage_options : passed to fsspec (credentials, endpoints), for every input.

    Returns
    -------
    list of :class:`Instance`, sorted by name; folders sorted by URL, files by name.

    Examples
    --------
    >>> [(i.name, i.dirs[0].files) for i in discover("bundled:demo")]
    [('demo', ('goroutines-debug2.txt',))]
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise LoadError("no input: give files, globs or directories")
    opts = dict(storage_options or {})
    merged: dict[str, list[FleetDir]] = {}
    for item in paths:
        s = str(item)
        s = str(bundled_path(s[len("bundled:") :])) if s.startswith("bundled:") else s
        fs, root = fsspec.core.url_to_fs(s, **opts)
        base = root.rstrip("/") if fs.isdir(root) else posixpath.dirname(root)
        for d, files in _group(fs, root, _listing(fs, root)).items():
            names = sorted((posixpath.relpath(p, d), i) for p, i in files)
            has_manifest = any(n == MANIFEST for n, _ in names)
            keep = [(n, i) for n, i in names if n == MANIFEST or _is_dump_name(n)]
            if not any(n != MANIFEST for n, _ in keep):
                continue
            rel = "." if any(c in root for c in _GLOB) else posixpath.relpath(d, base)
            name = _own_name(fs, d) if rel == "." else rel
            url = fs.unstrip_protocol(d) if _protocol(s) else d
            fdir = FleetDir(
                url, tuple(n for n, _ in keep), has_manifest, tuple(_mtime(i) for _, i in keep)
            )
            merged.setdefault(name, []).append(fdir)
    frozen = tuple(sorted(opts.items()))
    return [
        Instance(n, tuple(sorted(ds, key=lambda x: x.url)), frozen)
        for n, ds in sorted(merged.items())
    ]


def _own_name(fs, folder: str) -> str:
    """The instance of an input folder's own files: its manifest's, else the folder's name
    (several inputs each with their own dumps are several instances)."""
    try:
        with fs.open(posixpath.join(folder, MANIFEST), "rb") as fh:
            doc = json.loads(fh.read(1 << 20))
        if isinstance(doc, dict) and isinstance(doc.get("instance"), str) and doc["instance"]:
            return doc["instance"]
    except (OSError, ValueError):
        pass
    return posixpath.basename(folder.rstrip("/"))


def _protocol(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else ""


def _local_dir(fdir: FleetDir, fs, root: str, tmp: Path | None) -> tuple[Path, bool]:
    """A local folder holding ``fdir``'s files: itself when local, else a copy in ``tmp``."""
    if isinstance(fs, LocalFileSystem):
        return Path(root), False
    dest = Path(tempfile.mkdtemp(dir=tmp))
    for name, mtime in zip(fdir.files, fdir.mtimes or [None] * len(fdir.files), strict=False):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(posixpath.join(root, name), str(target))
        if mtime is not None:  # a dump with no better time falls back to its mtime: keep it
            os.utime(target, (mtime, mtime))
    return dest, True


def _sources(inst: Instance, fdir: FleetDir, local: Path, copied: bool) -> list[Source]:
    if fdir.manifest:
        srcs = read_manifest(local)
    else:
        srcs = [Source(local / n) for n in fdir.files if n != MANIFEST]
    for s in srcs:
        s.instance = inst.name or s.instance  # the folder names the process, as in a load
        rel = s.path.relative_to(local).as_posix()
        s.name = posixpath.join(fdir.url, rel) if copied else str(s.path)
    return srcs


def load_instance(
    instance: Instance, *, app_modules: Iterable[str] = (), fast: bool = True
) -> Partition:
    """Load one instance's files (where this runs) into one series.

    Parameters
    ----------
    instance : from :func:`discover`.
    app_modules, fast : as for :func:`goforensics.load`.

    Returns
    -------
    :class:`Partition`: ``dumps`` as :func:`goforensics.load` makes them for these files
    (snapshots numbered within the instance, ``source`` the file's URL), plus one
    warning row of kind ``unreadable`` (``source``, ``message``) per file that could
    not be read, listed in ``unreadable`` as ``(url, message)`` too.

    Examples
    --------
    >>> part = load_instance(discover("bundled:demo")[0])
    >>> part.dumps.goroutines["instance"].unique().tolist(), len(part.dumps.goroutines), part.unreadable
    (['demo'], 77, [])
    """
    tmp = None
    try:
        srcs: list[Source] = []
        for fdir in instance.dirs:
            fs, root = fsspec.core.url_to_fs(fdir.url, **dict(instance.storage_options))
            if tmp is None and not isinstance(fs, LocalFileSystem):
                tmp = Path(tempfile.mkdtemp(prefix="goforensics-fleet-"))
            local, copied = _local_dir(fdir, fs, root, tmp)
            srcs.extend(_sources(instance, fdir, local, copied))
        dumps, bad = _load_isolating(srcs, tuple(app_modules), fast)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    name = instance.name
    found = dumps.snapshots["instance"].astype(str).unique()
    if not name and len(found) == 1:
        name = str(found[0])  # a folder's own manifest names its process
    return Partition(name, dumps, len(srcs), bad)


def _load_isolating(srcs: list[Source], app_modules: tuple, fast: bool) -> tuple[Dumps, list]:
    """Load the sources; when that fails, find the files at fault and load the others."""
    if not srcs:
        return Dumps(), []
    try:
        return load(srcs, app_modules=app_modules, fast=fast), []
    # a parser bug on one file must not cost the instance: any error is the file's
    except Exception:
        pass
    good, bad = [], []
    for s in srcs:
        try:
            load([s], app_modules=app_modules, fast=fast)
            good.append(s)
        except GoforensicsError as e:
            bad.append((s.name or str(s.path), str(e).replace(str(s.path), s.name or str(s.path))))
        except Exception as e:
            bad.append((s.name or str(s.path), f"cannot parse: {type(e).__name__}: {e}"))
    dumps = load(good, app_modules=app_modules, fast=fast) if good else Dumps()
    rows = pd.DataFrame(
        {
            "source": [b[0] for b in bad],
            "snapshot": [None] * len(bad),
            "line": [None] * len(bad),
            "lines": [0] * len(bad),
            "kind": ["unreadable"] * len(bad),
            "message": [b[1] for b in bad],
        }
    )
    return Dumps.concat([dumps, Dumps(warnings=rows)]), bad


def _arrow_fs(url: str, storage_options: dict | None):
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path, fs


def write_partition(
    part: Partition, root: str, storage_options: dict | None = None
) -> dict[str, int]:
    """Add an instance's tables to the Parquet dataset at ``root`` (hive-partitioned by instance).

    Parameters
    ----------
    part : a loaded instance.
    root : a folder or fsspec URL; each table is a dataset ``root/<table>/instance=<name>/``
        (names are URI-escaped by pyarrow). Rewriting an instance replaces its files.
    storage_options : fsspec options for the dataset (credentials, endpoints).

    Returns
    -------
    dict: rows written per table.

    Examples
    --------
    >>> part = load_instance(discover("bundled:demo")[0])
    >>> write_partition(part, "memory://doc-write-partition")
    {'goroutines': 77, 'frames': 17, 'snapshots': 1, 'warnings': 0}
    """
    afs, path, fs = _arrow_fs(root, storage_options)
    part_schema = pa.schema([("instance", pa.string())])
    written = {}
    for name in TABLES:
        df = getattr(part.dumps, name).copy()
        df["instance"] = part.name  # frames and warnings are the instance's too
        table = pa.Table.from_pandas(df, preserve_index=False)
        target = posixpath.join(path, name)
        leaf = posixpath.join(target, f"instance={_escape(part.name)}")
        if fs.exists(leaf):
            fs.rm(leaf, recursive=True)
        pads.write_dataset(
            table,
            target,
            format="parquet",
            filesystem=afs,
            partitioning=pads.partitioning(part_schema, flavor="hive"),
            existing_data_behavior="overwrite_or_ignore",
            basename_template="part-{i}.parquet",
            preserve_order=True,  # rows in the table's order: read back, the tables are equal
        )
        written[name] = table.num_rows
    return written


def _escape(name: str) -> str:
    return quote(name, safe="")


def _dataset(root: str, table: str, storage_options: dict | None):
    afs, path, _ = _arrow_fs(root, storage_options)
    return pads.dataset(
        posixpath.join(path, table),
        format="parquet",
        filesystem=afs,
        partitioning=pads.HivePartitioning.discover(segment_encoding="uri"),
    )


def dataset_instances(root: str, storage_options: dict | None = None) -> list[str]:
    """The instances a Parquet dataset written by :func:`write_partition` holds, sorted.

    Parameters
    ----------
    root : str
        The dataset's folder or fsspec URL.
    storage_options : dict, optional
        Passed to fsspec.

    Returns
    -------
    list of str
        The instance names, sorted.

    Examples
    --------
    >>> part = load_instance(discover("bundled:demo")[0])
    >>> write_partition(part, "memory://doc-dataset-instances")["goroutines"]
    77
    >>> dataset_instances("memory://doc-dataset-instances")
    ['demo']
    """
    _, path, fs = _arrow_fs(root, storage_options)
    if not fs.exists(posixpath.join(path, "snapshots")):
        raise LoadError(f"{root}: not a fleet Parquet dataset (no snapshots table)")
    t = _dataset(root, "snapshots", storage_options).to_table(columns=["instance"])
    return sorted(set(t.column("instance").to_pylist()))


def read_instance(root: str, instance: str, storage_options: dict | None = None) -> Dumps:
    """One instance's :class:`~goforensics.model.Dumps` back from the Parquet dataset.

    The tables come back with the catalogue's columns and dtypes (frames and warnings
    without the ``instance`` column they were partitioned by). A table no instance had a
    row of has no folder (pyarrow writes no empty partition): it comes back empty.

    Parameters
    ----------
    root : str
        The dataset's folder or fsspec URL.
    instance : str
        The instance's name.
    storage_options : dict, optional
        Passed to fsspec.

    Returns
    -------
    Dumps
        Its tables, with the catalogue's columns and dtypes.

    Examples
    --------
    >>> part = load_instance(discover("bundled:demo")[0])
    >>> _ = write_partition(part, "memory://doc-read-instance")
    >>> d = read_instance("memory://doc-read-instance", "demo")
    >>> d.goroutines.equals(part.dumps.goroutines), len(d.frames) == len(part.dumps.frames)
    (True, True)
    """
    _, path, fs = _arrow_fs(root, storage_options)
    tables = {}
    for name in TABLES:
        if not fs.exists(posixpath.join(path, name)):
            continue
        ds = _dataset(root, name, storage_options)
        df = ds.to_table(filter=pads.field("instance") == instance).to_pandas()
        if name in ("frames", "warnings"):
            df = df.drop(columns=["instance"])
        tables[name] = df
    if "snapshots" not in tables or not len(tables["snapshots"]):
        raise LoadError(f"{root}: no instance {instance!r} in this dataset")
    if not len(tables["snapshots"]):
        raise LoadError(f"{root}: no instance {instance!r} in this dataset")
    return Dumps.concat([Dumps(**tables)])
