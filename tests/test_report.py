"""The HTML report: self-contained, escaped, and drawn by a real browser (Debian's Chromium).

The series is a real Go program's (tests/goprograms/leakseries): its own comments say what
leaks. The hostile dump is another real Go program's (tests/goprograms/markup), built in a
directory whose path is markup and whose pprof labels are markup, plus a hand-written dump
for what Go cannot print (function names and a panic message with markup). Every string
that a browser would run sets ``window.__gfPwned``: an inert report leaves it unset.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import Browser

import goforensics as gf
from goforensics.show.report import CSP, report_html

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"

HANDMADE = """panic: <script>window.__gfPwned=6</script>

goroutine 1 [chan send]:
main.(*T[<script>window.__gfPwned=7</script>]).Send(...)
\t/app/handler.go:3 +0x1
main.serve<img/src=x/onerror=window.__gfPwned=8>()
\t/app/main.go:9 +0x2
created by main.start<svg/onload=window.__gfPwned=9> in goroutine 1
\t/app/main.go:20 +0x3

goroutine 2 [chan send]:
main.(*T[<script>window.__gfPwned=7</script>]).Send(...)
\t/app/handler.go:3 +0x1
main.serve<img/src=x/onerror=window.__gfPwned=8>()
\t/app/main.go:9 +0x2
created by main.start<svg/onload=window.__gfPwned=9> in goroutine 1
\t/app/main.go:20 +0x3
"""
# The strings of the markup program and of HANDMADE, as a page would show them.
HOSTILE_TEXTS = [
    "<script>window.__gfPwned=1</script>",  # label value
    '"><img src=x onerror="window.__gfPwned=2">',  # label value
    "<b>key</b>",  # label key
    "<script>window.__gfPwned=4;</script>",  # directory of the source files
    "<script>window.__gfPwned=6</script>",  # panic message
    "main.(*T[<script>window.__gfPwned=7</script>]).Send",  # function name
    "main.serve<img/src=x/onerror=window.__gfPwned=8>",  # entry function
    "main.start<svg/onload=window.__gfPwned=9>",  # creator
]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "goforensics.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def series_dir(leakseries_dir):
    return leakseries_dir


@pytest.fixture(scope="module")
def series_report(series_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    r = cli("report", str(series_dir), "-o", str(out), "--title", "leakseries")
    assert r.returncode == 0, r.stderr
    assert f"report written to {out}" in r.stderr
    return out


@pytest.fixture(scope="module")
def hostile_files(build_go, tmp_path_factory) -> list[Path]:
    base = tmp_path_factory.mktemp("hostile")
    # '/' cannot be in a file name, so the closing tag spans two directories
    src = base / "<script>window.__gfPwned=4;<" / 'script><img src=x onerror="window.__gfPwned=5">'
    src.mkdir(parents=True)
    for name in ("go.mod", "main.go"):
        shutil.copy(ROOT / "tests" / "goprograms" / "markup" / name, src / name)
    exe = build_go(src)  # no -trimpath: the dump carries the source path
    r = subprocess.run([str(exe)], capture_output=True, timeout=120, check=True)
    a = base / "markup.txt"
    a.write_bytes(r.stdout)
    b = base / "handmade.txt"
    b.write_text(HANDMADE)
    assert "window.__gfPwned=4" in r.stdout.decode() and "{handler: " in r.stdout.decode()
    return [a, b]


@pytest.fixture(scope="module")
def hostile_report(hostile_files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile-report") / "report.html"
    r = cli("report", *map(str, hostile_files), "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def _images(html: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]*)"', html)


# --- the file itself --------------------------------------------------------------------------------


def test_report_is_one_file_that_fetches_nothing(series_report):
    html = series_report.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert CSP in html and "default-src 'none'" in CSP
    assert "<script" not in html.lower()
    # every reference in the page is an inline image
    refs = re.findall(r'\b(?:src|href|action|srcset|poster)\s*=\s*"([^"]*)"', html)
    assert refs and all(r.startswith("data:image/svg+xml;base64,") for r in refs)
    assert not re.search(r"https?://", html)
    for src in _images(html):
        svg = base64.b64decode(src.split(",", 1)[1]).decode()
        assert svg.startswith("<svg")
        # namespaces are names, not fetches; nothing else may point outside the image
        rest = re.sub(r'xmlns(:\w+)?="[^"]*"', "", svg)
        assert not re.search(r"https?://|href=|@import", rest), (
            "an image refers to something outside itself"
        )
        assert "<script" not in svg


def test_report_holds_the_sections_and_the_known_leaks(series_report):
    html = series_report.read_text()
    for heading in (
        "Overview",
        "Suspects",
        "Where goroutines block",
        "Graphs",
        "What changed",
        "Largest clusters",
    ):
        assert f"<h2>{heading}" in html
    # leakseries' own comments: compute's senders grow by 12 a tick, waitAll by 2, the pool is flat
    cards = re.findall(r'<div class="card[^"]*"><h3>#(\d+) ([^<]*)</h3>', html)
    order = [site for _, site in cards]
    # both leaks are the suspects; the flat pool and the burst that drains are listed apart
    assert set(order) == {"main.compute", "main.waitAll"}
    healthy = html[html.index("also seen, with no evidence of a leak") :]
    assert "main.worker" in healthy and "main.sleeper" in healthy
    # the answer comes first: the suspects before the charts, the overview after them
    assert (
        html.index("<h2>Suspects")
        < html.index("<h2>Where goroutines block")
        < html.index("<h2>Overview")
    )
    # over time (clusters, states), suspects, icicle, waits, 3 graphs; none of them failed
    assert len(_images(html)) == 8
    assert "chart unavailable" not in html and "section failed" not in html


def test_triage_html_goes_through_the_report_module(series_dir, tmp_path):
    out = tmp_path / "t.html"
    r = cli("triage", str(series_dir), "--format", "html", "-o", str(out), "--top", "3")
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    # the top 3: the two leaks as cards, the third (no evidence of a leak) listed apart
    assert CSP in html and html.count('class="card') == 2 and "<script" not in html.lower()
    assert "also seen, with no evidence of a leak (1 group(s))" in html
    assert len(_images(html)) == 1


def test_hostile_text_is_escaped_not_dropped(hostile_report):
    html = hostile_report.read_text()
    low = html.lower()
    assert "<script" not in low and "<img src=x" not in low and "<svg" not in low
    from html import escape

    for text in HOSTILE_TEXTS:
        assert text not in html, f"raw in the report: {text}"
        assert escape(text, quote=True) in html, f"not shown (escaped) in the report: {text}"


# --- in the browser ---------------------------------------------------------------------------------


def test_browser_draws_the_report_without_errors(browser, series_report):
    page, visit = browser.open(series_report)
    assert visit.console_errors == []
    assert visit.failed == []
    assert visit.requests == [series_report.resolve().as_uri()]
    imgs = page.evaluate(
        "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(imgs) == 8 and all(c and w > 100 and h > 50 for c, w, h in imgs), imgs
    # every chart drawn: each figure's pixels are not blank
    figures = page.locator("figure img")
    for i in range(figures.count()):
        ink = browser.ink(figures.nth(i).screenshot())
        assert ink > 0.01, (
            f"chart {i} ({figures.nth(i).get_attribute('alt')}) looks blank: {ink:.3%} ink"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert browser.ink(shot.read_bytes()) > 0.02
    text = page.inner_text("body")
    assert "main.compute" in text and "Fix:" in text
    print(f"\nreport screenshot: {shot}")  # also listed in the run's summary (conftest)
    page.close()


@pytest.mark.parametrize("width", [1280, 1400, 1600])
def test_the_answer_is_on_the_first_screen_with_no_horizontal_scroll(
    browser, series_report, hostile_report, width
):
    for report in (series_report, hostile_report):
        page, _ = browser.open(report)
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, report.name
        page.close()
    page, _ = browser.open(series_report)
    page.set_viewport_size({"width": width, "height": 900})
    # the top suspect's card, with its fix, starts on the first screen
    card = page.locator(".card").first.bounding_box()
    advice = page.locator(".card .advice").first.bounding_box()
    assert card["y"] < 900 and advice["y"] + advice["height"] <= 900, (card, advice)
    assert "band-" in page.locator(".card").first.get_attribute("class")
    if width == 1400:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-1400-first-screen.png"))
    page.close()


def _inert(page) -> None:
    assert page.evaluate("typeof window.__gfPwned") == "undefined"
    assert page.evaluate("document.scripts.length") == 0
    handlers = page.evaluate(
        "Array.from(document.querySelectorAll('*')).flatMap(e => Array.from(e.attributes)"
        ".filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))"
    )
    assert handlers == []
    assert (
        page.evaluate("document.querySelectorAll('svg, iframe, object, embed, base').length") == 0
    )


def test_hostile_dump_leaves_the_report_inert(browser, hostile_report):
    page, visit = browser.open(hostile_report)
    _inert(page)
    assert visit.console_errors == []  # a script the CSP had to block would log an error
    text = page.inner_text("body")
    for t in HOSTILE_TEXTS:
        assert t in text, f"the page does not show {t!r} as text"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-hostile.png"), full_page=True)
    page.close()


def test_escaping_alone_keeps_it_inert_without_the_csp(browser, hostile_report, tmp_path):
    html = hostile_report.read_text()
    bare = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert bare != html
    path = tmp_path / "no-csp.html"
    path.write_text(bare)
    page, visit = browser.open(path)
    _inert(page)
    assert visit.console_errors == []
    page.close()


def test_the_marker_works(browser, tmp_path):
    # the check above can fail: the same markup, unescaped, does run in this browser
    path = tmp_path / "raw.html"
    path.write_text(f"<!DOCTYPE html><html><body><p>{HOSTILE_TEXTS[0]}</p></body></html>")
    page, _ = browser.open(path)
    assert page.evaluate("window.__gfPwned") == 1
    page.close()


def test_a_crash_heads_the_overview(go_dump):
    html = report_html(go_dump("deadlock", crash=True))
    facts = html[html.index('<table class="facts">') :]
    assert facts.startswith(
        '<table class="facts"><tr><td>the process ended with</td>'
        "<td>fatal error: all goroutines are asleep - deadlock!</td></tr>"
    )


def test_report_of_one_dump():
    html = report_html(gf.load("bundled:demo"))
    assert "<h2>What changed" not in html and "chart unavailable" not in html
    assert "main.(*cache).get" in html
    # one snapshot has no "over time": suspects, icicle, waits and the 3 graphs
    assert "over time" not in html and len(_images(html)) == 6


def test_report_of_a_big_debug1_profile(realdumps):
    # 20,161 goroutines in aggregated buckets: no wait times printed, everything else drawn
    d = gf.load(realdumps / "035_erigon-debug1-20161-goroutines-go1.21.txt")
    html = report_html(d, top=5)
    assert "section failed" not in html and "chart unavailable" not in html
    assert "20,161" in html


def test_a_report_with_counts_charts_them_with_the_dumps_on_them():
    from goforensics.analyze.onset import leak_onset

    counts = gf.load_metrics(Path(__file__).parent / "curves" / "checkout.csv")
    onset = leak_onset(counts).iloc[0]["onset"]
    page = report_html(gf.load("bundled:checkout"), counts=counts, onset=onset)
    section = page[page.index("<h2>Goroutine count") :]
    section = section[: section.index("<h2>", 5)]
    assert "<img" in section and "when growth started" in section
    assert "<h2>Goroutine count" not in report_html(gf.load("bundled:checkout"), charts=False)
