"""Robustness: cut, binary, huge, deep, empty and concatenated input never crash or lose a goroutine.

Expectations come from the text itself (goroutine headers counted here with a regular
expression written from Go's format, the role of each line of a dump built here), from the
Go program that wrote a dump (its own goroutine count), or from the definition (a 64 MiB
debug=2 dump is runtime/pprof's cut).
"""

from __future__ import annotations

import gzip
import json
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

import goforensics as gf
from goforensics.read.parse import PPROF_LIMIT

FULL_HEADER = re.compile(r"^goroutine \d+ \[[^\]\n]*\](?: \{[^\n]*\})?:$", re.M)
# A header whose goroutine id is whole: the goroutine was there, even where its line is cut.
ID_HEADER = re.compile(r"^goroutine \d+ \[", re.M)
GLUED_HEADER = re.compile(
    r"goroutine \d+ \[[^\]\n]*\](?: \{[^\n]*\})?:$", re.M
)  # text may precede it
FILE_LINE_OK = re.compile(
    r"^\t[^\n]+:\d+(?: \+0x[0-9a-f]+)? *$"
)  # trailing blanks: a whole line too

# A small dump as Go 1.27 writes it, each line with its role.
SMALL = [
    ("header", "goroutine 1 [running]:"),
    ("func", "main.main()"),
    ("file", "\t/app/main.go:12 +0x1d"),
    ("blank", ""),
    ("header", 'goroutine 7 [chan receive, 3 minutes, locked to thread] {h: /api, t: "x y"}:'),
    ("func", "main.worker(0xc000012345, {0x1, 0x2})"),
    ("file", "\t/app/w.go:42 +0x1d"),
    ("func", "main.start.func1(...)"),
    ("file", "\t/app/w.go:20"),
    ("created", "created by main.start in goroutine 1"),
    ("file", "\t/app/w.go:19 +0x3e"),
]
SMALL_TEXT = "\n".join(line for _, line in SMALL) + "\n"


def same(text: str | bytes) -> gf.Dumps:
    """Parse with the fast path and with the reference reader: the tables must be equal."""
    fast = gf.parse_text(text)
    ref = gf.parse_text(text, fast=False)
    for name in ("goroutines", "frames", "snapshots", "warnings"):
        assert getattr(fast, name).equals(getattr(ref, name)), name
    return fast


def cut_is_visible(k: int) -> bool:
    """Can the cut at byte k be seen in the text it leaves (from the roles of its lines)?"""
    text = SMALL_TEXT[:k]
    if not text:
        return False
    lines = text.split("\n")
    partial = lines[-1]
    complete = len(lines) - 1  # lines ending with a newline
    last_role = SMALL[complete - 1][0] if complete else None
    if partial == "":  # cut at a line end: a frame or a creator is left without its file line
        return last_role in ("func", "created")
    role, full = SMALL[complete]
    if role == "header":
        return partial != full
    if role in ("func", "created"):
        return True
    if role == "file":
        return FILE_LINE_OK.match(partial) is None
    return False


def test_cut_at_every_byte_never_crashes_and_counts_the_headers_present():
    flagged = 0
    for k in range(len(SMALL_TEXT) + 1):
        text = SMALL_TEXT[:k]
        # the reference reader is compared on every third cut (CI time), the fast path on all
        d = same(text) if k % 3 == 0 else gf.parse_text(text)
        assert d.total == len(ID_HEADER.findall(text)), k
        visible = cut_is_visible(k)
        assert (d.warnings["kind"] == "truncated").any() == visible, (k, repr(text[-40:]))
        if len(d.snapshots):  # (a cut inside the first header leaves no snapshot to flag)
            assert bool(d.snapshots["truncated"].iloc[-1]) == visible, (k, repr(text[-40:]))
        if visible and len(d.goroutines) and SMALL[len(text.split("\n")) - 1][0] != "header":
            assert d.goroutines["truncated"].iloc[-1], k  # the goroutine that was cut
        flagged += visible
    assert flagged > len(SMALL_TEXT) // 2


