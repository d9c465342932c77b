"""Text renderings for a terminal: the account of what was read, a first look, triage, diff.

Every sentence the command line prints about dumps is written here, once; the CLI and
the accessor only parse their arguments and call these. The one way a count over
snapshots is told (``12 → 340, peak 360 (+5.6/min)``) is :func:`trend_text`, shared with
the HTML report and the charts.

>>> import goforensics as gf
>>> d = gf.load("bundled:demo")
>>> account(d).splitlines()[0]
'1 file(s), 1 snapshot(s), 77 goroutine(s) in 77 row(s), 6 distinct stack(s)'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import click
import pandas as pd

from ..analyze.suspects import SUSPECT_THRESHOLD
from ..model import Dumps, headline
from ..read.series import series_notes
from .findings import source_text
from .safe import safe_text

__all__ = [
    "BANDS",
    "BAND_COLORS",
    "account",
    "cluster_table_text",
    "diff_text",
    "headline",
    "overview",
    "score_band",
    "trend_text",
    "triage_text",
]


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def trend_text(counts: Sequence[int], slope_per_min: float | None = None) -> str:
    """A cluster's goroutines over the snapshots, in words: first → last, the peak, the slope.

    Parameters
    ----------
    counts : sequence of int
        Goroutines per snapshot, in time order.
    slope_per_min : float, optional
        The fitted growth per minute (left out when missing or for one snapshot).

    Returns
    -------
    str
        ``"12 → 340, peak 360 (+5.6/min)"``; one snapshot gives just its count.

    Examples
    --------
    >>> trend_text([12, 360, 340], 5.61)
    '12 → 340, peak 360 (+5.6/min)'
    >>> trend_text([7])
    '7'
    """
    counts = [int(c) for c in counts]
    if not counts:
        return "0"
    if len(counts) == 1:
        return f"{counts[0]:,}"
    out = f"{counts[0]:,} → {counts[-1]:,}"
    if max(counts) > max(counts[0], counts[-1]):
        out += f", peak {max(counts):,}"
    if not _missing(slope_per_min):
        out += f" ({float(slope_per_min):+.1f}/min)"
    return out


# score bands: the colour of a suspect's badge and border says how strong its evidence is
BANDS = [(3.0, "strong"), (1.5, "likely"), (0.0, "weak")]
# the colour of each band, in the report's badges and the suspects chart alike
BAND_COLORS = {"strong": "#b2182b", "likely": "#e66101", "weak": "#fdb863", "none": "#888888"}


def score_band(score: float) -> str:
    """The band of a suspect's score: strong (>= 3), likely (>= 1.5), weak (> 0) or none.

    Parameters
    ----------
    score : float
        A suspect's score.

    Returns
    -------
    str
        ``strong``, ``likely``, ``weak`` or ``none``.

    Examples
    --------
    >>> [score_band(x) for x in (6.5, 2.0, 0.35, 0.0, -1.0)]
    ['strong', 'likely', 'weak', 'none', 'none']
    """
    for floor, name in BANDS:
        if score >= floor and score > 0:
            return name
    return "none"


def _skipped(w: pd.DataFrame) -> str:
    skipped = w[w["kind"] == "skipped"]
    if skipped.empty:
        return ""
    biggest = skipped.sort_values("lines", ascending=False, kind="stable").iloc[0]
    where = f"{Path(str(biggest['source'])).name}:{biggest['line']}"
    return (
        f"skipped {int(skipped['lines'].sum()):,} line(s) in {len(skipped):,} place(s); "
        f"the largest at {safe_text(where)}: {safe_text(biggest['message'])}"
    )


def _races(w: pd.DataFrame) -> str:
    # each race report is one run of skipped race lines (the ===== rules between them are not)
    runs = w[(w["kind"] == "race-report") & (w["lines"] > 0)]
    if runs.empty:
        return ""
    files = runs["source"].nunique()
    where = f" in {files} file(s)" if files > 1 else ""
    return f"{len(runs)} race report(s){where}: not goroutine dumps, not counted"


def _truncated(s: pd.DataFrame) -> list[str]:
    lines = []
    for _, r in s[s["truncated"]].iterrows():
        if pd.isna(r["missing"]):
            miss = ""
        elif r["missing"] == 0:
            miss = ": all the goroutines its header declares were read, the last stack may be cut short"
        else:
            miss = f": {int(r['missing']):,} goroutine(s) missing"
        lines.append(f"truncated: snapshot {r['snapshot']} of {safe_text(r['source'])}{miss}")
    return lines


def account(d: Dumps) -> str:
    """What was read: files, snapshots, goroutines, and what was skipped and why.

    Parameters
    ----------
    d : Dumps
        Loaded dumps.

    Returns
    -------
    str
        A few lines; counts come from the tables' columns (``lines`` of the warnings,
        ``missing`` of the snapshots), the warnings' own messages are quoted as they are.

    Examples
    --------
    >>> import goforensics as gf
    >>> print(account(gf.parse_text("goroutine 1 [sleep]:\\nmain.main()\\n\\t/m.go:3 +0x1\\n")))
    1 file(s), 1 snapshot(s), 1 goroutine(s) in 1 row(s), 1 distinct stack(s)
    """
    s, w = d.snapshots, d.warnings
    files = set(s["source"].astype(str)) | set(w["source"].astype(str))
    if "corroborated_by" in s:  # the other forms of a round, read into one snapshot
        files |= {f for c in s["corroborated_by"].dropna().astype(str) for f in c.splitlines()}
    lines = [
        f"{len(files)} file(s), {len(s)} snapshot(s), "
        f"{d.total:,} goroutine(s) in {len(d.goroutines):,} row(s), "
        f"{d.frames['stack_id'].nunique():,} distinct stack(s)"
    ]
    lines += series_notes(d)
    lines += [x for x in (_skipped(w), _races(w)) if x]
    lines += _truncated(s)
    other = w[~w["kind"].isin(["skipped", "race-report", "truncated"])]
    for r in other.itertuples(index=False):
        where = safe_text(r.source) + ("" if pd.isna(r.line) else f":{r.line}")
        lines.append(f"{r.kind}: {where}: {safe_text(r.message)}")
    return "\n".join(lines)


def endings(d: Dumps, k: int = 3) -> list[str]:
    """How the snapshots' processes ended, one headline each (the first ``k``).

    Examples
    --------
    >>> import goforensics as gf
    >>> endings(gf.parse_text("fatal error: newosproc\\n"))
    ['fatal error: newosproc']
    """
    s = d.snapshots
    said = [
        safe_text(headline(kind, msg))
        for kind, msg in zip(s["kind"].astype(str), s["message"].astype(str), strict=True)
        if msg and msg != "<NA>"
    ]
    return said[:k]


def _snapshot_lines(d: Dumps) -> list[str]:
    g = d.goroutines
    per = g.groupby("snapshot", observed=True)["count"].sum()
    s = d.snapshots.set_index("snapshot")
    out = ["snapshots:"]
    for snap, n in per.items():
        r = s.loc[snap]
        when = "" if pd.isna(r["taken_at"]) else f" {r['taken_at']:%Y-%m-%d %H:%M:%S}"
        msg = "" if pd.isna(r["message"]) else f"  {str(r['message']).splitlines()[0][:60]}"
        out.append(
            f"  #{snap}{when}  {r['kind']} ({r['format']})  {n:,} goroutines{safe_text(msg)}"
        )
    return out


def _now(d: Dumps) -> tuple[pd.DataFrame, str]:
    """The goroutines of the last snapshot (of each instance), and those words, if a series:
    counts summed over snapshots would count one goroutine once per snapshot it was in."""
    s = d.snapshots
    if len(s) < 2:
        return d.goroutines, ""
    inst = s["instance"].astype(str) if "instance" in s else pd.Series("", index=s.index)
    last = s.groupby(inst.to_numpy(), sort=False)["snapshot"].max()
    g = d.goroutines[d.goroutines["snapshot"].isin(last.to_numpy())]
    return g, (" in the last snapshot" if len(last) == 1 else " in each instance's last snapshot")


def overview(d: Dumps, top: int = 10) -> str:
    """A readable first look: goroutines per snapshot and state, and the biggest groups.

    Parameters
    ----------
    d : Dumps
        Loaded dumps.
    top : int
        How many groups (same stack, state and creator) to list.

    Returns
    -------
    str
        :func:`account`, then the snapshots, the states and the largest groups.

    Examples
    --------
    >>> import goforensics as gf
    >>> print(overview(gf.load("bundled:demo"), top=1).splitlines()[-3])
    largest groups (same stack, state and creator), top 1:
    """
    g = d.goroutines
    out = [account(d), ""]
    if g.empty:
        return "\n".join([*out, "no goroutines"])
    out += _snapshot_lines(d)
    g, when = _now(d)
    out += ["", f"states{when}:"]
    states = g.groupby("state", observed=True)["count"].sum().sort_values(ascending=False)
    out += [f"  {n:>9,}  {safe_text(st)}" for st, n in states.items() if n]
    out += ["", f"largest groups (same stack, state and creator){when}, top {top}:"]
    grp = (
        g.groupby(["stack_id", "state", "created_by"], observed=True, sort=False)
        .agg(
            n=("count", "sum"),
            top_function=("top_function", "first"),
            entry=("entry_function", "first"),
            wait=("wait_minutes", "max"),
        )
        .reset_index()
        .sort_values("n", ascending=False, kind="stable")
        .head(top)
    )
    for _, r in grp.iterrows():
        wait = "" if pd.isna(r["wait"]) or not r["wait"] else f", up to {int(r['wait'])} min"
        out.append(
            f"  {r['n']:>9,}  [{safe_text(r['state'])}{wait}]  {safe_text(r['top_function'])}"
        )
        creator = f", created by {safe_text(r['created_by'])}" if r["created_by"] else ""
        out.append(f"             entry {safe_text(r['entry'])}{creator}")
    return "\n".join(out)


def _triage_head(report: dict) -> str:
    f = report["series"]
    m = f["span_minutes"]
    span = "" if not m else f"over {m:.1f} min " if m >= 1 else f"over {m * 60:.1f} s "
    inst = f", {len(f['instances'])} instances" if len(f["instances"]) > 1 else ""
    head = (
        f"{f['snapshots']} snapshot(s){inst} {span}- {f['goroutines_first']:,} -> "
        f"{f['goroutines_last']:,} goroutines, {report['clusters']} cluster(s)"
    )
    if f["leaked_verdicts"]:
        head += f", {f['leaked_verdicts']:,} marked (leaked) by the runtime"
    return head


def _suspect_lines(s: dict, style) -> list[str]:
    line = "" if s["line"] is None else f":{s['line']}"
    if s["site"]:
        where = safe_text(s["site"]) + (f" ({safe_text(s['file'])}{line})" if s["file"] else "")
    else:
        where = "(no frames)"
    counts = list(s["counts"]) or [s["goroutines"]]
    trend = trend_text(counts, s["slope_per_min"])
    noun = "goroutine" if trend == "1" else "goroutines"
    head = f"#{s['rank']}  score {s['score']:.2f}  [{safe_text(s['state'])}]  {trend} {noun}"
    if s.get("suspected") is False:  # evidence, but below the documented threshold
        head += f"  (a candidate: below the threshold {SUSPECT_THRESHOLD})"
    creator = f"   created by {safe_text(s['created_by'])}" if s["created_by"] else ""
    lines = [
        style(head, bold=True),
        f"    at      {where}",
        f"    entry   {safe_text(s['entry']) or '(no frames)'}{creator}",
    ]
    if len(s.get("sites") or ()) > 1:  # a cause of several clusters: its sites, best first
        sites = ", ".join(safe_text(x) for x in dict.fromkeys(s["sites"]))
        lines.append(f"    sites   {sites} ({len(s['sites'])} clusters)")
    if s["pattern"]:
        lines.append(style(f"    pattern {s['title']} ({s['pattern']})", fg="yellow"))
    lines += [f"    - {safe_text(e)}" for e in s["evidence"]]
    if s["advice"]:
        lines.append(style(f"    fix: {s['advice']}", fg="green"))
    code = source_text(s)  # with --source: the code where it blocks and where it was created
    if code:
        lines += safe_text(code).splitlines()
    return [*lines, ""]


def triage_text(report: dict, color: bool = False) -> str:
    """A triage report (:func:`goforensics.analyze.suspects.triage`) for a terminal.

    Parameters
    ----------
    report : dict
        The triage report.
    color : bool
        Style with ANSI colours (for a terminal).

    Returns
    -------
    str
        The series in one line, how the process ended (if it did), then each suspect
        with a positive score: score, state, trend, where it blocks, entry and creator,
        pattern, evidence, fix; then, one line each, the groups with no evidence of a leak.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.suspects import triage
    >>> print(triage_text(triage(gf.load("bundled:demo"), top=1)).splitlines()[2])
    #1  score 2.36  [sync.Mutex.Lock]  21 goroutines  (a candidate: below the threshold 2.5)
    """
    style = (lambda t, **k: click.style(t, **k)) if color else (lambda t, **k: t)
    f = report["series"]
    lines = [_triage_head(report)]
    if f["ended_by"]:
        ended = style(f"the last snapshot ends the process: {safe_text(f['ended_by'])}", fg="red")
        lines.append(ended + (f"\n    in {safe_text(f['ended_at'])}" if f["ended_at"] else ""))
    lines.append("")
    leaking = [s for s in report["suspects"] if s["score"] > 0]
    if not leaking:
        lines.append("no suspects: no group of goroutines shows evidence of a leak or a hang")
    for s in leaking:
        lines += _suspect_lines(s, style)
    healthy = [s for s in report["suspects"] if s["score"] <= 0]
    if healthy:
        lines.append("also seen, with no evidence of a leak:")
        for s in healthy:
            trend = trend_text(list(s["counts"]) or [s["goroutines"]], s["slope_per_min"])
            site = safe_text(s["site"] or s["entry"] or "(no frames)")
            if s["site"] and s["file"]:
                line = "" if s["line"] is None else f":{s['line']}"
                site += f" ({safe_text(s['file'])}{line})"
            noun = "goroutine " if trend == "1" else "goroutines"
            lines.append(f"    {trend:>12} {noun}  [{safe_text(s['state'])}]  {site}")
    return "\n".join(lines).rstrip("\n") + "\n"  # one line end, whatever section came last


def diff_text(table: pd.DataFrame, a: Dumps, b: Dumps | None) -> str:
    """:func:`goforensics.analyze.diff.diff` for a terminal, biggest change first.

    Parameters
    ----------
    table : DataFrame
        The diff table (``delta``, ``change``, ``before``, ``after``, ``state``, ``site``,
        ``file``, ``line``).
    a, b : Dumps
        The two sides; ``b`` None when ``a``'s first snapshot was compared with its last.

    Returns
    -------
    str
        A head line with both sides' totals, then one line per changed cluster.

    Examples
    --------
    >>> import goforensics as gf
    >>> from goforensics.analyze.diff import diff
    >>> d = gf.load("bundled:demo")
    >>> diff_text(diff(d, d), d, d).splitlines()[0]
    'before: 77 goroutines in 1 snapshot(s); after: 77 goroutines in 1'
    """

    def n(d: Dumps, snaps) -> str:
        g = d.goroutines
        return f"{int(g.loc[g['snapshot'].isin(snaps), 'count'].sum()):,} goroutines"

    snaps = sorted(a.snapshots["snapshot"].tolist())
    if b is None:
        head = (
            f"snapshot {snaps[0]} ({n(a, snaps[:1])}) -> snapshot {snaps[-1]} ({n(a, snaps[-1:])})"
        )
    else:
        after = b.snapshots["snapshot"].tolist()
        head = f"before: {n(a, snaps)} in {len(snaps)} snapshot(s); after: {n(b, after)} in {len(after)}"
    lines = [head, ""]
    if table.empty:
        lines.append("no cluster changed by more than 10%")
    for r in table.itertuples():
        where = f"  ({safe_text(r.file)}:{r.line})" if r.file and pd.notna(r.line) else ""
        lines.append(
            f"{r.delta:+9.1f}  {r.change:<8}  {r.before:g} -> {r.after:g}  "
            f"[{safe_text(r.state)}]  {safe_text(r.site)}{where}"
        )
    return "\n".join(lines)


def cluster_table_text(table: pd.DataFrame, width: int = 60) -> str:
    """A table for a terminal: one line per row, long or multi-line cells cut to ``width``.

    Parameters
    ----------
    table : DataFrame
        Any table (the ``cluster`` command's rows or its ``--summary``).
    width : int
        Widest a cell is shown; a multi-line cell (a representative stack) shows its
        first line and how many more it has.

    Returns
    -------
    str
        Aligned columns, numbers to the right.

    Examples
    --------
    >>> t = pd.DataFrame({"cluster": [0, 1], "frames": ["a()\\nb()\\nc()", "d()"]})
    >>> print(cluster_table_text(t))
    cluster  frames
          0  a() (+2 lines)
          1  d()
    """

    def cell(v) -> str:
        if _missing(v):
            return ""
        lines = safe_text(v).splitlines() or [""]
        text = lines[0] + (f" (+{len(lines) - 1} lines)" if len(lines) > 1 else "")
        return text if len(text) <= width else text[: width - 1] + "…"

    cols = []
    for c in table.columns:
        cells = [str(c), *(cell(v) for v in table[c])]
        w = max(len(x) for x in cells)
        right = pd.api.types.is_numeric_dtype(table[c].dtype)
        cols.append([x.rjust(w) if right else x.ljust(w) for x in cells])
    return "\n".join("  ".join(row).rstrip() for row in zip(*cols, strict=True))
