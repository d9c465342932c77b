"""The static rules' checks over tree-sitter syntax trees of one Go package.

:func:`check_package` runs every rule of :mod:`goforensics.analyze.rules` over the parsed files
of one package and returns one finding per construct, with the lines where goroutines block
because of it (``related``): a dump's blocking line can then be tied to the construct that
explains it.

The checks are syntactic (no type checker): a name is a channel when the package declares it
with a channel type or makes it with ``make(chan ...)``; "on every path" follows the statements
before each ``return``/``continue``/``break`` and the end of the enclosing block, counting an
``if err == nil { ... }`` branch as covering (where the call failed there is nothing to close).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..read.gosource import GoFile, node_text, nodes_by_type, version_tuple
from ..read.gosyntax import (
    FUNCS,
    callee,
    decl_name,
    fn_of,
    in_loop,
    last_name,
    line_of,
    nonblocking,
    outer_fn,
    own_nodes,
    passes,
    select_facts,
    select_of,
)
from .gohttp import HTTP_CHECKS
from .rules import RULES

__all__ = ["check_package"]


# --- syntax helpers -----------------------------------------------------------------------------------

_CTX = re.compile(r"context\.Context|\*http\.Request|\bctx\b")
_WG_DECL = re.compile(r"(\w+)\s+\*?sync\.WaitGroup\b")


def _ctx_in_scope(f: GoFile, node) -> bool:
    outer = outer_fn(node)
    if outer is None:
        return False
    return bool(
        _CTX.search(f.source[outer.start_byte : node.start_byte].decode("utf-8", "replace"))
    )


# --- the package --------------------------------------------------------------------------------------


@dataclass
class _Pkg:
    files: list[GoFile]
    go: tuple[int, ...]
    text: str
    chans: set[str]
    buffered: set[str]  # channels made with a capacity
    closed: set[str]  # names passed to close()
    closed_fields: set[str]  # names whose .Close() is called
    waitgroups: set[str]
    locks: dict[str, list[tuple[GoFile, int]]]  # mutex name -> Lock() call sites


def _package(files: list[GoFile], go_version: str, nodes: list[dict]) -> _Pkg:
    text = "\n".join(
        _code(f, by_type.get("comment", [])) for f, by_type in zip(files, nodes, strict=True)
    )
    buffered: set[str] = set()
    chans = set().union(*(_chan_names(n, buffered) for n in nodes))
    lines = [x for x in text.splitlines() if "lose" in x or "WaitGroup" in x]
    # only lines with the literal: a leading (\w+) tried at every offset of a big package is slow
    closed = {last_name(x) for x in _grep(r"\bclose\(\s*([^()]+?)\s*\)", "close(", lines)}
    closed_fields = set(_grep(r"(\w+)\.Close\(\)", ".Close()", lines))
    locks: dict[str, list] = {}
    for f, by_type in zip(files, nodes, strict=True):
        for n, fn in by_type["calls"]:
            if fn.endswith((".Lock", ".RLock")):
                locks.setdefault(last_name(fn.rsplit(".", 1)[0]), []).append((f, line_of(n)))
    return _Pkg(
        files,
        version_tuple(go_version),
        text,
        chans,
        buffered,
        closed,
        closed_fields,
        set(_grep(_WG_DECL, "WaitGroup", lines)) | {"wg"},
        locks,
    )


def _grep(pattern, literal: str, lines: list[str]) -> list[str]:
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    return [m for line in lines if literal in line for m in rx.findall(line)]


def check_package(files: list[GoFile], go_version: str = "") -> list[dict]:
    """Run every rule over the files of one package.

    Parameters
    ----------
    files : list of GoFile
        The parsed files of one Go package (one directory).
    go_version : str
        The ``go`` directive of the module's go.mod ('' when unknown: taken as current Go).

    Returns
    -------
    list of dict
        One per finding, with the keys of :data:`FINDING_COLUMNS` (``related``: lines of the
        same file where goroutines block because of the construct; ``file``: the path).

    Examples
    --------
    >>> import goforensics
    >>> from pathlib import Path
    >>> from goforensics.read.gosource import parse_go
    >>> p = Path(goforensics.__file__).parent.parent / "datasets/scenarios/checkout/recommend.go"
    >>> [(x["rule_id"], x["line"]) for x in check_package([parse_go(p)], "1.27")]
    [('GF102', 23)]
    """
    per_file = [_nodes(f) for f in files]
    pkg = _package(files, go_version, per_file)
    out: list[dict] = []
    for f, nodes in zip(files, per_file, strict=True):
        for check in _CHECKS:
            for node, rule, message, related in check(pkg, f, nodes):
                out.append(_finding(f, node, rule, message, related))
    return out


_WANTED = frozenset(
    {
        "select_statement",
        "call_expression",
        "go_statement",
        "for_statement",
        "composite_literal",
        "short_var_declaration",
        "comment",
        "channel_type",
    }
)


def _code(f: GoFile, comments: list) -> str:
    """The file's text with its comments blanked (a comment mentioning ``x.Close()`` closes nothing)."""
    b = bytearray(f.source)
    for c in comments:
        b[c.start_byte : c.end_byte] = b" " * (c.end_byte - c.start_byte)
    return b.decode("utf-8", "replace")


