"""Capture a series of goroutine dumps from a live Go service over HTTP.

:func:`capture` polls a service's ``net/http/pprof`` endpoint every few seconds
and writes each answer to its own file, next to a ``manifest.json`` that
:func:`goforensics.load` reads for the capture times and order. The manifest is
rewritten (atomically) after every snapshot, so an interrupted capture always
leaves a usable series.

Manifest schema (``"format": "goforensics-capture/1"``)::

    {"format": "goforensics-capture/1", "instance": "host:port", "url": "...",
     "started_at": ISO-8601 UTC, "updated_at": ..., "every": seconds,
     "stopped": "count reached" | "duration reached" | "interrupted" | "error: ..." | null,
     "snapshots": [{"file": "goroutine-debug2-0000.txt", "taken_at": ISO-8601 UTC,
                    "round": 0, "profile": "goroutine" | "goroutineleak",
                    "debug": 0 | 1 | 2, "url": "...", "status": 200, "bytes": 12345,
                    "capped": false, "elapsed": seconds, "attempts": 1,
                    "content_type": "text/plain; charset=utf-8"}, ...],
     "extras": [{"file": ..., "name": ..., "round": ..., "taken_at": ..., "url": ...,
                 "status": ..., "bytes": ..., "capped": ...}, ...]}

``taken_at`` is when the response headers arrived (the server takes the dump
just before it answers). ``capped`` says the body was cut at ``max_bytes``.
``extras`` are other endpoints fetched after the dumps of each round (not
dumps: the loader ignores them).

>>> profile_urls("localhost:6060", debug1=True)[1]
('goroutine', 1, 'http://localhost:6060/debug/pprof/goroutine?debug=1')
>>> parse_duration("1m30s"), parse_duration("500ms"), parse_size("64MiB")
(90.0, 0.5, 67108864)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import CaptureError
from .fetch import (
    Answer,
    extra_url,
    fetch,
    host_of,
    is_dump,
    not_a_dump,
    parse_duration,
    parse_size,
    profile_urls,
)
from .series import MANIFEST

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MANIFEST_FORMAT",
    "capture",
    "is_dump",
    "parse_duration",
    "parse_size",
    "profile_urls",
]

MANIFEST_FORMAT = "goforensics-capture/1"
DEFAULT_MAX_BYTES = 256 << 20  # runtime/pprof stops a debug=2 dump at 64 MiB; room for debug=1 too


# --- the series -----------------------------------------------------------------------------------


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _file_name(profile: str, debug: int, k: int, body: bytes) -> str:
    ext = "pb.gz" if debug == 0 and body[:2] == b"\x1f\x8b" else "txt"
    return f"{profile}-debug{debug}-{k:04d}.{ext}"


def _count_goroutines(body: bytes) -> int | None:
    m = re.match(rb"(?:goroutine|goroutineleak) profile: total (\d+)", body)
    if m:
        return int(m.group(1))
    n = body.count(b"\ngoroutine ") + body.startswith(b"goroutine ")
    return n if n else None


@dataclass
class _Settings:
    """How each request of a capture is made."""

    timeout: float
    retries: int
    backoff: float
    max_bytes: int

    def fetch(self, url: str) -> Answer:
        return fetch(
            url,
            timeout=self.timeout,
            max_bytes=self.max_bytes,
            retries=self.retries,
            backoff=self.backoff,
        )


class _Manifest:
    """The capture's ``manifest.json``: rewritten atomically after every file it lists."""

    def __init__(self, out: Path, instance: str, url: str, every: float) -> None:
        self.path = out / MANIFEST
        self.written = False
        now = _iso(datetime.now(UTC))
        self.doc: dict = {
            "format": MANIFEST_FORMAT,
            "instance": instance,
            "url": url,
            "started_at": now,
            "updated_at": now,
            "every": every,
            "stopped": None,
            "snapshots": [],
            "extras": [],
        }

    def save(self, stopped: str | None = None) -> None:
        self.doc["updated_at"] = _iso(datetime.now(UTC))
        self.doc["stopped"] = stopped
        _write_atomic(self.path, (json.dumps(self.doc, indent=1) + "\n").encode())
        self.written = True

    def add_snapshot(
        self, name: str, k: int, profile: str, debug: int, url: str, ans: Answer
    ) -> None:
        self.doc["snapshots"].append(
            {
                "file": name,
                "taken_at": _iso(ans.taken_at),
                "round": k,
                "profile": profile,
                "debug": debug,
                "url": url,
                "status": ans.status,
                "bytes": len(ans.body),
                "capped": ans.capped,
                "elapsed": round(ans.elapsed, 4),
                "attempts": ans.attempts,
                "content_type": ans.content_type,
            }
        )
        self.save()

    def add_extra(self, name: str, what: str, k: int, url: str, ans: Answer) -> None:
        self.doc["extras"].append(
            {
                "file": name,
                "name": what,
                "round": k,
                "taken_at": _iso(ans.taken_at),
                "url": url,
                "status": ans.status,
                "bytes": len(ans.body),
                "capped": ans.capped,
            }
        )
        self.save()

    @property
    def kept(self) -> int:
        return len(self.doc["snapshots"])

    def finish(self, stopped: str) -> None:
        """Close the manifest; one that lists no snapshot is removed, so a retry can reuse the directory."""
        if self.kept:
            self.save(stopped)
        elif self.written:
            with contextlib.suppress(OSError):
                self.path.unlink()


