"""Scan Go source trees with the static rules, package by package, cached.

:class:`SourceIndex` holds a tree and its packages' findings (in memory, and on disk with a
cache directory); :func:`scan` runs the rules of :mod:`goforensics.analyze.rules` over every
package under some roots; :func:`source_roots` says which roots ``--source`` means.

>>> import goforensics as gf
>>> from pathlib import Path
>>> root = Path(gf.__file__).parent.parent / "datasets" / "scenarios" / "checkout"
>>> found = scan([root], progress=False)
>>> sorted(set(found["rule_id"]))[:3]
['GF101', 'GF102', 'GF103']
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import xxhash
from tqdm import tqdm

from ..read import gosyntax
from ..read.gosource import GoFile, SourceError, SourceTree, parse_go
from . import gochecks, gohttp, rules
from .gochecks import check_package
from .rules import FINDING_COLUMNS, RULES

__all__ = ["SOURCE_ENV", "SourceIndex", "scan", "source_roots"]

SOURCE_ENV = "GOFORENSICS_SOURCE"  # source roots, separated like PATH
_RULE = {r.id: r for r in RULES}


class SourceIndex:
    """A source tree with its rules' findings computed once per package, keyed by the path,
    modification time and size of the package's files; with ``cache`` (a directory) they are
    kept on disk too, so that a CI run reads again only the packages that changed."""

    def __init__(self, roots, *, tests: bool = False, cache: str | Path | None = None):
        self.tree = roots if isinstance(roots, SourceTree) else SourceTree(list(_as_list(roots)))
        self.tests = tests
        self.cache = Path(cache) if cache is not None else None
        self._findings: dict[tuple, list[dict]] = {}

    def package_findings(self, directory: Path) -> list[dict]:
        """The findings of the package in ``directory``: a list of dicts with the keys of
        :data:`goforensics.analyze.rules.FINDING_COLUMNS`.

        Parameters
        ----------
        directory : Path
            A package's directory under the index's root.

        Returns
        -------
        list of dict
            One finding each, keys of :data:`goforensics.analyze.rules.FINDING_COLUMNS`.

        Examples
        --------
        >>> import goforensics as gf
        >>> root = Path(gf.__file__).parent.parent / "datasets" / "scenarios" / "checkout"
        >>> [f["rule_id"] for f in SourceIndex(root).package_findings(root) if f["line"] == 23]
        ['GF102']
        """
        stats = []
        for p in sorted(directory.glob("*.go")):
            if self.tests or not p.name.endswith("_test.go"):
                try:
                    st = p.stat()
                except OSError:  # a dangling link or a file gone: nothing to read
                    continue
                stats.append((p, st.st_mtime_ns, st.st_size))
        files = [p for p, _, _ in stats]
        mod = self.tree.module_of(directory)
        key = (str(directory), mod.go if mod else "", *((str(p), m, n) for p, m, n in stats))
        if key not in self._findings:
            stored = self._load(key)
            if stored is None:
                parsed = []
                for p in files:
                    try:
                        parsed.append(parse_go(p))
                    except SourceError:
                        continue
                stored = check_package(_one_package(parsed), mod.go if mod else "")
                self._store(key, stored)
            self._findings[key] = stored
        return self._findings[key]

    def _path(self, key: tuple) -> Path | None:
        if self.cache is None:
            return None
        return self.cache / f"{xxhash.xxh3_64_hexdigest(repr((_RULES_CODE, key)).encode())}.json"

    def _load(self, key: tuple) -> list[dict] | None:
        p = self._path(key)
        try:
            return (
                json.loads(p.read_text(encoding="utf-8")) if p is not None and p.is_file() else None
            )
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed

    def _store(self, key: tuple, findings: list[dict]) -> None:
        p = self._path(key)
        if p is None:
            return
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_suffix(".tmp")
            tmp.write_text(json.dumps(findings), encoding="utf-8")
            tmp.replace(p)
        except OSError:
            pass  # a read-only cache only costs speed


def _rules_code() -> str:
    """A fingerprint of the rules' code: a cache made by other rules is not reused."""
    h = xxhash.xxh3_64()
    for m in (gochecks, gohttp, rules, gosyntax):
        h.update(Path(m.__file__).read_bytes())
    return h.hexdigest()