def test_a_header_cut_after_its_id_is_a_truncated_goroutine_in_a_large_dump():
    # as pprof's 64 MiB cap leaves it: the last goroutine's header cut anywhere in its bracket
    block = "goroutine {} [chan receive]:\nmain.worker(0x{:x})\n\t/app/w.go:42 +0x1d\n\n"
    text = "".join(block.format(k, k) for k in range(1, 3000)) + block.format(3000, 1)
    at = text.index("goroutine 3000 ")
    for cut in range(at, at + len("goroutine 3000 [chan receive]:") + 1):
        d = gf.parse_text(text[:cut])
        assert d.total == len(ID_HEADER.findall(text[:cut])), text[at:cut]
        if d.total == 3000:
            last = d.goroutines.iloc[-1]
            # (a header left whole is a well-formed last line: that cut cannot be seen)
            whole = FULL_HEADER.search(text[at:cut]) is not None
            assert last["goid"] == 3000 and bool(last["truncated"]) != whole
            assert not (d.warnings["kind"] == "skipped").any()  # the line is not "text"


def test_cut_inside_a_profile_bucket_is_flagged_and_counted_as_missing():
    text = textwrap.dedent("""\
        goroutine profile: total 9
        5 @ 0x43e1f6 0x4086dc 0x46ecc1
        #	0x4086db	main.worker+0x3b	/app/main.go:42

        4 @ 0x43e1f6 0x44f0c5 0x46ecc1
        #	0x44f0c4	time.Sleep+0x124	/usr/local/go/src/runtime/time.go:195
        """)
    full = same(text)
    assert full.total == 9 and not full.snapshots["truncated"].any()
    cut = same(text[: text.index("time.Sleep") + 4])
    assert cut.snapshots["truncated"].all()
    assert int(cut.snapshots["missing"].iloc[0]) == 9 - cut.total


