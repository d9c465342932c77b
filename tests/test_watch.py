"""goforensics watch against real Go services on 127.0.0.1.

tests/goprograms/leakwatch is a service whose goroutine count does what its flags say: a leak
of confirmation senders (main.(*orders).confirm.func1, blocked in [chan send]) after a quiet
warm-up, bursts of workers that drain, steady request noise. tests/goprograms/pprofserver
gives the failing targets (slow, not a profile). Rule windows are seconds here so that each
test takes seconds; the rules are the ones the watcher runs by default, shorter.
"""

from __future__ import annotations

import html
import json
import re
import socket
import subprocess
from pathlib import Path

import pytest

import goforensics as gf
from goforensics.analyze.triggers import TrendRule, rule_from_spec
from goforensics.cli import main
from goforensics.watch import watch

HERE = Path(__file__).resolve().parent
LEAK_SITE = "main.(*orders).confirm.func1"  # where leakwatch's leaked goroutines block


def fast_trend() -> TrendRule:
    return TrendRule(windows=(3.0,), min_rise=10)


@pytest.fixture()
def service(build_go):
    """start(*flags) -> base URL of a fresh leakwatch (stopped after the test)."""
    exe = build_go(HERE / "goprograms" / "leakwatch")
    procs = []

    def start(*flags: str, program: Path = exe) -> str:
        proc = subprocess.Popen(
            [str(program), *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        procs.append(proc)
        m = re.match(r"listening on (http://\S+)", proc.stdout.readline())
        assert m, proc.stderr.read()
        return m.group(1)

    yield start
    for p in procs:
        p.kill()
        p.wait()


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def log(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "counts.jsonl").read_text().splitlines()]


def test_a_fleet_watch_triggers_on_the_leak_not_on_drained_bursts(service, tmp_path):
    leaky = service("-leak-after=2s", "-leak-rate=25", "-noise=2")
    bursts = service("-burst-every=1500ms", "-burst-size=200", "-burst-hold=500ms", "-noise=2")
    lines: list[str] = []
    out = tmp_path / "fleet"
    env_file = tmp_path / "env.txt"
    watch(
        [leaky, bursts],
        out,
        names=["leaky", "bursts"],
        metrics=[leaky + "/metrics", None],
        every=0.2,
        rules=[fast_trend()],
        baseline_every=2,
        duration=10,
        status=lines.append,
        on_trigger=f"env | grep ^GOFORENSICS_ > {env_file}",
    )

    # one sub-folder per instance, the fleet layout the loader reads
    assert sorted(p.name for p in out.iterdir()) == ["bursts", "leaky"]
    leak_doc, burst_doc = manifest(out / "leaky"), manifest(out / "bursts")
    assert leak_doc["stopped"] == burst_doc["stopped"] == "duration reached"

    # the leaky service fired, with the rule's reason on the dumps of that round
    fired = [s for s in leak_doc["snapshots"] if s["reason"] != "baseline"]
    assert fired and fired[0]["reason"].startswith("trend: the floor of the count rose")
    assert {(s["profile"], s["debug"]) for s in fired if s["round"] == fired[0]["round"]} == {
        ("goroutine", 2),
        ("goroutineleak", 2),
    }
    assert leak_doc["watch"]["triggers"][0]["reason"] == fired[0]["reason"]
    assert any("TRIGGER trend:" in line and line.startswith("leaky:") for line in lines)

    # the bursts were seen (hundreds of goroutines) and drained: no trigger
    assert max(r["goroutines"] for r in log(out / "bursts")) >= 150
    assert [s["reason"] for s in burst_doc["snapshots"]] == ["baseline"] * len(
        burst_doc["snapshots"]
    )
    assert burst_doc["watch"]["triggers"] == []

    # the dumps load, and the triage written after the (last) trigger names the leak
    d = gf.load(out)
    assert set(d.snapshots["instance"].astype(str)) == {"leaky", "bursts"}
    top = json.loads((out / "leaky" / "suspects.json").read_text())
    assert top["trigger"]["reason"] == fired[-1]["reason"]
    assert top["suspects"][0]["site"] == LEAK_SITE and top["suspects"][0]["state"] == "chan send"
    assert (
        html.escape(fired[-1]["reason"], quote=False) in (out / "leaky" / "report.html").read_text()
    )
    assert not (out / "bursts" / "suspects.json").exists()

    # the on-trigger command saw where everything is
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert (
        env["GOFORENSICS_INSTANCE"] == "leaky" and env["GOFORENSICS_REASON"] == fired[-1]["reason"]
    )
    assert Path(env["GOFORENSICS_DUMP"]).is_file() and Path(env["GOFORENSICS_REPORT"]).is_file()

    # the count logs are a metrics table
    m = gf.load_metrics(out)
    assert set(m["instance"]) == {"leaky", "bursts"} and len(m) == len(log(out / "leaky")) + len(
        log(out / "bursts")
    )


def test_above_the_guard_a_dump_is_debug1_only_and_capped(service, tmp_path):
    url = service("-leak-after=1s", "-leak-rate=30", "-noise=2")
    # the service always runs more than 2 goroutines (main, the accept loop, the connection
    # serving the request): every dump is above the guard
    watch(
        url,
        tmp_path / "w",
        every=0.2,
        rules=[fast_trend()],
        baseline_every=100,
        max_goroutines=2,
        max_bytes=600,
        max_triggers=1,
        duration=10,
        triage=False,
        status=lambda s: None,
    )
    doc = manifest(tmp_path / "w")
    assert doc["stopped"] == "triggers reached"
    assert [(s["profile"], s["debug"], s["guard"]) for s in doc["snapshots"]] == [
        ("goroutine", 1, True)
    ] * 2
    assert doc["snapshots"][1]["reason"].startswith("trend:")
    assert all(s["capped"] and s["bytes"] == 600 for s in doc["snapshots"])
    d = gf.load(tmp_path / "w")
    assert len(d.snapshots) == 2


def test_targets_down_slow_or_not_pprof_are_status_lines_not_the_end(build_go, tmp_path):
    exe = build_go(HERE / "goprograms" / "pprofserver")
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
    try:
        base = re.match(r"listening on (\S+)", proc.stdout.readline()).group(1)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            down = f"127.0.0.1:{s.getsockname()[1]}"  # closed when the block ends: nothing listens
        lines: list[str] = []
        watch(
            [down, base + "/slow", base + "/html"],
            tmp_path / "w",
            names=["down", "slow", "html"],
            every=0.3,
            timeout=0.5,
            retries=0,
            duration=1,
            status=lines.append,
        )
    finally:
        proc.kill()
        proc.wait()
    for name, says in (
        ("down", "connection refused"),
        ("slow", "no answer within 0.5s"),
        ("html", "no 'goroutine profile: total N' line"),
    ):
        recs = log(tmp_path / "w" / name)
        assert len(recs) >= 2 and all(
            r["goroutines"] is None and says in r["error"] for r in recs
        ), name
        assert any(line.endswith(f"{name}: no count ({recs[0]['error']})") for line in lines)
        assert manifest(tmp_path / "w" / name)["stopped"] == "duration reached"


def test_retention_keeps_the_newest_dumps(service, tmp_path):
    url = service("-noise=2")
    watch(
        url,
        tmp_path / "w",
        every=0.15,
        baseline_every=0.1,
        keep_files=3,
        duration=2,
        status=lambda s: None,
    )
    doc = manifest(tmp_path / "w")
    rounds = [s["round"] for s in doc["snapshots"]]
    assert len(rounds) == 3 and doc["watch"]["deleted"] >= 2
    assert rounds == sorted(rounds) and rounds[-1] == doc["watch"]["deleted"] + 2
    on_disk = sorted(p.name for p in (tmp_path / "w").glob("goroutine-*"))
    assert on_disk == sorted(s["file"] for s in doc["snapshots"])


def test_ctrl_c_leaves_a_usable_series(service, tmp_path):
    url = service("-noise=2")
    seen: list[str] = []

    def status(line: str) -> None:
        seen.append(line)
        if len(seen) == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        watch(url, tmp_path / "w", every=0.1, baseline_every=0.2, status=status)
    assert manifest(tmp_path / "w")["stopped"] == "interrupted"
    assert len(gf.load(tmp_path / "w").snapshots) >= 1
    assert len(gf.load_metrics(tmp_path / "w")) >= 3


def test_the_watch_command(service, tmp_path):
    url = service("-leak-after=1s", "-leak-rate=30", "-noise=2")
    out = tmp_path / "cli"
    code = main(
        [
            "watch",
            url,
            "-o",
            str(out),
            "--every",
            "200ms",
            "--rule",
            "trend:windows=3,min_rise=10",
            "--rule",
            "cockroach:threshold=100000",
            "--max-triggers",
            "1",
            "--duration",
            "10s",
            "--no-triage",
        ]
    )
    assert code == 0
    doc = manifest(out)
    assert doc["stopped"] == "triggers reached"
    assert doc["watch"]["rules"][1] == "CockroachRule(threshold=100000)"
    assert main(["watch", url, "-o", str(tmp_path / "x"), "--rule", "nosuch"]) == 2
    assert (
        main(["watch", url, "-o", str(out), "--duration", "1s"]) == 1
    )  # a capture is there already


def test_rule_specs():
    assert rule_from_spec("cockroach:threshold=500").threshold == 500
    assert rule_from_spec("predict_linear:limit=2.5e3").limit == 2500.0
    for bad in ("nosuch", "holmes:min", "holmes:min=lots", "holmes:nosuch=1"):
        with pytest.raises(ValueError):
            rule_from_spec(bad)
