"""Go source trees: find the file a dump's frame points at, read it, parse it.

A dump names files as the build saw them: module import paths under ``-trimpath``
(``example.com/checkout/payments.go``, ``github.com/x/y@v1.2.3/z.go``), absolute paths on the
build machine (``/home/ci/src/checkout/payments.go``, ``C:\\build\\pay\\client.go``), GOPATH
and vendor layouts. :class:`SourceTree` maps them onto directories on this machine: the
modules its ``go.mod`` files declare (and the local directories their ``replace`` directives
name), ``vendor/`` and GOPATH layouts, an absolute path that exists under a root, and, for a
path from another machine, the file of the tree sharing its longest suffix.

:func:`parse_go` parses a file with tree-sitter's Go grammar (no Go toolchain needed), cached by
path, modification time and size; :meth:`GoFile.frame_mismatch` says when a file does not match
the build a dump came from (the line is past its end, or the function around that line is not
the frame's function).

>>> from pathlib import Path
>>> import goforensics
>>> root = Path(goforensics.__file__).parent.parent / "datasets" / "scenarios" / "checkout"
>>> tree = SourceTree([root])
>>> r = tree.resolve("example.com/checkout/payments.go")
>>> r.how, r.path.name
('module', 'payments.go')
>>> f = parse_go(r.path)
>>> f.frame_mismatch(50, "main.(*paymentClient).callWithRetry")
''
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import GoforensicsError
from ..goruntime import split_function

__all__ = [
    "FuncSpan",
    "GoFile",
    "GoModule",
    "Resolution",
    "SourceError",
    "SourceTree",
    "frame_names",
    "go_files",
    "node_text",
    "nodes_by_type",
    "parse_go",
    "read_go_mod",
    "version_tuple",
    "walk",
]


class SourceError(GoforensicsError):
    """A source tree that cannot be read (a root that does not exist, tree-sitter missing)."""


# --- go.mod --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoModule:
    """A module of the tree: its import ``path``, its directory, its ``go`` directive."""

    path: str
    dir: Path
    go: str = ""


_MODULE = re.compile(r"^\s*module\s+\"?([^\s\"]+)\"?", re.M)
_GO = re.compile(r"^\s*go\s+(\d+(?:\.\d+){0,2})", re.M)
_REPLACE_LINE = re.compile(r"^\s*(?:replace\s+)?(\S+)(?:\s+v\S+)?\s+=>\s+(\.{1,2}/\S*|/\S+)\s*$")


def read_go_mod(path: str | Path) -> tuple[GoModule, list[GoModule]]:
    """A ``go.mod``'s module and the local directories its ``replace`` directives name.

    Parameters
    ----------
    path : str or Path
        A ``go.mod`` file.

    Returns
    -------
    (GoModule, list of GoModule)
        The module (path, directory, ``go`` version) and one module per local replacement
        (its ``go`` version read from its own go.mod when there is one).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "go.mod").write_text("module example.com/a\\n\\ngo 1.21\\n\\nreplace example.com/b => ../b\\n")
    >>> mod, reps = read_go_mod(d / "go.mod")
    >>> mod.path, mod.go, reps[0].path, reps[0].dir.name
    ('example.com/a', '1.21', 'example.com/b', 'b')
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    m = _MODULE.search(text)
    g = _GO.search(text)
    mod = GoModule(m.group(1) if m else "", path.parent.resolve(), g.group(1) if g else "")
    reps = []
    in_block = False
    for line in text.splitlines():
        s = line.split("//", 1)[0].strip()
        if s.startswith("replace ("):
            in_block = True
            continue
        if in_block and s == ")":
            in_block = False
            continue
        if not (in_block or s.startswith("replace ")):
            continue
        r = _REPLACE_LINE.match(s)
        if r:
            d = (path.parent / r.group(2)).resolve()
            sub = d / "go.mod"
            go = (
                _GO.search(sub.read_text(encoding="utf-8", errors="replace"))
                if sub.is_file()
                else None
            )
            reps.append(GoModule(r.group(1), d, go.group(1) if go else ""))
    return mod, reps


