"""Static rules for leak-prone Go code, checked on tree-sitter syntax trees.

Each rule has an id, a description, the fix, the rule of another linter it overlaps (gosec,
golangci-lint, go vet, semgrep-go) and the leak patterns of
:mod:`goforensics.analyze.patterns` it is evidence for. :func:`check_package` runs them over
the parsed files of one Go package and returns one finding per construct, with the lines where
goroutines block because of it (``related``): a dump's blocking line can then be tied to the
construct that explains it.

The checks are syntactic (no type checker): a name is a channel when the package declares it
with a channel type or makes it with ``make(chan ...)``; "on every path" follows the statements
before each ``return``/``continue``/``break`` and the end of the enclosing block, counting an
``if err == nil { ... }`` branch as covering (where the call failed there is nothing to close).

>>> list(rules_frame()["id"])[:3]
['GF101', 'GF102', 'GF103']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from ..read.gosource import GoFile, node_text, version_tuple, walk

__all__ = ["FINDING_COLUMNS", "RULES", "Rule", "check_package", "rules_frame"]


@dataclass(frozen=True)
class Rule:
    """One static rule."""

    id: str
    name: str
    description: str
    help: str  # the fix
    overlaps: str  # the rule of another linter it overlaps ('' when none does)
    level: str  # SARIF level: error, warning, note
    patterns: tuple[str, ...]  # catalogue patterns it is evidence for


RULES: tuple[Rule, ...] = (
    Rule(
        "GF101",
        "select-without-cancel",
        "A blocking select with no ctx.Done() (or done channel) case "
        "although a context is in scope",
        "Add `case <-ctx.Done(): return` so the goroutine ends with its request or its owner.",
        "",
        "warning",
        ("time-after-ignores-ctx", "callbacks-never-unregistered", "worker-never-stopped"),
    ),
    Rule(
        "GF102",
        "unbuffered-send-orphan",
        "A goroutine sends its result on an unbuffered channel whose "
        "receiver can return first (a select with another case, or an early return)",
        "Make the channel buffered (`make(chan T, 1)`) or select on the send and ctx.Done().",
        "",
        "warning",
        ("unconsumed-result",),
    ),
    Rule(
        "GF103",
        "range-over-unclosed-channel",
        "A loop ranges over a channel that nothing in its package "
        "closes: it ends only with the process",
        "Close the channel when the producer is done (`defer "
        "close(ch)`), or select on ctx.Done() in the loop.",
        "",
        "note",
        ("receive-never-closed", "worker-never-stopped"),
    ),
    Rule(
        "GF104",
        "time-after-in-loop",
        "time.After in a loop: before Go 1.23 each call keeps a timer until "
        "it fires; in any version a goroutine waiting on it has no way out but the timer",
        "Use one time.NewTimer (Stop/Reset it) and select on ctx.Done() as well.",
        "semgrep-go timeafter",
        "note",
        ("time-after-ignores-ctx",),
    ),
    Rule(
        "GF105",
        "http-server-no-timeouts",
        "An http.Server without ReadHeaderTimeout (or ReadTimeout) or "
        "IdleTimeout: slow and idle clients hold its connections' goroutines for ever",
        "Set ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout.",
        "gosec G112",
        "warning",
        ("http-server-no-timeouts",),
    ),
    Rule(
        "GF106",
        "bare-listen-and-serve",
        "http.ListenAndServe / http.Serve use a server with no timeouts",
        "Build an http.Server with timeouts and call its ListenAndServe.",
        "gosec G114",
        "warning",
        ("http-server-no-timeouts",),
    ),
    Rule(
        "GF107",
        "http-client-no-timeout",
        "An http.Client without Timeout (or http.DefaultClient): a call "
        "to a server that never answers waits for ever",
        "Set http.Client{Timeout: ...} or give every "
        "request a context with a deadline (http.NewRequestWithContext).",
        "golangci-lint noctx",
        "warning",
        ("http-client-no-timeout", "retry-loop-no-ctx", "response-body-not-closed"),
    ),
    Rule(
        "GF108",
        "response-body-not-closed",
        "A response body is not closed on every path: its connection "
        "and the connection's readLoop and writeLoop goroutines stay",
        "`defer resp.Body.Close()` right after checking the error.",
        "golangci-lint bodyclose",
        "warning",
        ("response-body-not-closed",),
    ),
    Rule(
        "GF109",
        "waitgroup-done-not-deferred",
        "wg.Add before a goroutine that does not `defer wg.Done()`: "
        "a path that returns early leaves Wait blocked for ever",
        "Make `defer wg.Done()` the goroutine's first statement.",
        "",
        "warning",
        ("waitgroup-missing-done",),
    ),
    Rule(
        "GF110",
        "lock-held-across-channel-op",
        "A mutex is held across a blocking channel operation: when "
        "the operation blocks, every user of the mutex queues behind it",
        "Copy what you need under the lock, Unlock, then communicate (or select with ctx.Done()).",
        "",
        "warning",
        ("lock-across-channel", "lock-held-while-blocked"),
    ),
    Rule(
        "GF111",
        "goroutine-in-handler-without-context",
        "An HTTP handler or middleware starts a goroutine "
        "that gets no context (or context.Background): nothing stops it when the request ends",
        "Pass the request's context (or a bounded one derived from it) and stop on ctx.Done(); bound the "
        "work with a pool.",
        "gosec G118",
        "warning",
        ("per-request-goroutine", "worker-never-stopped", "listener-never-closed"),
    ),
    Rule(
        "GF112",
        "cleanup-not-called",
        "A cancel or unsubscribe function is not called on every path: the "
        "context's (or the subscription's) goroutine stays",
        "`defer cancel()` (or `defer unsubscribe()`) right after getting it.",
        "go vet lostcancel",
        "warning",
        ("context-never-cancelled", "callbacks-never-unregistered"),
    ),
    Rule(
        "GF113",
        "listener-never-closed",
        "A listener is opened and nothing closes it: its accept loop waits for ever",
        "Close the listener when its owner is done (`defer ln.Close()`, or in the session's end).",
        "",
        "warning",
        ("listener-never-closed",),
    ),
)

FINDING_COLUMNS = [
    "rule_id",
    "level",
    "file",
    "line",
    "end_line",
    "column",
    "function",
    "message",
    "related",
    "snippet",
]


def rules_frame() -> pd.DataFrame:
    """The rules as a table: ``id``, ``name``, ``description``, ``help``, ``overlaps``, ``level``,
    ``patterns`` (the format :func:`goforensics.show.sarif.sarif_log` takes).

    >>> rules_frame().set_index("id").loc["GF105", "overlaps"]
    'gosec G112'
    """
    return pd.DataFrame(
        [
            {
                "id": r.id,
                "name": r.name,
                "description": r.description,
                "help": r.help,
                "overlaps": r.overlaps,
                "level": r.level,
                "patterns": list(r.patterns),
            }
            for r in RULES
        ]
    )


# --- syntax helpers -----------------------------------------------------------------------------------

_FUNCS = frozenset({"function_declaration", "method_declaration", "func_literal"})
_CANCEL = re.compile(
    r"(?i)(?:^|\.)(?:done|quit|stop\w*|clos\w*|shutdown|exit|cancel\w*|dying|die|term\w*|kill)$"
)
_TIMER = re.compile(r"^time\.(?:After|Tick)\(|\.C$|(?i:timer|ticker|timeout|deadline)\w*$")
_CTX = re.compile(r"context\.Context|\*http\.Request|\bctx\b")
_CHAN_DECL = re.compile(
    r"(\w+)\s*(?::=|=|:)\s*make\(\s*(?:<-\s*)?chan\b|(\w+)\s+(?:<-\s*)?chan\b[^\n]*"
)
_WG_DECL = re.compile(r"(\w+)\s+\*?sync\.WaitGroup\b")


def _fn_of(node):
    n = node.parent
    while n is not None and n.type not in _FUNCS:
        n = n.parent
    return n


def _outer_fn(node):
    fn, n = None, node
    while n is not None:
        if n.type in _FUNCS:
            fn = n
        n = n.parent
    return fn


def _line(node) -> int:
    return node.start_point[0] + 1


def _last(expr: str) -> str:
    names = re.findall(r"\w+", expr)
    return names[-1] if names else ""


def _callee(call) -> str:
    return node_text(call.child_by_field_name("function"))


def _own(node, types: Iterable[str]) -> list:
    """Nodes of ``types`` under ``node`` that belong to the same function (no nested literal)."""
    types = frozenset(types)
    return [n for n in walk(node, into_functions=False) if n.type in types]


def _receive_operand(case) -> str:
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
            op = _receive_operand(c)
            if op and (op.endswith(".Done()") or _CANCEL.search(op)):
                out["cancel"].append(op)
            elif op and (_TIMER.search(op) or _TIMER.search(_last(op))):
                out["timer"].append(op)
    return out


def _in_loop(node, fn) -> bool:
    n = node.parent
    while n is not None and n != fn:
        if n.type == "for_statement":
            return True
        n = n.parent
    return False


def _ctx_in_scope(f: GoFile, node) -> bool:
    outer = _outer_fn(node)
    if outer is None:
        return False
    return bool(
        _CTX.search(f.source[outer.start_byte : node.start_byte].decode("utf-8", "replace"))
    )


def _decl_name(f: GoFile, node) -> str:
    d = f.declaration_at(_line(node))
    return "" if d is None else (f"({d.receiver}).{d.name}" if d.receiver else d.name)


def _nonblocking(node) -> bool:
    """Is ``node`` a case of a select with a default (it cannot block)?"""
    n = node.parent
    while n is not None and n.type not in _FUNCS:
        if n.type == "select_statement":
            return select_facts(n)["default"]
        n = n.parent
    return False


# --- the package --------------------------------------------------------------------------------------


@dataclass
class _Pkg:
    files: list[GoFile]
    go: tuple[int, ...]
    text: str
    chans: set[str]
    closed: set[str]  # names passed to close()
    closed_fields: set[str]  # names whose .Close() is called
    waitgroups: set[str]
    locks: dict[str, list[tuple[GoFile, int]]]  # mutex name -> Lock() call sites


def _package(files: list[GoFile], go_version: str, nodes: list[dict]) -> _Pkg:
    text = "\n".join(
        _code(f, by_type.get("comment", [])) for f, by_type in zip(files, nodes, strict=True)
    )
    chans = {a or b for a, b in _CHAN_DECL.findall(text)}
    closed = {_last(x) for x in re.findall(r"\bclose\(\s*([^()]+?)\s*\)", text)}
    closed_fields = set(re.findall(r"(\w+)\.Close\(\)", text))
    locks: dict[str, list] = {}
    for f, by_type in zip(files, nodes, strict=True):
        for n in by_type.get("call_expression", []):
            fn = _callee(n)
            if fn.endswith((".Lock", ".RLock")):
                locks.setdefault(_last(fn.rsplit(".", 1)[0]), []).append((f, _line(n)))
    return _Pkg(
        files,
        version_tuple(go_version),
        text,
        chans,
        closed,
        closed_fields,
        set(_WG_DECL.findall(text)) | {"wg"},
        locks,
    )


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
    }
)


def _code(f: GoFile, comments: list) -> str:
    """The file's text with its comments blanked (a comment mentioning ``x.Close()`` closes nothing)."""
    b = bytearray(f.source)
    for c in comments:
        b[c.start_byte : c.end_byte] = b" " * (c.end_byte - c.start_byte)
    return b.decode("utf-8", "replace")


