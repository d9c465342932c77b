"""The one table builder: rows of goroutines and their stacks in, the tables of :mod:`goforensics.model` out.

Every reader fills a :class:`TableBuilder`: the text reader (:mod:`goforensics.read.reader`)
row by row, the fast path (:mod:`goforensics.read.fast`) in batches of arrays, the protobuf
reader (:mod:`goforensics.read.pprof`) one sample at a time. The builder cuts the input into
snapshots (a repeated goroutine id starts a new dump), stores the frames of each distinct stack
once (keyed by a fingerprint of its frames), keeps the warnings, and returns the four tables
conformed to the column catalogue, whatever path the rows came from.

>>> from goforensics.read.grammar import parse_bracket
>>> b = TableBuilder("demo.txt")
>>> st = b.stack([[Frame("main.main", "", False, "/app/main.go", 3, 0x1d)]], False)
>>> b.add(1, 1, 1, parse_bracket(b"running"), "", st, "", ("", "", None, None))
>>> d = b.tables()
>>> d.goroutines[["goid", "state", "top_function"]].values.tolist(), d.frames["file"].tolist()
([[1, 'running', 'main.main']], ['/app/main.go'])
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import LimitError
from ..goruntime import normalize_state
from ..model import Dumps
from .columns import BATCH_COLUMNS, CAT, Pieces, build_tables
from .grammar import GO_VERSION, Header
from .stacks import Frame, Seen, Stack, fingerprint

__all__ = [
    "BATCH_COLUMNS",
    "SnapshotBudget",
    "TableBuilder",
    "utf8_name",
]


class SnapshotBudget(LimitError):
    """A file holds more snapshots than the budget: the readers stop there (caught by the parser)."""

    def __init__(self, line: int, budget: int):
        super().__init__(
            f"more than {budget} snapshots in one file: the rest, from line {line}, is not read"
            " (raise the budget: GOFORENSICS_LIMIT_SNAPSHOTS)"
        )
        self.line = line


def utf8_name(s: str) -> str:
    r"""A source's name as UTF-8 text: bytes that were not UTF-8 (carried as surrogates by
    ``os.fsdecode``) are written as ``\xNN`` escapes, so that every writer accepts the name.

    Parameters
    ----------
    s : str
        The name, as ``os.fsdecode`` gave it.

    Returns
    -------
    str
        ``s`` itself when it encodes as UTF-8, else ``s`` with each undecodable byte as ``\xNN``.

    Examples
    --------
    >>> utf8_name("dump-\udcff.txt"), utf8_name("plain.txt")
    ('dump-\\xff.txt', 'plain.txt')
    """
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class TableBuilder:
    """Collects rows for one source, cutting it into snapshots (parts)."""

    def __init__(self, source: str, max_snapshots: int = 1 << 62):
        self.source = utf8_name(source)
        self.max_snapshots = max_snapshots
        cols = (
            "part line goid count raw_state state state_inferred wait_minutes locked leaked labels "
            "created_by created_by_file created_by_line creator_goid ancestors elided truncated "
            "n_frames stack_id args m top entry"
        ).split()
        self.cols: dict[str, list] = {c: [] for c in cols}
        # Rows come in batches: the reader's rows are appended to the lists of ``cols``,
        # the fast path adds whole arrays; _seal() turns the lists into a batch, in order.
        self.batches: list[dict[str, object]] = []
        # Categorical columns share one code book per column across batches.
        self.books: dict[str, dict[str, int]] = {
            c: {} for c, k in BATCH_COLUMNS.items() if k == "cat"
        }
        self.stacks: dict[int, tuple[list[list[Frame]], Stack]] = {}
        self.parts: list[dict] = []
        self.warnings: list[tuple] = []
        self._goids = Seen()
        self._state_cache: dict[tuple[str, int], str] = {}
        self.part: dict | None = None

    # -- snapshots ------------------------------------------------------------------------
    def new_part(self, line: int, fmt: str = "debug=2", kind: str = "goroutine dump", **kw) -> dict:
        """Open a new snapshot at ``line``; :class:`SnapshotBudget` when the file has its fill.

        Parameters
        ----------
        line : int
            The line the snapshot starts on.
        fmt : str, default "debug=2"
            Its format: ``debug=2`` (a text dump), ``debug=1`` (a text profile) or ``debug=0``
            (a protobuf profile).
        kind : str, default "goroutine dump"
            What it is: ``goroutine dump``, ``panic``, ``fatal error``, ``goroutine profile`` ...
        **kw
            More of the snapshot's fields (``message``, ``declared_total``, ``taken_at`` ...).

        Returns
        -------
        dict
            The snapshot's fields, as the snapshots table will carry them.

        Examples
        --------
        >>> b = TableBuilder("<text>")
        >>> p = b.new_part(1, kind="panic", message="panic: boom")
        >>> p["part"], p["kind"], b.new_part(9)["part"]
        (0, 'panic', 1)
        """
        if len(self.parts) >= self.max_snapshots:
            raise SnapshotBudget(line, self.max_snapshots)
        self.part = {
            "part": len(self.parts),
            "format": fmt,
            "kind": kind,
            "message": None,
            "line_start": line,
            "line_end": line,
            "goroutines": 0,
            "rows": 0,
            "declared_total": None,
            "truncated": False,
            "taken_at": None,
        }
        self.part.update(kw)
        self.parts.append(self.part)
        self._goids = Seen()
        return self.part

    def ensure_part(self, line: int, fmt: str = "debug=2") -> dict:
        """The current snapshot, or a new one where the format changes (text dump vs profile).

        Parameters
        ----------
        line : int
            The line of the row about to be added.
        fmt : str, default "debug=2"
            The row's format.

        Returns
        -------
        dict
            The snapshot the row goes into.

        Examples
        --------
        >>> b = TableBuilder("<text>")
        >>> b.ensure_part(1)["part"], b.ensure_part(2)["part"]  # no row yet: the same snapshot
        (0, 0)
        """
        p = self.part
        if p is None or ((p["format"] == "debug=2") != (fmt == "debug=2") and p["rows"]):
            p = self.new_part(
                line, fmt, "goroutine dump" if fmt == "debug=2" else "goroutine profile"
            )
        elif (
            p["format"] != fmt
            and not p["rows"]
            and (p["format"] == "debug=2") != (fmt == "debug=2")
        ):
            p["format"] = fmt
        return p

    def warn(self, line: int, nlines: int, kind: str, message: str) -> None:
        """Record a warning of the current snapshot.

        Parameters
        ----------
        line : int or None
            Its first line (None for the whole input).
        nlines : int
            How many lines it covers.
        kind : str
            Its kind (``skipped``, ``limit``, ``race-report`` ...).
        message : str
            One line that says what and why.

        Examples
        --------
        >>> b = TableBuilder("<text>")
        >>> b.warn(3, 2, "skipped", "2 line(s) skipped: 2 text that is not part of a dump")
        >>> b.tables().warnings[["line", "lines", "kind"]].values.tolist()
        [[3, 2, 'skipped']]
        """
        part = self.part["part"] if self.part is not None else None
        self.warnings.append((part, line, nlines, kind, message))

    # -- stacks ---------------------------------------------------------------------------------
    def stack(self, sections: list[list[Frame]], elided: bool) -> Stack:
        """The stack of these frames, each distinct stack kept once (by its fingerprint).

        Parameters
        ----------
        sections : list of list of Frame
            The goroutine's own frames, then each ancestor's.
        elided : bool
            Whether frames were elided.

        Returns
        -------
        Stack
            Its ``stack_id`` and functions (the same object for the same stack).

        Examples
        --------
        >>> from goforensics.read.stacks import Frame
        >>> b = TableBuilder("<text>")
        >>> st = b.stack([[Frame("main.loop", "", False, "/m.go", 9, None)]], False)
        >>> st.functions, b.stack([[Frame("main.loop", "", False, "/m.go", 9, None)]], False) is st
        (['main.loop'], True)
        """
        sid = fingerprint(sections, elided)
        got = self.stacks.get(sid)
        if got is None:
            st = Stack(sid, [f.function for f in sections[0]] if sections else [])
            self.stacks[sid] = (sections, st)
            return st
        return got[1]

    def state_of(self, raw: str, st: Stack) -> str:
        """A printed state as the modern wait-reason name (cached per state and stack).

        Parameters
        ----------
        raw : str
            The state as printed (marks removed).
        st : Stack
            The goroutine's stack: its frames tell which primitive an old ``semacquire`` was.

        Returns
        -------
        str
            The state, normalised.

        Examples
        --------
        >>> from goforensics.read.stacks import Frame
        >>> b = TableBuilder("<text>")
        >>> fns = ["sync.runtime_SemacquireMutex", "sync.(*Mutex).lockSlow"]
        >>> st = b.stack([[Frame(fn, "", False, "", None, None) for fn in fns]], False)
        >>> b.state_of("semacquire", st)
        'sync.Mutex.Lock'
        """
        key = (raw, st.stack_id)
        s = self._state_cache.get(key)
        if s is None:
            s = normalize_state(raw, st.functions)
            self._state_cache[key] = s
        return s

    def add(
        self,
        line,
        goid,
        count,
        hdr: Header | None,
        labels,
        st: Stack,
        args,
        created,
        ancestors="",
        elided=False,
        truncated=False,
        m=None,
        state=None,
        inferred=False,
        leaked=None,
        crash=False,
    ):
        """Add one goroutine (or one ``debug=1`` bucket) row; a goroutine id seen before in the
        snapshot starts a new one.

        Parameters
        ----------
        line : int
            The line of its header.
        goid : int or None
            Its id (None for a profile's bucket).
        count : int
            How many goroutines the row stands for (1, or a bucket's count).
        hdr : Header or None
            Its header's bracket (None for a bucket).
        labels : str
            Its pprof labels, as JSON ('' when none).
        st : Stack
            Its stack (:meth:`stack`).
        args : str
            Its own frames' arguments, one line a frame.
        created : tuple
            ``(created by, file, line, creator goid)``.
        ancestors : str, optional
            The ancestors' goroutine ids (``tracebackancestors``), space-separated.
        elided : bool, default False
            Frames were elided.
        truncated : bool, default False
            The input was cut inside it.
        m : int, optional
            The thread (M) it was printed for, in a crash dump.
        state : str, optional
            The state of a bucket (inferred from its frames).
        inferred : bool, default False
            The state was inferred.
        leaked : bool, optional
            The runtime's leak mark, where the header does not say.
        crash : bool, default False
            It comes from a crash dump's per-M section.

        Examples
        --------
        >>> from goforensics.read.grammar import parse_bracket
        >>> from goforensics.read.stacks import Frame
        >>> b = TableBuilder("<text>")
        >>> st = b.stack([[Frame("main.loop", "", False, "/m.go", 9, None)]], False)
        >>> for goid in (1, 2, 1):  # the repeated id opens a second snapshot
        ...     b.add(goid, goid, 1, parse_bracket(b"select"), "", st, "", ("", "", None, None))
        >>> b.tables().goroutines[["snapshot", "goid", "state"]].values.tolist()
        [[0, 1, 'select'], [0, 2, 'select'], [1, 1, 'select']]
        """
        part = self.ensure_part(line, "debug=2" if goid is not None else "debug=1")
        if goid is not None:
            # A repeated id means a new dump, except goroutine 0 (each M's g0) and in crash
            # dumps (gp=/m= headers), where each M's current goroutine is printed again.
            if goid in self._goids and goid and not crash:
                part = self.new_part(line, "debug=2", "goroutine dump")
            self._goids.add(goid)
            if crash:
                part["_crash"] = True
        c = self.cols
        c["part"].append(part["part"])
        c["line"].append(line)
        c["goid"].append(goid)
        c["count"].append(count)
        if hdr is not None:
            c["raw_state"].append(hdr.raw)
            c["state"].append(self.state_of(hdr.state, st))
            c["wait_minutes"].append(hdr.minutes)
            c["locked"].append(hdr.locked)
            c["leaked"].append(hdr.leaked if leaked is None else leaked)
        else:
            c["raw_state"].append("")
            c["state"].append(state or "unknown")
            c["wait_minutes"].append(None)
            c["locked"].append(False)
            c["leaked"].append(bool(leaked))
        c["state_inferred"].append(inferred)
        c["labels"].append(labels)
        fn, file, ln, cg = created
        c["created_by"].append(fn)
        c["created_by_file"].append(file)
        c["created_by_line"].append(ln)
        c["creator_goid"].append(cg)
        c["ancestors"].append(ancestors)
        c["elided"].append(elided)
        c["truncated"].append(truncated)
        c["n_frames"].append(len(st.functions))
        c["stack_id"].append(st.stack_id)
        c["args"].append(args)
        c["m"].append(m)
        c["top"].append(st.top)
        c["entry"].append(st.entry)
        part["goroutines"] += count
        part["rows"] += 1
        part["line_end"] = line

    def add_bulk(
        self,
        lines: np.ndarray,
        goids: np.ndarray,
        cols: dict[str, object],
        taken_at: str | None,
        crash: np.ndarray | None = None,
    ) -> None:
        """Append rows made by the fast path: what :meth:`add` does row by row, on arrays.

        ``cols`` holds every column but ``part``, ``line`` and ``goid`` (as :data:`BATCH_COLUMNS`
        describes them); the snapshot cuts (a repeated goroutine id starts a new one) and the
        snapshot accounting are done here, exactly as :meth:`add` and the reader do them.

        Parameters
        ----------
        lines : ndarray
            Each row's header line.
        goids : ndarray
            Each row's goroutine id.
        cols : dict
            The other columns, arrays or codes as :data:`BATCH_COLUMNS` describes them.
        taken_at : str or None
            A capture time found in the content, for a snapshot that has none.
        crash : ndarray, optional
            Rows from a crash dump's per-M sections.

        Examples
        --------
        The fast path adds its goroutines through this method:

        >>> from goforensics.read.fast import FastPath
        >>> from goforensics.read.reader import Reader
        >>> b = TableBuilder("<text>")
        >>> text = b"\\n".join(b"goroutine %d [sleep]:\\nmain.f()\\n\\t/a.go:3 +0x1\\n" % k for k in range(1, 51))
        >>> _ = FastPath(b, Reader(b)).region(1, text, len(text))
        >>> len(b.batches) > 0, b.n_rows()
        (True, 50)
        """
        n = len(lines)
        line_list = lines.tolist()
        part = self.ensure_part(line_list[0], "debug=2")
        if taken_at and part.get("taken_at") is None:  # the reader's start_goroutine does this
            part["taken_at"] = taken_at
        seen = self._goids
        cuts: list[int] = []
        ordered = np.sort(goids)
        if crash is None and not (ordered[1:] == ordered[:-1]).any() and not seen.any_in(goids):
            seen.add_sorted(ordered)
        else:  # a repeated id (or crash headers): cut where the reader would, row by row
            flags = crash.tolist() if crash is not None else [False] * n
            for i, x in enumerate(goids.tolist()):
                if x in seen and x and not flags[i]:
                    cuts.append(i)
                    seen = Seen()
                seen.add(x)
            self._goids = seen
        over = None
        if len(cuts) > self.max_snapshots - len(
            self.parts
        ):  # keep the rows before the budget's end
            n = cuts[self.max_snapshots - len(self.parts)]
            over = line_list[n]
            cuts = cuts[: self.max_snapshots - len(self.parts)]
            lines, goids, line_list = lines[:n], goids[:n], line_list[:n]
            cols = {k: v[:n] for k, v in cols.items()}
            crash = crash[:n] if crash is not None else None
            if not n:
                raise SnapshotBudget(over, self.max_snapshots)
        part_col = np.empty(n, np.int32)
        bounds = [0, *cuts, n]
        for k in range(len(bounds) - 1):
            lo, hi = bounds[k], bounds[k + 1]
            if k:
                part = self.new_part(line_list[lo], "debug=2", "goroutine dump")
                self._goids = seen if k == len(bounds) - 2 else Seen()
                if taken_at and lo + 1 < n:  # set when the next goroutine starts
                    part["taken_at"] = taken_at
            part_col[lo:hi] = part["part"]
            if crash is not None and crash[lo:hi].any():
                part["_crash"] = True
            part["goroutines"] += hi - lo
            part["rows"] += hi - lo
            part["line_end"] = line_list[hi - 1]
        self._seal()
        self.batches.append({"part": part_col, "line": lines, "goid": goids, **cols})
        if over is not None:
            raise SnapshotBudget(over, self.max_snapshots)

    def _seal(self) -> None:
        """Move the rows in the lists of ``cols`` into a batch."""
        c = self.cols
        if not c["part"]:
            return
        batch: dict[str, object] = {
            "part": np.asarray(c["part"], np.int32),
            "line": np.asarray(c["line"], np.int64),
            "goid": pd.array(c["goid"], dtype="Int64"),
        }
        c["part"], c["line"], c["goid"] = [], [], []
        for name, kind in BATCH_COLUMNS.items():
            v = c[name]
            if kind == "cat":
                batch[name] = self.codes(name, v)
            elif kind == "args":
                batch[name] = pa.array(v, pa.large_string())
            elif kind in ("Int64", "Int32"):
                batch[name] = pd.array(v, dtype=kind)
            else:
                batch[name] = np.asarray(v, dtype=kind)
            c[name] = []
        self.batches.append(batch)

    def mark_last_truncated(self) -> None:
        """Flag the last row read as cut by the end of the input.

        Examples
        --------
        >>> from goforensics.read.stacks import Frame
        >>> b = TableBuilder("<text>")
        >>> st = b.stack([[Frame("main.loop", "", False, "/m.go", 9, None)]], False)
        >>> b.add(1, 7, 1, None, "", st, "", ("", "", None, None))
        >>> b.mark_last_truncated()
        >>> b.tables().goroutines["truncated"].tolist()
        [True]
        """
        if self.cols["truncated"]:
            self.cols["truncated"][-1] = True
        elif self.batches:
            t = self.batches[-1]["truncated"]
            t[-1] = True

    def n_rows(self) -> int:
        """How many rows were added so far (by the reader and the fast path).

        Returns
        -------
        int
            The number of rows.

        Examples
        --------
        >>> from goforensics.read.stacks import Frame
        >>> b = TableBuilder("<text>")
        >>> st = b.stack([[Frame("main.loop", "", False, "/m.go", 9, None)]], False)
        >>> b.n_rows(), (b.add(1, 7, 1, None, "", st, "", ("", "", None, None)), b.n_rows())[1]
        (0, 1)
        """
        return len(self.cols["part"]) + sum(len(b["part"]) for b in self.batches)

    # -- output ------------------------------------------------------------------------------------
    def codes(self, name: str, values: list) -> np.ndarray:
        """Codes of ``values`` in the code book of categorical column ``name`` (-1 for None).

        Parameters
        ----------
        name : str
            A categorical column of :data:`BATCH_COLUMNS`.
        values : list
            Its values (str or None).

        Returns
        -------
        ndarray of int32
            One code per value, new values added to the book.

        Examples
        --------
        >>> b = TableBuilder("<text>")
        >>> b.codes("state", ["select", "sleep", None, "select"]).tolist()
        [0, 1, -1, 0]
        """
        book = self.books[name]
        return np.fromiter(
            (-1 if v is None else book.setdefault(v, len(book)) for v in values),
            np.int32,
            len(values),
        )

    def _column(self, name: str, kind: str):
        parts = [b.pop(name) for b in self.batches]  # each batch's copy goes once it is joined
        if kind == CAT:  # codes into the code book, in the book's order (sorted once, later)
            codes = np.concatenate(parts) if parts else np.zeros(0, np.int32)
            return codes, list(self.books[name])
        if kind == "args":
            chunks = [
                p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.array(p, pa.large_string())
                for p in parts
            ] or [pa.array([], pa.large_string())]
            return pa.chunked_array(chunks, pa.large_string())
        if kind in ("Int64", "Int32"):
            if not parts:
                return pd.array([], dtype=kind)
            arrays = [pd.array(p, dtype=kind) for p in parts]
            return arrays[0] if len(arrays) == 1 else type(arrays[0])._concat_same_type(arrays)
        if not parts:
            return np.zeros(0, kind)
        return np.concatenate([np.asarray(p, dtype=kind) for p in parts])

    def tables(self, classify: bool = True) -> Dumps:
        """The four tables of everything added; ``classify=False`` leaves ``frame_class`` empty
        (a caller that classifies a whole series at once does it once, not per file).

        Parameters
        ----------
        classify : bool, default True
            Fill the frames' ``frame_class``.

        Returns
        -------
        Dumps
            ``goroutines``, ``frames``, ``snapshots`` and ``warnings``, with the catalogue's
            columns and dtypes.

        Examples
        --------
        >>> from goforensics.read.stacks import Frame
        >>> b = TableBuilder("<text>")
        >>> st = b.stack([[Frame("main.loop", "", False, "/m.go", 9, None)]], False)
        >>> b.add(1, 7, 1, None, "", st, "", ("", "", None, None))
        >>> d = b.tables()
        >>> len(d.goroutines), d.frames["function"].tolist(), d.snapshots["source"].tolist()
        (1, ['main.loop'], ['<text>'])
        """
        return build_tables([self.pieces()], classify=classify, series=False)

    def pieces(self) -> Pieces:
        """Everything added, as light columns: what a loader of many files keeps of each
        until it builds the tables of all at once.

        Returns
        -------
        Pieces
            The file's plain columns, its distinct stacks, its snapshot parts, warnings and
            Go version (:class:`~goforensics.read.columns.Pieces`).

        Examples
        --------
        >>> from goforensics.read.stacks import Frame
        >>> b = TableBuilder("<text>")
        >>> st = b.stack([[Frame("main.loop", "", False, "/m.go", 9, None)]], False)
        >>> b.add(1, 7, 1, None, "", st, "", ("", "", None, None))
        >>> p = b.pieces()
        >>> p.source, p.n
        ('<text>', 1)
        """
        self._seal()
        cols = {name: self._column(name, kind) for name, kind in BATCH_COLUMNS.items()}
        cols["part"] = self._column("part", "int32")
        cols["line"] = self._column("line", "int64")
        cols["goid"] = self._column("goid", "Int64")
        self.batches = []
        n = len(cols["count"])
        parts = [{k: v for k, v in p.items() if not k.startswith("_")} for p in self.parts]
        for p in parts:
            p["time_source"] = "content" if p["taken_at"] is not None else ""
            total = p["declared_total"]
            p["missing"] = (
                total - p["goroutines"] if total is not None and total >= p["goroutines"] else None
            )
        if any(p["taken_at"] is not None for p in parts):  # times found in the content
            times = _times(pd.Series([p["taken_at"] for p in parts]))
            for p, t in zip(parts, times, strict=True):
                p["taken_at"] = t
        version = self._version() or _version_bound(cols, n, self._args_have_groups)
        return Pieces(
            self.source,
            cols,
            n,
            {sid: sections for sid, (sections, _st) in self.stacks.items()},
            parts,
            list(self.warnings),
            version,
        )

    def _version(self) -> str | None:
        """The Go release the first file path naming one says (files in order of first use)."""
        for sections, _st in self.stacks.values():
            for frames in sections:
                for f in frames:
                    v = _version_in_path(f.file)
                    if v is not None:
                        return v
        return None

    def _args_have_groups(self) -> bool:
        """Does any frame print its arguments in ``{...}`` groups (Go 1.17's register ABI)?"""
        return any(
            "{" in f.args for sections, _ in self.stacks.values() for fs in sections for f in fs
        )


def _times(s: pd.Series) -> list:
    """Capture times read in the content, as the snapshots table takes them (one file at a time:
    the format of its first time is the format of all)."""
    return list(pd.to_datetime(s, utc=True).astype("datetime64[ns, UTC]"))


def _any_not_empty(col: tuple[np.ndarray, list]) -> bool:
    """Does a categorical column, as (codes, cats), hold any value other than ''?"""
    codes, cats = col
    nonempty = np.flatnonzero(np.array([str(c) != "" for c in cats], bool))
    return bool(np.isin(codes, nonempty).any())


@functools.lru_cache(maxsize=1 << 14)
def _version_in_path(path: str) -> str | None:
    """The Go release a GOROOT path names (``/go1.23.0/src/``), if any; each path is looked at once.

    >>> _version_in_path("/usr/local/go1.23.4/src/runtime/proc.go"), _version_in_path("/app/m.go")
    ('1.23.4', None)
    """
    m = GO_VERSION.search(path)
    return m.group(1) if m else None


def _version_bound(cols: dict, n: int, args_have_groups) -> str:
    """A lower bound on the Go version from format features, where no path names the release."""
    bound = None
    if n and _any_not_empty(cols["labels"]) and _any_not_empty(cols["raw_state"]):
        bound = "1.27"
    elif n and cols["leaked"].any():
        bound = "1.26"
    elif n and (~cols["creator_goid"].isna()).any():
        bound = "1.21"
    elif args_have_groups():
        bound = "1.17"
    return f">={bound}" if bound else ""
