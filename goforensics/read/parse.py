"""Parse goroutine dumps in text form into the tables of :mod:`goforensics.model`.

One forgiving parser reads everything a Go program writes about its goroutines:
``debug=2`` tracebacks of every Go version (panics, fatal errors, SIGQUIT and
crash dumps with their preambles), ``debug=1`` and ``goroutineleak`` profiles
(several per file too), and all of these inside logs (line prefixes, quoting,
any indentation, CRLF, test2json, stacks escaped into one JSON/logfmt field).
It never raises on bad input: what it cannot use is counted in the
``warnings`` table with the line and the reason.

Two paths read the text and give the same tables (the tests check it on real
dumps, on random ones in every dialect and on mangled ones):

* the reference reader (:class:`goforensics.read.reader.Reader`), line by line, for every
  dialect, over the line grammar of :mod:`goforensics.read.grammar`;
* the fast path (:class:`goforensics.read.fast.FastPath`) for standard blocks of a stack already seen (the
  usual case in a big dump: thousands of goroutines parked in the same place):
  :func:`goforensics.read.scan.scan_blocks` cuts whole regions of text into arrays
  with numpy and pyarrow, each distinct stack is read once by the reference
  reader, and the other goroutines on it are added from arrays.

Both fill the one table builder (:class:`goforensics.read.tables.TableBuilder`), which the
protobuf reader (:mod:`goforensics.read.pprof`) uses too.

It streams: the input is read in chunks and cut into regions at blank lines,
scanned ahead by threads (the kernels release the GIL), so memory follows the
size of the tables, not of the text.

>>> d = parse_text('''goroutine 7 [chan receive, 3 minutes] {handler: /api}:
... main.worker(0xc000012345)
... \t/app/main.go:42 +0x1d
... created by main.main in goroutine 1
... \t/app/main.go:20 +0x3e
... ''')
>>> g = d.goroutines.iloc[0]
>>> print(g.goid, g.state, g.wait_minutes, g.labels, g.created_by, g.creator_goid, sep=" | ")
7 | chan receive | 3 | {"handler": "/api"} | main.main | 1
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from ..errors import LimitError, ParseError
from ..model import Dumps
from .columns import Pieces
from .fast import FastPath
from .grammar import MAX_LINE
from .limits import Limits, current, gunzip_chunks
from .pprof import looks_like_profile, parse_profile
from .reader import Mode, Reader
from .scan import Blocks, scan_blocks
from .tables import SnapshotBudget, TableBuilder

__all__ = ["CHUNK_SIZE", "parse_file", "parse_pieces", "parse_text", "read_chunks"]

CHUNK_SIZE = 8 << 20
PPROF_LIMIT = 64 << 20  # runtime/pprof stops a debug=2 dump here
_GZIP = b"\x1f\x8b"


def read_chunks(
    path: str | Path, chunk_size: int | None = None, limits: Limits | None = None
) -> Iterator[bytes]:
    r"""The bytes of a file in chunks; gzip (by its magic number) is inflated on the fly.

    Parameters
    ----------
    path : the file.
    chunk_size : bytes per chunk (default :data:`CHUNK_SIZE`).
    limits : budgets (default :func:`goforensics.read.limits.current`): a gzip file inflates
        to at most ``limits.inflate_budget(its size)`` bytes.

    Yields
    ------
    bytes
        The file's bytes, chunk by chunk; it raises :class:`~goforensics.errors.ParseError`
        (a file that cannot be opened, a corrupt gzip stream) or
        :class:`~goforensics.errors.LimitError` (past the budget), each with a one-line message.

    Examples
    --------
    >>> import gzip, tempfile, os
    >>> fd, name = tempfile.mkstemp(suffix=".gz")
    >>> _ = os.write(fd, gzip.compress(b"goroutine 1 [running]:\n")); os.close(fd)
    >>> b"".join(read_chunks(name))
    b'goroutine 1 [running]:\n'
    """
    chunk_size = chunk_size or CHUNK_SIZE
    lim = current(limits)
    try:
        fh = open(path, "rb")
    except OSError as e:
        raise ParseError(f"{path}: cannot open: {e.strerror or e}") from None
    with fh:
        if fh.read(2) != _GZIP:
            fh.seek(0)
            while chunk := fh.read(chunk_size):
                yield chunk
            return
        fh.seek(0)
        budget = lim.inflate_budget(os.fstat(fh.fileno()).st_size)
        yield from gunzip_chunks(fh, budget, str(path), chunk_size)


def _parse_chunks(
    chunks: Iterable[bytes],
    source: str,
    fast: bool = True,
    workers: int | None = None,
    limits: Limits | None = None,
    classify: bool = True,
    pieces: bool = False,
    carry: list | None = None,
) -> Dumps | Pieces:
    """Parse a stream of byte chunks (see :class:`_Stream`); budgets end it with a warning.

    ``carry``: a list holding the fast path of the file read before (or nothing), which this
    file's fast path takes over and then replaces (see :class:`FastPath`)."""
    lim = current(limits)
    b = TableBuilder(source, lim.snapshots)
    r = Reader(b, lim)
    fp = FastPath(b, r, carry[0] if carry else None) if fast else None
    if carry is not None and fp is not None:
        carry[:] = [fp]
    st = _Stream(r, fp, _default_workers() if workers is None else workers, lim.line)
    try:
        try:
            ended = st.run(chunks)
        finally:
            st.shutdown()
        st.close()
        if ended is not None:  # the input was cut by a budget: what was read is kept
            _cut_by_budget(b, st.lineno, str(ended))
    except SnapshotBudget as e:
        r.flush_skip()
        _cut_by_budget(b, e.line, str(e))
    return b.pieces() if pieces else b.tables(classify)


