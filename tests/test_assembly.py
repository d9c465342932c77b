"""Series assembly on real captures (tests/goprograms/leakserver): the files of one round in
several forms are one snapshot; two processes in one folder are kept apart."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import goforensics as gf
from goforensics.analyze.suspects import triage
from goforensics.cli import main
from goforensics.read.capture import capture
from goforensics.read.series import series_notes

HERE = Path(__file__).resolve().parent
ROUNDS = 4
ALL_FORMS = "goroutine debug=2 + goroutineleak debug=2 + goroutine debug=1 + goroutineleak debug=1"


def start(exe: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening on http://"):
        proc.kill()
        raise AssertionError(f"the server did not say where it listens: {line!r}")
    return proc, line.split()[-1]


@pytest.fixture(scope="module")
def leakserver(build_go):
    exe = build_go(HERE / "goprograms" / "leakserver")
    procs = []

    def run() -> str:
        proc, url = start(exe)
        procs.append(proc)
        return url

    yield run
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture(scope="module")
def every_form(leakserver, tmp_path_factory) -> Path:
    """`capture --debug1 --leak` of a fresh leakserver: four files per round."""
    out = tmp_path_factory.mktemp("every-form") / "cap"
    capture(leakserver(), out, every=0.2, count=ROUNDS, debug1=True, leak=True, progress=False)
    return out


def subset(src: Path, dst: Path, keep) -> Path:
    """A copy of a capture with only the files ``keep(entry)`` accepts, and their manifest."""
    dst.mkdir()
    doc = json.loads((src / "manifest.json").read_text())
    doc["snapshots"] = [e for e in doc["snapshots"] if keep(e)]
    for e in doc["snapshots"]:
        shutil.copy(src / e["file"], dst / e["file"])
    (dst / "manifest.json").write_text(json.dumps(doc))
    return dst


def is_debug2(e: dict) -> bool:
    return e["profile"] == "goroutine" and e["debug"] == 2


def test_every_form_of_a_round_is_one_snapshot(every_form, tmp_path):
    alone = gf.load(subset(every_form, tmp_path / "d2", is_debug2))
    d = gf.load(every_form)
    assert len(d.snapshots) == len(alone.snapshots) == ROUNDS
    assert d.snapshots["forms"].tolist() == [ALL_FORMS] * ROUNDS
    assert [len(c.splitlines()) for c in d.snapshots["corroborated_by"]] == [3] * ROUNDS
    assert d.snapshots["time_source"].astype(str).tolist() == ["manifest"] * ROUNDS
    # the same goroutines as the debug=2 files alone, counted once
    cols = ["snapshot", "goid", "state", "stack_id", "count"]
    assert d.goroutines[cols].equals(alone.goroutines[cols])
    assert d.total == alone.total
    assert series_notes(d)[1].startswith(f"{4 * ROUNDS} file(s) read as {ROUNDS} snapshot(s)")


def test_the_leak_profile_verdicts_are_joined_by_id_and_stack(every_form):
    d = gf.load(every_form)
    doc = json.loads((every_form / "manifest.json").read_text())
    for r in range(ROUNDS):
        files = {
            (e["profile"], e["debug"]): every_form / e["file"]
            for e in doc["snapshots"]
            if e["round"] == r
        }
        main_dump = gf.parse_file(files["goroutine", 2]).goroutines
        leak_dump = gf.parse_file(files["goroutineleak", 2]).goroutines
        # the runtime's words: marked (leaked) in the round's dump, or in its leak profile for the
        # same goroutine (same id, same stack) of the dump
        marked = set(leak_dump.loc[leak_dump["leaked"], "goid"].astype(int))
        same = main_dump.merge(leak_dump[["goid", "stack_id"]], on=["goid", "stack_id"])
        want = set(main_dump.loc[main_dump["leaked"], "goid"].astype(int)) | (
            set(same["goid"].astype(int)) & marked
        )
        g = d.goroutines[d.goroutines["snapshot"] == r]
        assert set(g.loc[g["leaked"], "goid"].astype(int)) == want
        # the program's design: only main.sendResult can be proven leaked by the GC
        assert set(g.loc[g["leaked"], "entry_function"].astype(str)) <= {"main.sendResult"}
    # each round starts 4 senders before its dump; the runtime marks a goroutine (leaked) only once
    # a leak profile has run, so the round's dump shows the older ones marked and its own leak
    # profile proves the 4 new ones
    assert d.snapshots["verdicts_joined"].tolist() == [4] * ROUNDS


def test_a_debug1_leak_profile_marks_stacks_when_the_counts_leave_no_doubt(every_form, tmp_path):
    d = gf.load(
        subset(
            every_form,
            tmp_path / "s",
            lambda e: is_debug2(e) or (e["profile"] == "goroutineleak" and e["debug"] == 1),
        )
    )
    assert d.snapshots["forms"].tolist() == ["goroutine debug=2 + goroutineleak debug=1"] * ROUNDS
    leak = gf.load(
        subset(
            every_form,
            tmp_path / "l",
            lambda e: e["profile"] == "goroutineleak" and e["debug"] == 1,
        )
    )
    for r in range(ROUNDS):
        g = d.goroutines[d.goroutines["snapshot"] == r]
        senders = g[g["entry_function"] == "main.sendResult"]
        blocked = senders[senders["state"] == "chan send"]
        proven = leak.goroutines[
            (leak.goroutines["snapshot"] == r)
            & (leak.goroutines["entry_function"] == "main.sendResult")
        ]["count"].sum()
        # nothing starts a sender between a round's dump and its leak profile: the profile names
        # every blocked sender of the dump, so the counts leave no doubt
        assert len(blocked) == len(senders) == proven == 4 * (r + 1)
        assert blocked["leaked"].all()
        assert not g.loc[g["entry_function"] == "main.waitForever", "leaked"].any()


def test_triage_of_every_form_is_the_triage_of_the_debug2_files(every_form, tmp_path):
    def top(d):
        return [
            (s["site"], s["entry"], s["state"], s["counts"]) for s in triage(d, top=4)["suspects"]
        ]

    alone = gf.load(subset(every_form, tmp_path / "d2", is_debug2))
    assert top(gf.load(every_form)) == top(alone)
    sites = [s[0] for s in top(alone)]
    assert sites[:2] == ["main.sendResult", "main.waitForever"]  # the two leaks of the program


def test_forms_saved_side_by_side_without_a_manifest(every_form, tmp_path, capsys):
    side = tmp_path / "side"
    side.mkdir()
    doc = json.loads((every_form / "manifest.json").read_text())
    lines = []
    for e in doc["snapshots"]:
        shutil.copy(every_form / e["file"], side / e["file"])  # same stem, form words differ
        lines.append(f"{e['file']}\t{e['taken_at']}")
    times = tmp_path / "times.tsv"
    times.write_text("\n".join(lines) + "\n")
    d = gf.load(side, times=times)
    assert len(d.snapshots) == ROUNDS
    assert d.snapshots["forms"].tolist() == [ALL_FORMS] * ROUNDS
    assert d.snapshots["time_source"].astype(str).tolist() == ["times file"] * ROUNDS
    # the CLI: --times, and its account says where the times came from and what was assembled
    assert main(["summary", str(side), "--times", str(times)]) == 0
    err = capsys.readouterr().out
    assert f"{ROUNDS} snapshot(s)" in err and "capture times from a times file" in err
    assert f"{4 * ROUNDS} file(s) read as {ROUNDS} snapshot(s)" in err


def test_two_processes_in_one_folder_are_kept_apart(leakserver, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    # the first process runs the leak profile each round: its later dumps show the goroutines the
    # runtime proved leaked, and a leaked goroutine never leaves its process
    capture(leakserver(), a, every=0.1, count=3, leak=True, progress=False)
    capture(
        leakserver(), b, every=0.1, count=2, progress=False
    )  # a second process: ids from 1 again
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    names = []
    for side in (a, b):
        for e in json.loads((side / "manifest.json").read_text())["snapshots"]:
            if is_debug2(e):
                names.append(f"{side.name}-{e['file']}")
                shutil.copy(side / e["file"], mixed / names[-1])
    marked = gf.parse_file(mixed / names[2]).goroutines["leaked"].sum()
    assert marked == 8  # the senders of rounds 0 and 1, proven by their rounds' leak profiles
    d = gf.load(mixed, order="given")
    assert d.snapshots["instance"].astype(str).tolist() == ["process#1"] * 3 + ["process#2"] * 2
    assert (d.warnings["kind"] == "processes").sum() == 1
    # named as one instance (a manifest over both): not split, but said
    doc = {
        "instance": "svc",
        "snapshots": [
            {"file": n, "taken_at": f"2026-11-30T03:00:0{k}Z", "round": k}
            for k, n in enumerate(names)
        ],
    }
    (mixed / "manifest.json").write_text(json.dumps(doc))
    d = gf.load(mixed)
    assert set(d.snapshots["instance"].astype(str)) == {"svc"}
    said = d.warnings.loc[d.warnings["kind"] == "processes", "message"].tolist()
    assert len(said) == 1 and "2 processes in instance 'svc'" in said[0]


def test_one_process_is_not_split(every_form):
    d = gf.load(every_form)
    assert set(d.snapshots["instance"].astype(str)) == {
        json.loads((every_form / "manifest.json").read_text())["instance"]
    }
    assert not (d.warnings["kind"] == "processes").any()


def test_a_protobuf_profile_saved_beside_its_dump_is_the_same_snapshot(leakserver, tmp_path):
    url = leakserver()
    capture(url, tmp_path / "d2", count=1, progress=False)
    capture(url + "/debug/pprof/goroutine?debug=0", tmp_path / "d0", count=1, progress=False)
    side = tmp_path / "side"
    side.mkdir()
    shutil.copy(tmp_path / "d2" / "goroutine-debug2-0000.txt", side / "svc-0000.txt")
    shutil.copy(tmp_path / "d0" / "goroutine-debug0-0000.pb.gz", side / "svc-0000.pb.gz")
    d = gf.load(side)
    alone = gf.load(side / "svc-0000.txt")
    assert d.snapshots["forms"].tolist() == ["goroutine debug=2 + goroutine debug=0"]
    assert d.snapshots["format"].tolist() == ["debug=2"] and d.total == alone.total


def test_the_cli_reads_a_capture_in_every_form_as_its_rounds(every_form, capsys):
    assert main(["triage", str(every_form), "--top", "2"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{ROUNDS} snapshot(s) ")
    assert err.startswith(f"{4 * ROUNDS} file(s), {ROUNDS} snapshot(s), ")
    assert "capture times from the capture manifest" in err
    assert f"{4 * ROUNDS} file(s) read as {ROUNDS} snapshot(s)" in err
