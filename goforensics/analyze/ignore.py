"""Ignore rules for ``goforensics check``, in goleak's vocabulary, and the defaults.

``top`` (goleak's ``IgnoreTopFunction``: the function on top of the stack), ``any``
(``IgnoreAnyFunction``: anywhere in the stack) and ``created-by`` (``IgnoreCreatedBy``: the
function whose ``go`` statement started the goroutine); a function may be an ``fnmatch``
pattern (``github.com/x/*``). Rules come from the command line or from a ``[check]`` table of
``.goforensics.toml`` / ``[tool.goforensics.check]`` of ``pyproject.toml``.
:data:`DEFAULT_RULES` are the goroutines the standard library and the test runner keep by
design, which goleak ignores by default, plus what a dump printed by the runtime or the test
binary shows besides (the ``-timeout`` alarm, the runtime's own goroutines, a goroutine on its
way out).

>>> DEFAULT_RULES[DEFAULT_RULES["kind"] == "any"]["function"].tolist()[:2]
['runtime.ensureSigM', 'runtime.ReadTrace']
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pandas as pd

from ..errors import LoadError
from ..goruntime import STATE_KIND
from ..model import Dumps

__all__ = [
    "DEFAULT_RULES",
    "IGNORE_KINDS",
    "RULE_COLUMNS",
    "load_check_config",
    "match_rules",
    "rules_frame",
]

RULE_COLUMNS = ["kind", "function", "state", "origin", "reason"]
IGNORE_KINDS = ("top", "any", "created-by")
# (kind, function, state prefix, why): what goleak ignores by default (its isTestStack,
# isSyscallStack, isStdLibStack, isTraceStack), in its words, and what a dump printed by the
# runtime or the test binary shows besides (goleak never sees those: it skips itself).
_DEFAULTS = [
    *[
        ("top", f, "", "the testing package waiting for its tests")
        for f in (
            "testing.RunTests",
            "testing.runTests",
            "testing.(*T).Run",
            "testing.runFuzzing",
            "testing.runFuzzTests",
        )
    ],
    ("top", "testing.(*T).Parallel", "", "a parallel test waiting for the serial ones to end"),
    ("top", "testing.(*M).startAlarm.func1", "", "the -timeout alarm that printed the dump"),
    ("top", "os/signal.signal_recv", "", "os/signal's receiver, started once and kept"),
    ("top", "os/signal.loop", "", "os/signal's receiver, started once and kept"),
    ("any", "runtime.ensureSigM", "", "the runtime's goroutine for signal.Notify"),
    ("any", "runtime.ReadTrace", "", "the execution tracer's reader"),
    ("any", "runtime.goexit", "syscall", "a cgo callback's goroutine parked in a syscall"),
    ("top", "runtime.goexit1", "", "a goroutine on its way out"),
    ("state", "", "runtime", "the runtime's own goroutine (GC, finalizers, scavenger ...)"),
]
DEFAULT_RULES = pd.DataFrame(
    [(k, f, s, "default", r) for k, f, s, r in _DEFAULTS], columns=RULE_COLUMNS
)


def rules_frame(top=(), any=(), created_by=(), origin: str = "command line") -> pd.DataFrame:
    """Ignore rules in goleak's vocabulary as a table (:data:`RULE_COLUMNS`).

    Parameters
    ----------
    top : iterable of str
        Functions whose goroutines are ignored when they are at the top of the stack.
    any : iterable of str
        Functions whose goroutines are ignored when they are anywhere in the stack.
    created_by : iterable of str
        Functions whose goroutines are ignored when they created them.
    origin : str, default "command line"
        Where the rules came from, kept with them.

    Returns
    -------
    DataFrame
        One row per rule, columns :data:`RULE_COLUMNS`.

    Examples
    --------
    >>> r = rules_frame(top=["example.com/p.worker"], created_by=["example.com/p.Start"])
    >>> r[["kind", "function"]].values.tolist()
    [['top', 'example.com/p.worker'], ['created-by', 'example.com/p.Start']]
    """
    rows = [
        (k, f, "", origin, f"ignored by {origin}")
        for k, fs in (("top", top), ("any", any), ("created-by", created_by))
        for f in fs
    ]
    return pd.DataFrame(rows, columns=RULE_COLUMNS)


def load_check_config(start: str | Path = ".") -> tuple[pd.DataFrame, str | None]:
    """The ignore rules of the nearest ``.goforensics.toml`` (table ``[check]``) or
    ``pyproject.toml`` (table ``[tool.goforensics.check]``), from ``start`` up to the root.

    Keys: ``ignore-top``, ``ignore-any``, ``ignore-created-by`` (lists of function names).
    Returns the rules and the file they came from (``None`` when there is none).

    Parameters
    ----------
    start : str or Path, default "."
        The directory the search starts from.

    Returns
    -------
    tuple of (DataFrame, str or None)
        The rules (columns of :data:`RULE_COLUMNS`) and the file they came from.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "pyproject.toml").write_text('[tool.goforensics.check]\\nignore-any = ["x.run"]\\n')
    >>> rules, where = load_check_config(d)
    >>> rules[["kind", "function"]].values.tolist(), Path(where).name
    ([['any', 'x.run']], 'pyproject.toml')
    """
    start = Path(start).resolve()
    if start.is_file():
        return _rules_from(start), str(start)
    for d in (start, *start.parents):
        for name in (".goforensics.toml", "pyproject.toml"):
            p = d / name
            if p.is_file() and (name != "pyproject.toml" or _table(p) is not None):
                return _rules_from(p), str(p)
    return rules_frame(), None


def _table(p: Path) -> dict | None:
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise LoadError(f"{p}: not readable TOML ({e})") from None
    return (
        doc.get("tool", {}).get("goforensics", {}).get("check")
        if p.name == "pyproject.toml"
        else doc.get("check", doc)
    )


def _rules_from(p: Path) -> pd.DataFrame:
    t = _table(p) or {}
    lists = {}
    for key in ("ignore-top", "ignore-any", "ignore-created-by"):
        v = t.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise LoadError(f"{p}: {key} must be a list of function names")
        lists[key] = v
    unknown = sorted(set(t) - set(lists))
    if unknown:
        raise LoadError(f"{p}: unknown key(s) in the check table: {', '.join(unknown)}")
    return rules_frame(
        lists["ignore-top"], lists["ignore-any"], lists["ignore-created-by"], origin=p.name
    )


def _matches(pattern: str, values: pd.Series) -> pd.Series:
    if any(c in pattern for c in "*?["):
        return values.map(lambda v: fnmatch.fnmatchcase(v, pattern)).astype(bool)
    return values == pattern


def match_rules(dumps: Dumps, rules: pd.DataFrame) -> pd.Series:
    """The first rule that ignores each goroutine, as ``"kind function"`` ('' where none does).

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    rules : DataFrame
        Ignore rules (:func:`rules_frame`, :data:`DEFAULT_RULES`).

    Returns
    -------
    Series of str
        Per goroutine row (index kept), the first rule that ignores it, '' where none does.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 4 [chan receive]:\\ntesting.(*T).Run()\\n\\t/t.go:1 +0x1\\n\\n"
    ...                   "goroutine 5 [chan send]:\\nmain.leak()\\n\\t/m.go:9 +0x1\\n")
    >>> match_rules(d, DEFAULT_RULES).tolist()
    ['top testing.(*T).Run', '']
    """
    g = dumps.goroutines
    out = pd.Series("", index=g.index, dtype=object)
    if g.empty or rules.empty:
        return out
    own = dumps.frames[dumps.frames["section"] == 0]
    top, creator = g["top_function"].astype(str), g["created_by"].astype(str)
    state, raw = g["state"].astype(str), g["raw_state"].astype(str)
    for r in rules.itertuples(index=False):
        if r.kind == "state":
            hit = state.map(STATE_KIND).astype(object) == r.state
        else:
            if r.kind == "top":
                hit = _matches(r.function, top)
            elif r.kind == "created-by":
                hit = _matches(r.function, creator)
            else:
                ids = own.loc[_matches(r.function, own["function"].astype(str)), "stack_id"]
                hit = g["stack_id"].isin(ids)
            if r.state:
                hit &= state.str.startswith(r.state) | raw.str.startswith(r.state)
        out[hit & (out == "")] = (
            f"{r.kind} {r.function}".strip() if r.kind != "state" else "runtime state"
        )
    return out
