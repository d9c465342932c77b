"""A self-contained HTML report of a series: overview, suspects with evidence and advice, charts, graphs.

One file, nothing fetched when it is viewed: charts are SVG images inlined as
``data:`` URIs (an SVG shown through ``<img>`` never runs a script), there is no
JavaScript at all, and a Content-Security-Policy forbids loading anything but those
images and the inline style. Everything that comes from a dump (function names,
file paths, labels, panic messages, file names) is untrusted and goes through
:func:`html.escape`.

>>> import goforensics as gf
>>> page = report_html(gf.load("bundled:demo"), charts=False)
>>> "main.(*cache).get" in page, "<script" in page
(True, False)
"""

from __future__ import annotations

import base64
import json
import traceback
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from ..model import Dumps

__all__ = ["CSP", "report_html", "triage_html", "write_report"]

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'")

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
color:#1b1b1b;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:16px 28px 48px}
h1{font-size:24px;margin:16px 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #ddd;
padding-bottom:4px}h3{font-size:15px;margin:0 0 6px}
.meta{color:#555;margin:0 0 12px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #d4d4d4;padding:3px 7px;vertical-align:top;text-align:left}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.facts td:first-child{color:#555}
figure{margin:12px 0;background:#fff;border:1px solid #e3e3e3;padding:8px;display:inline-block;
max-width:100%;box-sizing:border-box}
figure img{max-width:100%;height:auto;display:block}
figcaption{color:#555;font-size:12px;margin-top:4px}
.card{background:#fff;border:1px solid #ddd;border-left:5px solid #b2182b;padding:10px 14px;margin:12px 0}
.card.benign{border-left-color:#999}.card.benign .score{background:#888}
.pill{display:inline-block;background:#eee;border-radius:9px;padding:0 8px;margin-right:6px;font-size:12px}
.score{background:#b2182b;color:#fff}
.advice{background:#eef7ee;border-left:3px solid #1b7837;padding:6px 10px;margin:8px 0}
code,pre{font:12px/1.4 ui-monospace,"DejaVu Sans Mono",monospace}
pre{background:#f4f4f4;padding:8px;overflow:auto;max-height:320px;margin:6px 0}
details summary{cursor:pointer;color:#333}
.warn{color:#8a4b00}.muted{color:#777}
"""


# --- pieces ---------------------------------------------------------------------------------------


def _e(value) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return escape(str(value), quote=True)


def _num(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):,.2f}"
    return str(v)


def _table(df: pd.DataFrame, columns: list[str] | None = None, numeric: tuple[str, ...] = ()) -> str:
    cols = columns or list(df.columns)
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = []
    for rec in df[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            if c in numeric:
                cells.append(f'<td class="n">{_e(_num(v))}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _figure(make, caption: str) -> str:
    """A chart as an inline SVG image; a failed chart becomes a visible note, not a failed report."""
    from .charts import to_svg

    try:
        svg = to_svg(make())
    except Exception as exc:  # a chart must never cost the whole report
        return (f'<p class="warn">chart unavailable ({_e(caption)}): {_e(type(exc).__name__)}: '
                f"{_e(exc)}</p><!-- {_e(traceback.format_exc(limit=3))} -->")
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (f'<figure><img alt="{_e(caption)}" src="data:image/svg+xml;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _facts_table(f: dict, clusters: int | None) -> str:
    rows = [
        ("snapshots", f"{f['snapshots']:,}" + (f" from {f['sources']:,} file(s)" if f.get("sources") else "")),
        ("instances", ", ".join(f["instances"]) if any(f["instances"]) else "one process"),
        ("captured", f"{f['first_taken_at'] or '?'} → {f['last_taken_at'] or '?'}"
                     f" ({f['span_minutes']:.1f} min; times from {', '.join(f['time_sources'])})"),
        ("goroutines", f"{f['goroutines_first']:,} in the first snapshot, {f['goroutines_last']:,} in the last"),
        ("formats", ", ".join(f["formats"]) + " — " + ", ".join(f["kinds"])),
        ("Go", ", ".join(f["go_versions"]) or "unknown"),
        ("marked (leaked) by the runtime", f"{f['leaked_verdicts']:,}"),
        ("truncated snapshots", f"{f['truncated_snapshots']:,}"),
        ("parser warnings", f"{f['warnings']:,}"),
    ]
    if clusters is not None:
        rows.insert(4, ("clusters", f"{clusters:,}"))
    if f.get("ended_by"):
        rows.insert(0, ("the process ended with", f["ended_by"] + (f", in {f['ended_at']}" if f["ended_at"] else "")))
    return '<table class="facts">' + "".join(
        f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows
    ) + "</table>"


def _suspect_card(s: dict, extra: dict | None = None) -> str:
    counts = list(s.get("counts") or [])
    trend = f"{counts[0]:,} → {counts[-1]:,}" if len(counts) > 1 else f"{s['goroutines']:,}"
    if s.get("slope_per_min") is not None and len(counts) > 1:
        trend += f" ({s['slope_per_min']:+.2f}/min)"
    where = s["site"] + (f" ({s['file']}:{'' if s['line'] is None else s['line']})" if s.get("file") else "")
    benign = s["score"] <= 0
    parts = [
        f'<div class="card{" benign" if benign else ""}">',
        f"<h3>#{_e(s['rank'])} {_e(s['site'] or s['entry'])}</h3>",
        f'<p><span class="pill score">score {s["score"]:.2f}</span>'
        f'<span class="pill">{_e(s["state"])}</span><span class="pill">{_e(trend)} goroutines</span>'
        + (f'<span class="pill">{_e(s["title"])}</span>' if s.get("title") else "") + "</p>",
        "<table>",
        f"<tr><td>blocks at</td><td><code>{_e(where)}</code></td></tr>",
        f"<tr><td>entry</td><td><code>{_e(s['entry'])}</code></td></tr>",
        f"<tr><td>created by</td><td><code>{_e(s['created_by'] or '(main or unknown)')}</code></td></tr>",
        f"<tr><td>per snapshot</td><td>{_e(', '.join(f'{c:,}' for c in counts))}</td></tr>",
        "</table>",
    ]
    if s.get("evidence"):
        parts.append("<ul>" + "".join(f"<li>{_e(e)}</li>" for e in s["evidence"]) + "</ul>")
    if s.get("advice"):
        parts.append(f'<div class="advice"><b>Fix:</b> {_e(s["advice"])}</div>')
    if extra:
        if extra.get("labels"):
            parts.append("<p>pprof labels: " + ", ".join(
                f"<code>{_e(k)}</code> ×{n:,}" for k, n in extra["labels"]) + "</p>")
        if extra.get("stack"):
            parts.append(f"<details><summary>representative stack</summary><pre>{_e(extra['stack'])}</pre></details>")
    parts.append("</div>")
    return "".join(parts)


# --- the triage page --------------------------------------------------------------------------------


def triage_html(report: dict, *, charts: bool = True, title: str = "goforensics triage") -> str:
    """A self-contained HTML page of a triage report (:func:`goforensics.analyze.suspects.triage`).

    >>> import goforensics as gf
    >>> from goforensics.analyze.suspects import triage
    >>> page = triage_html(triage(gf.load("bundled:demo")), charts=False)
    >>> page.count('class="card')
    6
    """
    body = [f"<h1>{_e(title)}</h1>", _facts_table(report["series"], report.get("clusters"))]
    body.append("<h2>Suspects</h2>")
    if charts and report["suspects"]:
        from .charts import suspects_growth

        body.append(_figure(lambda: suspects_growth(report), "suspects ranked, with their growth"))
    if not report["suspects"]:
        body.append("<p>No suspects.</p>")
    body.extend(_suspect_card(s) for s in report["suspects"])
    return _page(title, "".join(body))


# --- the full report ----------------------------------------------------------------------------------


def _section(name: str, build) -> str:
    """A section whose failure is shown in the report rather than losing the whole report."""
    try:
        return build()
    except Exception as exc:
        return (f"<h2>{_e(name)}</h2><p class=\"warn\">this section failed: {_e(type(exc).__name__)}: "
                f"{_e(exc)}</p>")


def _top_labels(dumps: Dumps, mask: np.ndarray, k: int = 5) -> list[tuple[str, int]]:
    g = dumps.goroutines[mask]
    g = g[g["labels"].astype(str) != ""]
    if g.empty:
        return []
    by = g.groupby(g["labels"].astype(str), observed=True)["count"].sum().sort_values(ascending=False)
    out = []
    for text, n in by.head(k).items():
        try:
            pairs = json.loads(text)
            shown = ", ".join(f"{key}={value}" for key, value in pairs.items())
        except (ValueError, AttributeError):
            shown = str(text)
        out.append((shown, int(n)))
    return out


def report_html(
    dumps: Dumps,
    *,
    labels: pd.Series | None = None,
    top: int = 10,
    title: str | None = None,
    charts: bool = True,
    notes: dict | None = None,
) -> str:
    """The report of a series (or one dump) as one self-contained HTML page.

    Sections: overview (facts and snapshots), goroutines over time, suspects (with
    evidence, advice, representative stack and labels), where they block (icicle,
    wait times), graphs (call, spawn, wait-for, deadlock cycles), what changed
    between the first and the last snapshot, the largest clusters, and what the
    parser skipped. ``labels`` are cluster ids (default :func:`goforensics.cluster`);
    ``notes`` are extra key/value lines shown under the title (service, incident...).
    """
    from .. import __version__
    from ..analyze.clustering import cluster, describe_clusters
    from ..analyze.graphs import wait_for_graph
    from ..analyze.suspects import series_facts, suspects

    title = title or "goforensics report"
    if labels is None:
        labels = cluster(dumps)
    labels = pd.Series(np.asarray(labels), index=dumps.goroutines.index, name="cluster")
    g = dumps.goroutines
    facts = series_facts(dumps)
    waits = wait_for_graph(dumps)  # once, for the suspects and the graphs: a pass over every goroutine
    sus = suspects(dumps, labels, top=top, wait_for=waits)
    desc = describe_clusters(dumps, labels).set_index("cluster", drop=False)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = [f"<h1>{_e(title)}</h1>",
            f'<p class="meta">made {_e(made)} by goforensics {_e(__version__)}</p>']
    if notes:
        body.append('<table class="facts">' + "".join(
            f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in notes.items()) + "</table>")

    def overview() -> str:
        out = ["<h2>Overview</h2>", _facts_table(facts, int(labels.nunique()))]
        s = dumps.snapshots.copy()
        s["file"] = s["source"].astype(str).map(lambda p: Path(p).name if p else "")
        s["message"] = s["message"].astype(object).map(
            lambda m: "" if m is None or m is pd.NA or pd.isna(m) else str(m).splitlines()[0][:160])
        cols = ["snapshot", "instance", "taken_at", "file", "kind", "format", "goroutines", "message"]
        if len(s) > 40:
            out.append(f'<p class="muted">first and last 20 of {len(s):,} snapshots</p>')
            s = pd.concat([s.head(20), s.tail(20)])
        out.append("<details open><summary>snapshots</summary>"
                   + _table(s, cols, numeric=("goroutines",)) + "</details>")
        if charts and s["snapshot"].nunique() > 1:  # over one snapshot, "over time" is one bar
            from .charts import goroutines_over_time, states_over_time

            out.append(_figure(lambda: goroutines_over_time(dumps, labels), "goroutines over time, by cluster"))
            out.append(_figure(lambda: states_over_time(dumps), "goroutines over time, by state"))
        return "".join(out)

    def suspects_section() -> str:
        out = ["<h2>Suspects</h2>"]
        if sus.empty:
            return out[0] + "<p>No suspects.</p>"
        if charts:
            from .charts import suspects_growth

            out.append(_figure(lambda: suspects_growth(sus), "suspects ranked, with their growth"))
        lab = labels.to_numpy()
        for rec in sus.to_dict("records"):
            c = rec["cluster"]
            rec["line"] = None if pd.isna(rec["line"]) else int(rec["line"])
            slope = rec.get("slope_per_min")
            rec["slope_per_min"] = None if slope is None or pd.isna(slope) else float(slope)
            extra = {"labels": _top_labels(dumps, lab == c),
                     "stack": desc.loc[c, "frames"] if c in desc.index else ""}
            out.append(_suspect_card(rec, extra))
        return "".join(out)

    def blocking() -> str:
        if not charts:
            return ""
        from .charts import blocked_icicle, wait_times

        return ("<h2>Where goroutines block</h2>"
                + _figure(lambda: blocked_icicle(dumps), "blocked goroutines' stacks (last snapshot)")
                + _figure(lambda: wait_times(dumps), "wait times (last snapshot)"))

    def graphs() -> str:
        from ..analyze.graphs import deadlock_cycles, node_text

        out = ["<h2>Graphs</h2>"]
        if charts:
            from .charts import call_graph_chart, spawn_graph_chart, wait_for_chart

            out.append(_figure(lambda: call_graph_chart(dumps), "call graph of blocked goroutines (last snapshot)"))
            out.append(_figure(lambda: spawn_graph_chart(dumps), "spawn graph (last snapshot)"))
            out.append(_figure(lambda: wait_for_chart(dumps, graph=waits), "wait-for graph (last snapshot)"))
        cycles = deadlock_cycles(waits, min_confidence=0.5)
        if cycles:
            out.append(f"<h3>{len(cycles)} deadlock cycle(s) in the wait-for graph</h3><ol>")
            for cyc in cycles[:20]:
                out.append("<li><code>" + " → ".join(_e(node_text(n)) for n in cyc) + "</code></li>")
            out.append("</ol>")
        else:
            out.append("<p>No deadlock cycle in the wait-for graph of the last snapshot.</p>")
        return "".join(out)

    def changes() -> str:
        snaps = sorted(g["snapshot"].unique().tolist())
        if len(snaps) < 2:
            return ""
        from ..analyze.diff import diff

        first, last = snaps[0], snaps[-1]
        lab = labels.to_numpy()
        m0 = (g["snapshot"] == first).to_numpy()
        m1 = (g["snapshot"] == last).to_numpy()
        # the same cluster ids as the rest of the report: diff joins the two snapshots in this order
        joint = np.concatenate([lab[m0], lab[m1]])
        t = diff(dumps, before=first, after=last, labels_fn=lambda _j: joint)
        t = t[t["change"] != "same"].head(15)
        if t.empty:
            return f"<h2>What changed</h2><p>No cluster changed between snapshot {first} and {last}.</p>"
        return (f"<h2>What changed, snapshot {first} → {last}</h2>"
                + _table(t, ["cluster", "change", "before", "after", "delta", "state", "site", "entry",
                             "created_by"], numeric=("before", "after", "delta")))

    def clusters_section() -> str:
        t = desc.sort_values("goroutines", ascending=False, kind="stable").head(20)
        return (f"<h2>Largest clusters ({min(20, len(desc))} of {len(desc):,})</h2>"
                + _table(t, ["cluster", "goroutines", "stacks", "snapshots", "state", "site_function",
                             "site_file", "site_line", "entry_function", "created_by"],
                         numeric=("goroutines", "stacks", "snapshots")))

    def accounting() -> str:
        w = dumps.warnings
        if w.empty:
            return "<h2>Input</h2><p>Every line of the input was read; nothing skipped.</p>"
        t = w.copy()
        t["file"] = t["source"].astype(str).map(lambda p: Path(p).name if p else "")
        more = f'<p class="muted">first 30 of {len(t):,} warnings</p>' if len(t) > 30 else ""
        return ("<h2>Input: what was skipped or doubted</h2>" + more
                + _table(t.head(30), ["file", "snapshot", "line", "lines", "kind", "message"],
                         numeric=("lines",)))

    for name, build in [("Overview", overview), ("Suspects", suspects_section),
                        ("Where goroutines block", blocking), ("Graphs", graphs),
                        ("What changed", changes), ("Largest clusters", clusters_section),
                        ("Input", accounting)]:
        body.append(_section(name, build))
    return _page(title, "".join(body))


def write_report(dumps: Dumps, path: str | Path, **kw) -> Path:
    """Write :func:`report_html` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(report_html(dumps, **kw), encoding="utf-8")
    return path