def _prepare(out: Path) -> bool:
    """Make the output directory; refuse one that holds a capture. True when it was created here."""
    if (out / MANIFEST).exists() and _lists_snapshots(out / MANIFEST):
        raise CaptureError(f"{out} already holds a capture ({MANIFEST}): choose another directory")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CaptureError(f"{out}: cannot create the directory: {e.strerror or e}") from None
    return created


def _lists_snapshots(path: Path) -> bool:
    """Does a manifest list any snapshot? (one that lists none is what a failed capture left)"""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return True  # unreadable: not ours to overwrite
    return not isinstance(doc, dict) or bool(doc.get("snapshots"))


def _round(
    k: int,
    targets: list[tuple[str, int, str]],
    extras: list[tuple[str, str]],
    out: Path,
    m: _Manifest,
    how: _Settings,
    warn: bool,
) -> Answer:
    """Fetch, check and write the dumps and extras of round ``k``; returns the first dump's answer."""
    first = None
    for profile, debug, u in targets:
        ans = how.fetch(u)
        if not is_dump(ans.body):
            raise not_a_dump(u, ans)
        name = _file_name(profile, debug, k, ans.body)
        _write_atomic(out / name, ans.body)
        m.add_snapshot(name, k, profile, debug, u, ans)
        if ans.capped and warn:
            print(f"warning: {name} cut at {how.max_bytes:,} bytes (max_bytes)", file=sys.stderr)
        first = first or ans
    for what, u in extras:
        ans = how.fetch(u)
        name = f"{what}-{k:04d}.{'json' if 'json' in ans.content_type else 'txt'}"
        _write_atomic(out / name, ans.body)
        m.add_extra(name, what, k, u, ans)
    assert first is not None  # profile_urls always gives at least one target
    return first


