"""The house's rules, read off the source: data flows read/ -> analyze/ -> show/, one way.

- ``model``, ``goruntime`` and ``errors`` are the ground floor: they import no floor above.
- ``read/`` never imports ``analyze/`` or ``show/``; ``analyze/`` never imports ``show/`` nor a
  private (``_underscore``) name of ``read/``; nothing imports ``accessor`` or ``cli``.
- No import cycle between modules, counting imports inside functions too.
- No module over 600 lines and no function over 80 lines of code (docstrings aside), but for
  functions that say why on the line of their ``def`` (``# long: ...``).
- Every public function and method (named in a module's ``__all__``, or a public method of a
  class named there) has a numpydoc docstring: a summary, ``Parameters`` naming each parameter,
  ``Returns`` (or ``Yields``) unless it returns None, and ``Examples`` that run as doctests;
  numpydoc's own parser reads them and its validator checks their order and names.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
import warnings
from pathlib import Path

import networkx as nx
import pytest
from numpydoc.docscrape import NumpyDocString
from numpydoc.validate import validate

import goforensics

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "goforensics"
GROUND = {"goforensics.model", "goforensics.goruntime", "goforensics.errors"}
TOP = {"goforensics.accessor", "goforensics.cli", "goforensics.watch"}  # and cli's modules
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, level: int, name: str | None, is_pkg: bool) -> str:
    if level == 0:
        return name or ""
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _imports() -> list[tuple[str, str, tuple[str, ...], int]]:
    """(importer, imported module, names taken, line) for every import of every module."""
    out = []
    for path in sorted(PKG.rglob("*.py")):
        mod = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [
                    (mod, a.name, (), node.lineno)
                    for a in node.names
                    if a.name.startswith("goforensics")
                ]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, node.level, node.module, path.name == "__init__.py")
                if not target.startswith("goforensics"):
                    continue
                names = tuple(a.name for a in node.names)
                # 'from . import x' imports the submodule x when there is one
                subs = [
                    n
                    for n in names
                    if (PKG.parent / Path(*f"{target}.{n}".split("."))).with_suffix(".py").exists()
                    or (PKG.parent / Path(*f"{target}.{n}".split("."))).is_dir()
                ]
                out += [(mod, f"{target}.{n}", (), node.lineno) for n in subs]
                rest = tuple(n for n in names if n not in subs)
                if rest or not subs:
                    out.append((mod, target, rest, node.lineno))
    return out


def _in_cli(module: str) -> bool:
    return module == "goforensics.cli" or module.startswith("goforensics.cli.")


def _floor(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else module


IMPORTS = _imports()


def test_ground_floor_imports_nothing_above_it():
    bad = [
        (a, b, line)
        for a, b, _, line in IMPORTS
        if a in GROUND and b not in GROUND and b != "goforensics"
    ]
    assert bad == []


@pytest.mark.parametrize("floor, forbidden", [("read", {"analyze", "show"}), ("analyze", {"show"})])
def test_lower_floors_never_import_upper_floors(floor, forbidden):
    bad = [
        (a, b, line)
        for a, b, _, line in IMPORTS
        if _floor(a) == floor and (_floor(b) in forbidden or b in TOP or _in_cli(b))
    ]
    assert bad == []


def test_analyze_uses_only_public_names_of_read():
    bad = [
        (a, b, n, line)
        for a, b, names, line in IMPORTS
        if _floor(a) == "analyze" and _floor(b) == "read"
        for n in names
        if n.startswith("_")
    ]
    assert bad == []


def test_nothing_imports_the_cli_or_the_accessor():
    bad = [
        (a, b, line)
        for a, b, _, line in IMPORTS
        if (b == "goforensics.accessor" or _in_cli(b)) and a != "goforensics" and not _in_cli(a)
    ]
    assert bad == []


def test_no_import_cycles():
    G = nx.DiGraph()
    modules = {_module_name(p) for p in PKG.rglob("*.py")}
    for a, b, _, _ in IMPORTS:
        # the package __init__ only names things lazily: an import of 'goforensics' is of its
        # version string, not of the house
        if b in modules and a != b and b != "goforensics" and not b.endswith("__init__"):
            if b not in {"goforensics.read", "goforensics.analyze", "goforensics.show"}:
                G.add_edge(a, b)
    cycles = list(nx.simple_cycles(G))
    assert cycles == []


def _long_functions(path: Path) -> list[str]:
    src = path.read_text(encoding="utf-8")
    lines = src.splitlines()
    out = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = node.end_lineno - node.lineno + 1
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                n -= (
                    body[0].end_lineno - body[0].lineno + 1
                )  # the docstring is documentation, not code
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            said = any("# long:" in lines[i - 1] for i in range(first, node.lineno + 1))
            if n > MAX_FUNCTION_LINES and not said:
                out.append(f"{_module_name(path)}.{node.name} ({n} lines)")
    return out


def test_no_function_is_over_80_lines_without_a_reason():
    files = [*PKG.rglob("*.py"), *(ROOT / "tools").glob("*.py")]
    bad = [f for p in sorted(files) for f in _long_functions(p)]
    assert bad == []


def _docstring_lines(tree: ast.Module) -> int:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef))]
    return sum(
        n.body[0].end_lineno - n.body[0].lineno + 1
        for n in nodes
        if n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
        and isinstance(n.body[0].value.value, str)
    )


def test_no_module_is_over_600_lines():
    # as for functions, docstrings are documentation, not code: the examples every public
    # function carries do not push a module over
    sizes = {}
    for p in PKG.rglob("*.py"):
        src = p.read_text(encoding="utf-8")
        sizes[_module_name(p)] = len(src.splitlines()) - _docstring_lines(ast.parse(src))
    assert {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def _public_functions() -> dict[str, object]:
    """Qualified name -> function, for each public function and public method of the package."""
    out = {}
    for info in pkgutil.walk_packages(goforensics.__path__, "goforensics."):
        if info.name.endswith(".__main__"):
            continue  # running it is the command line
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if getattr(obj, "__module__", None) != mod.__name__:
                continue  # a name taken from elsewhere is checked where it is defined
            if inspect.isfunction(obj):
                out[f"{mod.__name__}.{name}"] = obj
            elif inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    value = getattr(value, "__func__", value)  # staticmethod, classmethod
                    if not attr.startswith("_") and inspect.isfunction(value):
                        out[f"{mod.__name__}.{name}.{attr}"] = value
    return out


def _returns_something(fn, sig: inspect.Signature) -> bool:
    # with postponed annotations the return annotation is the text written; where none is
    # written, the body says: a ``return`` with a value or a ``yield`` anywhere in it (in a
    # nested function too: a false alarm there asks for one Returns section too many)
    if sig.return_annotation is not inspect.Signature.empty:
        return sig.return_annotation not in ("None", None)
    node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    return any(
        (isinstance(n, ast.Return) and n.value is not None)
        or isinstance(n, ast.Yield | ast.YieldFrom)
        for n in ast.walk(node)
    )


def _docstring_faults(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        doc = NumpyDocString(inspect.getdoc(fn) or "")
    faults = [f"numpydoc: {w.message}" for w in said]
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters if p not in ("self", "cls")]
    documented = {
        n.strip().lstrip("*") for p in doc["Parameters"] for n in p.name.split(",") if n.strip()
    }
    if not "".join(doc["Summary"]).strip():
        faults.append("no summary")
    if params and not doc["Parameters"]:
        faults.append("no Parameters")
    elif missing := [p for p in params if p not in documented]:
        faults.append(f"Parameters do not name {missing}")
    if _returns_something(fn, sig) and not (doc["Returns"] or doc["Yields"]):
        faults.append("no Returns or Yields")
    if ">>>" not in "\n".join(doc["Examples"]):
        faults.append("no Examples")
    return faults


PUBLIC = _public_functions()


def test_public_functions_are_found():
    # the walk must reach every floor: a broken walk would pass every docstring check
    assert {q.split(".")[1] for q in PUBLIC} >= {"read", "analyze", "show", "cli", "model"}
    assert "goforensics.read.parse.parse_text" in PUBLIC
    assert "goforensics.analyze.clustering.ClusterFitter.fit" in PUBLIC


def test_every_public_function_has_numpydoc_sections():
    bad = {q: f for q, fn in PUBLIC.items() if (f := _docstring_faults(fn))}
    assert bad == {}


# numpydoc's own checks that these docstrings must pass: no unknown section, sections in
# numpydoc's order, a one-line summary, every parameter documented and none that does not
# exist, in the signature's order, a Returns or Yields section where the body returns or
# yields a value, an Examples section
VALIDATE = {"GL06", "GL07", "GL08", "SS01", "PR01", "PR02", "PR03", "RT01", "YD01", "EX01"}


def test_public_docstrings_pass_numpydoc_validation():
    bad = {
        q: [f"{code} {msg}" for code, msg in validate(q)["errors"] if code in VALIDATE]
        for q in PUBLIC
    }
    assert {q: e for q, e in bad.items() if e} == {}