_RULES_CODE = _rules_code()


def source_roots(given=(), environ=None) -> list[Path]:
    """The source roots to use: those ``given`` (``--source``, repeatable), else those of the
    ``GOFORENSICS_SOURCE`` environment variable (separated like PATH).

    Parameters
    ----------
    given : iterable of str
        Roots named on the command line.
    environ : mapping, optional
        The environment (default ``os.environ``).

    Returns
    -------
    list of Path
        The roots, in order.

    Examples
    --------
    >>> import os
    >>> source_roots((), {"GOFORENSICS_SOURCE": os.pathsep.join(["/src/a", "/src/b"])})
    [PosixPath('/src/a'), PosixPath('/src/b')]
    >>> source_roots(["/src/c"], {"GOFORENSICS_SOURCE": "/src/a"})
    [PosixPath('/src/c')]
    """
    if given:
        return [Path(x).expanduser() for x in given]
    env = (os.environ if environ is None else environ).get(SOURCE_ENV, "")
    return [Path(x).expanduser() for x in env.split(os.pathsep) if x]


def _as_list(roots):
    return [roots] if isinstance(roots, (str, Path)) else list(roots)


def _one_package(files: list[GoFile]) -> list[GoFile]:
    """Files of the directory's main package (``package x_test`` and build-ignored ones apart)."""
    names = Counter(f.package for f in files if not f.package.endswith("_test"))
    if not names:
        return files
    main = names.most_common(1)[0][0]
    return [f for f in files if f.package == main]


def scan(
    roots, *, tests: bool = False, progress: bool | None = None, cache: str | Path | None = None
) -> pd.DataFrame:
    """Run the static rules over every package under ``roots``.

    Parameters
    ----------
    roots : path or list of paths
        Source roots (module roots, a monorepo, GOROOT/src).
    tests : bool
        Read ``_test.go`` files too.
    progress : bool, optional
        Show a progress bar on stderr (default: only when stderr is a terminal).
    cache : path, optional
        A directory keeping each package's findings between runs (by its files' paths,
        modification times and sizes, and the rules' code).

    Returns
    -------
    DataFrame
        One row per finding: ``rule_id``, ``level``, ``file`` (relative to its root, forward
        slashes), ``line``, ``end_line``, ``column``, ``function``, ``message``, ``related``
        (lines where goroutines block because of it), ``snippet``, ``path`` (absolute),
        ``rule`` (name), ``overlaps``; ``files`` and ``seconds`` in ``attrs``.

    Examples
    --------
    >>> import goforensics as gf
    >>> root = Path(gf.__file__).parent.parent / "datasets" / "scenarios" / "gateway"
    >>> f = scan(root, progress=False)
    >>> f.loc[f["rule_id"] == "GF105", ["file", "line"]].values.tolist()
    [['uploads.go', 20]]
    """
    t0 = time.perf_counter()
    index = SourceIndex(roots, tests=tests, cache=cache)
    files = index.tree.files(tests=tests)
    per_dir = Counter(p.parent for p in files)
    dirs = sorted(per_dir)
    rows: list[dict] = []
    bar = tqdm(
        total=len(files),
        unit="file",
        desc="scan",
        file=sys.stderr,
        disable=(not sys.stderr.isatty()) if progress is None else not progress,
    )
    for d in dirs:
        rows += index.package_findings(d)
        bar.update(per_dir[d])
    bar.close()
    out = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    out["path"] = out["file"]
    out["file"] = [_relative(p, index.tree.roots) for p in out["path"]]
    out["rule"] = [_RULE[r].name for r in out["rule_id"]]
    out["overlaps"] = [_RULE[r].overlaps for r in out["rule_id"]]
    out = out.sort_values(["file", "line", "rule_id"], kind="stable").reset_index(drop=True)
    out.attrs["files"] = len(files)
    out.attrs["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def _relative(path: str, roots) -> str:
    p = Path(path)
    for r in roots:
        base = r if r.is_dir() else r.parent
        if p.is_relative_to(base):
            return p.relative_to(base).as_posix()
    return p.as_posix()
