"""The ground truth of a scenario series, read off the service's own registry, not our parser.

Each scenario service knows which goroutine ids it started for which cause and serves them at
``/debug/truth``; this module reads the dumps with a small reader of its own (on purpose not
:mod:`goforensics.read.parse`, so the truth does not inherit the parser's mistakes) and labels
every goroutine of every snapshot.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from goforensics.read.series import MANIFEST

__all__ = ["GOROUTINE_HEADER", "Stack", "label_series", "read_stacks"]

# --- reading dumps for the truth (on purpose not goforensics.read.parse) ----------------------------------

GOROUTINE_HEADER = re.compile(r"^goroutine (\d+)(?: gp=\S+ m=\S+(?: mp=\S+)?)? \[([^\]]*)\]")
_CREATED = re.compile(r"^created by (\S+?)(?: in goroutine (\d+))?$")


@dataclass
class Stack:
    """What the truth needs of one goroutine of a ``debug=2`` dump."""

    goid: int
    state: str
    entry: str  # the outermost function of its own stack
    created_by: str
    creator: int | None
    top: str


def _func_name(line: str) -> str:
    # "pkg.(*T).m(0x1, ...)" -> "pkg.(*T).m"; generics keep their "[...]"
    depth, i = 0, 0
    for i, c in enumerate(line):
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c == "(" and depth == 0 and i > 0 and line[i - 1] != ".":
            return line[:i]
    return line.rstrip()


def read_stacks(text: str) -> list[Stack]:
    """The goroutines of a ``debug=2`` dump: id, state, entry function, creator.

    A deliberately small reader, independent of :mod:`goforensics.read.parse`, so that
    the ground truth never depends on the code it is used to test.

    >>> s = read_stacks("goroutine 7 [chan send]:\\nmain.f.func1()\\n\\t/m.go:9 +0x1\\n"
    ...                 "created by main.f in goroutine 1\\n\\t/m.go:8 +0x2\\n")
    >>> (s[0].goid, s[0].state, s[0].entry, s[0].created_by, s[0].creator)
    (7, 'chan send', 'main.f.func1', 'main.f', 1)
    """
    out: list[Stack] = []
    cur: list[str] = []
    head: re.Match | None = None

    def flush() -> None:
        if head is None:
            return
        funcs = [
            ln
            for ln in cur
            if ln and not ln[0].isspace() and not ln.startswith(("created by ", "..."))
        ]
        created, creator = "", None
        for ln in cur:
            m = _CREATED.match(ln)
            if m:
                created, creator = m.group(1), int(m.group(2)) if m.group(2) else None
        # runtime.goexit closes the stack of a goroutine that has not run yet: not its entry
        names = [n for n in (_func_name(f) for f in funcs) if n != "runtime.goexit"]
        state = re.sub(r",.*$", "", head.group(2)).removesuffix(" (leaked)")
        out.append(
            Stack(
                int(head.group(1)),
                state,
                names[-1] if names else "",
                created,
                creator,
                names[0] if names else "",
            )
        )

    for line in text.splitlines():
        m = GOROUTINE_HEADER.match(line)
        if m:
            flush()
            head, cur = m, []
        elif head is not None:
            if line.startswith("[originating from goroutine"):
                flush()
                head = None  # ancestors are not goroutines of this snapshot
            else:
                cur.append(line)
    flush()
    return out


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


# --- ground truth of a scenario series ---------------------------------------------------------------

_SYSTEM = ("runtime.", "os/signal.", "internal/", "syscall.")
RUNTIME_CAUSE = {
    "name": "runtime",
    "leak": False,
    "pattern": "runtime",
    "about": "goroutines the Go runtime and standard library run for themselves (signals, finalizers)",
}
UNATTRIBUTED = {
    "name": "unattributed",
    "leak": False,
    "pattern": "unknown",
    "about": "goroutines the service's registry and rules could not place (should be none)",
}


def _is_std(function: str) -> bool:
    """Is this function in Go's standard library (its import path's first element has no dot)?"""
    path = function.split("(", 1)[0]
    slash = path.rfind("/")
    pkg = path[: slash + 1 + path[slash + 1 :].find(".")] if "." in path[slash + 1 :] else path
    first = pkg.split("/", 1)[0]
    return "." not in first and first != "main"


def _role(entry: str) -> str:
    return entry.rsplit("/", 1)[-1]


def _label_snapshot(stacks: list[Stack], regs: list[dict[int, list]], siblings: dict) -> list[dict]:
    """Label one snapshot: registry, then runtime entries, then the creator's cause, then siblings."""
    by_id = {s.goid: s for s in stacks}
    done: dict[int, dict] = {}

    def registered(goid: int | None) -> list | None:
        if goid is None:
            return None
        for reg in regs:
            if goid in reg:
                return reg[goid]
        return None

    def resolve(s: Stack, seen: frozenset = frozenset()) -> dict:
        if s.goid in done:
            return done[s.goid]
        r = registered(s.goid)
        if r is not None:
            out = {"cause": r[1], "role": r[2], "how": "registry", "_children": r[3] or r[1]}
        elif s.entry.startswith(_SYSTEM) or s.created_by.startswith(("runtime.", "os/signal.")):
            out = {
                "cause": "runtime",
                "role": _role(s.entry),
                "how": "runtime",
                "_children": "runtime",
            }
        elif not _is_std(s.entry) and (s.entry, s.created_by) in siblings:
            cause, role = siblings[
                (s.entry, s.created_by)
            ]  # the service's own code, caught before it ran
            out = {"cause": cause, "role": role, "how": "sibling", "_children": cause}
        else:
            parent = registered(s.creator)
            if parent is not None:
                cause = parent[3] or parent[1]
                out = {"cause": cause, "role": _role(s.entry), "how": "creator", "_children": cause}
            elif s.creator in by_id and s.creator not in seen:
                p = resolve(by_id[s.creator], seen | {s.goid})
                how = "creator" if p["how"] != "none" else "none"
                out = {
                    "cause": p["_children"],
                    "role": _role(s.entry),
                    "how": how,
                    "_children": p["_children"],
                }
            elif (s.entry, s.created_by) in siblings:
                cause, role = siblings[(s.entry, s.created_by)]
                out = {"cause": cause, "role": role, "how": "sibling", "_children": cause}
            else:
                out = {
                    "cause": UNATTRIBUTED["name"],
                    "role": _role(s.entry),
                    "how": "none",
                    "_children": UNATTRIBUTED["name"],
                }
        done[s.goid] = out
        return out

    return [{"goid": s.goid, **resolve(s)} for s in stacks]


