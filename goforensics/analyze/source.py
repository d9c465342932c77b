"""From dump to code: the source around each suspect, and what the code says about it.

:func:`scan` (from :mod:`goforensics.analyze.sourcescan`) runs the static rules over a source
tree, one row per finding. :func:`attach_source` ties a suspects table to a tree: where each suspect
blocks and the ``go`` statement that created it, with the code around them; whether the tree
matches the dump's build; and the construct at the blocking line as evidence that confirms the
pattern matched, suggests another, or contradicts it (the score moves by a little, and only for
leak patterns: a healthy shape is never raised).

>>> import goforensics as gf
>>> from pathlib import Path
>>> root = Path(gf.__file__).parent.parent / "datasets" / "scenarios" / "checkout"
>>> found = scan([root], progress=False)
>>> sorted(set(found["rule_id"]))[:3]
['GF101', 'GF102', 'GF103']
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..model import Dumps
from ..read.gosource import GoFile, SourceError, SourceTree, node_text, parse_go, walk
from ..read.gosyntax import select_facts
from .patterns import by_id
from .rules import RULES
from .sourcescan import SOURCE_ENV, SourceIndex, scan, source_roots

__all__ = ["SOURCE_COLUMNS", "SOURCE_ENV", "SourceIndex", "attach_source", "scan", "source_roots"]

SOURCE_COLUMNS = [
    "source_file",
    "source_line",
    "source_how",
    "code",
    "go_file",
    "go_line",
    "go_code",
    "source_mismatch",
    "source_verdict",
    "source_evidence",
    "source_rules",
]
_RULE = {r.id: r for r in RULES}


# --- attaching source to suspects ---------------------------------------------------------------------


def attach_source(
    suspects: pd.DataFrame, roots, dumps: Dumps | None = None, labels: pd.Series | None = None
) -> pd.DataFrame:
    """The suspects with their source: code, mismatch, static evidence; re-ranked.

    Parameters
    ----------
    suspects : DataFrame
        :func:`goforensics.analyze.suspects.suspects` output.
    roots : path, list of paths or SourceIndex
        The source tree(s) the dump's program was built from.
    dumps, labels : optional
        The Dumps and cluster labels the suspects came from: with them every frame of a
        suspect's stack is mapped (the code shown is the innermost frame found in the tree) and
        the ``go`` statement that created it is found; without them only the site is.

    Returns
    -------
    DataFrame
        The suspects with :data:`SOURCE_COLUMNS` added: ``source_file``/``source_line`` (the
        local file and line of the blocking frame; '' and <NA> when not in the tree),
        ``source_how`` (how the path was mapped),
        ``code`` and ``go_code`` (numbered lines, ``>`` at the line), ``go_file``/``go_line``,
        ``source_mismatch`` (why the tree is not the dump's build, '' when it is),
        ``source_verdict`` (``confirms``, ``suggests``, ``contradicts``, ``mismatch``,
        ``not in tree`` or ''), ``source_evidence`` (sentences, also appended to ``evidence``),
        ``source_rules``. ``score``, ``pattern``, ``title``, ``advice`` and ``rank`` reflect
        the evidence.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.suspects import suspects
    >>> d = gf.load("bundled:checkout")
    >>> labels = gf.cluster(d)
    >>> root = Path(gf.__file__).parent.parent / "datasets" / "scenarios" / "checkout"
    >>> s = attach_source(suspects(d, labels), [root], d, labels)
    >>> row = s[s["site"] == "main.firstOr[...].func1"].iloc[0]
    >>> row["source_verdict"], int(row["source_line"])
    ('confirms', 23)
    """
    index = roots if isinstance(roots, SourceIndex) else SourceIndex(roots)
    frames = _stacks(suspects, dumps, labels)
    creators = _creators(dumps, labels)
    out = suspects.copy()
    rows = [
        _one(index, r, frames.get(r["cluster"], []), creators.get(r["cluster"]))
        for r in suspects.to_dict("records")
    ]
    for col in SOURCE_COLUMNS:
        out[col] = [x[col] for x in rows]
    for col in ("score", "pattern", "title", "advice", "evidence"):
        out[col] = [x[col] for x in rows]
    out["source_line"] = out["source_line"].astype("Int64")
    out["go_line"] = out["go_line"].astype("Int64")
    out = out.sort_values(
        ["score", "goroutines", "cluster"], ascending=[False, False, True], kind="stable"
    )
    out["rank"] = range(1, len(out) + 1)
    return out.reset_index(drop=True)


def _stacks(suspects: pd.DataFrame, dumps: Dumps | None, labels) -> dict:
    """cluster -> [(function, file, line, frame_class)] of its representative stack, top first."""
    if dumps is None or labels is None:
        return {
            r["cluster"]: [(r["site"], r["file"], r["line"], "application")]
            for r in suspects.to_dict("records")
            if pd.notna(r["line"])
        }
    g = dumps.goroutines
    counts = (
        pd.DataFrame(
            {
                "cluster": labels.reindex(g.index).to_numpy(),
                "stack_id": g["stack_id"].to_numpy(),
                "n": g["count"].to_numpy(),
            }
        )
        .groupby(["cluster", "stack_id"])["n"]
        .sum()
        .reset_index()
        .sort_values(["cluster", "n", "stack_id"], ascending=[True, False, True], kind="stable")
    )
    wanted = set(suspects["cluster"])
    counts = counts[counts["cluster"].isin(wanted)]
    f = dumps.frames
    f = f[(f["section"] == 0) & f["stack_id"].isin(counts["stack_id"].unique())].sort_values(
        "depth"
    )
    by_stack = {
        sid: list(
            zip(
                grp["function"].astype(str),
                grp["file"].astype(str),
                grp["line"],
                grp["frame_class"].astype(str),
                strict=True,
            )
        )
        for sid, grp in f.groupby("stack_id", sort=False)
    }
    site = {r["cluster"]: (r["file"], r["line"]) for r in suspects.to_dict("records")}
    out: dict = {}
    for c, grp in counts.groupby("cluster", sort=False):
        stacks = [by_stack.get(sid, []) for sid in grp["stack_id"]]
        # the cluster's most common stack that passes through the suspect's site
        out[c] = next(
            (st for st in stacks if any((x[1], x[2]) == site.get(c) for x in st)), stacks[0]
        )
    return out


def _creators(dumps: Dumps | None, labels) -> dict:
    """cluster -> (created_by, file, line) most of its goroutines share."""
    if dumps is None or labels is None:
        return {}
    g = dumps.goroutines
    t = pd.DataFrame(
        {
            "cluster": labels.reindex(g.index).to_numpy(),
            "fn": g["created_by"].astype(str),
            "file": g["created_by_file"].astype(str),
            "line": g["created_by_line"],
        }
    )
    t = t[t["line"].notna() & (t["file"] != "")]
    return {
        c: tuple(grp.groupby(["fn", "file", "line"]).size().idxmax())
        for c, grp in t.groupby("cluster")
    }


def _code(f: GoFile, line: int) -> str:
    return "\n".join(f"{'>' if n == line else ' '} {n:5d}  {text}" for n, text in f.snippet(line))


def _one(index: SourceIndex, row: dict, stack: list, creator) -> dict:
    """Source columns and the updated verdict of one suspect."""
    out = {c: None for c in SOURCE_COLUMNS} | {
        k: row[k] for k in ("score", "pattern", "title", "advice")
    }
    out.update(
        source_evidence=[],
        source_rules=[],
        source_mismatch="",
        source_verdict="",
        code="",
        go_code="",
        source_how="",
        source_file="",
        go_file="",
    )
    evidence = list(row["evidence"]) if isinstance(row["evidence"], list) else []
    found, mismatches = _blocking_frame(index.tree, stack)
    if creator is not None:
        r = index.tree.resolve(creator[1])
        if r.path is not None:
            gf = parse_go(r.path)
            bad = gf.frame_mismatch(int(creator[2]), creator[0])
            out.update(
                go_file=str(r.path), go_line=int(creator[2]), go_code=_code(gf, int(creator[2]))
            )
            if bad:
                mismatches.append(bad)
    if found is None:
        out["source_verdict"] = "not in tree" if stack else ""
        tree_support, tree_sentences, tree_rules = _tree_evidence(index, stack, row["pattern"], [])
        if tree_support and not mismatches:
            _verdict(out, row, ([], [], set()), tree_sentences, tree_support)
            out["source_rules"] = sorted(set(tree_rules))
            out["evidence"] = evidence + out["source_evidence"]
            return out
        if mismatches:
            out["source_mismatch"] = "; ".join(dict.fromkeys(mismatches))
            out["source_verdict"] = "mismatch"
        out["evidence"] = evidence + [
            f"source does not match the dump's build: {out['source_mismatch']}"
        ] * bool(mismatches)
        return out
    gofile, line, how = found
    out.update(
        source_file=str(gofile.path), source_line=line, source_how=how, code=_code(gofile, line)
    )
    if mismatches:
        out["source_mismatch"] = "; ".join(dict.fromkeys(mismatches))
        out["source_verdict"] = "mismatch"
        out["evidence"] = [
            *evidence,
            f"source does not match the dump's build: {out['source_mismatch']}",
        ]
        return out
    support, strong, against, sentences, rules = _line_evidence(
        index, gofile, line, out.get("go_file"), out.get("go_line")
    )
    tree_support, tree_sentences, tree_rules = _tree_evidence(index, stack, row["pattern"], support)
    _verdict(out, row, (support, strong, against), sentences + tree_sentences, tree_support)
    out["source_rules"] = sorted(set(rules + tree_rules))
    out["evidence"] = evidence + out["source_evidence"]
    return out


def _blocking_frame(tree: SourceTree, stack: list):
    """The innermost application frame found in the tree (else any frame found), and the
    mismatches of every frame found."""
    mismatches: list[str] = []
    found = None
    order = sorted(
        range(len(stack)), key=lambda i: (stack[i][3] not in ("application", "third-party"), i)
    )
    for i in order:
        fn, file, line, cls = stack[i]
        if pd.isna(line) or not file:
            continue
        r = tree.resolve(file)
        if r.path is None:
            continue
        try:
            gf = parse_go(r.path)
        except SourceError:
            continue
        # runtime and standard library frames carry linknamed and assembly symbols: their
        # names need not be the declarations around their lines
        bad = gf.frame_mismatch(int(line), fn) if cls in _APP else ""
        if bad:
            mismatches.append(bad)
        if found is None:
            found = (gf, int(line), r.how)
    return found, mismatches


def _where(path, line) -> str:
    return f"{Path(path).name}:{line}"


def _line_evidence(index: SourceIndex, gofile: GoFile, line: int, go_file, go_line):
    """Patterns the code at the blocking line (and at the go statement) supports or contradicts."""
    support: list[str] = []
    strong: list[
        str
    ] = []  # from a rule finding at the blocking line itself: may rename the pattern
    against: set[str] = set()
    sentences: list[str] = []
    rules: list[str] = []
    for f in index.package_findings(gofile.path.parent):
        at_line = f["file"] == str(gofile.path) and (
            f["line"] == line
            or line in f["related"]
            or (f["rule_id"] in ("GF101",) and f["line"] <= line <= f["end_line"])
        )
        at_go = bool(go_file) and f["file"] == str(go_file) and f["line"] == go_line
        if at_line or at_go:
            r = _RULE[f["rule_id"]]
            support += [p for p in r.patterns if p not in support]
            if at_line:
                strong += [p for p in r.patterns if p not in strong]
            rules.append(r.id)
            over = f", overlaps {r.overlaps}" if r.overlaps else ""
            sentences.append(
                f"source confirms: {_where(f['file'], f['line'])}: {f['message']} ({r.id}{over})"
            )
    if go_file and Path(go_file).parent != gofile.path.parent:
        for f in index.package_findings(Path(go_file).parent):
            if f["file"] == str(go_file) and f["line"] == go_line:
                r = _RULE[f["rule_id"]]
                support += [p for p in r.patterns if p not in support]
                rules.append(r.id)
                sentences.append(
                    f"source confirms: {_where(f['file'], f['line'])}: {f['message']} ({r.id})"
                )
    fact = _construct(gofile, line)
    if fact:
        s, a, text = fact
        support += [p for p in s if p not in support]
        against |= set(a) - set(support)
        sentences.append(text)
    return support, strong, against, sentences, rules


_APP = ("application", "third-party")
_STATEMENTS = ("select_statement", "send_statement", "for_statement", "unary_expression")


def _construct(gofile: GoFile, line: int):
    """(supports, contradicts, sentence) for the channel construct starting at ``line``, if any."""
    if not 1 <= line <= len(gofile.lines):
        return None
    row = line - 1
    text = gofile.lines[row]
    col = len(text.encode()) - len(text.lstrip().encode())
    top = gofile.root.descendant_for_point_range((row, col), (row, col))
    while top is not None and top.parent is not None and top.parent.start_point[0] == row:
        top = top.parent  # the outermost node that starts on this line
    node = (
        next((n for n in walk(top) if n.start_point[0] == row and n.type in _STATEMENTS), None)
        if top
        else None
    )
    if node is None:
        return None
    where = _where(gofile.path, line)
    if node.type == "select_statement":
        s = select_facts(node)
        if s["cancel"]:
            return (
                (),
                ("time-after-ignores-ctx",),
                f"source: the select at {where} has a cancellation case ({s['cancel'][0]}): its goroutines "
                "wait for a context or a done channel nobody cancels or closes",
            )
        way = (
            f"its only way out is a timer ({s['timer'][0]})"
            if s["timer"]
            else "no timer case either"
        )
        return (
            ("time-after-ignores-ctx", "callbacks-never-unregistered", "worker-never-stopped"),
            (),
            f"source confirms: the select at {where} has no ctx.Done() case; {way}",
        )
    if node.type == "for_statement":
        rc = next((c for c in node.named_children if c.type == "range_clause"), None)
        if rc is None:
            return None
        expr = node_text(rc.child_by_field_name("right"))
        return _closed(gofile, expr, where, "the loop at {where} ranges over {expr}")
    if node.type == "unary_expression" and node_text(node).startswith("<-"):
        expr = node_text(node.child_by_field_name("operand"))
        return _closed(gofile, expr, where, "the receive at {where} is on {expr}")
    if node.type == "send_statement":
        ch = node_text(node.child_by_field_name("channel"))
        name = re.escape(re.findall(r"\w+", ch)[-1]) if re.findall(r"\w+", ch) else "$^"
        text = "\n".join(f.source.decode("utf-8", "replace") for f in _siblings(gofile))
        m = re.search(
            rf"\b{name}\s*(?::=|=|:)\s*make\(\s*chan\s+[^,()]+(?:\([^)]*\))?\s*(,\s*[^)]+)?\)", text
        )
        if m and not m.group(1):
            return (
                ("unconsumed-result", "lock-across-channel"),
                (),
                f"source confirms: the send at {where} is on {ch}, an unbuffered channel",
            )
    return None


def _siblings(gofile: GoFile) -> list[GoFile]:
    out = []
    for p in sorted(gofile.path.parent.glob("*.go")):
        try:
            f = parse_go(p)
        except SourceError:
            continue
        if f.package == gofile.package:
            out.append(f)
    return out


def _closed(gofile: GoFile, expr: str, where: str, what: str):
    names = re.findall(r"\w+", expr)
    if not names or names[-1] == "C":
        return None
    text = "\n".join(f.source.decode("utf-8", "replace") for f in _siblings(gofile))
    closes = [
        m
        for m in re.findall(r"\bclose\(\s*([^()]+?)\s*\)", text)
        if re.findall(r"\w+", m)[-1:] == names[-1:]
    ]
    lead = what.format(where=where, expr=expr)
    if closes:
        return (
            (),
            ("receive-never-closed",),
            f"source: {lead}, which the package closes (close({closes[0]}))",
        )
    return (
        ("receive-never-closed", "worker-never-stopped", "callbacks-never-unregistered"),
        (),
        f"source confirms: {lead}, which nothing in package {gofile.package} closes",
    )


def _tree_evidence(index: SourceIndex, stack: list, pattern: str, line_support: list[str]):
    """Findings elsewhere in the packages of the stack (or the whole tree when no frame of it is
    in the tree) that support ``pattern`` when the blocking line itself does not."""
    if not pattern or pattern in line_support:
        return [], [], []
    dirs = []
    for _, file, _, cls in stack:
        r = index.tree.resolve(file) if file and cls in _APP else None
        if r is not None and r.path is not None and r.path.parent not in dirs:
            dirs.append(r.path.parent)
    where = ""
    if not dirs:  # nothing of the stack is in the tree (net/http's own goroutines): look everywhere
        dirs = sorted({p.parent for p in index.tree.files(tests=index.tests)})
        where = " (elsewhere in the tree)"
    hits = [
        f
        for d in dirs
        for f in index.package_findings(d)
        if pattern in _RULE[f["rule_id"]].patterns
    ]
    if not hits:
        return [], [], []
    hits.sort(
        key=lambda f: _RULE[f["rule_id"]].patterns.index(pattern)
    )  # the most specific rule first
    sentences = [
        f"source{where}: {_where(f['file'], f['line'])}: {f['message']} ({f['rule_id']})"
        for f in hits[:2]
    ]
    return [pattern], sentences, [f["rule_id"] for f in hits[:2]]


def _is_leak(pattern: str) -> bool:
    try:
        return not pattern or by_id(pattern).leak
    except KeyError:
        return True


def _verdict(
    out: dict, row: dict, facts: tuple, sentences: list[str], tree_support: list[str]
) -> None:
    """Move the score a little, and the pattern when a rule at the blocking line names another leak."""
    support, strong, against = facts
    pattern = row["pattern"] or ""
    leak = _is_leak(pattern)
    out["source_evidence"] = sentences
    if pattern and pattern in against:
        out["source_verdict"] = "contradicts"
        if leak:
            out["score"] = round(row["score"] - 0.5, 3)
        return
    if pattern and pattern in support:
        out["source_verdict"] = "confirms"
        out["score"] = round(row["score"] + (0.5 if leak else 0.0), 3)
        return
    if pattern and pattern in tree_support:
        out["source_verdict"] = "confirms"
        out["score"] = round(row["score"] + (0.25 if leak else 0.0), 3)
        return
    # a rule at the blocking line may rename a leak pattern; a cluster that matched none, and has
    # grown, may take its name from the go statement too (a flat one is left alone: healthy
    # loops wait at constructs that rules flag as well)
    counts = row.get("counts") if isinstance(row.get("counts"), list) else []
    grew = len(counts) > 1 and counts[-1] >= 3 and counts[-1] > counts[0]
    leaks = [p for p in (strong if pattern else support) if _is_leak(p)]
    if leaks and leak and (row["score"] >= 1.0 or (not pattern and grew)):
        p = by_id(leaks[0])
        out.update(
            source_verdict="suggests",
            pattern=p.id,
            title=p.title,
            advice=p.advice,
            score=round(row["score"] + (0.3 if row["score"] >= 1.0 else 0.0), 3),
        )
        out["source_evidence"] = [
            *sentences,
            f"source suggests the pattern {p.id} rather than {pattern or 'none'}",
        ]
