"""Hostile and huge input: budgets as policy, malformed text without a traceback, line ends and prefixes.

Inputs are made here as the real thing at a small scale: gzip bombs written with gzip's own
streaming writer, dumps in Go's format (runtime/traceback.go, runtime/pprof), log prefixes as
klog and docker compose print them. Where a property does not depend on size (a budget is a
budget), the budget is set low rather than the input made huge. Expectations come from the
text (goroutine headers counted with a regular expression written from Go's format, a
profile's ``total N`` line) or from the budget's own definition.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zlib

import pandas as pd
import pytest

import goforensics as gf
from goforensics.errors import LimitError
from goforensics.read.limits import Limits, current
from goforensics.read.parse import read_chunks
from goforensics.read.pprof import encode_varint

HEADER = re.compile(rb"^goroutine \d+ \[", re.M)
BLOCK = (
    "goroutine {goid} [chan receive]:\nmain.worker(0x{goid:x})\n\t/app/w.go:42 +0x1d\n"
    "created by main.main in goroutine 1\n\t/app/main.go:9 +0x2a\n"
)
DUMP = "\n".join(BLOCK.format(goid=g) for g in range(10, 15))  # 5 goroutines, as Go prints them


def gzip_stream(path, pieces) -> None:
    """Write a gzip file from byte pieces with gzip's streaming writer (never all in memory)."""
    with gzip.open(path, "wb", compresslevel=9) as fh:
        for p in pieces:
            fh.write(p)


def both(data, **kw) -> gf.Dumps:
    """Parse with the fast path and with the reference reader alone; both must agree."""
    fast, ref = gf.parse_text(data, **kw), gf.parse_text(data, fast=False, **kw)
    for name in ("goroutines", "frames", "snapshots", "warnings"):
        assert getattr(fast, name).equals(getattr(ref, name)), name
    return fast


# --- malformed text: never a traceback ---------------------------------------------------------


def test_file_line_with_no_function_line_before_it_keeps_the_goroutine():
    text = b"goroutine 1 [chan send]:\n\t/a.go:1 +0x1\n\tx"
    d = both(text)
    assert d.goroutines[["goid", "state"]].values.tolist() == [[1, "chan send"]]
    assert int(d.warnings["lines"].sum()) == 2  # the two lines that are not a frame are counted


def test_corrupt_gzip_is_a_parse_error_not_a_zlib_error(tmp_path):
    blob = bytearray(gzip.compress(DUMP.encode() * 50))
    blob[20:40] = b"\xff" * 20  # inside the deflate stream
    with pytest.raises(zlib.error):  # what the bytes do to zlib itself
        gzip.decompress(bytes(blob))
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(bytes(blob))
    for call in (lambda: gf.parse_text(bytes(blob)), lambda: gf.parse_file(path)):
        with pytest.raises(gf.ParseError) as e:
            call()
        assert "unreadable gzip stream" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("content", [b"", DUMP.encode()])
def test_file_name_that_is_not_utf8_is_carried_escaped(tmp_path, content):
    raw = os.fsencode(tmp_path) + b"/dump-\xff\xfe.txt"
    with open(raw, "wb") as fh:
        fh.write(content)
    name = os.fsdecode(raw)  # what os.listdir and Path give: surrogate escapes
    d = gf.parse_file(name)
    assert d.total == len(HEADER.findall(content))
    for table in (d.goroutines, d.snapshots, d.frames, d.warnings):
        table.to_parquet(io.BytesIO())  # pyarrow writes every string column
    sources = set(d.goroutines["source"].astype(str)) | set(d.snapshots["source"].astype(str))
    assert all(s.endswith("dump-\\xff\\xfe.txt") for s in sources)
    assert gf.load(tmp_path).total == len(HEADER.findall(content))


# --- budgets ------------------------------------------------------------------------------


def test_gzip_bomb_is_inflated_no_further_than_its_budget(tmp_path):
    path = tmp_path / "zeros.gz"
    gzip_stream(path, (bytes(1 << 20) for _ in range(64)))  # 64 MiB of zeros in ~64 KiB
    size = path.stat().st_size
    lim = Limits(ratio=10, ratio_floor=1 << 16)
    budget = lim.inflate_budget(size)
    assert budget == 10 * size
    seen = 0
    with pytest.raises(LimitError) as e:
        for chunk in read_chunks(path, chunk_size=1 << 16, limits=lim):
            seen += len(chunk)
    assert seen <= budget and "GOFORENSICS_LIMIT_RATIO" in str(e.value)


