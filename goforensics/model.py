"""The data model: the tables a goroutine dump becomes.

A :class:`Dumps` object holds four pandas tables for any number of snapshots:

``goroutines``
    One row per goroutine (``debug=2`` text) or per bucket (``debug=1`` and
    ``debug=0`` profiles, with ``count`` > 1 where the runtime aggregated).
``frames``
    One row per frame of each *distinct* stack, keyed by ``stack_id`` (an xxh3
    fingerprint of the stack's functions, files and lines), so that 100,000
    goroutines parked on the same code cost one copy of their frames.
``snapshots``
    One row per snapshot: where it came from, when it was taken, what kind of
    dump it was (panic, fatal error, SIGQUIT, profile...), and its accounting
    (goroutines parsed, the total the runtime declared, truncation).
``warnings``
    Everything the parser skipped or doubted, with the line it happened at.

Column meanings are in :data:`GOROUTINE_COLUMNS`, :data:`FRAME_COLUMNS`,
:data:`SNAPSHOT_COLUMNS` and :data:`WARNING_COLUMNS`.

Go runtime knowledge (states, frame classes, symbol names) lives in :mod:`goforensics.goruntime`.

>>> list(GOROUTINE_COLUMNS)[:3]
['snapshot', 'instance', 'source']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "FRAME_COLUMNS",
    "GOROUTINE_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "WARNING_COLUMNS",
    "Dumps",
    "DumpsLink",
    "goroutine_frames",
    "headline",
    "labels_frame",
]

# --- column catalogue -------------------------------------------------------
# Each entry: column -> (pandas dtype, meaning).  The dtype strings are what
# ``_conform`` casts to, so the tables have the same dtypes however they were
# built (parsed, concatenated, or read back from Parquet).

GOROUTINE_COLUMNS: dict[str, tuple[str, str]] = {
    "snapshot": ("int32", "index of the snapshot in the series (0-based)"),
    "instance": ("category", "process the snapshot came from ('' when only one)"),
    "source": ("category", "file (or URL) the goroutine was read from"),
    "taken_at": ("datetime64[ns, UTC]", "capture time of the snapshot, if known"),
    "line": ("Int64", "1-based line of the goroutine header (or bucket) in the source"),
    "goid": ("Int64", "goroutine id; missing for aggregated profiles"),
    "count": ("int64", "goroutines this row stands for (1 for debug=2, bucket size for profiles)"),
    "state": ("category", "normalised wait state (e.g. 'chan receive', 'sync.Mutex.Lock')"),
    "raw_state": ("category", "the state exactly as printed, before normalisation"),
    "state_inferred": ("bool", "state was inferred from the frames (profiles carry none)"),
    "wait_minutes": (
        "Int32",
        "minutes blocked as printed (0: under a minute); missing where the format has none",
    ),
    "locked_to_thread": ("bool", "header said 'locked to thread'"),
    "leaked": (
        "bool",
        "the runtime's goroutineleak verdict: '(leaked)' or a goroutineleak profile",
    ),
    "labels": ("category", "pprof labels as a JSON object string ('' when none)"),
    "top_function": ("category", "innermost function of the stack"),
    "entry_function": ("category", "outermost function: where the goroutine started"),
    "created_by": ("category", "function that started the goroutine ('' for main / unknown)"),
    "created_by_file": ("category", "file of the go statement"),
    "created_by_line": ("Int32", "line of the go statement"),
    "creator_goid": ("Int64", "goroutine that ran the go statement (Go 1.21+ 'in goroutine N')"),
    "ancestors": (
        "category",
        "ids of ancestor goroutines, space separated (GODEBUG=tracebackancestors)",
    ),
    "elided": ("bool", "the runtime elided frames from this stack"),
    "truncated": ("bool", "the input ended inside this goroutine"),
    "n_frames": ("int32", "frames printed for the goroutine's own stack"),
    "stack_id": ("uint64", "fingerprint of the stack; key into the frames table"),
    "args": ("string", "raw arguments of each own frame, newline separated, top frame first"),
    "m": ("Int32", "id of the M (OS thread) running it, from crash headers 'm=N'"),
}

FRAME_COLUMNS: dict[str, tuple[str, str]] = {
    "stack_id": ("uint64", "fingerprint of the stack this frame belongs to"),
    "section": ("int16", "0 for the goroutine's own stack, k for its k-th ancestor"),
    "depth": ("int16", "position from the top (0 = innermost, where it blocks)"),
    "function": ("category", "fully qualified function name"),
    "package": ("category", "import path of the package"),
    "receiver": ("category", "method receiver type ('*conn'), '' for plain functions"),
    "method": ("category", "function or method name within the package, closures included"),
    "file": ("category", "source file path as printed"),
    "line": ("Int32", "source line"),
    "offset": ("Int64", "PC offset within the function (+0x..), missing for inlined frames"),
    "args": ("string", "raw arguments of the first goroutine seen with this stack (an example)"),
    "inlined": ("bool", "printed as an inlined call '(...)'"),
    "elided_before": (
        "Int64",
        "frames the runtime elided just above this one ('...N frames elided...')",
    ),
    "frame_class": ("category", "runtime / stdlib / third-party / application"),
}

SNAPSHOT_COLUMNS: dict[str, tuple[str, str]] = {
    "snapshot": ("int32", "index of the snapshot in the series"),
    "instance": ("category", "process the snapshot came from"),
    "source": ("category", "file or URL it was read from"),
    "part": ("int32", "index of this dump within its source (a file can hold several)"),
    "taken_at": ("datetime64[ns, UTC]", "capture time, if known"),
    "time_source": (
        "category",
        "where taken_at came from: content, manifest, filename, mtime, given",
    ),
    "format": ("category", "debug=2, debug=1, debug=0"),
    "kind": (
        "category",
        "goroutine dump, panic, fatal error, signal, goroutine profile, goroutineleak profile",
    ),
    "message": ("string", "panic / fatal error / signal message, if any"),
    "go_version": (
        "category",
        "Go version, exact where the paths tell, else a lower bound like '>=1.21'",
    ),
    "line_start": ("Int64", "first line of the dump in its source"),
    "line_end": ("Int64", "last line of the dump in its source"),
    "goroutines": ("int64", "goroutines parsed (sum of counts)"),
    "rows": ("int64", "rows in the goroutines table"),
    "declared_total": ("Int64", "total the runtime declared ('goroutine profile: total N')"),
    "truncated": (
        "bool",
        "the dump was cut (a 64 MiB pprof limit, or the input ended mid-goroutine)",
    ),
    "missing": ("Int64", "goroutines known to be absent (declared total minus parsed), if known"),
    "round": ("Int32", "capture round from a manifest: profiles taken together share it"),
}

WARNING_COLUMNS: dict[str, tuple[str, str]] = {
    "source": ("category", "file the warning is about"),
    "snapshot": ("Int32", "snapshot it concerns, if any"),
    "line": ("Int64", "first line concerned"),
    "lines": ("int64", "number of lines concerned"),
    "kind": ("category", "skipped, race-report, truncated, malformed, ..."),
    "message": ("string", "what happened, in words"),
}


def headline(kind: str, message: str) -> str:
    """The line of a snapshot's message that says what happened.

    Parameters
    ----------
    kind : str
        The snapshot's ``kind`` (``panic``, ``fatal error``, ``signal`` ...).
    message : str
        Its ``message``, as printed before the goroutines.

    Returns
    -------
    str
        The one line that says what happened.

    Examples
    --------
    >>> headline("fatal error", "runtime: failed to create new OS thread\\nfatal error: newosproc")
    'fatal error: newosproc'
    >>> headline("signal", "SIGQUIT: quit\\nPC=0x4721c1 m=0 sigcode=0")
    'SIGQUIT: quit'
    """
    lines = [x.strip() for x in str(message).splitlines() if x.strip()]
    for x in lines:
        if x.startswith(kind):
            return x
    if not lines:
        return kind
    return lines[0] if kind == "signal" else f"{kind}: {lines[0]}"  # 'SIGQUIT: quit' names itself


# --- labels ---------------------------------------------------------------------


def labels_frame(goroutines: pd.DataFrame) -> pd.DataFrame:
    """Expand the JSON ``labels`` column into one column per label key.

    Parameters
    ----------
    goroutines : DataFrame
        Rows with a JSON ``labels`` column (a goroutines table).

    Returns
    -------
    DataFrame
        One column per label key (None where a goroutine lacks it), index kept.

    Examples
    --------
    >>> g = pd.DataFrame({"labels": ['{"handler": "/api"}', ""]})
    >>> labels_frame(g)["handler"].tolist()
    ['/api', None]
    """
    values = goroutines["labels"].astype(str).tolist()
    parsed = {v: (json.loads(v) if v not in ("", "nan", "<NA>") else {}) for v in set(values)}
    keys = sorted({k for d in parsed.values() for k in d})
    return pd.DataFrame(
        {k: pd.Series([parsed[v].get(k) for v in values], dtype=object) for k in keys},
        index=goroutines.index,
    )


# --- the container ------------------------------------------------------------------


def _empty(columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    return _conform(pd.DataFrame({c: [] for c in columns}), columns)


def _conform(df: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Cast to the catalogue's dtypes, in the catalogue's column order (extra columns kept after)."""
    out = {}
    n = len(df)
    for col, (dtype, _) in columns.items():
        s = df[col] if col in df.columns else pd.Series([None] * n, index=df.index, dtype=object)
        out[col] = _cast(s, dtype)
    extra = [c for c in df.columns if c not in columns]
    res = pd.DataFrame(out, index=df.index)
    for c in extra:
        res[c] = df[c]
    return res.reset_index(drop=True)


