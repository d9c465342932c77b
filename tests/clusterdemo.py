"""Build and run tests/goprogs/clusterdemo (once per test session): real dumps with known causes.

``clusterdemo_runs`` gives two builds of the same program: ``v1`` as written, and ``v2``
with lines inserted at its VARIANT markers (every line below moves, closures are
renumbered), the way the next build of a service differs. Each run wrote, after each of
its rounds, ``round{r}-debug2.txt``, ``round{r}-debug1.txt`` and ``round{r}-debug0.pb.gz``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import goforensics as gf

SOURCE = Path(__file__).resolve().parent / "goprogs" / "clusterdemo"
ROUNDS = 3
DRIFT_LINES = 7


def variant_source(text: str) -> str:
    """The next build: lines inserted at the top (drift) and closures added (renumbering)."""
    text = text.replace(
        "// VARIANT-DRIFT", "// VARIANT-DRIFT\n" + "// moved by the next build\n" * DRIFT_LINES
    )
    text = text.replace(
        "\t\t// VARIANT-CLOSURE", "\t\t// VARIANT-CLOSURE\n\t\tdefer func() { _ = recover() }()"
    )
    return text.replace(
        "\tfan := &Fanout{out: make(chan int)}",
        "\tgo func() {}()\n\tfan := &Fanout{out: make(chan int)}",
    )


def _run(exe: Path, out: Path) -> Path:
    out.mkdir()
    subprocess.run(
        [str(exe), "-out", str(out), "-rounds", str(ROUNDS)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="session", name="clusterdemo_runs")
def clusterdemo_fixture(build_go, tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("clusterdemo")
    v2 = work / "clusterdemo-v2"
    v2.mkdir()
    (v2 / "go.mod").write_text((SOURCE / "go.mod").read_text())
    (v2 / "main.go").write_text(variant_source((SOURCE / "main.go").read_text()))
    return {
        "v1": _run(build_go(SOURCE), work / "dumps-v1"),
        "v2": _run(build_go(v2), work / "dumps-v2"),
    }


def dumps_of(run: Path, debug: int = 2, rounds=range(ROUNDS)) -> list[Path]:
    suffix = "debug0.pb.gz" if debug == 0 else f"debug{debug}.txt"
    return [run / f"round{r}-{suffix}" for r in rounds]


def truth(d: gf.Dumps):
    """The cause each goroutine carries in its pprof labels (the program's own knowledge)."""
    lab = gf.labels_frame(d.goroutines)
    if "cause" not in lab:
        return lab.reindex(columns=["cause"])["cause"]
    return lab["cause"]


def blocking_lines(text: str) -> dict[str, int]:
    """Line of each '// blocks: why' comment of the source, keyed by its 'why'."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = re.search(r"// blocks:? (.*)$", line)
        if m:
            out[m.group(1).strip()] = n
    return out