def _nodes(f: GoFile) -> dict[str, list]:
    out = nodes_by_type(f, _WANTED)
    # each call's function text, once: every check looks at them
    out["calls"] = [(c, callee(c)) for c in out.get("call_expression", [])]
    return out


def _chan_names(nodes: dict, buffered: set[str] | None = None) -> set[str]:
    """Names declared with a channel type, or given a ``make(chan ...)`` (added to ``buffered``
    too when the make has a capacity)."""
    out = set()
    for c in nodes.get("channel_type", []):
        p = c.parent
        if p is not None and p.type in ("field_declaration", "parameter_declaration", "var_spec"):
            out |= {
                node_text(x)
                for x in p.named_children
                if x.type in ("identifier", "field_identifier")
            }
            continue
        sized = p is not None and p.type == "argument_list" and len(p.named_children) > 1
        while p is not None and p.type in (
            "argument_list",
            "call_expression",
            "expression_list",
            "literal_element",
        ):
            p = p.parent
        names = set()
        if p is not None and p.type in ("short_var_declaration", "assignment_statement"):
            names = {last_name(node_text(x)) for x in p.child_by_field_name("left").named_children}
        elif p is not None and p.type == "keyed_element":
            names = {last_name(node_text(p.child_by_field_name("key")))}
        out |= names
        if sized and buffered is not None:
            buffered |= names
    return out


def _finding(f: GoFile, node, rule: str, message: str, related: Iterable[int]) -> dict:
    r = next(x for x in RULES if x.id == rule)
    line = line_of(node)
    return {
        "rule_id": rule,
        "level": r.level,
        "file": str(f.path),
        "line": line,
        "end_line": node.end_point[0] + 1,
        "column": node.start_point[1] + 1,
        "function": decl_name(f, node),
        "message": message,
        "related": sorted(set(related)),
        "snippet": f.lines[line - 1].strip() if line <= len(f.lines) else "",
    }


# --- the checks: each yields (node, rule id, message, related lines) ------------------------------------


def _selects(pkg: _Pkg, f: GoFile, nodes: dict):
    for sel in nodes.get("select_statement", []):
        s = select_facts(sel)
        if s["default"] or s["cancel"] or not s["cases"] or not _ctx_in_scope(f, sel):
            continue
        way = (
            f"its only way out is a timer ({s['timer'][0]})"
            if s["timer"]
            else "no timer case either: only its channels can wake it"
        )
        yield (
            sel,
            "GF101",
            f"select with no ctx.Done() case although a context is in scope; {way}",
            [line_of(sel)],
        )
    for call, fn in nodes["calls"]:
        if fn != "time.After":
            continue
        fn = fn_of(call)
        if fn is None or not in_loop(call, fn):
            continue
        sel = call.parent
        while sel is not None and sel.type not in ("select_statement", *FUNCS):
            sel = sel.parent
        if pkg.go and pkg.go < (1, 23):
            yield (
                call,
                "GF104",
                (
                    "time.After in a loop with go " + ".".join(map(str, pkg.go)) + " in go.mod: "
                    "every iteration keeps a timer alive until it fires"
                ),
                [],
            )
        elif sel is not None and sel.type == "select_statement" and not select_facts(sel)["cancel"]:
            yield (
                call,
                "GF104",
                (
                    "time.After in a loop, in a select with no cancellation case: the "
                    "goroutine waits for the timer whatever its caller does"
                ),
                [line_of(sel)],
            )