def _nodes(f: GoFile) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in walk(f.root):
        if n.type in _WANTED:
            out.setdefault(n.type, []).append(n)
    return out


def _finding(f: GoFile, node, rule: str, message: str, related: Iterable[int]) -> dict:
    r = next(x for x in RULES if x.id == rule)
    line = _line(node)
    return {
        "rule_id": rule,
        "level": r.level,
        "file": str(f.path),
        "line": line,
        "end_line": node.end_point[0] + 1,
        "column": node.start_point[1] + 1,
        "function": _decl_name(f, node),
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
            [_line(sel)],
        )
    for call in nodes.get("call_expression", []):
        if _callee(call) != "time.After":
            continue
        fn = _fn_of(call)
        if fn is None or not _in_loop(call, fn):
            continue
        sel = call.parent
        while sel is not None and sel.type not in ("select_statement", *_FUNCS):
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
                [_line(sel)],
            )


def _orphan_sends(pkg: _Pkg, f: GoFile, nodes: dict):
    for go in nodes.get("go_statement", []):
        call = go.named_children[0] if go.named_children else None
        lit = call.child_by_field_name("function") if call is not None else None
        parent = _fn_of(go)
        if lit is None or lit.type != "func_literal" or parent is None:
            continue
        for send in _own(lit.child_by_field_name("body"), ["send_statement"]):
            ch = node_text(send.child_by_field_name("channel"))
            made = re.search(
                rf"\b{re.escape(ch)}\s*:=\s*make\(\s*chan\b[^,()]*(?:\([^)]*\))?[^,()]*\)",
                node_text(parent),
            )
            if not re.fullmatch(r"\w+", ch) or not made:
                continue
            body = parent.child_by_field_name("body")
            early = [r for r in _own(body, ["return_statement"]) if r.start_byte > go.end_byte]
            recvs = [
                u
                for u in _own(body, ["unary_expression"])
                if node_text(u).replace(" ", "") == f"<-{ch}" and u.start_byte > go.end_byte
            ]
            first = min((u.start_byte for u in recvs), default=None)
            rival = [
                u
                for u in recvs
                if _select_of(u) is not None and select_facts(_select_of(u))["cases"] > 1
            ]
            if rival:
                why = f"its receiver's select (line {_line(_select_of(rival[0]))}) can take another case and return"
            elif first is not None and any(r.start_byte < first for r in early):
                why = f"the function can return (line {_line(early[0])}) before receiving"
            else:
                continue
            yield (
                send,
                "GF102",
                (
                    f"send on {ch}, an unbuffered channel (line {_line(go)} starts the sender): "
                    f"{why}, and the send then blocks for ever"
                ),
                [_line(send)],
            )


