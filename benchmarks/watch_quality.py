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

import pandas as pd

from goforensics.analyze import triggers as trig
from goforensics.read.metrics import load_metrics

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


def rules(control_max: int) -> dict[str, trig.Trigger]:
    """Every rule at its authors' defaults, and the threshold rules tuned with hindsight.

    The tuned thresholds are the largest count seen on any control curve: the lowest
    threshold with no false alarm on these recordings, which no one knows in advance.
    """
    return {
        "holmes (defaults)": trig.HolmesRule(),
        "holmes (README: 10,25,2000,10k, 1m)": trig.HolmesRule(min=10, diff=25, abs=2000, max=10_000, cooldown=60),
        f"holmes (min={control_max})": trig.HolmesRule(min=control_max, diff=25, abs=2000, cooldown=60),
        "cockroach (threshold 1000)": trig.CockroachRule(),
        f"cockroach (threshold {control_max})": trig.CockroachRule(threshold=control_max),
        "deriv(5m) > 10": trig.DerivRule(),
        "predict_linear(1h, 2h) > 10000": trig.PredictLinearRule(),
        f"predict_linear(1h, 2h) > {control_max}": trig.PredictLinearRule(limit=control_max),
        "trend (ours)": trig.TrendRule(),
    }


def _load(curves: Path) -> dict[str, tuple[pd.DataFrame, str]]:
    out = {}
    for name, spec in RECORDINGS.items():
        path = curves / f"{name}.csv"
        if not path.exists():
            print(f"(no curve {path.name}: run --record)", file=sys.stderr)
            continue
        m = load_metrics(path)
        truth = pd.read_csv(path)["leaked"].to_numpy()
        m["t"] = (m["time"] - m["time"].iloc[0]).dt.total_seconds()
        m["leaked"] = truth
        out[name] = (m, spec[4])
    return out


def _score(fires: list, m: pd.DataFrame, kind: str) -> dict:
    onset = float(m.loc[m["leaked"] > 0, "t"].iloc[0]) if kind == "leak" and (m["leaked"] > 0).any() else None
    early = [f for f in fires if onset is None or f[0] < onset]
    late = [f for f in fires if onset is not None and f[0] >= onset]
    row = {"false": len(early), "dumps": len(fires), "delay": None, "leaked": None}
    if late:
        t = late[0][0]
        row["delay"] = t - onset
        row["leaked"] = int(m.loc[m["t"] == t, "leaked"].iloc[0])
    return row


def replay(curves: Path) -> int:
    data = _load(curves)
    if not data:
        return 1
    control_max = int(max(m["goroutines"].max() for m, kind in data.values() if kind == "control"))
    leaky = [n for n, (_, k) in data.items() if k == "leak"]
    print(f"curves: {', '.join(f'{n} ({k}, {len(m)} samples, {m.t.iloc[-1]:.0f}s)' for n, (m, k) in data.items())}")
    print(f"largest count on a control curve: {control_max}\n")
    head = f"{'rule':<38} {'detected':>8} {'false alarms':>12} {'dumps':>5}  " + "  ".join(f"{n:>16}" for n in leaky)
    print(head + "\n" + "-" * len(head))
    for label, rule in rules(control_max).items():
        cells, found, false, dumps = [], 0, 0, 0
        for m, kind in data.values():
            r = _score(trig.replay(rule, m["t"], m["goroutines"]), m, kind)
            false += r["false"]
            dumps += r["dumps"]
            if kind == "leak":
                found += r["delay"] is not None
                cells.append("-" if r["delay"] is None else f"{r['delay']:.0f}s/{r['leaked']}")
        print(f"{label:<38} {found:>5}/{len(leaky):<2} {false:>12} {dumps:>5}  " + "  ".join(f"{c:>16}" for c in cells))
    print("\ncells: detection delay after the leak started / goroutines of the leaking code alive then (ground truth)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
