"""Watch triggers side by side on goroutine-count curves recorded from real Go services.

Two steps:

``python benchmarks/watch_quality.py --record [--out tests/curves]`` runs the services and
records their curves (a few KB of CSV each): the four scenario services
(``datasets/scenarios``: checkout, notifier and gateway leak; indexer is the control, with
reindex bursts and an ingest backlog that drains) and ``tests/goprograms/leakwatch`` in
several modes (a leak after a quiet warm-up, drained bursts, a slow leak, a leak among
bursts, a quiet control). Every second it writes the service's goroutine count (the
``debug=1`` profile's total, or ``go_goroutines`` from ``/metrics``) and its own ground truth:
how many goroutines of leaking code paths are alive (the scenarios' ``/debug/truth``
registry; leakwatch's ``leakwatch_leaked_goroutines``).

``python benchmarks/watch_quality.py [--curves tests/curves]`` replays every rule on every
curve in one run and prints, per rule: on the leaky curves, the detection delay after the
leak started (seconds) and the goroutines leaked by then (the truth column at the trigger);
false alarms on the control and burst curves; dumps written (every firing is a dump).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CURVES = ROOT / "tests" / "curves"

# name -> (program, args, seconds, sample every, kind); kind "leak" or "control"
RECORDINGS = {
    "checkout": ("scenario", [], 150, 1.0, "leak"),
    "notifier": ("scenario", [], 150, 1.0, "leak"),
    "gateway": ("scenario", [], 150, 1.0, "leak"),
    "indexer": ("scenario", [], 150, 1.0, "control"),
    "lw-warmup-leak": ("leakwatch", ["-leak-after=40s", "-leak-rate=2"], 120, 1.0, "leak"),
    "lw-leak-bursts": ("leakwatch", ["-leak-after=45s", "-leak-rate=0.5", "-burst-every=20s",
                                     "-burst-size=250", "-burst-hold=3s"], 150, 1.0, "leak"),
    "lw-bursts": ("leakwatch", ["-burst-every=20s", "-burst-size=300", "-burst-hold=4s"], 150, 1.0,
                  "control"),
    "lw-quiet": ("leakwatch", [], 120, 1.0, "control"),
    "lw-slow-leak": ("leakwatch", ["-leak-after=60s", f"-leak-rate={1 / 60:.6f}"], 720, 2.0, "leak"),
}


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def _start(exe: Path, args: list[str]) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    urls: dict[str, str] = {}
    for _ in range(4):
        line = proc.stdout.readline()
        m = re.match(r"(\w+)(?: on)? (http://\S+)", line.strip())
        if m:
            urls[m.group(1)] = m.group(2)
        if "listening" in urls or ("debug" in urls and "api" in urls):
            break
    return proc, urls


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _truth_scenario(base: str) -> int:
    """Goroutines of the dump that the service registered under a leaking cause.

    A lower bound: the standard library's goroutines started for them (a leaked connection's
    readLoop and writeLoop) are not registered themselves.
    """
    dump = _get(base + "/debug/pprof/goroutine?debug=2", timeout=30).decode("utf-8", "replace")
    present = {int(m) for m in re.findall(r"^goroutine (\d+)", dump, re.M)}
    doc = json.loads(_get(base + "/debug/truth"))
    leaky = {c["name"] for c in doc["causes"] if c["leak"]}
    return sum(1 for g in doc["goroutines"] if g[1] in leaky and int(g[0]) in present)


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


def record_one(name: str, exe: Path, out: Path) -> Path:
    program, args, seconds, every, _ = RECORDINGS[name]
    proc, urls = _start(exe, args)
    rows = []
    try:
        base = urls.get("debug") or urls["listening"]
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < seconds:
            now = datetime.now(UTC)
            if program == "scenario":
                head = _get(base + "/debug/pprof/goroutine?debug=1")[:100].decode()
                count = int(re.match(r"goroutine profile: total (\d+)", head).group(1))
                leaked = _truth_scenario(base)
            else:
                text = _get(base + "/metrics").decode()
                count = int(_metric(text, "go_goroutines"))
                leaked = int(_metric(text, "leakwatch_leaked_goroutines"))
            rows.append(f"{now.isoformat(timespec='milliseconds').replace('+00:00', 'Z')},{name},{count},{leaked}")
            k += 1
            time.sleep(max(0.0, t0 + k * every - time.monotonic()))
    finally:
        _stop(proc)
    path = out / f"{name}.csv"
    path.write_text("time,instance,goroutines,leaked\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def record(names: list[str], out: Path) -> None:
    """Build the programs and record the curves, all side by side (threads)."""
    import threading

    from goforensics.datasets import SCENARIOS_DIR, go_build

    out.mkdir(parents=True, exist_ok=True)
    bindir = Path(tempfile.gettempdir()) / "goforensics-watch-bin"
    exes = {}
    for name in names:
        program = RECORDINGS[name][0]
        src = SCENARIOS_DIR / name if program == "scenario" else ROOT / "tests" / "goprograms" / "leakwatch"
        key = src.name
        if key not in exes:
            exes[key] = go_build(src, bindir / f"watch-{key}")
    threads = []
    for name in names:
        src = name if RECORDINGS[name][0] == "scenario" else "leakwatch"
        t = threading.Thread(target=lambda n=name, e=exes[src]: print("recorded", record_one(n, e, out), flush=True))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true", help="run the services and record their curves")
    ap.add_argument("--only", nargs="*", default=None, help="recordings to make (default: all)")
    ap.add_argument("--curves", type=Path, default=CURVES, help="where the curves are (or go)")
    a = ap.parse_args(argv)
    if a.record:
        record(a.only or list(RECORDINGS), a.curves)
        return 0
    return replay(a.curves)


def replay(curves: Path) -> int:
    raise NotImplementedError


if __name__ == "__main__":
    sys.exit(main())