def version_tuple(v: str) -> tuple[int, ...]:
    """``"1.22.3"`` -> ``(1, 22, 3)``; ``""`` -> ``()``.

    Parameters
    ----------
    v : str
        A Go version (``1.22``, ``1.22.3``) or ''.

    Returns
    -------
    tuple of int
        Its numbers.

    Examples
    --------
    >>> version_tuple("1.22") < (1, 23)
    True
    """
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


# --- the tree ---------------------------------------------------------------------------------------

_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "__pycache__"})
_VERSION = re.compile(r"@v[^/]+")


def go_files(
    root: str | Path, *, tests: bool = False, skip: Iterable[str] = ("testdata", "vendor")
) -> list[Path]:
    """The ``.go`` files under ``root``, sorted; ``_test.go`` files only with ``tests``.

    Directories named in ``skip`` (below ``root``), hidden ones and VCS metadata are left out.

    Parameters
    ----------
    root : str or Path
        A directory.
    tests : bool, default False
        Include ``_test.go`` files.
    skip : iterable of str, default ("testdata", "vendor")
        Directory names left out.

    Returns
    -------
    list of Path
        The files, sorted.

    Examples
    --------
    >>> import goforensics
    >>> root = Path(goforensics.__file__).parent.parent / "datasets" / "scenarios" / "checkout"
    >>> [p.name for p in go_files(root)][:2]
    ['mail.go', 'main.go']
    """
    root = Path(root)
    if root.is_file():
        return [root]
    skip = frozenset(skip) | _SKIP_DIRS
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in skip and not x.startswith((".", "_")))
        for f in files:
            if f.endswith(".go") and (tests or not f.endswith("_test.go")):
                out.append(Path(d) / f)
    return sorted(out)


@dataclass(frozen=True)
class Resolution:
    """Where a dump's file is in the tree: ``path`` (None when not found), ``how``
    (``module``, ``std``, ``vendor``, ``gopath``, ``absolute``, ``suffix``; ``ambiguous`` or
    ``missing`` without a path), and for a suffix match the path components that matched."""

    path: Path | None
    how: str
    matched: int = 0
    candidates: int = 0


