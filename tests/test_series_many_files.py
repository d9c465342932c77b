"""Many files load as the concatenation of the same files loaded one by one.

A series is built from light per-file columns (code books merged and tables conformed once
for all files): these tests hold it to the tables that loading every file on its own and
concatenating the results gives: same columns, dtypes, categories, values and row order.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

import goforensics as gf
from goforensics.model import Dumps
from goforensics.read.series import bundled_path

TABLES = ("goroutines", "frames", "snapshots", "warnings")


def _one_by_one(files: list[Path], instances: dict[str, str]) -> Dumps:
    """Each file loaded alone, snapshots renumbered file after file, then concatenated."""
    parts, offset = [], 0
    for f in files:
        d = gf.load(f, instance=instances.get(str(f)))
        for name in ("snapshots", "goroutines", "warnings"):
            t = getattr(d, name)
            t["snapshot"] = t["snapshot"] + offset
        offset += len(d.snapshots)
        parts.append(d)
    return Dumps.concat(parts)


def _assert_same(got: Dumps, want: Dumps, classes_of_each_file: bool = True) -> None:
    # load gives frame_class the runtime's order of classes; a concatenation sorts them
    classes = got.frames["frame_class"].cat.categories
    want.frames["frame_class"] = want.frames["frame_class"].cat.reorder_categories(classes)
    if not classes_of_each_file:  # frames are classified over the modules of the whole series
        got.frames, want.frames = (
            got.frames.drop(columns="frame_class"),
            want.frames.drop(columns="frame_class"),
        )
    for name in TABLES:
        a, b = getattr(got, name), getattr(want, name)
        if name == "warnings" and not len(a) and not len(b):
            continue
        assert list(a.columns) == list(b.columns), name
        for c in a.columns:
            assert str(a[c].dtype) == str(b[c].dtype), (name, c)
            if isinstance(a[c].dtype, pd.CategoricalDtype):
                assert list(a[c].cat.categories) == list(b[c].cat.categories), (name, c)
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)


def _fleet(tmp_path: Path, names=("checkout", "gateway")) -> tuple[list[Path], dict[str, str]]:
    """The bundled scenario series' dumps, one instance folder each, in capture order."""
    files, inst = [], {}
    for name in names:
        d = tmp_path / name
        d.mkdir()
        for src in sorted(bundled_path(name).glob("goroutine-*.txt.gz")):
            dst = d / src.name
            shutil.copyfile(src, dst)
            files.append(dst)
            inst[str(dst)] = name
    return files, inst


def test_many_files_load_as_their_concatenation(tmp_path):
    files, inst = _fleet(tmp_path)
    got = gf.load(files, order="given", instance=inst)
    assert got.snapshots["source"].nunique() == len(files) == 20
    _assert_same(got, _one_by_one(files, inst))


def test_a_folder_of_instances_loads_as_its_files_one_by_one(tmp_path):
    files, inst = _fleet(tmp_path, ("checkout", "indexer", "notifier"))
    got = gf.load(tmp_path, order="given")
    assert sorted(got.snapshots["instance"].unique()) == ["checkout", "indexer", "notifier"]
    order = {str(p): i for i, p in enumerate(files)}
    src = got.snapshots["source"].astype(str)
    assert list(src) == sorted(src, key=lambda s: order[next(k for k in order if k.endswith(s))])
    _assert_same(got, _one_by_one(files, inst))


def test_files_with_nothing_in_them_give_no_categories(tmp_path):
    """An empty file and a file of text that is no dump sit between real dumps."""
    files, inst = _fleet(tmp_path, ("checkout",))
    empty, junk = tmp_path / "checkout" / "empty.txt", tmp_path / "checkout" / "junk.txt"
    empty.write_text("")
    junk.write_text("nothing to see\n")
    files = [files[0], empty, files[1], junk, files[2]]
    inst.update({str(empty): "checkout", str(junk): "checkout"})
    got = gf.load(files, order="given", instance=inst)
    assert got.warnings["kind"].astype(str).tolist().count("skipped") == 1
    _assert_same(got, _one_by_one(files, inst))


