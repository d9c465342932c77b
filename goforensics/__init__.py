"""goforensics: investigate Go goroutine leaks, hangs and deadlocks from goroutine dumps.

>>> import goforensics as gf
>>> d = gf.parse_text("goroutine 1 [select (no cases)]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n")
>>> d.goroutines["state"].tolist()
['select (no cases)']
"""

from .model import (
    Dumps,
    classify_frames,
    frame_class,
    goroutine_frames,
    labels_frame,
    split_function,
)
from .parse import ParseError, parse_file, parse_text
from .series import expand_paths, lifetimes, load

__all__ = [
    "Dumps",
    "ParseError",
    "classify_frames",
    "expand_paths",
    "frame_class",
    "goroutine_frames",
    "labels_frame",
    "lifetimes",
    "load",
    "parse_file",
    "parse_text",
    "split_function",
]

__version__ = "0.1.0"
