"""goforensics: investigate Go goroutine leaks, hangs and deadlocks from goroutine dumps.

The package is a house of three floors, data flowing one way:
:mod:`goforensics.read` (text, profiles, series -> tables), :mod:`goforensics.analyze`
(tables -> clusters, graphs, suspects, diffs) and :mod:`goforensics.show` (-> text,
charts, the HTML report); :mod:`goforensics.model` holds the tables and
:mod:`goforensics.goruntime` every fact about the Go runtime. Everything public is
reachable from here and loaded on first use, so ``import goforensics`` is quick.

>>> import goforensics as gf
>>> d = gf.parse_text("goroutine 1 [select (no cases)]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n")
>>> d.goroutines["state"].tolist()
['select (no cases)']
>>> gf.suspects(d)["state"].tolist()
['select (no cases)']
"""

from __future__ import annotations

import importlib
import sys

__version__ = "0.1.0"

# name -> module that defines it (functions, classes), or the module itself (graphs, viz ...)
_LAZY = {
    **dict.fromkeys(("Dumps", "goroutine_frames", "labels_frame"), "model"),
    **dict.fromkeys(("classify_frames", "frame_class", "split_function"), "goruntime"),
    **dict.fromkeys(
        ("GoforensicsError", "LoadError", "ParseError", "CaptureError", "DatasetError"), "errors"
    ),
    **dict.fromkeys(("parse_file", "parse_text"), "read.parse"),
    **dict.fromkeys(("expand_paths", "load"), "read.series"),
    "capture": "read.capture",
    "load_metrics": "read.metrics",
    "leak_onset": "analyze.onset",
    **dict.fromkeys(
        ("goroutine_fingerprints", "normalize_stacks", "stack_fingerprints", "stack_tokens"),
        "analyze.normalize",
    ),
    **dict.fromkeys(("cluster", "cluster_counts", "describe_clusters"), "analyze.clustering"),
    "StackClusterer": "analyze.estimator",  # scikit-learn's estimator API: loads scikit-learn
    "lifetimes": "analyze.lifetimes",
    **dict.fromkeys(("suspects", "triage"), "analyze.suspects"),
    "diff": "analyze.diff",
    **dict.fromkeys(("causes", "cause_of", "describe_causes"), "analyze.causes"),
    "attach_source": "analyze.source",
    "scan": "analyze.sourcescan",
    "check": "analyze.check",
    "fleet_triage": "fleet",
    **dict.fromkeys(("report_html", "write_report"), "show.report"),
}
# modules reachable as attributes: gf.graphs.wait_for_graph(d), gf.viz.to_svg(chart) ...
_MODULES = {
    "graphs": "analyze.graphs",
    "patterns": "analyze.patterns",
    "viz": "show.charts",
    "datasets": "datasets",
}

__all__ = sorted([*_LAZY, *_MODULES, "__version__"])


def _register_accessor() -> None:
    # ``df.gf`` needs pandas; registered on first use of the package (or at once where pandas
    # is already loaded), so that ``goforensics --help`` does not pay for pandas.
    importlib.import_module(".accessor", __name__)


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
    elif name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _register_accessor()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if "pandas" in sys.modules:
    _register_accessor()
