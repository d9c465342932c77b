"""Capture against a real Go net/http/pprof server (tests/goprograms/pprofserver), failures included."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import goforensics as gf
from goforensics.cli import main
from goforensics.errors import CaptureError
from goforensics.read.capture import capture, parse_duration, parse_size, profile_urls

HERE = Path(__file__).resolve().parent
GROW = 3  # the server parks this many more goroutines before each dump


def start_server(exe: Path, *args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    m = re.match(r"listening on (http://\S+)", line)
    if not m:
        proc.kill()
        raise AssertionError(
            f"the server did not say where it listens: {line!r} {proc.stderr.read()}"
        )
    return proc, m.group(1)


@pytest.fixture()
def server(build_go):
    """A fresh server per test: its parked-goroutine count starts from zero."""
    exe = build_go(HERE / "goprograms" / "pprofserver")
    proc, url = start_server(exe, f"-grow={GROW}")
    yield url
    proc.kill()
    proc.wait()


def parked_per_snapshot(d: gf.Dumps) -> list[int]:
    g = d.goroutines
    n = g[g["entry_function"] == "main.parkedGoroutine"].groupby("snapshot")["count"].sum()
    return [int(n.get(s, 0)) for s in range(len(d.snapshots))]


def test_a_series_loads_back_in_order_with_the_manifest_times(server, tmp_path):
    out = tmp_path / "series"
    manifest = capture(server, out, every=0.2, count=4, progress=False, instance="svc-1")
    doc = json.loads(manifest.read_text())
    assert doc["stopped"] == "count reached"
    assert [s["round"] for s in doc["snapshots"]] == [0, 1, 2, 3]
    assert all(s["status"] == 200 and not s["capped"] and s["debug"] == 2 for s in doc["snapshots"])
    for s in doc["snapshots"]:
        assert (out / s["file"]).stat().st_size == s["bytes"]

    d = gf.load(out)
    assert len(d.snapshots) == 4
    assert d.snapshots["time_source"].astype(str).tolist() == ["manifest"] * 4
    want = pd.to_datetime([s["taken_at"] for s in doc["snapshots"]], utc=True)
    assert (d.snapshots["taken_at"].to_numpy() == want.to_numpy()).all()
    assert d.snapshots["taken_at"].is_monotonic_increasing
    assert set(d.goroutines["instance"].astype(str)) == {"svc-1"}
    # the server parked GROW more goroutines before each dump: snapshot k holds (k+1)*GROW
    assert parked_per_snapshot(d) == [GROW * (k + 1) for k in range(4)]
    # rounds start on a fixed schedule: round k answers no earlier than k * every after the start
    since = (d.snapshots["taken_at"] - pd.Timestamp(doc["started_at"])).dt.total_seconds()
    assert (since.to_numpy() >= [0.2 * k for k in range(4)]).all()


def test_debug1_and_leak_profiles_in_the_same_round(server, tmp_path):
    manifest = capture(
        server, tmp_path / "s", every=0.1, count=2, debug1=True, leak=True, progress=False
    )
    doc = json.loads(manifest.read_text())
    kinds = [(s["round"], s["profile"], s["debug"]) for s in doc["snapshots"]]
    assert kinds == [
        (r, p, dbg)
        for r in (0, 1)
        for p, dbg in [
            ("goroutine", 2),
            ("goroutine", 1),
            ("goroutineleak", 2),
            ("goroutineleak", 1),
        ]
    ]
    # each file is one form of its round's snapshot
    forms = [
        gf.parse_file(tmp_path / "s" / s["file"]).snapshots["format"].tolist()
        for s in doc["snapshots"]
    ]
    assert forms == [["debug=2"], ["debug=1"], ["debug=2"], ["debug=1"]] * 2
    d = gf.load(tmp_path / "s", order="given")
    assert d.snapshots["round"].tolist() == [0, 1]  # read as one snapshot per round
    leak_text = (tmp_path / "s" / doc["snapshots"][3]["file"]).read_text()
    assert leak_text.startswith("goroutineleak profile: total ")


def test_a_full_url_to_a_protobuf_profile_is_used_as_given(server, tmp_path):
    url = server + "/debug/pprof/goroutine?debug=0"
    manifest = capture(url, tmp_path / "s", count=2, every=0.1, progress=False)
    snaps = json.loads(manifest.read_text())["snapshots"]
    assert [(s["url"], s["debug"]) for s in snaps] == [(url, 0), (url, 0)]
    assert snaps[0]["file"].endswith(".pb.gz")
    assert (tmp_path / "s" / snaps[0]["file"]).read_bytes()[:2] == b"\x1f\x8b"
    d = gf.load(tmp_path / "s")
    assert d.snapshots["format"].tolist() == ["debug=0", "debug=0"]
    # a profile counts goroutines per stack: the parked ones are there, GROW more each time
    assert parked_per_snapshot(d) == [GROW, 2 * GROW]


def test_duration_stops_the_capture(server, tmp_path):
    manifest = capture(server, tmp_path / "s", every=0.25, duration=0.6, progress=False)
    doc = json.loads(manifest.read_text())
    assert doc["stopped"] == "duration reached"
    assert [s["round"] for s in doc["snapshots"]] == [0, 1, 2]  # at 0, 0.25 and 0.5 s


def test_refused_connection_is_one_clear_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        CaptureError, match=r"cannot connect to 127\.0\.0\.1:\d+: connection refused"
    ) as e:
        capture(
            f"127.0.0.1:{port}", tmp_path / "s", count=1, retries=1, backoff=0.01, progress=False
        )
    assert "after 2 attempts" in str(e.value)
    assert "\n" not in str(e.value)
    # the CLI says the same in one line
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "goforensics.cli",
            "capture",
            f"127.0.0.1:{port}",
            "--count",
            "1",
            "--retries",
            "0",
            "-o",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "connection refused" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_http_404_and_500(server, tmp_path):
    with pytest.raises(CaptureError, match=r"HTTP 404 Not Found \(is net/http/pprof registered"):
        capture(server + "/nothing", tmp_path / "a", count=1, backoff=0.01, progress=False)
    with pytest.raises(CaptureError, match=r"HTTP 500 Internal Server Error \(after 3 attempts\)"):
        capture(server + "/fail", tmp_path / "b", count=1, retries=2, backoff=0.01, progress=False)
    # nothing was kept: no manifest is left to block a retry, and the directory made for it is gone
    assert not (tmp_path / "b").exists()


def test_a_failed_capture_can_be_retried_into_the_same_directory(server, tmp_path):
    out = tmp_path / "s"
    out.mkdir()  # made by the user: stays
    with pytest.raises(CaptureError, match="HTTP 500"):
        capture(server + "/fail", out, count=1, retries=0, progress=False)
    assert out.is_dir() and not (out / "manifest.json").exists()
    manifest = capture(server, out, count=1, progress=False)
    assert len(json.loads(manifest.read_text())["snapshots"]) == 1


def test_5xx_is_retried_until_it_passes(server, tmp_path):
    # /flaky answers 503 twice, then the real profile
    manifest = capture(
        server + "/flaky", tmp_path / "s", count=1, retries=3, backoff=0.01, progress=False
    )
    snap = json.loads(manifest.read_text())["snapshots"][0]
    assert snap["attempts"] == 3 and snap["status"] == 200


def test_a_page_that_is_not_a_dump(server, tmp_path):
    with pytest.raises(
        CaptureError, match=r"not a goroutine dump \(text/html, \d+ bytes, starts with '<!DOCTYPE"
    ):
        capture(server + "/html", tmp_path / "s", count=1, progress=False)
    assert not list((tmp_path / "s").glob("goroutine-*"))  # nothing that is not a dump is kept


def test_a_slow_endpoint_hits_the_timeout(server, tmp_path):
    # the server answers after 5 s: an error that names the 0.5 s timeout means we did not wait
    with pytest.raises(CaptureError, match=r"no answer within 0\.5s \(timeout\)"):
        capture(
            server + "/slow/debug/pprof/goroutine?debug=2&delay=5s",
            tmp_path / "s",
            count=1,
            timeout=0.5,
            retries=0,
            progress=False,
        )
    # with a timeout much longer than the delay it passes
    manifest = capture(
        server + "/slow/debug/pprof/goroutine?debug=2&delay=300ms",
        tmp_path / "t",
        count=1,
        timeout=60,
        retries=0,
        progress=False,
    )
    assert json.loads(manifest.read_text())["snapshots"][0]["elapsed"] >= 0.3


def test_the_size_cap_keeps_the_head_and_says_so(server, tmp_path):
    manifest = capture(server, tmp_path / "s", count=1, max_bytes=3000, progress=False)
    snap = json.loads(manifest.read_text())["snapshots"][0]
    assert snap["capped"] and snap["bytes"] == 3000
    assert (tmp_path / "s" / snap["file"]).stat().st_size == 3000
    d = gf.load(tmp_path / "s")
    assert len(d.goroutines) >= 1
    # the capture's word, wherever the cut landed (between two goroutines the text looks whole)
    assert d.snapshots["truncated"].tolist() == [True]
    said = d.warnings[d.warnings["kind"] == "truncated"]["message"]
    assert said.str.contains("the capture cut this dump at its size limit after 3,000 bytes").any()


def test_a_cut_between_two_goroutines_is_truncated_because_the_manifest_says_so(server, tmp_path):
    manifest = capture(server, tmp_path / "full", count=1, progress=False)
    snap = json.loads(manifest.read_text())["snapshots"][0]
    text = (tmp_path / "full" / snap["file"]).read_bytes()
    assert not snap["capped"]
    cut = text[: text.index(b"\n\ngoroutine ", len(text) // 2) + 2]  # ends after a whole goroutine
    for capped in (True, False):
        out = tmp_path / f"capped-{capped}"
        out.mkdir()
        (out / snap["file"]).write_bytes(cut)
        doc = json.loads(manifest.read_text())
        doc["snapshots"][0].update(capped=capped, bytes=len(cut))
        (out / "manifest.json").write_text(json.dumps(doc))
        d = gf.load(out)
        assert d.total == cut.count(b"\ngoroutine ") + cut.startswith(b"goroutine ")
        assert d.snapshots["truncated"].tolist() == [capped]
        assert ("truncated" in set(d.warnings["kind"].astype(str))) == capped
        assert not d.goroutines["truncated"].any()  # the last goroutine before the cut is whole


def test_a_second_capture_into_the_same_directory_is_refused(server, tmp_path):
    capture(server, tmp_path / "s", count=1, progress=False)
    with pytest.raises(CaptureError, match="already holds a capture"):
        capture(server, tmp_path / "s", count=1, progress=False)


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_leaves_a_series_that_loads(server, tmp_path):
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "goforensics.cli",
            "capture",
            server,
            "--every",
            "200ms",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a shell's background job starts with SIGINT ignored, and Python
        # keeps an ignored SIGINT ignored (so a run of the suite in the background would hang)
        preexec_fn=_sigint_default,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if len(json.loads((out / "manifest.json").read_text())["snapshots"]) >= 3:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "interrupted:" in err and "Traceback" not in err
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["stopped"] == "interrupted"
    d = gf.load(out)
    assert len(d.snapshots) == len(doc["snapshots"]) >= 3
    assert parked_per_snapshot(d) == [GROW * (k + 1) for k in range(len(doc["snapshots"]))]
    assert not list(out.glob(".*.part"))


def test_cli_capture_writes_a_series(server, tmp_path):
    assert (
        main(
            ["capture", server, "--every", "100ms", "--count", "2", "-q", "-o", str(tmp_path / "s")]
        )
        == 0
    )
    assert len(gf.load(tmp_path / "s").snapshots) == 2
    assert (
        main(["capture", server, "--count", "2", "--duration", "1s", "-o", str(tmp_path / "t")])
        == 2
    )
    assert main(["capture", server, "--every", "soon", "-o", str(tmp_path / "u")]) == 2


@pytest.mark.parametrize(
    "text, seconds", [("500ms", 0.5), ("10s", 10), ("2m", 120), ("1h30m", 5400), ("3", 3)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "10x", "-1s", "s", "1s2"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_sizes_and_urls():
    assert (
        parse_size("1000") == 1000 and parse_size("64K") == 64 << 10 and parse_size("1MB") == 10**6
    )
    with pytest.raises(ValueError):
        parse_size("lots")
    assert profile_urls("h:1/app/")[0][2] == "http://h:1/app/debug/pprof/goroutine?debug=2"
    assert profile_urls("https://h/debug/pprof")[0][2] == "https://h/debug/pprof/goroutine?debug=2"
    full = "http://h:1/x/goroutine?debug=1"
    assert profile_urls(full) == [("goroutine", 1, full)]
    assert profile_urls(full, leak=True)[1] == (
        "goroutineleak",
        2,
        "http://h:1/x/goroutineleak?debug=2",
    )
    with pytest.raises(CaptureError, match="not an http"):
        profile_urls("ftp://h/x")


def test_a_url_is_a_path_read_now(server):
    # `goforensics triage http://host:port`: one capture round, the rows named by the URL
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "parse", server, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    rows = pd.DataFrame(json.loads(r.stdout))
    assert set(rows["source"]) == {server} and set(rows["instance"]) == {server.split("//", 1)[1]}
    # a fresh server parks GROW goroutines before its first dump
    assert rows.loc[rows["entry_function"] == "main.parkedGoroutine", "count"].sum() == GROW
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "triage", server + "/nothing"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "HTTP 404 Not Found" in r.stderr and "Traceback" not in r.stderr


def test_host_port_without_a_scheme_is_a_live_service(server):
    # `goforensics triage 127.0.0.1:6061` reads the service now, as `capture 127.0.0.1:6061` does
    hostport = server.split("//", 1)[1]
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "parse", hostport, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    rows = pd.DataFrame(json.loads(r.stdout))
    assert rows.loc[rows["entry_function"] == "main.parkedGoroutine", "count"].sum() == GROW
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "triage", hostport],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "1 snapshot(s)" in r.stdout and "no such file" not in r.stderr


def test_after_a_failed_capture_triage_says_what_happened(server, tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    assert (
        main(["capture", server + "/fail", "--count", "1", "--retries", "0", "-q", "-o", str(out)])
        == 1
    )
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "triage", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and r.stderr.strip() == f"Error: {out}: no dump file in this directory"
    # a manifest that lists nothing (what older versions left) is named for what it is, and a
    # capture may reuse its directory
    (out / "manifest.json").write_text(json.dumps({"snapshots": [], "stopped": "error: HTTP 500"}))
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "triage", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        r.returncode == 1 and "lists no snapshot (the capture stopped: error: HTTP 500)" in r.stderr
    )
    assert main(["capture", server, "--count", "1", "-q", "-o", str(out)]) == 0
    assert len(gf.load(out).snapshots) == 1


def test_arguments_that_cannot_make_a_capture_are_one_line(tmp_path, capsys):
    # checked before any request or file: no server needed, nothing written
    assert main(["capture", "127.0.0.1:1", "--every", "0", "-o", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "Error: every, timeout and max_bytes must be positive, retries not negative"
    assert not (tmp_path / "s").exists()
    with pytest.raises(CaptureError, match="count must be at least 1"):
        capture("127.0.0.1:1", tmp_path / "s", count=0, progress=False)