def _select_of(node):
    n = node.parent
    for _ in range(4):
        if n is None:
            return None
        if n.type == "select_statement":
            return n
        n = n.parent
    return None


def _ranges(pkg: _Pkg, f: GoFile, nodes: dict):
    for loop in nodes.get("for_statement", []):
        rc = next((c for c in loop.named_children if c.type == "range_clause"), None)
        if rc is None:
            continue
        right = rc.child_by_field_name("right")
        expr = node_text(right)
        name = _last(expr)
        if right is None or right.type == "call_expression" or name == "C" or name not in pkg.chans:
            continue
        if name in pkg.closed:
            continue
        yield (
            loop,
            "GF103",
            f"ranges over {expr}, which nothing in package {f.package} closes",
            [_line(loop)],
        )


def _servers_clients(pkg: _Pkg, f: GoFile, nodes: dict):
    for lit in nodes.get("composite_literal", []):
        t = node_text(lit.child_by_field_name("type"))
        keys = {
            node_text(k.child_by_field_name("key"))
            for k in (
                lit.child_by_field_name("body").named_children
                if lit.child_by_field_name("body")
                else []
            )
            if k.type == "keyed_element"
        }
        if t == "http.Server":
            missing = [k for k in ("ReadHeaderTimeout", "IdleTimeout") if k not in keys]
            if "ReadTimeout" in keys:
                missing = []
            if missing:
                yield lit, "GF105", f"http.Server without {' or '.join(missing)}", []
        elif t == "http.Client" and "Timeout" not in keys:
            yield (
                lit,
                "GF107",
                "http.Client without Timeout: calls through it can wait for ever",
                [],
            )
    for call in nodes.get("call_expression", []):
        fn = _callee(call)
        if fn in ("http.ListenAndServe", "http.ListenAndServeTLS", "http.Serve", "http.ServeTLS"):
            yield (
                call,
                "GF106",
                f"{fn} serves with no ReadHeaderTimeout, ReadTimeout or IdleTimeout",
                [],
            )
        elif fn in ("http.Get", "http.Post", "http.PostForm", "http.Head"):
            yield call, "GF107", f"{fn} uses http.DefaultClient, which has no Timeout", []