def _cut_by_budget(b: TableBuilder, line: int, message: str) -> None:
    b.warn(line, 0, "limit", message)
    if b.parts:
        b.parts[-1]["truncated"] = True


class _Stream:
    """Cuts a stream of chunks into regions that end where a blank line starts (so no goroutine
    straddles two) and feeds them, in order, to the fast path or the reader.

    With the fast path, regions are scanned (:func:`scan_blocks`, numpy and pyarrow kernels
    that release the GIL) by ``workers`` threads ahead of the reader, which takes them in
    order: the tables do not depend on the number of workers. Memory follows the size of the
    tables, not of the text: a line longer than the line budget is dropped as it streams (its
    pieces are never joined), and a run of chunks of newlines costs their count only.
    """

    def __init__(self, r: Reader, fp: FastPath | None, workers: int, max_line: int):
        self.r, self.fp, self.workers, self.max_line = r, fp, workers, max_line
        self.lineno = 1
        self.carry = b""  # text after the last region (whole lines and a partial one)
        self.pieces: list[bytes] = []  # chunks with no newline, after carry
        self.pieces_len = 0
        self.dropping = False  # inside a line over the budget: its bytes are not kept
        self.total = 0
        self.pool: ThreadPoolExecutor | None = None
        self.queue: deque = deque()  # regions, in order: (data, length, scan future or None)

    def run(self, chunks: Iterable[bytes]) -> LimitError | None:
        """Take every chunk; the budget error that ended the input early, if one did."""
        ahead = self.fp is not None and self.workers > 1
        it = _read_ahead(_line_ends(chunks), ahead)
        try:
            # a chunk is handed on in a list, so that no frame but the one using it holds it
            while (box := [next(it, None)])[0] is not None:
                self.total += len(box[0])
                self.take(box)
        except SnapshotBudget:
            raise
        except LimitError as e:  # the chunks stopped (an inflate budget): the input ends here
            self.drain()
            return e
        self.drain()
        return None

    def take(self, box: list[bytes]) -> None:
        chunk = box.pop()
        if self.dropping:
            nl = chunk.find(b"\n")
            if nl < 0:
                return
            self.dropping = False
            chunk = chunk[nl + 1 :]
        if len(chunk) > 1 and not self.pieces and _only_newlines(chunk):
            self._newlines(len(chunk))
            return
        if b"\n" not in chunk:  # kept apart, not copied, until a newline comes
            self.pieces.append(chunk)
            self.pieces_len += len(chunk)
            self._check_line()
            return
        if self.carry or self.pieces:
            parts = [self.carry, *self.pieces, chunk]
            self.carry, self.pieces, self.pieces_len = b"", [], 0
            box.append(b"".join(parts))
            del parts
        else:
            box.append(chunk)
        del chunk
        self._cut(box)

    def _cut(self, box: list[bytes]) -> None:
        data = box.pop()
        hold_cr = data[-1:] == b"\r"  # a CRLF may straddle two chunks
        if hold_cr:
            data = data[:-1]
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        cut = data.rfind(b"\n\n")
        if cut < 0:
            self.carry = data
            if len(data) > 2 * MAX_LINE:  # no blank line for long: read it line by line
                nl = data.rfind(b"\n")
                if nl >= 0:
                    self.drain()
                    self.lineno = _region(self.r, None, self.lineno, data, nl)
                    self.carry = data[nl + 1 :]
        else:
            # the region ends where a blank line starts: blocks never straddle two regions
            fut = None
            if self.fp is not None and self.total > CHUNK_SIZE and self.workers > 1:
                if self.pool is None:
                    self.pool = ThreadPoolExecutor(
                        self.workers, thread_name_prefix="goforensics-scan"
                    )
                fut = self.pool.submit(_scan_job, self.fp, memoryview(data)[:cut])
            self.queue.append((data, cut, fut))
            self.carry = data[cut + 2 :]
            while len(self.queue) > self.workers:
                self.run_one()
        del data
        if hold_cr:
            self.carry += b"\r"
        self._check_line()

    def _check_line(self) -> None:
        """Past the line budget, read the whole lines kept so far and drop the partial one."""
        nl = self.carry.rfind(b"\n")
        if len(self.carry) - nl - 1 + self.pieces_len <= self.max_line:
            return
        self.drain()
        if nl >= 0:
            self.lineno = _region(self.r, None, self.lineno, self.carry, nl)
        self.r.end_goroutine()
        self.r.skip(self.lineno, "lines past the line budget (GOFORENSICS_LIMIT_LINE)")
        self.lineno += 1
        self.carry, self.pieces, self.pieces_len, self.dropping = b"", [], 0, True

    def _newlines(self, n: int) -> None:
        """A chunk of n >= 2 newlines only: n empty lines, fed as the reader would take them."""
        if self.carry:  # the first two end carry's last line and make a blank line
            self._cut([self.carry + b"\n\n"])
            n -= 2
        self.drain()
        if not n:
            return
        r = self.r
        r.feed(self.lineno, b"")
        if r.mode is Mode.RACE:  # a race report counts its lines
            for k in range(1, n):
                r.feed(self.lineno + k, b"")
        self.lineno += n
        r.last_lineno = self.lineno - 1

    def run_one(self) -> None:
        data, length, fut = self.queue.popleft()
        scanned = fut.result() if fut is not None else None
        self.lineno = _region(self.r, self.fp, self.lineno, data, length, scanned=scanned)
        self.r.feed(self.lineno, b"")  # the blank line that ended the region
        self.lineno += 1
        if fut is not None:  # give back what the scan's arrays held (memory follows the tables)
            pa.default_memory_pool().release_unused()

    def drain(self) -> None:
        while self.queue:
            self.run_one()

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def close(self) -> None:
        """Read what is left after the last region, close what is open, say how the input ended."""
        r, b, carry = self.r, self.r.b, self.carry
        if self.pieces:
            carry = b"".join([carry, *self.pieces])
        ends_mid_line = bool(carry) and not carry.endswith(b"\n")
        if carry:
            carry = carry.replace(b"\r\n", b"\n").rstrip(b"\r")
            if carry.endswith(b"\n"):
                carry = carry[:-1]
            self.lineno = _region(
                r, self.fp, self.lineno, carry, len(carry), open_end=ends_mid_line
            )
        cut_input = r.finish(ends_mid_line, carry.rpartition(b"\n")[2] if ends_mid_line else b"")
        if self.total == PPROF_LIMIT and b.parts and b.parts[-1]["format"] == "debug=2":
            b.parts[-1]["truncated"] = True
            b.warn(
                self.lineno,
                0,
                "truncated",
                "the input is exactly 64 MiB, where runtime/pprof cuts a debug=2 dump: goroutines are missing",
            )
        elif cut_input:
            b.warn(self.lineno, 0, "truncated", "the input ends inside a goroutine")