@pytest.mark.parametrize("seed", range(6))
def test_binary_garbage_gives_rows_and_warnings_or_a_clear_error(seed):
    rng = random.Random(seed)
    size = [0, 1, 64, 4096, 300_000, 2_000_000][seed]
    junk = bytes(rng.getrandbits(8) for _ in range(min(size, 4096))) * max(1, size // 4096)
    for data in (junk, b"\x1f\x8b" + junk, junk + SMALL_TEXT.encode() + junk[:100]):
        try:
            d = same(data)
        except gf.ParseError as e:
            assert str(e)  # a clear one-line error
            continue
        assert d.total == len(GLUED_HEADER.findall(data.decode("latin-1")))


def test_garbage_lines_between_goroutines_do_not_lose_any():
    rng = random.Random(7)
    blocks = SMALL_TEXT.strip("\n").split("\n\n") * 30
    out = []
    for b in blocks:
        out.append(b)
        noise = bytes(
            rng.choice(b"\x00\xff\xfe abc\t(){}:+0x\x80\xc3") for _ in range(rng.randint(0, 80))
        )
        out.append(noise.decode("latin-1"))
    text = "\n\n".join(out) + "\n"
    d = same(text.encode("latin-1"))
    assert d.total == len(blocks)


def test_invalid_utf8_in_names_arguments_and_labels():
    text = (
        SMALL_TEXT.replace("main.worker(", "main.w\xffrker(")
        .replace("0x1, 0x2", "0x1, \xc3")
        .replace("x y", "x\xe2\x82")
    ).encode("latin-1")
    d = same(text * 3)  # repeated ids: three snapshots
    assert d.total == 6 and len(d.snapshots) == 3
    assert '"x\ufffd"' in d.goroutines["labels"].iloc[1]
    assert "\ufffd" in d.goroutines["args"].iloc[1]


def test_mangled_protobuf_profiles_give_tables_or_a_clear_error(build_go, tmp_path):
    exe = build_go(ROOT / "tests" / "goprograms" / "waitstates")
    subprocess.run(
        [
            str(exe),
            "-mode",
            "debug0",
            "-truth",
            str(tmp_path / "t.json"),
            "-o",
            str(tmp_path / "p.pb.gz"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    raw = gzip.decompress((tmp_path / "p.pb.gz").read_bytes())
    truth = json.loads((tmp_path / "t.json").read_text())
    assert gf.parse_text(raw).total == truth["num_goroutine"]
    rng = random.Random(3)
    for i in range(120):
        data = bytearray(raw)
        if i % 2:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.getrandbits(8)
        for blob in (bytes(data), gzip.compress(bytes(data))):
            try:
                d = gf.parse_text(blob)
            except gf.ParseError as e:
                assert str(e)
                continue
            assert d.total >= 0 and len(d.goroutines) == d.goroutines["count"].size


def test_empty_input():
    for data in (b"", b"\n", b"\n\n\n", b"\r\n"):
        d = same(data)
        assert d.total == 0 and d.snapshots.empty


def test_deep_stack_of_100k_frames():
    frames = "".join(
        f"main.recurse(0x{k:x})\n\t/app/rec.go:{10 + k % 7} +0x1d\n" for k in range(100_000)
    )
    text = (
        "goroutine 5 [chan receive]:\n"
        + frames
        + "created by main.main in goroutine 1\n\t/app/main.go:5 +0x2a\n"
    )
    d = same(text * 2)
    g = d.goroutines
    assert list(g["n_frames"]) == [100_000, 100_000] and list(g["creator_goid"]) == [1, 1]
    assert len(d.frames) == 100_000 and len(d.snapshots) == 2
    assert g["args"].iloc[0].count("\n") == 99_999


# --- huge lines, in a child process (a hang or a memory blow-up must not take the suite down) -----

# The child's own peak. Linux carries ru_maxrss across fork and exec, so a child of a pytest
# process that has grown to 800 MB reports 800 MB whatever it does itself; VmHWM belongs to the
# child's own address space.
PEAK_RSS = """
def peak_rss():
    try:
        with open('/proc/self/status') as fh:
            return next(int(l.split()[1]) * 1024 for l in fh if l.startswith('VmHWM:'))
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""


def run_child(code: str, timeout: int = 600) -> dict:
    prog = (
        "import json\n"
        + textwrap.dedent(code)
        + "\nout['rss'] = peak_rss()\nprint(json.dumps(out))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", PEAK_RSS + prog], capture_output=True, text=True, timeout=timeout
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_one_huge_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "huge.txt"
    before, after = SMALL_TEXT, SMALL_TEXT.replace("goroutine ", "goroutine 1")
    with open(path, "wb") as fh:
        fh.write(before.encode() + b"\n")
        fh.write(b"x" * (40 << 20) + b"\n\n")
        fh.write(after.encode())
    out = run_child(f"""
        import goforensics as gf
        d = gf.parse_file({str(path)!r})
        out = {{'total': d.total, 'kinds': d.warnings['kind'].tolist(), 'msgs': d.warnings['message'].tolist()}}
    """)
    assert out["total"] == len(FULL_HEADER.findall(before)) + len(FULL_HEADER.findall(after))
    assert any("over-long" in m for m in out["msgs"])
    # no copies of the line per character or per chunk: the line itself and a few buffers
    assert out["rss"] < 10 * (40 << 20)


def test_huge_log_line_carrying_an_escaped_dump_of_70k_goroutines(tmp_path):
    blocks = [
        f"goroutine {100 + k} [chan receive]:\nmain.worker(0x{k:x})\n\t/app/w.go:42 +0x1d\n"
        f"created by main.main in goroutine 1\n\t/app/main.go:9 +0x2a\n"
        for k in range(70_000)
    ]
    dump = "\n".join(blocks)
    line = json.dumps({"level": "error", "msg": "stuck", "stacktrace": dump})
    path = tmp_path / "zap.log"
    path.write_text('{"level":"info","msg":"start"}\n' + line + "\n")
    assert len(line) > (8 << 20)  # over the reader's longest line: the escaped-dump scan reads it
    out = run_child(f"""
        import goforensics as gf
        d = gf.parse_file({str(path)!r})
        g = d.goroutines
        out = {{'total': d.total, 'goids': [int(g['goid'].min()), int(g['goid'].max())],
                'args_last': g['args'].iloc[-1]}}
    """)
    assert out["total"] == 70_000
    assert out["goids"] == [100, 70_099] and out["args_last"] == f"{69_999:#x}"


# --- the 64 MiB cut of runtime/pprof -----------------------------------------------------------------


def test_64_mib_dump_is_truncated_and_the_profile_of_the_same_round_says_how_many_are_missing(
    build_go, tmp_path
):
    exe = build_go(ROOT / "benchmarks" / "bigdump")
    full, prof = tmp_path / "full.txt", tmp_path / "round" / "goroutines-debug1.txt"
    prof.parent.mkdir()
    subprocess.run(
        [str(exe), "-n", "95000", "-o", str(full), "-p1", str(prof)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    data = full.read_bytes()
    assert len(data) > PPROF_LIMIT
    cut = prof.parent / "goroutines-debug2.txt"
    cut.write_bytes(data[:PPROF_LIMIT])  # what runtime/pprof's debug=2 writer leaves
    present = len(re.findall(rb"^goroutine \d+ \[", data[:PPROF_LIMIT], re.M))
    declared = json.loads(Path(str(full) + ".json").read_text())["num_goroutine"]

    alone = gf.parse_file(cut)
    assert alone.total == present
    assert alone.snapshots["truncated"].all()
    assert (alone.warnings["kind"] == "truncated").any()

    (prof.parent / "manifest.json").write_text(
        json.dumps(
            {
                "instance": "svc",
                "snapshots": [
                    {"file": cut.name, "taken_at": "2026-11-30T03:00:00Z", "round": 1},
                    {"file": prof.name, "taken_at": "2026-11-30T03:00:01Z", "round": 1},
                ],
            }
        )
    )
    series = gf.load(prof.parent)
    assert len(series.snapshots) == 1  # one round: the debug=2 dump, corroborated by the profile
    s = series.snapshots.iloc[0]
    assert s["format"] == "debug=2" and s["forms"] == "goroutine debug=2 + goroutine debug=1"
    assert int(s["declared_total"]) == declared
    assert bool(s["truncated"])
    assert int(s["missing"]) == declared - present > 0


def test_concatenated_real_dumps(build_go, tmp_path):
    exe = build_go(ROOT / "tests" / "goprograms" / "waitstates")
    texts = []
    for k in range(2):
        subprocess.run(
            [
                str(exe),
                "-mode",
                "stack",
                "-truth",
                str(tmp_path / f"t{k}.json"),
                "-o",
                str(tmp_path / f"d{k}.txt"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        texts.append((tmp_path / f"d{k}.txt").read_bytes())
    both = texts[0] + b"\n" + texts[1] + texts[0]
    d = same(both)
    counts = [len(FULL_HEADER.findall(t.decode())) for t in texts]
    assert d.total == 2 * counts[0] + counts[1]
    assert list(d.snapshots["goroutines"]) == [counts[0], counts[1], counts[0]]


def test_numbers_too_large_for_their_columns():
    big = "9" * 30
    text = (
        "\n".join(
            [
                f"goroutine {big} [running]:",  # not a goroutine id: skipped, counted in warnings
                "main.main()",
                "\t/app/main.go:12 +0x1d",
                "",
                f"goroutine 5 gp=0xc000002380 m={big} mp=0xc000100000 "
                f'[chan receive, {big} minutes] {{k: "\\U7fffffff"}}:',
                f"main.f({big})",
                f"\t/app/f.go:{big} +0x{'f' * 40}",
                f"...{big} frames elided...",
                "main.g()",
                "\t/app/f.go:3 +0x1",
                f"created by main.main in goroutine {big}",
                f"\t/app/main.go:{big} +0x2a",
                "",
                f"goroutine profile: total {big}",
                f"{big} @ 0x1",
                f"#\t0x1\tmain.h+0x{'f' * 40}\t/app/h.go:{big}",
                "",
            ]
        )
        + "\n"
    )
    d = same(text)
    g = d.goroutines
    assert g["goid"].tolist()[0] == 5 and len(g) == 1
    r = g.iloc[0]
    assert pd.isna(r["wait_minutes"]) and pd.isna(r["m"]) and pd.isna(r["creator_goid"])
    assert pd.isna(r["created_by_line"]) and r["labels"] == '{"k": "\ufffd"}'
    f = d.frames.sort_values("depth")
    assert (
        f["line"].isna().iloc[0] and f["offset"].isna().iloc[0] and f["elided_before"].isna().all()
    )
    assert (d.warnings["kind"] == "skipped").any()


def test_a_stack_the_runtime_could_not_print_is_part_of_the_dump():
    # a fatal error cannot stop a goroutine running on another thread: Go prints this line
    # instead of its frames (seen in the golden map-writes crash when main was the other writer)
    text = (
        "fatal error: concurrent map writes\n\n"
        "goroutine 1 [running]:\n\tgoroutine running on other thread; stack unavailable\n\n"
        "goroutine 7 [running]:\nmain.main.func1()\n\t/app/main.go:9 +0x1d\n"
        "created by main.main in goroutine 1\n\t/app/main.go:8 +0x2a\n"
    )
    d = gf.parse_text(text)
    assert d.total == 2 and d.warnings.empty
    g = d.goroutines.set_index("goid")
    assert g.loc[1, "n_frames"] == 0 and g.loc[1, "state"] == "running"
    assert g.loc[7, "entry_function"] == "main.main.func1"
