"""Inputs for benchmarks/fuzz.py: structured dumps drawn by hypothesis, and mutations of real dumps.

A :class:`Case` is a file or a folder (files, symlinks) and what loading it must give when that is
known: ``expect`` goroutines (the ``goroutine N [`` headers the generator wrote, or the sum of a
profile's counts), or ``expect_ref`` (the count of an unmodified corpus file times a factor, for
mutations that must not change what is read: line ends, log prefixes, wrappers, gzip, a symlink
loop). Everything is drawn from one seeded ``random.Random`` or from a seeded hypothesis run, so a
seed gives the same cases again.

The structured model and its rendering are the property tests' own (tests/test_properties.py:
the runtime's header, label quoting, frames, created-by, elided markers, ancestors, crash headers,
debug=1 buckets and the log dialects); this module adds the dialects and containers those tests
do not cover (CR-only, klog, docker compose, syslog, gzip, profile.proto) and the mutations.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import test_properties as tp  # noqa: E402  (the property tests' model of a dump)
from hostile import varint  # noqa: E402  (the protobuf bombs' varints, one writer for both)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import seed as hyp_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MiB = 1 << 20
# sizes the mutations draw from; small() keeps every mechanism at sizes a CI run affords
SIZES = {
    "deep": [1000, 50000, 300000],
    "huge": [1 << 16, 4 * MiB, 70 * MiB],
    "repeat": [2, 100, 2000, 20000],
    "nested": [5, 200, 1100],
    "many": [50, 400],
}


def small() -> None:
    SIZES.update(
        deep=[1000, 20000],
        huge=[1 << 16, 2 * MiB],
        repeat=[2, 100, 2000],
        nested=[5, 200],
        many=[50],
    )


HEADER = re.compile(rb"^goroutine \d+ (?:gp=\S+ m=\S+(?: mp=\S+)? )?\[", re.M)


@dataclass
class Case:
    """One input: ``files`` (relative path -> bytes), ``links`` (relative path -> link target)."""

    name: str
    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    expect: int | None = None
    expect_ref: tuple[str, int] | None = None  # (corpus file, factor)
    folder: bool = False  # load the folder, not its one file
    note: str = ""

    def write(self, where: Path) -> Path:
        """Write the input under ``where``; returns the path to give to the loader."""
        root = where / "input"
        root.mkdir(parents=True)
        for rel, data in self.files.items():
            p = root / rel
            _mkdirs(root, p.parent)
            p.write_bytes(data)
        for rel, target in self.links.items():
            p = root / rel
            _mkdirs(root, p.parent)
            p.symlink_to(target)
        if self.folder or len(self.files) != 1 or self.links:
            return root
        return root / next(iter(self.files))


def _mkdirs(root: Path, folder: Path) -> None:
    """Make ``folder`` under ``root`` one level at a time: pathlib's ``mkdir(parents=True)``
    recurses once per level and ran out of stack on the 1,100 nested folders of a case; each
    level is made relative to the last, so no path outgrows the system's limit either."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for part in folder.relative_to(root).parts:
            try:
                os.mkdir(part, dir_fd=fd)
            except FileExistsError:
                pass
            nxt = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
    finally:
        os.close(fd)


# --- containers and dialects the property tests do not draw ---------------------------------------


def gz(data: bytes, level: int = 6) -> bytes:
    return gzip.compress(data, level, mtime=0)


def prefixed(text: bytes, kind: str, rng: random.Random) -> bytes:
    """Every line behind a log prefix, as klog, docker compose, syslog and journald write it."""
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for k, ln in enumerate(lines):
        if kind == "klog":
            p = f"E1130 03:21:{k % 60:02d}.{rng.randrange(10**6):06d}   {4242 + k % 3} main.go:{k + 1}] "
        elif kind == "compose":
            p = "app-1  | "
        elif kind == "syslog":
            p = f"Nov 30 03:21:{k % 60:02d} host app[4242]: "
        else:  # CRI
            p = f"2026-11-30T03:21:{k % 60:02d}.{rng.randrange(10**9):09d}Z stderr F "
        out.append(p.encode() + ln)
    return b"\n".join(out) + b"\n"


