r"""The pieces of goforensics' HTML pages: policy, style, escaping, tables, figures, suspect cards.

:mod:`goforensics.show.report` builds its pages from these. Everything that comes
from a dump goes through :func:`e` (made safe by :func:`goforensics.show.safe.safe_text`,
then :func:`html.escape`); charts are SVG images inlined as ``data:`` URIs, and the
Content-Security-Policy :data:`CSP` forbids loading anything else.

>>> e('<b onclick="x">\x00')
'&lt;b onclick=&quot;x&quot;&gt;\\x00'
"""

from __future__ import annotations

import base64
import hashlib
import traceback
from html import escape

import numpy as np
import pandas as pd

from .safe import safe_records, safe_text
from .text import score_band, trend_text

__all__ = [
    "CSP",
    "STYLE",
    "csp",
    "e",
    "ended",
    "facts_table",
    "figure",
    "healthy_table",
    "num",
    "page",
    "suspect_card",
    "table",
]

CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'"
)

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
color:#1b1b1b;background:#fafafa}
main{max-width:1400px;margin:0 auto;padding:16px 28px 48px;box-sizing:border-box}
h1{font-size:24px;margin:16px 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;
padding-bottom:4px}h3{font-size:15px;margin:0 0 6px;overflow-wrap:anywhere}
.meta{color:#555;margin:0 0 12px}.lead{font-size:15px;margin:6px 0 10px}
table{border-collapse:collapse;margin:8px 0;font-size:13px;max-width:100%;display:block;overflow-x:auto}
td,th{border:1px solid #d4d4d4;padding:3px 7px;vertical-align:top;text-align:left;
overflow-wrap:anywhere;max-width:48em}
th{background:#f0f0f0;overflow-wrap:normal}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.facts td:first-child{color:#555}
figure{margin:12px 0;background:#fff;border:1px solid #e3e3e3;padding:8px;display:inline-block;
max-width:100%;box-sizing:border-box;vertical-align:top}
figure img{max-width:100%;height:auto;display:block}
figcaption{color:#555;font-size:12px;margin-top:4px}
.ended{background:#fde0dc;border-left:5px solid #b2182b;padding:8px 12px;font-size:15px}
.card{background:#fff;border:1px solid #ddd;border-left:5px solid #b2182b;padding:10px 14px;margin:12px 0}
.card table{display:table}
.pill{display:inline-block;background:#eee;border-radius:9px;padding:0 8px;margin-right:6px;font-size:12px}
.band-strong{border-left-color:#b2182b}.band-strong .score{background:#b2182b;color:#fff}
.band-likely{border-left-color:#e66101}.band-likely .score{background:#e66101;color:#fff}
.band-weak{border-left-color:#fdb863}.band-weak .score{background:#fdb863;color:#222}
.band-none{border-left-color:#999}.band-none .score{background:#888;color:#fff}
.advice{background:#eef7ee;border-left:3px solid #1b7837;padding:6px 10px;margin:8px 0}
code,pre{font:12px/1.4 ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
pre{background:#f4f4f4;padding:8px;overflow:auto;max-height:320px;margin:6px 0;white-space:pre-wrap}
details summary{cursor:pointer;color:#333}
.warn{color:#8a4b00}.muted{color:#777}
.answer{margin:4px 0 14px;padding-left:26px}.answer li{margin:3px 0}
.sites td{max-width:40em}.sites pre{max-height:240px}
"""


# --- pieces ---------------------------------------------------------------------------------------


def e(value) -> str:
    """Anything as HTML text or a quoted attribute: made safe (:func:`safe_text`), then escaped.

    Parameters
    ----------
    value : object
        Anything; made a string.

    Returns
    -------
    str
        Text safe inside an element or a double-quoted attribute.

    Examples
    --------
    >>> e('<a href="x">')
    '&lt;a href=&quot;x&quot;&gt;'
    """
    return escape(safe_text(value), quote=True)


def num(v) -> str:
    """A number as a table shows it: integers with thousands separators, floats to 2 places.

    Parameters
    ----------
    v : object
        A number, a missing value (None, NA, NaN), or anything else.

    Returns
    -------
    str
        The formatted number; empty for a missing value; ``str(v)`` otherwise.

    Examples
    --------
    >>> num(1234567), num(2.5), num(None), num("n/a")
    ('1,234,567', '2.50', '', 'n/a')
    """
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):,.2f}"
    return str(v)


def table(df: pd.DataFrame, columns: list[str] | None = None, numeric: tuple[str, ...] = ()) -> str:
    """An HTML table of a data frame, every cell escaped.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows.
    columns : list of str, optional
        The columns shown, in order (default: all).
    numeric : tuple of str
        Columns formatted by :func:`num` and aligned right.

    Returns
    -------
    str
        A ``<table>`` with a header row.

    Examples
    --------
    >>> t = pd.DataFrame({"state": ["chan receive"], "goroutines": [1200]})
    >>> html = table(t, numeric=("goroutines",))
    >>> html[:53]
    '<table><tr><th>state</th><th>goroutines</th></tr><tr>'
    >>> html[53:]
    '<td>chan receive</td><td class="n">1,200</td></tr></table>'
    """
    cols = columns or list(df.columns)
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    body = []
    for rec in df[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            if c in numeric:
                cells.append(f'<td class="n">{e(num(v))}</td>')
            else:
                cells.append(f"<td>{e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def figure(make, caption: str) -> str:
    """A chart as an inline SVG image; a failed chart becomes a visible note, not a failed report.

    Parameters
    ----------
    make : callable
        Makes the chart (called here, so that its failure is caught).
    caption : str
        The figure's caption and the image's alt text.

    Returns
    -------
    str
        A ``<figure>`` with the SVG as a data URL, or a ``<p class="warn">`` naming the error.

    Examples
    --------
    >>> from goforensics.show.draw import chart
    >>> c = chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_bar().encode(x="x:Q", y="y:Q")
    >>> figure(lambda: c, "two bars").startswith('<figure><img alt="two bars"')
    True
    >>> broken = figure(lambda: 1 / 0, "broken")
    >>> broken.startswith('<p class="warn">chart unavailable'), "ZeroDivisionError" in broken
    (True, True)
    """
    from .charts import to_svg

    try:
        svg = to_svg(make())
    except Exception as exc:  # a chart must never cost the whole report
        return (
            f'<p class="warn">chart unavailable ({e(caption)}): {e(type(exc).__name__)}: '
            f"{e(exc)}</p><!-- {e(traceback.format_exc(limit=3))} -->"
        )
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<figure><img alt="{e(caption)}" src="data:image/svg+xml;base64,{data}">'
        f"<figcaption>{e(caption)}</figcaption></figure>"
    )


def csp(script: str | None = None, style: str = STYLE) -> str:
    """The page's Content-Security-Policy: :data:`CSP`, or with one inline script allowed by hash.

    Parameters
    ----------
    script : str, optional
        The page's one inline script: allowed by its SHA-256 (and the style by its own), no
        ``'unsafe-inline'``, no ``'unsafe-eval'``, nothing fetched (``default-src 'none'``).
    style : str
        The page's one ``<style>`` element (with a script only).

    Returns
    -------
    str
        The policy.

    Examples
    --------
    >>> csp() == CSP
    True
    >>> csp("x", "y")
    "default-src 'none'; img-src data:; style-src 'sha256-ofzk...'; script-src 'sha256-LXEW...'; ..."
    """
    if script is None:
        return CSP
    return (
        f"default-src 'none'; img-src data:; style-src '{_sha256(style)}'; "
        f"script-src '{_sha256(script)}'; base-uri 'none'; form-action 'none'"
    )


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def page(title: str, body: str, *, script: str | None = None, style: str = "") -> str:
    """A self-contained HTML page: its style inline, a Content-Security-Policy that loads nothing.

    Parameters
    ----------
    title : str
        The page's title (escaped).
    body : str
        HTML for the page's ``<main>`` (not escaped).
    script : str, optional
        The page's own script (never text from a dump), inlined at the end of the body and
        allowed by hash (:func:`csp`); without it the page has no script at all.
    style : str
        More style after :data:`STYLE`.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> p = page("triage", "<p>hello</p>")
    >>> p.startswith("<!DOCTYPE html>"), "<title>triage</title>" in p
    (True, True)
    >>> "<main><p>hello</p></main>" in p
    True
    >>> "script-src 'sha256-" in page("t", "", script="void 0")
    True
    """
    css = STYLE + style
    policy = csp(script, css)
    tail = f"<script>{script}</script>" if script is not None else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)}</title><style>{css}</style></head>"
        f"<body><main>{body}</main>{tail}</body></html>\n"
    )


def facts_table(f: dict, clusters: int | None) -> str:
    """The overview table of a series: snapshots, instances, times, goroutines, formats, Go.

    Parameters
    ----------
    f : dict
        The series facts (a triage report's ``series``).
    clusters : int or None
        How many clusters were found (a row of its own), or None to leave it out.

    Returns
    -------
    str
        A ``<table class="facts">``.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.suspects import triage
    >>> report = triage(gf.load("bundled:demo"))
    >>> t = facts_table(report["series"], 6)
    >>> t.startswith('<table class="facts">'), "<tr><td>clusters</td><td>6</td></tr>" in t
    (True, True)
    """
    rows = [
        (
            "snapshots",
            f"{f['snapshots']:,}" + (f" from {f['sources']:,} file(s)" if f.get("sources") else ""),
        ),
        ("instances", ", ".join(f["instances"]) if any(f["instances"]) else "one process"),
        (
            "captured",
            f"{f['first_taken_at'] or '?'} → {f['last_taken_at'] or '?'}"
            f" ({f['span_minutes']:.1f} min; times from {', '.join(f['time_sources'])})",
        ),
        (
            "goroutines",
            f"{f['goroutines_first']:,} in the first snapshot, {f['goroutines_last']:,} in the last",
        ),
        ("formats", ", ".join(f["formats"]) + " — " + ", ".join(f["kinds"])),
        ("Go", ", ".join(f["go_versions"]) or "unknown"),
        ("marked (leaked) by the runtime", f"{f['leaked_verdicts']:,}"),
        ("truncated snapshots", f"{f['truncated_snapshots']:,}"),
        ("parser warnings", f"{f['warnings']:,}"),
    ]
    if clusters is not None:
        rows.insert(4, ("clusters", f"{clusters:,}"))
    if f.get("ended_by"):
        rows.insert(
            0,
            (
                "the process ended with",
                f["ended_by"] + (f", in {f['ended_at']}" if f["ended_at"] else ""),
            ),
        )
    return (
        '<table class="facts">'
        + "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )


def suspect_card(s: dict, extra: dict | None = None) -> str:
    """The card of one suspect: rank and site, score, state, trend, advice, evidence, where.

    Parameters
    ----------
    s : dict
        One suspect record of a triage report (``rank``, ``site``, ``score``, ``state``,
        ``counts``, ``entry``, ``created_by``, ...).
    extra : dict, optional
        More to show (such as ``labels``), where the caller has it.

    Returns
    -------
    str
        A ``<div class="card band-...">``, the band from the score.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.suspects import triage
    >>> report = triage(gf.load("bundled:demo"))
    >>> card = suspect_card(report["suspects"][0])
    >>> card.startswith('<div class="card band-'), "<h3>#1 main.(*cache).get</h3>" in card
    (True, True)
    """
    counts = list(s.get("counts") or []) or [s["goroutines"]]
    trend = trend_text(counts, s.get("slope_per_min"))
    where = s["site"] + (
        f" ({s['file']}:{'' if s['line'] is None else s['line']})" if s.get("file") else ""
    )
    band = score_band(s["score"])
    parts = [
        f'<div class="card band-{band}">',
        f"<h3>#{e(s['rank'])} {e(s['site'] or s['entry'])}</h3>",
        f'<p><span class="pill score" title="evidence: {band}">score {s["score"]:.2f}</span>'
        f'<span class="pill">{e(s["state"])}</span><span class="pill">{e(trend)} goroutines</span>'
        + (f'<span class="pill">{e(s["title"])}</span>' if s.get("title") else "")
        + "</p>",
    ]
    if s.get("advice"):
        parts.append(f'<div class="advice"><b>Fix:</b> {e(s["advice"])}</div>')
    if s.get("evidence"):
        parts.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in s["evidence"]) + "</ul>")
    parts += [
        "<table>",
        f"<tr><td>blocks at</td><td><code>{e(where)}</code></td></tr>",
        f"<tr><td>entry</td><td><code>{e(s['entry'])}</code></td></tr>",
        f"<tr><td>created by</td><td><code>{e(s['created_by'] or '(main or unknown)')}</code></td></tr>",
        f"<tr><td>per snapshot</td><td>{e(', '.join(f'{c:,}' for c in counts))}</td></tr>",
        "</table>",
    ]
    parts += _source_html(s)
    if extra:
        if extra.get("labels"):
            parts.append(
                "<p>pprof labels: "
                + ", ".join(f"<code>{e(k)}</code> ×{n:,}" for k, n in extra["labels"])
                + "</p>"
            )
        if extra.get("stack"):
            parts.append(
                f"<details><summary>representative stack</summary><pre>{e(extra['stack'])}</pre></details>"
            )
    parts.append("</div>")
    return "".join(parts)


def _source_html(s: dict) -> list[str]:
    """With --source: the code where the suspect blocks and the go statement that created it."""
    out = []
    for label, file, line, code in (
        ("blocks at", s.get("source_file"), s.get("source_line"), s.get("code")),
        ("created at", s.get("go_file"), s.get("go_line"), s.get("go_code")),
    ):
        if file:
            out.append(f'<p class="src">{label} <code>{e(file)}:{e(line)}</code></p>')
            out.append(f"<pre>{e(code or '')}</pre>")
    if s.get("source_mismatch"):
        out.append(f"<p>The source does not match the dump's build: {e(s['source_mismatch'])}</p>")
    return out


def ended(f: dict) -> str:
    """A sentence on how the process ended, where its last dump says (a panic, a fatal error).

    Parameters
    ----------
    f : dict
        The series facts (a triage report's ``series``): ``ended_by`` and ``ended_at``.

    Returns
    -------
    str
        A ``<p class="ended">``, or empty where the process did not end.

    Examples
    --------
    >>> ended({"ended_by": "a fatal error", "ended_at": "main.main"})
    '<p class="ended">The process ended with <b>a fatal error</b> in <code>main.main</code>.</p>'
    >>> ended({"ended_by": None})
    ''
    """
    if not f.get("ended_by"):
        return ""
    where = f" in <code>{e(f['ended_at'])}</code>" if f.get("ended_at") else ""
    return f'<p class="ended">The process ended with <b>{e(f["ended_by"])}</b>{where}.</p>'


def healthy_table(recs: list[dict]) -> str:
    """The groups with no evidence of a leak, in a folded table.

    Parameters
    ----------
    recs : list of dict
        Suspect records of a triage report with a score of 0 or less.

    Returns
    -------
    str
        A ``<details>`` holding a table of ``site``, ``state``, ``trend``, ``entry``,
        ``created_by``, ``pattern``.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.suspects import triage
    >>> report = triage(gf.load("bundled:demo"))
    >>> healthy = [s for s in report["suspects"] if s["score"] <= 0]
    >>> healthy_table(healthy).split("<table>")[0]
    '<details><summary>also seen, with no evidence of a leak (2 group(s))</summary>'
    """
    t = pd.DataFrame(safe_records(recs, one_line=False))
    t["trend"] = [trend_text(x["counts"] or [x["goroutines"]], x["slope_per_min"]) for x in recs]
    t["pattern"] = t["title"].fillna("")
    return (
        "<details><summary>also seen, with no evidence of a leak "
        f"({len(t)} group(s))</summary>"
        + table(t, ["site", "state", "trend", "entry", "created_by", "pattern"])
        + "</details>"
    )
