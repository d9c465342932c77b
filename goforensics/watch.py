"""Watch live services: a goroutine-count circuit breaker that captures its own evidence.

:func:`watch` follows one or many Go services from outside (no code change in them). Every
``every`` seconds it reads a cheap count of each target's goroutines (the ``go_goroutines``
sample of a Prometheus ``/metrics`` endpoint when one is given, else the first line of the
``debug=1`` goroutine profile, ``goroutine profile: total N``, reading no further), logs it
to ``counts.jsonl`` and feeds it to the trigger rules (:mod:`goforensics.analyze.triggers`).
It keeps a low-rate baseline dump; when a rule fires it captures a ``debug=2`` dump (plus
the ``goroutineleak`` profile where the service serves it; ``debug=1`` only above
``max_goroutines``, since a big ``debug=2`` dump stops the world for long), records the
rule's reason in the manifest, triages the series kept so far and writes ``suspects.json``
and ``report.html`` beside the dumps, then runs ``on_trigger``.

Layout: for one target, ``out_dir`` is a capture series (``manifest.json`` in the format
of :mod:`goforensics.read.capture`, each snapshot with its ``reason`` and the
``goroutines`` count that fired, and ``counts.jsonl``); for several, one such sub-folder
per instance, the fleet layout :func:`goforensics.load` reads. Retention keeps at most
``keep_bytes`` and ``keep_files`` of dumps per instance, the oldest going first (the last
trigger's dumps always stay). A target that is down, slow or too big is a status line
and a failed sample in the log, never the end of the watch; Ctrl-C finishes every
manifest, so the series and the count log stay usable.

>>> watch("localhost:6060", "out", every=0)
Traceback (most recent call last):
...
ValueError: every, timeout, keep_files and keep_bytes must be positive
"""

from __future__ import annotations

import contextlib
import copy
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .analyze import triggers as trig
from .analyze.onset import leak_onset
from .analyze.suspects import triage as triage_series
from .errors import CaptureError, GoforensicsError
from .read.capture import DEFAULT_MAX_BYTES, MANIFEST_FORMAT, capture, profile_urls
from .read.metrics import COUNT_LOG, goroutine_count, load_metrics
from .read.series import MANIFEST, load
from .show.report import write_report

__all__ = ["watch"]