def _orphan_sends(pkg: _Pkg, f: GoFile, nodes: dict):
    for go in nodes.get("go_statement", []):
        call = go.named_children[0] if go.named_children else None
        lit = call.child_by_field_name("function") if call is not None else None
        parent = fn_of(go)
        if lit is None or lit.type != "func_literal" or parent is None:
            continue
        for send in own_nodes(lit.child_by_field_name("body"), ["send_statement"]):
            ch = node_text(send.child_by_field_name("channel"))
            made = re.search(
                rf"\b{re.escape(ch)}\s*:=\s*make\(\s*chan\b[^,()]*(?:\([^)]*\))?[^,()]*\)",
                node_text(parent),
            )
            if not re.fullmatch(r"\w+", ch) or not made:
                continue
            body = parent.child_by_field_name("body")
            early = [r for r in own_nodes(body, ["return_statement"]) if r.start_byte > go.end_byte]
            recvs = [
                u
                for u in own_nodes(body, ["unary_expression"])
                if node_text(u).replace(" ", "") == f"<-{ch}" and u.start_byte > go.end_byte
            ]
            first = min((u.start_byte for u in recvs), default=None)
            rival = [
                u
                for u in recvs
                if select_of(u) is not None and select_facts(select_of(u))["cases"] > 1
            ]
            if rival:
                why = f"its receiver's select (line {line_of(select_of(rival[0]))}) can take another case and return"
            elif first is not None and any(r.start_byte < first for r in early):
                why = f"the function can return (line {line_of(early[0])}) before receiving"
            else:
                continue
            yield (
                send,
                "GF102",
                (
                    f"send on {ch}, an unbuffered channel (line {line_of(go)} starts the sender): "
                    f"{why}, and the send then blocks for ever"
                ),
                [line_of(send)],
            )


def _ranges(pkg: _Pkg, f: GoFile, nodes: dict):
    for loop in nodes.get("for_statement", []):
        rc = next((c for c in loop.named_children if c.type == "range_clause"), None)
        if rc is None:
            continue
        right = rc.child_by_field_name("right")
        expr = node_text(right)
        name = last_name(expr)
        if right is None or right.type == "call_expression" or name == "C" or name not in pkg.chans:
            continue
        if name in pkg.closed:
            continue
        yield (
            loop,
            "GF103",
            f"ranges over {expr}, which nothing in package {f.package} closes",
            [line_of(loop)],
        )


def _waitgroups(pkg: _Pkg, f: GoFile, nodes: dict):
    for go in nodes.get("go_statement", []):
        call = go.named_children[0] if go.named_children else None
        lit = call.child_by_field_name("function") if call is not None else None
        fn = fn_of(go)
        if lit is None or lit.type != "func_literal" or fn is None:
            continue
        before = f.source[fn.start_byte : go.start_byte].decode("utf-8", "replace")
        adds = [m for m in re.findall(r"(\w+)\.Add\(", before) if m in pkg.waitgroups]
        if not adds:
            continue
        wg = adds[-1]
        body = node_text(lit.child_by_field_name("body"))
        if re.search(rf"defer\s+{wg}\.Done\(\)", body) or passes(
            lit.child_by_field_name("body"), wg
        ):
            continue
        waits = [
            line_of(c)
            for c in own_nodes(fn.child_by_field_name("body"), ["call_expression"])
            if callee(c) == f"{wg}.Wait"
        ]
        done = re.search(rf"\b{wg}\.Done\(\)", body)
        if not done:
            yield (
                go,
                "GF109",
                f"the goroutine started after {wg}.Add never calls {wg}.Done()",
                waits,
            )
            continue
        done_at = lit.child_by_field_name("body").start_byte + len(body[: done.start()].encode())
        early = [
            r
            for r in own_nodes(lit.child_by_field_name("body"), ["return_statement"])
            if r.start_byte < done_at
        ]
        if early:
            yield (
                early[0],
                "GF109",
                (
                    f"returns (line {line_of(early[0])}) without {wg}.Done(): {wg}.Wait() "
                    f"(line {', '.join(map(str, waits)) or '?'}) then waits for ever"
                ),
                [*waits, line_of(go)],
            )