def _cast(s: pd.Series, dtype: str) -> pd.Series:
    if dtype != "category" and str(s.dtype) == dtype:
        return s  # already right (and numpy ints and bools hold no missing values)
    if dtype == "category":
        # One canonical form (sorted str categories) so that tables compare equal however
        # they were made: parsed, concatenated or read back from Parquet.
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats, codes = s.cat.categories, s.cat.codes.to_numpy()
        else:  # values: factorised once (missing values stay missing), never cast one by one
            codes, cats = pd.factorize(s, use_na_sentinel=True)
            cats = pd.Index(cats)
        str_cats = [str(c) for c in cats] if cats.dtype != "str" else list(cats)
        want = sorted(set(str_cats))
        if isinstance(s.dtype, pd.CategoricalDtype) and cats.dtype == "str" and str_cats == want:
            return s
        # recode through the categories (not the values): linear in rows, no string work
        pos = {c: i for i, c in enumerate(want)}
        recode = np.array([pos[c] for c in str_cats], dtype=np.int64)
        new = np.where(codes >= 0, recode[np.maximum(codes, 0)] if len(recode) else -1, -1)
        dtype_ = pd.CategoricalDtype(pd.Index(want, dtype="str"))
        return pd.Series(pd.Categorical.from_codes(new, dtype=dtype_), index=s.index)
    if dtype == "string":
        if isinstance(s.dtype, pd.StringDtype) and s.dtype == pd.StringDtype():
            return s
        return s.astype("string")
    if dtype.startswith("datetime64"):
        return pd.to_datetime(s, utc=True).astype("datetime64[ns, UTC]")
    if dtype == "bool":
        return s.fillna(False).astype(bool)
    if dtype in ("int64", "int32", "int16", "uint64"):
        if s.dtype == object:
            s = pd.to_numeric(s)
        return s.fillna(0).astype(dtype)
    return s.astype(dtype)