def test_text_cut_by_the_inflate_budget_keeps_what_was_read(tmp_path):
    path = tmp_path / "dump-then-bomb.txt.gz"
    gzip_stream(path, [DUMP.encode(), b"\n\n"] + [b"\n" * (1 << 20)] * 32)
    d = gf.parse_file(path, limits=Limits(ratio=2, ratio_floor=1 << 16))
    assert d.total == 5
    w = d.warnings[d.warnings["kind"] == "limit"]
    assert len(w) == 1 and "inflates past" in w["message"].iloc[0]
    assert d.snapshots["truncated"].all()


def test_protobuf_bomb_is_refused_at_its_message_budget(tmp_path):
    # a profile.proto as runtime/pprof begins one (sample type, string table), then a string of
    # 32 MiB of zeros: the whole message is never inflated past the budget
    head = bytes([0x0A, 0x04, 0x08, 0x01, 0x10, 0x02])
    for s in (b"", b"goroutine", b"count"):
        head += b"\x32" + encode_varint(len(s)) + s
    big = 32 << 20
    path = tmp_path / "goroutine.pb.gz"
    gzip_stream(path, [head, b"\x32" + encode_varint(big)] + [bytes(1 << 20)] * 32)
    with pytest.raises(LimitError) as e:
        gf.parse_file(path, limits=Limits(message=1 << 20))
    assert "GOFORENSICS_LIMIT_MESSAGE" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(LimitError):
        gf.parse_text(path.read_bytes(), limits=Limits(message=1 << 20))


def test_line_past_the_line_budget_is_dropped_and_the_goroutines_around_it_are_read(tmp_path):
    path = tmp_path / "long.txt"
    with open(path, "wb") as fh:
        fh.write(DUMP.encode() + b"\n")
        for _ in range(6):  # 6 MiB with no newline, written in pieces
            fh.write(b"\0" * (1 << 20))
        fh.write(b"\n\n" + DUMP.replace("goroutine 1", "goroutine 2").encode())
    data = path.read_bytes()
    lim = Limits(line=1 << 20)
    d = gf.parse_file(path, limits=lim)
    assert d.total == len(HEADER.findall(data)) == 10
    assert d.warnings["message"].str.contains("line budget").any()
    text = both(data, limits=lim).goroutines.drop(columns="source")
    assert text.equals(d.goroutines.drop(columns="source"))


def test_gzip_of_zeros_with_no_newline_reads_as_one_dropped_line(tmp_path):
    path = tmp_path / "zeros.gz"
    gzip_stream(path, (bytes(1 << 20) for _ in range(16)))
    d = gf.parse_file(path, limits=Limits(line=1 << 20))
    assert d.total == 0
    assert d.warnings[["line", "lines"]].values.tolist() == [[1, 1]]


def test_millions_of_newlines_then_a_dump_keep_line_numbers(tmp_path):
    n = 3 << 20
    path = tmp_path / "newlines.gz"
    gzip_stream(path, [b"\n" * (1 << 20)] * 3 + [DUMP.encode()])
    d = gf.parse_file(path)
    assert d.total == 5
    first_header = DUMP.encode().split(b"\n").index(b"goroutine 10 [chan receive]:")
    assert int(d.goroutines["line"].min()) == n + 1 + first_header
    assert both(b"\n" * (1 << 20) + DUMP.encode()).total == 5


def test_newlines_inside_a_race_report_are_still_counted():
    race = b"WARNING: DATA RACE\n" + b"\n" * 10_000 + b"==================\n\n" + DUMP.encode()
    d = both(race)
    w = d.warnings[d.warnings["kind"] == "race-report"]
    assert int(w["lines"].iloc[0]) == 10_002
    assert d.total == 5


def test_snapshot_budget_stops_a_file_of_repeated_dumps():
    block = BLOCK.format(goid=7)
    text = "\n".join([block] * 2_000)  # the same id again and again: 2,000 dumps
    d = both(text, limits=Limits(snapshots=50))
    assert len(d.snapshots) == 50 and d.total == 50
    w = d.warnings[d.warnings["kind"] == "limit"]
    assert len(w) == 1 and "more than 50 snapshots" in w["message"].iloc[0]
    assert bool(d.snapshots["truncated"].iloc[-1])


