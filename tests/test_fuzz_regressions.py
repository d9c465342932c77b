"""Regressions found by the fuzzing harness (benchmarks/fuzz.py), one test per finding.

Each input is the smallest form of what the harness saved; what must happen is what the brief
promises for bad input: a result, or a one-line error, never a traceback or a misleading message.
"""

from __future__ import annotations

from pathlib import Path

import pytest
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


# a debug=1 profile as journalctl (and RFC 3164 syslog) prints it: every line behind
# 'Mon DD HH:MM:SS host app[pid]: '; the profile's own header says how many goroutines it holds
PROFILE = (
    "goroutine profile: total 3\n"
    "2 @ 0x45fe2e 0x48f939\n"
    "#\t0x48f918\tsync.runtime_notifyListWait+0x138\t\t\t\truntime/sema.go:527\n"
    "\n"
    "1 @ 0x45fe2e\n"
    "#\t0x48f918\tmain.f+0x1\t/app/a.go:5\n"
    "\n"
)


@pytest.mark.parametrize("fast", [True, False])
def test_debug1_profile_behind_syslog_prefixes_is_read(tmp_path: Path, fast: bool):
    lines = PROFILE.split("\n")[:-1]
    text = "".join(f"Nov 30 03:21:{k:02d} host app[4242]: {ln}\n" for k, ln in enumerate(lines))
    p = tmp_path / "journal.txt"
    p.write_text(text)
    d = gf.load(p, fast=fast)
    assert d.goroutines["count"].sum() == 3
    assert sorted(d.goroutines["count"].tolist()) == [1, 2]


def test_fleet_over_folders_deeper_than_python_s_stack_and_links_back(tmp_path: Path):
    # fleet-folder-nested: fsspec's find recursed once per folder and the fleet command ended
    # in "internal error: RecursionError" at 800 nested folders; links back are read once
    from goforensics.read.series import bundled_path

    deep = tmp_path / "deep"
    d = deep
    d.mkdir()
    for _ in range(1100):
        d = d / "d"
        d.mkdir()
    (d / "goroutines.txt").write_bytes(
        (bundled_path("demo") / "goroutines-debug2.txt").read_bytes()
    )
    (deep / "d" / "self").symlink_to(".")
    (deep / "d" / "up").symlink_to("..")
    try:
        run = CliRunner().invoke(cli, ["fleet", str(deep)])
    finally:
        _remove_deep(deep)  # pytest's own clean-up recurses, and would fail on this tree later
    assert run.exit_code == 0, run.output
    assert run.output.startswith("1 instance(s), 1 file(s), 1 snapshot(s)")


def _remove_deep(root: Path) -> None:
    """Remove a chain of nested folders from the bottom up, without recursion."""
    chain = [root]
    while (chain[-1] / "d").is_dir() and not (chain[-1] / "d").is_symlink():
        chain.append(chain[-1] / "d")
    for folder in reversed(chain):
        for entry in folder.iterdir():
            if entry.is_symlink() or entry.is_file():
                entry.unlink()
        folder.rmdir()


@pytest.mark.parametrize("fmt", ["text", "sarif"])
def test_check_of_a_file_whose_name_is_not_utf8(tmp_path: Path, fmt: str):
    # folder-badname: check ended in "internal error: UnicodeEncodeError" (its source column)
    import os

    name = os.fsdecode(b"a\xff\xfe.txt")
    (tmp_path / name).write_text(
        "goroutine 7 [chan send]:\nexample.com/p.leak()\n\t/src/p/p.go:9 +0x1\n"
        "created by example.com/p.Start in goroutine 1\n\t/src/p/p.go:5 +0x2\n"
    )
    run = CliRunner().invoke(cli, ["check", str(tmp_path), "--format", fmt])
    assert run.exit_code == 1, run.output  # read and judged: its goroutine is a leak
    assert "internal error" not in run.output
    assert "1 leaked (1 goroutine, 1 cause)" in run.output
