"""Asking a live Go service for its goroutines over HTTP: where to ask, one request with
timeouts, retries and a size cap, and telling a dump from something else.

>>> profile_urls("localhost:6060", debug1=True)[1]
('goroutine', 1, 'http://localhost:6060/debug/pprof/goroutine?debug=1')
>>> parse_duration("1m30s"), parse_duration("500ms"), parse_size("64MiB")
(90.0, 0.5, 67108864)
"""

from __future__ import annotations

import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import CaptureError, ParseError
from .parse import parse_text

__all__ = [
    "Answer",
    "extra_url",
    "fetch",
    "host_of",
    "is_dump",
    "not_a_dump",
    "parse_duration",
    "parse_size",
    "profile_urls",
]

_CHUNK = 1 << 20
_VALIDATE = 1 << 20  # how much of a text body is parsed to tell a dump from something else
_USER_AGENT = "goforensics-capture/1"


# --- small parsers ---------------------------------------------------------------------------

_DUR_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DUR_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | float) -> float:
    """Seconds in a Go-style duration (``500ms``, ``10s``, ``2m``, ``1h30m``) or a plain number.

    Parameters
    ----------
    text : str or float
        A duration such as ``500ms``, ``10s``, ``2m``, ``1h30m``, or a number of seconds.

    Returns
    -------
    float
        Seconds.

    Raises
    ------
    ValueError
        On text that is no duration, or a duration that is not positive.

    Examples
    --------
    >>> parse_duration("1h30m"), parse_duration("500ms")
    (5400.0, 0.5)
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

    Parameters
    ----------
    text : str or int
        A size such as ``1000``, ``64K``, ``64MiB``, ``1MB``, or a number of bytes.

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    ValueError
        On text that is no size.

    Examples
    --------
    >>> parse_size("64MiB"), parse_size("1MB")
    (67108864, 1000000)
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

    Parameters
    ----------
    url : str
        The service (``host:port``, ``http://host:port/prefix``) or a full profile URL.
    debug1 : bool, default False
        Also ask for the ``debug=1`` profile.
    leak : bool, default False
        Also ask for the ``goroutineleak`` profile (Go 1.26+).

    Returns
    -------
    list of tuple of (str, int, str)
        ``(profile, debug, url)`` per request, the ``debug=2`` dump first.

    Examples
    --------
    >>> profile_urls("localhost:6060", debug1=True)  # doctest: +NORMALIZE_WHITESPACE
    [('goroutine', 2, 'http://localhost:6060/debug/pprof/goroutine?debug=2'),
     ('goroutine', 1, 'http://localhost:6060/debug/pprof/goroutine?debug=1')]
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


def extra_url(base: str, path: str) -> str:
    """An extra endpoint (``/debug/truth``) on the same host as the dumps.

    Parameters
    ----------
    base : str
        The dumps' URL, or a bare ``host:port``.
    path : str
        The endpoint's path, or a full URL (returned as it is).

    Returns
    -------
    str
        The endpoint's URL.

    Examples
    --------
    >>> extra_url("localhost:6060", "/debug/truth")
    'http://localhost:6060/debug/truth'
    >>> extra_url("http://app:6060/debug/pprof/goroutine", "https://other/truth")
    'https://other/truth'
    """
    if "://" in path:
        return path
    if "://" not in base:
        base = "http://" + base
    parts = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + path.lstrip("/"), "", ""))


# --- one request ----------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    capped: bool
    content_type: str
    taken_at: datetime
    elapsed: float
    attempts: int = 1


class _Retryable(Exception):
    pass


def host_of(url: str) -> str:
    """The host:port a URL names, for messages and instance names.

    Parameters
    ----------
    url : str
        A URL.

    Returns
    -------
    str
        Its ``host:port``, or ``url`` itself where it names none.

    Examples
    --------
    >>> host_of("http://localhost:6060/debug/pprof/goroutine?debug=2")
    'localhost:6060'
    """
    return urllib.parse.urlsplit(url).netloc or url


def _fetch_once(url: str, timeout: float, max_bytes: int) -> Answer:
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
                f"cannot connect to {host_of(url)}: connection refused "
                "(is the service running and listening there?)"
            ) from None
        if isinstance(r, TimeoutError):
            raise _Retryable(f"{url}: no answer within {timeout:g}s (timeout)") from None
        if isinstance(r, socket.gaierror):
            raise CaptureError(f"cannot resolve {host_of(url)}: {r.strerror or r}") from None
        raise _Retryable(
            f"cannot reach {host_of(url)}: {getattr(r, 'strerror', None) or r}"
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
    return Answer(
        resp.status,
        body,
        capped,
        resp.headers.get("Content-Type", ""),
        taken_at,
        time.monotonic() - start,
    )


def fetch(url: str, *, timeout: float, max_bytes: int, retries: int, backoff: float) -> Answer:
    """One request with retries and exponential backoff on errors that may pass.

    Parameters
    ----------
    url : str
        The URL to get.
    timeout : float
        Seconds to wait for each attempt.
    max_bytes : int
        The most bytes of body read; a longer answer is cut there (``capped``).
    retries : int
        Further attempts after one that fails in a way that may pass (refused
        connection, timeout, HTTP 5xx or 429).
    backoff : float
        Seconds before the first retry, doubled for each next one.

    Returns
    -------
    Answer
        ``status``, ``body``, ``capped``, ``content_type``, ``taken_at``, ``elapsed`` and
        ``attempts``.

    Raises
    ------
    CaptureError
        If every attempt fails, or one fails in a way that will not pass.

    Examples
    --------
    Nothing listens on the discard port of this machine: the refusal is not retried forever,
    it becomes one line.

    >>> fetch("http://127.0.0.1:9/debug/pprof/goroutine?debug=2", timeout=1, max_bytes=1 << 20,
    ...       retries=0, backoff=0.1)
    Traceback (most recent call last):
    ...
    goforensics.errors.CaptureError: cannot connect to 127.0.0.1:9: connection refused ...
    """
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
    """Does this body hold a goroutine dump, a profile, or a protobuf profile? (read by goforensics.read.parse)

    Parameters
    ----------
    body : bytes
        An HTTP answer's body (gzipped or not); only its start is parsed.

    Returns
    -------
    bool
        True where the parser reads at least one snapshot from it.

    Examples
    --------
    >>> is_dump(b"goroutine 1 [running]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n")
    True
    >>> is_dump(b"<html>404 page not found</html>")
    False
    """
    head = body
    if body[:2] != b"\x1f\x8b" and len(body) > _VALIDATE:
        cut = body.rfind(b"\n\n", 0, _VALIDATE)
        head = body[: cut if cut > 0 else _VALIDATE]
    try:
        d = parse_text(head, source="<capture>")
    except (ParseError, ValueError):
        return False
    return len(d.snapshots) > 0


def not_a_dump(url: str, ans: Answer) -> CaptureError:
    """The error for an answer that is not a goroutine dump.

    Parameters
    ----------
    url : str
        The URL asked.
    ans : Answer
        Its answer.

    Returns
    -------
    CaptureError
        An error naming the content type, the size and the first bytes of the body.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> ans = Answer(200, b"<html>login</html>", False, "text/html", datetime.now(timezone.utc), 0.1)
    >>> print(not_a_dump("http://h:6060/", ans))
    http://h:6060/: the answer is not a goroutine dump (text/html, 18 bytes, starts with '<html>login</html>')
    """
    start = ans.body[:40].decode("utf-8", "replace").replace("\n", " ").strip()
    ctype = ans.content_type.split(";")[0] or "no content type"
    return CaptureError(
        f"{url}: the answer is not a goroutine dump ({ctype}, {len(ans.body):,} bytes, "
        f"starts with {start!r})"
    )