@dataclass
class SourceTree:
    """One or more source roots (module roots, a GOPATH, a monorepo, GOROOT/src).

    Parameters
    ----------
    roots : sequence of str or Path
        Directories (or single ``.go`` files). Every ``go.mod`` below them declares a module.
    """

    roots: Sequence[str | Path]
    modules: list[GoModule] = field(init=False)
    _by_name: dict[str, list[tuple[str, ...]]] | None = field(init=False, default=None, repr=False)
    _resolved: dict[str, Resolution] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        roots = []
        for r in self.roots:
            p = Path(r).expanduser()
            if not p.exists():
                raise SourceError(f"source root {r} does not exist")
            roots.append(p.resolve())
        self.roots = roots
        mods: dict[Path, GoModule] = {}
        for root in roots:
            base = root if root.is_dir() else root.parent
            for gm in _find(base, "go.mod"):
                mod, reps = read_go_mod(gm)
                mods.setdefault(mod.dir, mod)
                for rep in reps:
                    mods.setdefault(rep.dir, rep)
            for up in [base, *base.parents]:  # a root inside a module: that module's go.mod
                if (up / "go.mod").is_file():
                    mod, _ = read_go_mod(up / "go.mod")
                    mods.setdefault(mod.dir, mod)
                    break
        self.modules = sorted(mods.values(), key=lambda m: (-len(m.path), str(m.dir)))

    def module_of(self, path: str | Path) -> GoModule | None:
        """The module whose directory holds ``path`` (the innermost one), or None.

        Parameters
        ----------
        path : str or Path
            A file of the tree.

        Returns
        -------
        GoModule or None
            Its module (``path``, ``dir``, ``go`` version), None outside every module.

        Examples
        --------
        >>> import goforensics
        >>> root = Path(goforensics.__file__).parent.parent / "datasets" / "scenarios" / "checkout"
        >>> m = SourceTree([root]).module_of(root / "quotes.go")
        >>> m.path, m.go
        ('example.com/checkout', '1.27')
        """
        p = Path(path).resolve()
        best = None
        for m in self.modules:
            if p.is_relative_to(m.dir) and (best is None or len(m.dir.parts) > len(best.dir.parts)):
                best = m
        return best

    def resolve(self, file: str) -> Resolution:
        """Map a file path as a dump prints it onto a file of the tree.

        Parameters
        ----------
        file : str
            A file path as the dump prints it (absolute, or a module path).

        Returns
        -------
        Resolution
            ``path`` (None when not found) and ``how`` it was found: ``module``, ``std``,
            ``vendor``, ``gopath``, ``absolute``, ``suffix``, or ``ambiguous`` / ``missing``.

        Examples
        --------
        >>> import goforensics
        >>> root = Path(goforensics.__file__).parent.parent / "datasets" / "scenarios"
        >>> tree = SourceTree([root / "checkout"])
        >>> tree.resolve("/home/ci/work/checkout/quotes.go").how
        'suffix'
        >>> tree.resolve("example.com/scenariokit/groundtruth/groundtruth.go").how  # a replace
        'module'
        >>> tree.resolve("net/http/transport.go").how
        'missing'
        """
        if file not in self._resolved:
            self._resolved[file] = self._resolve(file)
        return self._resolved[file]

    def _resolve(self, file: str) -> Resolution:
        norm = file.replace("\\", "/").strip()
        if not norm.endswith(".go"):
            return Resolution(None, "missing")
        bare = _VERSION.sub("", norm).removeprefix("./")
        p = Path(norm)
        if (norm.startswith("/") or re.match(r"^[A-Za-z]:/", norm)) and p.is_file():
            rp = p.resolve()
            if any(rp.is_relative_to(r) for r in self.roots):
                return Resolution(rp, "absolute")
        for m in self.modules:
            if m.path == "std":  # GOROOT/src: import paths are the directories
                if "." not in bare.split("/", 1)[0] and (m.dir / bare).is_file():
                    return Resolution(m.dir / bare, "std")
            elif bare.startswith(m.path + "/") and (m.dir / bare[len(m.path) + 1 :]).is_file():
                return Resolution(m.dir / bare[len(m.path) + 1 :], "module")
        bases = [m.dir for m in self.modules] + [r for r in self.roots if r.is_dir()]
        for b in bases:
            if (b / "vendor" / bare).is_file():
                return Resolution(b / "vendor" / bare, "vendor")
        for r in self.roots:
            for cand, how in (
                (r / "src" / bare, "gopath"),
                (r / bare, "gopath"),
                (r / "pkg" / "mod" / norm, "gopath"),
            ):
                if not norm.startswith("/") and cand.is_file():
                    return Resolution(cand, how)
        return self._by_suffix(bare)

    def _by_suffix(self, bare: str) -> Resolution:
        parts = tuple(x for x in PurePosixPath(bare).parts if x not in ("/", ""))
        if not parts:
            return Resolution(None, "missing")
        index = self._index()
        best, found = 0, []
        for root, rel in index.get(parts[-1], []):
            k = 0
            while k < min(len(rel), len(parts)) and rel[-1 - k] == parts[-1 - k]:
                k += 1
            if k > best:
                best, found = k, [(root, rel)]
            elif k == best:
                found.append((root, rel))
        if not found:
            return Resolution(None, "missing")
        if len(found) > 1:
            return Resolution(None, "ambiguous", best, len(found))
        root, rel = found[0]
        return Resolution(Path(root, *rel), "suffix", best, 1)

    def _index(self) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
        if self._by_name is None:
            self._by_name = {}
            for r in self.roots:
                base = r if r.is_dir() else r.parent
                for f in go_files(r, tests=True, skip=()):
                    rel = f.relative_to(base).parts
                    self._by_name.setdefault(f.name, []).append((str(base), rel))
        return self._by_name

    def files(self, *, tests: bool = False) -> list[Path]:
        """Every ``.go`` file of the roots that a scan reads (no testdata/, vendor/, tests).

        Parameters
        ----------
        tests : bool, default False
            Include ``_test.go`` files.

        Returns
        -------
        list of Path
            The files, sorted per root.

        Examples
        --------
        >>> import goforensics
        >>> root = Path(goforensics.__file__).parent.parent / "datasets" / "scenarios" / "checkout"
        >>> len(SourceTree([root]).files())
        5
        """
        out: list[Path] = []
        for r in self.roots:
            out += go_files(r, tests=tests)
        return sorted(set(out))


