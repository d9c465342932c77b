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

import gzip
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from ..errors import ParseError
from ..model import Dumps
from .fast import FastPath
from .grammar import MAX_LINE
from .pprof import looks_like_profile, parse_profile
from .reader import Reader
from .scan import Blocks, scan_blocks
from .tables import TableBuilder

__all__ = ["CHUNK_SIZE", "parse_file", "parse_text", "read_chunks"]

CHUNK_SIZE = 8 << 20
PPROF_LIMIT = 64 << 20  # runtime/pprof stops a debug=2 dump here


def read_chunks(path: str | Path, chunk_size: int | None = None) -> Iterator[bytes]:
    """The bytes of a file in chunks; gzip (by its magic number) is decompressed on the fly."""
    chunk_size = chunk_size or CHUNK_SIZE
    try:
        fh = open(path, "rb")
    except OSError as e:
        raise ParseError(f"{path}: cannot open: {e.strerror or e}") from None
    with fh:
        stream = gzip.GzipFile(fileobj=fh) if fh.read(2) == b"\x1f\x8b" else fh
        fh.seek(0)
        try:
            while chunk := stream.read(chunk_size):
                yield chunk
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise ParseError(f"{path}: unreadable gzip stream: {e}") from None


def _parse_chunks(
    chunks: Iterable[bytes], source: str, fast: bool = True, workers: int | None = None
) -> Dumps:
    """Parse a stream of byte chunks.

    The text is cut into regions that end where a blank line starts, so no goroutine
    straddles two of them. With the fast path, regions are scanned (:func:`scan_blocks`,
    numpy and pyarrow kernels that release the GIL) by ``workers`` threads ahead of the
    reader, which takes them in order: the tables do not depend on the number of workers.
    """
    b = TableBuilder(source)
    r = Reader(b)
    fp = FastPath(b, r) if fast else None
    workers = _default_workers() if workers is None else workers
    lineno = 1
    carry = b""
    total = 0
    pool: ThreadPoolExecutor | None = None
    queue: deque = deque()  # regions, in order: (data, length, scan future or None)

    def run_one() -> None:
        nonlocal lineno
        data, length, fut = queue.popleft()
        lineno = _region(
            r, fp, lineno, data, length, scanned=fut.result() if fut is not None else None
        )
        r.feed(lineno, b"")  # the blank line that ended the region
        lineno += 1
        if fut is not None:  # give back what the scan's arrays held (memory follows the tables)
            pa.default_memory_pool().release_unused()

    try:
        for chunk in _read_ahead(chunks, fast and workers > 1):
            total += len(chunk)
            data = carry + chunk if carry else chunk
            del chunk
            hold_cr = data[-1:] == b"\r"  # a CRLF may straddle two chunks
            if hold_cr:
                data = data[:-1]
            if b"\r" in data:
                data = data.replace(b"\r\n", b"\n")
            cut = data.rfind(b"\n\n")
            if cut < 0:
                carry = data
                if len(data) > 2 * MAX_LINE:  # no blank line for long: read it line by line
                    nl = data.rfind(b"\n")
                    if nl >= 0:
                        while queue:
                            run_one()
                        lineno = _region(r, None, lineno, data, nl)
                        carry = data[nl + 1 :]
            else:
                # the region ends where a blank line starts: blocks never straddle two regions
                fut = None
                if fp is not None and total > CHUNK_SIZE and workers > 1:
                    if pool is None:
                        pool = ThreadPoolExecutor(workers, thread_name_prefix="goforensics-scan")
                    fut = pool.submit(_scan_job, fp, memoryview(data)[:cut])
                queue.append((data, cut, fut))
                carry = data[cut + 2 :]
                while len(queue) > workers:
                    run_one()
            del data
            if hold_cr:
                carry += b"\r"
        while queue:
            run_one()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    _close(r, fp, lineno, carry, total)
    return b.tables()


def _close(r: Reader, fp: FastPath | None, lineno: int, carry: bytes, total: int) -> None:
    """Read what is left after the last region, close what is open, and say how the input ended."""
    b = r.b
    ends_mid_line = bool(carry) and not carry.endswith(b"\n")
    if carry:
        carry = carry.replace(b"\r\n", b"\n").rstrip(b"\r")
        if carry.endswith(b"\n"):
            carry = carry[:-1]
        lineno = _region(r, fp, lineno, carry, len(carry), open_end=ends_mid_line)
    cut_input = r.finish(ends_mid_line, carry.rpartition(b"\n")[2] if ends_mid_line else b"")
    if total == PPROF_LIMIT and b.parts and b.parts[-1]["format"] == "debug=2":
        b.parts[-1]["truncated"] = True
        b.warn(
            lineno,
            0,
            "truncated",
            "the input is exactly 64 MiB, where runtime/pprof cuts a debug=2 dump: goroutines are missing",
        )
    elif cut_input:
        b.warn(lineno, 0, "truncated", "the input ends inside a goroutine")


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
    text: str | bytes, source: str = "<text>", fast: bool = True, workers: int | None = None
) -> Dumps:
    """Parse dump text of any dialect (or gzipped text) into :class:`~goforensics.model.Dumps`.

    >>> parse_text("no dump here").warnings[["kind", "message"]].values.tolist()
    [['skipped', '1 line(s) skipped: 1 text that is not part of a dump']]
    """
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ParseError(f"{source}: unreadable gzip stream: {e}") from None
    if looks_like_profile(data[:4096]):
        return parse_profile(data, source=source)
    chunks = (data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE))
    return _parse_chunks(chunks, source, fast=fast, workers=workers)


def parse_file(
    path: str | Path, source: str | None = None, fast: bool = True, workers: int | None = None
) -> Dumps:
    """Parse one file: text dumps of any kind, or a ``debug=0`` protobuf profile.

    ``workers``: threads scanning ahead on big inputs (default: the cores, at most 4); the
    tables are the same for any number.
    Raises :class:`ParseError` only when the file cannot be read at all.
    """
    src = str(path) if source is None else source
    chunks = read_chunks(path)
    first = [next(chunks, b"")]
    if looks_like_profile(first[0][:4096]):
        return parse_profile(first[0] + b"".join(chunks), source=src)
    return _parse_chunks(_chain(first, chunks), src, fast=fast, workers=workers)


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """The first chunk, then the rest; the first is not kept once it has been read."""
    head = first.pop()
    if head:
        yield head
    del head
    yield from rest
