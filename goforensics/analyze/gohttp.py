"""Static rules about HTTP servers and clients, response bodies, cleanups, handlers' goroutines
and listeners (GF105-GF108, GF111-GF113), as checks :func:`goforensics.analyze.gochecks.check_package`
runs. Each check takes the package's facts, a parsed file and its nodes by type, and yields
``(node, rule id, message, related lines)``.
"""

from __future__ import annotations

import re

from ..read.gosource import GoFile, node_text, walk
from ..read.gosyntax import callee, covered, decl_name, exits, fn_of, last_name, line_of, passes

__all__ = ["HTTP_CHECKS"]


def _servers_clients(pkg, f: GoFile, nodes: dict):
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
    for call, fn in nodes["calls"]:
        if fn in ("http.ListenAndServe", "http.ListenAndServeTLS", "http.Serve", "http.ServeTLS"):
            yield (
                call,
                "GF106",
                f"{fn} serves with no ReadHeaderTimeout, ReadTimeout or IdleTimeout",
                [],
            )
        elif fn in ("http.Get", "http.Post", "http.PostForm", "http.Head"):
            yield call, "GF107", f"{fn} uses http.DefaultClient, which has no Timeout", []


_HTTP_CALL = re.compile(r"\.(?:Get|Post|PostForm|Head|Do)\(")

_CLEANUP_LEFT = re.compile(r"(?i)cancel|unsub|unregister|stop|release")


def _bodies(pkg, f: GoFile, nodes: dict):
    for decl in nodes.get("short_var_declaration", []):
        if not _HTTP_CALL.search(node_text(decl)):
            continue
        left = [node_text(x) for x in decl.child_by_field_name("left").named_children]
        right = decl.child_by_field_name("right")
        call = right.named_children[0] if right is not None and right.named_children else None
        if call is None or call.type != "call_expression" or len(left) != 2:
            continue
        fn = fn_of(decl)
        resp, err = left
        if (
            last_name(callee(call)) not in ("Get", "Post", "PostForm", "Head", "Do")
            or resp == "_"
            or fn is None
            or f"{resp}.Body" not in node_text(fn)
        ):
            continue

        def ok(n, resp=resp):
            t = node_text(n)
            return f"{resp}.Body.Close()" in t or passes(n, resp)

        for ex in exits(decl):
            if not covered(decl, ex, ok, err):
                where = decl if ex is None else ex
                what = (
                    "the end of the block"
                    if ex is None
                    else f"the {ex.type.split('_')[0]} at line {line_of(ex)}"
                )
                yield (
                    where,
                    "GF108",
                    f"{resp}.Body (line {line_of(decl)}) is not closed before {what}",
                    [],
                )
                break


_CLEANUP = re.compile(r"(?i)^(?:cancel\w*|\w*cancel|unsubscribe|unsub|unregister|stop\w*|release)$")


def _cleanups(pkg, f: GoFile, nodes: dict):
    for decl in nodes.get("short_var_declaration", []):
        if not _CLEANUP_LEFT.search(node_text(decl).split(":=", 1)[0]):
            continue
        left = [node_text(x) for x in decl.child_by_field_name("left").named_children]
        right = decl.child_by_field_name("right")
        call = right.named_children[0] if right is not None and right.named_children else None
        if call is None or call.type != "call_expression":
            continue
        fn = callee(call)
        if fn.startswith("context.With") and len(left) == 2 and left[1] == "_":
            yield decl, "GF112", f"the cancel function of {fn} is discarded", []
            continue
        err = left[-1] if left[-1].endswith(("err", "Err")) else ""
        for v in left:
            if not _CLEANUP.match(v) or (fn.startswith("context.With") and v != left[-1]):
                continue

            def ok(n, v=v):
                return any(x.type == "identifier" and node_text(x) == v for x in walk(n))

            for ex in exits(decl):
                if not covered(decl, ex, ok, err):
                    where = decl if ex is None else ex
                    what = (
                        "the end of the function"
                        if ex is None
                        else f"the {ex.type.split('_')[0]} at line {line_of(ex)}"
                    )
                    yield (
                        where,
                        "GF112",
                        f"{v} (from {fn}, line {line_of(decl)}) is not called before {what}",
                        [],
                    )
                    break


_HANDLER = re.compile(r"http\.ResponseWriter")

_REQUEST = re.compile(r"(\w+)\s+\*http\.Request")


def _handler_goroutines(pkg, f: GoFile, nodes: dict):
    for go in nodes.get("go_statement", []):
        h = fn_of(go)
        while h is not None and not _HANDLER.search(node_text(h.child_by_field_name("parameters"))):
            h = fn_of(h)
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
                f"goroutine started in handler {decl_name(f, go)} with context.Background/TODO",
                [],
            )
        elif not re.search(rf"\bctx\b|Context\(\)|(?<![\w.]){req}(?![\w.(])", looked):
            what = "a closure" if fn is not None and fn.type == "func_literal" else node_text(fn)
            yield (
                go,
                "GF111",
                (
                    f"handler {decl_name(f, go)} starts {what} with no context: nothing stops it "
                    "when the request ends"
                ),
                [],
            )


def _listeners(pkg, f: GoFile, nodes: dict):
    for decl in nodes.get("short_var_declaration", []):
        if b"Listen" not in decl.text:
            continue
        right = node_text(decl.child_by_field_name("right"))
        if not re.match(r"^(?:net|tls)\.Listen\w*\(|^\w+\.Listen\(", right):
            continue
        v = node_text(decl.child_by_field_name("left").named_children[0])
        fn = fn_of(decl)
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
        elif fn is not None and passes(fn.child_by_field_name("body"), v):
            continue
        names = [v, *fields]
        accepts = [
            line_of(c)
            for c, name in nodes["calls"]
            if name.endswith(".Accept") and last_name(name.rsplit(".", 1)[0]) in names
        ]
        held = f" (kept in field {fields[0]})" if fields else ""
        yield (
            decl,
            "GF113",
            f"listener {v}{held} is never closed: its accept loop waits for ever",
            accepts,
        )


HTTP_CHECKS = (_servers_clients, _bodies, _cleanups, _handler_goroutines, _listeners)
