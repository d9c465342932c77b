"""``df.gf``: the library's functions as methods of a goroutines table (registered on import).

Every table :class:`~goforensics.model.Dumps` holds as ``goroutines`` carries a link
back to it (``attrs["goforensics"]``, a :class:`~goforensics.model.DumpsLink`), and
pandas keeps that link through selections, sorts and copies. So rows chosen with
plain pandas can be handed straight to the library: the accessor builds the Dumps
of those rows (same frames, snapshots and warnings) and calls the function. Its
methods only delegate; each names the function it calls.

Where a ``cluster`` column is present it is used as the cluster labels, unless
``labels=`` is given.

A table that lost its link (read back from Parquet or CSV, or ``pd.concat`` of rows
from two different Dumps) raises a clear error: use ``gf.Dumps.from_parquet`` or
``gf.load`` and select from its ``goroutines``.

>>> import goforensics as gf
>>> g = gf.load("bundled:demo").goroutines
>>> senders = g[g["state"] == "chan send"]
>>> senders.gf.dumps.total
50
>>> senders.gf.suspects().iloc[0]["site"]
'main.handle'
"""

from __future__ import annotations

import pandas as pd

from .errors import GoforensicsError
from .model import GOROUTINE_COLUMNS, Dumps, DumpsLink

__all__ = ["GoroutinesAccessor", "MissingColumnsError", "NotLinkedError", "dumps_of"]


class NotLinkedError(GoforensicsError, ValueError):
    """A table handed to ``.gf`` that does not know the Dumps it came from."""


