"""Conformance over the real-dump corpus: every goroutine the runtime wrote is read, none invented.

The expected numbers are not produced by goforensics: they are counted here straight from
the text (goroutine headers, or the counts of debug=1 buckets) and cross-checked with the
number the corpus' INDEX.tsv gives for each file.
"""

from __future__ import annotations

import gzip
import json
import re

import pytest
from click.testing import CliRunner
from conftest import realdump_index

import goforensics as gf
from goforensics.cli import cli

HEADER = re.compile(r"goroutine \d+ (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[[^\]\n\\]*\]")
BUCKET = re.compile(r"^\s*(\d+) @(?: 0x[0-9a-f]+)+\s*$", re.M)
NOT_COUNTED = {"race", "race (test2json)", "other (non-runtime stack)"}

ROWS = realdump_index()
IDS = [r["file"][:3] for r in ROWS] or ["corpus-missing"]


def independent_count(path) -> int:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return -1  # binary profile: only the INDEX knows
    text = raw.decode("utf-8", "replace")
    return len(HEADER.findall(text)) + sum(int(n) for n in BUCKET.findall(text))


def index_count(row) -> int | None:
    m = re.match(r"^(\d+)", row["goroutines"])
    if not m:
        return None
    n = int(m.group(1))
    x = re.search(r"\(x(\d+) concatenated\)", row["goroutines"])
    return n * int(x.group(1)) if x else n


@pytest.mark.parametrize("row", ROWS or [None], ids=IDS)
def test_every_goroutine_is_read(realdumps, row):
    path = realdumps / row["file"]
    d = gf.parse_file(path)
    kind = row["kind"]
    if "race" in kind:
        # a race report is not a goroutine dump: it is reported as such, never counted
        assert (d.warnings["kind"] == "race-report").any()
    if kind in NOT_COUNTED:
        assert d.total == 0
        return
    expected = independent_count(path)
    if expected < 0:
        expected = index_count(row)
    assert d.total == expected
    idx = index_count(row)
    if (
        idx is not None
        and "printed" not in row["goroutines"]
        and "crashes" not in row["goroutines"]
    ):
        assert d.total == idx
    # every row has a stack we can look up, and no frame table row is orphaned
    assert set(d.goroutines["stack_id"]) <= set(d.frames["stack_id"]) | {
        sid
        for sid, n in zip(d.goroutines["stack_id"], d.goroutines["n_frames"], strict=True)
        if n == 0
    }


@pytest.mark.parametrize("row", ROWS or [None], ids=IDS)
def test_fast_path_agrees_with_reference_reader(realdumps, row):
    path = realdumps / row["file"]
    fast = gf.parse_file(path)
    slow = gf.parse_file(path, fast=False)
    assert fast.goroutines.equals(slow.goroutines)
    assert fast.snapshots.equals(slow.snapshots)


def test_gzip_input_is_transparent(realdumps, tmp_path):
    src = realdumps / "001_panicparse-panicweb-debug2-go1.14.txt"
    gz = tmp_path / "dump.txt.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    a = gf.parse_file(src, source="x").goroutines
    b = gf.parse_file(gz, source="x").goroutines
    assert a.equals(b)


@pytest.mark.parametrize("row", ROWS or [None], ids=IDS)
def test_triage_explains_every_file(realdumps, row):
    # the whole chain (series, clusters, graphs, patterns, suspects) on every file: suspects,
    # or one clear error where the file holds no goroutine; never an internal error
    path = realdumps / row["file"]
    res = CliRunner().invoke(cli, ["triage", str(path), "--format", "json"])
    if gf.parse_file(path).total:
        assert res.exit_code == 0, res.output
        rep = json.loads(res.stdout)
        assert rep["suspects"] and all(s["goroutines"] >= 0 for s in rep["suspects"])
    else:
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
        assert res.stderr.strip().splitlines()[-1].startswith("Error: no goroutine")