def _locks(pkg: _Pkg, f: GoFile, nodes: dict):
    for call, fn in nodes["calls"]:
        if (
            not fn.endswith((".Lock", ".RLock"))
            or call.parent is None
            or call.parent.type != "expression_statement"
        ):
            continue
        mu = fn.rsplit(".", 1)[0]
        owner = fn_of(call)
        if owner is None:
            continue
        body = owner.child_by_field_name("body")
        unlock = f"{mu}.{'RUnlock' if fn.endswith('.RLock') else 'Unlock'}"
        end = body.end_byte
        for c, name in nodes["calls"]:
            if name == unlock and call.end_byte < c.start_byte < body.end_byte:
                if fn_of(c) == owner:
                    if c.parent is not None and c.parent.type != "defer_statement":
                        end = c.start_byte
                    break
        key = (owner.start_byte, owner.end_byte)
        if key not in nodes.setdefault(
            "chan_ops", {}
        ):  # a function with locks: its channel operations
            nodes["chan_ops"][key] = own_nodes(
                body, ["send_statement", "unary_expression", "select_statement"]
            )
        ops = [
            n
            for n in nodes["chan_ops"][key]
            if call.end_byte < n.start_byte < end and _blocking_op(n) and not _buffered_send(pkg, n)
        ]
        if ops:
            op = ops[0]
            kind = {"send_statement": "send", "select_statement": "select"}.get(op.type, "receive")
            waiters = [ln for g, ln in pkg.locks.get(last_name(mu), []) if g is f]
            yield (
                op,
                "GF110",
                (
                    f"{mu} (locked at line {line_of(call)}) is held across this channel {kind}: "
                    f"while it blocks, every {mu}.Lock() waits"
                ),
                [line_of(op), *waiters],
            )


def _buffered_send(pkg: _Pkg, n) -> bool:
    """A send on a channel made with a capacity: it blocks only when the buffer is full."""
    return (
        n.type == "send_statement"
        and last_name(node_text(n.child_by_field_name("channel"))) in pkg.buffered
    )


def _blocking_op(n) -> bool:
    if n.type == "unary_expression" and not node_text(n).startswith("<-"):
        return False
    if n.type == "select_statement":
        return not select_facts(n)["default"]
    return not nonblocking(n) and select_of(n) is None


def _nil_channels(pkg: _Pkg, f: GoFile, nodes: dict):
    for c in nodes.get("channel_type", []):
        spec = c.parent
        fn = fn_of(c)
        if (
            spec is None
            or spec.type != "var_spec"
            or spec.child_by_field_name("value")
            or fn is None
        ):
            continue
        names = {node_text(x) for x in spec.named_children if x.type == "identifier"}
        body = fn.child_by_field_name("body")
        later = f.source[spec.end_byte : body.end_byte].decode("utf-8", "replace") if body else ""
        names = {v for v in names if not re.search(rf"\b{v}\s*(?:,[^=\n]*)?=[^=]|&{v}\b", later)}
        if not names:
            continue
        ops = own_nodes(body, ["send_statement", "unary_expression"])
        for op in ops:
            if op.start_byte < spec.end_byte or select_of(op) is not None:
                continue  # a nil channel in a select disables its case: the idiom
            target = op.child_by_field_name("channel" if op.type == "send_statement" else "operand")
            if (op.type == "send_statement" or node_text(op).startswith("<-")) and node_text(
                target
            ) in names:
                kind = "send on" if op.type == "send_statement" else "receive from"
                yield (
                    op,
                    "GF114",
                    f"{kind} {node_text(target)}, declared at line {line_of(spec)} and never made: it blocks for ever",
                    [],
                )
                break


def _empty_selects(pkg: _Pkg, f: GoFile, nodes: dict):
    for sel in nodes.get("select_statement", []):
        if select_facts(sel)["cases"] or select_facts(sel)["default"]:
            continue
        decl = f.declaration_at(line_of(sel))
        if (
            f.package == "main"
            and decl is not None
            and decl.name == "main"
            and not decl.receiver
            and fn_of(sel) == decl.node
        ):
            continue
        yield sel, "GF115", "select {} outside main: this goroutine can never end", [line_of(sel)]


_CHECKS = (
    _nil_channels,
    _empty_selects,
    _selects,
    _orphan_sends,
    _ranges,
    _waitgroups,
    _locks,
    *HTTP_CHECKS,
)
