"""Loading many dumps: capture times, ordering, fleets, Dask, lifetimes."""

from __future__ import annotations

import pandas as pd
import pytest

import goforensics as gf
from goforensics.errors import LoadError

DUMP = "goroutine {goid} [{state}]:\nmain.f()\n\t/app/main.go:{line} +0x1\n"


def write(p, *goroutines):
    p.write_text("\n".join(DUMP.format(goid=g, state=s, line=10 + g) for g, s in goroutines))
    return p


def test_times_from_file_names_order_the_series(tmp_path):
    write(tmp_path / "dump-20261130T031500Z.txt", (1, "sleep"))
    write(tmp_path / "dump-20261130T030000Z.txt", (1, "chan send"))
    epoch = int(pd.Timestamp("2026-11-30T03:20:00Z").timestamp())
    write(tmp_path / f"dump-{epoch}.txt", (1, "select"))
    d = gf.load(tmp_path)
    s = d.snapshots
    assert s["time_source"].astype(str).tolist() == ["filename"] * 3
    assert s["taken_at"].is_monotonic_increasing
    assert d.goroutines.sort_values("snapshot")["state"].astype(str).tolist() == [
        "chan send",
        "sleep",
        "select",
    ]
    # given order numbers snapshots as the paths come
    g = gf.load(sorted(tmp_path.iterdir()), order="given").goroutines
    assert g["state"].astype(str).tolist() == ["select", "chan send", "sleep"]  # names sort so


def test_given_times_win(tmp_path):
    a = write(tmp_path / "a-20261130T030000Z.txt", (1, "sleep"))
    b = write(tmp_path / "b-20261130T040000Z.txt", (1, "chan send"))
    d = gf.load([a, b], taken_at=["2026-11-30T05:00:00Z", "2026-11-30T01:00:00Z"])
    assert d.snapshots["time_source"].astype(str).tolist() == ["given", "given"]
    assert d.goroutines.sort_values("snapshot")["state"].astype(str).tolist() == [
        "chan send",
        "sleep",
    ]
    with pytest.raises(LoadError, match="2 files"):
        gf.load([a, b], taken_at=["2026-11-30T05:00:00Z"])


def test_lifetimes_follow_ids_and_add_printed_waits(tmp_path):
    write(tmp_path / "s-20261130T030000Z.txt", (7, "chan send"), (8, "sleep"))
    (tmp_path / "s-20261130T031000Z.txt").write_text(
        "goroutine 7 [chan send, 12 minutes]:\nmain.f()\n\t/app/main.go:17 +0x1\n"
    )
    life = gf.lifetimes(gf.load(tmp_path)).set_index("goid")
    assert life.loc[7, "snapshots"] == 2 and life.loc[8, "snapshots"] == 1
    assert life.loc[7, "age"] == pd.Timedelta(minutes=10)
    # printed at the last sighting: blocked 12 minutes, longer than the 10 minutes seen
    assert life.loc[7, "blocked_at_least"] == pd.Timedelta(minutes=12)


def test_dask_scheduler_gives_the_same_tables(tmp_path):
    pytest.importorskip("dask", reason="the fleet extra (dask) is part of the dev extra")
    for i in range(4):
        (tmp_path / f"host-{i}").mkdir()
        write(tmp_path / f"host-{i}" / "d-20261130T030000Z.txt", (i + 1, "chan receive"))
    plain = gf.load(tmp_path)
    fleet = gf.load(tmp_path, scheduler="processes")
    assert plain.goroutines.equals(fleet.goroutines)
    assert plain.snapshots.drop(columns=["taken_at"]).equals(
        fleet.snapshots.drop(columns=["taken_at"])
    )
    assert sorted(fleet.snapshots["instance"].astype(str)) == [f"host-{i}" for i in range(4)]


def test_local_processes_give_the_same_tables(tmp_path):
    for i in range(3):
        write(tmp_path / f"d{i}-20261130T03000{i}Z.txt", (1, "sleep"), (2 + i, "select"))
    assert gf.load(tmp_path).goroutines.equals(gf.load(tmp_path, workers=2).goroutines)
