"""Benchmark: the fixed cost of a file when a folder holds many small dumps.

    .venv/bin/python benchmarks/many_files.py [--files 300 2000] [--profile] [--no-parse]

The folder is made from the bundled ``checkout`` series (its dumps are copied round-robin
under new names into a temporary directory), then loaded with :func:`goforensics.load`.
Printed for each size: seconds, milliseconds per file, goroutines read, and the same for
parsing the files one by one with :func:`goforensics.read.parse.parse_file` (the parse cost
alone), so that the fixed work per file can be compared with the parse itself. CPU seconds
(this process's) are printed beside wall seconds: on a shared machine they are the steadier
figure. The load average is printed with each line.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path

import goforensics as gf
from goforensics.read.parse import parse_file

SERIES = Path(gf.__file__).parent / "data" / "checkout"


def make_folder(root: Path, n: int) -> Path:
    dumps = sorted(SERIES.glob("goroutine-*.txt*"))
    d = root / f"many-{n}"
    d.mkdir()
    for i in range(n):
        src = dumps[i % len(dumps)]
        shutil.copyfile(src, d / f"dump-{i:05d}{''.join(src.suffixes)}")
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, nargs="+", default=[300, 2000])
    ap.add_argument("--profile", action="store_true", help="print the top of a profile of load")
    ap.add_argument("--no-parse", action="store_true", help="skip the parse_file-alone pass")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.files:
            d = make_folder(Path(tmp), n)
            files = sorted(d.iterdir())
            t0 = time.perf_counter()
            if not args.no_parse:
                parsed = sum(int(parse_file(f).goroutines["count"].sum()) for f in files)
            t_parse = time.perf_counter() - t0
            prof = cProfile.Profile() if args.profile else None
            t0, c0 = time.perf_counter(), time.process_time()
            if prof:
                prof.enable()
            series = gf.load(d)
            if prof:
                prof.disable()
            t_load, c_load = time.perf_counter() - t0, time.process_time() - c0
            got = int(series.goroutines["count"].sum())
            alone = (
                ""
                if args.no_parse
                else f"  |  parse_file alone {t_parse:6.2f} s  {1000 * t_parse / n:6.1f} ms/file "
                f"({parsed} goroutines)"
            )
            print(
                f"{n:5d} files  load {t_load:6.2f} s  {1000 * t_load / n:6.1f} ms/file  "
                f"(CPU {c_load:6.2f} s, {1000 * c_load / n:5.1f} ms/file; {got} goroutines, "
                f"{len(series.snapshots)} snapshots; load average {os.getloadavg()[0]:.1f})"
                + alone,
                flush=True,
            )
            if prof:
                pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
