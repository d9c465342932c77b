"""Regressions found by the fuzzing harness (benchmarks/fuzz.py), one test per finding.

Each input is the smallest form of what the harness saved; what must happen is what the brief
promises for bad input: a result, or a one-line error, never a traceback or a misleading message.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import goforensics as gf
from goforensics.cli import cli, main

# a header, then a file line with no function line before it and a stray line: the goroutine has
# no frames (the skipped lines are counted as warnings)
FRAMELESS = "goroutine 1 [chan send]:\n\t/a.go:1 +0x1\n\tx\n"


def test_triage_of_a_goroutine_with_no_frames(tmp_path: Path):
    p = tmp_path / "d.txt"
    p.write_text(FRAMELESS)
    d = gf.load(p)
    assert len(d.goroutines) == 1
    report = gf.triage(d)
    assert report["series"]["goroutines_last"] == 1
    assert [s["goroutines"] for s in report["suspects"]] == [1]
    assert report["suspects"][0]["state"] == "chan send"


def test_triage_command_does_not_blame_since_when_it_was_not_given(tmp_path: Path, capsys):
    p = tmp_path / "d.txt"
    p.write_text(FRAMELESS)
    assert main(["triage", str(p)]) == 0
    assert "--since" not in capsys.readouterr().err


def test_triage_since_that_is_not_a_time_is_a_usage_error(tmp_path: Path):
    p = tmp_path / "d.txt"
    p.write_text(FRAMELESS)
    r = CliRunner().invoke(cli, ["triage", "--since", "yesterday-ish", str(p)])
    assert r.exit_code == 2
    assert "Invalid value for --since" in r.output
