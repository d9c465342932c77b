"""Fleet triage: instances loaded where their files are, one clustering for the fleet, verdicts.

The fleets are copies of the bundled scenario series (real Go services captured by
``goforensics capture``); their truth files say which goroutines belong to which leak.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import goforensics as gf
from goforensics.analyze.clustering import cluster
from goforensics.cli import cli
from goforensics.datasets import load_dataset
from goforensics.errors import LoadError
from goforensics.fleet import fleet_triage
from goforensics.read.fleet import dataset_instances, discover, load_instance, read_instance
from goforensics.read.series import bundled_path

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")


def _copy_series(name: str, dest: Path, snapshots: int = 10) -> None:
    """A bundled capture series as one instance folder (its first ``snapshots`` snapshots)."""
    src = bundled_path(name)
    dest.mkdir(parents=True)
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["snapshots"] = manifest["snapshots"][:snapshots]
    for snap in manifest["snapshots"]:
        shutil.copyfile(src / snap["file"], dest / snap["file"])
    (dest / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    """Two replicas of checkout and one gateway: 30 dumps."""
    root = tmp_path_factory.mktemp("fleet")
    for inst, name in (
        ("checkout-a", "checkout"),
        ("checkout-b", "checkout"),
        ("gateway-a", "gateway"),
    ):
        _copy_series(name, root / inst)
    return root


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """Three instances of 6 snapshots each: enough for a trend, quick on any scheduler."""
    root = tmp_path_factory.mktemp("small")
    for inst, name in (("a", "checkout"), ("b", "gateway"), ("c", "checkout")):
        _copy_series(name, root / inst, snapshots=6)
    return root


@pytest.fixture(scope="module")
def fleet_result(fleet):
    return fleet_triage(fleet, progress=False)


@pytest.fixture(scope="module")
def small_result(small):
    return fleet_triage(small, progress=False)


def test_cluster_ids_are_those_of_clustering_the_whole_fleet_at_once(fleet, fleet_result):
    # the oracle: every goroutine of the fleet loaded into one table and clustered by stack
    d = gf.load(fleet)
    labels = cluster(d, families=False)
    whole = (
        pd.DataFrame(
            {
                "instance": d.goroutines["instance"].astype(str),
                "taken_at": d.goroutines["taken_at"],
                "cluster": labels,
                "goroutines": d.goroutines["count"],
            }
        )
        .groupby(["instance", "taken_at", "cluster"])["goroutines"]
        .sum()
        .reset_index()
    )
    mine = fleet_result.counts[["instance", "taken_at", "cluster", "goroutines"]]
    key = ["instance", "taken_at", "cluster"]
    a = whole.sort_values(key).reset_index(drop=True)
    b = mine.sort_values(key).reset_index(drop=True).astype(a.dtypes.to_dict())
    pd.testing.assert_frame_equal(a, b)


def test_each_checkout_leak_is_carried_by_both_checkout_replicas_and_not_by_gateway(
    fleet, fleet_result
):
    ds = load_dataset("checkout")
    g = ds.dumps.goroutines
    last = (g["snapshot"] == g["snapshot"].max()).to_numpy()
    truth = ds.truth
    v = fleet_result.verdicts
    found = 0
    for cause in truth.loc[truth["leak"].to_numpy(dtype=bool), "cause"].unique():
        rows = (truth["cause"] == cause).to_numpy() & last
        # where this leak's goroutines block in the application's code (topmost application
        # frame of each stack), the site most of them share
        fr = ds.dumps.frames
        app = fr[(fr["section"] == 0) & (fr["frame_class"] == "application")]
        top = app.sort_values("depth").drop_duplicates("stack_id").set_index("stack_id")["function"]
        at = g.loc[rows, "stack_id"].map(top).dropna().astype(str)
        if at.empty:
            continue
        site = at.mode().iloc[0]
        hit = v[v["site"] == site]
        assert len(hit), f"leak {cause} at {site} not among the fleet's growing causes"
        carried = set(hit["carried_by"].iloc[0])
        assert {"checkout-a", "checkout-b"} <= carried and "gateway-a" not in carried, (
            cause,
            carried,
        )
        found += 1
    assert found >= 3  # checkout's truth names several leaks with an application site


def test_a_cause_of_one_instance_among_three_is_an_outlier(small, small_result):
    # gateway's audit log leak (its truth: a leak) exists only on instance b
    ds = load_dataset("gateway")
    assert ds.truth.loc[ds.truth["cause"].astype(str).str.contains("audit"), "leak"].all()
    v = small_result.verdicts.set_index("site")
    row = v.loc["main.(*auditLog).record"]
    assert row["carried_by"] == ["b"] and row["scope"] == "outlier" and row["of"] == 3
    # since: a capture time of instance b, after its first snapshot (it grew from there)
    b = gf.load(small / "b").snapshots["taken_at"]
    assert b.min() < row["since"] <= b.max()


def test_same_result_on_every_scheduler(small, small_result):
    threads = fleet_triage(small, scheduler="threads", progress=False)
    assert threads.equals(small_result)
    with (
        distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as lc,
        distributed.Client(lc) as client,
    ):
        on_cluster = fleet_triage(small, scheduler=client, progress=False)
    assert on_cluster.equals(small_result)
    assert len(small_result.verdicts) and len(small_result.suspects)


def test_files_in_an_in_memory_filesystem_are_read_where_they_are(small, small_result):
    fs = fsspec.filesystem("memory")
    for p in small.rglob("*"):
        if p.is_file():
            fs.pipe(f"/fleet-test/{p.relative_to(small).as_posix()}", p.read_bytes())
    try:
        with (
            distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as lc,
            distributed.Client(lc) as client,
        ):
            r = fleet_triage(
                "memory://fleet-test",
                scheduler=client,
                progress=False,
                parquet="memory://fleet-test-ds",
            )
        for name in ("counts", "growth", "verdicts", "clusters", "instances"):
            pd.testing.assert_frame_equal(getattr(r, name), getattr(small_result, name))
        assert r.suspects["instance"].tolist() == small_result.suspects["instance"].tolist()
        assert dataset_instances("memory://fleet-test-ds") == ["a", "b", "c"]
        src = read_instance("memory://fleet-test-ds", "b").snapshots["source"].astype(str)
        assert all(s.startswith("memory:///fleet-test/b/") for s in src)
    finally:
        fs.rm("/fleet-test", recursive=True)
        if fs.exists("/fleet-test-ds"):
            fs.rm("/fleet-test-ds", recursive=True)


def test_parquet_dataset_is_partitioned_by_instance_and_reads_back(small, tmp_path):
    out = tmp_path / "ds"
    fleet_triage(small, scheduler="threads", parquet=str(out), progress=False)
    assert sorted(p.name for p in (out / "goroutines").iterdir()) == [
        "instance=a",
        "instance=b",
        "instance=c",
    ]
    for inst in discover(small):
        want = load_instance(inst).dumps
        got = read_instance(str(out), inst.name)
        for name in ("goroutines", "snapshots", "frames", "warnings"):
            # values and dtypes; the order of a categorical's categories aside (frame_class
            # comes from the loader in its class order, from Parquet sorted)
            pd.testing.assert_frame_equal(
                getattr(got, name), getattr(want, name), check_categorical=False
            )
    total = sum(len(gf.load(small / i).goroutines) for i in "abc")
    pdf = pd.read_parquet(out / "goroutines")
    ddf = dd.read_parquet(str(out / "goroutines"))
    assert len(pdf) == total and len(ddf) == total
    assert sorted(pdf["instance"].astype(str).unique()) == ["a", "b", "c"]
    assert sorted(ddf["instance"].astype(str).unique().compute()) == ["a", "b", "c"]


def test_a_file_that_cannot_be_read_is_a_warning_with_its_path(small, tmp_path):
    root = tmp_path / "fleet"
    shutil.copytree(small, root)
    bad = root / "b" / "goroutine-debug2-0003.txt.gz"
    bad.write_bytes(gzip.compress(b"goroutine 1 [running]:\n")[:12] + b"not deflate at all")
    r = fleet_triage(root, scheduler="threads", progress=False)
    assert r.warnings[["instance", "source"]].values.tolist() == [["b", str(bad)]]
    message = r.warnings["message"].iloc[0]
    assert message and "\n" not in message  # one line, whatever the decompressor said
    per = r.instances.set_index("instance")
    # the instance keeps its 5 readable snapshots; the others all 6
    assert per["snapshots"].to_dict() == {"a": 6, "b": 5, "c": 6}


class _KillOnce(distributed.WorkerPlugin):
    """Kill the worker process the first time an instance's analysis is done on it."""

    def __init__(self, marker: str):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if (
            finish == "memory"
            and str(key).startswith("fleet-analyze-")
            and not os.path.exists(self.marker)
        ):
            Path(self.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_lost_mid_run_is_retried_and_the_result_is_unchanged(
    small, small_result, tmp_path
):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    marker = tmp_path / "killed"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc,
        distributed.Client(lc) as client,
    ):
        client.register_plugin(_KillOnce(str(marker)))
        r = fleet_triage(small, scheduler=client, progress=False)
    assert marker.exists()  # a worker did die with an instance's results in its memory
    assert r.equals(small_result)


