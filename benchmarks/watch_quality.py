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
    "lw-leak-bursts": (
        "leakwatch",
        [
            "-leak-after=45s",
            "-leak-rate=0.5",
            "-burst-every=20s",
            "-burst-size=250",
            "-burst-hold=3s",
        ],
        150,
        1.0,
        "leak",
    ),
    "lw-bursts": (
        "leakwatch",
        ["-burst-every=20s", "-burst-size=300", "-burst-hold=4s"],
        150,
        1.0,
        "control",
    ),
    "lw-quiet": ("leakwatch", [], 120, 1.0, "control"),
    "lw-slow-leak": (
        "leakwatch",
        ["-leak-after=60s", f"-leak-rate={1 / 60:.6f}"],
        720,
        2.0,
        "leak",
    ),
}


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def _start(exe: Path, args: list[str]) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen(
        [str(exe), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
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
            rows.append(
                f"{now.isoformat(timespec='milliseconds').replace('+00:00', 'Z')},{name},{count},{leaked}"
            )
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
        src = (
            SCENARIOS_DIR / name
            if program == "scenario"
            else ROOT / "tests" / "goprograms" / "leakwatch"
        )
        key = src.name
        if key not in exes:
            exes[key] = go_build(src, bindir / f"watch-{key}")
    threads = []
    for name in names:
        src = name if RECORDINGS[name][0] == "scenario" else "leakwatch"
        t = threading.Thread(
            target=lambda n=name, e=exes[src]: print("recorded", record_one(n, e, out), flush=True)
        )
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def _cut(folder: Path, last_round: int, dest: Path) -> Path:
    """The series as it was when the trigger fired: the rounds up to ``last_round``."""
    doc = json.loads((folder / "manifest.json").read_text())
    doc["snapshots"] = [x for x in doc["snapshots"] if x["round"] <= last_round]
    doc["extras"] = [x for x in doc["extras"] if x["round"] <= last_round]
    dest.mkdir(parents=True)
    for x in doc["snapshots"] + doc["extras"]:
        os.symlink(folder / x["file"], dest / x["file"])
    (dest / "manifest.json").write_text(json.dumps(doc))
    return dest


def _named(series: Path, top: int) -> tuple[set[str], set[str], int | None, int | None]:
    """Leak causes of the series, those among the top suspects, last leak rank, first benign rank."""
    import goforensics as gf
    from goforensics import datasets as gd
    from goforensics.analyze.suspects import suspects

    truth, _ = gd.label_series(series)
    d = gf.load(series)
    g = d.goroutines[["snapshot", "goid", "count"]].merge(
        truth, on=["snapshot", "goid"], how="left"
    )
    labels = gf.cluster(d)
    s = suspects(d, labels)
    t = pd.DataFrame(
        {
            "cluster": labels.to_numpy(),
            "cause": g["cause"].fillna("unknown").to_numpy(),
            "leak": g["leak"].fillna(False).astype(bool).to_numpy(),
            "n": g["count"].to_numpy(),
        }
    )
    who = (
        t.groupby(["cluster", "cause", "leak"])["n"]
        .sum()
        .reset_index()
        .sort_values(["cluster", "n"], ascending=[True, False], kind="stable")
        .drop_duplicates("cluster")
        .set_index("cluster")
    )
    ranked = s[["cluster"]].join(who, on="cluster").head(top).reset_index(drop=True)
    leak_causes = set(truth.loc[truth["leak"], "cause"])
    named = set(ranked.loc[ranked["leak"].fillna(False).astype(bool), "cause"])
    leak_ranks = [i + 1 for i, r in ranked.iterrows() if r["leak"] is True or r["leak"] == 1]
    benign = [i + 1 for i, r in ranked.iterrows() if not (r["leak"] is True or r["leak"] == 1)]
    return (
        leak_causes,
        named,
        max(leak_ranks) if leak_ranks else None,
        min(benign) if benign else None,
    )


def live(seconds: float, top: int = 5) -> int:
    """The watcher itself on the four scenario services at once: triggers, and what triage names."""
    from goforensics.datasets import SCENARIOS_DIR, go_build
    from goforensics.watch import watch

    names = ["checkout", "notifier", "gateway", "indexer"]
    bindir = Path(tempfile.gettempdir()) / "goforensics-watch-bin"
    procs, urls = [], {}
    out = Path(tempfile.mkdtemp(prefix="watch-live-"))
    try:
        for n in names:
            proc, u = _start(go_build(SCENARIOS_DIR / n, bindir / f"watch-{n}"), [])
            procs.append(proc)
            urls[n] = u["debug"]
        t0 = time.monotonic()
        watch(
            [urls[n] for n in names],
            out / "fleet",
            names=names,
            every=1.0,
            rules=["trend"],
            baseline_every=10,
            duration=seconds,
            also={"truth": "/debug/truth"},
            status=lambda line: (
                print(f"{time.monotonic() - t0:5.0f}s {line}", flush=True)
                if "TRIGGER" in line or "suspect" in line
                else None
            ),
        )
    finally:
        for p in procs:
            _stop(p)
    print(
        f"\nwatch (trend rule, every 1s) on the scenario services for {seconds:.0f}s; triage at the first trigger"
    )
    print(
        f"{'service':<10} {'trigger':>8} {'count':>6}  {'leak causes in top ' + str(top):>22}  {'last leak rank':>14}  "
        f"{'first benign rank':>17}"
    )
    for n in names:
        folder = out / "fleet" / n
        doc = json.loads((folder / "manifest.json").read_text())
        fired = [x for x in doc["snapshots"] if x["reason"] != "baseline"]
        if not fired:
            print(f"{n:<10} {'none':>8}")
            continue
        started = datetime.fromisoformat(doc["started_at"].replace("Z", "+00:00"))
        at = (
            datetime.fromisoformat(fired[0]["taken_at"].replace("Z", "+00:00")) - started
        ).total_seconds()
        leak_causes, named, last_leak, first_benign = _named(
            _cut(folder, fired[0]["round"], out / f"cut-{n}"), top
        )
        print(
            f"{n:<10} {at:>7.0f}s {fired[0]['goroutines']:>6}  {len(named):>15}/{len(leak_causes):<6}  "
            f"{last_leak!s:>14}  {first_benign!s:>17}   missing: {', '.join(sorted(leak_causes - named)) or '-'}"
        )
    print(f"(series kept in {out})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--record", action="store_true", help="run the services and record their curves"
    )
    ap.add_argument("--only", nargs="*", default=None, help="recordings to make (default: all)")
    ap.add_argument("--curves", type=Path, default=CURVES, help="where the curves are (or go)")
    ap.add_argument(
        "--live",
        type=float,
        metavar="SECONDS",
        help="run the watcher itself on the scenario services for this long instead",
    )
    a = ap.parse_args(argv)
    if a.live:
        return live(a.live)
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
        "holmes (README: 10,25,2000,10k, 1m)": trig.HolmesRule(
            min=10, diff=25, abs=2000, max=10_000, cooldown=60
        ),
        f"holmes (min={control_max})": trig.HolmesRule(
            min=control_max, diff=25, abs=2000, cooldown=60
        ),
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
    onset = (
        float(m.loc[m["leaked"] > 0, "t"].iloc[0])
        if kind == "leak" and (m["leaked"] > 0).any()
        else None
    )
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
    print(
        f"curves: {', '.join(f'{n} ({k}, {len(m)} samples, {m.t.iloc[-1]:.0f}s)' for n, (m, k) in data.items())}"
    )
    print(f"largest count on a control curve: {control_max}\n")
    head = f"{'rule':<38} {'detected':>8} {'false alarms':>12} {'dumps':>5}  " + "  ".join(
        f"{n:>16}" for n in leaky
    )
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
        print(
            f"{label:<38} {found:>5}/{len(leaky):<2} {false:>12} {dumps:>5}  "
            + "  ".join(f"{c:>16}" for c in cells)
        )
    print(
        "\ncells: detection delay after the leak started / goroutines of the leaking code alive then (ground truth)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