class MissingColumnsError(GoforensicsError, KeyError):
    """A selection of goroutine rows that lost columns the library needs."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def dumps_of(table: pd.DataFrame) -> Dumps:
    """The Dumps of these goroutine rows: the rows themselves with their Dumps' other tables.

    Parameters
    ----------
    table : DataFrame
        Rows selected from ``Dumps.goroutines`` (any pandas selection of rows; extra
        columns such as ``cluster`` are kept).

    Returns
    -------
    Dumps
        Those rows as its ``goroutines``, with the same frames, snapshots and warnings.

    Raises
    ------
    NotLinkedError
        The table is not linked to a Dumps (read back from a file, rows of two Dumps).
    MissingColumnsError
        Columns of the goroutines table were selected away; the message names them and
        how to keep them.

    Examples
    --------
    >>> import goforensics as gf
    >>> g = gf.load("bundled:demo").goroutines
    >>> dumps_of(g.drop(columns=["stack_id"]))
    Traceback (most recent call last):
    ...
    goforensics.accessor.MissingColumnsError: these rows lack 1 column(s) of the goroutines table (stack_id): ...
    """
    link = table.attrs.get("goforensics")
    if not isinstance(link, DumpsLink):
        raise NotLinkedError(
            "this table is not linked to a goforensics Dumps (it was read back from a file, or "
            "rows of different Dumps were concatenated): select rows from gf.load(...).goroutines "
            "or gf.Dumps.from_parquet(...).goroutines"
        )
    d = link.dumps
    if table is d.goroutines:
        return d
    missing = [c for c in GOROUTINE_COLUMNS if c not in table.columns]
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        raise MissingColumnsError(
            f"these rows lack {len(missing)} column(s) of the goroutines table ({shown}): select "
            "rows, not columns: g.loc[rows] or g[mask], then pick columns from the result "
            "(or g.loc[sel.index] to get them back)"
        )
    return Dumps(table.copy(deep=False), d.frames, d.snapshots, d.warnings)


@pd.api.extensions.register_dataframe_accessor("gf")
class GoroutinesAccessor:
    """goforensics on a goroutines table: ``d.goroutines.gf.suspects()``, ``rows.gf.plot_icicle()``."""

    def __init__(self, obj: pd.DataFrame) -> None:
        self._obj = obj

    # -- the data ----------------------------------------------------------------------------------
    @property
    def dumps(self) -> Dumps:
        """These rows as a :class:`~goforensics.model.Dumps` (see :func:`dumps_of`)."""
        return dumps_of(self._obj)

    def _labels(self, labels):
        if labels is not None:
            return labels
        if "cluster" in self._obj.columns:
            return self._obj["cluster"]
        return None

    def frames(self) -> pd.DataFrame:
        """One row per frame of each goroutine: :func:`goforensics.model.goroutine_frames`.

        Returns
        -------
        DataFrame
            One row per frame of each goroutine (``row`` the goroutine's row, ``stack_id``,
            ``section``, ``depth``, ``function``, ``package``, ``receiver``, ``method``,
            ``file``, ``line``, ``offset``, ``args``, ``inlined``, ``elided_before``,
            ``frame_class``).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g[g["goid"] == 7].gf.frames()[["function", "line"]].values.tolist()
        [['main.send', 9]]
        """
        from .model import goroutine_frames

        return goroutine_frames(self.dumps, self._obj)

    def stacks(self) -> pd.DataFrame:
        """Frames of the distinct stacks of these rows: :meth:`goforensics.model.Dumps.stacks`.

        Returns
        -------
        DataFrame
            The frames of each distinct stack (``stack_id``, ``section``, ``depth``, ``function``,
            ``package``, ``receiver``, ``method``, ``file``, ``line``, ``offset``, ``args``,
            ``inlined``, ``elided_before``, ``frame_class``).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.stacks()["function"].tolist()
        ['main.main', 'main.send']
        """
        return self.dumps.stacks()

    def labels(self) -> pd.DataFrame:
        """pprof labels, one column per key: :func:`goforensics.model.labels_frame`.

        Returns
        -------
        DataFrame
            One column per pprof label key, one row per goroutine row (index kept); empty of
            columns when no goroutine carries labels.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.labels().shape
        (2, 0)
        """
        from .model import labels_frame

        return labels_frame(self._obj)

    def lifetimes(self) -> pd.DataFrame:
        """Goroutine ids followed across snapshots: :func:`goforensics.analyze.lifetimes.lifetimes`.

        Returns
        -------
        DataFrame
            One row per goroutine id and instance: ``instance``, ``goid``, ``first_snapshot``,
            ``last_snapshot``, ``first_seen``, ``last_seen``, ``snapshots``, ``age``,
            ``wait_minutes_last``, ``blocked_at_least``, ``state_last``, ``stack_id_last``,
            ``stuck_since``.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.lifetimes()[["goid", "state_last", "wait_minutes_last"]].values.tolist()
        [[1, 'chan receive', 0], [7, 'chan send', 3]]
        """
        from .analyze.lifetimes import lifetimes

        return lifetimes(self.dumps)

    def fingerprints(self, level: str = "lines") -> pd.Series:
        """Normalised stack fingerprints: :func:`goforensics.analyze.normalize.goroutine_fingerprints`.

        Parameters
        ----------
        level : str, default "lines"
            How much of each frame counts (see
            :func:`goforensics.analyze.normalize.goroutine_fingerprints`).

        Returns
        -------
        Series
            A 64-bit fingerprint per goroutine row (index kept): equal stacks, equal fingerprints.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> fp = g.gf.fingerprints()
        >>> len(fp), fp.nunique()
        (2, 2)
        """
        from .analyze.normalize import goroutine_fingerprints

        return goroutine_fingerprints(self.dumps, level)

    # -- clusters and suspects ---------------------------------------------------------------------
    def cluster(self, **params) -> pd.Series:
        """Cluster ids: :func:`goforensics.analyze.clustering.cluster`.

        Parameters
        ----------
        **params
            Passed to :func:`goforensics.analyze.clustering.cluster` (``level``, ``threshold`` ...).

        Returns
        -------
        Series
            The cluster id of each row (index kept), 0 for the largest cluster.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.cluster().sort_index().tolist()
        [1, 0]
        """
        from .analyze.clustering import cluster

        return cluster(self.dumps, **params)

    def describe_clusters(self, labels=None) -> pd.DataFrame:
        """One row per cluster: :func:`goforensics.analyze.clustering.describe_clusters`.

        Parameters
        ----------
        labels : Series, optional
            Cluster id per row; default the table's ``cluster`` column, else a fresh clustering.

        Returns
        -------
        DataFrame
            One row per cluster (``cluster``, ``goroutines_last``, ``goroutines_first``,
            ``goroutines_peak``, ``goroutines``, ``rows``, ``stacks``, ``snapshots``,
            ``first_snapshot``, ``last_snapshot``, ``representative``, ``frames``,
            ``site_function``, ``site_file``, ``site_line``, ``state``, ``states``,
            ``entry_function``, ``created_by``), as
            :func:`goforensics.analyze.clustering.describe_clusters` gives it.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> t = g.gf.describe_clusters(labels=g["goid"])
        >>> t[["cluster", "site_function", "state"]].values.tolist()
        [[1, 'main.main', 'chan receive'], [7, 'main.send', 'chan send']]
        """
        from .analyze.clustering import describe_clusters
        from .show.labels import cluster_labels

        return describe_clusters(self.dumps, cluster_labels(self.dumps, self._labels(labels)))

    def cluster_counts(self, labels=None) -> pd.DataFrame:
        """Goroutines per snapshot and cluster: :func:`goforensics.analyze.clustering.cluster_counts`.

        Parameters
        ----------
        labels : Series, optional
            Cluster id per row; default the table's ``cluster`` column, else a fresh clustering.

        Returns
        -------
        DataFrame
            Goroutines per snapshot (rows) and cluster (columns).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.cluster_counts(labels=g["goid"]).to_dict()
        {1: {0: 1}, 7: {0: 1}}
        """
        from .analyze.clustering import cluster_counts
        from .show.labels import cluster_labels

        return cluster_counts(self.dumps, cluster_labels(self.dumps, self._labels(labels)))

    def suspects(self, labels=None, top: int | None = None) -> pd.DataFrame:
        """Ranked leak suspects: :func:`goforensics.analyze.suspects.suspects`.

        Parameters
        ----------
        labels : Series, optional
            Cluster id per row; default the table's ``cluster`` column, else a fresh clustering.
        top : int, optional
            Keep this many suspects (all by default).

        Returns
        -------
        DataFrame
            Ranked suspects, one row per cluster, with the columns of
            :func:`goforensics.analyze.suspects.suspects` (``rank``, ``cluster``, ``site``,
            ``file``, ``line``, ``entry``, ``created_by``, ``state``, ``goroutines``, ...,
            ``score``, ``suspected``, ``pattern``, ``title``, ``advice``, ``evidence``).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.suspects(labels=g["goid"])[["site", "state"]].values.tolist()
        [['main.send', 'chan send'], ['main.main', 'chan receive']]
        """
        from .analyze.suspects import suspects

        return suspects(self.dumps, self._labels(labels), top=top)

    def triage(self, labels=None, top: int = 10) -> dict:
        """The triage report as plain data: :func:`goforensics.analyze.suspects.triage`.

        Parameters
        ----------
        labels : Series, optional
            Cluster id per row; default the table's ``cluster`` column, else a fresh clustering.
        top : int, default 10
            Suspects kept.

        Returns
        -------
        dict
            ``counts``, ``suspects``, ``series`` and ``clusters``, as
            :func:`goforensics.analyze.suspects.triage` gives them.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> sorted(g.gf.triage(labels=g["goid"]))
        ['clusters', 'counts', 'series', 'suspects']
        """
        from .analyze.suspects import triage

        return triage(self.dumps, self._labels(labels), top=top)

    def diff(self, other: pd.DataFrame | Dumps | None = None, **kw) -> pd.DataFrame:
        """What changed (first vs last snapshot, or vs ``other``): :func:`goforensics.analyze.diff.diff`.

        Parameters
        ----------
        other : DataFrame or Dumps, optional
            The rows (or Dumps) to compare with; default the first and last snapshots of these rows.
        **kw
            Passed to :func:`goforensics.analyze.diff.diff`.

        Returns
        -------
        DataFrame
            One row per cluster that changed (``cluster``, ``site``, ``file``, ``line``, ``state``,
            ``entry``, ``created_by``, ``before``, ``after``, ``delta``, ``ratio``, ``relative``,
            ``change``).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> t = g.gf.diff(g[g["goid"] == 1])  # these rows before, the other rows after
        >>> t[["site", "before", "after"]].values.tolist()
        [['main.send', 1.0, 0.0], ['main.main', 1.0, 1.0]]
        """
        from .analyze.diff import diff

        if isinstance(other, pd.DataFrame):
            other = dumps_of(other)
        return diff(self.dumps, other, **kw)

    # -- graphs --------------------------------------------------------------------------------------
    def call_graph(self, **kw):
        """:func:`goforensics.analyze.graphs.call_graph`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.analyze.graphs.call_graph`.

        Returns
        -------
        networkx.DiGraph
            Functions as nodes, caller -> callee edges weighted by goroutines.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> sorted(g.gf.call_graph(blocked_only=False).nodes)
        ['main.main', 'main.send']
        """
        from .analyze.graphs import call_graph

        return call_graph(self.dumps, **kw)

    def spawn_graph(self, **kw):
        """:func:`goforensics.analyze.graphs.spawn_graph`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.analyze.graphs.spawn_graph`.

        Returns
        -------
        networkx.DiGraph
            Creator -> entry function edges carrying ``goroutines``, ``file``, ``line``, ``states``.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> list(g.gf.spawn_graph().edges)
        [('main.main', 'main.send')]
        """
        from .analyze.graphs import spawn_graph

        return spawn_graph(self.dumps, **kw)

    def wait_for_graph(self, **kw):
        """:func:`goforensics.analyze.graphs.wait_for_graph`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.analyze.graphs.wait_for_graph`.

        Returns
        -------
        networkx.DiGraph
            Goroutines and the resources they wait for or hold, as
            :func:`goforensics.analyze.waitfor.wait_for_graph` builds it.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> G = g.gf.wait_for_graph()
        >>> G.number_of_nodes() >= 2
        True
        """
        from .analyze.graphs import wait_for_graph

        return wait_for_graph(self.dumps, **kw)

    def deadlock_cycles(self, **kw) -> list[list]:
        """:func:`goforensics.analyze.graphs.deadlock_cycles` of the wait-for graph.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.analyze.waitfor.deadlock_cycles`.

        Returns
        -------
        list of list
            Each cycle of the wait-for graph as the list of its nodes.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.deadlock_cycles()
        []
        """
        from .analyze.graphs import deadlock_cycles, wait_for_graph

        return deadlock_cycles(wait_for_graph(self.dumps), **kw)

    def hotspots(self, **kw) -> pd.DataFrame:
        """:func:`goforensics.analyze.graphs.hotspots`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.analyze.graphs.hotspots`.

        Returns
        -------
        DataFrame
            One row per function where goroutines are: ``function``, ``file``, ``line``,
            ``frame_class``, ``goroutines``, ``stacks``, ``callers``, ``share``.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.hotspots()[["function", "goroutines"]].values.tolist()
        [['main.main', 1], ['main.send', 1]]
        """
        from .analyze.graphs import hotspots

        return hotspots(self.dumps, **kw)

    # -- charts and report: df.gf.plot_X() is goforensics.viz.X_chart(...) ------------------------------
    def plot_over_time(self, labels=None, **kw):
        """:func:`goforensics.show.charts.over_time_chart`.

        Parameters
        ----------
        labels : Series, optional
            Cluster id per row; default the table's ``cluster`` column, else a fresh clustering.
        **kw
            Passed to :func:`goforensics.show.charts.over_time_chart`.

        Returns
        -------
        altair.Chart
            The chart (draw it with :func:`goforensics.show.charts.to_svg` or in a notebook).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> type(g.gf.plot_over_time(labels=g["goid"])).__name__
        'Chart'
        """
        from .show.charts import over_time_chart

        return over_time_chart(self.dumps, self._labels(labels), **kw)

    def plot_states(self, **kw):
        """:func:`goforensics.show.charts.states_chart`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.show.charts.states_chart`.

        Returns
        -------
        altair.Chart
            The chart (draw it with :func:`goforensics.show.charts.to_svg` or in a notebook).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> type(g.gf.plot_states()).__name__
        'Chart'
        """
        from .show.charts import states_chart

        return states_chart(self.dumps, **kw)

    def plot_suspects(self, labels=None, **kw):
        """:func:`goforensics.show.charts.suspects_chart` of :meth:`suspects`.

        Parameters
        ----------
        labels : Series, optional
            Cluster id per row; default the table's ``cluster`` column, else a fresh clustering.
        **kw
            Passed to :func:`goforensics.show.charts.suspects_chart`.

        Returns
        -------
        altair.HConcatChart
            The chart (draw it with :func:`goforensics.show.charts.to_svg` or in a notebook).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> type(g.gf.plot_suspects(labels=g["goid"])).__name__
        'HConcatChart'
        """
        from .show.charts import suspects_chart

        return suspects_chart(self.suspects(labels), **kw)

    def plot_wait_times(self, **kw):
        """:func:`goforensics.show.charts.wait_times_chart`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.show.charts.wait_times_chart`.

        Returns
        -------
        altair.Chart
            The chart (draw it with :func:`goforensics.show.charts.to_svg` or in a notebook).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> type(g.gf.plot_wait_times()).__name__
        'Chart'
        """
        from .show.charts import wait_times_chart

        return wait_times_chart(self.dumps, **kw)

    def plot_icicle(self, labels=None, **kw):
        """:func:`goforensics.show.charts.icicle_chart`.

        Parameters
        ----------
        labels : Series, optional
            Cluster id per row; default the table's ``cluster`` column, else a fresh clustering.
        **kw
            Passed to :func:`goforensics.show.charts.icicle_chart`.

        Returns
        -------
        altair.LayerChart
            The chart (draw it with :func:`goforensics.show.charts.to_svg` or in a notebook).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> type(g.gf.plot_icicle(labels=g["goid"])).__name__
        'LayerChart'
        """
        from .show.charts import icicle_chart

        return icicle_chart(self.dumps, labels=self._labels(labels), **kw)

    def plot_call_graph(self, **kw):
        """:func:`goforensics.show.charts.call_graph_chart`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.show.charts.call_graph_chart`.

        Returns
        -------
        altair.LayerChart
            The chart (draw it with :func:`goforensics.show.charts.to_svg` or in a notebook).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> type(g.gf.plot_call_graph()).__name__
        'LayerChart'
        """
        from .show.charts import call_graph_chart

        return call_graph_chart(self.dumps, **kw)

    def plot_spawn_graph(self, **kw):
        """:func:`goforensics.show.charts.spawn_graph_chart`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.show.charts.spawn_graph_chart`.

        Returns
        -------
        altair.LayerChart
            The chart (draw it with :func:`goforensics.show.charts.to_svg` or in a notebook).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> type(g.gf.plot_spawn_graph()).__name__
        'LayerChart'
        """
        from .show.charts import spawn_graph_chart

        return spawn_graph_chart(self.dumps, **kw)

    def plot_wait_for(self, **kw):
        """:func:`goforensics.show.charts.wait_for_chart`.

        Parameters
        ----------
        **kw
            Passed to :func:`goforensics.show.charts.wait_for_chart`.

        Returns
        -------
        altair.LayerChart
            The chart (draw it with :func:`goforensics.show.charts.to_svg` or in a notebook).

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> type(g.gf.plot_wait_for()).__name__
        'LayerChart'
        """
        from .show.charts import wait_for_chart

        return wait_for_chart(self.dumps, **kw)

    def report(self, path=None, labels=None, **kw) -> str:
        """The self-contained HTML report: :func:`goforensics.show.report.report_html`
        (written to ``path`` if given).

        Parameters
        ----------
        path : str or Path, optional
            Write the report there as well.
        labels : Series, optional
            Cluster id per row; default the table's ``cluster`` column, else a fresh clustering.
        **kw
            Passed to :func:`goforensics.show.report.report_html`.

        Returns
        -------
        str
            The report's HTML.

        Examples
        --------
        >>> import goforensics as gf
        >>> g = gf.parse_text(
        ...     "goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:12 +0x18\\n\\n"
        ...     "goroutine 7 [chan send, 3 minutes]:\\nmain.send(...)\\n\\t/app/main.go:9\\n"
        ...     "created by main.main in goroutine 1\\n\\t/app/main.go:11 +0x1c\\n"
        ... ).goroutines
        >>> g.gf.report(labels=g["goid"], charts=False).startswith("<!DOCTYPE html>")
        True
        """
        from .show.report import report_html, write_report

        if path is not None:
            return write_report(self.dumps, path, labels=self._labels(labels), **kw).read_text(
                encoding="utf-8"
            )
        return report_html(self.dumps, labels=self._labels(labels), **kw)
