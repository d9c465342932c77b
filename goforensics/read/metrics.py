"""Goroutine counts as data: Prometheus range queries, CSV files and the watcher's count log.

A goroutine count is the cheapest signal a Go service gives about leaks: client_golang
exports it as ``go_goroutines``, the ``debug=1`` goroutine profile opens with it
(``goroutine profile: total N``), and ``goforensics watch`` logs it every few seconds.
:func:`load_metrics` reads each of these forms into one tidy table (``time``,
``instance``, ``goroutines``) for :func:`goforensics.analyze.onset.leak_onset` and the
trigger rules of :mod:`goforensics.analyze.triggers`.

The forms:

- a Prometheus HTTP API answer to a range query (``/api/v1/query_range``), or its
  ``data`` object: ``{"resultType": "matrix", "result": [{"metric": {...}, "values":
  [[unix_seconds, "42"], ...]}, ...]}``, one series per instance (an instant ``vector``
  answer is read too);
- a CSV file with a header: a time column (``time``, ``timestamp``, ``ts``: ISO-8601 or
  Unix seconds), a value column (``goroutines``, ``value``, ``go_goroutines``) and an
  optional ``instance`` column; other columns are ignored;
- the watcher's count log (``counts.jsonl``): one JSON object a line, ``{"time": ISO,
  "instance": ..., "goroutines": N, ...}``; a directory is searched for these logs, one
  per instance.

>>> text = "# TYPE go_goroutines gauge\\ngo_goroutines 42\\n"
>>> goroutine_count(text), goroutine_count(b"goroutine profile: total 7\\n1 @ 0x1\\n")
(42, 7)
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..errors import LoadError

__all__ = ["COUNT_LOG", "COUNT_METRICS", "goroutine_count", "load_metrics"]

COUNT_LOG = "counts.jsonl"
# client_golang's name, and the name its runtime/metrics collector gives /sched/goroutines
COUNT_METRICS = ("go_goroutines", "go_sched_goroutines_goroutines")
_TIME_COLUMNS = ("time", "timestamp", "ts")
_VALUE_COLUMNS = ("goroutines", "value", *COUNT_METRICS)
_NUMBER = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
_EXPOSITION = re.compile(
    r"^(?:" + "|".join(COUNT_METRICS) + r")(?:\{[^}]*\})?[ \t]+" + _NUMBER, re.M
)
_PROFILE_TOTAL = re.compile(rb"^\s*(?:goroutine|goroutineleak) profile: total (\d+)")


def goroutine_count(body: str | bytes) -> int | None:
    """The goroutine count in a Prometheus ``/metrics`` answer or a ``debug=1`` profile.

    Parameters
    ----------
    body : the text of ``/metrics`` (its ``go_goroutines`` sample) or of a
        ``debug=1`` goroutine profile (its ``goroutine profile: total N`` line).

    Returns
    -------
    int or None
        The count, or None when the text holds neither.

    Examples
    --------
    >>> goroutine_count('go_goroutines{job="api"} 1.2e3\\n'), goroutine_count("hello")
    (1200, None)
    """
    raw = body.encode() if isinstance(body, str) else body
    m = _PROFILE_TOTAL.match(raw)
    if m:
        return int(m.group(1))
    text = raw.decode("utf-8", "replace")
    m = _EXPOSITION.search(text)
    if m:
        value = float(m.group(1))
        return int(value) if math.isfinite(value) and value >= 0 else None
    return None


def _tidy(df: pd.DataFrame, source: str) -> pd.DataFrame:
    if df.empty:
        raise LoadError(f"{source}: no goroutine count in it")
    values = pd.to_numeric(df["goroutines"], errors="coerce")
    bad = (
        values.isna() | (values < 0) | ~values.map(lambda v: math.isfinite(v) if v == v else False)
    )
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise LoadError(
            f"{source}: not a goroutine count: {df['goroutines'].iloc[i]!r} (entry {i + 1})"
        )
    out = pd.DataFrame(
        {
            "time": df["time"].reset_index(drop=True),
            "instance": df["instance"].astype(str).reset_index(drop=True),
            "goroutines": values.astype("int64").reset_index(drop=True),
        }
    )
    return out


def _times(raw: pd.Series, source: str) -> pd.Series:
    nums = pd.to_numeric(raw, errors="coerce")
    if nums.notna().all():
        # Unix seconds; milliseconds when the numbers are too large for seconds (after 5138 AD)
        unit = "ms" if (nums.abs() > 1e11).any() else "s"
        return pd.to_datetime(nums, unit=unit, utc=True)
    try:
        return pd.to_datetime(raw, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        bad = next(
            (v for v in raw if pd.isna(pd.to_datetime(v, utc=True, errors="coerce"))), raw.iloc[0]
        )
        raise LoadError(f"{source}: not a time: {bad!r} (use ISO-8601 or Unix seconds)") from None


def _from_prometheus(doc: object, source: str) -> pd.DataFrame:
    if isinstance(doc, dict) and "status" in doc:
        if doc.get("status") != "success":
            raise LoadError(
                f"{source}: the query failed: {doc.get('errorType', '')} {doc.get('error', '')}".rstrip()
            )
        doc = doc.get("data")
    if not isinstance(doc, dict) or "result" not in doc:
        raise LoadError(f"{source}: not a Prometheus query result (no data.result)")
    kind = doc.get("resultType")
    if kind not in ("matrix", "vector"):
        raise LoadError(
            f"{source}: a {kind!r} result; a range query of go_goroutines gives a matrix"
        )
    rows = []
    for k, series in enumerate(doc["result"] or []):
        labels = series.get("metric", {}) if isinstance(series, dict) else None
        if labels is None:
            raise LoadError(f"{source}: series {k + 1} is not an object with metric and values")
        name = labels.get("__name__")
        if name is not None and name not in COUNT_METRICS:
            raise LoadError(
                f"{source}: series {k + 1} is {name!r}, not a goroutine count ({', '.join(COUNT_METRICS)})"
            )
        instance = labels.get("instance") or ",".join(
            f"{a}={b}" for a, b in sorted(labels.items()) if a != "__name__"
        )
        points = series.get("values") if kind == "matrix" else [series.get("value")]
        for p in points or []:
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise LoadError(f"{source}: series {k + 1}: a sample is not [time, value]: {p!r}")
            rows.append((p[0], instance, p[1]))
    df = pd.DataFrame(rows, columns=["time", "instance", "goroutines"])
    if not df.empty:
        df["time"] = _times(df["time"], source)
    return _tidy(df, source)


def _from_csv(text: str, source: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise LoadError(f"{source}: unreadable CSV: {str(e).splitlines()[0]}") from None
    cols = {c.strip().lower(): c for c in raw.columns}
    tcol = next((cols[c] for c in _TIME_COLUMNS if c in cols), None)
    vcol = next((cols[c] for c in _VALUE_COLUMNS if c in cols), None)
    if tcol is None or vcol is None:
        raise LoadError(
            f"{source}: a CSV needs a time column ({'/'.join(_TIME_COLUMNS)}) and a value column "
            f"({'/'.join(_VALUE_COLUMNS)}); it has {', '.join(map(str, raw.columns))}"
        )
    icol = cols.get("instance")
    df = pd.DataFrame(
        {
            "time": _times(raw[tcol], source) if len(raw) else raw[tcol],
            "instance": raw[icol].fillna("") if icol else "",
            "goroutines": raw[vcol],
        }
    )
    return _tidy(df, source)


def _from_log(text: str, source: str) -> pd.DataFrame:
    rows = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            if i == len(lines) - 1:
                break  # a line cut by an interrupted watcher: the lines before it stand
            raise LoadError(f"{source}:{i + 1}: not a JSON line") from None
        if not isinstance(rec, dict) or "time" not in rec:
            raise LoadError(f"{source}:{i + 1}: a count log line needs time and goroutines")
        if rec.get("goroutines") is None:
            continue  # a failed sample: the target was down or slow (its error is in the line)
        rows.append((rec["time"], str(rec.get("instance", "")), rec["goroutines"]))
    df = pd.DataFrame(rows, columns=["time", "instance", "goroutines"])
    if not df.empty:
        df["time"] = _times(df["time"], source)
    return _tidy(df, source)


def _read_one(p: Path) -> pd.DataFrame:
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise LoadError(f"{p}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise LoadError(f"{p}: not a text file (expected JSON, CSV or a count log)") from None
    head = text.lstrip()[:1]
    if p.name.endswith(".jsonl") or (head == "{" and "\n{" in text.strip()):
        return _from_log(text, str(p))
    if head in ("{", "["):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise LoadError(f"{p}: unreadable JSON: {e}") from None
        return _from_prometheus(doc, str(p))
    return _from_csv(text, str(p))


def load_metrics(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Goroutine counts from Prometheus, CSV or watch logs as one tidy table.

    Parameters
    ----------
    paths : a file (a Prometheus range-query JSON answer, a CSV, a ``counts.jsonl``
        log), a directory (every ``counts.jsonl`` under it: a ``watch`` output), or
        several of them.

    Returns
    -------
    pandas.DataFrame
        One row per sample, sorted by instance and time: ``time`` (UTC timestamps),
        ``instance`` (str; ``""`` when the source names none), ``goroutines`` (int64).

    Raises
    ------
    LoadError
        One line naming the file and what is wrong in it (missing columns, a value
        that is not a count, a failed query, a metric that is not a goroutine count).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.csv"
    >>> _ = p.write_text("time,value,instance\\n1700000000,12,a\\n1700000010,15,a\\n")
    >>> load_metrics(p)["goroutines"].tolist()
    [12, 15]
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    frames = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            logs = sorted(p.rglob(COUNT_LOG))
            if not logs:
                raise LoadError(
                    f"{p}: no {COUNT_LOG} in this directory (a watch output has one per instance)"
                )
            frames.extend(_read_one(x) for x in logs)
        elif p.exists():
            frames.append(_read_one(p))
        else:
            raise LoadError(f"{p}: no such file or directory")
    if not frames:
        raise LoadError("no input given")
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["instance", "time"], kind="stable").reset_index(drop=True)
