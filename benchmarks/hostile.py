"""Benchmark: hostile inputs through parse_file, each in a fresh process; print seconds and peak RSS.

    .venv/bin/python benchmarks/hostile.py [--gib 3] [--snapshots 20001] [--only NAME ...]

The inputs are made once in a temporary directory with gzip's streaming writer:

* ``zeros.gz``: GIB GiB of zero bytes, no newline (a decompression bomb of a few MB);
* ``newlines.gz``: GIB GiB of newlines, then one small dump;
* ``bomb.pb.gz``: a profile.proto header, then a string field of GIB GiB of zeros;
* ``repeated.txt``: one goroutine block repeated SNAPSHOTS times (each repeat a new snapshot).

Printed per input: seconds, peak RSS of the parsing process, goroutines read and the warnings
or the error the budgets gave (see goforensics.read.limits).
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MiB = 1 << 20
BLOCK = (
    "goroutine 7 [chan receive]:\nmain.worker(0x7)\n\t/app/w.go:42 +0x1d\n"
    "created by main.main in goroutine 1\n\t/app/main.go:9 +0x2a\n"
)


def varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | 0x80 if v else b)
        if not v:
            return bytes(out)


def make(tmp: Path, gib: int, snapshots: int) -> dict[str, Path]:
    paths = {}
    with gzip.open(tmp / "zeros.gz", "wb", 6) as fh:
        for _ in range(gib * 1024):
            fh.write(bytes(MiB))
    paths["zeros.gz"] = tmp / "zeros.gz"
    with gzip.open(tmp / "newlines.gz", "wb", 6) as fh:
        for _ in range(gib * 1024):
            fh.write(b"\n" * MiB)
        fh.write(BLOCK.encode())
    paths["newlines.gz"] = tmp / "newlines.gz"
    head = bytes([0x0A, 0x04, 0x08, 0x01, 0x10, 0x02])
    for s in (b"", b"goroutine", b"count"):
        head += b"\x32" + varint(len(s)) + s
    with gzip.open(tmp / "bomb.pb.gz", "wb", 6) as fh:
        fh.write(head + b"\x32" + varint(gib << 30))
        for _ in range(gib * 1024):
            fh.write(bytes(MiB))
    paths["bomb.pb.gz"] = tmp / "bomb.pb.gz"
    (tmp / "repeated.txt").write_text("\n".join([BLOCK] * snapshots))
    paths["repeated.txt"] = tmp / "repeated.txt"
    return paths


def child(path: str) -> None:
    import goforensics as gf

    t0 = time.perf_counter()
    try:
        d = gf.parse_file(path)
        out = {
            "goroutines": d.total,
            "snapshots": len(d.snapshots),
            "warnings": d.warnings["message"].astype(str).str.slice(0, 90).tolist()[-2:],
        }
    except gf.GoforensicsError as e:
        out = {"error": f"{type(e).__name__}: {e}"}
    out["seconds"] = time.perf_counter() - t0
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gib", type=int, default=3)
    ap.add_argument("--snapshots", type=int, default=20_001)
    ap.add_argument("--only", action="append")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = make(Path(tmp), args.gib, args.snapshots)
        print(f"inputs made in {time.perf_counter() - t0:.1f} s")
        for name, p in paths.items():
            if args.only and name not in args.only:
                continue
            r = subprocess.run(
                [sys.executable, __file__, "--child", str(p)],
                capture_output=True,
                text=True,
                timeout=3600,
            )
            if r.returncode:
                print(f"{name:14s} {p.stat().st_size / MiB:7.1f} MiB  CRASH {r.stderr[-300:]}")
                continue
            out = json.loads(r.stdout.strip().splitlines()[-1])
            rest = (
                out.get("error")
                or f"{out['goroutines']} goroutines, {out['snapshots']} snapshots, {out['warnings']}"
            )
            print(
                f"{name:14s} {p.stat().st_size / MiB:7.1f} MiB  {out['seconds']:7.2f} s  "
                f"peak RSS {out['rss_mib']:6.0f} MiB  {rest}"
            )


if __name__ == "__main__":
    main()
