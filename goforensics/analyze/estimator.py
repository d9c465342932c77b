"""The clustering as a scikit-learn estimator: ``gf.StackClusterer``.

A module of its own so that scikit-learn (about a second of imports) is loaded only by whoever
asks for the estimator; :func:`goforensics.analyze.clustering.cluster` and the commands run the
same algorithm (:class:`~goforensics.analyze.clustering.ClusterFitter`) without it.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClusterMixin

from .clustering import ClusterFitter

__all__ = ["StackClusterer"]


class StackClusterer(ClusterMixin, BaseEstimator, ClusterFitter):
    """Cluster the goroutines of a :class:`~goforensics.model.Dumps` into root causes.

    :class:`~goforensics.analyze.clustering.ClusterFitter` with scikit-learn's estimator API:
    ``get_params``/``set_params``, :func:`sklearn.base.clone`, ``fit`` returning self,
    ``fit_predict``.

    Parameters
    ----------
    level, threshold, position_decay, min_samples, prefilter, leaders_above, workers, companions, families
        As :class:`~goforensics.analyze.clustering.ClusterFitter` takes them.

    After ``fit(dumps)``: ``labels_`` (one cluster id per goroutine row), ``n_clusters_``,
    ``fingerprints_`` (per goroutine row) and ``buckets_`` (one row per fingerprint bucket:
    fingerprint, goroutines, cluster, tokens).

    Examples
    --------
    >>> import goforensics as gf
    >>> from sklearn.base import clone
    >>> d = gf.parse_text("goroutine 1 [select]:\\nmain.loop()\\n\\t/a.go:5 +0x1\\n")
    >>> est = StackClusterer(threshold=0.2)
    >>> est.fit(d) is est, est.labels_.tolist()
    (True, [0])
    >>> clone(est).set_params(level="lines").get_params()["level"], est.level
    ('lines', 'functions')
    """
