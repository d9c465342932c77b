"""Text from a dump is data: control characters, invalid UTF-8 and markup never reach a renderer raw.

The SVG renderer under the charts (vl-convert) aborts the whole process on a character
XML 1.0 forbids ("NonXmlChar", then "panic in a function that cannot unwind"): a
three-line dump with a form feed in a function name used to end ``goforensics report``
with exit 134. Everything here that could abort runs in a subprocess, so an abort is a
failed test rather than a dead test runner. What is allowed comes from the XML 1.0
specification's ``Char`` production, not from the code under test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from html import escape
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from goforensics.show.safe import safe_frame, safe_spec, safe_text

# a function name with NUL, form feed, markup (no '/': it survives short_function) and an
# encoded surrogate (invalid UTF-8); a file path with a form feed and a NUL
HOSTILE_DUMP = (
    b"goroutine 1 [chan receive]:\n"
    b"main.a\x00b\x0c<img src=x onerror=alert(1)>\xed\xa0\x80()\n"
    b"\t/app/m\x0ca\x00in.go:9 +0x18\n"
)
MARKUP = "<img src=x onerror=alert(1)>"


def xml_char(c: str) -> bool:
    """XML 1.0 (Fifth Edition) production [2] Char."""
    o = ord(c)
    return (
        o in (0x9, 0xA, 0xD)
        or 0x20 <= o <= 0xD7FF
        or 0xE000 <= o <= 0xFFFD
        or 0x10000 <= o <= 0x10FFFF
    )


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0), max_size=40))
def test_one_line_safe_text_is_xml_text_a_strict_utf8_encoder_takes(s):
    out = safe_text(s, one_line=True)
    assert all(xml_char(c) for c in out)
    assert not any(0x7F <= ord(c) <= 0x9F for c in out)  # no C1 controls for a terminal either
    assert "\n" not in out and "\t" not in out
    out.encode("utf-8")  # strict: a lone surrogate would raise


@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0), max_size=40))
def test_safe_text_keeps_safe_text_unchanged(s):
    # safe: XML text with no C1 control, no bidirectional override and no carriage return (a
    # lone CR sends a terminal back to the start of the line, to write over what it said)
    if all(xml_char(c) and not 0x7F <= ord(c) <= 0x9F and c != "\r" for c in s) and not any(
        0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in s
    ):
        assert safe_text(s) == s


def test_nothing_is_dropped_each_character_is_named():
    assert safe_text("a\x00b\x0cc\udcffd\ud800e\u202e") == "a\\x00b\\x0cc\\xffd\\ud800e\\u202e"


def test_tables_and_specs_are_made_safe_whole():
    import pandas as pd

    t = pd.DataFrame(
        {"f": pd.Categorical(["a\x00", "b\x0c"]), "o": ["\x1b[31m", None], "n": [1, 2]}
    )
    out = safe_frame(t)
    assert out["f"].tolist() == ["a\\x00", "b\\x0c"] and out["n"].tolist() == [1, 2]
    assert out["o"].tolist()[0] == "\\x1b[31m" and pd.isna(out["o"].tolist()[1])
    spec = safe_spec({"title": "t\x0c", "layer": [{"data": {"values": [{"x": "\udcff"}]}}]})
    assert spec == {"title": "t\\x0c", "layer": [{"data": {"values": [{"x": "\\xff"}]}}]}


def test_report_and_triage_html_of_a_hostile_three_line_dump(tmp_path):
    dump = tmp_path / "hostile.txt"
    dump.write_bytes(HOSTILE_DUMP)
    out = tmp_path / "report.html"
    r = run("-m", "goforensics.cli", "report", str(dump), "-o", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    html = out.read_text(encoding="utf-8")
    assert "chart unavailable" not in html and "section failed" not in html
    assert MARKUP not in html and escape(MARKUP, quote=True) in html
    assert "\x00" not in html and "\x0c" not in html
    assert "main.a\\x00b\\x0c" in html  # shown, escaped, not dropped
    r = run("-m", "goforensics.cli", "triage", str(dump), "--format", "html")
    assert r.returncode == 0, r.stderr[-2000:]
    assert escape(MARKUP, quote=True) in r.stdout and "\x0c" not in r.stdout


def test_terminal_text_carries_no_control_characters(tmp_path):
    dump = tmp_path / "hostile.txt"
    dump.write_bytes(HOSTILE_DUMP)
    for args in (["triage"], ["summary"], ["cluster", "--format", "text"]):
        r = run("-m", "goforensics.cli", *args, str(dump))
        assert r.returncode == 0, r.stderr[-2000:]
        assert "main.a\\x00b\\x0c" in r.stdout
        assert not any(c in r.stdout + r.stderr for c in "\x00\x0c\x1b"), args


def test_every_chart_and_the_report_draw_names_with_lone_surrogates(tmp_path):
    # undecodable bytes arrive as lone surrogates (os.fsdecode, sys.argv): in a title, in
    # notes, in the records and graphs a caller hands to a chart. None may abort the renderer
    # or fail the UTF-8 encoder; the tables' own columns come from the dump above.
    dump = tmp_path / "hostile.txt"
    dump.write_bytes(HOSTILE_DUMP)
    script = textwrap.dedent(
        f"""
        import networkx as nx
        import goforensics as gf
        from goforensics.show import charts as viz
        from goforensics.show.report import report_html, write_report

        bad = "main.x\\udcff\\ud800\\x0c<b>"
        d = gf.load({str(dump)!r})
        recs = gf.suspects(d).to_dict("records")
        for r in recs:
            r["site"], r["state"], r["title"] = bad, bad, bad
        G = nx.DiGraph([(bad, "main.y\\x00"), ("main.y\\x00", "main.z\\udcff")])
        for n in G:
            G.nodes[n]["goroutines"] = 3
        charts = [viz.over_time_chart(d), viz.states_chart(d), viz.wait_times_chart(d),
                  viz.icicle_chart(d, min_share=0, hide_runtime=False), viz.call_graph_chart(d),
                  viz.spawn_graph_chart(d), viz.wait_for_chart(d), viz.suspects_chart(recs),
                  viz.network_chart(G, title=bad)]
        for c in charts:
            svg = viz.to_svg(c)
            assert svg.startswith("<svg"), svg[:80]
            viz.to_png(c)
        page = report_html(d, title=bad, notes={{bad: bad}})
        assert "chart unavailable" not in page and "section failed" not in page, page
        write_report(d, {str(tmp_path / "r.html")!r}, title=bad)
        print("drawn", len(charts))
        """
    )
    r = run("-c", script)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "drawn 9"
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "main.x\\xff\\ud800\\x0c&lt;b&gt;" in page  # what the title held, shown


def test_a_title_with_an_undecodable_byte_from_the_command_line(tmp_path):
    dump = tmp_path / "hostile.txt"
    dump.write_bytes(HOSTILE_DUMP)
    out = tmp_path / "r.html"
    title = b"incident \xff\x0c".decode("utf-8", "surrogateescape")
    r = run("-m", "goforensics.cli", "report", str(dump), "--title", title, "-o", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "<title>incident \\xff\\x0c</title>" in out.read_text(encoding="utf-8")