def _find(base: Path, name: str) -> Iterator[Path]:
    for d, dirs, files in os.walk(base):
        dirs[:] = [
            x
            for x in dirs
            if x not in _SKIP_DIRS and x not in ("vendor", "testdata") and not x.startswith(".")
        ]
        if name in files:
            yield Path(d) / name


# --- parsing ----------------------------------------------------------------------------------------


def _parser():
    global _PARSER
    if _PARSER is None:
        try:
            import tree_sitter
            import tree_sitter_go
        except ImportError as e:  # pragma: no cover - depends on the installation
            raise SourceError(
                "reading Go source needs tree-sitter and tree-sitter-go: "
                "pip install 'goforensics[source]'"
            ) from e
        _PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_go.language()))
    return _PARSER


_QUERIES: dict[frozenset, object] = {}


def nodes_by_type(f: GoFile, types: Iterable[str]) -> dict[str, list]:
    """The nodes of ``f`` of each of ``types``, in source order (found by a tree-sitter query,
    which is much quicker than walking the tree in Python).

    Parameters
    ----------
    f : GoFile
        A parsed file.
    types : iterable of str
        tree-sitter node types (``go_statement``, ``send_statement`` ...).

    Returns
    -------
    dict
        Node type -> its nodes, in source order.

    Examples
    --------
    >>> import goforensics
    >>> f = parse_go(Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/recommend.go")
    >>> [n.start_point[0] + 1 for n in nodes_by_type(f, ["go_statement"])["go_statement"]]
    [21]
    """
    import tree_sitter

    key = frozenset(types)
    if key not in _QUERIES:
        lang = _parser().language
        _QUERIES[key] = tree_sitter.Query(lang, "\n".join(f"({t}) @{t}" for t in sorted(key)))
    found = tree_sitter.QueryCursor(_QUERIES[key]).captures(f.root)
    return {t: sorted(found.get(t, []), key=lambda n: n.start_byte) for t in key}


_PARSER = None
_CACHE: OrderedDict[tuple[str, int, int], GoFile] = OrderedDict()
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class FuncSpan:
    """A function of a file: ``name`` ('' for a literal), ``receiver`` (its base type name,
    '' for a plain function), 1-based ``start``/``end`` lines, and its syntax ``node``."""

    name: str
    receiver: str
    start: int
    end: int
    node: object = field(repr=False, compare=False)