class _Bar:
    """A progress bar made after the first round (a service that cannot be reached gives one line)."""

    def __init__(self, on: bool, total: int | None, desc: str) -> None:
        self.on, self.total, self.desc, self.bar = on, total, desc, None

    def update(self, ans: Answer) -> None:
        if not self.on:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit="round", desc=self.desc)
        n = _count_goroutines(ans.body)
        if n is not None:
            self.bar.set_postfix(goroutines=f"{n:,}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            with contextlib.suppress(Exception):
                self.bar.close()


def _check(count: int | None, duration: float | None, every: float, how: _Settings) -> None:
    """Arguments that cannot make a capture: one line, before anything is written."""
    if count is not None and duration is not None:
        raise CaptureError("give count or duration, not both")
    if count is not None and count < 1:
        raise CaptureError("count must be at least 1")
    if every <= 0 or how.timeout <= 0 or how.max_bytes <= 0 or how.retries < 0:
        raise CaptureError("every, timeout and max_bytes must be positive, retries not negative")


def capture(
    url: str,
    out_dir: str | Path,
    *,
    every: float = 10.0,
    count: int | None = None,
    duration: float | None = None,
    debug1: bool = False,
    leak: bool = False,
    timeout: float = 10.0,
    retries: int = 3,
    backoff: float = 0.5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: bool = True,
    instance: str | None = None,
    also: Mapping[str, str] | None = None,
) -> Path:
    """Poll a service's goroutine profile into ``out_dir``; returns the manifest's path.

    Parameters
    ----------
    url : str
        The service (``host:port``, ``http://host:port``) or a full profile URL.
    out_dir : str or Path
        Directory for the series (created; must not hold a capture already).
    every : float
        Seconds between the starts of two rounds.
    count, duration : int or float, optional
        Stop after this many rounds, or once this many seconds have passed (at most one
        of them; neither: until interrupted).
    debug1, leak : bool
        Also ask for ``debug=1`` and for the ``goroutineleak`` profile in each round (each
        is a file of its own with the same ``round``; :func:`goforensics.load` assembles
        the files of one round into one snapshot).
    timeout : float
        Seconds a request may take in all (connecting, waiting, reading).
    retries, backoff : int, float
        Attempts after a failure that may pass (connection refused, timeout, HTTP 5xx),
        waiting ``backoff``, then twice as long, and so on.
    max_bytes : int
        Stop reading a body past this size; the file keeps the head and is marked
        ``capped`` in the manifest (the loader marks its snapshot truncated).
    progress : bool
        A progress bar and warnings on stderr.
    instance : str, optional
        The instance name recorded in the manifest (default ``host:port``).
    also : mapping, optional
        ``{name: path}`` of other endpoints fetched after the dumps of each round and
        kept beside them (not validated as dumps).

    Returns
    -------
    Path
        The ``manifest.json`` of the series.

    Raises
    ------
    CaptureError
        One line, when the service cannot be reached, answers with an HTTP error, or
        answers with something that is not a dump; snapshots written until then stay
        listed in the manifest. When none was written, no manifest is left behind (the
        directory can be used again). Ctrl-C (``KeyboardInterrupt``) finishes the
        manifest and is raised again.

    Examples
    --------
    >>> capture("localhost:6060", "out", count=3, duration=60)
    Traceback (most recent call last):
    ...
    goforensics.errors.CaptureError: give count or duration, not both
    """
    how = _Settings(timeout, retries, backoff, max_bytes)
    _check(count, duration, every, how)
    targets = profile_urls(url, debug1=debug1, leak=leak)
    extras = [(name, extra_url(url, path)) for name, path in (also or {}).items()]
    out = Path(out_dir)
    created = _prepare(out)
    m = _Manifest(out, instance or host_of(targets[0][2]), targets[0][2], every)
    total = (
        count
        if count is not None
        else (int(duration // every) + 1 if duration is not None else None)
    )
    bar = _Bar(progress, total, f"capture {m.doc['instance']}")
    t0 = time.monotonic()
    k = 0
    try:
        while True:
            bar.update(_round(k, targets, extras, out, m, how, progress))
            k += 1
            if count is not None and k >= count:
                m.finish("count reached")
                break
            next_t = t0 + k * every
            if duration is not None and next_t - t0 > duration:
                m.finish("duration reached")
                break
            time.sleep(max(0.0, next_t - time.monotonic()))
    except KeyboardInterrupt:
        m.finish("interrupted")
        _drop_if_empty(out, created)
        raise
    except CaptureError as e:
        m.finish(f"error: {e}")
        _drop_if_empty(out, created)
        if m.kept:
            raise CaptureError(f"{e} ({m.kept} snapshot(s) kept in {out})") from None
        raise
    finally:
        bar.close()
    return m.path


def _drop_if_empty(out: Path, created: bool) -> None:
    """Remove the directory a failed capture made, when nothing was written into it."""
    if created:
        with contextlib.suppress(OSError):
            out.rmdir()  # only succeeds when empty
