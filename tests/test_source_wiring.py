"""--source on triage and report: each suspect shows the code of its source tree.

The expectations are read off the scenario service's Go file, not off our output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import goforensics as gf
from goforensics.show.report import report_html

ROOT = Path(__file__).resolve().parent.parent
CHECKOUT = ROOT / "datasets" / "scenarios" / "checkout"


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, x in enumerate(lines, 1) if needle in x)


def test_triage_with_source_shows_the_blocking_line_and_the_go_statement():
    send = _line_of(CHECKOUT / "recommend.go", "ch <- f()")
    spawn = _line_of(CHECKOUT / "recommend.go", "go func() {")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "goforensics.cli",
            "triage",
            "bundled:checkout",
            "--format",
            "json",
            "--source",
            str(CHECKOUT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    sus = {s["site"]: s for s in json.loads(r.stdout)["suspects"]}
    s = sus["main.firstOr[...].func1"]
    assert (Path(s["source_file"]).name, s["source_line"]) == ("recommend.go", send)
    assert (Path(s["go_file"]).name, s["go_line"]) == ("recommend.go", spawn)
    assert "ch <- f()" in s["code"]
    assert s["source_verdict"] == "confirms"


def test_triage_text_and_report_carry_the_code(monkeypatch):
    monkeypatch.setenv("GOFORENSICS_SOURCE", str(CHECKOUT))
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "triage", "bundled:checkout", "--top", "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "ch <- f()" in r.stdout and "recommend.go:" in r.stdout
    page = report_html(gf.load("bundled:checkout"), charts=False, source=[CHECKOUT])
    assert "ch &lt;- f()" in page


def test_triage_without_source_has_no_code():
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "triage", "bundled:checkout", "--top", "3"],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
    assert "ch <- f()" not in r.stdout
