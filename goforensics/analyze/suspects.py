"""Rank leak suspects: which code is leaking goroutines, since when, and how sure we are.

Over a series (several snapshots of one process, or of a fleet), a leak is a cluster
of goroutines that **grows** and whose goroutines **stay**: a Theil–Sen slope and a
Mann–Kendall test with the Hamed–Rao correction (robust to the autocorrelation of
counts) measure the growth; following goroutine ids across snapshots tells a leak
(newcomers never leave) from churn and from a burst that drains. A healthy worker
pool is large but flat; it must never outrank a small leak.

In a single dump there is no growth to see; the evidence is then the LeakProf kind:
many goroutines blocked at the same operation of the application's code, long waits,
states that nothing can ever wake (nil channels, ``select {}``), goroutines whose
creator has returned, and the runtime's own ``(leaked)`` verdicts when present.

Each suspect names its site (the application frame where it blocks), its entry
function, its creator, its state, its counts per snapshot, its slope, its score,
the evidence behind the score, and the pattern it matches with advice.

>>> import goforensics as gf
>>> d = gf.load("bundled:demo")
>>> by_stack = d.goroutines.groupby(["stack_id", "created_by"], observed=True).ngroup()
>>> s = suspects(d, by_stack)
>>> top = s.iloc[0]
>>> print(top.site, top.state, top.goroutines, top.pattern, sep=" | ")
main.(*cache).get | sync.Mutex.Lock | 21 | lock-across-channel

(one cause: the 20 goroutines waiting for the cache's lock and the one holding it.)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..goruntime import ACTIVE_STATES, DEADLOCK_MESSAGES, IO_STATES, SYNC_STATES, UNWAKEABLE
from ..model import Dumps, headline
from .causes import cause_of
from .clustering import resolve_labels
from .evidence import Facts, cluster_facts
from .lifetimes import since as since_baseline
from .patterns import match_patterns
from .source import attach_source
from .trend import Trend, trend

__all__ = [
    "COUNT_BASIS",
    "SUSPECT_COLUMNS",
    "SUSPECT_THRESHOLD",
    "series_facts",
    "suspects",
    "triage",
]

#: The score above which a cluster is a suspect (column ``suspected``). A score is the sum of
#: the weighted evidence (see :func:`suspects`): growth with newcomers that stay gives up to
#: 4.5, each strong witness 1 to 3 (an unwakeable state 3, the runtime's leak verdicts up to 3,
#: a lock held across a blocked operation about 1.3, a named leak pattern up to 1.5), a large
#: group at one site of the application in one dump up to 1.5; healthy shapes (pools, loops,
#: keep-alive, accept loops, the runtime's own goroutines) take 0.5 to 1.5 away. 2.5 needs
#: growth, or two witnesses: one dump's large group alone stays below it.
SUSPECT_THRESHOLD = 2.5
#: What each count of :func:`suspects` and :func:`triage` is: the last snapshot, the first, the
#: peak, per snapshot or a sum over snapshots (issue: a count never leaves it to be guessed).
COUNT_BASIS = {
    "goroutines": "last snapshot",
    "goroutines_first": "first snapshot",
    "goroutines_peak": "peak over the snapshots",
    "counts": "per snapshot",
    "series.goroutines_first": "first snapshot",
    "series.goroutines_last": "last snapshot",
    "series.leaked_verdicts": "sum over the snapshots",
    "series.leaked_last": "last snapshot",
    "series.truncated_snapshots": "snapshots",
    "clusters": "clusters over the whole series",
}
_RAISED = 6.0  # the goroutine that raised a panic or fatal error leads a crash dump
_CRASH_WAIT = 5  # minutes a goroutine of a crash dump must have waited to count as stuck

SUSPECT_COLUMNS = [
    "rank",
    "cluster",
    "site",
    "file",
    "line",
    "entry",
    "created_by",
    "state",
    "goroutines",
    "goroutines_first",
    "goroutines_peak",
    "counts",
    "slope_per_min",
    "trend",
    "mk_p",
    "persistence",
    "max_wait_minutes",
    "leaked_share",
    "instances",
    "score",
    "suspected",
    "pattern",
    "title",
    "advice",
    "evidence",
]


def suspects(
    dumps: Dumps,
    labels: pd.Series | None = None,
    *,
    top: int | None = None,
    min_goroutines: int = 1,
    wait_for=None,
    by: str = "cause",
) -> pd.DataFrame:
    """Rank the clusters of a series (or of one dump) as leak suspects, most likely first.

    Parameters
    ----------
    dumps : the series (or one dump).
    labels : cluster ids aligned with ``dumps.goroutines`` (by default
        :func:`goforensics.analyze.clustering.cluster`).
    top : keep the first ``top`` suspects.
    min_goroutines : leave out clusters with fewer goroutines now and at their peak.
    wait_for : the last snapshot's :func:`goforensics.analyze.graphs.wait_for_graph`, where
        the caller has it already (it is a pass over every goroutine of that snapshot).
    by : ``"cause"`` (the default) ranks causes
        (:func:`goforensics.analyze.causes.cause_of`): one row per cause, its best-scored
        site's facts, ``goroutines`` summed over its sites, and columns ``cause`` (cause id),
        ``sites`` and ``clusters`` (its sites and cluster ids, best first); ``"cluster"``
        ranks sites, one row per cluster.

    Returns
    -------
    DataFrame
        Columns :data:`SUSPECT_COLUMNS`: ``goroutines`` (the LAST snapshot: the last count of the series,
        or of the last snapshot of one dump), ``goroutines_first`` and ``goroutines_peak`` (the first
        snapshot's count and the peak over the series, in the instance where it grew the
        most; in one dump, the last snapshot's), ``counts`` (goroutines per snapshot),
        ``slope_per_min``, ``trend`` and ``mk_p`` (the growth test), ``persistence`` (share
        of later arrivals that never left, when it grows), ``max_wait_minutes``,
        ``leaked_share``, ``instances``, ``score`` (the sum of the weighted evidence; scale
        at :data:`SUSPECT_THRESHOLD`), ``suspected`` (score at or above the threshold: below
        it a row is listed, not suspected),
        ``pattern``, ``title``, ``advice`` and ``evidence`` (a list of sentences).

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 4 [chan receive (nil chan)]:\\nmain.f()\\n\\t/app/m.go:9 +0x18\\n")
    >>> suspects(d)[["rank", "site", "pattern"]].values.tolist()
    [[1, 'main.f', 'nil-channel']]
    """
    labels = resolve_labels(dumps, labels)
    if dumps.goroutines.empty:
        return pd.DataFrame(columns=SUSPECT_COLUMNS)
    if by not in ("cluster", "cause"):
        raise ValueError(f"by={by!r}: choose cluster or cause")
    rows = []
    facts = cluster_facts(dumps, labels, wait_for=wait_for)
    for f in facts:
        if (f.n if f.multi else f.n_now) < min_goroutines and f.trend.peak < min_goroutines:
            continue
        rows.append(_row(f))
    out = pd.DataFrame(rows, columns=[c for c in SUSPECT_COLUMNS if c != "rank"])
    out["line"] = out["line"].astype("Int64")  # a site without a line (no frames) is <NA>
    out = out.sort_values(
        ["score", "goroutines", "cluster"], ascending=[False, False, True], kind="stable"
    )
    if by == "cause":
        one = dumps.snapshots["instance"].nunique() <= 1
        minutes = facts[0].minutes if facts else None  # one instance: the same for every site
        out = _by_cause(out, cause_of(dumps, labels, facts=facts), one, minutes)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out = out.reset_index(drop=True)
    return out.head(top) if top else out


def _by_cause(
    out: pd.DataFrame, of: pd.Series, one_instance: bool = True, minutes=None
) -> pd.DataFrame:
    """One row per cause (``out`` in rank order): its best site's row, goroutines summed.

    In one instance the cause's ``counts`` are its sites' summed per snapshot, and its first,
    peak and growth (slope, test) are read off them: the best site's own growth stays in the
    evidence, named as the site's. Over several instances each site's counts are those of the
    instance where it grew the most, so the cause's peak is the sum of its sites' peaks."""
    out = out.assign(cause=out["cluster"].map(of).fillna(out["cluster"]).astype(int))
    grouped = out.groupby("cause", sort=False)
    best = grouped.head(1).set_index("cause")
    for col in ("goroutines", "goroutines_first", "goroutines_peak"):
        best[col] = grouped[col].sum()
    lengths = grouped["counts"].agg(lambda cs: len({len(c) for c in cs}))
    if one_instance and (lengths == 1).all():
        summed = grouped["counts"].agg(lambda cs: [int(x) for x in np.sum(list(cs), axis=0)])
        best["counts"] = summed
        best["goroutines_first"] = [c[0] if c else 0 for c in summed.reindex(best.index)]
        best["goroutines_peak"] = [max(c, default=0) for c in summed.reindex(best.index)]
        several = grouped.size() > 1
        for cause in several[several].index:
            _cause_growth(best, cause, summed[cause], minutes)
    best["sites"] = grouped["site"].agg(list)
    best["clusters"] = grouped["cluster"].agg(list)
    return best.reset_index()[
        [*[c for c in out.columns if c != "cause"], "cause", "sites", "clusters"]
    ]


def _cause_growth(best: pd.DataFrame, cause, counts: list[int], minutes) -> None:
    """A cause of several sites: its growth is that of its summed counts, not its best site's
    (whose growth sentence stays in the evidence, said of that site)."""
    if len(counts) < 3:
        return
    t = trend(np.asarray(counts, dtype=float), minutes)
    best.at[cause, "slope_per_min"] = round(t.slope, 4) if t.per_minute else None
    best.at[cause, "trend"] = t.mk_trend
    best.at[cause, "mk_p"] = round(t.mk_p, 6)
    why = list(best.at[cause, "evidence"])
    if why and why[0].startswith(_GROWTH_OPENINGS):
        # the header counts the cause; a sentence about its best site alone says so
        site, line = best.at[cause, "site"], best.at[cause, "line"]
        where = site if line is None or pd.isna(line) else f"{site} (line {int(line)})"
        why[0:1] = [
            f"its sites together: {_growth_words(t, len(counts))[1]}",
            f"{where} alone: {why[0]}",
        ]
        best.at[cause, "evidence"] = why


# How the sentences of _growth_score open (the cause's replace its best site's).
_GROWTH_OPENINGS = ("grows from", "flat over", "a burst that drains", "shrinking over")


def _growth_words(t: Trend, n: int) -> tuple[float, str]:
    """What a count that does not grow did over ``n`` snapshots: the score it weighs in
    :func:`_growth_score`, and its words (a growing count: 0 and :func:`growth_sentence`)."""
    if t.grows:
        return 0.0, growth_sentence(t, n)
    if t.peak > 0 and t.last <= 0.3 * t.peak and t.peak >= 2 * max(t.first, 1):
        return -1.0, f"a burst that drains: peaked at {int(t.peak)}, now {int(t.last)}"
    if t.mk_trend == "decreasing" and t.mk_p < 0.05:
        return -0.5, "shrinking over the series"
    return 0.0, f"flat over {n} snapshots ({int(t.first)} -> {int(t.last)}): no growth"


def growth_sentence(t: Trend, n: int) -> str:
    """A count's growth in words, with the slope and the test that judged it.

    Parameters
    ----------
    t : Trend
        The trend of the counts (:func:`goforensics.analyze.trend.trend`).
    n : int
        How many snapshots the counts cover.

    Returns
    -------
    str
        ``grows from FIRST to LAST goroutines over N snapshots (Theil–Sen ..., test p=...)``.

    Examples
    --------
    >>> import numpy as np
    >>> from goforensics.analyze.trend import trend
    >>> growth_sentence(trend(np.array([2, 4, 6, 8, 10, 12]), np.arange(6.0)), 6)
    'grows from 2 to 12 goroutines over 6 snapshots (Theil–Sen +2.00/min, Mann–Kendall p=0.0085)'
    """
    unit = "/min" if t.per_minute else "/snapshot"
    how = t.test if t.n < 5 and t.mk_p >= 0.05 else f"{t.test} p={t.mk_p:.2g}"
    return (
        f"grows from {int(t.first)} to {int(t.last)} goroutines over {n} snapshots "
        f"(Theil–Sen {t.slope:+.2f}{unit}, {how})"
    )


def _row(f: Facts) -> dict:
    """One suspect: its facts scored, its best pattern matched."""
    growth_score, growth_why, persistence = _growth_score(f)
    score, now_why = _now_score(f, growth_score)
    pat = match_patterns(f)
    t = f.trend
    return {
        "cluster": f.cluster,
        "site": f.site,
        "file": f.file,
        "line": f.line,
        "entry": f.entry,
        "created_by": f.created_by,
        "state": f.state,
        "goroutines": f.n,
        "goroutines_first": int(f.trend.first) if f.multi else f.n_now,
        "goroutines_peak": int(f.trend.peak) if f.multi else f.n_now,
        "counts": f.counts,
        "slope_per_min": round(t.slope, 4) if t.per_minute else None,
        "trend": t.mk_trend,
        "mk_p": round(t.mk_p, 6),
        "persistence": persistence,
        "max_wait_minutes": f.max_wait,
        "leaked_share": round(f.leaked_share, 3),
        "instances": f.instances,
        "score": round(score + (pat.bonus if pat else 0.0), 3),
        "suspected": score + (pat.bonus if pat else 0.0) >= SUSPECT_THRESHOLD,
        "pattern": pat.id if pat else "",
        "title": pat.title if pat else "",
        "advice": pat.advice if pat else "",
        "evidence": growth_why + now_why + (pat.evidence if pat else []),
    }


def _growth_score(f: Facts) -> tuple[float, list[str], float | None]:
    """Score and sentences of the growth over the series; the persistence when it grows."""
    t = f.trend
    if not (f.multi and len(f.counts) >= 3):
        return 0.0, [], None
    n = len(f.counts)
    if t.grows:
        rel = (t.last - t.first) / max(t.last, 1.0)
        strength = min(1.0, max(rel, 0.0) * 1.25) * min(1.0, (t.last - t.first) / 4.0)
        if t.n < 5:  # too few snapshots to tell a leak from a backlog that will drain
            strength *= 0.6
        p = 0.5 if f.persistence is None else f.persistence
        score = 4.0 * strength * (0.25 + 0.75 * p)
        score += 0.5 * min(1.0, math.log10(t.last - t.first + 1) / 3.0)  # bigger leaks first
        why = [growth_sentence(t, n)]
        if t.binned:
            why[0] += f" (tested on {t.binned} time bins)"
        if f.persistence is not None:
            why.append(f"{f.persistence:.0%} of the goroutines that arrived later never left")
        if t.n < 5:
            why.append(
                f"only {t.n} snapshots: a backlog that will drain looks the same; "
                "capture more to confirm"
            )
        if f.instances > 1:
            why.append(f"growing in {f.growing_instances} of {f.instances} instances")
        return score, why, f.persistence
    score, words = _growth_words(t, n)
    return score, [words], None


def _now_score(f: Facts, score: float) -> tuple[float, list[str]]:
    """``score`` plus the last snapshot's evidence (the single-dump, LeakProf kind), and its
    sentences.

    What is as true of healthy code as of a leak (a creator that returned, a few goroutines
    parked on a channel) weighs nothing alone in one dump: the size of the group does
    (:attr:`Facts.crowd`), and the strong witnesses do (an unwakeable state, the runtime's
    verdicts, a long wait, a lock held across a blocked operation, see the patterns).
    """
    why: list[str] = []
    app_site = f.site_class == "application"
    if f.raised:
        # the goroutine that raised a panic or fatal error is where a crash dump's triage starts
        score += _RAISED
        why.append(f"raised the process's end: {f.crashed}")
    if f.state not in ACTIVE_STATES:
        if f.state in UNWAKEABLE and not (
            f.entry == "main.main" and f.state == "select (no cases)"
        ):
            score += 3.0
            why.append(f"blocked in [{f.state}]: nothing can ever wake these goroutines")
        if f.leaked:
            score += 3.0 * f.leaked_share
            why.append(
                f"the runtime's goroutineleak profile marked {f.leaked} of {f.n_now} as leaked"
            )
        if f.deadlocked:
            # the runtime's own verdict: blocked application code in a deadlock it detected
            # is stuck for good, whatever else is known of it
            score += SUSPECT_THRESHOLD if app_site else 1.0
            why.append(
                "the runtime's deadlock detector stopped the program with these blocked: "
                "nothing was left to wake them"
            )
        if (f.state in SYNC_STATES or f.state in IO_STATES) and app_site:
            line = "<NA>" if f.line is None else f.line
            where = f"blocked in [{f.state}] at {f.site} ({_short(f.file)}:{line})"
            if len(f.counts) and not int(f.counts[-1]):
                # gone before the end of the series: what it was is said, not scored
                why.append(f"gone by the last snapshot; {f.n_now} goroutine(s) were {where}")
            else:
                # LeakProf: many goroutines parked at one operation of the application's code
                size = min(1.0, math.log10(f.n_now + 1) / 3.0) if f.n_now else 0.0
                score += 1.5 * size if not f.multi else 0.5 * (0.6 + size)
                why.append(f"{f.n_now} goroutine(s) {where}")
        if f.creator_gone and f.state in SYNC_STATES:
            # true of every pool and loop whose constructor returned: over a series it backs
            # growth a little, alone it is no evidence
            score += 0.15 if f.multi else 0.0
            why.append(f"their creator {f.created_by} has returned (as a pool's or a loop's does)")
        if f.max_wait:
            long_enough = not f.crashed or f.max_wait >= _CRASH_WAIT
            score += (0.8 if not f.multi else 0.3) * min(1.0, f.max_wait / 30.0) * long_enough
            why.append(f"blocked for up to {f.max_wait} minute(s)")
    elif not f.raised:
        score -= 0.5
    if f.site_class == "runtime" or f.entry.startswith("runtime."):
        score -= 1.0  # the runtime's own goroutines (GC workers, finalizers...) are not leaks
    if f.entry == "main.main" and not f.raised:
        score -= 0.8  # the main goroutine waits by design until the program ends
    return score, why


def _short(path: str) -> str:
    parts = str(path).replace("\\", "/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else str(path)


def series_facts(dumps: Dumps) -> dict:
    """Facts about a series for a triage report: snapshots, span, instances, totals.

    Parameters
    ----------
    dumps : the series.

    Returns
    -------
    dict
        ``snapshots``, ``instances``, ``sources``, ``first_taken_at``, ``last_taken_at``,
        ``time_sources``, ``span_minutes``, ``goroutines_first`` and ``goroutines_last`` (in
        the first and the last snapshot), ``formats``, ``kinds``, ``go_versions``,
        ``leaked_verdicts`` (goroutines marked leaked, summed over the snapshots: one
        goroutine seen in 8 snapshots counts 8), ``leaked_last`` (marked in the last snapshot),
        ``truncated_snapshots``, ``warnings``, and how the last snapshot ends the process
        (see :func:`_ending`): ``ended_kind``, ``ended_message``, ``ended_goroutine``,
        ``ended_function``, ``ended_file``, ``ended_line`` as data, ``ended_by`` and
        ``ended_at`` as sentences.

    Examples
    --------
    >>> import goforensics as gf
    >>> series_facts(gf.load("bundled:demo"))["goroutines_last"]
    77
    """
    s = dumps.snapshots
    g = dumps.goroutines
    per = g.groupby("snapshot", observed=True)["count"].sum().reindex(s["snapshot"], fill_value=0)
    t = s["taken_at"]
    span = (t.max() - t.min()).total_seconds() / 60.0 if t.notna().any() and len(s) > 1 else 0.0
    return {
        "snapshots": len(s),
        "instances": sorted(s["instance"].astype(str).unique().tolist()),
        "sources": int(s["source"].nunique()),
        "first_taken_at": None if not t.notna().any() else t.min().isoformat(),
        "last_taken_at": None if not t.notna().any() else t.max().isoformat(),
        "time_sources": sorted(s["time_source"].astype(str).unique().tolist()),
        "span_minutes": round(span, 3),
        "goroutines_first": int(per.iloc[0]) if len(per) else 0,
        "goroutines_last": int(per.iloc[-1]) if len(per) else 0,
        "formats": sorted(s["format"].astype(str).unique().tolist()),
        "kinds": sorted(s["kind"].astype(str).unique().tolist()),
        "go_versions": sorted(v for v in s["go_version"].astype(str).unique().tolist() if v),
        "leaked_verdicts": int(g.loc[g["leaked"], "count"].sum()),
        "leaked_last": int(
            g.loc[g["leaked"] & (g["snapshot"] == s["snapshot"].iloc[-1]), "count"].sum()
        )
        if len(s)
        else 0,
        "truncated_snapshots": int(s["truncated"].sum()),
        "warnings": len(dumps.warnings),
        **_ending(dumps),
    }


_ENDINGS = ("panic", "fatal error", "signal")


def _ending(dumps: Dumps) -> dict:
    """How the last snapshot ends the process, if it does.

    As data: ``ended_kind`` (panic, fatal error, signal), ``ended_message`` (as the runtime
    printed it), and where the goroutine that raised it was in the application's code:
    ``ended_goroutine``, ``ended_function``, ``ended_file``, ``ended_line`` (a deadlock or a
    signal has no such goroutine). As sentences, until show/ words them from the data:
    ``ended_by`` (:func:`goforensics.model.headline`) and ``ended_at``.
    """
    s = dumps.snapshots
    keys = (
        "ended_by",
        "ended_at",
        "ended_kind",
        "ended_message",
        "ended_goroutine",
        "ended_function",
        "ended_file",
        "ended_line",
    )
    out: dict = dict.fromkeys(keys)
    if not len(s) or str(s["kind"].iloc[-1]) not in _ENDINGS:
        return out
    kind, message = str(s["kind"].iloc[-1]), s["message"].iloc[-1]
    message = "" if pd.isna(message) else str(message)
    out.update(ended_kind=kind, ended_message=message, ended_by=headline(kind, message))
    if kind == "signal" or DEADLOCK_MESSAGES[0] in out["ended_by"]:
        return out
    g = dumps.goroutines
    g = g[g["snapshot"] == s["snapshot"].iloc[-1]]
    if g.empty:
        return out
    first = g.loc[g["line"].idxmin()]  # the runtime prints the goroutine that raised it first
    f = dumps.frames
    f = f[(f["stack_id"] == first["stack_id"]) & (f["section"] == 0)].sort_values("depth")
    app = f[f["frame_class"] == "application"]
    if len(app):
        fr = app.iloc[0]
        line = None if pd.isna(fr["line"]) else int(fr["line"])
        goid = None if pd.isna(first["goid"]) else int(first["goid"])
        out.update(
            ended_goroutine=goid,
            ended_function=str(fr["function"]),
            ended_file=str(fr["file"]),
            ended_line=line,
        )
        out["ended_at"] = (
            f"goroutine {goid} at {fr['function']} ({_short(fr['file'])}:{fr['line']})"
        )
    return out


def triage(
    dumps: Dumps,
    labels: pd.Series | None = None,
    *,
    top: int = 10,
    source=None,
    by: str = "cause",
    since=None,
) -> dict:
    """The triage report as plain data (what ``goforensics triage --format json`` prints).

    Parameters
    ----------
    dumps : the series (or one dump).
    labels : cluster ids aligned with ``dumps.goroutines`` (default: clustered here).
    top : suspects to keep.
    source : path or list of paths, optional
        The source tree(s) the program was built from: each suspect gets its code, the
        ``go`` statement that created it and the static evidence
        (:func:`goforensics.analyze.source.attach_source`).
    by : ``"cause"`` (the default) or ``"cluster"``: rank causes (the sites of one mechanism
        as one suspect, see :func:`suspects`), or clusters.
    since : Timestamp, optional
        Judge growth from the baseline snapshot for this time on (a leak onset from
        :func:`goforensics.leak_onset`): :func:`goforensics.analyze.lifetimes.since`.

    Returns
    -------
    dict
        ``counts``: :data:`COUNT_BASIS` (what each count is); ``suspects``: the records of
        :func:`suspects` (JSON-ready: numpy scalars as Python
        numbers, NaN and NA as None); ``series``: :func:`series_facts`; ``clusters``: the
        number of clusters.

    Examples
    --------
    >>> import goforensics as gf
    >>> r = triage(gf.load("bundled:demo"), top=1)
    >>> sorted(r), r["suspects"][0]["rank"]
    (['clusters', 'counts', 'series', 'suspects'], 1)
    """
    if since is not None:
        keep = since_baseline(dumps, since)
        labels = (
            None if labels is None else resolve_labels(dumps, labels).loc[keep.goroutines.index]
        )
        dumps = keep
    labels = resolve_labels(dumps, labels)
    s = suspects(dumps, labels, top=top, by=by)
    if source:
        s = attach_source(s, source, dumps, labels)
    records = []
    for r in s.to_dict("records"):
        rec = {}
        for k, v in r.items():
            if isinstance(v, (np.integer,)):
                v = int(v)
            elif isinstance(v, (np.floating, float)):
                v = None if not np.isfinite(v) else float(v)
            elif v is pd.NA:
                v = None
            rec[k] = v
        records.append(rec)
    return {
        "counts": COUNT_BASIS,
        "suspects": records,
        "series": series_facts(dumps),
        "clusters": int(pd.Series(labels).nunique()),
    }
