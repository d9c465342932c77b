"""The command line: every command documented, bad input gives one line and a non-zero exit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from goforensics.cli import cli, main

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "goforensics.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_command_is_documented_in_readme_and_help():
    readme = (ROOT / "README.md").read_text()
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name, cmd in cli.commands.items():
        assert f"goforensics {name}" in readme, f"README does not document `{name}`"
        assert name in result.output
        assert cmd.help, f"`{name}` has no help text"


def test_parse_bundled_csv_has_the_promised_columns():
    r = run("parse", "bundled:demo")
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split(",")
    for col in [
        "snapshot",
        "source",
        "goid",
        "count",
        "state",
        "wait_minutes",
        "leaked",
        "top_function",
        "created_by",
    ]:
        assert col in header
    rows = r.stdout.strip().splitlines()[1:]
    # the bundled dump holds as many goroutines as it has headers
    text = next((ROOT / "goforensics/data/demo").glob("goroutines-*.txt")).read_text()
    assert len(rows) == len(re.findall(r"^goroutine \d+ \[", text, re.M))
    assert "goroutine(s)" in r.stderr


def test_parse_json_and_parquet_round_trip(tmp_path):
    r = run("parse", "bundled:demo", "--format", "json")
    recs = json.loads(r.stdout)
    assert {rec["state"] for rec in recs} >= {"chan send", "sync.Mutex.Lock"}
    out = tmp_path / "tables"
    r = run("parse", "bundled:demo", "--format", "parquet", "-o", str(out))
    assert r.returncode == 0, r.stderr
    import goforensics as gf

    back = gf.Dumps.from_parquet(out)
    direct = gf.load("bundled:demo", order="given")
    assert back.goroutines.equals(direct.goroutines)
    assert back.frames.equals(direct.frames)


def test_snapshots_are_numbered_in_the_order_given(tmp_path):
    for name, state in [("b.txt", "sleep"), ("a.txt", "chan send")]:
        (tmp_path / name).write_text(f"goroutine 1 [{state}]:\nmain.main()\n\t/m.go:3 +0x1\n")
    r = run("parse", str(tmp_path / "b.txt"), str(tmp_path / "a.txt"), "--format", "json")
    recs = json.loads(r.stdout)
    assert [(x["snapshot"], x["state"]) for x in recs] == [(0, "sleep"), (1, "chan send")]
    r = run("parse", str(tmp_path), "--format", "json")  # a directory: files sorted by name
    recs = json.loads(r.stdout)
    assert [(x["snapshot"], x["state"]) for x in recs] == [(0, "chan send"), (1, "sleep")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["parse", "/no/such/file"], "no such file"),
        (["parse", "/no/such/*.txt"], "no file matches"),
        (["parse"], "give at least one"),
        (["parse", "bundled:nope"], "no such bundled dataset"),
    ],
)
def test_bad_paths_give_one_line_and_nonzero_exit(args, message):
    r = run(*args)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_garbage_gives_a_clear_error_not_a_traceback(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 64)
    r = run("parse", str(junk))
    assert r.returncode != 0
    assert "no goroutine dump found" in r.stderr
    assert "Traceback" not in r.stderr


def test_main_returns_exit_codes_without_raising():
    assert main(["parse", "/no/such/file"]) == 1
    assert main(["--help"]) == 0


RACE = """==================
WARNING: DATA RACE
Write at 0x00c00001a0f8 by goroutine 7:
  main.main.func1()
      /app/main.go:9 +0x3c

Previous write at 0x00c00001a0f8 by main goroutine:
  main.main()
      /app/main.go:11 +0x88
