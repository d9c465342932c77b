"""``debug=1`` profiles as people post them (in issues, chats, markdown): the leading ``#`` of
the frame lines lost, tabs turned into spaces, the ``goroutine profile: total N`` line left
out, notes typed between the records. Each is read as the profile the Go program wrote: the
same goroutines, functions, labels and states; the notes are skipped lines with a reason."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

import goforensics as gf

HERE = Path(__file__).resolve().parent
# the debug=1 profiles among the real dumps: labels, CRLF and Windows paths, 20,161 goroutines
REAL_DEBUG1 = (
    "010_profnotes-nethttp-debug1-labels-go1.15.txt",
    "038_nats-server-debug1-7046-goroutines-go1.17.txt",
    "035_erigon-debug1-20161-goroutines-go1.21.txt",
)
NOTES = (
    b"Here is the rest of the dump, as it came:",
    b"```",
    b"2024-05-01T10:00:00.123Z INFO pprof: dumping goroutines",
    b"(snipped nothing, see below)",
)


@pytest.fixture(scope="module")
def waitstates(build_go, tmp_path_factory) -> tuple[bytes, int]:
    """The debug=1 profile tests/goprograms/waitstates writes, and its goroutine count."""
    exe = build_go(HERE / "goprograms" / "waitstates")
    tmp = tmp_path_factory.mktemp("posted")
    truth, dump = tmp / "truth.json", tmp / "dump.txt"
    r = subprocess.run(
        [str(exe), "-mode", "debug1", "-truth", str(truth), "-o", str(dump)],
        capture_output=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return dump.read_bytes(), json.loads(truth.read_text())["num_goroutine"]


def facts(d: gf.Dumps) -> Counter:
    """Goroutines by entry function, state, labels and stack (its functions, in order)."""
    fn = d.frames[d.frames["section"] == 0].sort_values(["stack_id", "depth"])
    stacks = fn.groupby("stack_id")["function"].agg(lambda x: "|".join(map(str, x)))
    out: Counter = Counter()
    for r in d.goroutines.itertuples():
        out[(r.entry_function, r.state, r.labels, stacks.get(r.stack_id, ""))] += r.count
    return out


def hashless(text: bytes) -> bytes:
    """Every '#' that starts a line lost, its indentation kept as it was (a tab)."""
    return re.sub(rb"(?m)^#[ \t]*", b"\t", text)


def respaced(text: bytes) -> bytes:
    """'#' lost and every run of tabs turned into spaces (a paste through a chat client)."""
    return re.sub(rb"(?m)^#", b"", text).replace(b"\t", b"    ")


def posted(text: bytes) -> tuple[bytes, int]:
    """The records without the profile's header line, fenced as markdown, a note typed after
    each record, '#' lost. Returns the text and the number of note lines put in."""
    lines = [ln for ln in text.split(b"\n") if not ln.startswith(b"goroutine profile: total")]
    out, notes = [NOTES[1]], 1
    for k, ln in enumerate(lines):
        out.append(re.sub(rb"^#[ \t]*", b"  ", ln))
        if not ln.strip() and k + 1 < len(lines) and lines[k + 1].strip():
            note = NOTES[k % len(NOTES)]
            out += [note, b""]
            notes += 1
    out.append(NOTES[1])
    return b"\n".join(out), notes + 1


def skipped_lines(d: gf.Dumps) -> int:
    w = d.warnings
    return int(w.loc[w["kind"] == "skipped", "lines"].sum())


def check_posted_forms(text: bytes, total: int) -> None:
    """Every posted form of ``text`` reads as ``text`` does."""
    orig = gf.parse_text(text)
    assert orig.total == total and (orig.frames["function"] != "").any()
    want = facts(orig)
    for form in (hashless, respaced):
        d = gf.parse_text(form(text))
        assert facts(d) == want, form.__name__
        assert d.total == total and skipped_lines(d) == 0, form.__name__
    body, notes = posted(text)
    d = gf.parse_text(body)
    assert facts(d) == want
    assert d.total == total and len(d.snapshots) == 1
    assert d.snapshots["format"].tolist() == ["debug=1"]
    assert d.snapshots["declared_total"].isna().all()
    # nothing is dropped in silence: the missing header is said, every note is a skipped line
    assert (d.warnings["kind"] == "headerless").sum() == 1
    assert skipped_lines(d) == notes


def test_a_posted_profile_of_a_go_program_reads_as_written(waitstates):
    text, total = waitstates
    check_posted_forms(text, total)


@pytest.mark.parametrize("name", REAL_DEBUG1)
def test_a_posted_real_profile_reads_as_written(name, realdumps):
    path = realdumps / name
    text = path.read_bytes().replace(b"\r\n", b"\n")
    total = int(re.search(rb"goroutine profile: total (\d+)", text).group(1))
    check_posted_forms(text, total)


def test_a_record_line_without_pcs_outside_a_profile_is_prose():
    # a line shaped like a record but without PCs is prose outside a profile
    d = gf.parse_text(b"we saw\n3 @\nof them\n")
    assert d.total == 0 and skipped_lines(d) == 3
