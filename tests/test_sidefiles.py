"""Side files and folder walks: hostile manifests and times files are one-line errors naming the
field; links, deep trees and names that are not UTF-8 load each dump once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import goforensics as gf
from goforensics.cli import main
from goforensics.errors import LoadError

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "goforensics" / "data" / "demo" / "goroutines-debug2.txt"  # a real Go dump
DEMO_GOROUTINES = len(re.findall(rb"^goroutine \d+ \[", DEMO.read_bytes(), re.M))


def series_with(tmp_path: Path, manifest: str | bytes) -> Path:
    d = tmp_path / "cap"
    d.mkdir()
    (d / "d.txt").write_bytes(DEMO.read_bytes())
    (d / "manifest.json").write_bytes(
        manifest if isinstance(manifest, bytes) else manifest.encode()
    )
    return d


def snap(**fields) -> str:
    return json.dumps(
        {"snapshots": [{"file": "d.txt", "taken_at": "2026-11-30T03:00:00Z", **fields}]}
    )


HOSTILE = [
    ("[]", r"the document: \[\] is not of type 'object'"),
    ('"a string"', r"the document: 'a string' is not of type 'object'"),
    ("null", r"the document: None is not of type 'object'"),
    ('{"snapshots": 5}', r"snapshots: 5 is not of type 'array'"),
    ('{"instance": "x"}', r"the document: 'snapshots' is a required property"),
    ('{"snapshots": [{"file": 7}]}', r"snapshots\[0\]\.file: 7 is not of type 'string'"),
    ('{"snapshots": ["d.txt"]}', r"snapshots\[0\]: 'd.txt' is not of type 'object'"),
    (snap(taken_at="yesterday-ish"), r"snapshots\[0\]\.taken_at: 'yesterday-ish' is not a time"),
    (
        snap(taken_at=12345678901234567890),
        r"snapshots\[0\]\.taken_at: 12345678901234567890 is not of type",
    ),
    (
        snap(taken_at="2026-11-30T03:00:00+99:99"),
        r"snapshots\[0\]\.taken_at: '2026-11-30T03:00:00\+99:99' is not a valid time",
    ),
    (
        snap(taken_at="2026-13-45T03:00:00Z"),
        r"snapshots\[0\]\.taken_at: '2026-13-45T03:00:00Z' is not a valid time",
    ),
    (snap(round="3"), r"snapshots\[0\]\.round: '3' is not of type 'integer', 'null'"),
    (snap(round=-1), r"snapshots\[0\]\.round: -1 is less than the minimum of 0"),
    (snap(debug=7), r"snapshots\[0\]\.debug: 7 is not one of"),
    ("[" * 100_000, r"unreadable manifest: JSON nested too deeply"),
    ('{"snapshots": [', r"unreadable manifest: Expecting value"),
    (b'{"instance": "\xff"}', r"unreadable manifest: not UTF-8"),
]


@pytest.mark.parametrize("manifest, said", HOSTILE, ids=[f"case{k}" for k in range(len(HOSTILE))])
def test_a_hostile_manifest_is_one_line_naming_the_field(tmp_path, manifest, said):
    d = series_with(tmp_path, manifest)
    with pytest.raises(LoadError, match=said) as e:
        gf.load(d)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 300 and msg.startswith(str(d / "manifest.json"))


def test_the_cli_says_it_in_one_line(tmp_path, capsys):
    d = series_with(tmp_path, '{"snapshots": 5}')
    assert main(["triage", str(d)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("manifest.json: snapshots: 5 is not of type 'array'") and "\n" not in err


def test_a_manifest_that_lists_no_snapshot_says_so(tmp_path):
    d = series_with(tmp_path, json.dumps({"snapshots": [], "stopped": "error: HTTP 500"}))
    with pytest.raises(
        LoadError, match=r"lists no snapshot \(the capture stopped: error: HTTP 500\)"
    ):
        gf.load(d)


def test_a_listed_file_that_is_missing_is_a_warning(tmp_path):
    doc = json.loads(snap())
    doc["snapshots"].append({"file": "gone.txt", "taken_at": "2026-11-30T03:01:00Z"})
    d = gf.load(series_with(tmp_path, json.dumps(doc)))
    assert d.total == DEMO_GOROUTINES
    w = d.warnings[d.warnings["kind"] == "missing-file"]
    assert w["message"].str.contains("gone.txt").all() and len(w) == 1


def test_times_file_beside_the_dumps_and_given(tmp_path):
    for name in ("b.txt", "a.txt"):
        (tmp_path / name).write_bytes(DEMO.read_bytes())
    (tmp_path / "times.tsv").write_text(
        "file\ttaken_at\na.txt\t2026-11-30T03:05:00Z\nb.txt\t2026-11-30T03:00:00+00:00\n"
    )
    d = gf.load(tmp_path)
    s = d.snapshots
    assert s["time_source"].astype(str).tolist() == ["times file"] * 2
    assert [Path(x).name for x in s["source"].astype(str)] == [
        "b.txt",
        "a.txt",
    ]  # b was taken first
    # given with times=: a times file anywhere, naming the files
    other = tmp_path / "elsewhere.csv"
    other.write_text("a.txt,2026-11-30T02:00:00Z\nb.txt,2026-11-30T02:30:00Z\n")
    s = gf.load([tmp_path / "a.txt", tmp_path / "b.txt"], times=other).snapshots
    assert [Path(x).name for x in s["source"].astype(str)] == ["a.txt", "b.txt"]
    bad = tmp_path / "bad.tsv"
    bad.write_text("a.txt\tlater\n")
    with pytest.raises(LoadError, match=r"bad\.tsv:1: 'later' is not a time"):
        gf.load(tmp_path / "a.txt", times=bad)


def test_links_back_up_the_tree_are_not_walked_again(tmp_path):
    (tmp_path / "d.txt").write_bytes(DEMO.read_bytes())
    os.symlink(".", tmp_path / "self")
    (tmp_path / "sub").mkdir()
    os.symlink("..", tmp_path / "sub" / "up")
    os.symlink("../d.txt", tmp_path / "sub" / "same.txt")  # one file, two names
    d = gf.load(tmp_path)
    assert d.total == DEMO_GOROUTINES and len(d.snapshots) == 1
    kinds = d.warnings["kind"].astype(str).value_counts().to_dict()
    assert kinds.get("link-cycle") == 2 and kinds.get("duplicate") == 1


def test_a_deep_tree_is_walked_without_recursion(tmp_path):
    deep = tmp_path
    try:
        for _ in range(1_100):
            deep = deep / "d"
            deep.mkdir()
    except OSError as e:  # a file system that limits path length
        pytest.skip(f"cannot make 1,100 nested directories here: {e}")
    (deep / "x.txt").write_bytes(DEMO.read_bytes())
    try:
        d = gf.load(tmp_path)
        assert d.total == DEMO_GOROUTINES
        assert d.snapshots["instance"].astype(str).iloc[0] == "/".join(["d"] * 1_100)
    finally:  # pytest's own clean-up recurses: take the tree down from the bottom
        (deep / "x.txt").unlink()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent


def test_file_names_that_are_not_utf8_are_carried_safely(tmp_path):
    raw = os.fsencode(tmp_path) + b"/dump-\xff\xfe.txt"
    try:
        with open(raw, "wb") as fh:
            fh.write(DEMO.read_bytes())
        open(os.fsencode(tmp_path) + b"/empty-\xff.txt", "wb").close()
    except OSError as e:  # a file system that insists on UTF-8 names
        pytest.skip(f"this file system refuses a non-UTF-8 name: {e}")
    d = gf.load(tmp_path)
    assert d.total == DEMO_GOROUTINES
    assert any(s.endswith("dump-\\xff\\xfe.txt") for s in d.snapshots["source"].astype(str))
    d.to_parquet(tmp_path / "out")  # pyarrow takes every name
    r = subprocess.run(
        [sys.executable, "-m", "goforensics.cli", "parse", os.fsdecode(tmp_path)],
        capture_output=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert b"dump-\\xff\\xfe.txt" in r.stdout and b"Traceback" not in r.stderr