@dataclass
class GoFile:
    """A parsed Go file: its ``path``, ``source`` bytes, ``lines``, tree-sitter ``tree``,
    ``package`` name and declared functions (``functions``, in source order)."""

    path: Path
    source: bytes
    lines: list[str]
    tree: object
    package: str
    functions: list[FuncSpan]

    @property
    def root(self):
        """The tree-sitter root node."""
        return self.tree.root_node

    def snippet(self, line: int, before: int = 3, after: int = 3) -> list[tuple[int, str]]:
        """``(line number, text)`` of the lines around ``line`` (clipped to the file).

        Parameters
        ----------
        line : int
            The 1-based line.
        before, after : int, default 3
            Lines shown before and after it.

        Returns
        -------
        list of tuple of (int, str)
            ``(line number, text)`` per line.

        Examples
        --------
        >>> import goforensics
        >>> f = parse_go(Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/recommend.go")
        >>> [(n, text.strip()) for n, text in f.snippet(23, 1, 1)]
        [(22, 'defer groundtruth.Track("recommend-orphan-sender", "sender")()'), (23, 'ch <- f()'), (24, '}()')]
        """
        lo, hi = max(1, line - before), min(len(self.lines), line + after)
        return [(n, self.lines[n - 1]) for n in range(lo, hi + 1)]

    def declaration_at(self, line: int) -> FuncSpan | None:
        """The function or method declaration whose span holds ``line`` (None outside any).

        Parameters
        ----------
        line : int
            A 1-based line of the file.

        Returns
        -------
        FuncSpan or None
            The declaration (``name``, ``receiver``, ``start``, ``end``, ``node``), or None.

        Examples
        --------
        >>> import goforensics
        >>> f = parse_go(Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/quotes.go")
        >>> d = f.declaration_at(42)
        >>> d.receiver, d.name, f.declaration_at(1)
        ('server', 'watchPrice', None)
        """
        for f in self.functions:
            if f.start <= line <= f.end:
                return f
        return None

    def frame_mismatch(self, line: int, function: str) -> str:
        """Why ``function`` at ``line`` cannot come from this file ('' when it can).

        A line past the end, or a line inside a declaration other than the frame's
        (closures ``.funcN``, ``.gowrapN`` belong to the function that declares them;
        ``glob..funcN`` to package-level variables) means the tree is not the build the
        dump came from.

        Parameters
        ----------
        line : int
            The frame's line.
        function : str
            The frame's function, as the dump prints it.

        Returns
        -------
        str
            The reason, '' when the frame fits the file.

        Examples
        --------
        >>> import goforensics
        >>> p = Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/recommend.go"
        >>> f = parse_go(p)
        >>> f.frame_mismatch(23, "main.firstOr[...].func1")
        ''
        >>> f.frame_mismatch(23, "main.scoreProducts")
        'line 23 of recommend.go is in firstOr, not in main.scoreProducts'
        >>> f.frame_mismatch(400, "main.scoreProducts")
        'recommend.go has 49 lines: line 400 is past its end'
        """
        if line < 1 or line > len(self.lines):
            return f"{self.path.name} has {len(self.lines)} lines: line {line} is past its end"
        if not function:
            return ""
        decl = self.declaration_at(line)
        names = frame_names(function)
        if decl is None:
            if not names or any(n[1] in ("glob", "init") for n in names):
                return ""
            return f"line {line} of {self.path.name} is outside any function, not in {function}"
        if any(decl.name == n and decl.receiver == r for r, n in names):
            return ""
        if decl.name == "init" and any(n == "init" for _, n in names):
            return ""
        shown = f"({decl.receiver}).{decl.name}" if decl.receiver else decl.name
        return f"line {line} of {self.path.name} is in {shown}, not in {function}"


_CLOSURE = re.compile(r"^(?:func\d+|gowrap\d+|deferwrap\d+|\d+|func·\d+)$")


