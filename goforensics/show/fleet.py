"""The fleet view: instances x causes, as text or plain data.

Renders a :class:`goforensics.analyze.fleet.FleetResult`: which causes grow on which
instances, since when, and whether everywhere or on an outlier; then the grid of
instances x causes.

>>> import pandas as pd
>>> from goforensics.analyze.fleet import FleetResult
>>> e = pd.DataFrame()
>>> inst = pd.DataFrame({"instance": ["a", "b"], "files": [3, 3], "snapshots": [3, 3],
...                      "first_taken_at": pd.to_datetime(["2026-01-01"] * 2, utc=True),
...                      "last_taken_at": pd.to_datetime(["2026-01-01 00:02"] * 2, utc=True)})
>>> gr = pd.DataFrame({"instance": ["a", "b"], "cluster": [0, 0], "last": [5, 1], "grows": [True, False]})
>>> v = pd.DataFrame([{"cluster": 0, "site": "main.f", "file": "a.go", "line": 3, "state": "chan send",
...                    "carried_by": ["a"], "carriers": 1, "of": 2, "present_in": 2, "scope": "some",
...                    "since": pd.Timestamp("2026-01-01 00:01", tz="UTC"), "since_first": "a",
...                    "goroutines": 5}])
>>> print(fleet_text(FleetResult(inst, e, e, gr, e, v, e)).splitlines()[-2:])
['a            #', 'b            .']
"""

from __future__ import annotations

import json

import pandas as pd

from .page import e, page, table

__all__ = ["fleet_html", "fleet_json", "fleet_page", "fleet_text"]

GRID_INSTANCES = 60
GRID_CAUSES = 12
HTML_INSTANCES = 500  # rows of the HTML grid (a page of thousands of rows still opens)
_SCOPES = {
    "everywhere": "everywhere",
    "outlier": "an outlier",
    "some": "some instances",
    "only instance": "the only instance",
}