_HEAD_BYTES = 4096  # the debug=1 total is on the first line
_METRICS_MAX = 16 << 20


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_count(url: str, timeout: float, head_only: bool) -> int:
    """One cheap sample; raises CaptureError with one line when the target cannot tell."""
    req = urllib.request.Request(url, headers={"User-Agent": "goforensics-watch/1"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read(_HEAD_BYTES if head_only else _METRICS_MAX + 1)
    except urllib.error.HTTPError as e:
        raise CaptureError(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        r = e.reason
        what = (
            "connection refused"
            if isinstance(r, ConnectionRefusedError)
            else (f"no answer within {timeout:g}s" if isinstance(r, TimeoutError) else str(r))
        )
        raise CaptureError(what) from None
    except TimeoutError:
        raise CaptureError(f"no answer within {timeout:g}s") from None
    except OSError as e:
        raise CaptureError(f"{type(e).__name__}: {e}") from None
    if not head_only and len(body) > _METRICS_MAX:
        raise CaptureError(f"/metrics answer over {_METRICS_MAX >> 20} MiB")
    n = goroutine_count(body)
    if n is None:
        where = "go_goroutines sample" if not head_only else "'goroutine profile: total N' line"
        raise CaptureError(f"no {where} in the answer ({body[:30]!r}...)")
    return n


@dataclass
class _Target:
    """One watched service: its folder, manifest, count log, rules and state."""

    url: str
    instance: str
    folder: Path
    metrics: str | None
    rules: list[trig.Trigger]
    doc: dict = field(default_factory=dict)
    leak_served: bool | None = None  # unknown until the first try
    last_baseline: float = -1e18
    last_count: int | None = None
    triggers: int = 0
    round: int = 0

    @property
    def count_url(self) -> str:
        if self.metrics:
            return self.metrics
        return next(
            u for p, d, u in profile_urls(self.url, debug1=True) if p == "goroutine" and d == 1
        )

    def start(self, every: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if (self.folder / MANIFEST).exists():
            raise CaptureError(
                f"{self.folder} already holds a capture ({MANIFEST}): choose another directory"
            )
        now = _iso(datetime.now(UTC))
        self.doc = {
            "format": MANIFEST_FORMAT,
            "instance": self.instance,
            "url": self.url,
            "started_at": now,
            "updated_at": now,
            "every": every,
            "stopped": None,
            "snapshots": [],
            "extras": [],
            "watch": {
                "rules": [repr(r) for r in self.rules],
                "count_from": self.count_url,
                "triggers": [],
                "deleted": 0,
                "deleted_bytes": 0,
            },
        }
        self.save()

    def save(self, stopped: str | None = None) -> None:
        self.doc["updated_at"] = _iso(datetime.now(UTC))
        self.doc["stopped"] = stopped
        _write_json(self.folder / MANIFEST, self.doc)

    def log(self, rec: dict) -> None:
        with open(self.folder / COUNT_LOG, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")


@dataclass
class _Options:
    every: float
    baseline_every: float
    max_goroutines: int
    leak: bool
    timeout: float
    retries: int
    max_bytes: int
    keep_bytes: int
    keep_files: int
    on_trigger: str | None
    triage: bool
    status: Callable[[str], None]
    also: Mapping[str, str] | None = None


def _dump(tg: _Target, o: _Options, count: int | None, reason: str) -> list[Path]:
    """One capture round into the target's folder; its files, listed in the manifest with the reason."""
    big = count is not None and count > o.max_goroutines
    url = (
        next(u for p, d, u in profile_urls(tg.url, debug1=True) if p == "goroutine" and d == 1)
        if big
        else tg.url
    )
    # the leak profile runs a GC cycle of its own: on triggers only
    leak = o.leak and reason != "baseline" and not big and tg.leak_served is not False
    with tempfile.TemporaryDirectory(dir=tg.folder, prefix=".round-") as tmp:
        err = None
        try:
            capture(
                url,
                Path(tmp) / "r",
                count=1,
                leak=leak,
                timeout=o.timeout,
                retries=o.retries,
                max_bytes=o.max_bytes,
                progress=False,
                instance=tg.instance,
                also=o.also,
            )
        except CaptureError as e:
            err = str(e)
        try:
            done = json.loads((Path(tmp) / "r" / MANIFEST).read_text(encoding="utf-8"))
            got, extras = done["snapshots"], done.get("extras", [])
        except (OSError, ValueError, KeyError):
            got, extras = [], []
        if leak:
            tg.leak_served = any(s["profile"] == "goroutineleak" for s in got)
        if err and not got:
            raise CaptureError(err)
        files = []
        for s in got:
            name = f"{s['profile']}-debug{s['debug']}-{tg.round:04d}{Path(s['file']).suffix}"
            shutil.move(str(Path(tmp) / "r" / s["file"]), tg.folder / name)
            tg.doc["snapshots"].append(
                {
                    **s,
                    "file": name,
                    "round": tg.round,
                    "reason": reason,
                    "goroutines": count,
                    "guard": big,
                }
            )
            files.append(tg.folder / name)
        for e in extras:
            name = f"{e['name']}-{tg.round:04d}{Path(e['file']).suffix}"
            shutil.move(str(Path(tmp) / "r" / e["file"]), tg.folder / name)
            tg.doc["extras"].append({**e, "file": name, "round": tg.round})
    tg.round += 1
    _retain(tg, o, keep=set(files))
    tg.save()
    return files


def _retain(tg: _Target, o: _Options, keep: set[Path]) -> None:
    """Drop the oldest dumps past keep_files or keep_bytes (never those in ``keep``)."""
    snaps = tg.doc["snapshots"]
    while snaps:
        total = sum(s.get("bytes", 0) for s in snaps)
        if len(snaps) <= o.keep_files and total <= o.keep_bytes:
            break
        victim = next((s for s in snaps if tg.folder / s["file"] not in keep), None)
        if victim is None:
            break
        (tg.folder / victim["file"]).unlink(missing_ok=True)
        snaps.remove(victim)
        tg.doc["watch"]["deleted"] += 1
        tg.doc["watch"]["deleted_bytes"] += victim.get("bytes", 0)
    rounds = {s["round"] for s in snaps}
    for e in [e for e in tg.doc["extras"] if e["round"] not in rounds]:
        (tg.folder / e["file"]).unlink(missing_ok=True)
        tg.doc["extras"].remove(e)


def _triage_job(folder: str, instance: str, reason: str) -> tuple[str, str, str]:
    """Triage the series kept so far; suspects.json and report.html beside the dumps.

    Runs in a worker process, so that the samples of every target go on meanwhile.
    """
    d = load(folder)
    counts, on = None, None
    with contextlib.suppress(GoforensicsError):  # too few counts yet: no onset to tell
        counts = load_metrics(folder)
        on = leak_onset(counts).iloc[0]
    onset = on["onset"] if on is not None and pd.notna(on["onset"]) else None
    # growth is judged from the last dump before it started, where the counts tell when
    result = triage_series(d, since=onset)
    result["trigger"] = {"reason": reason, "instance": instance}
    notes = {"instance": instance, "trigger": reason}
    if onset is not None:
        result["onset"] = {
            "time": onset.isoformat(),
            "count": on["count_at_onset"],
            "slope_per_min": on["slope_per_min"],
        }
        notes["growth since"] = f"{onset:%Y-%m-%d %H:%M:%S} UTC ({on['slope_per_min']:+.1f}/min)"
    sj = Path(folder) / "suspects.json"
    _write_json(sj, result)
    rep = write_report(
        d,
        Path(folder) / "report.html",
        title=f"goforensics watch: {instance}",
        notes=notes,
        counts=counts,
        onset=onset,
    )
    top = result["suspects"][0] if result["suspects"] else None
    return (
        str(sj),
        str(rep),
        (f"top suspect: {top['site']} [{top['state']}]" if top else "no suspect"),
    )


@dataclass
class _Pending:
    tg: _Target
    reason: str
    files: list[Path]
    count: int | None
    future: Future | None


class _Jobs:
    """What runs beside the sampling: triage (a worker process) then the on-trigger command."""

    def __init__(self, o: _Options) -> None:
        self.o, self.pool = o, None
        self.pending: list[_Pending] = []
        self.commands: list[tuple[str, subprocess.Popen]] = []

    def submit(self, tg: _Target, reason: str, files: list[Path], count: int | None) -> None:
        future = None
        if self.o.triage:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            future = self.pool.submit(_triage_job, str(tg.folder), tg.instance, reason)
        self.pending.append(_Pending(tg, reason, files, count, future))

    def poll(self, wait: bool = False) -> None:
        for p in list(self.pending):
            if p.future is not None and not (wait or p.future.done()):
                continue
            self.pending.remove(p)
            paths: tuple[str, str] = ("", "")
            if p.future is not None:
                try:
                    sj, rep, top = p.future.result()
                    paths = (sj, rep)
                    self.o.status(
                        f"{p.tg.instance}: {top}; wrote {Path(sj).name} and {Path(rep).name}"
                    )
                except (
                    Exception
                ) as e:  # whatever the worker raised: a failed triage must not stop the watch
                    self.o.status(
                        f"{p.tg.instance}: triage failed: {type(e).__name__}: {str(e)[:200]}"
                    )
            if self.o.on_trigger:
                self.commands.append((p.tg.instance, _on_trigger(self.o.on_trigger, p, paths)))
        for inst, proc in list(self.commands):
            if wait:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=120)
            rc = proc.poll()
            if rc is not None or wait:
                self.commands.remove((inst, proc))
                self.o.status(
                    f"{inst}: on-trigger command "
                    + (
                        "ok"
                        if rc == 0
                        else "still running after 120s: left behind"
                        if rc is None
                        else f"exited {rc}"
                    )
                )

    def close(self, wait: bool) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=not wait)


def _on_trigger(cmd: str, p: _Pending, paths: tuple[str, str]) -> subprocess.Popen:
    tg = p.tg
    env = {
        **os.environ,
        "GOFORENSICS_INSTANCE": tg.instance,
        "GOFORENSICS_REASON": p.reason,
        "GOFORENSICS_DIR": str(tg.folder),
        "GOFORENSICS_GOROUTINES": "" if p.count is None else str(p.count),
        "GOFORENSICS_DUMP": str(p.files[0]) if p.files else "",
        "GOFORENSICS_DUMPS": os.pathsep.join(map(str, p.files)),
        "GOFORENSICS_SUSPECTS": paths[0],
        "GOFORENSICS_REPORT": paths[1],
    }
    return subprocess.Popen(
        cmd, shell=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _fire(tg: _Target, o: _Options, count: int | None, reason: str, jobs: _Jobs) -> None:
    tg.triggers += 1
    tg.doc["watch"]["triggers"].append(
        {"time": _iso(datetime.now(UTC)), "reason": reason, "goroutines": count}
    )
    try:
        files = _dump(tg, o, count, reason)
    except CaptureError as e:
        tg.save()
        o.status(f"{tg.instance}: TRIGGER {reason}; the dump failed: {e}")
        return
    o.status(f"{tg.instance}: TRIGGER {reason} -> {', '.join(f.name for f in files)}")
    jobs.submit(tg, reason, files, count)


def _sample(tg: _Target, o: _Options, t: float, jobs: _Jobs) -> None:
    """One sample of one target: count, log, rules, baseline, trigger."""
    now = datetime.now(UTC)
    t0 = time.monotonic()
    try:
        n, err = _read_count(tg.count_url, o.timeout, head_only=tg.metrics is None), None
    except CaptureError as e:
        n, err = None, str(e)
    elapsed = time.monotonic() - t0
    reasons = [r for r in (rule.update(t, n) for rule in tg.rules) if r] if n is not None else []
    tg.log(
        {
            "time": _iso(now),
            "instance": tg.instance,
            "goroutines": n,
            "elapsed": round(elapsed, 4),
            "error": err,
            "trigger": reasons[0] if reasons else None,
        }
    )
    if n is None:
        o.status(f"{now:%H:%M:%S} {tg.instance}: no count ({err})")
        return
    delta = "" if tg.last_count is None else f" ({n - tg.last_count:+d})"
    o.status(f"{now:%H:%M:%S} {tg.instance}: {n:,} goroutines{delta}")
    tg.last_count = n
    if reasons:
        _fire(tg, o, n, "; ".join(reasons), jobs)
    elif t - tg.last_baseline >= o.baseline_every:
        try:
            _dump(tg, o, n, "baseline")
            tg.last_baseline = t
        except CaptureError as e:
            o.status(f"{tg.instance}: baseline dump failed: {e}")


def _targets(
    targets: Sequence[str],
    out: Path,
    metrics: Sequence[str | None] | None,
    rules: Sequence[str | trig.Trigger],
    names: Sequence[str] | None,
) -> list[_Target]:
    if not targets:
        raise ValueError("give at least one target")
    metrics = list(metrics) if metrics else [None] * len(targets)
    if len(metrics) != len(targets):
        raise ValueError(
            f"{len(metrics)} metrics URLs for {len(targets)} targets: give one per target"
        )
    if names is not None and len(names) != len(targets):
        raise ValueError("give one instance name per target")
    protos = [trig.rule_from_spec(r) for r in rules]
    out_list = []
    for k, url in enumerate(targets):
        where = profile_urls(url)[0][2].split("/")[2]
        name = names[k] if names else where
        folder = out if len(targets) == 1 else out / name.replace(":", "_").replace("/", "_")
        out_list.append(_Target(url, name, folder, metrics[k], [copy.deepcopy(p) for p in protos]))
    return out_list


def watch(
    targets: str | Sequence[str],
    out_dir: str | Path,
    *,
    every: float = 5.0,
    metrics: str | Sequence[str | None] | None = None,
    rules: Sequence[str | trig.Trigger] = ("trend",),
    names: Sequence[str] | None = None,
    baseline_every: float = 600.0,
    max_goroutines: int = 100_000,
    leak: bool = True,
    duration: float | None = None,
    max_triggers: int | None = None,
    timeout: float = 10.0,
    retries: int = 1,
    max_bytes: int = DEFAULT_MAX_BYTES,
    keep_bytes: int = 500 << 20,
    keep_files: int = 200,
    on_trigger: str | None = None,
    triage: bool = True,
    status: Callable[[str], None] | None = None,
    also: Mapping[str, str] | None = None,
) -> list[Path]:
    """Watch services' goroutine counts and capture dumps when a rule fires.

    Parameters
    ----------
    targets : pprof base URLs (``host:port``, ``http://host:port/prefix``), one or several.
    out_dir : the output folder (one sub-folder per instance for several targets).
    every : seconds between two samples of every target.
    metrics : a Prometheus ``/metrics`` URL per target to read the count from (None:
        the ``debug=1`` profile's total).
    rules : trigger rules, as objects of :mod:`goforensics.analyze.triggers` or specs
        (``trend``, ``holmes:min=500,diff=25``; see :func:`rule_from_spec`).
    names : instance names (default ``host:port``).
    baseline_every : seconds between two baseline dumps (the first at the first sample).
    max_goroutines : above this count a dump is ``debug=1`` only, and no leak profile.
    leak : also capture the ``goroutineleak`` profile on a trigger where it is served.
    duration, max_triggers : stop after this many seconds, or after this many triggers
        of every target (neither: until interrupted).
    timeout, retries, max_bytes : as in :func:`goforensics.read.capture.capture`.
    keep_bytes, keep_files : retention of dumps per instance.
    on_trigger : a shell command run after each trigger; it finds
        ``GOFORENSICS_INSTANCE``, ``_REASON``, ``_GOROUTINES``, ``_DIR``, ``_DUMP`` (the
        main dump), ``_DUMPS`` (all of the round, ``os.pathsep``-separated),
        ``_SUSPECTS`` and ``_REPORT`` in its environment.
    triage : triage the series after a trigger (``suspects.json``, ``report.html``).
    status : called with a one-line status per sample and per event (default: print).
    also : ``{name: path}`` of other endpoints fetched after the dumps of each round and
        kept beside them as manifest ``extras`` (as ``capture`` does).

    Returns
    -------
    list of Path
        The manifest of each target.

    Raises :class:`CaptureError` when an output folder already holds a capture;
    Ctrl-C (``KeyboardInterrupt``) finishes the manifests and is raised again.

    Examples
    --------
    Watching needs a live service; what it is given is checked before anything is written:

    >>> watch("localhost:6060", "series", every=0)
    Traceback (most recent call last):
    ...
    ValueError: every, timeout, keep_files and keep_bytes must be positive
    """
    if isinstance(targets, str):
        targets = [targets]
    if isinstance(metrics, str):
        metrics = [metrics]
    if every <= 0 or timeout <= 0 or keep_files < 1 or keep_bytes < 1:
        raise ValueError("every, timeout, keep_files and keep_bytes must be positive")
    o = _Options(
        every,
        baseline_every,
        max_goroutines,
        leak,
        timeout,
        retries,
        max_bytes,
        keep_bytes,
        keep_files,
        on_trigger,
        triage,
        status or (lambda s: print(s, file=sys.stderr, flush=True)),
        also,
    )
    tgs = _targets(targets, Path(out_dir), metrics, rules, names)
    for tg in tgs:
        tg.start(every)
    jobs = _Jobs(o)
    try:
        stopped = _run(tgs, o, jobs, duration, max_triggers)
    except KeyboardInterrupt:
        jobs.close(wait=False)
        for tg in tgs:
            tg.save("interrupted")
        raise
    for tg in tgs:
        tg.save(stopped)
    jobs.poll(wait=True)  # the triage of the last trigger, and its command
    jobs.close(wait=True)
    return [tg.folder / MANIFEST for tg in tgs]


def _run(
    tgs: list[_Target], o: _Options, jobs: _Jobs, duration: float | None, max_triggers: int | None
) -> str:
    """Sample every target on a fixed schedule until a stop condition; returns it."""
    start, k = time.monotonic(), 0
    while True:
        for tg in tgs:
            _sample(tg, o, time.monotonic() - start, jobs)
        jobs.poll()
        k += 1
        if max_triggers is not None and all(tg.triggers >= max_triggers for tg in tgs):
            return "triggers reached"
        if duration is not None and k * o.every > duration:
            return "duration reached"
        time.sleep(max(0.0, start + k * o.every - time.monotonic()))