def frame_names(function: str) -> list[tuple[str, str]]:
    """The (receiver base type, declared name) pairs a runtime function name can stand for.

    Parameters
    ----------
    function : str
        A function name as a stack prints it.

    Returns
    -------
    list of tuple of (str, str)
        ``(receiver base type, declared name)`` candidates; the receiver is '' for functions.

    Examples
    --------
    >>> frame_names("main.(*paymentClient).callWithRetry")
    [('paymentClient', 'callWithRetry')]
    >>> frame_names("main.firstOr[...].func1")
    [('', 'firstOr')]
    >>> frame_names("main.discard.Write")   # a lower-case type's method, or a closure-free name
    [('', 'discard'), ('discard', 'Write')]
    """
    _, recv, method = split_function(function)
    recv = re.sub(r"\[.*\]", "", recv).lstrip("*")
    method = re.sub(r"\[[^\]]*\]", "", method)
    parts = [p for p in method.split(".")]
    if not parts or not parts[0]:
        return [("", p) for p in parts[1:2] if p] or []
    out = [(recv, parts[0])]
    if not recv and len(parts) >= 2 and parts[1] and not _CLOSURE.match(parts[1]):
        out.append((parts[0], parts[1]))
    return out


def parse_go(path: str | Path) -> GoFile:
    """Parse a Go file (cached by path, modification time and size).

    Parameters
    ----------
    path : str or Path
        A ``.go`` file.

    Returns
    -------
    GoFile
        Its syntax tree, functions and package name.

    Raises
    ------
    SourceError
        When the file cannot be read.

    Examples
    --------
    >>> import goforensics
    >>> p = Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/payments.go"
    >>> f = parse_go(p)
    >>> f.package, [fn.name for fn in f.functions][:2], parse_go(p) is f
    ('main', ['newPaymentClient', 'Charge'], True)
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise SourceError(f"cannot read {p}: {e.strerror}") from e
    key = (str(p), st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    source = p.read_bytes()
    tree = _parser().parse(source)
    root = tree.root_node
    pkg = ""
    for c in root.children:
        if c.type == "package_clause":
            pkg = node_text(c.children[-1]) if c.children else ""
            break
    funcs = []
    for c in root.children:
        if c.type in ("function_declaration", "method_declaration"):
            name = c.child_by_field_name("name")
            recv = c.child_by_field_name("receiver")
            rm = (
                re.search(r"\(\s*(?:\w+\s+)?\*?\s*(\w+)", node_text(recv))
                if recv is not None
                else None
            )
            funcs.append(
                FuncSpan(
                    node_text(name),
                    rm.group(1) if rm else "",
                    c.start_point[0] + 1,
                    c.end_point[0] + 1,
                    c,
                )
            )
    gf = GoFile(p, source, source.decode("utf-8", "replace").splitlines(), tree, pkg, funcs)
    _CACHE[key] = gf
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return gf


def node_text(node) -> str:
    """The source text of a tree-sitter node ('' for None).

    Parameters
    ----------
    node : tree_sitter.Node or None
        A node of a parsed Go file.

    Returns
    -------
    str
        Its source text.

    Examples
    --------
    >>> import goforensics
    >>> f = parse_go(Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/recommend.go")
    >>> node_text(f.functions[0].node.child_by_field_name("name")), node_text(None)
    ('firstOr', '')
    """
    return "" if node is None else node.text.decode("utf-8", "replace")


def walk(node, *, into_functions: bool = True) -> Iterator:
    """Every node under ``node`` (itself included), depth first in source order; with
    ``into_functions=False`` the bodies of nested function literals are not entered.

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.
    into_functions : bool, default True
        Also enter the bodies of nested function literals.

    Yields
    ------
    tree_sitter.Node
        Each node, depth first.

    Examples
    --------
    >>> import goforensics
    >>> f = parse_go(Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/recommend.go")
    >>> top = f.functions[0].node
    >>> sum(n.type == "send_statement" for n in walk(top)), sum(
    ...     n.type == "send_statement" for n in walk(top, into_functions=False))
    (1, 0)
    """
    stack = [(node, True)]
    while stack:
        n, top = stack.pop()
        yield n
        if not into_functions and not top and n.type == "func_literal":
            continue
        stack.extend((c, False) for c in reversed(n.children))