def _when(t) -> str:
    return (
        "an unknown time"
        if t is None or pd.isna(t)
        else pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%SZ")
    )


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(n or '""' for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _header(r) -> list[str]:
    i = r.instances
    if not len(i):
        return ["no instance"]
    files, snaps = int(i["files"].sum()), int(i["snapshots"].sum())
    span = f" ({_when(i['first_taken_at'].min())} to {_when(i['last_taken_at'].max())})"
    lines = [f"{len(i)} instance(s), {files:,} file(s), {snaps:,} snapshot(s){span}"]
    if len(r.warnings):
        lines.append(f"{len(r.warnings)} file(s) could not be read (see the warnings)")
    return lines


def _causes(r) -> list[str]:
    v = r.verdicts
    if not len(v):
        told = int((r.instances["snapshots"] >= 3).sum()) if len(r.instances) else 0
        why = "" if told else ": no instance has the 3 snapshots a trend needs"
        return ["", f"no cause grows on any instance{why}"]
    out = ["", "causes that grow (cluster ids are the fleet's: the same cause on every instance)"]
    for row in v.itertuples():
        where = f"{row.file}:{row.line}" if not pd.isna(row.line) else row.file
        scope = _SCOPES[row.scope]
        out += [
            "",
            f"#{row.cluster}  [{row.state}] {row.site} ({where})",
            f"    grows on {row.carriers} of {row.of} instance(s): {scope}; present on "
            f"{row.present_in}; {row.goroutines:,} goroutine(s) at the last snapshots",
            f"    since {_when(row.since)} (first on {row.since_first or chr(34) * 2})",
            f"    on {_names(list(row.carried_by))}",
        ]
    return out


def _grid(r) -> list[str]:
    v, gr = r.verdicts, r.growth
    if not len(v) or not len(r.instances):
        return []
    causes = v["cluster"].tolist()[:GRID_CAUSES]
    names = r.instances["instance"].astype(str).tolist()
    shown = names[:GRID_INSTANCES]
    cell = {
        (str(a), int(c)): "#" if g else "."
        for a, c, g, n in zip(gr["instance"], gr["cluster"], gr["grows"], gr["last"], strict=True)
        if g or n > 0
    }
    width = max(max(len(n) for n in shown), 8)
    heads = [f"#{c}" for c in causes]
    out = [
        "",
        "instances x causes ('#' grows, '.' present at the last snapshot"
        + (f"; first {len(shown)} of {len(names)} instances" if len(shown) < len(names) else "")
        + (f"; top {len(causes)} causes" if len(causes) < len(v) else "")
        + ")",
        " " * width + "  " + " ".join(f"{h:>4}" for h in heads),
    ]
    for n in shown:
        marks = " ".join(f"{cell.get((n, c), ' '):>4}" for c in causes)
        out.append((f"{n or chr(34) * 2:<{width}}  " + marks).rstrip())
    return out


def fleet_text(result) -> str:
    """The fleet triage as text: a header, each growing cause with its instances, the grid.

    Parameters
    ----------
    result : a :class:`goforensics.analyze.fleet.FleetResult`.

    Returns
    -------
    str, one cause per paragraph (most instances first), then the instances x causes grid
    (at most :data:`GRID_INSTANCES` x :data:`GRID_CAUSES`).

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.analyze.fleet import FleetResult
    >>> e = pd.DataFrame()
    >>> print(fleet_text(FleetResult(e, e, e, e, e, e, e)))
    no instance
    <BLANKLINE>
    no cause grows on any instance: no instance has the 3 snapshots a trend needs
    """
    return "\n".join(_header(result) + _causes(result) + _grid(result))


def _records(df: pd.DataFrame) -> list[dict]:
    if not len(df):
        return []
    return json.loads(df.to_json(orient="records", date_format="iso", default_handler=str))


def fleet_json(result) -> dict:
    """The fleet triage as plain data (what ``goforensics fleet --format json`` prints).

    Parameters
    ----------
    result : FleetResult
        What :func:`goforensics.fleet.fleet_triage` returned.

    Returns
    -------
    dict with ``instances``, ``verdicts``, ``clusters`` (without their frame text),
    ``suspects`` (each instance's top), ``warnings`` and ``parquet`` (the dataset written,
    or null): lists of records, times in ISO 8601.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.analyze.fleet import FleetResult
    >>> e = pd.DataFrame()
    >>> sorted(fleet_json(FleetResult(e, e, e, e, e, e, e)))
    ['clusters', 'instances', 'parquet', 'suspects', 'verdicts', 'warnings']
    """
    clusters = result.clusters.drop(columns=["frames"], errors="ignore")
    return {
        "instances": _records(result.instances),
        "verdicts": _records(result.verdicts),
        "clusters": _records(clusters),
        "suspects": _records(result.suspects),
        "warnings": _records(result.warnings),
        "parquet": result.parquet,
    }


def _html_causes(v: pd.DataFrame) -> str:
    rows = pd.DataFrame(
        {
            "cause": [f"#{c}" for c in v["cluster"]],
            "state": v["state"].astype(str),
            "where it blocks": [
                f"{s} ({f}:{ln})" if not pd.isna(ln) else f"{s} ({f})"
                for s, f, ln in zip(v["site"], v["file"], v["line"], strict=True)
            ],
            "grows on": [f"{a} of {b}" for a, b in zip(v["carriers"], v["of"], strict=True)],
            "scope": [_SCOPES.get(x, str(x)) for x in v["scope"]],
            "present on": v["present_in"],
            "since": [_when(t) for t in v["since"]],
            "first on": [x or '""' for x in v["since_first"]],
            "goroutines": v["goroutines"],
            "instances": [_names(list(x)) for x in v["carried_by"]],
        }
    )
    return table(rows, numeric=("present on", "goroutines"))


def _html_grid(r) -> str:
    v, gr = r.verdicts, r.growth
    causes = v["cluster"].tolist()
    names = r.instances["instance"].astype(str).tolist()
    shown = names[:HTML_INSTANCES]
    cell = {}
    for a, c, g, n, since in zip(
        gr["instance"], gr["cluster"], gr["grows"], gr["last"], gr["since"], strict=True
    ):
        if g:
            cell[(str(a), int(c))] = (
                "grows",
                "since " + _when(since)[5:16] if pd.notna(since) else "grows",
            )
        elif n > 0:
            cell[(str(a), int(c))] = ("present", "·")
    head = "".join(
        f'<th title="{e(s)}">#{e(c)}</th>' for c, s in zip(causes, v["site"], strict=True)
    )
    body = []
    for n in shown:
        tds = []
        for c in causes:
            kind, text = cell.get((n, c), ("", ""))
            style = ' style="background:#f6d5cf"' if kind == "grows" else ""
            tds.append(f'<td{style} title="{e(kind)}">{e(text)}</td>')
        body.append(f"<tr><td>{e(n or chr(34) * 2)}</td>{''.join(tds)}</tr>")
    more = (
        f'<p class="muted">first {len(shown)} of {len(names)} instances</p>'
        if len(shown) < len(names)
        else ""
    )
    return f"<table><tr><th>instance</th>{head}</tr>{''.join(body)}</table>{more}"


def fleet_html(result) -> str:
    """The fleet view as an HTML section: which instances carry each cause, and since when.

    Parameters
    ----------
    result : a :class:`goforensics.analyze.fleet.FleetResult`.

    Returns
    -------
    str: an ``<h2>Fleet</h2>`` section (every text escaped): the instances read, a table of the
    causes that grow (where they block, on how many instances, everywhere or an outlier, since
    when and first where) and the grid of instances x causes (a cell says since when the cause
    grows on that instance; a dot: present at its last snapshot, not growing).

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.analyze.fleet import FleetResult
    >>> e_ = pd.DataFrame()
    >>> print(fleet_html(FleetResult(e_, e_, e_, e_, e_, e_, e_)).replace("</p>", "</p>\\n"))
    <h2>Fleet</h2><p>no instance</p>
    <p>no cause grows on any instance: no instance has the 3 snapshots a trend needs</p>
    <BLANKLINE>
    """
    head = "".join(f"<p>{e(x)}</p>" for x in _header(result))
    if not len(result.verdicts) or not len(result.instances):
        return f"<h2>Fleet</h2>{head}<p>{e(_causes(result)[-1])}</p>"
    return (
        f"<h2>Fleet</h2>{head}<h3>Causes that grow</h3>"
        '<p class="muted">cluster ids are the fleet\'s: one id is one cause on every instance</p>'
        f"{_html_causes(result.verdicts)}<h3>Instances x causes</h3>{_html_grid(result)}"
    )


def fleet_page(result, title: str = "goforensics fleet") -> str:
    """The fleet view as a self-contained HTML page (``goforensics fleet --format html``).

    Parameters
    ----------
    result : FleetResult
        What :func:`goforensics.fleet.fleet_triage` returns.
    title : str, default "goforensics fleet"
        The page's title and heading.

    Returns
    -------
    str
        The HTML page: the instances x causes view under the page's Content-Security-Policy.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.analyze.fleet import FleetResult
    >>> e_ = pd.DataFrame()
    >>> fleet_page(FleetResult(e_, e_, e_, e_, e_, e_, e_)).startswith("<!DOCTYPE html>")
    True
    """
    return page(title, f"<h1>{e(title)}</h1>" + fleet_html(result))