def line_ends(text: bytes, kind: str) -> bytes:
    if kind == "crlf":
        return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if kind == "cr":
        return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    return text.rstrip(b"\n")  # no final newline


def wrap_json(text: bytes, kind: str) -> bytes:
    s = text.decode("utf-8", "surrogateescape")
    lines = s.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if kind == "test2json":
        recs = [
            {"Action": "output", "Package": "example.com/p", "Test": "TestX", "Output": ln + "\n"}
            for ln in lines
        ]
    else:  # docker json-file
        recs = [
            {"log": ln + "\n", "stream": "stderr", "time": "2026-11-30T03:21:31Z"} for ln in lines
        ]
    return "".join(json.dumps(r) + "\n" for r in recs).encode("utf-8", "surrogateescape")


def _field(num: int, payload: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def _int(num: int, v: int) -> bytes:
    return varint(num << 3) + varint(v)


def _packed(num: int, vs: list[int]) -> bytes:
    return _field(num, b"".join(varint(v) for v in vs))


def profile_proto(stacks: list[tuple[list[str], int]]) -> bytes:
    """A gzipped goroutine profile.proto (debug=0): one sample per (functions, count)."""
    strings = ["", "goroutine", "count"]

    def sid(s: str) -> int:
        if s not in strings:
            strings.append(s)
        return strings.index(s)

    funcs: dict[str, int] = {}
    body = _field(1, _int(1, sid("goroutine")) + _int(2, sid("count")))
    locs = b""
    for fns, count in stacks:
        ids = []
        for fn in fns:
            if fn not in funcs:
                funcs[fn] = len(funcs) + 1
                fid = funcs[fn]
                body += _field(
                    5, _int(1, fid) + _int(2, sid(fn)) + _int(4, sid("/app/" + fn[:8] + ".go"))
                )
                locs += _field(
                    4,
                    _int(1, fid) + _int(3, 0x401000 + fid) + _field(4, _int(1, fid) + _int(2, fid)),
                )
            ids.append(funcs[fn])
        body += _field(2, _packed(1, ids) + _packed(2, [count]))
    body += locs
    for s in strings:
        body += _field(6, s.encode())
    body += _field(11, _int(1, sid("goroutine")) + _int(2, sid("count"))) + _int(12, 1)
    return gz(body)


# --- structured dumps, drawn by hypothesis --------------------------------------------------------

CONTAINERS = [
    "text",
    "gz",
    "cr",
    "crlf",
    "klog",
    "compose",
    "syslog",
    "cri",
    "json",
    "debug1",
    "pb",
]


def structured_cases(seed: int, n: int) -> list[Case]:
    """``n`` cases from a seeded hypothesis run over the property tests' dump model."""
    out: list[Case] = []

    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @hyp_seed(seed)
    @given(
        gs=tp.dumps(max_goroutines=12),
        dialect=st.sampled_from(tp.DIALECTS),
        container=st.sampled_from(CONTAINERS),
        crash=st.booleans(),
        indent=st.sampled_from(["\t", "        ", "  ", " "]),
        profiles=st.lists(tp.buckets(), min_size=1, max_size=4),
        data=st.data(),
    )
    def draw(gs, dialect, container, crash, indent, profiles, data):
        if len(out) >= n:
            return
        rng = random.Random(data.draw(st.integers(0, 2**32)))
        if container == "debug1":
            text = tp.render_profile("goroutine", profiles, 1).encode()
            out.append(
                Case(f"debug1-{len(out)}", {"p.txt": text}, expect=sum(b.count for b in profiles))
            )
            return
        if container == "pb":
            stacks = [([f.func.name for f in g.stack.frames] or ["main.main"], 1) for g in gs]
            blob = profile_proto(stacks)
            if (
                rng.random() < 0.5
            ):  # truncated protobuf: a clear error or a count, never a traceback
                out.append(
                    Case(
                        f"pb-cut-{len(out)}",
                        {"p.pb.gz": gz(zlib.decompress(blob, 31)[: rng.randrange(1, 200)])},
                    )
                )
            else:
                out.append(Case(f"pb-{len(out)}", {"p.pb.gz": blob}, expect=len(stacks)))
            return
        if crash:
            for g in gs:
                g.m = rng.choice([None, 0, 3])
        text = tp.dialect(
            dialect, tp.render_dump(gs, tp.Style(indent=indent, crash=crash)), data.draw
        ).encode()
        expect = len(gs)
        if container == "gz":
            text = gz(text)
        elif container == "crlf" or (
            container == "cr" and dialect in ("plain", "no-final-newline", "quoted", "glued")
        ):
            text = line_ends(text, container)
        elif container in ("klog", "compose", "syslog", "cri") and dialect in (
            "plain",
            "no-final-newline",
        ):
            text = prefixed(text, container, rng)
        elif container == "json" and dialect in ("plain", "no-final-newline"):
            text = wrap_json(text, rng.choice(["test2json", "docker"]))
        name = f"{dialect}-{container}-{len(out)}"
        out.append(
            Case(name, {"dump.txt.gz" if container == "gz" else "dump.txt": text}, expect=expect)
        )

    draw()
    return out


# --- the corpus and its mutations -----------------------------------------------------------------


def corpus_files(dirs: list[Path]) -> list[Path]:
    """Dump files under ``dirs`` (manifests, truth tables and sources left out), sorted."""
    out = []
    for d in dirs:
        if d.is_file():
            out.append(d)
            continue
        for p in sorted(d.rglob("*")):
            if p.is_file() and not p.name.startswith(("truth", "manifest", "INDEX", "README")):
                if p.suffix not in (".go", ".md", ".csv", ".json", ".tsv", ".py", ".mod"):
                    out.append(p)
    return out


def raw(p: Path) -> bytes:
    data = p.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return data
    return data


def _lines(b: bytes) -> list[bytes]:
    return b.split(b"\n")


def m_flip(b: bytes, rng: random.Random) -> bytes:
    a = bytearray(b)
    for _ in range(rng.randint(1, 20)):
        if a:
            a[rng.randrange(len(a))] = rng.randrange(256)
    return bytes(a)


def m_lines(b: bytes, rng: random.Random) -> bytes:
    ls = _lines(b)
    for _ in range(rng.randint(1, 10)):
        if not ls:
            break
        k = rng.randrange(len(ls))
        op = rng.randrange(4)
        if op == 0:
            ls.insert(k, ls[k])  # duplicate
        elif op == 1:
            del ls[k]
        elif op == 2:
            j = rng.randrange(len(ls))
            ls[k] = ls[k][: len(ls[k]) // 2] + ls[j][len(ls[j]) // 2 :]  # splice
        else:
            j = rng.randrange(len(ls))
            ls[k], ls[j] = ls[j], ls[k]
    return b"\n".join(ls)


HOSTILE = [
    b"\x00",
    b"\x0c",
    b"\x1b[31m",
    b"\x7f",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"<script>alert(1)</script>",
    b"]]>&amp;\"'",
    b"\u202e".decode("unicode_escape").encode(),
    b"{{7*7}}",
    b"\r",
    b"\t\t",
    b"%s%n",
]


def m_names(b: bytes, rng: random.Random) -> bytes:
    """Control characters, invalid UTF-8 and markup inside function names, files and labels."""
    ls = _lines(b)
    for _ in range(rng.randint(1, 8)):
        cands = [
            i
            for i, ln in enumerate(ls)
            if b"(" in ln or ln.startswith(b"\t") or b"created by" in ln
        ]
        if not cands:
            break
        i = rng.choice(cands)
        ln = ls[i]
        at = rng.randrange(max(1, ln.find(b"(") if b"(" in ln else len(ln)))
        ls[i] = ln[:at] + rng.choice(HOSTILE) + ln[at:]
    return b"\n".join(ls)


def blocks(b: bytes) -> list[bytes]:
    starts = [m.start() for m in HEADER.finditer(b)]
    if not starts:
        return []
    return [b[s:e] for s, e in zip(starts, [*starts[1:], len(b)], strict=True)]


def m_repeat(b: bytes, rng: random.Random) -> bytes:
    bl = blocks(b)
    if not bl:
        return b * rng.randint(2, 50)
    one = rng.choice(bl)
    return b + one * rng.choice(SIZES["repeat"])


def m_deep(b: bytes, rng: random.Random) -> bytes:
    depth = rng.choice(SIZES["deep"])
    frames = b"".join(
        b"main.f%d(...)\n\t/app/r.go:%d\n" % (k % 97, k % 999 + 1) for k in range(depth)
    )
    return (
        b
        + b"\n\ngoroutine 999999 [chan receive]:\n"
        + frames
        + b"created by main.main\n\t/app/m.go:1 +0x1\n"
    )


def m_huge_line(b: bytes, rng: random.Random) -> bytes:
    n = rng.choice(SIZES["huge"])
    filler = rng.choice([b"a", b"(", b"\t", b"\x00", b"\xff"])
    ls = _lines(b)
    k = rng.randrange(len(ls) + 1)
    return b"\n".join([*ls[:k], b"main.huge" + filler * n + b"()", *ls[k:]])


def m_truncate(b: bytes, rng: random.Random) -> bytes:
    return b[: rng.randrange(len(b) + 1)]


def m_garbage(b: bytes, rng: random.Random) -> bytes:
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))
    k = rng.randrange(len(b) + 1)
    return b[:k] + junk + b[k:]


