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
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import CaptureError, ParseError
from .parse import parse_text
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
_CHUNK = 1 << 20
_VALIDATE = 1 << 20  # how much of a text body is parsed to tell a dump from something else
_USER_AGENT = "goforensics-capture/1"


# --- small parsers ---------------------------------------------------------------------------

_DUR_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DUR_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | float) -> float:
    """Seconds in a Go-style duration (``500ms``, ``10s``, ``2m``, ``1h30m``) or a plain number.

    >>> parse_duration("2m"), parse_duration(3)
    (120.0, 3.0)
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().lower()
        try:
            value = float(s)
        except ValueError:
            pos, value = 0, 0.0
            for m in _DUR_PART.finditer(s):
                if m.start() != pos:
                    break
                value += float(m.group(1)) * _DUR_UNIT[m.group(2)]
                pos = m.end()
            if pos != len(s) or not s:
                raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 10s, 2m)") from None
    if value < 0 or value != value:
        raise ValueError(f"not a duration: {text!r} (must be positive)")
    return value


_SIZE = re.compile(r"^(\d+(?:\.\d*)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$")
_SIZE_UNIT = {
    None: 1,
    "b": 1,
    "k": 1 << 10,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gb": 1000**3,
    "gib": 1 << 30,
}


def parse_size(text: str | int) -> int:
    """Bytes in a size such as ``1000``, ``64K``, ``64MiB``, ``1MB`` (K/M/G alone are binary).

    >>> parse_size("2k"), parse_size(10)
    (2048, 10)
    """
    if isinstance(text, int):
        value = text
    else:
        m = _SIZE.match(str(text).strip().lower())
        if not m:
            raise ValueError(f"not a size: {text!r} (use e.g. 1000, 64K, 64MiB)")
        value = int(float(m.group(1)) * _SIZE_UNIT[m.group(2)])
    if value <= 0:
        raise ValueError(f"not a size: {text!r} (must be positive)")
    return value


# --- where to ask --------------------------------------------------------------------------------


def profile_urls(
    url: str, *, debug1: bool = False, leak: bool = False
) -> list[tuple[str, int, str]]:
    """The ``(profile, debug, url)`` requests of one capture round.

    A base URL (``host:port``, ``http://host:port/prefix``) gets
    ``/debug/pprof/goroutine?debug=2`` appended; a URL that already names a
    ``goroutine`` or ``goroutineleak`` profile is used as given (in place of
    the ``debug=2`` dump), and the profiles asked for are taken beside it.

    >>> profile_urls("http://h:1/internal/debug/pprof/goroutine?debug=2", leak=True)[1][2]
    'http://h:1/internal/debug/pprof/goroutineleak?debug=2'
    """
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CaptureError(f"{url}: not an http(s) URL")
    path = parts.path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    out: list[tuple[str, int, str]] = []
    if last in ("goroutine", "goroutineleak"):
        pdir = path[: -len(last)].rstrip("/")
        q = urllib.parse.parse_qs(parts.query)
        try:
            debug = int(q.get("debug", ["0"])[0])
        except ValueError:
            debug = 0
        out.append((last, debug, url))
    else:
        pdir = path if path.endswith("/debug/pprof") else path + "/debug/pprof"

    def make(profile: str, debug: int) -> str:
        return urllib.parse.urlunsplit(
            (parts.scheme, parts.netloc, f"{pdir}/{profile}", f"debug={debug}", "")
        )

    wanted = [] if out else [("goroutine", 2)]
    if debug1:
        wanted.append(("goroutine", 1))
    if leak:
        wanted.append(("goroutineleak", 2))
        if debug1:
            wanted.append(("goroutineleak", 1))
    for profile, debug in wanted:
        if not any(p == profile and d == debug for p, d, _ in out):
            out.append((profile, debug, make(profile, debug)))
    return out


def _extra_url(base: str, path: str) -> str:
    """An extra endpoint (``/debug/truth``) on the same host as the dumps."""
    if "://" in path:
        return path
    if "://" not in base:
        base = "http://" + base
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + path.lstrip("/"), "", ""))


# --- one request ----------------------------------------------------------------------------------


@dataclass
class _Answer:
    status: int
    body: bytes
    capped: bool
    content_type: str
    taken_at: datetime
    elapsed: float
    attempts: int = 1


class _Retryable(Exception):
    pass


def _where(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _fetch_once(url: str, timeout: float, max_bytes: int) -> _Answer:
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    start = time.monotonic()
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        reason = f"HTTP {e.code} {e.reason}".rstrip()
        hint = " (is net/http/pprof registered on this server and path?)" if e.code == 404 else ""
        msg = f"{url}: {reason}{hint}"
        if e.code >= 500 or e.code == 429:
            raise _Retryable(msg) from None
        raise CaptureError(msg) from None
    except urllib.error.URLError as e:
        r = e.reason
        if isinstance(r, ConnectionRefusedError):
            raise _Retryable(
                f"cannot connect to {_where(url)}: connection refused "
                "(is the service running and listening there?)"
            ) from None
        if isinstance(r, TimeoutError):
            raise _Retryable(f"{url}: no answer within {timeout:g}s (timeout)") from None
        if isinstance(r, socket.gaierror):
            raise CaptureError(f"cannot resolve {_where(url)}: {r.strerror or r}") from None
        raise _Retryable(
            f"cannot reach {_where(url)}: {getattr(r, 'strerror', None) or r}"
        ) from None
    except TimeoutError:
        raise _Retryable(f"{url}: no answer within {timeout:g}s (timeout)") from None
    except (OSError, ValueError) as e:  # resets, bad status lines
        raise _Retryable(f"{url}: {type(e).__name__}: {e}") from None
    taken_at = datetime.now(UTC)
    chunks, size, capped = [], 0, False
    try:
        with resp:
            while True:
                if time.monotonic() - start > timeout:
                    raise _Retryable(f"{url}: the answer took more than {timeout:g}s (timeout)")
                chunk = resp.read(min(_CHUNK, max_bytes - size + 1))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    capped = True
                    break
    except TimeoutError:
        raise _Retryable(f"{url}: no answer within {timeout:g}s (timeout, mid-body)") from None
    except OSError as e:
        raise _Retryable(f"{url}: connection broken mid-body: {e}") from None
    body = b"".join(chunks)[:max_bytes]
    return _Answer(
        resp.status,
        body,
        capped,
        resp.headers.get("Content-Type", ""),
        taken_at,
        time.monotonic() - start,
    )


def _fetch(url: str, *, timeout: float, max_bytes: int, retries: int, backoff: float) -> _Answer:
    """One request with retries and exponential backoff on errors that may pass."""
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            ans = _fetch_once(url, timeout, max_bytes)
        except _Retryable as e:
            last = str(e)
            continue
        ans.attempts = attempt + 1
        return ans
    tries = f" (after {retries + 1} attempts)" if retries else ""
    raise CaptureError(last + tries)


def is_dump(body: bytes) -> bool:
    """Does this body hold a goroutine dump, a profile, or a protobuf profile? (read by goforensics.read.parse)"""
    head = body
    if body[:2] != b"\x1f\x8b" and len(body) > _VALIDATE:
        cut = body.rfind(b"\n\n", 0, _VALIDATE)
        head = body[: cut if cut > 0 else _VALIDATE]
    try:
        d = parse_text(head, source="<capture>")
    except (ParseError, ValueError):
        return False
    return len(d.snapshots) > 0


def _not_a_dump(url: str, ans: _Answer) -> CaptureError:
    start = ans.body[:40].decode("utf-8", "replace").replace("\n", " ").strip()
    ctype = ans.content_type.split(";")[0] or "no content type"
    return CaptureError(
        f"{url}: the answer is not a goroutine dump ({ctype}, {len(ans.body):,} bytes, "
        f"starts with {start!r})"
    )


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

    def fetch(self, url: str) -> _Answer:
        return _fetch(
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
        self, name: str, k: int, profile: str, debug: int, url: str, ans: _Answer
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

    def add_extra(self, name: str, what: str, k: int, url: str, ans: _Answer) -> None:
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
) -> _Answer:
    """Fetch, check and write the dumps and extras of round ``k``; returns the first dump's answer."""
    first = None
    for profile, debug, u in targets:
        ans = how.fetch(u)
        if not is_dump(ans.body):
            raise _not_a_dump(u, ans)
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

    def update(self, ans: _Answer) -> None:
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
    extras = [(name, _extra_url(url, path)) for name, path in (also or {}).items()]
    out = Path(out_dir)
    created = _prepare(out)
    m = _Manifest(out, instance or _where(targets[0][2]), targets[0][2], every)
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