def _exits(decl, scope_end_ok: bool = True) -> list:
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


def _covered(decl, exit_node, ok: Callable[[object], bool], err: str) -> bool:
    """Is there, on the way from ``decl`` to ``exit_node``, a statement for which ``ok`` holds?"""
    scope = decl.parent
    if scope.type == "if_statement":
        if exit_node is not None and _inside(exit_node, scope.child_by_field_name("consequence")):
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
        if parent == scope or parent.type in _FUNCS:
            return False
        n = parent


def _inside(node, outer) -> bool:
    return (
        outer is not None
        and outer.start_byte <= node.start_byte
        and node.end_byte <= outer.end_byte
    )


def _passes(node, name: str) -> bool:
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


def _bodies(pkg: _Pkg, f: GoFile, nodes: dict):
    for decl in nodes.get("short_var_declaration", []):
        left = [node_text(x) for x in decl.child_by_field_name("left").named_children]
        right = decl.child_by_field_name("right")
        call = right.named_children[0] if right is not None and right.named_children else None
        if call is None or call.type != "call_expression" or len(left) != 2:
            continue
        fn = _fn_of(decl)
        resp, err = left
        if (
            _last(_callee(call)) not in ("Get", "Post", "PostForm", "Head", "Do")
            or resp == "_"
            or fn is None
            or f"{resp}.Body" not in node_text(fn)
        ):
            continue

        def ok(n, resp=resp):
            t = node_text(n)
            return f"{resp}.Body.Close()" in t or _passes(n, resp)

        for ex in _exits(decl):
            if not _covered(decl, ex, ok, err):
                where = decl if ex is None else ex
                what = (
                    "the end of the block"
                    if ex is None
                    else f"the {ex.type.split('_')[0]} at line {_line(ex)}"
                )
                yield (
                    where,
                    "GF108",
                    f"{resp}.Body (line {_line(decl)}) is not closed before {what}",
                    [],
                )
                break


