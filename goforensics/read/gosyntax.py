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

from .gosource import GoFile, node_text, walk

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


FUNCS = frozenset({"function_declaration", "method_declaration", "func_literal"})

CANCEL = re.compile(
    r"(?i)(?:^|\.)(?:done|quit|stop\w*|clos\w*|shutdown|exit|cancel\w*|dying|die|term\w*|kill)$"
)

TIMER = re.compile(r"^time\.(?:After|Tick)\(|\.C$|(?i:timer|ticker|timeout|deadline)\w*$")


def fn_of(node):
    n = node.parent
    while n is not None and n.type not in FUNCS:
        n = n.parent
    return n


def outer_fn(node):
    fn, n = None, node
    while n is not None:
        if n.type in FUNCS:
            fn = n
        n = n.parent
    return fn


def line_of(node) -> int:
    return node.start_point[0] + 1


def last_name(expr: str) -> str:
    names = re.findall(r"\w+", expr)
    return names[-1] if names else ""


def callee(call) -> str:
    return node_text(call.child_by_field_name("function"))


def own_nodes(node, types: Iterable[str]) -> list:
    """Nodes of ``types`` under ``node`` that belong to the same function (no nested literal)."""
    types = frozenset(types)
    return [n for n in walk(node, into_functions=False) if n.type in types]


def receive_operand(case) -> str:
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
    """Cases of a select: ``default`` (bool), ``cancel`` and ``timer`` (operand texts), ``cases``."""
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
    n = node.parent
    while n is not None and n != fn:
        if n.type == "for_statement":
            return True
        n = n.parent
    return False


def nonblocking(node) -> bool:
    """Is ``node`` a case of a select with a default (it cannot block)?"""
    n = node.parent
    while n is not None and n.type not in FUNCS:
        if n.type == "select_statement":
            return select_facts(n)["default"]
        n = n.parent
    return False


def select_of(node):
    n = node.parent
    for _ in range(4):
        if n is None:
            return None
        if n.type == "select_statement":
            return n
        n = n.parent
    return None


def exits(decl, scope_end_ok: bool = True) -> list:
    """Where control leaves the region a declaration starts: returns, loop exits, the block's end."""
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
    """Is there, on the way from ``decl`` to ``exit_node``, a statement for which ``ok`` holds?"""
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
    return (
        outer is not None
        and outer.start_byte <= node.start_byte
        and node.end_byte <= outer.end_byte
    )


def passes(node, name: str) -> bool:
    """Is ``name`` handed over under ``node``: a call argument, returned, stored, or captured?"""
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

    >>> from pathlib import Path
    >>> import goforensics
    >>> from goforensics.read.gosource import parse_go
    >>> f = parse_go(Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/quotes.go")
    >>> decl_name(f, next(n for n in walk(f.root) if n.type == "select_statement"))
    '(server).watchPrice'
    """
    d = f.declaration_at(line_of(node))
    return "" if d is None else (f"({d.receiver}).{d.name}" if d.receiver else d.name)
