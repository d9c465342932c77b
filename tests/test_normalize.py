"""Normalised stacks: one cause reads the same whatever the dump format, build or recursion depth.

Expectations come from outside the code under test: from the definitions of the Go
symbol syntax, from paired real dumps of one process in three formats (counted from
their text), and from a real Go program whose goroutines carry their cause as a label.
"""

from __future__ import annotations

from collections import Counter

import pytest
from clusterdemo import (
    ROUNDS,
    clusterdemo_fixture,  # noqa: F401 (registers the fixture)
    dumps_of,
    truth,
)

import goforensics as gf
from goforensics.analyze.normalize import (
    LEVELS,
    goroutine_fingerprints,
    normalize_function,
    normalize_stacks,
    stack_fingerprints,
    stack_tokens,
)


@pytest.mark.parametrize(
    "raw, want",
    [
        ("main.main.func1", "main.main.func"),
        ("main.(*Server).run.func1.2", "main.(*Server).run.func.func"),
        ("main.glob..func5", "main.glob..func"),
        ("main.main.gowrap2", "main.main.gowrap"),
        ("main.(*T).Close.deferwrap1", "main.(*T).Close.deferwrap"),
        ("example.com/m/v2.Map[go.shape.string,go.shape.int].Get", "example.com/m/v2.Map[...].Get"),
        ("example.com/m.(*Set[...]).Add", "example.com/m.(*Set[...]).Add"),
        ("example.com/m.F[go.shape.struct { A []int }]", "example.com/m.F[...]"),
        ("internal/bytealg.IndexByteString.abi0", "internal/bytealg.IndexByteString"),
        (
            "gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun",
            "gopkg.in/natefinch/lumberjack.v2.(*Logger).millRun",
        ),
        ("main.(*T).serve-fm", "main.(*T).serve"),
        ("main.func·002", "main.func"),
        ("github.com/x/y.v3.Foo", "github.com/x/y.v3.Foo"),  # a package version is not a closure
    ],
)
def test_normalize_function(raw, want):
    assert normalize_function(raw) == want


def test_unknown_level_is_a_clear_error():
    d = gf.parse_text("goroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1\n")
    with pytest.raises(ValueError, match="unknown level"):
        normalize_stacks(d, "files")


def _text(*stacks: str) -> gf.Dumps:
    return gf.parse_text("\n".join(stacks))


def test_runtime_frames_wrappers_and_recursion_do_not_split():
    # The same goroutine as debug=0 (runtime frames), debug=2 (hidden), with a go-statement
    # wrapper, and with recursion four deep instead of one.
    base = "main.walk(...)\n\t/a.go:43 +0x45\nmain.start.func1()\n\t/a.go:55 +0x1d\n"
    a = "goroutine 1 [chan send]:\n" + base
    b = (
        "goroutine 2 [chan send]:\nruntime.gopark(0x1)\n\t/go/src/runtime/proc.go:435 +0xce\n"
        "runtime.chansend(0x1)\n\t/go/src/runtime/chan.go:283 +0x3fe\n"
        + base
        + "runtime.goexit({})\n\t/go/src/runtime/asm_amd64.s:1700 +0x1\n"
    )
    c = "goroutine 3 [chan send]:\n" + base + "main.start.gowrap1()\n\t/a.go:60 +0x25\n"
    d = (
        "goroutine 4 [chan send]:\n"
        + "main.walk(...)\n\t/a.go:43 +0x45\n"
        + "main.walk(...)\n\t/a.go:46 +0x56\n" * 4
        + "main.start.func1()\n\t/a.go:55 +0x1d\n"
    )
    dumps = _text(a, b, c, d)
    assert dumps.goroutines["stack_id"].nunique() == 4
    for level in ("lines", "functions", "application"):
        assert goroutine_fingerprints(dumps, level).nunique() == 1, level
    assert stack_tokens(dumps, "lines").iloc[0] == ("main.walk:43", "main.start.func:55")


def test_mutual_recursion_cycles_collapse():
    frame = "main.{}(...)\n\t/a.go:{} +0x1\n"
    one = (
        "goroutine 1 [select]:\n"
        + frame.format("a", 10)
        + frame.format("b", 20)
        + frame.format("main", 5)
    )
    deep = (
        "goroutine 2 [select]:\n"
        + frame.format("a", 10)
        + (frame.format("b", 20) + frame.format("a", 11)) * 3
        + frame.format("b", 20)
        + frame.format("main", 5)
    )
    fp = goroutine_fingerprints(_text(one, deep), "functions")
    assert fp.nunique() == 1