def _concat_categorical(
    frames: list[pd.DataFrame], columns: dict[str, tuple[str, str]]
) -> pd.DataFrame:
    """Concatenate tables, keeping categoricals categorical (pd.concat would fall back to str)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty(columns)
    if len(frames) == 1:
        return _conform(frames[0], columns)
    cat_cols = [c for c, (d, _) in columns.items() if d == "category"]
    for c in cat_cols:
        cats = pd.api.types.union_categoricals(
            [f[c].astype("category") for f in frames], ignore_order=True
        ).categories
        for f in frames:
            f[c] = f[c].astype("category").cat.set_categories(cats)
    aligned = pd.concat(frames, ignore_index=True)
    return _conform(aligned, columns)


class DumpsLink(str):
    """How a goroutines table finds its :class:`Dumps` (``table.attrs["goforensics"]``).

    Set whenever a Dumps gets its ``goroutines`` table, so that rows selected from it
    with pandas still reach the frames (the ``.gf`` accessor uses it). A ``str`` so that
    attrs stay JSON (Parquet stores them as such; read back it is a plain string and
    links nothing); copied by reference (pandas deep-copies attrs on every operation);
    equal only to a link to the same Dumps (``pd.concat`` keeps attrs only when its
    inputs agree).
    """

    def __new__(cls, dumps: Dumps) -> DumpsLink:
        link = super().__new__(cls, "goforensics.Dumps")
        link.dumps = dumps
        return link

    def __deepcopy__(self, memo) -> DumpsLink:
        return self

    def __copy__(self) -> DumpsLink:
        return self

    def __reduce__(self):
        return (str, (str(self),))  # a pickled table does not drag its Dumps along

    def __eq__(self, other) -> bool:
        return isinstance(other, DumpsLink) and other.dumps is self.dumps

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = str.__hash__


@dataclass
class Dumps:
    """The tables of one or many goroutine dumps.

    Build one with :func:`goforensics.load` (or :func:`goforensics.parse_text`);
    the attributes are plain pandas DataFrames, to be used as such.

    >>> from goforensics import parse_text
    >>> d = parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/app/main.go:5 +0x1d\\n")
    >>> d.goroutines[["goid", "state", "top_function"]].values.tolist()
    [[1, 'running', 'main.main']]
    """

    goroutines: pd.DataFrame = field(default_factory=lambda: _empty(GOROUTINE_COLUMNS))
    frames: pd.DataFrame = field(default_factory=lambda: _empty(FRAME_COLUMNS))
    snapshots: pd.DataFrame = field(default_factory=lambda: _empty(SNAPSHOT_COLUMNS))
    warnings: pd.DataFrame = field(default_factory=lambda: _empty(WARNING_COLUMNS))

    def __setattr__(self, name: str, value) -> None:
        object.__setattr__(self, name, value)
        if name == "goroutines" and isinstance(value, pd.DataFrame):
            value.attrs["goforensics"] = DumpsLink(self)

    # -- facts ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.goroutines)

    @property
    def total(self) -> int:
        """Goroutines represented (the sum of ``count``)."""
        return int(self.goroutines["count"].sum())

    def __repr__(self) -> str:
        return (
            f"<Dumps: {len(self.snapshots)} snapshot(s), {self.total:,} goroutines in "
            f"{len(self.goroutines):,} rows, {self.frames['stack_id'].nunique():,} distinct stacks, "
            f"{len(self.warnings)} warning(s)>"
        )

    def summary(self) -> str:
        """A few lines for humans: sources, snapshots, goroutines, what was skipped and why.

        Returns
        -------
        str
            Lines: sources, snapshots, goroutines and the warnings' counts by kind.

        Examples
        --------
        >>> from goforensics.read.parse import parse_text
        >>> print(parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n").summary())
        1 file(s), 1 snapshot(s), 1 goroutines (1 rows, 1 distinct stacks)
        """
        s = self.snapshots
        lines = [
            f"{s['source'].nunique()} file(s), {len(s)} snapshot(s), {self.total:,} goroutines "
            f"({len(self.goroutines):,} rows, {self.frames['stack_id'].nunique():,} distinct stacks)"
        ]
        trunc = s[s["truncated"]]
        for _, r in trunc.iterrows():
            miss = "" if pd.isna(r["missing"]) else f", {int(r['missing']):,} goroutines missing"
            lines.append(f"truncated: snapshot {r['snapshot']} ({r['source']}){miss}")
        if len(self.warnings):
            w = self.warnings
            by = w.groupby("kind", observed=True).agg(n=("lines", "size"), lines=("lines", "sum"))
            for kind, r in by.iterrows():
                lines.append(f"{kind}: {int(r['n'])} place(s), {int(r['lines'])} line(s)")
        return "\n".join(lines)

    # -- views ----------------------------------------------------------------------
    def stacks(self, goroutines: pd.DataFrame | None = None) -> pd.DataFrame:
        """Frames of the distinct stacks used by ``goroutines`` (default: all).

        Parameters
        ----------
        goroutines : DataFrame, optional
            Rows of ``self.goroutines`` whose stacks are wanted (default: all).

        Returns
        -------
        DataFrame
            The frames table's rows of those stacks (``stack_id``, ``section``, ``depth``,
            ``function``, ``package``, ``receiver``, ``method``, ``file``, ``line``, ``offset``,
            ``args``, ``inlined``, ``elided_before``, ``frame_class``).

        Examples
        --------
        >>> from goforensics.read.parse import parse_text
        >>> d = parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
        >>> d.stacks()[["function", "line"]].values.tolist()
        [['main.main', 3]]
        """
        g = self.goroutines if goroutines is None else goroutines
        ids = pd.unique(g["stack_id"])
        return self.frames[self.frames["stack_id"].isin(ids)]

    def frames_of(self, row: int) -> pd.DataFrame:
        """Frames of one goroutine (by its row label in ``goroutines``), with its own args.

        Parameters
        ----------
        row : int
            The goroutine's row label in ``goroutines``.

        Returns
        -------
        DataFrame
            Its frames, top first, with the columns of :meth:`stacks` (its own ``args``).

        Examples
        --------
        >>> from goforensics.read.parse import parse_text
        >>> d = parse_text("goroutine 1 [running]:\\nmain.f(0x1)\\n\\t/m.go:9 +0x1\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
        >>> d.frames_of(0)[["function", "args"]].values.tolist()
        [['main.f', '0x1'], ['main.main', '']]
        """
        return goroutine_frames(self, self.goroutines.loc[[row]])

    # -- combining and storage -----------------------------------------------------------
    @classmethod
    def concat(cls, parts: list[Dumps]) -> Dumps:
        """Concatenate several Dumps (snapshot numbers are kept as they are).

        Parameters
        ----------
        parts : list of Dumps
            The Dumps to put together, in order.

        Returns
        -------
        Dumps
            One Dumps with every table's rows.

        Examples
        --------
        >>> from goforensics.read.parse import parse_text
        >>> a = parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
        >>> len(Dumps.concat([a, a]).goroutines)
        2
        """
        g = _concat_categorical([p.goroutines.copy() for p in parts], GOROUTINE_COLUMNS)
        f = _concat_categorical([p.frames.copy() for p in parts], FRAME_COLUMNS)
        if len(f):
            f = f.drop_duplicates(["stack_id", "section", "depth"]).reset_index(drop=True)
        s = _concat_categorical([p.snapshots.copy() for p in parts], SNAPSHOT_COLUMNS)
        w = _concat_categorical([p.warnings.copy() for p in parts], WARNING_COLUMNS)
        return cls(g, f, s, w)

    def to_parquet(self, path: str | Path) -> Path:
        """Write the four tables into a directory of Parquet files; returns the directory.

        Parameters
        ----------
        path : str or Path
            The directory (created); one Parquet file per table goes into it.

        Returns
        -------
        Path
            The directory.

        Examples
        --------
        >>> import tempfile
        >>> from goforensics.read.parse import parse_text
        >>> d = parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
        >>> out = d.to_parquet(tempfile.mkdtemp())
        >>> sorted(p.name for p in out.iterdir())
        ['frames.parquet', 'goroutines.parquet', 'snapshots.parquet', 'warnings.parquet']
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name in ("goroutines", "frames", "snapshots", "warnings"):
            table = pa.Table.from_pandas(getattr(self, name), preserve_index=False)
            # row groups of 64k rows: the writer buffers one encoded row group at a time, so
            # writing costs little beyond the tables (one group of 200k goroutines: +50 MiB)
            pq.write_table(table, path / f"{name}.parquet", row_group_size=1 << 16)
        return path

    @classmethod
    def from_parquet(cls, path: str | Path) -> Dumps:
        """Read a directory written by :meth:`to_parquet`.

        Parameters
        ----------
        path : str or Path
            A directory :meth:`to_parquet` wrote.

        Returns
        -------
        Dumps
            The four tables, with the catalogue's columns and dtypes.

        Examples
        --------
        >>> import tempfile
        >>> from goforensics.read.parse import parse_text
        >>> d = parse_text("goroutine 1 [running]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")
        >>> back = Dumps.from_parquet(d.to_parquet(tempfile.mkdtemp()))
        >>> back.goroutines.equals(d.goroutines)
        True
        """
        path = Path(path)
        cats = {
            "goroutines": GOROUTINE_COLUMNS,
            "frames": FRAME_COLUMNS,
            "snapshots": SNAPSHOT_COLUMNS,
            "warnings": WARNING_COLUMNS,
        }
        tables = {}
        for name, columns in cats.items():
            df = pq.read_table(path / f"{name}.parquet").to_pandas()
            tables[name] = _conform(df, columns)
        return cls(**tables)


def goroutine_frames(dumps: Dumps, goroutines: pd.DataFrame | None = None) -> pd.DataFrame:
    """The long table: one row per frame of each goroutine, with that goroutine's own args.

    The index of ``goroutines`` is kept in column ``row``.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    goroutines : pandas.DataFrame, optional
        Rows of ``dumps.goroutines`` to expand (default: all of them).

    Returns
    -------
    pandas.DataFrame
        One row per own-stack frame of each goroutine, sorted by ``row`` then ``depth``:
        ``stack_id``, ``args`` (that frame's arguments in that goroutine), ``row``, and the
        frame columns ``section``, ``depth``, ``function``, ``package``, ``receiver``,
        ``method``, ``file``, ``line``, ``offset``, ``inlined``, ``elided_before``,
        ``frame_class``.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 1 [chan receive]:\\nmain.main(0x1, 0x2)\\n\\t/app/main.go:9 +0x18\\n"
    ... )
    >>> goroutine_frames(d)[["row", "depth", "function", "args"]]
       row  depth   function      args
    0    0      0  main.main  0x1, 0x2
    """
    g = dumps.goroutines if goroutines is None else goroutines
    g = g[["stack_id", "args"]].copy()
    g["row"] = g.index
    own = dumps.frames[dumps.frames["section"] == 0].drop(columns=["args"])
    long = g.merge(own, on="stack_id", how="inner").sort_values(["row", "depth"], kind="stable")
    split = long["args"].fillna("").str.split("\n")
    depth = long["depth"].to_numpy()
    long["args"] = [a[d] if d < len(a) else "" for a, d in zip(split, depth, strict=True)]
    return long.reset_index(drop=True)