_CLEANUP = re.compile(r"(?i)^(?:cancel\w*|\w*cancel|unsubscribe|unsub|unregister|stop\w*|release)$")


def _cleanups(pkg: _Pkg, f: GoFile, nodes: dict):
    for decl in nodes.get("short_var_declaration", []):
        left = [node_text(x) for x in decl.child_by_field_name("left").named_children]
        right = decl.child_by_field_name("right")
        call = right.named_children[0] if right is not None and right.named_children else None
        if call is None or call.type != "call_expression":
            continue
        callee = _callee(call)
        if callee.startswith("context.With") and len(left) == 2 and left[1] == "_":
            yield decl, "GF112", f"the cancel function of {callee} is discarded", []
            continue
        for v in left:
            if not _CLEANUP.match(v) or (callee.startswith("context.With") and v != left[-1]):
                continue

            def ok(n, v=v):
                return any(x.type == "identifier" and node_text(x) == v for x in walk(n))

            for ex in _exits(decl):
                if not _covered(decl, ex, ok, ""):
                    where = decl if ex is None else ex
                    what = (
                        "the end of the function"
                        if ex is None
                        else f"the {ex.type.split('_')[0]} at line {_line(ex)}"
                    )
                    yield (
                        where,
                        "GF112",
                        f"{v} (from {callee}, line {_line(decl)}) is not called before {what}",
                        [],
                    )
                    break


def _waitgroups(pkg: _Pkg, f: GoFile, nodes: dict):
    for go in nodes.get("go_statement", []):
        call = go.named_children[0] if go.named_children else None
        lit = call.child_by_field_name("function") if call is not None else None
        fn = _fn_of(go)
        if lit is None or lit.type != "func_literal" or fn is None:
            continue
        before = f.source[fn.start_byte : go.start_byte].decode("utf-8", "replace")
        adds = [m for m in re.findall(r"(\w+)\.Add\(", before) if m in pkg.waitgroups]
        if not adds:
            continue
        wg = adds[-1]
        body = node_text(lit.child_by_field_name("body"))
        if re.search(rf"defer\s+{wg}\.Done\(\)", body) or _passes(
            lit.child_by_field_name("body"), wg
        ):
            continue
        waits = [
            _line(c)
            for c in _own(fn.child_by_field_name("body"), ["call_expression"])
            if _callee(c) == f"{wg}.Wait"
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
            for r in _own(lit.child_by_field_name("body"), ["return_statement"])
            if r.start_byte < done_at
        ]
        if early:
            yield (
                early[0],
                "GF109",
                (
                    f"returns (line {_line(early[0])}) without {wg}.Done(): {wg}.Wait() "
                    f"(line {', '.join(map(str, waits)) or '?'}) then waits for ever"
                ),
                [*waits, _line(go)],
            )


