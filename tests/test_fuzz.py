"""A short run of the fuzzing harness (benchmarks/fuzz.py): no crash, hang, memory failure or lost
goroutine on a fixed set of generated and mutated inputs.

The seed and the number of cases are fixed, so the inputs are the same on every run; the limits
(time and memory per run) are generous against inputs of at most a few MB, so a loaded machine
slows the run down without changing its verdict. The long run is the benchmark script itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_fuzz_campaign_finds_no_crash_hang_memory_failure_or_lost_goroutine(tmp_path: Path):
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "fuzz.py"),
            "--cases",
            "10",
            "--seed",
            "20261202",
            "--corpus",
            str(ROOT / "goforensics" / "data"),
            "--bomb-gib",
            "0.25",
            "--small",
            "--timeout",
            "600",
            "--memory",
            "3",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    report = r.stdout + r.stderr
    row = re.search(r"^all\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", r.stdout, re.M)
    assert row, report
    ok, clean, crash, hang, memory, lost = map(int, row.groups())
    assert (crash, hang, memory, lost) == (0, 0, 0, 0), report
    # every case ran the API and two commands, and most inputs are readable
    assert ok + clean == 30, report
    assert ok > clean, report
    assert r.returncode == 0, report
