"""Cluster labels for the charts, the report and the accessor: given, or clustered once here.

A chart or page that needs cluster ids takes them as a parameter; where the caller
gave none, :func:`cluster_labels` runs :func:`goforensics.analyze.clustering.cluster`,
the one place in show/ that does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analyze.clustering import cluster
from ..model import Dumps

__all__ = ["cluster_labels"]


def cluster_labels(dumps: Dumps, labels=None) -> pd.Series:
    """Cluster ids aligned with ``dumps.goroutines``: ``labels`` as given, else :func:`goforensics.cluster`.

    The one place the charts and the report default their labels, so clustering
    runs where a caller gave none and nowhere else.

    Parameters
    ----------
    dumps : Dumps
        The dumps the labels are for.
    labels : array-like, optional
        One cluster id per goroutine row.

    Returns
    -------
    Series
        int64, named ``cluster``, on the goroutines' index.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.load("bundled:demo")
    >>> cluster_labels(d, [0] * len(d.goroutines)).nunique()
    1
    """
    if labels is None:
        labels = cluster(dumps)
    lab = np.asarray(labels)
    if len(lab) != len(dumps.goroutines):
        raise ValueError(f"{len(lab)} cluster labels for {len(dumps.goroutines)} goroutine rows")
    return pd.Series(lab, index=dumps.goroutines.index, name="cluster")
