"""Static-scan findings as text and JSON (``goforensics scan``); SARIF is :mod:`goforensics.show.sarif`.

>>> import pandas as pd
>>> f = pd.DataFrame([{"rule_id": "GF105", "rule": "http-server-no-timeouts", "level": "warning",
...                    "file": "uploads.go", "line": 20, "function": "serveUploads",
...                    "message": "http.Server without ReadHeaderTimeout", "overlaps": "gosec G112",
...                    "snippet": "srv := &http.Server{Handler: h}"}])
>>> print(findings_text(f, files=4))
uploads.go:20: GF105 http-server-no-timeouts [warning] (gosec G112) in serveUploads
    http.Server without ReadHeaderTimeout
    | srv := &http.Server{Handler: h}
1 finding(s) in 4 file(s): GF105 1
"""

from __future__ import annotations

import json

import pandas as pd

__all__ = ["findings_json", "findings_text", "source_text"]


def findings_text(findings: pd.DataFrame, *, files: int | None = None) -> str:
    """One paragraph per finding (``file:line: rule [level] (overlap) in function``), then a tally.

    Parameters
    ----------
    findings : DataFrame
        :func:`goforensics.analyze.source.scan` output (``rule_id``, ``rule``, ``level``, ``file``,
        ``line``, ``function``, ``message``, ``overlaps``, ``snippet``).
    files : int, optional
        Files read, for the tally line.

    Returns
    -------
    str
        The paragraphs, then ``N finding(s) in F file(s): RULE COUNT ...``.

    Examples
    --------
    >>> f = pd.DataFrame([{"rule_id": "GF105", "rule": "http-server-no-timeouts",
    ...                    "level": "warning", "file": "uploads.go", "line": 20,
    ...                    "function": "serveUploads", "overlaps": "",
    ...                    "message": "http.Server without ReadHeaderTimeout", "snippet": ""}])
    >>> print(findings_text(f))
    uploads.go:20: GF105 http-server-no-timeouts [warning] in serveUploads
        http.Server without ReadHeaderTimeout
    1 finding(s): GF105 1
    >>> findings_text(f.iloc[:0], files=3)
    '0 finding(s) in 3 file(s)'
    """
    out = []
    for r in findings.to_dict("records"):
        over = f" ({r['overlaps']})" if r.get("overlaps") else ""
        fn = f" in {r['function']}" if r.get("function") else ""
        out.append(f"{r['file']}:{r['line']}: {r['rule_id']} {r['rule']} [{r['level']}]{over}{fn}")
        out.append(f"    {r['message']}")
        if r.get("snippet"):
            out.append(f"    | {r['snippet']}")
    tally = " ".join(f"{k} {v}" for k, v in findings["rule_id"].value_counts().sort_index().items())
    where = f" in {files} file(s)" if files is not None else ""
    out.append(f"{len(findings)} finding(s){where}" + (f": {tally}" if tally else ""))
    return "\n".join(out)


def findings_json(findings: pd.DataFrame) -> str:
    """The findings as a JSON document: ``{"findings": [...], "files": N, "seconds": S}``.

    Parameters
    ----------
    findings : DataFrame
        The findings (columns of :data:`goforensics.analyze.rules.FINDING_COLUMNS`); its
        ``attrs`` may carry ``files`` and ``seconds``.

    Returns
    -------
    str
        The JSON document.

    Examples
    --------
    >>> json.loads(findings_json(pd.DataFrame(columns=["rule_id", "related"])))["findings"]
    []
    """
    cols = [c for c in findings.columns if c != "path"]
    recs = json.loads(findings[cols].to_json(orient="records"))
    return json.dumps(
        {
            "findings": recs,
            "files": findings.attrs.get("files"),
            "seconds": findings.attrs.get("seconds"),
        },
        indent=2,
        ensure_ascii=False,
    )


def source_text(suspect) -> str:
    """The source block of one suspect (a row of :func:`goforensics.analyze.source.attach_source`)
    for triage text: where it blocks and the go statement that created it, with their code, then
    the mismatch or the verdict. '' when the suspect has no source.

    Parameters
    ----------
    suspect : mapping
        A suspect with the columns :func:`goforensics.analyze.source.attach_source` adds.

    Returns
    -------
    str
        Indented lines, '' when the suspect has no source.

    Examples
    --------
    >>> print(source_text({"source_file": "/s/pay.go", "source_line": 50, "code": ">    50  x <- 1",
    ...                    "go_file": "", "go_line": None, "go_code": "", "source_mismatch": "",
    ...                    "source_verdict": "confirms"}))
        source  /s/pay.go:50 (confirms)
        >    50  x <- 1
    """
    r = dict(suspect)
    out = []
    if r.get("source_file"):
        verdict = f" ({r['source_verdict']})" if r.get("source_verdict") else ""
        out.append(f"    source  {r['source_file']}:{r['source_line']}{verdict}")
        out += [f"    {x}" for x in str(r.get("code") or "").splitlines()]
    if r.get("go_file"):
        out.append(f"    go at   {r['go_file']}:{r['go_line']}")
        out += [f"    {x}" for x in str(r.get("go_code") or "").splitlines()]
    if r.get("source_mismatch"):
        out.append(f"    source does not match the dump's build: {r['source_mismatch']}")
    return "\n".join(out)
