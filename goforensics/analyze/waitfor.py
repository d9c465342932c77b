"""The wait-for graph: goroutines -> the channels, locks and WaitGroups they wait on -> their
inferred holders; and the deadlock cycles in it.

Addresses come from the sync frames' arguments (:data:`goforensics.goruntime.SYNC_FRAMES`); a
lock's holder is inferred from the goroutines that hold its struct as receiver or argument, or,
failing that, from those of the right receiver type.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from ..goruntime import OWNED_KINDS, STATE_KIND, SYNC_FRAMES, is_blocked, is_sync_plumbing
from ..model import Dumps
from .lifetimes import last_snapshot

__all__ = [
    "MAX_TYPE_CANDIDATES",
    "Blocker",
    "blocked_on",
    "deadlock_cycles",
    "node_text",
    "own_frames",
    "stack_lists",
    "wait_for_graph",
]

# The most goroutines a lock's holder is guessed among by receiver type alone (see wait_for_graph).
MAX_TYPE_CANDIDATES = 32


def own_frames(dumps: Dumps, stack_ids) -> pd.DataFrame:
    """The frames of the goroutines' own stacks (not their creators' or ancestors'), by depth.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    stack_ids : array-like
        The ``stack_id`` values whose frames to keep.

    Returns
    -------
    pandas.DataFrame
        Rows of ``dumps.frames`` (same columns: ``stack_id``, ``section``, ``depth``,
        ``function``, ``package``, ``receiver``, ``method``, ``file``, ``line``, ``offset``,
        ``args``, ``inlined``, ``elided_before``, ``frame_class``) of section 0, sorted by
        ``stack_id`` then ``depth`` (top frame first).

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 7 [chan receive]:\\nmain.worker()\\n\\t/app/w.go:12 +0x1d\\n"
    ...     "main.run()\\n\\t/app/w.go:30 +0x2a\\n"
    ... )
    >>> own_frames(d, d.goroutines["stack_id"].unique())[["depth", "function", "line"]]
       depth     function  line
    0      0  main.worker    12
    1      1     main.run    30
    """
    f = dumps.frames
    f = f[(f["section"] == 0) & f["stack_id"].isin(stack_ids)]
    return f.sort_values(["stack_id", "depth"], kind="stable")


def stack_lists(frames: pd.DataFrame) -> dict:
    """stack_id -> (functions, files, lines) of frames sorted by stack and depth: one pass,
    no pandas work per stack.

    Parameters
    ----------
    frames : pandas.DataFrame
        Frames with ``stack_id``, ``function``, ``file`` and ``line`` columns, sorted by
        stack and depth (as :func:`own_frames` returns them).

    Returns
    -------
    dict
        ``stack_id`` -> a tuple of three lists: functions, files and lines, top frame first.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 7 [chan receive]:\\nmain.worker()\\n\\t/app/w.go:12 +0x1d\\n"
    ...     "main.run()\\n\\t/app/w.go:30 +0x2a\\n"
    ... )
    >>> lists = stack_lists(own_frames(d, d.goroutines["stack_id"].unique()))
    >>> list(lists.values())
    [(['main.worker', 'main.run'], ['/app/w.go', '/app/w.go'], [12, 30])]
    """
    sid = frames["stack_id"].to_numpy()
    if not len(sid):
        return {}
    fns = frames["function"].astype(str).tolist()
    files = frames["file"].astype(str).tolist()
    lines = frames["line"].tolist()
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]]).tolist()
    ends = [*starts[1:], len(sid)]
    return {sid[a]: (fns[a:b], files[a:b], lines[a:b]) for a, b in zip(starts, ends, strict=True)}


_ARG_SPLIT = re.compile(r",\s*(?![^{]*\})")


def _first_arg(args: str) -> tuple[int | None, bool]:
    """First argument word as an int, and whether the runtime marked it uncertain ('?')."""
    if not args or args == "...":
        return None, False
    first = _ARG_SPLIT.split(args, maxsplit=1)[0].strip().lstrip("{").rstrip("}")
    first = first.split(",")[0].strip()
    uncertain = first.endswith("?")
    first = first.rstrip("?")
    if not first.startswith("0x"):
        return None, uncertain
    try:
        v = int(first, 16)
    except ValueError:
        return None, uncertain
    return (v if v else None), uncertain


@dataclass(frozen=True)
class Blocker:
    """The primitive a goroutine is blocked on, as far as its frames tell.

    Where the runtime prints no usable address for the primitive (Go 1.17+ register
    arguments often read ``0x0?``, and ``sync`` frames are inlined), the receiver of the
    method that asked to wait identifies it instead: the primitive is then taken to be
    a field of that struct (``owner``, of type ``owner_type``).
    """

    kind: str  # chan, mutex, rwmutex, waitgroup, cond, fd, select, sleep, nil chan, ...
    address: int | None  # the primitive's address, when the dump reveals it
    depth: int  # frame that revealed it
    caller_depth: int  # first frame outside runtime/sync: the code that asked to wait
    certain: bool  # False when the address came from a '?'-marked register argument
    owner: int | None = None  # receiver of the caller, when the address is unknown
    owner_type: str = ""

    @property
    def resource(self) -> tuple | None:
        """A node id for the wait-for graph: by address, else by owning struct."""
        if self.address is not None:
            return (self.kind, self.address)
        if self.owner is not None:
            return (self.kind, self.owner_type, self.owner)
        return None

    @property
    def key(self) -> str | None:
        if self.address is not None:
            return f"{self.kind}:{self.address:#x}"
        if self.owner is not None:
            return f"{self.kind}:{self.owner_type}@{self.owner:#x}"
        return None


@dataclass(frozen=True)
class _Plan:
    """What a (state, stack) pair says before any argument is read: the same for every
    goroutine on that stack, so computed once per stack."""

    kind: str | None
    caller: int
    candidates: tuple[tuple[int, str, int], ...]  # (depth, kind, address adjustment)
    owner_type: str  # receiver type of the caller frame, for primitives known by their owner


def _plan(state: str, functions: list[str]) -> _Plan:
    kind = STATE_KIND.get(state)
    caller = next(
        (i for i, fn in enumerate(functions) if not is_sync_plumbing(fn)), len(functions) - 1
    )
    cands = []
    if kind is not None:
        for i, fn in enumerate(functions[: caller + 1]):
            spec = SYNC_FRAMES.get(fn)
            if spec is None:
                continue
            k, adjust = spec
            if k == kind or (
                kind in ("mutex", "rwmutex", "semaphore") and k in ("mutex", "rwmutex")
            ):
                cands.append((i, k, adjust))
    owner_type = ""
    if kind in OWNED_KINDS and 0 <= caller < len(functions):
        owner_type = _receiver_of(functions[caller])
    return _Plan(kind, caller, tuple(cands), owner_type)


def _resolve(plan: _Plan, args: list[str]) -> Blocker | None:
    if plan.kind is None:
        return None
    best: tuple[str, int, int, bool] | None = None
    for i, k, adjust in plan.candidates:
        addr, uncertain = _first_arg(args[i] if i < len(args) else "")
        if addr is None:
            continue
        # prefer certain over uncertain, then outer over inner
        if (
            best is None
            or (not uncertain and not best[3])
            or ((not uncertain) == best[3] and i > best[2])
        ):
            best = (k, addr + adjust, i, not uncertain)
    if best is not None:
        return Blocker(best[0], best[1], best[2], plan.caller, best[3])
    owner = None
    if plan.owner_type:
        a, uncertain = _first_arg(args[plan.caller] if plan.caller < len(args) else "")
        if a is not None and not uncertain:
            owner = a
    return Blocker(
        plan.kind, None, plan.caller, plan.caller, True, owner, plan.owner_type if owner else ""
    )


def blocked_on(state: str, functions: list[str], args: list[str]) -> Blocker | None:
    """Which primitive a goroutine waits on, from its state and its frames (top first).

    The outermost sync frame with a concrete receiver wins (``RWMutex.Lock`` over the
    ``Mutex`` inside it); the semaphore address is used when it is all there is.

    Parameters
    ----------
    state : str
        The goroutine's wait state.
    functions : list of str
        Its functions, top first.
    args : list of str
        Each frame's arguments as printed, top first.

    Returns
    -------
    Blocker or None
        The primitive (its ``kind``, ``address``, the ``caller_depth`` of the code that asked
        to wait ...), or None where the goroutine waits on no primitive the stack names.

    Examples
    --------
    >>> b = blocked_on("sync.Mutex.Lock",
    ...     ["internal/sync.runtime_SemacquireMutex", "internal/sync.(*Mutex).lockSlow", "main.get"],
    ...     ["0xc0000140ac?, 0x0?, 0x0?", "0xc0000140a8", "0x0?"])
    >>> b.key, b.caller_depth
    ('mutex:0xc0000140a8', 2)
    """
    return _resolve(_plan(state, functions), args)


def _pointer_args(args: str) -> list[int]:
    """Argument words that can be pointers (certain, non-zero hex words)."""
    out = []
    for tok in re.split(r"[{},\s]+", args):
        if tok.startswith("0x") and not tok.endswith("?"):
            try:
                v = int(tok, 16)
            except ValueError:
                continue
            if v > 0xFFFF:
                out.append(v)
    return out


def _receiver_of(fn: str) -> str:
    m = re.match(r"^(.*?)\.\((\*?[^)]+)\)\.", fn)
    return f"{m.group(1)}.{m.group(2)}" if m else ""


def wait_for_graph(
    dumps: Dumps,
    *,
    snapshot: int | None = None,
    max_offset: int = 4096,
    max_candidates: int = MAX_TYPE_CANDIDATES,
) -> nx.DiGraph:
    """Goroutines and the primitives they wait on; inferred lock holders; deadlock-ready.

    Nodes: goroutines ``("g", instance, goid)`` with ``state``, ``function`` (where it
    waits in its own code), ``file``, ``line``; and resources ``(kind, address)`` or,
    where only the owning struct is known, ``(kind, owner_type, owner)``, with ``kind``
    (chan, mutex, rwmutex, waitgroup, cond, fd), ``address``, ``owner``, ``owner_type``.
    Edges:

    - goroutine -> resource ``relation="waits"``: the goroutine is blocked on it;
    - resource -> goroutine ``relation="held-by"``: the lock holder, inferred where the
      evidence allows (``evidence`` says how, ``confidence`` in (0, 1]):

      * *receiver*: the waiters lock a mutex inside a struct (the mutex address is a few
        bytes after the receiver of the method that called Lock) and another goroutine,
        blocked on something else, runs a method on that same receiver;
      * *argument*: failing that, another goroutine waiting for a lock whose calling frame
        was passed that same struct (``transfer(from, to *account)`` in opposite orders);
      * *type*: where register arguments hide the addresses, a goroutine blocked on
        something else inside a method of the same receiver type as the waiters' callers;
        when more than ``max_candidates`` goroutines qualify, no edge is drawn (one to each
        would cost every lock of a type times every goroutine in its methods, for a
        confidence under 0.02): the resource node carries ``candidates``, their number, and
        ``candidate_set``, a frozenset of their nodes shared by the locks of one type (the
        lock's own waiters in it are not candidates).

    Goroutines blocked on a channel while holding a mutex others wait for are the
    "lock held across a channel operation" pattern; a cycle is a deadlock (see
    :func:`deadlock_cycles`). Only one snapshot is used: the last one by default.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int, optional
        The snapshot to look at (default: the last one).
    max_offset : int, default 4096
        How many bytes past a struct's address a lock may lie and still be its field.
    max_candidates : int, default MAX_TYPE_CANDIDATES
        The most goroutines a holder is guessed among by receiver type alone.

    Returns
    -------
    networkx.DiGraph
        Goroutine and resource nodes with ``waits`` and ``held-by`` edges, as above.

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text(
    ...     "goroutine 7 [chan receive]:\\nmain.worker()\\n\\t/app/w.go:12 +0x1d\\n"
    ...     "main.run()\\n\\t/app/w.go:30 +0x2a\\n"
    ... )
    >>> G = wait_for_graph(d)
    >>> n = G.nodes["g", "", 7]
    >>> n["state"], n["function"], n["line"]
    ('chan receive', 'main.worker', 12)
    """
    g = dumps.goroutines
    snapshot = last_snapshot(dumps, snapshot)
    g = g[(g["snapshot"] == snapshot) & g["goid"].notna() & is_blocked(g["state"])]
    G = nx.DiGraph()
    if g.empty:
        return G
    by_stack = stack_lists(own_frames(dumps, g["stack_id"].unique()))
    # stack -> frames with a receiver
    recv_frames = {
        sid: [(i, t) for i, fn in enumerate(fns) if (t := _receiver_of(fn))]
        for sid, (fns, _, _) in by_stack.items()
    }
    info, waiters = _goroutine_nodes(G, g, by_stack)
    _resource_nodes(G, waiters)
    if any(res[0] in ("mutex", "rwmutex") for res in waiters):
        _infer_holders(G, waiters, info, recv_frames, max_offset, max_candidates)
    return G


def _goroutine_nodes(G: nx.DiGraph, g: pd.DataFrame, by_stack: dict) -> tuple[list, dict]:
    """Add a node per blocked goroutine; return (node, blocker, stack, args) per goroutine
    and the waiters of each resource. Plans and node attributes are made once per stack."""
    info = []
    waiters: dict[tuple, list] = defaultdict(list)
    plans: dict[tuple, _Plan] = {}
    nodes, attrs = [], []
    node_attrs: dict[tuple, dict] = {}  # per (plan, caller depth): goroutines on a stack share them
    for inst, goid, state, sid, args in zip(
        g["instance"].astype(str).tolist(),
        g["goid"].tolist(),
        g["state"].astype(str).tolist(),
        g["stack_id"].tolist(),
        g["args"].fillna("").tolist(),
        strict=True,
    ):
        fns, files, lines = by_stack.get(sid, ([], [], []))
        plan = plans.get((state, sid))
        if plan is None:
            plan = plans[(state, sid)] = _plan(state, fns)
        b = _resolve(plan, args.split("\n") if plan.candidates or plan.owner_type else [])
        node = ("g", inst, int(goid))
        cd = b.caller_depth if b else 0
        na = node_attrs.get((state, sid, cd))
        if na is None:
            known = 0 <= cd < len(fns)  # -1: no frame outside the runtime (or an empty stack)
            na = node_attrs[(state, sid, cd)] = {
                "kind": "goroutine",
                "state": state,
                "function": fns[cd] if known else "",
                "file": files[cd] if known else "",
                "line": None if not known or pd.isna(lines[cd]) else int(lines[cd]),
            }
        nodes.append(node)
        attrs.append(na)
        entry = (node, b, sid, args)
        info.append(entry)
        res = b.resource if b is not None else None
        if res is not None:
            waiters[res].append(entry)
    G.add_nodes_from(zip(nodes, attrs, strict=True))
    return info, waiters


def _resource_nodes(G: nx.DiGraph, waiters: dict) -> None:
    """Add a node per resource and a ``waits`` edge from each of its waiters."""
    for res, ws in waiters.items():
        b = ws[0][1]
        if b.address is not None:
            G.add_node(res, kind=b.kind, address=f"{b.address:#x}", owner=None, owner_type="")
        else:
            G.add_node(
                res, kind=b.kind, address=None, owner=f"{b.owner:#x}", owner_type=b.owner_type
            )
        G.add_edges_from(
            (w[0], res, {"relation": "waits", "certain": w[1].certain and w[1].address is not None})
            for w in ws
        )


def _receivers(entry: tuple, recv_frames: dict) -> list[tuple[int, str, int | None]]:
    """(depth, receiver type, receiver address) of a goroutine's method frames, plus
    (-1, "", pointer arguments of the frame that asked to wait)."""
    _node, b, sid, args = entry
    args = args.split("\n")
    out = []
    for i, t in recv_frames.get(sid, ()):
        a, unc = _first_arg(args[i] if i < len(args) else "")
        out.append((i, t, a if not unc else None))
    if b is not None and 0 <= b.caller_depth < len(args):
        out.append((-1, "", _pointer_args(args[b.caller_depth])))
    return out


def _holder_index(waiters: dict, info: list, recv_frames: dict) -> dict:
    """Goroutines that could hold a lock, indexed by receiver address (``addr``) and type
    (``type``); lock waiters by their calling frame's pointer arguments (``arg``); and each
    indexed node's receivers (``recv``)."""
    # A holder runs a method of the struct that holds the lock: only goroutines with a frame
    # of a receiver type some waiter's caller has can hold one. Index those (and the
    # waiters) by receiver address and type, rather than reading every goroutine's args.
    lock_waiters = [w for res, ws in waiters.items() if res[0] in ("mutex", "rwmutex") for w in ws]
    wanted = {
        t for w in lock_waiters for d, t in recv_frames.get(w[2], ()) if d >= w[1].caller_depth
    }
    stacks = {sid for sid, fr in recv_frames.items() if any(t in wanted for _, t in fr)}
    ix: dict = {
        "addr": defaultdict(list),
        "type": defaultdict(set),
        "arg": defaultdict(list),
        "recv": {},
    }
    waiting_nodes = {w[0] for w in lock_waiters}
    for entry in info:
        node = entry[0]
        if entry[2] not in stacks and node not in waiting_nodes:
            continue
        recv = ix["recv"][node] = _receivers(entry, recv_frames)
        for d, t, a in recv:
            if t:
                ix["type"][t].add(node)
                if a is not None:
                    ix["addr"][a].append(node)
            elif d == -1 and node in waiting_nodes:
                for x in a:
                    ix["arg"][x].append(node)
    return ix


def _owners(res: tuple, ws: list, ix: dict, max_offset: int) -> tuple[set[int], set[str]]:
    """The structs that hold a lock (their addresses) and their receiver types."""
    owners: set[int] = set()
    types: set[str] = set()
    if len(res) == 3:  # identified by its owner already
        return {res[2]}, {res[1]}
    addr = res[1]
    for w in ws:
        recv, b = ix["recv"][w[0]], w[1]
        # the struct holding the mutex: the closest pointer argument of the calling frame at
        # or below the mutex's address (a receiver, or an argument as in a.transferTo(b)
        # locking b.mu)
        near = [a for d, _, args in recv if d == -1 for a in args if 0 <= addr - a < max_offset]
        if near:
            owners.add(max(near))
        for depth, t, _a in recv:
            if depth < b.caller_depth or not t or is_sync_plumbing(t):
                continue
            types.add(t)
            break
    return owners, types


def _infer_holders(
    G: nx.DiGraph,
    waiters: dict,
    info: list,
    recv_frames: dict,
    max_offset: int,
    max_candidates: int,
) -> None:
    ix = _holder_index(waiters, info, recv_frames)
    union: dict[frozenset, frozenset] = {}  # receiver types -> goroutines in their methods
    for res, ws in waiters.items():
        if res[0] not in ("mutex", "rwmutex"):
            continue
        # a goroutine waiting for this lock is not its holder (nor is one that waits for it
        # through another frame: the same resource)
        waiting = {w[0] for w in ws}
        owners, types = _owners(res, ws, ix, max_offset)
        holders = {n for o in owners for n in ix["addr"].get(o, ()) if n not in waiting}
        for node in sorted(holders):
            G.add_edge(res, node, relation="held-by", evidence="receiver", confidence=0.9)
        if holders:
            continue
        # plain functions (transfer(from, to *account) locking from.mu, then to.mu): a
        # goroutine waiting for another lock, called with the struct that holds this one
        holders = sorted({n for o in owners for n in ix["arg"].get(o, ()) if n not in waiting})
        for node in holders:
            G.add_edge(
                res,
                node,
                relation="held-by",
                evidence="argument",
                confidence=round(0.6 / len(holders), 3),
            )
        if holders or not types:
            continue
        key = frozenset(types)
        if key not in union:
            union[key] = frozenset(n for t in types for n in ix["type"].get(t, ()))
        cands = union[key]
        n = len(cands) - sum(1 for w in waiting if w in cands)
        if n > max_candidates:
            # any of many could hold it: an edge to each costs every lock of a type times
            # every goroutine in its methods; the set is shared by the locks of one type
            G.nodes[res]["candidates"] = n
            G.nodes[res]["candidate_set"] = cands
            continue
        cands = sorted(c for c in cands if c not in waiting)
        for node in cands:
            G.add_edge(
                res,
                node,
                relation="held-by",
                evidence="type",
                confidence=round(0.6 / len(cands), 3),
            )


def node_text(n: tuple) -> str:
    """How a wait-for graph node reads in a sentence.

    Parameters
    ----------
    n : tuple
        A node of the wait-for graph: ``("g", instance, goid)`` or ``(kind, [type,] address)``.

    Returns
    -------
    str
        The node in words.

    Examples
    --------
    >>> node_text(("g", "", 7)), node_text(("mutex", 0xc000010)), node_text(("mutex", "main.store", 0xc000010))
    ('goroutine 7', 'mutex 0xc000010', 'mutex in main.store@0xc000010')
    """
    if n[0] == "g":
        return f"goroutine {n[2]}" + (f" ({n[1]})" if n[1] else "")
    if len(n) == 2:
        return f"{n[0]} {n[1]:#x}"
    return f"{n[0]} in {n[1]}@{n[2]:#x}"


def deadlock_cycles(G: nx.DiGraph, *, min_confidence: float = 0.0, limit: int = 100) -> list[list]:
    """Cycles of the wait-for graph: goroutine -> resource -> holder -> ... -> goroutine.

    Each cycle is the list of its nodes; only held-by edges of at least
    ``min_confidence`` take part.

    Parameters
    ----------
    G : networkx.DiGraph
        A wait-for graph (:func:`wait_for_graph`).
    min_confidence : float, default 0.0
        Held-by edges below this confidence are left out.
    limit : int, default 100
        The most cycles returned.

    Returns
    -------
    list of list
        Each cycle as the list of its nodes.

    Examples
    --------
    >>> G = nx.DiGraph()
    >>> G.add_edge(("g", "", 1), ("mutex", 16), relation="waits")
    >>> G.add_edge(("mutex", 16), ("g", "", 2), relation="held-by", confidence=0.9)
    >>> G.add_edge(("g", "", 2), ("mutex", 32), relation="waits")
    >>> G.add_edge(("mutex", 32), ("g", "", 1), relation="held-by", confidence=0.9)
    >>> len(deadlock_cycles(G))
    1
    """
    # Integer nodes numbered in the graph's order: networkx walks sets of nodes, and the
    # order of a set of string tuples changes from process to process (hash seeds), which
    # would change which cycles a limit keeps.
    ids = {n: i for i, n in enumerate(G)}
    H = nx.DiGraph()
    for a, b, d in G.edges(data=True):
        if d.get("relation") == "waits" or d.get("confidence", 0) >= min_confidence:
            H.add_edge(ids[a], ids[b])
    nodes = list(G)
    out = []
    # cycles live inside strongly connected components: look only there
    for comp in sorted(nx.strongly_connected_components(H), key=min):
        if len(comp) < 2:
            continue
        for cyc in nx.simple_cycles(H.subgraph(sorted(comp))):
            out.append([nodes[i] for i in cyc])
            if len(out) >= limit:
                return sorted(out, key=lambda c: (len(c), str(c)))
    return sorted(out, key=lambda c: (len(c), str(c)))