def _locks(pkg: _Pkg, f: GoFile, nodes: dict):
    for call in nodes.get("call_expression", []):
        fn = _callee(call)
        if (
            not fn.endswith((".Lock", ".RLock"))
            or call.parent is None
            or call.parent.type != "expression_statement"
        ):
            continue
        mu = fn.rsplit(".", 1)[0]
        owner = _fn_of(call)
        if owner is None:
            continue
        body = owner.child_by_field_name("body")
        unlock = "RUnlock" if fn.endswith(".RLock") else "Unlock"
        end = body.end_byte
        for c in _own(body, ["call_expression"]):
            if _callee(c) == f"{mu}.{unlock}" and c.start_byte > call.end_byte:
                if c.parent is not None and c.parent.type != "defer_statement":
                    end = c.start_byte
                break
        ops = [
            n
            for n in _own(body, ["send_statement", "unary_expression", "select_statement"])
            if call.end_byte < n.start_byte < end and _blocking_op(n)
        ]
        if ops:
            op = ops[0]
            kind = {"send_statement": "send", "select_statement": "select"}.get(op.type, "receive")
            waiters = [ln for g, ln in pkg.locks.get(_last(mu), []) if g is f]
            yield (
                op,
                "GF110",
                (
                    f"{mu} (locked at line {_line(call)}) is held across this channel {kind}: "
                    f"while it blocks, every {mu}.Lock() waits"
                ),
                [_line(op), *waiters],
            )


def _blocking_op(n) -> bool:
    if n.type == "unary_expression" and not node_text(n).startswith("<-"):
        return False
    if n.type == "select_statement":
        return not select_facts(n)["default"]
    return not _nonblocking(n) and _select_of(n) is None


_HANDLER = re.compile(r"http\.ResponseWriter")
_REQUEST = re.compile(r"(\w+)\s+\*http\.Request")


def _handler_goroutines(pkg: _Pkg, f: GoFile, nodes: dict):
    for go in nodes.get("go_statement", []):
        h = _fn_of(go)
        while h is not None and not _HANDLER.search(node_text(h.child_by_field_name("parameters"))):
            h = _fn_of(h)
        if h is None:
            continue
        m = _REQUEST.search(node_text(h.child_by_field_name("parameters")))
        req = m.group(1) if m else "r"
        call = go.named_children[0] if go.named_children else None
        if call is None:
            continue
        fn = call.child_by_field_name("function")
        looked = node_text(
            fn
            if fn is not None and fn.type == "func_literal"
            else call.child_by_field_name("arguments")
        )
        if re.search(r"context\.(?:Background|TODO)\(\)", looked):
            yield (
                go,
                "GF111",
                f"goroutine started in handler {_decl_name(f, go)} with context.Background/TODO",
                [],
            )
        elif not re.search(rf"\bctx\b|Context\(\)|(?<![\w.]){req}(?![\w.(])", looked):
            what = "a closure" if fn is not None and fn.type == "func_literal" else node_text(fn)
            yield (
                go,
                "GF111",
                (
                    f"handler {_decl_name(f, go)} starts {what} with no context: nothing stops it "
                    "when the request ends"
                ),
                [],
            )


def _listeners(pkg: _Pkg, f: GoFile, nodes: dict):
    for decl in nodes.get("short_var_declaration", []):
        right = node_text(decl.child_by_field_name("right"))
        if not re.match(r"^(?:net|tls)\.Listen\w*\(|^\w+\.Listen\(", right):
            continue
        v = node_text(decl.child_by_field_name("left").named_children[0])
        fn = _fn_of(decl)
        after = (
            f.source[decl.end_byte : fn.end_byte].decode("utf-8", "replace")
            if fn is not None
            else ""
        )
        if v == "_" or re.search(rf"\b{v}\.Close\(", after):
            continue
        fields = re.findall(rf"(\w+)\s*:\s*{v}\b", after) + re.findall(
            rf"\.(\w+)\s*=\s*{v}\b", after
        )
        if fields:
            if any(x in pkg.closed_fields for x in fields):
                continue
        elif fn is not None and _passes(fn.child_by_field_name("body"), v):
            continue
        names = [v, *fields]
        accepts = [
            _line(c)
            for c in nodes.get("call_expression", [])
            if _callee(c).endswith(".Accept") and _last(_callee(c).rsplit(".", 1)[0]) in names
        ]
        held = f" (kept in field {fields[0]})" if fields else ""
        yield (
            decl,
            "GF113",
            f"listener {v}{held} is never closed: its accept loop waits for ever",
            accepts,
        )


_CHECKS = (
    _selects,
    _orphan_sends,
    _ranges,
    _servers_clients,
    _bodies,
    _cleanups,
    _waitgroups,
    _locks,
    _handler_goroutines,
    _listeners,
)
