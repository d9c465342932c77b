"""Fleet triage, end to end: find the instances, load and analyse each where it is, decide.

:func:`fleet_triage` runs the steps of :mod:`goforensics.analyze.fleet` over the instances
:func:`goforensics.read.fleet.discover` lists, as one task graph: load each instance
(:func:`goforensics.read.fleet.load_instance`), take its distinct stacks, cluster their
union once, then analyse (and, if asked, write to Parquet) each partition where it was
loaded. On a ``dask.distributed`` cluster only the small results travel to the client;
a worker lost mid-run costs Dask a recomputation of what it held, not the run. The same
functions run in this process, in order, when no scheduler is asked for.

>>> import tempfile, pathlib
>>> t = "goroutine {} [chan send]:\\nmain.emit()\\n\\t/app/a.go:7 +0x1\\n\\n"
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> for host, n in (("a", 1), ("b", 3)):
...     _ = (tmp / host).mkdir(), (tmp / host / "1.txt").write_text("".join(map(t.format, range(n))))
>>> r = fleet_triage(tmp)
>>> r.counts[["instance", "cluster", "goroutines"]].values.tolist()
[['a', 0, 1], ['b', 0, 3]]
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pandas as pd

from .analyze.clustering import DEFAULT_LEVEL, DEFAULT_THRESHOLD
from .analyze.fleet import (
    FleetResult,
    analyze_partition,
    distinct_stacks,
    fleet_clusters,
    fleet_verdicts,
)
from .errors import LoadError
from .read.fleet import Instance, Partition, discover, load_instance, write_partition

__all__ = ["SCHEDULERS", "fleet_triage"]

SCHEDULERS = ("sequential", "threads", "processes", "local")


@dataclass(frozen=True)
class _Options:
    level: str = DEFAULT_LEVEL
    threshold: float = DEFAULT_THRESHOLD
    top: int = 10
    app_modules: tuple = ()
    fast: bool = True
    parquet: str | None = None
    storage_options: tuple = ()


class _Bars:
    """Progress over files and instances (tqdm on stderr; silent when that is not a terminal)."""

    def __init__(self, instances: list[Instance], progress: bool | None):
        from tqdm.auto import tqdm

        off = None if progress is None else not progress
        self.files = tqdm(
            total=sum(i.n_files for i in instances),
            unit="file",
            desc="files",
            disable=off,
            leave=False,
        )
        self.instances = tqdm(
            total=len(instances), unit="instance", desc="instances", disable=off, leave=False
        )

    def close(self) -> None:
        # the last state is drawn before the bars go: tqdm redraws at most every 0.1 s, and
        # a fleet read faster than that would otherwise never show where it ended
        for bar in (self.files, self.instances):
            bar.refresh()
            bar.close()


def _loaded(part: Partition) -> int:
    return part.files


def _finish(out: dict, written: dict | None) -> dict:
    """An instance's results, once its partition is also in the Parquet dataset (if asked).

    ``written`` is taken only so that the instance counts as done after its write task.
    """
    return out


def _sequential(instances: list[Instance], opt: _Options, bars: _Bars):
    parts = []
    for inst in instances:
        parts.append(load_instance(inst, app_modules=opt.app_modules, fast=opt.fast))
        bars.files.update(parts[-1].files)
    mapping, summary = fleet_clusters([distinct_stacks(p) for p in parts], opt.level, opt.threshold)
    outs = []
    for p in parts:
        written = (
            write_partition(p, opt.parquet, dict(opt.storage_options)) if opt.parquet else None
        )
        outs.append(_finish(analyze_partition(p, mapping, opt.top), written))
        bars.instances.update(1)
    return summary, outs


def _graph(instances: list[Instance], opt: _Options):
    """The task graph: load -> distinct stacks -> one clustering -> analyse (and write) each."""
    import dask

    tok = uuid.uuid4().hex[:10]  # fresh keys: a long-lived cluster may run several triages
    parts, loaded, outs = [], [], []
    for i, inst in enumerate(instances):
        p = dask.delayed(load_instance, pure=False)(
            inst, app_modules=opt.app_modules, fast=opt.fast, dask_key_name=f"fleet-load-{tok}-{i}"
        )
        parts.append(p)
        loaded.append(dask.delayed(_loaded)(p, dask_key_name=f"fleet-loaded-{tok}-{i}"))
    stacks = [
        dask.delayed(distinct_stacks)(p, dask_key_name=f"fleet-stacks-{tok}-{i}")
        for i, p in enumerate(parts)
    ]
    mapping, summary = dask.delayed(fleet_clusters, nout=2)(
        stacks, opt.level, opt.threshold, dask_key_name=f"fleet-clusters-{tok}"
    )
    for i, p in enumerate(parts):
        out = dask.delayed(analyze_partition)(
            p, mapping, opt.top, dask_key_name=f"fleet-analyze-{tok}-{i}"
        )
        written = None
        if opt.parquet:
            written = dask.delayed(write_partition)(
                p, opt.parquet, dict(opt.storage_options), dask_key_name=f"fleet-write-{tok}-{i}"
            )
        outs.append(dask.delayed(_finish)(out, written, dask_key_name=f"fleet-instance-{tok}-{i}"))
    return summary, loaded, outs


def _key(key) -> str:
    return key if isinstance(key, str) else str(key[0])


def _local_dask(name: str, instances: list[Instance], opt: _Options, bars: _Bars):
    import dask
    from dask.callbacks import Callback

    summary, loaded, outs = _graph(instances, opt)

    def posttask(key, result, dsk, state, worker_id):
        k = _key(key)
        if k.startswith("fleet-loaded-"):
            bars.files.update(result)
        elif k.startswith("fleet-instance-"):
            bars.instances.update(1)

    with Callback(posttask=posttask):
        summary, _, outs = dask.compute(summary, loaded, outs, scheduler=name)
    return summary, list(outs)


def _distributed(client, instances: list[Instance], opt: _Options, bars: _Bars):
    from distributed import as_completed

    summary, loaded, outs = _graph(instances, opt)
    futures = client.compute([summary, *loaded, *outs])
    n = len(instances)
    for fut in as_completed(futures[1:]):
        if _key(fut.key).startswith("fleet-loaded-"):
            bars.files.update(fut.result())
        else:
            bars.instances.update(1)
    results = client.gather(futures)
    return results[0], results[1 + n :]


@contextlib.contextmanager
def _scheduler(spec) -> Iterator[tuple[str, object]]:
    """What runs the graph: ``("sequential", None)``, ``("dask", name)`` or ``("client", Client)``."""
    if spec is None:
        spec = os.environ.get("GOFORENSICS_SCHEDULER") or "sequential"
    if not isinstance(spec, str):
        yield "client", spec  # a distributed.Client the caller owns
        return
    if spec == "sequential":
        yield "sequential", None
        return
    try:
        if spec in ("threads", "processes", "sync", "synchronous"):
            import dask

            yield "dask", spec
            return
        from distributed import Client, LocalCluster
    except ImportError:
        raise LoadError(
            f"scheduler {spec!r} needs Dask: pip install 'goforensics[fleet]'"
        ) from None
    if spec == "local":
        import dask

        # No dashboard shows this cluster's profiles, and the sampling profiler's thread
        # costs the workers CPU on tasks that are mostly Python (a tenth, measured).
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(
                n_workers=max(os.cpu_count() or 2, 2),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
        with cluster as lc, Client(lc) as client:
            yield "client", client
    elif "://" in spec:
        with Client(spec, timeout="30s") as client:
            yield "client", client
    else:
        raise LoadError(
            f"unknown scheduler {spec!r}: sequential, threads, processes, local "
            "or a scheduler address (tcp://host:8786)"
        )


def _assemble(summary: pd.DataFrame, outs: list[dict], parquet: str | None) -> FleetResult:
    def cat(key: str) -> pd.DataFrame:
        parts = [o[key] for o in outs if len(o[key])]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    instances, growth = cat("instance"), cat("growth")
    if not len(growth):
        growth = pd.DataFrame(
            columns=["instance", "cluster", "snapshots", "last", "grows", "since"]
        )
    return FleetResult(
        instances=instances,
        clusters=summary,
        counts=cat("counts"),
        growth=growth,
        suspects=cat("suspects"),
        verdicts=fleet_verdicts(growth, summary, instances),
        warnings=cat("warnings"),
        parquet=parquet,
    )


def fleet_triage(
    paths: str | Iterable[str],
    *,
    scheduler=None,
    parquet: str | None = None,
    storage_options: dict | None = None,
    level: str = DEFAULT_LEVEL,
    threshold: float = DEFAULT_THRESHOLD,
    top: int = 10,
    app_modules: Iterable[str] = (),
    fast: bool = True,
    progress: bool | None = None,
) -> FleetResult:
    """Triage a fleet: which instances carry each cause, since when, everywhere or not.

    Parameters
    ----------
    paths : fleet folders, files or globs; local paths or fsspec URLs (see
        :func:`goforensics.read.fleet.discover`).
    scheduler : ``"sequential"`` (this process, no Dask), ``"threads"`` or
        ``"processes"`` (Dask's local schedulers), ``"local"`` (a ``LocalCluster`` of one
        worker process per core, for this call), a scheduler address
        (``"tcp://host:8786"``) or a ``distributed.Client``. Default: the
        ``GOFORENSICS_SCHEDULER`` environment variable, else sequential.
    parquet : also write every instance's tables, from where they are, into a Parquet
        dataset there (a folder or fsspec URL; see :func:`goforensics.read.fleet.write_partition`).
    storage_options : fsspec options for the inputs and the dataset.
    level, threshold : clustering (see :func:`fleet_clusters`).
    top : suspects kept per instance.
    app_modules, fast : as for :func:`goforensics.load`.
    progress : bars over files and instances on stderr; ``None``: when it is a terminal.

    Returns
    -------
    :class:`FleetResult`, the same whatever the scheduler.

    Examples
    --------
    >>> r = fleet_triage("bundled:demo", scheduler="sequential", progress=False)
    >>> r.instances[["instance", "snapshots", "goroutines_last"]].values.tolist()
    [['demo', 1, 77]]
    >>> r.suspects[["instance", "rank", "site"]].head(1).values.tolist()
    [['demo', 1, 'main.(*cache).get']]
    """
    instances = discover(paths, storage_options)
    if not instances:
        raise LoadError("no dump found in the fleet's folders")
    opt = _Options(
        level,
        threshold,
        top,
        tuple(app_modules),
        fast,
        None if parquet is None else str(parquet),
        tuple(sorted((storage_options or {}).items())),
    )
    if level == "exact":
        raise ValueError("a fleet is clustered per stack: choose a level other than 'exact'")
    bars = _Bars(instances, progress)
    try:
        with _scheduler(scheduler) as (kind, runner):
            if kind == "sequential":
                summary, outs = _sequential(instances, opt, bars)
            elif kind == "dask":
                summary, outs = _local_dask(runner, instances, opt, bars)
            else:
                summary, outs = _distributed(runner, instances, opt, bars)
    finally:
        bars.close()
    r = _assemble(summary, outs, opt.parquet)
    if not int(r.instances["snapshots"].sum()):
        w = r.warnings.head(1)
        raise LoadError(
            f"no goroutine dump found in the fleet's {int(r.instances['files'].sum())} file(s)"
            + "".join(f"; {i}: {m}" for i, m in zip(w["instance"], w["message"], strict=True))
        )
    return r