def _only_newlines(chunk: bytes) -> bool:
    return chunk[:1] == b"\n" and chunk[-1:] == b"\n" and chunk.count(b"\n") == len(chunk)


def _line_ends(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, with old Mac line ends (CR only: no LF in the first chunk) made LF."""
    it = iter(chunks)
    for first in it:
        if not first:
            continue
        if b"\n" in first or b"\r" not in first:
            yield first
            yield from it
            return
        yield first.replace(b"\r", b"\n")
        for chunk in it:
            yield chunk.replace(b"\r", b"\n")
        return


def _default_workers() -> int:
    # beyond a few scan threads the reader's own work is the bottleneck
    return max(1, min(4, os.cpu_count() or 1))


def _read_ahead(chunks: Iterable[bytes], ahead: bool) -> Iterator[bytes]:
    """The chunks, the next one read (or decompressed) by a thread while this one is used."""
    it = iter(chunks)
    if not ahead:
        yield from it
        return
    first = next(it, None)
    if first is None:
        return
    if len(first) < CHUNK_SIZE:  # a small input: one chunk, nothing to read ahead of
        yield first
        del first
        yield from it
        return
    with ThreadPoolExecutor(1, thread_name_prefix="goforensics-read") as pool:
        nxt = pool.submit(next, it, None)
        yield first
        del first
        while (chunk := nxt.result()) is not None:
            nxt = pool.submit(next, it, None)
            yield chunk
            del chunk


def _scan_job(fp: FastPath, view: memoryview) -> Blocks:
    sb = scan_blocks(view)
    fp.precompute(sb)
    return sb


def _region(
    r: Reader,
    fp: FastPath | None,
    lineno: int,
    data: bytes,
    length: int,
    open_end: bool = False,
    scanned: Blocks | None = None,
) -> int:
    """Feed the lines of ``data[:length]`` (fast path where it can); returns the next line number."""
    if fp is not None:
        return fp.region(lineno, data, length, open_end, scanned)
    feed = r.feed
    view = data if length == len(data) else data[:length]
    for ln in view.split(b"\n"):
        feed(lineno, ln)
        lineno += 1
    return lineno


def parse_text(
    text: str | bytes,
    source: str = "<text>",
    fast: bool = True,
    workers: int | None = None,
    *,
    limits: Limits | None = None,
    classify: bool = True,
) -> Dumps:
    """Parse dump text of any dialect (or gzipped text, or a protobuf profile) into tables.

    Parameters
    ----------
    text : the text (str or bytes; gzip is inflated, within the budget).
    source : the name the tables give the input.
    fast : use the vector fast path (the tables are the same without it).
    workers : threads scanning ahead on big inputs (default: the cores, at most 4).
    limits : budgets (default :func:`goforensics.read.limits.current`).
    classify : fill ``frame_class`` (a caller that classifies a whole series once says False).

    Returns
    -------
    :class:`~goforensics.model.Dumps`: goroutines, frames, snapshots and warnings. Bad content
    never raises: it is skipped and counted in ``warnings``.

    Examples
    --------
    >>> parse_text("no dump here").warnings[["kind", "message"]].values.tolist()
    [['skipped', '1 line(s) skipped: 1 text that is not part of a dump']]
    """
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    lim = current(limits)
    if data[:2] == _GZIP:
        budget = lim.inflate_budget(len(data))
        chunks = gunzip_chunks(io.BytesIO(data), budget, source, CHUNK_SIZE)
    else:
        chunks = (data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE))
    return _parse_any(chunks, source, fast, workers, lim, classify)


def parse_file(
    path: str | Path,
    source: str | None = None,
    fast: bool = True,
    workers: int | None = None,
    *,
    limits: Limits | None = None,
    classify: bool = True,
) -> Dumps:
    r"""Parse one file: text dumps of any kind (gzipped or not), or a ``debug=0`` protobuf profile.

    Parameters
    ----------
    path : the file.
    source : the name the tables give it (default: the path).
    fast, workers, limits, classify : as for :func:`parse_text`.

    Returns
    -------
    :class:`~goforensics.model.Dumps`. Raises :class:`~goforensics.errors.ParseError` only
    when the file cannot be read at all (and :class:`~goforensics.errors.LimitError` for a
    protobuf profile over its budget); a text input cut by a budget keeps what was read, with
    a ``limit`` warning.

    Examples
    --------
    >>> import tempfile, os
    >>> fd, name = tempfile.mkstemp()
    >>> _ = os.write(fd, b"goroutine 1 [running]:\rmain.main()\r\t/m.go:3 +0x1\r"); os.close(fd)
    >>> parse_file(name).goroutines[["goid", "state", "top_function"]].values.tolist()
    [[1, 'running', 'main.main']]
    """
    src = str(path) if source is None else source
    lim = current(limits)
    return _parse_any(read_chunks(path, limits=lim), src, fast, workers, lim, classify)


def parse_pieces(
    path: str | Path,
    source: str | None = None,
    fast: bool = True,
    *,
    limits: Limits | None = None,
    carry: list | None = None,
) -> Pieces:
    r"""Parse one file as :func:`parse_file` does, into light columns rather than tables.

    What a loader of many files keeps of each (plain arrays, code books and the file's
    distinct stacks): :func:`goforensics.read.columns.build_tables` makes the tables of all
    of them at once, the same tables as parsing them one by one and concatenating.

    Parameters
    ----------
    path, source, fast, limits : as for :func:`parse_file`.
    carry : a list, the same for the files of one series read in order: what the fast path
        learnt of the stacks of a file is used for the next (each distinct stack is then read
        by the reference reader once per series); the tables are the same without it.

    Returns
    -------
    :class:`~goforensics.read.columns.Pieces`; errors as for :func:`parse_file`.

    Examples
    --------
    >>> import tempfile, os
    >>> fd, name = tempfile.mkstemp()
    >>> _ = os.write(fd, b"goroutine 1 [running]:\nmain.main()\n\t/m.go:3 +0x1\n"); os.close(fd)
    >>> p = parse_pieces(name, "m.txt")
    >>> p.n, p.source, [s["kind"] for s in p.parts]
    (1, 'm.txt', ['goroutine dump'])
    """
    src = str(path) if source is None else source
    lim = current(limits)
    chunks = read_chunks(path, limits=lim)
    return _parse_any(chunks, src, fast, None, lim, False, pieces=True, carry=carry)


def _parse_any(
    chunks: Iterator[bytes],
    source: str,
    fast,
    workers,
    lim: Limits,
    classify,
    pieces=False,
    carry: list | None = None,
) -> Dumps | Pieces:
    """A protobuf profile (by its first bytes) or text."""
    try:
        first = [next(chunks, b"")]
    except LimitError as e:  # over a budget before the first chunk: an empty, cut, text
        return _parse_chunks(_raising(e), source, fast, workers, lim, classify, pieces, carry)
    if looks_like_profile(first[0][:4096]):
        data = _whole(first.pop(), chunks, lim.message, source)
        return parse_profile(data, source=source, pieces=pieces)
    return _parse_chunks(_chain(first, chunks), source, fast, workers, lim, classify, pieces, carry)


def _raising(e: Exception) -> Iterator[bytes]:
    raise e
    yield b""  # a generator that raises when first asked


def _whole(head: bytes, rest: Iterator[bytes], budget: int, source: str) -> bytes:
    """A protobuf message, whole (the wire format needs it), within its budget."""
    parts, size = [head], len(head)
    for chunk in rest:
        size += len(chunk)
        if size > budget:
            raise LimitError(
                f"{source}: a protobuf profile over {budget} bytes (budget: GOFORENSICS_LIMIT_MESSAGE)"
            )
        parts.append(chunk)
    return b"".join(parts)


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """The first chunk, then the rest; the first is not kept once it has been read."""
    head = first.pop()
    if head:
        yield head
    del head
    yield from rest