==================
"""


def test_race_reports_are_counted_once_across_files(tmp_path):
    (tmp_path / "a.txt").write_text(RACE)
    (tmp_path / "b.txt").write_text(RACE + RACE)
    dump = "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n"
    (tmp_path / "c.txt").write_text(dump)
    r = run("parse", str(tmp_path))
    assert r.returncode == 0
    assert "3 race report(s) in 2 file(s): not goroutine dumps, not counted" in r.stderr
    assert "1 goroutine(s)" in r.stderr


def test_a_cut_that_loses_no_goroutine_says_so(tmp_path):
    # nats-server's real profile ends on a bucket with no frames and no newline: nothing is
    # missing from the declared total, but the last stack could have been cut
    p = tmp_path / "p.txt"
    p.write_text(
        "goroutine profile: total 3\n2 @ 0x1 0x2\n#\t0x1\tmain.f+0x1\t/a.go:3\n\n1 @ 0x467ba1"
    )
    r = run("parse", str(p))
    assert r.returncode == 0
    assert (
        "all the goroutines its header declares were read, the last stack may be cut short"
        in r.stderr
    )
    p.write_text(
        "goroutine profile: total 5\n2 @ 0x1 0x2\n#\t0x1\tmain.f+0x1\t/a.go:3\n\n1 @ 0x467ba1"
    )
    assert ": 2 goroutine(s) missing" in run("parse", str(p)).stderr


def test_standard_input_is_a_path(tmp_path):
    dump = (ROOT / "goforensics" / "data" / "demo" / "goroutines-debug2.txt").read_bytes()
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "triage", "-", "--format", "json"],
        input=dump,
        capture_output=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    from_file = json.loads(run("triage", "bundled:demo", "--format", "json").stdout)
    assert json.loads(r.stdout)["suspects"] == from_file["suspects"]
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "parse", "-"],
        input=dump,
        capture_output=True,
        timeout=300,
    )
    assert set(r.stdout.decode().splitlines()[1].split(",")) >= {"<stdin>"}
    r = run("parse", "-", "-")
    assert r.returncode == 2 and "only once" in r.stderr


def test_diff_of_two_dumps_accounts_for_every_goroutine():
    import gzip

    data = ROOT / "goforensics" / "data" / "checkout"
    first, last = data / "goroutine-debug2-0000.txt.gz", data / "goroutine-debug2-0009.txt.gz"

    def heads(p: Path) -> int:  # goroutine headers, counted in the raw text
        return len(re.findall(rb"^goroutine \d+ \[", gzip.decompress(p.read_bytes()), re.M))

    r = run("diff", str(first), str(last))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == (
        f"before: {heads(first)} goroutines in 1 snapshot(s); after: {heads(last)} goroutines in 1"
    )
    rows = json.loads(run("diff", str(first), str(last), "--format", "json", "--all").stdout)
    assert sum(x["delta"] for x in rows) == heads(last) - heads(first)
    assert {x["change"] for x in rows} <= {"appeared", "grew", "shrank", "vanished", "same"}
    # the scenario's orphaned result senders (recommend.go's firstOr) pile up between the two
    grew = {x["site"] for x in rows if x["change"] in ("grew", "appeared") and x["delta"] >= 50}
    assert "main.firstOr[...].func1" in grew
    # one series: its first snapshot against its last, same totals
    one = run("diff", str(data)).stdout.splitlines()[0]
    assert one == f"snapshot 0 ({heads(first)} goroutines) -> snapshot 9 ({heads(last)} goroutines)"


def test_cluster_text_is_one_line_a_row():
    # the demo program's goroutines, one line each, the stack's cells cut to their first line
    text = (ROOT / "goforensics" / "data" / "demo" / "goroutines-debug2.txt").read_text()
    goroutines = len(re.findall(r"^goroutine \d+ \[", text, re.M))
    r = run("cluster", "bundled:demo", "--format", "text")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == [
        "snapshot",
        "source",
        "goid",
        "count",
        "state",
        "cluster",
        "top_function",
        "entry_function",
        "created_by",
        "stack_id",
    ]
    assert len(lines) == 1 + goroutines
    r = run("cluster", "bundled:demo", "--format", "text", "--summary")
    rows = json.loads(run("cluster", "bundled:demo", "--format", "json", "--summary").stdout)
    lines = r.stdout.splitlines()
    assert len(lines) == 1 + len(rows)  # a multi-line representative stack stays on its row
    assert any("(+" in line and "lines)" in line for line in lines[1:])
    # in a pipe, without --format, the table is CSV as before
    assert run("cluster", "bundled:demo").stdout.startswith("snapshot,source,goid")


def test_help_loads_no_pandas():
    # the command line answers --help without the library's heavy imports
    code = (
        "import sys; from goforensics.cli import main; rc = main(['--help']); "
        "print(rc, 'pandas' in sys.modules, 'sklearn' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.splitlines()[-1] == "0 False False"


def test_progress_on_a_terminal_and_quiet_in_a_pipe(tmp_path):
    import fcntl
    import os
    import pty
    import struct
    import termios

    dump = ROOT / "goforensics" / "data" / "demo" / "goroutines-debug2.txt"
    r = run("triage", str(dump))  # stderr is a pipe: the account only, no bar
    assert r.returncode == 0 and "\r" not in r.stderr and "triage:" not in r.stderr
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a real window
    p = subprocess.Popen(
        [sys.executable, "-m", "goforensics.cli", "triage", str(dump)],
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait(timeout=300) == 0
    os.close(master)
    assert b"triage: " in seen and b"clustering and ranking" in seen


def test_datasets_alone_lists_them():
    alone = CliRunner().invoke(cli, ["datasets"])
    listed = CliRunner().invoke(cli, ["datasets", "list"])
    assert alone.exit_code == 0 and alone.output == listed.output
    assert "checkout" in alone.output and "goker" in alone.output


def test_summary_of_a_series_counts_its_last_snapshot_not_every_snapshot():
    import goforensics as gf

    run = CliRunner().invoke(cli, ["summary", "bundled:checkout"])
    assert run.exit_code == 0, run.output
    text = run.output.split("states in the last snapshot:\n", 1)[1].split("\n\n", 1)[0]
    total = sum(int(line.split()[0].replace(",", "")) for line in text.splitlines())
    g = gf.load("bundled:checkout").goroutines
    assert total == int(g.loc[g["snapshot"] == g["snapshot"].max(), "count"].sum())
    assert "largest groups (same stack, state and creator) in the last snapshot" in run.output