GROWING = [m_repeat, m_deep, m_huge_line]
MUTATIONS = [m_flip, m_lines, m_names, m_repeat, m_deep, m_huge_line, m_truncate, m_garbage]
PRESERVING = [
    "crlf",
    "cr",
    "nofinal",
    "gz",
    "klog",
    "compose",
    "syslog",
    "cri",
    "test2json",
    "docker",
]


def preserve(b: bytes, kind: str, rng: random.Random) -> tuple[str, bytes]:
    """A transformation the README promises to read like the original: (file name, bytes)."""
    if kind in ("crlf", "cr"):
        return "d.txt", line_ends(b, kind)
    if kind == "nofinal":
        return "d.txt", line_ends(b, kind)
    if kind == "gz":
        return "d.txt.gz", gz(b)
    if kind in ("test2json", "docker"):
        return "d.json" if kind == "docker" else "d.txt", wrap_json(b, kind)
    return "d.txt", prefixed(b, kind, rng)


def bomb(kind: str, gib: float) -> bytes:
    """A gzip bomb made by streaming: zeros with no newline, or newlines; ~1 MB per GiB."""
    buf = io.BytesIO()
    chunk = (b"\n" if kind == "newlines" else b"\x00") * MiB
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as fh:
        for _ in range(int(gib * 1024)):
            fh.write(chunk)
        fh.write(b"\ngoroutine 1 [running]:\nmain.main()\n\t/app/m.go:1 +0x1\n")
    return buf.getvalue()