def test_content_times_and_profiles_load_as_one_by_one(tmp_path, realdumps):
    """Real dumps of every form (profiles, test2json with its times, crashes), together."""
    files = sorted(
        p for p in realdumps.iterdir() if p.is_file() and p.suffix not in (".tsv", ".json")
    )
    got = gf.load(files, order="given", instance="one")
    assert len(got.snapshots) >= len(files)
    want = _one_by_one(files, {str(f): "one" for f in files})
    assert set(got.snapshots["instance"].astype(str)) == {"one"}  # a named instance is kept
    # the notes on processes found in one instance are about the series, not about a file
    w = [x.warnings[x.warnings["kind"] != "processes"].astype(str) for x in (got, want)]
    pd.testing.assert_frame_equal(w[0].reset_index(drop=True), w[1].reset_index(drop=True))
    assert (got.warnings["kind"] == "processes").any()
    got.warnings, want.warnings = (x.warnings.iloc[:0] for x in (got, want))
    # programs of many modules: a frame's class follows the modules of the whole series
    _assert_same(got, want, classes_of_each_file=False)


def test_a_capped_capture_file_is_truncated_the_same_way(tmp_path):
    """A manifest's ``capped`` file: its last goroutine and snapshot are marked cut."""
    src = sorted(bundled_path("checkout").glob("goroutine-*.txt.gz"))[0]
    text = gzip.decompress(src.read_bytes())
    cut = text[: len(text) // 2]
    d = tmp_path / "cap"
    d.mkdir()
    (d / "a.txt").write_bytes(cut)
    (d / "b.txt").write_bytes(text)
    manifest = {
        "snapshots": [
            {"file": "a.txt", "taken_at": "2026-11-30T03:00:00Z", "capped": True},
            {"file": "b.txt", "taken_at": "2026-11-30T03:01:00Z"},
        ]
    }
    (d / "manifest.json").write_text(json.dumps(manifest))
    got = gf.load(d)
    a_src, b_src = got.snapshots["source"].astype(str)
    assert a_src.endswith("a.txt") and b_src.endswith("b.txt")
    assert got.snapshots["truncated"].tolist() == [True, False]
    a_rows = got.goroutines[got.goroutines["snapshot"] == 0]
    assert a_rows["truncated"].tolist()[-1] and not got.goroutines["truncated"].iloc[-1]
    w = got.warnings[got.warnings["kind"] == "truncated"]
    assert (w["source"].astype(str) == a_src).any() and (w["snapshot"] == 0).all()
    assert np.array_equal(
        got.goroutines["taken_at"].to_numpy(),
        got.snapshots["taken_at"].to_numpy()[got.goroutines["snapshot"].to_numpy()],
    )


def test_a_stack_learnt_in_one_file_takes_the_next_files_own_arguments(tmp_path):
    """The files of a series share their stacks: what the fast path learnt of a stack in one file
    serves the next, but each file keeps what its own goroutines printed. Here one stack is
    printed with Go 1.16's hex words in the first file and Go 1.17's ``{...}`` groups in the
    second: only the second says its Go is at least 1.17."""
    block = "goroutine {} [chan receive]:\nmain.worker({})\n\t/app/w.go:12 +0x3d\n"
    old = "\n".join(block.format(k, "0xc000010000") for k in range(1, 201))
    new = "\n".join(block.format(k, "{0xc000010000, 0x1}") for k in range(1, 201))
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    a.write_text(old)
    b.write_text(new)
    c.write_text(old)
    got = gf.load([a, b, c], order="given")
    assert got.snapshots["go_version"].astype(str).tolist() == ["", ">=1.17", ""]
    assert got.frames["args"].tolist() == ["0xc000010000"]  # the first goroutine's, of a.txt
    _assert_same(got, _one_by_one([a, b, c], {}))