def test_progress_over_files_and_instances(small, capsys):
    fleet_triage(small, progress=True)
    err = capsys.readouterr().err
    assert "18/18" in err and "file" in err
    assert "3/3" in err and "instance" in err
    fleet_triage(small, progress=None)  # not a terminal: quiet
    assert capsys.readouterr().err == ""


def test_scheduler_from_the_environment(small, monkeypatch):
    monkeypatch.setenv("GOFORENSICS_SCHEDULER", "no-such-scheduler")
    with pytest.raises(LoadError, match="unknown scheduler 'no-such-scheduler'"):
        fleet_triage(small, progress=False)


def test_fleet_command_prints_instances_by_causes(small):
    run = CliRunner().invoke(cli, ["fleet", str(small), "--scheduler", "threads"])
    assert run.exit_code == 0, run.output
    assert "3 instance(s), 18 file(s), 18 snapshot(s)" in run.output
    assert "main.(*auditLog).record" in run.output and "instances x causes" in run.output
    run = CliRunner().invoke(cli, ["fleet", str(small), "--format", "json"])
    doc = json.loads(run.output)
    audit = [v for v in doc["verdicts"] if v["site"] == "main.(*auditLog).record"]
    assert audit[0]["carried_by"] == ["b"] and audit[0]["scope"] == "outlier"
    assert [i["instance"] for i in doc["instances"]] == ["a", "b", "c"]