def label_series(series_dir: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """Ground truth of a captured scenario series: ``(truth, causes)``.

    Reads the series' ``manifest.json``, its ``debug=2`` dumps and the
    ``/debug/truth`` answer captured right after each dump (``extras`` named
    ``truth``). Each goroutine is labelled, in order, by the service's registry
    (that round's answer, then the next round's for a goroutine caught before its
    first statement), as a runtime goroutine, by its creator's cause (goroutines
    the standard library starts for the service: ``conn.serve``, ``readLoop``...),
    or by registered goroutines of the same entry function and creator.
    ``snapshot`` numbers follow :func:`goforensics.load` on the directory.
    """
    d = Path(series_dir)
    doc = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
    snaps = doc["snapshots"]
    # numbered as gf.load numbers them (capture time, then manifest order); only debug=2 dumps
    # carry goroutine ids to label
    order = sorted(range(len(snaps)), key=lambda i: (pd.Timestamp(snaps[i]["taken_at"]), i))
    numbers = {i: k for k, i in enumerate(order)}
    order = [i for i in order if snaps[i].get("debug", 2) == 2]
    truths = {e["round"]: d / e["file"] for e in doc.get("extras", []) if e["name"] == "truth"}
    regs: dict[int, dict[int, list]] = {}
    causes: dict[str, dict] = {}
    for rnd, p in truths.items():
        t = json.loads(_read_text(p))
        regs[rnd] = {g[0]: g for g in t["goroutines"]}
        for c in t["causes"]:
            causes.setdefault(c["name"], c)
    stacks = {i: read_stacks(_read_text(d / snaps[i]["file"])) for i in order}
    # entry function and creator -> cause, from registered goroutines anywhere in the series
    votes: dict[tuple[str, str], Counter] = {}
    for i, ss in stacks.items():
        reg = regs.get(snaps[i]["round"], {})
        for s in ss:
            if s.goid in reg:
                votes.setdefault((s.entry, s.created_by), Counter())[
                    (reg[s.goid][1], reg[s.goid][2])
                ] += 1
    siblings = {k: v.most_common(1)[0][0] for k, v in votes.items()}
    rows = []
    for i in order:
        snap = numbers[i]
        rnd = snaps[i]["round"]
        rr = [regs[r] for r in (rnd, rnd + 1) if r in regs]
        for row in _label_snapshot(stacks[i], rr, siblings):
            row.pop("_children")
            rows.append({"snapshot": snap, **row})
    truth = pd.DataFrame(rows, columns=["snapshot", "goid", "cause", "role", "how"])
    used = set(truth["cause"])
    for extra in (RUNTIME_CAUSE, UNATTRIBUTED):
        if extra["name"] in used:
            causes.setdefault(extra["name"], extra)
    leak = {c["name"]: bool(c["leak"]) for c in causes.values()}
    pattern = {c["name"]: c["pattern"] for c in causes.values()}
    truth.insert(3, "leak", truth["cause"].map(leak).astype(bool))
    truth.insert(4, "pattern", truth["cause"].map(pattern))
    return truth, list(causes.values())
