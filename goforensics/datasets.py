"""Datasets: series of goroutine dumps from real Go programs, with ground truth.

Two kinds, both produced by running real Go programs (never synthesised):

- **scenarios**: small services under load on loopback (``datasets/scenarios/<name>``,
  standard library only) that carry the goroutine leaks of real incidents among
  healthy goroutines, captured as a series, with ``truth.csv``: for every goroutine
  of every snapshot, its root cause and whether that cause leaks.
- **goker**: the goroutine-leak-profile test programs shipped in Go's source tree
  (micro cases, the CGO'24 patterns and GoKer's real bugs): each case's
  ``debug=2`` goroutineleak profile as written and with the runtime's
  ``(leaked)`` verdicts stripped, its expected leaks and which of them occurred.

Small pre-built copies ship in the package (``goforensics/data/<name>``), so this
module loads them from an installed wheel with no Go. Building them needs a clone and
Go: ``goforensics datasets build`` (or ``python -m tools.build_datasets``) writes fresh
ones under ``datasets/build/``, which this module loads too.

>>> import goforensics.datasets as gd
>>> ds = gd.load_dataset("checkout")
>>> len(ds.truth) == len(ds.dumps.goroutines), bool(ds.truth["cause"].notna().all())
(True, True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DatasetError
from .model import Dumps
from .read.series import DATA, load

__all__ = [
    "BUILD_DIR",
    "SCENARIOS_DIR",
    "Dataset",
    "dataset_path",
    "goker_cases",
    "list_datasets",
    "load_dataset",
]

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS_DIR = ROOT / "datasets" / "scenarios"
BUILD_DIR = ROOT / "datasets" / "build"
TRUTH = "truth.csv"
META = "dataset.json"


# --- reading datasets ---------------------------------------------------------------------------------


@dataclass
class Dataset:
    """A dataset loaded with its truth.

    ``truth`` has one row per row of ``dumps.goroutines`` (same index): ``cause``,
    ``leak`` and, for scenarios, ``pattern``, ``role`` and ``how`` (which rule
    gave the label); ``causes`` describes each cause.
    """

    name: str
    kind: str
    path: Path
    dumps: Dumps
    truth: pd.DataFrame
    causes: pd.DataFrame
    meta: dict

    def first(self, n: int) -> Dataset:
        """The dataset cut to its first ``n`` snapshots (what an engineer had ``n`` captures in).

        Parameters
        ----------
        n : int
            How many snapshots to keep.

        Returns
        -------
        Dataset
            The same dataset (truth included) over its first ``n`` snapshots.

        Examples
        --------
        >>> load_dataset("checkout").first(3).dumps.snapshots["snapshot"].tolist()
        [0, 1, 2]
        """
        d = self.dumps
        keep = (d.goroutines["snapshot"] < n).to_numpy()
        dumps = Dumps(
            d.goroutines[keep].reset_index(drop=True),
            d.frames,
            d.snapshots[d.snapshots["snapshot"] < n].reset_index(drop=True),
            d.warnings[d.warnings["snapshot"].isna() | (d.warnings["snapshot"] < n)].reset_index(
                drop=True
            ),
        )
        return Dataset(
            self.name,
            self.kind,
            self.path,
            dumps,
            self.truth[keep].reset_index(drop=True),
            self.causes,
            self.meta,
        )

    def attribute(self, labels) -> pd.DataFrame:
        """Each cluster's majority root cause in the truth (by goroutines), and whether it leaks.

        ``labels`` are cluster ids aligned with ``dumps.goroutines``; returns a frame indexed by
        cluster with columns ``cause``, ``leak``, ``share`` (of the cluster's goroutines).

        Parameters
        ----------
        labels : Series
            Cluster ids aligned with ``dumps.goroutines``.

        Returns
        -------
        DataFrame
            Indexed by cluster: ``cause`` (the majority root cause), ``leak`` (whether it leaks),
            ``share`` (of the cluster's goroutines that cause has).

        Examples
        --------
        >>> ds = load_dataset("checkout").first(2)
        >>> t = ds.attribute(ds.dumps.goroutines["top_function"].cat.codes)
        >>> t.columns.tolist()
        ['cause', 'leak', 'share']
        """
        t = pd.DataFrame(
            {
                "cluster": np.asarray(labels),
                "cause": self.truth["cause"].to_numpy(),
                "leak": self.truth["leak"].to_numpy(),
                "n": self.dumps.goroutines["count"].to_numpy(),
            }
        )
        agg = t.groupby(["cluster", "cause", "leak"])["n"].sum().reset_index()
        agg["share"] = agg["n"] / agg.groupby("cluster")["n"].transform("sum")
        agg = agg.sort_values(
            ["cluster", "n", "cause"], ascending=[True, False, True], kind="stable"
        )
        return agg.drop_duplicates("cluster").set_index("cluster")[["cause", "leak", "share"]]

    def __repr__(self) -> str:
        leaks = ", ".join(self.meta.get("leak_causes", [])[:6])
        return (
            f"<Dataset {self.name} ({self.kind}): {len(self.dumps.snapshots)} snapshot(s), "
            f"{len(self.dumps.goroutines):,} goroutines; leaks: {leaks or 'none'}>"
        )


def _dataset_dirs(build_dir: str | Path | None) -> list[tuple[str, Path]]:

    out = []
    for source, root in (("bundled", DATA), ("build", Path(build_dir) if build_dir else BUILD_DIR)):
        if root.is_dir():
            out += [(source, p) for p in sorted(root.iterdir()) if (p / META).is_file()]
    return out


def _truth_file(p: Path) -> Path:
    return p / TRUTH if (p / TRUTH).is_file() else p / (TRUTH + ".gz")


def dataset_path(name: str, build_dir: str | Path | None = None) -> Path:
    """Where dataset ``name`` lives: in ``build_dir`` if given, else bundled, else in ``datasets/build``.

    Parameters
    ----------
    name : str
        The dataset's name (see :func:`list_datasets`).
    build_dir : str or Path, optional
        Look only here (default: the bundled datasets, then ``datasets/build``).

    Returns
    -------
    Path
        The dataset's directory (it holds ``dataset.json``).

    Raises
    ------
    DatasetError
        If no such dataset is found.

    Examples
    --------
    >>> dataset_path("checkout").name
    'checkout'
    """

    places = [Path(build_dir) / name] if build_dir is not None else [DATA / name, BUILD_DIR / name]
    for p in places:
        if (p / META).is_file():
            return p
    have = sorted({p.name for _, p in _dataset_dirs(build_dir)})
    raise DatasetError(
        f"no dataset {name!r} (have: {', '.join(have) or 'none'}; "
        "build more with: goforensics datasets build)"
    )


def list_datasets(build_dir: str | Path | None = None) -> pd.DataFrame:
    """The datasets at hand, bundled and built: one row each.

    Columns: name, kind, source (bundled/build), snapshots, goroutines (rows over
    all snapshots), first and last (goroutines in the first and last snapshot),
    leak_causes (their names), causes (how many), size (bytes on disk), path.

    Parameters
    ----------
    build_dir : str or Path, optional
        Where built datasets are (default: the source checkout's ``datasets/build``).

    Returns
    -------
    DataFrame
        One row per dataset, with the columns above.

    Examples
    --------
    >>> df = list_datasets()
    >>> {"checkout", "goker"} <= set(df["name"])
    True
    """
    rows = []
    for source, p in _dataset_dirs(build_dir):
        meta = json.loads((p / META).read_text(encoding="utf-8"))
        per = meta.get("goroutines_per_snapshot", [])
        n_causes = len(meta.get("causes", [])) or len(meta.get("leak_causes", []))
        rows.append(
            {
                "name": p.name,
                "kind": meta.get("kind", ""),
                "source": source,
                "snapshots": meta.get("snapshots", len(per)),
                "goroutines": meta.get("goroutines", sum(per)),
                "first": per[0] if per else 0,
                "last": per[-1] if per else 0,
                "leak_causes": ", ".join(meta.get("leak_causes", []))
                if meta.get("kind") != "goker"
                else f"{meta.get('cases_with_expected_leaks', 0)} cases with expected leaks",
                "causes": n_causes,
                "size": sum(f.stat().st_size for f in p.rglob("*") if f.is_file()),
                "path": str(p),
            }
        )
    cols = [
        "name",
        "kind",
        "source",
        "snapshots",
        "goroutines",
        "first",
        "last",
        "leak_causes",
        "causes",
        "size",
        "path",
    ]
    return pd.DataFrame(rows, columns=cols)


def load_dataset(name: str, build_dir: str | Path | None = None) -> Dataset:
    """Load a dataset's dumps and its truth, aligned row for row with ``dumps.goroutines``.

    Scenarios load as their captured series; ``goker`` loads its stripped
    profiles (one snapshot per case, the runtime's verdicts removed) and the
    truth says which goroutines match the case's expected leaks.

    Parameters
    ----------
    name : str
        The dataset's name (see :func:`list_datasets`).
    build_dir : str or Path, optional
        Look only here (default: the bundled datasets, then ``datasets/build``).

    Returns
    -------
    Dataset
        ``dumps``; ``truth`` with columns ``snapshot``, ``goid``, ``cause``, ``leak`` and,
        for scenarios, ``pattern``, ``role``, ``how``; ``causes`` with columns ``name``,
        ``leak``, ``pattern``, ``about``; and the dataset's ``meta``.

    Raises
    ------
    DatasetError
        If the dataset is missing or its truth does not cover every goroutine.

    Examples
    --------
    >>> ds = load_dataset("checkout")
    >>> ds.kind, len(ds.truth) == len(ds.dumps.goroutines)
    ('scenario', True)
    >>> ds.truth.columns.tolist()
    ['snapshot', 'goid', 'cause', 'leak', 'pattern', 'role', 'how']
    """
    p = dataset_path(name, build_dir)
    meta = json.loads((p / META).read_text(encoding="utf-8"))
    dumps = load(p)  # goker: its manifest lists the stripped profiles
    truth = pd.read_csv(_truth_file(p))
    g = dumps.goroutines[["snapshot", "goid"]].astype({"snapshot": "int64", "goid": "int64"})
    aligned = g.merge(truth, on=["snapshot", "goid"], how="left", validate="many_to_one")
    aligned.index = dumps.goroutines.index
    missing = int(aligned["cause"].isna().sum())
    if missing:
        raise DatasetError(f"{p}: the truth does not cover {missing:,} goroutine(s) of the dumps")
    aligned["leak"] = aligned["leak"].astype(bool)
    if meta.get("kind") == "goker":
        causes = _goker_causes(goker_cases(p))
    else:
        causes = pd.DataFrame(meta.get("causes", []), columns=["name", "leak", "pattern", "about"])
    return Dataset(name, meta.get("kind", ""), p, dumps, aligned, causes, meta)


def _goker_causes(cases: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, c in cases.iterrows():
        for k, rx in enumerate(c["expected"]):
            rows.append(
                {
                    "name": f"{c['case']}/leak{k}",
                    "leak": True,
                    "case": c["case"],
                    "regexp": rx,
                    "flaky": bool(c["flaky"]),
                    "occurred": bool(c["occurred"][k]),
                }
            )
        rows.append(
            {
                "name": f"{c['case']}/other",
                "leak": False,
                "case": c["case"],
                "regexp": "",
                "flaky": bool(c["flaky"]),
                "occurred": False,
            }
        )
    return pd.DataFrame(rows, columns=["name", "leak", "case", "regexp", "flaky", "occurred"])


def goker_cases(source: str | Path | None = None) -> pd.DataFrame:
    """GoKer's cases: one row each, with the paths of its dumps and its expected leaks.

    ``source`` is a dataset directory (the bundled copy by default, or a build's
    ``datasets/build/goker``). Columns: case, suite (micro, stress, patterns,
    goker, unlisted), program, flaky, simple (run with GOMAXPROCS=1), expected
    (list of regexps over ``"function(...) [wait reason]"``), occurred (a bool
    per regexp: seen in this run), unexpected (leaks no regexp expects),
    exit_code, seconds, goroutines, marked_leaked (the runtime's verdicts), raw
    and stripped (absolute paths).

    Parameters
    ----------
    source : str or Path, optional
        A dataset directory (default: the bundled copy).

    Returns
    -------
    DataFrame
        One row per case, with the columns above.

    Examples
    --------
    >>> c = goker_cases()
    >>> bool((c["suite"] == "goker").sum() > 50), c.loc[c["case"] == "Mixed", "expected"].iloc[0][1]
    (True, 'Mixed\\\\.func1.1\\\\(.* \\\\[chan send\\\\]')
    """
    p = Path(source) if source is not None else dataset_path("goker")
    cases = pd.read_csv(p / "cases.csv")
    for col in ("expected", "occurred", "unexpected"):
        cases[col] = cases[col].map(json.loads)
    for col in ("raw", "stripped"):
        cases[col] = [str(p / f) for f in cases[col]]
    return cases
