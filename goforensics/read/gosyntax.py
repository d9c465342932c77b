"""Syntax facts over tree-sitter Go trees: enclosing functions, select cases, exits of a block.

What a node is and where control goes, with no judgement about it (the rules built on these
facts are in :mod:`goforensics.analyze.gochecks`).

>>> from goforensics.read.gosource import parse_go
>>> import goforensics
>>> from pathlib import Path
>>> f = parse_go(Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/quotes.go")
>>> sel = next(n for n in walk(f.root) if n.type == "select_statement")
>>> select_facts(sel)["timer"], select_facts(sel)["cancel"]
(['time.After(staleAfter)'], [])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from .gosource import GoFile, node_text, parse_go, walk

__all__ = [
    "CANCEL",
    "FUNCS",
    "TIMER",
    "callee",
    "covered",
    "decl_name",
    "exits",
    "fn_of",
    "in_loop",
    "inside",
    "last_name",
    "line_of",
    "nonblocking",
    "outer_fn",
    "own_nodes",
    "passes",
    "receive_operand",
    "select_facts",
    "select_of",
]


def _example():
    """recommend.go of the checkout scenario, for the examples (None outside a clone)."""
    p = Path(__file__).resolve().parents[2] / "datasets" / "scenarios" / "checkout" / "recommend.go"
    return parse_go(p) if p.is_file() else None


FUNCS = frozenset({"function_declaration", "method_declaration", "func_literal"})

CANCEL = re.compile(
    r"(?i)(?:^|\.)(?:done|quit|stop\w*|clos\w*|shutdown|exit|cancel\w*|dying|die|term\w*|kill)$"
)

TIMER = re.compile(r"^time\.(?:After|Tick)\(|\.C$|(?i:timer|ticker|timeout|deadline)\w*$")


def fn_of(node):
    """The function (declaration or literal) enclosing ``node``, or None at package level.

    Parameters
    ----------
    node : tree_sitter.Node

    Returns
    -------
    tree_sitter.Node or None

    Examples
    --------
    >>> send = next(n for n in walk(_EXAMPLE.root) if n.type == "send_statement")
    >>> fn_of(send).type, fn_of(fn_of(send)).type
    ('func_literal', 'function_declaration')
    """
    n = node.parent
    while n is not None and n.type not in FUNCS:
        n = n.parent
    return n


def outer_fn(node):
    """The outermost function declaration (or literal) enclosing ``node``, or None.

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.

    Returns
    -------
    tree_sitter.Node or None
        The outermost enclosing function.

    Examples
    --------
    >>> send = next(n for n in walk(_EXAMPLE.root) if n.type == "send_statement")
    >>> node_text(outer_fn(send).child_by_field_name("name"))
    'firstOr'
    """
    fn, n = None, node
    while n is not None:
        if n.type in FUNCS:
            fn = n
        n = n.parent
    return fn


def line_of(node) -> int:
    """The 1-based line ``node`` starts on.

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.

    Returns
    -------
    int
        Its first line, 1-based.

    Examples
    --------
    >>> line_of(next(n for n in walk(_EXAMPLE.root) if n.type == "send_statement"))
    23
    """
    return node.start_point[0] + 1


def last_name(expr: str) -> str:
    """The last identifier of an expression's text ('' when none).

    Parameters
    ----------
    expr : str
        An expression's text.

    Returns
    -------
    str
        Its last identifier.

    Examples
    --------
    >>> last_name("s.mu.Lock"), last_name("<-ctx.Done()"), last_name("")
    ('Lock', 'Done', '')
    """
    names = re.findall(r"\w+", expr)
    return names[-1] if names else ""


def callee(call) -> str:
    """The text of a call's function: ``time.After``, ``s.mu.Lock``, ``close``.

    Parameters
    ----------
    call : tree_sitter.Node
        A ``call_expression``.

    Returns
    -------
    str
        The called function's text.

    Examples
    --------
    >>> sorted({callee(n) for n in walk(_EXAMPLE.root) if n.type == "call_expression"})[:2]
    ['append', 'f']
    """
    return node_text(call.child_by_field_name("function"))


def own_nodes(node, types: Iterable[str]) -> list:
    """Nodes of ``types`` under ``node`` that belong to the same function (no nested literal).

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.
    types : iterable of str
        tree-sitter node types.

    Returns
    -------
    list of tree_sitter.Node
        Those nodes, in source order.

    Examples
    --------
    >>> top = _EXAMPLE.functions[0].node  # firstOr: its goroutine's send is in a literal
    >>> [n.type for n in own_nodes(top, ["send_statement", "go_statement"])]
    ['go_statement']
    """
    types = frozenset(types)
    return [n for n in walk(node, into_functions=False) if n.type in types]


def receive_operand(case) -> str:
    """What a select case receives from ('' for a send or a default case).

    Parameters
    ----------
    case : tree_sitter.Node
        A case of a select statement.

    Returns
    -------
    str
        The receive's operand, '' for a send or a default case.

    Examples
    --------
    >>> sel = next(n for n in walk(_EXAMPLE.root) if n.type == "select_statement")
    >>> [receive_operand(c) for c in sel.named_children]
    ['ch', 'time.After(wait)']
    """
    comm = case.child_by_field_name("communication")
    if comm is None:
        return ""
    if comm.type == "receive_statement":
        right = comm.child_by_field_name("right")
        op = right.child_by_field_name("operand") if right is not None else None
        return node_text(op)
    if comm.type == "unary_expression":
        return node_text(comm.child_by_field_name("operand"))
    return ""


def select_facts(sel) -> dict:
    """Cases of a select: ``default`` (bool), ``cancel`` and ``timer`` (the operands of its
    cancellation and timer cases), ``cases`` (how many communication cases).

    Parameters
    ----------
    sel : tree_sitter.Node
        A ``select_statement``.

    Returns
    -------
    dict
        ``default``, ``cancel``, ``timer`` and ``cases``, as above.

    Examples
    --------
    >>> select_facts(next(n for n in walk(_EXAMPLE.root) if n.type == "select_statement"))
    {'default': False, 'cancel': [], 'timer': ['time.After(wait)'], 'cases': 2}
    """
    out = {"default": False, "cancel": [], "timer": [], "cases": 0}
    for c in sel.named_children:
        if c.type == "default_case":
            out["default"] = True
        elif c.type == "communication_case":
            out["cases"] += 1
            op = receive_operand(c)
            if op and (op.endswith(".Done()") or CANCEL.search(op)):
                out["cancel"].append(op)
            elif op and (TIMER.search(op) or TIMER.search(last_name(op))):
                out["timer"].append(op)
    return out


def in_loop(node, fn) -> bool:
    """Is ``node`` inside a ``for`` statement of the function ``fn`` (not of an outer one)?

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.
    fn : tree_sitter.Node
        The function (declaration or literal) that holds it.

    Returns
    -------
    bool
        True inside one of ``fn``'s own ``for`` statements.

    Examples
    --------
    >>> sel = next(n for n in walk(_EXAMPLE.root) if n.type == "select_statement")
    >>> in_loop(sel, fn_of(sel))
    False
    """
    n = node.parent
    while n is not None and n != fn:
        if n.type == "for_statement":
            return True
        n = n.parent
    return False


def nonblocking(node) -> bool:
    """Is ``node`` a case of a select with a default (it cannot block)?

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.

    Returns
    -------
    bool
        True for a case of a select that has a ``default``.

    Examples
    --------
    >>> recv = next(n for n in walk(_EXAMPLE.root) if n.type == "receive_statement")
    >>> nonblocking(recv)
    False
    """
    n = node.parent
    while n is not None and n.type not in FUNCS:
        if n.type == "select_statement":
            return select_facts(n)["default"]
        n = n.parent
    return False


def select_of(node):
    """The select statement whose case ``node`` is (the case's send or receive), or None.

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.

    Returns
    -------
    tree_sitter.Node or None
        The ``select_statement``.

    Examples
    --------
    >>> recv = next(n for n in walk(_EXAMPLE.root) if n.type == "receive_statement")
    >>> select_of(recv).type
    'select_statement'
    """
    n = node.parent
    for _ in range(4):
        if n is None:
            return None
        if n.type == "select_statement":
            return n
        n = n.parent
    return None


def exits(decl, scope_end_ok: bool = True) -> list:
    """Where control leaves the region a declaration starts: its returns, ``continue`` and
    ``break`` statements, and (``None``) the end of its block.

    Parameters
    ----------
    decl : tree_sitter.Node
        A ``short_var_declaration`` (in a block, or an ``if`` statement's initializer).
    scope_end_ok : bool
        Count the end of the block as an exit.

    Returns
    -------
    list
        Exit nodes in source order, then ``None`` for the block's end.

    Examples
    --------
    >>> decl = next(n for n in walk(_EXAMPLE.root) if n.type == "short_var_declaration")
    >>> [None if e is None else line_of(e) for e in exits(decl)]
    [27, 29, None]
    """
    scope = decl.parent
    if scope is not None and scope.type == "if_statement":
        scope = scope.child_by_field_name("consequence")
    if scope is None:
        return []
    out = [
        n
        for n in walk(scope, into_functions=False)
        if n.start_byte > decl.end_byte
        and n.type in ("return_statement", "continue_statement", "break_statement")
    ]
    if scope_end_ok:
        out.append(None)  # falling off the end of the block
    return out


def covered(decl, exit_node, ok: Callable[[object], bool], err: str) -> bool:
    """Is there, on the way from ``decl`` to ``exit_node``, a statement for which ``ok`` holds?

    The way is the statements before the exit in each enclosing block up to the declaration's;
    an ``if err == nil`` branch covers when ``ok`` holds in it, and an exit under
    ``if err != nil`` needs nothing (``err`` names the declaration's error, '' for none).

    Parameters
    ----------
    decl, exit_node : tree_sitter.Node
        The declaration and one of its :func:`exits` (None: the end of its block).
    ok : callable
        Node -> bool: does this statement close, call or hand over what ``decl`` made?
    err : str

    Returns
    -------
    bool

    Examples
    --------
    >>> decl = next(n for n in walk(_EXAMPLE.root) if n.type == "short_var_declaration")
    >>> uses_ch = lambda n: "ch" in node_text(n)
    >>> [covered(decl, e, uses_ch, "") for e in exits(decl)]
    [True, True, True]
    """
    scope = decl.parent
    if scope.type == "if_statement":
        if exit_node is not None and inside(exit_node, scope.child_by_field_name("consequence")):
            cond = node_text(scope.child_by_field_name("condition"))
            if err and re.search(rf"\b{err}\s*!=\s*nil", cond):
                return True
        scope = scope.child_by_field_name("consequence")
    if exit_node is not None and ok(exit_node):
        return True
    n = exit_node
    while True:
        parent = scope if n is None else n.parent
        if parent is None:
            return False
        if (
            parent.type == "if_statement"
            and err
            and n == parent.child_by_field_name("consequence")
            and re.search(
                rf"\b{err}\s*!=\s*nil", node_text(parent.child_by_field_name("condition"))
            )
        ):
            return True
        for sib in parent.named_children:
            if n is not None and sib.start_byte >= n.start_byte:
                break
            if sib.start_byte <= decl.start_byte:
                continue
            if sib.type in ("if_statement",):
                cond = node_text(sib.child_by_field_name("condition"))
                if (
                    err
                    and re.search(rf"\b{err}\s*==\s*nil", cond)
                    and ok(sib.child_by_field_name("consequence"))
                ):
                    return True
            elif sib.type not in (
                "for_statement",
                "select_statement",
                "expression_switch_statement",
            ) and ok(sib):
                return True
        if parent == scope or parent.type in FUNCS:
            return False
        n = parent


def inside(node, outer) -> bool:
    """Does ``node`` lie within ``outer`` (by bytes)?

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.
    outer : tree_sitter.Node
        Another node.

    Returns
    -------
    bool
        True where ``node``'s bytes lie within ``outer``'s.

    Examples
    --------
    >>> send = next(n for n in walk(_EXAMPLE.root) if n.type == "send_statement")
    >>> inside(send, fn_of(send)), inside(fn_of(send), send)
    (True, False)
    """
    return (
        outer is not None
        and outer.start_byte <= node.start_byte
        and node.end_byte <= outer.end_byte
    )


def passes(node, name: str) -> bool:
    """Is ``name`` handed over under ``node``: a call argument, returned, or stored?

    Parameters
    ----------
    node : tree_sitter.Node
        A node of a parsed Go file.
    name : str
        An identifier.

    Returns
    -------
    bool
        True where ``name`` is passed to a call, returned or assigned under ``node``.

    Examples
    --------
    >>> passes(_EXAMPLE.functions[0].node, "fallback"), passes(_EXAMPLE.functions[0].node, "wait")
    (True, True)
    """
    for n in walk(node):
        if n.type == "identifier" and node_text(n) == name:
            p = n.parent
            if p is not None and (
                p.type in ("argument_list", "keyed_element", "literal_element")
                or (
                    p.type == "expression_list"
                    and p.parent is not None
                    and p.parent.type in ("return_statement", "assignment_statement")
                    and p != p.parent.child_by_field_name("left")
                )
            ):
                return True
    return False


def decl_name(f: GoFile, node) -> str:
    """The declaration around ``node`` as ``name`` or ``(Receiver).name`` ('' at package level).

    Parameters
    ----------
    f : GoFile
        The parsed file.
    node : tree_sitter.Node
        A node of a parsed Go file.

    Returns
    -------
    str
        ``name`` or ``(Receiver).name``, '' at package level.

    Examples
    --------
    >>> from pathlib import Path
    >>> import goforensics
    >>> from goforensics.read.gosource import parse_go
    >>> f = parse_go(Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/quotes.go")
    >>> decl_name(f, next(n for n in walk(f.root) if n.type == "select_statement"))
    '(server).watchPrice'
    """
    d = f.declaration_at(line_of(node))
    return "" if d is None else (f"({d.receiver}).{d.name}" if d.receiver else d.name)


_EXAMPLE = _example()
