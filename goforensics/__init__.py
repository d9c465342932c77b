"""goforensics: investigate Go goroutine leaks, hangs and deadlocks from goroutine dumps.

>>> import goforensics as gf
>>> d = gf.parse_text("goroutine 1 [select (no cases)]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n")
>>> d.goroutines["state"].tolist()
['select (no cases)']
"""

from . import accessor as _accessor  # noqa: F401  (registers the ``df.gf`` accessor)
from .model import (
    Dumps,
    classify_frames,
    frame_class,
    goroutine_frames,
    labels_frame,
    split_function,
)
from .normalize import goroutine_fingerprints, normalize_stacks, stack_fingerprints, stack_tokens
from .parse import ParseError, parse_file, parse_text
from .series import expand_paths, lifetimes, load

__all__ = [
    "Dumps",
    "ParseError",
    "StackClusterer",
    "classify_frames",
    "cluster",
    "cluster_counts",
    "describe_clusters",
    "expand_paths",
    "frame_class",
    "goroutine_fingerprints",
    "goroutine_frames",
    "labels_frame",
    "lifetimes",
    "load",
    "normalize_stacks",
    "parse_file",
    "parse_text",
    "split_function",
    "stack_fingerprints",
    "stack_tokens",
]

__version__ = "0.1.0"

# Clustering pulls in scikit-learn (a second of start-up): loaded on first use, so that
# `goforensics parse` and plain loading stay quick.
_LAZY = {name: "clustering" for name in ("StackClusterer", "cluster", "cluster_counts", "describe_clusters")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