def pb_bomb(mib: int) -> bytes:
    head = _field(1, _int(1, 1) + _int(2, 2))
    for s in (b"", b"goroutine", b"count"):
        head += _field(6, s)
    return gz(head + varint(6 << 3 | 2) + varint(mib * MiB) + bytes(mib * MiB), 9)


MANIFESTS = [
    b"[]",
    b'"x"',
    b"null",
    b'{"snapshots": 5}',
    b'{"snapshots": [{"file": 7, "taken_at": "yesterday-ish"}]}',
    b'{"snapshots": [{"file": "a.txt", "taken_at": "2026-11-30T03:21:31+99:99"}]}',
    b'{"snapshots": [{"file": "a.txt", "taken_at": 12345678901234567890}]}',
    b'{"snapshots": [{"file": "a.txt", "round": "two"}]}',
    b'{"snapshots": [{"file": "../../etc/passwd"}]}',
    b"[" * 100000,
    b"{" * 3 + b"\xff",
]


def folder_case(k: int, base: bytes, rng: random.Random, ref: str) -> Case:
    """Folders: duplicated files, symlink loops, deep nesting, odd manifests, non-UTF-8 names."""
    kind = rng.choice(["copies", "selfloop", "uploop", "nested", "manifest", "badname", "many"])
    c = Case(f"folder-{kind}-{k}", folder=True)
    if kind == "copies":
        c.files = {"a.txt": base, "b.txt": base}
        c.expect_ref = (ref, 2)
    elif kind in ("selfloop", "uploop"):
        c.files = {"a.txt": base}
        c.links = {"self": "."} if kind == "selfloop" else {"sub/up": ".."}
        if kind == "uploop":
            c.files["sub/.keep"] = b""
        c.expect_ref = (ref, 1)
    elif kind == "nested":
        depth = rng.choice(SIZES["nested"])
        c.files = {"/".join(["d"] * depth) + "/a.txt": base}
    elif kind == "manifest":
        c.files = {"a.txt": base, "manifest.json": rng.choice(MANIFESTS)}
    elif kind == "badname":
        c.files = {
            "a\udcff\udcfe.txt".encode("utf-8", "surrogateescape").decode(
                "utf-8", "surrogateescape"
            ): base
        }
    else:
        c.files = {f"{i:05d}.txt": base[:2000] for i in range(rng.choice(SIZES["many"]))}
    return c


