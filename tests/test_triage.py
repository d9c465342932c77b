"""`goforensics triage`: text for a terminal, JSON for tools, HTML for a ticket."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "goforensics.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def series_dir(leakseries_dir):
    return leakseries_dir


def test_json_has_the_documented_schema(series_dir):
    r = run("triage", str(series_dir), "--format", "json", "--top", "3")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert len(rep["suspects"]) == 3
    keys = {
        "rank",
        "site",
        "file",
        "line",
        "entry",
        "created_by",
        "state",
        "counts",
        "slope_per_min",
        "score",
        "pattern",
        "advice",
        "evidence",
    }
    for s in rep["suspects"]:
        assert keys <= set(s)
        assert isinstance(s["evidence"], list) and isinstance(s["counts"], list)
    assert [s["rank"] for s in rep["suspects"]] == [1, 2, 3]
    # the program's two leaks come first (tests/goprograms/leakseries/main.go)
    assert {s["site"] for s in rep["suspects"][:2]} == {"main.compute", "main.waitAll"}
    assert rep["series"]["snapshots"] == 6


def test_text_is_readable_and_names_the_fix(series_dir):
    r = run("triage", str(series_dir), "--top", "2")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.splitlines()[0].startswith("6 snapshot(s)")
    assert "#1" in out and "#2" in out and "#3" not in out
    assert "fix:" in out and "main.compute" in out
    assert "goroutine(s)" in r.stderr  # the account of what was read goes to stderr


def test_html_is_one_self_contained_page(series_dir, tmp_path):
    out = tmp_path / "t.html"
    r = run("triage", str(series_dir), "--format", "html", "-o", str(out))
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "main.compute" in html
    # nothing to fetch: the inline charts' XML namespaces are names, not addresses
    html = re.sub(r'xmlns(?::\w+)?="http://www\.w3\.org/[^"]*"', "", html)
    assert "http://" not in html and "https://" not in html


def test_single_dump_on_the_bundled_demo():
    r = run("triage", "bundled:demo", "--format", "json")
    rep = json.loads(r.stdout)
    assert rep["series"]["snapshots"] == 1
    assert rep["suspects"][0]["counts"] == [rep["suspects"][0]["goroutines"]]


def test_bad_input_is_one_line_not_a_traceback(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("this is not a dump\n")
    r = run("triage", str(p))
    assert r.returncode != 0 and "no goroutine dump found" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_fatal_error_without_goroutines_is_named(tmp_path):
    # the runtime can die before printing any goroutine (syzkaller's gVisor 'newosproc' report)
    p = tmp_path / "x.txt"
    p.write_text(
        "runtime: failed to create new OS thread (have 25 already; errno=11)\n"
        "runtime: may need to increase max user processes (ulimit -u)\n"
        "fatal error: newosproc\n"
    )
    r = run("triage", str(p))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        "Error: no goroutines in the input, which holds: fatal error: newosproc"
    )


def test_a_site_without_frames_has_no_line(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text(
        "goroutine 2 [syscall]:\n\ngoroutine 5 [sleep]:\ntime.Sleep(0x1)\n\t/go/src/time/sleep.go:9 +0x1\n"
        "main.main()\n\t/app/main.go:33 +0x2\n"
    )
    r = run("triage", str(p), "--format", "json")
    lines = {s["state"]: s["line"] for s in json.loads(r.stdout)["suspects"]}
    assert lines == {"syscall": None, "sleep": 33}
    text = run("triage", str(p)).stdout
    assert "(no frames)" in text and "main.go:33)" in text


def test_a_crash_is_named_first(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text(
        "panic: boom\n\ngoroutine 1 [running]:\nmain.explode(...)\n\t/app/cmd/main.go:12\n"
        "main.main()\n\t/app/cmd/main.go:7 +0x1d\n"
    )
    lines = run("triage", str(p)).stdout.splitlines()
    assert lines[1:3] == [
        "the last snapshot ends the process: panic: boom",
        "    in goroutine 1 at main.explode (cmd/main.go:12)",
    ]
    facts = json.loads(run("triage", str(p), "--format", "json").stdout)["series"]
    assert facts["ended_by"] == "panic: boom"
    # a dump that is not a crash ends nothing
    p.write_text("goroutine 1 [running]:\nmain.main()\n\t/app/cmd/main.go:7 +0x1d\n")
    assert (
        json.loads(run("triage", str(p), "--format", "json").stdout)["series"]["ended_by"] is None
    )


def test_text_ends_with_one_line_end_whichever_section_comes_last(tmp_path):
    from test_crash_tracebacks import STACK_OVERFLOW

    p = tmp_path / "crash.txt"
    p.write_text(STACK_OVERFLOW)
    r = run("triage", str(p))
    assert r.returncode == 0, r.stderr
    assert "also seen, with no evidence of a leak:" in r.stdout  # that section comes last
    assert r.stdout.endswith("\n") and not r.stdout.endswith("\n\n")
    assert re.search(r"^ +1 goroutine +\[", r.stdout, re.M)  # one goroutine, singular
    assert "1 goroutines" not in r.stdout
    # one file has no order to get wrong: its time source is said without a warning
    assert "capture time from the file's modification time" in r.stderr
    assert "the order may be wrong" not in r.stderr


def test_a_cluster_gone_by_the_last_snapshot_is_not_said_to_be_blocked_now(realdumps):
    import goforensics as gf

    d = gf.load(realdumps / "044_readinglog-test-timeout-in-markdown-go1.26.txt")
    s = gf.suspects(d, top=50)
    gone = s[s["counts"].map(lambda c: len(c) > 0 and c[-1] == 0)]
    assert len(gone)  # a test's goroutines exit before the process's last dump
    for ev in gone["evidence"]:
        assert not any(re.match(r"\d+ goroutine\(s\) blocked in", e) for e in ev), ev
        assert any(e.startswith("gone by the last snapshot; ") for e in ev)