def test_snapshot_budget_in_the_fast_path_batches(monkeypatch):
    import goforensics.read.fast as fast_mod

    monkeypatch.setattr(fast_mod, "SMALL_RUN", 1)  # every run of known stacks as a batch
    text = "\n".join([DUMP] * 300)  # 300 dumps of 5 goroutines each
    d = both(text, limits=Limits(snapshots=20))
    assert len(d.snapshots) == 20 and d.total == 100
    assert (d.goroutines.groupby("snapshot").size() == 5).all()


def test_budgets_from_the_environment(monkeypatch):
    monkeypatch.setenv("GOFORENSICS_LIMIT_SNAPSHOTS", "3")
    assert current().snapshots == 3
    d = gf.parse_text("\n".join([BLOCK.format(goid=7)] * 10))
    assert len(d.snapshots) == 3
    monkeypatch.setenv("GOFORENSICS_LIMIT_SNAPSHOTS", "many")
    with pytest.raises(LimitError):
        current()
    with pytest.raises(LimitError):
        Limits(depth=0)


def test_depth_budget_keeps_the_top_frames_and_counts_the_rest():
    frames = "".join(
        f"main.recurse(0x{k:x})\n\t/app/rec.go:{10 + k % 7} +0x1d\n" for k in range(500)
    )
    text = (
        "goroutine 5 [chan receive]:\n"
        + frames
        + "created by main.main in goroutine 1\n\t/app/main.go:5 +0x2a\n"
    )
    d = both(text, limits=Limits(depth=100))
    g = d.goroutines.iloc[0]
    assert g.n_frames == 100 and bool(g.elided) and g.creator_goid == 1
    assert d.frames["line"].tolist()[:3] == [10, 11, 12]
    assert d.warnings["message"].str.contains("400 frames past the depth budget").any()


# --- line ends and prefixes -----------------------------------------------------------------


def test_cr_only_line_ends_read_like_lf():
    lf = DUMP.encode()
    cr = lf.replace(b"\n", b"\r")
    a, b = both(cr), both(lf)
    assert a.total == b.total == len(HEADER.findall(lf))
    cols = ["goid", "state", "top_function", "creator_goid", "line"]
    assert a.goroutines[cols].equals(b.goroutines[cols])


# A debug=1 profile as runtime/pprof writes it (pprof.go, printCountProfile).
DEBUG1 = """goroutine profile: total 3
2 @ 0x43b0c6 0x4061bc 0x45f0a1
#\t0x4061bb\tmain.worker+0x1b\t/app/main.go:12
#\t0x45f0a0\truntime.goexit+0x0\t/usr/local/go/src/runtime/asm_amd64.s:1700

1 @ 0x43b0c6 0x45f0a1
#\t0x45f09f\tmain.main+0x1f\t/app/main.go:20
"""

PREFIXES = {
    "klog": "I1201 10:00:00.000000   12 file.go:34] ",
    "klog, other severity and thread": "E1201 23:59:59.999999 4242 server.go:7] ",
    "docker compose": "app-1  | ",
    "docker compose, colored": "\x1b[36mworker-12  |\x1b[0m ",
}


@pytest.mark.parametrize("name", PREFIXES)
@pytest.mark.parametrize("dump", ["debug1", "debug2"])
def test_klog_and_compose_prefixes_read_like_the_others(name, dump):
    text = DEBUG1 if dump == "debug1" else DUMP
    want = 3 if dump == "debug1" else len(HEADER.findall(text.encode()))
    prefixed = "".join(PREFIXES[name] + ln + "\n" for ln in text.splitlines())
    d = both(prefixed)
    assert d.total == want
    assert not d.warnings["kind"].isin(["skipped"]).any()


def test_prefixed_real_debug1_profiles_keep_their_totals(realdumps):
    for path in sorted(realdumps.glob("*debug1*.txt")):
        raw = path.read_bytes()
        m = re.search(rb"^goroutine profile: total (\d+)", raw, re.M)
        if m is None or raw.count(b"goroutine profile:") != 1:
            continue
        for prefix in PREFIXES.values():
            text = b"".join(prefix.encode() + ln for ln in raw.splitlines(True))
            assert gf.parse_text(text).total == int(m.group(1)), (path.name, prefix)


def test_series_of_files_classifies_frames_once_for_the_series(tmp_path):
    for k in range(3):
        (tmp_path / f"d{k}.txt").write_text(DUMP)
    s = gf.load(tmp_path)
    assert s.frames["frame_class"].notna().all()
    assert isinstance(s.frames["frame_class"].dtype, pd.CategoricalDtype)
    alone = gf.parse_file(tmp_path / "d0.txt")
    assert set(alone.frames["frame_class"].astype(str)) == set(s.frames["frame_class"].astype(str))