def test_bad_fleet_input_is_one_line():
    run = CliRunner().invoke(cli, ["fleet", "/no/such/fleet"])
    assert run.exit_code != 0 and "no such file or directory" in run.output
    assert np.all([len(x) < 200 for x in run.output.splitlines()])


def test_instances_are_sub_folders_and_hidden_folders_are_none(small, tmp_path):
    root = tmp_path / "fleet"
    shutil.copytree(small, root / "zone-1")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    found = discover(f"file://{root}")
    assert [(i.name, i.n_files) for i in found] == [
        ("zone-1/a", 6),
        ("zone-1/b", 6),
        ("zone-1/c", 6),
    ]
    with pytest.raises(LoadError, match="no such file or directory"):
        discover(str(root / "nope"))


def test_a_fleet_whose_files_hold_no_dump_is_an_error_naming_why(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "junk.bin").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(LoadError, match=r"no goroutine dump found in the fleet's 1 file\(s\); a: "):
        fleet_triage(tmp_path, progress=False)
    run = CliRunner().invoke(cli, ["fleet", str(tmp_path)])
    assert run.exit_code == 1 and "no goroutine dump found" in run.output
    assert len(run.output.strip().splitlines()) == 1


def test_an_instance_without_a_dump_is_a_warning_beside_the_others(small, tmp_path):
    root = tmp_path / "fleet"
    shutil.copytree(small / "a", root / "a")
    (root / "empty").mkdir()
    (root / "empty" / "notes.txt").write_text("the on-call engineer's notes, not a dump\n")
    r = fleet_triage(root, progress=False)
    assert r.instances.set_index("instance")["snapshots"].to_dict() == {"a": 6, "empty": 0}
    w = r.warnings.set_index("instance")
    assert w.loc["empty", "kind"] == "no dump"
    assert w.loc["empty", "message"].startswith("no goroutine dump in its 1 file(s)")


def test_a_sequential_fleet_triage_needs_no_dask(small):
    # a plain install has fsspec but not Dask: the default scheduler must not import it
    code = (
        "import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
        "from goforensics.fleet import fleet_triage\n"
        f"r = fleet_triage({str(small)!r}, progress=False)\n"
        "print(int(r.instances['snapshots'].sum()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "18"
    run = subprocess.run(
        [sys.executable, "-c", code.replace("progress=False", "scheduler='local', progress=False")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "pip install 'goforensics[fleet]'" in run.stderr
