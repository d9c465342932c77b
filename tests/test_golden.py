"""Golden tests: dumps made during the test run by a real Go program, checked against its own truth.

``tests/goprograms/waitstates`` parks goroutines in every wait state a dump names (channel
operations, nil channels, select, IO wait, a raw syscall, sleep, every sync primitive,
a thread-locked goroutine, pprof labels, goroutines started by other goroutines and 60
frames down, a 300-deep recursion), writes what it knows about each one (its id from its
own stack header, its entry function from runtime.Callers, the state it must be in, its
labels, who started it, the goroutineleak verdict Go's own tests expect) and then dumps
its goroutines in the form asked for, or crashes in the way asked for. The parser's rows
are compared with that truth, and the counts with the runtime's own count and with the
goroutine headers counted here in the raw text.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

import goforensics as gf
import goforensics.read.parse as parse_mod
from goforensics.analyze.suspects import series_facts

WAITSTATES = ROOT / "tests" / "goprograms" / "waitstates"
HEADER = re.compile(r"^goroutine \d+ (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[", re.M)


@pytest.fixture(scope="module")
def program(build_go):
    return build_go(WAITSTATES)


class Run:
    """One run of the program: its truth and the files it wrote."""

    def __init__(self, exe: Path, out: Path, mode: str, env: dict | None = None, **files: str):
        self.dir = out
        self.dir.mkdir()
        self.truth_path = self.dir / "truth.json"
        args = [
            str(exe),
            "-mode",
            mode,
            "-truth",
            str(self.truth_path),
            "-o",
            str(self.dir / "dump.txt"),
        ]
        for flag, name in files.items():
            args += [f"-{flag}", str(self.dir / name)]
        full_env = {**os.environ, **(env or {})}
        if mode == "sigquit":
            p = subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=full_env,
                preexec_fn=_no_core,
            )
            assert p.stdout.readline().strip() == b"ready"
            p.send_signal(signal.SIGQUIT)
            _, err = p.communicate(timeout=120)
            self.stderr = err
        else:
            r = subprocess.run(args, capture_output=True, env=full_env, timeout=120)
            self.stderr = r.stderr
            if mode in ("panic", "mapwrites"):
                assert r.returncode == 2, r.stderr[-2000:]
            else:
                assert r.returncode == 0, r.stderr[-2000:]
        doc = json.loads(self.truth_path.read_text())
        self.truth: list[dict] = doc["goroutines"]
        self.num_goroutine: int = doc["num_goroutine"]

    def path(self, name: str = "dump.txt") -> Path:
        p = self.dir / name
        if not p.exists():  # the crash modes write to stderr
            p.write_bytes(self.stderr)
        return p


def _no_core():
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@pytest.fixture(scope="module")
def runs(program, tmp_path_factory):
    """Each mode runs once, when a test first asks for it."""
    tmp = tmp_path_factory.mktemp("waitstates")
    cache: dict[str, Run] = {}

    def get(mode: str, **kw) -> Run:
        key = mode + repr(sorted(kw.items()))
        if key not in cache:
            env = kw.pop("env", None)
            cache[key] = Run(program, tmp / f"{mode}-{len(cache)}", mode, env, **kw)
        return cache[key]

    return get


def count_headers(path: Path) -> int:
    return len(HEADER.findall(path.read_text("utf-8", "replace")))


def check_rows(
    d: gf.Dumps,
    run: Run,
    *,
    snapshot: int = 0,
    leak_marks: bool = False,
    all_frames: bool = False,
    ancestors: bool = False,
    unavailable: set[int] = frozenset(),
) -> None:
    """Every goroutine of the truth is in the snapshot, as the program says it is.

    ``unavailable``: goroutines whose stack the runtime could not print (running on another
    thread when a fatal error stopped the world): no frames, so no entry function."""
    g = d.goroutines[d.goroutines["snapshot"] == snapshot]
    for t in run.truth:
        rows = g[g["goid"] == t["goid"]]
        assert len(rows) >= 1, t
        r = rows.iloc[0]
        where = f"{t['name']} (goroutine {t['goid']})"
        if t["goid"] in unavailable:
            assert r["n_frames"] == 0 and r["entry_function"] == "", where
            continue
        if t["state"]:
            assert r["state"] == t["state"], where
        assert not r["state_inferred"]
        assert r["locked_to_thread"] == t["locked"], where
        assert r["leaked"] == (t["leaked"] and leak_marks), where
        assert r["labels"] == (
            json.dumps(t["labels"], sort_keys=True, ensure_ascii=False) if t["labels"] else ""
        ), where
        assert r["elided"] == t["elided"], where
        assert r["ancestors"] == (" ".join(map(str, t["ancestors"] or [])) if ancestors else ""), (
            where
        )
        if t["created_by"]:
            assert r["created_by"] == t["created_by"], where
            assert r["creator_goid"] == t["creator"], where
        else:
            assert r["created_by"] == "" and pd.isna(r["creator_goid"]), where
        frames = d.frames[(d.frames["stack_id"] == r["stack_id"]) & (d.frames["section"] == 0)]
        funcs = list(frames.sort_values("depth")["function"])
        assert r["n_frames"] == len(funcs)
        if all_frames:  # GOTRACEBACK=system and crash show runtime frames, runtime.goexit last
            assert funcs[-1] in ("runtime.goexit", "runtime.mstart") and t["entry_all"] in funcs, (
                where
            )
        # the entry is where the goroutine's own code starts, in every form: not the
        # runtime.goexit nor (for main) the runtime.main printed below it
        assert r["entry_function"] == t["entry"], where


# --- debug=2 forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["debug2", "stack"])
def test_debug2_dump_matches_the_programs_truth(runs, mode):
    run = runs(mode)
    path = run.path()
    d = gf.parse_file(path)
    assert len(d.snapshots) == 1 and d.snapshots["format"].iloc[0] == "debug=2"
    assert d.total == run.num_goroutine == count_headers(path) == len(run.truth)
    assert d.warnings.empty, d.warnings.to_dict("records")
    check_rows(d, run)
    assert not d.goroutines["leaked"].any()
    # the fast path and the reference reader agree on a real dump
    assert d.goroutines.equals(gf.parse_file(path, fast=False).goroutines)


def test_deep_recursion_is_elided_in_the_middle(runs):
    run = runs("debug2")
    d = gf.parse_file(run.path())
    rec = next(t for t in run.truth if t["name"] == "recursive")
    row = d.goroutines[d.goroutines["goid"] == rec["goid"]].iloc[0]
    frames = d.frames[d.frames["stack_id"] == row["stack_id"]].sort_values("depth")
    # Go prints the innermost and the outermost frames around '...N frames elided...'
    marked = frames[frames["elided_before"].notna()]
    assert len(marked) == 1 and marked["elided_before"].iloc[0] > 100
    assert int(marked["elided_before"].iloc[0]) + row["n_frames"] > 300
    assert (frames["function"] == "main.deep").sum() >= 50


def test_ancestors_with_tracebackancestors(runs):
    run = runs("debug2", env={"GODEBUG": "tracebackancestors=10"})
    path = run.path()
    d = gf.parse_file(path)
    assert d.total == run.num_goroutine == count_headers(path)
    check_rows(d, run, ancestors=True)
    # the ancestor sections hold frames of the creators, in order
    child = next(t for t in run.truth if t["name"] == "deepChild")
    row = d.goroutines[d.goroutines["goid"] == child["goid"]].iloc[0]
    anc = d.frames[(d.frames["stack_id"] == row["stack_id"]) & (d.frames["section"] == 1)]
    assert (anc["function"] == "main.deepSpawner").sum() >= 40
    assert d.goroutines.equals(gf.parse_file(path, fast=False).goroutines)


def test_leaked_marks_after_a_goroutineleak_profile(runs):
    run = runs("leak", leak1="leak1.txt", leak0="leak0.pb.gz", leak2="leak2.txt")
    path = run.path()
    d = gf.parse_file(path)
    assert d.total == run.num_goroutine == count_headers(path)
    check_rows(d, run, leak_marks=True)
    leaked = {t["goid"] for t in run.truth if t["leaked"]}
    assert set(d.goroutines.loc[d.goroutines["leaked"], "goid"]) == leaked


def test_goroutineleak_profiles_hold_exactly_the_leaked_goroutines(runs):
    run = runs("leak", leak1="leak1.txt", leak0="leak0.pb.gz", leak2="leak2.txt")
    leaked = [t for t in run.truth if t["leaked"]]
    for name in ("leak1.txt", "leak0.pb.gz"):
        d = gf.parse_file(run.path(name))
        assert d.snapshots["kind"].tolist() == ["goroutineleak profile"], name
        assert d.total == len(leaked) == int(d.snapshots["declared_total"].iloc[0]), name
        assert d.goroutines["leaked"].all()
        assert Counter(d.goroutines["entry_function"]) == Counter(t["entry"] for t in leaked), name
    d2 = gf.parse_file(run.path("leak2.txt"))  # debug=2 form of the leak profile: the leaked ones
    assert {int(x) for x in d2.goroutines["goid"]} >= {t["goid"] for t in leaked}
    assert d2.goroutines.loc[
        d2.goroutines["goid"].isin([t["goid"] for t in leaked]), "leaked"
    ].all()


# --- aggregated profiles ------------------------------------------------------------------------


def profile_entry(t: dict) -> str:
    """The entry a profile's stack gives: the goroutine's own (main.main, not the runtime.main
    a profile records below it), but runtime/pprof keeps at most 128 frames of a stack
    (GODEBUG profstackdepth), so the 300-deep recursion is cut."""
    return "main.deep" if t["name"] == "recursive" else t["entry"]


@pytest.mark.parametrize("mode", ["debug1", "debug0"])
def test_profiles_count_every_goroutine_by_entry_and_labels(runs, mode):
    run = runs(mode)
    d = gf.parse_file(run.path())
    assert d.total == run.num_goroutine == int(d.snapshots["declared_total"].iloc[0])
    assert d.goroutines["goid"].isna().all() and d.goroutines["state_inferred"].all()
    got = Counter()
    for r in d.goroutines.itertuples():
        got[(r.entry_function, r.labels)] += r.count
    want = Counter()
    for t in run.truth:
        want[
            (profile_entry(t), json.dumps(t["labels"], sort_keys=True) if t["labels"] else "")
        ] += 1
    assert got == want


def test_protobuf_profile_states_are_inferred_from_the_runtime_frames(runs):
    # debug=0 keeps the runtime frames (gopark, chanrecv, selectgo, semacquire...) that
    # debug=1 hides: the state of each parked goroutine can be read off them. A profile
    # cannot tell a nil channel from another one, nor a lock from an unlock wait.
    run = runs("debug0")
    d = gf.parse_file(run.path())
    by_entry: dict[str, set[str]] = {}
    for r in d.goroutines.itertuples():
        by_entry.setdefault(r.entry_function, set()).add(r.state)
    for t in run.truth:
        if t["name"] == "main" or not t["state"]:
            continue
        want = t["state"].replace(" (nil chan)", "")
        assert want in by_entry[profile_entry(t)], (t["name"], by_entry[profile_entry(t)])


# --- crashes --------------------------------------------------------------------------------------


def test_panic_dump(runs):
    run = runs("panic", env={"GOTRACEBACK": "all"})
    path = run.path()
    d = gf.parse_file(path)
    s = d.snapshots
    assert s["kind"].tolist() == ["panic"]
    assert s["message"].iloc[0].startswith("panic: waitstates: deliberate panic")
    assert d.total == count_headers(path) == len(run.truth)
    check_rows(d, run)
    main = d.goroutines[d.goroutines["goid"] == 1].iloc[0]
    assert main["state"] == "running" and main["top_function"] == "main.main"
    # triage opens with the panic and the line of the program that raised it
    src = (WAITSTATES / "main.go").read_text().splitlines()
    line = next(
        i for i, text in enumerate(src, 1) if 'panic("waitstates: deliberate panic")' in text
    )
    facts = series_facts(d)
    assert facts["ended_by"] == "panic: waitstates: deliberate panic"
    assert facts["ended_at"] == f"goroutine 1 at main.main (waitstates/main.go:{line})"


def test_fatal_error_concurrent_map_writes(runs):
    run = runs("mapwrites", env={"GOTRACEBACK": "all"})
    path = run.path()
    d = gf.parse_file(path)
    s = d.snapshots
    assert s["kind"].tolist() == ["fatal error"]
    assert s["message"].iloc[0].startswith("fatal error: concurrent map writes")
    # every goroutine of the truth, plus the map writer started after it was written
    assert d.total == count_headers(path) == len(run.truth) + 1
    # main writes the map too: when the other writer throws, main may be running on another
    # thread, and the runtime prints no stack for it
    unavailable = {
        int(x)
        for x in re.findall(
            r"^goroutine (\d+) [^\n]*:\n\s*goroutine running on other thread; stack unavailable",
            path.read_text(),
            re.M,
        )
    }
    check_rows(d, run, unavailable=unavailable)


def test_sigquit_crash_dump_with_gp_m_headers_and_registers(runs):
    run = runs("sigquit", env={"GOTRACEBACK": "crash"})
    path = run.path()
    text = path.read_text()
    assert " fp=0x" in text and " gp=0x" in text
    d = gf.parse_file(path)
    s = d.snapshots
    # each M prints its own 'SIGQUIT: quit' section: still one capture
    assert s["kind"].tolist() == ["signal"] and s["message"].iloc[0].startswith("SIGQUIT: quit")
    assert d.total == count_headers(path)
    check_rows(d, run, all_frames=True)
    g = d.goroutines
    # system goroutines and each M's g0 are there too; the M of a goroutine in a syscall is known
    assert (g["goid"] == 0).sum() >= 1
    sc = next(t for t in run.truth if t["state"] == "syscall")
    assert g.loc[g["goid"] == sc["goid"], "m"].notna().all()
    assert set(d.warnings["kind"]) <= {"skipped"}
    assert all("register dump" in m for m in d.warnings["message"])


# --- many goroutines on few stacks: the fast path on real output ----------------------------------


def test_worker_pool_dump_fast_path_equals_reference(build_go, tmp_path, monkeypatch):
    # benchmarks/bigdump parks goroutines on ~30 code paths (labels, closures, generics,
    # varying recursion depths, several wait states) and writes them with runtime.Stack
    exe = build_go(ROOT / "benchmarks" / "bigdump")
    out = tmp_path / "pool.txt"
    subprocess.run(
        [str(exe), "-n", "4000", "-o", str(out)], check=True, capture_output=True, timeout=120
    )
    meta = json.loads(Path(str(out) + ".json").read_text())
    fast = gf.parse_file(out)
    ref = gf.parse_file(out, fast=False)
    assert fast.total == meta["num_goroutine"] == count_headers(out)
    for name in ("goroutines", "frames", "snapshots", "warnings"):
        assert getattr(fast, name).equals(getattr(ref, name)), name
    # in small chunks the regions are scanned ahead by threads: same tables, in order
    monkeypatch.setattr(parse_mod, "CHUNK_SIZE", 1 << 16)
    for workers in (1, 3):
        many = gf.parse_file(out, workers=workers)
        for name in ("goroutines", "frames", "snapshots", "warnings"):
            assert getattr(many, name).equals(getattr(ref, name)), (name, workers)
    assert fast.warnings.empty
    # labels carried by the pprof.Do paths, parsed from Go's own quoting
    paths = {json.loads(x)["path"] for x in fast.goroutines["labels"].unique() if x}
    assert {"conn-shallow", "cache-get", "retry", "queue-string"} <= paths


def test_fatal_error_all_goroutines_asleep(build_go):
    # tests/goprograms/deadlock blocks every goroutine (an AB-BA pair and main's Wait on them)
    exe = build_go(ROOT / "tests" / "goprograms" / "deadlock")
    r = subprocess.run([str(exe)], capture_output=True, timeout=120)
    assert r.returncode == 2
    d = gf.parse_text(r.stderr)
    snap = d.snapshots.iloc[0]
    assert snap["kind"] == "fatal error"
    assert "fatal error: all goroutines are asleep - deadlock!" in snap["message"]
    assert d.total == len(HEADER.findall(r.stderr.decode())) == 3
    g = d.goroutines
    assert sorted(g["state"].astype(str)) == [
        "sync.Mutex.Lock",
        "sync.Mutex.Lock",
        "sync.WaitGroup.Wait",
    ]
    assert sorted(g["entry_function"].astype(str)) == [
        "main.main",
        "main.main.func1",
        "main.main.func2",
    ]
    assert g.loc[g["entry_function"] != "main.main", "creator_goid"].tolist() == [1, 1]
    # a deadlock has no goroutine that raised it: triage names the error alone
    facts = series_facts(d)
    assert (
        facts["ended_by"] == "fatal error: all goroutines are asleep - deadlock!"
        and facts["ended_at"] is None
    )