def test_levels_keep_what_they_promise():
    frames = (
        "time.Sleep(0x1)\n\t/go/src/runtime/time.go:188 +0xbf\n"
        "net/http.(*Server).Serve(0x1)\n\t/go/src/net/http/server.go:3000 +0x1\n"
        "main.poll(0x{})\n\t/app/main.go:{} +0x2a\n"
    )
    d = _text(
        "goroutine 1 [sleep]:\n" + frames.format("c1", 9),
        "goroutine 2 [sleep]:\n" + frames.format("c2", 9),
        "goroutine 3 [sleep]:\n" + frames.format("c1", 12),
    )
    n = {lv: goroutine_fingerprints(d, lv).tolist() for lv in LEVELS}
    assert len(set(n["exact"])) == 3  # args differ between 1 and 2
    assert len(set(n["lines"])) == 2  # 1 and 2 share lines, 3 does not
    assert len(set(n["functions"])) == 1  # names only
    tokens = stack_tokens(d, "application")
    assert set(tokens) == {("time.Sleep", "main.poll")}  # stdlib middle frame gone, op kept
    assert stack_fingerprints(d, "lines").index.name == "stack_id"


PAIRED = [
    (
        "009_gostackparse-waitsince.txt",
        "012_profnotes-lookup-debug1-go1.15.txt",
        "014_profnotes-lookup-debug0-go1.15.pb.gz",
    ),
]
SAME_PROCESS = [
    (
        "011_profnotes-nethttp-debug2-go1.15.txt",
        "010_profnotes-nethttp-debug1-labels-go1.15.txt",
        "013_profnotes-nethttp-debug0-go1.15.pb.gz",
    ),
    (
        "037_cdk-erigon-debug2-trimpath-go1.21.txt",
        "039_cdk-erigon-goroutine-profile-134-paired-with-037.pb.gz",
    ),
]


def _weighted(d: gf.Dumps, level: str, skip_dumper: bool = True) -> Counter:
    fp = goroutine_fingerprints(d, level)
    out: Counter = Counter()
    for sid, f, c in zip(d.goroutines["stack_id"], fp, d.goroutines["count"], strict=True):
        fns = d.frames.loc[d.frames["stack_id"] == sid, "function"].astype(str)
        if skip_dumper and fns.str.startswith("runtime/pprof.").any():
            continue  # the goroutine writing the dump takes a different path per format
        out[int(f)] += int(c)
    return out


@pytest.mark.parametrize("files", PAIRED, ids=lambda f: f[0][:3])
@pytest.mark.parametrize("level", ["lines", "functions", "application"])
def test_one_snapshot_in_three_formats_normalises_alike(realdumps, files, level):
    # 009, 012 and 014 are one snapshot of one process written as debug=2, debug=1 and debug=0.
    got = [_weighted(gf.load(realdumps / f), level) for f in files]
    assert sum(got[0].values()) == 8  # 9 goroutines in the text, less the dumping one
    assert got[0] == got[1] == got[2]


def _independent_key(d: gf.Dumps, sid) -> tuple[str, ...]:
    fns = d.frames.loc[(d.frames["stack_id"] == sid) & (d.frames["section"] == 0)].sort_values(
        "depth"
    )
    return tuple(f for f in fns["function"].astype(str) if not f.startswith("runtime."))


@pytest.mark.parametrize("files", SAME_PROCESS, ids=lambda f: f[0][:3])
def test_same_process_other_formats_agree_stack_by_stack(realdumps, files):
    # These files were taken by separate requests, so goroutines moved in between. Where
    # a stack is the same by a definition made here (its non-runtime functions in order),
    # its fingerprint must be the same in every format.
    seen: dict[tuple, set] = {}
    per_file = []
    for f in files:
        d = gf.load(realdumps / f)
        fp = goroutine_fingerprints(d, "functions")
        keys = set()
        for sid, v in zip(d.goroutines["stack_id"], fp, strict=True):
            k = _independent_key(d, sid)
            seen.setdefault(k, set()).add(int(v))
            keys.add(k)
        per_file.append(keys)
    assert all(len(v) == 1 for v in seen.values())
    shared = set.intersection(*per_file)
    assert len(shared) >= 0.5 * min(len(k) for k in per_file)  # the check is not vacuous


def test_go_program_formats_of_one_moment_agree(clusterdemo_runs):
    # After each round the program is quiet (every goroutine parked) and writes the three
    # formats one after the other: the same goroutines, so the same normalised stacks.
    run = clusterdemo_runs["v1"]
    for r in range(ROUNDS):
        got = [_weighted(gf.load(dumps_of(run, k, [r])[0]), "functions") for k in (2, 1, 0)]
        assert got[0] == got[1] == got[2]


def test_recursion_depth_and_new_build_keep_one_fingerprint_per_cause(clusterdemo_runs):
    paths = dumps_of(clusterdemo_runs["v1"]) + dumps_of(clusterdemo_runs["v2"])
    d = gf.load(paths, order="given")
    cause = truth(d)
    fp = goroutine_fingerprints(d, "functions")
    fanout = cause == "fanout-send"
    assert d.goroutines.loc[fanout, "stack_id"].nunique() >= 8  # depths x builds really differ
    assert fp[fanout].nunique() == 1
    for name in ("audit-send", "cache-holder", "poll-loop", "pool-idle"):
        mask = cause == name
        assert d.goroutines.loc[mask, "stack_id"].nunique() == 2  # one stack per build
        assert fp[mask].nunique() == 1, name
    lines = goroutine_fingerprints(d, "lines")
    assert lines[cause == "audit-send"].nunique() == 2  # line drift is real in these dumps