def mutated_case(k: int, corpus: list[Path], rng: random.Random, bombs: dict[str, bytes]) -> Case:
    """One case from the corpus: a preserving transformation, a folder, a bomb or mutations."""
    src = rng.choice(corpus)
    base = raw(src)
    ref = str(src)
    r = rng.random()
    if r < 0.3:
        # a profile.proto is bytes, not lines: only gzip leaves it as it was
        binary = b"\x00" in base[:4096] or ".pb" in src.name
        kind = rng.choice(["gz"] if binary else PRESERVING)
        name, data = preserve(base, kind, rng)
        return Case(f"{kind}-{k}", {name: data}, expect_ref=(ref, 1), note=ref)
    if r < 0.42:
        c = folder_case(k, base, rng, ref)
        c.note = ref
        return c
    if r < 0.47 and bombs:
        name = rng.choice(sorted(bombs))
        return Case(f"bomb-{k}", {name: bombs[name]}, note=name)
    if r < 0.5:
        blob = gz(base)
        cut = m_flip(blob, rng) if rng.random() < 0.5 else blob[: rng.randrange(len(blob))]
        return Case(
            f"badgz-{k}", {"d.txt.gz": cut + (b"trailing" if rng.random() < 0.3 else b"")}, note=ref
        )
    data = base
    names = []
    picked = rng.sample(MUTATIONS, rng.randint(1, 3))
    big = [m for m in picked if m in GROWING]
    for m in big[1:]:  # one growing mutation a case: sizes add up, they do not multiply
        picked.remove(m)
    for m in picked:
        data = m(data, rng)
        names.append(m.__name__[2:])
    fname = "d.txt"
    if rng.random() < 0.2:
        data, fname = gz(data, 1), "d.txt.gz"
    return Case(f"mut-{'+'.join(names)}-{k}", {fname: data}, note=ref)
