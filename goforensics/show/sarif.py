"""SARIF 2.1.0: findings in the format code-scanning systems read (GitHub, GitLab, Azure DevOps).

One writer for every command that reports findings at a place in the code (``check`` for
goroutines that leaked in tests, ``scan`` for leak-prone constructs in source). It takes two
plain tables, so what produced them does not matter:

``results``
    one row per finding: ``rule_id``, ``level`` (``error``, ``warning`` or ``note``),
    ``message``, ``file`` (a path, relative to the repository root where possible), ``line``
    (1-based, may be missing), and optionally ``column``, ``end_line``, ``snippet`` and
    ``fingerprint`` (a stable identity of the finding across runs).
``rules``
    one row per rule: ``id``, ``name``, ``description``, ``help`` (the fix), and optionally
    ``overlaps`` (the rule of another linter it overlaps, e.g. ``gosec G112``) and ``level``.

>>> import pandas as pd
>>> rules = pd.DataFrame([{"id": "GF001", "name": "select-without-exit", "description": "d",
...                        "help": "add a ctx.Done() case"}])
>>> results = pd.DataFrame([{"rule_id": "GF001", "level": "error", "message": "m",
...                          "file": "pay/client.go", "line": 50}])
>>> log = sarif_log(results, rules)
>>> log["version"], log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
('2.1.0', {'startLine': 50})
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed_version
from pathlib import PurePosixPath

import pandas as pd

__all__ = ["SARIF_SCHEMA_URI", "SARIF_VERSION", "sarif_json", "sarif_log"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = ("error", "warning", "note", "none")


def _package_version() -> str:
    try:
        return _installed_version("goforensics")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA else str(v)


def _int(v) -> int | None:
    try:
        return None if v is None or pd.isna(v) else int(v)
    except (TypeError, ValueError):
        return None


def _rule(row: pd.Series) -> dict:
    rule: dict = {
        "id": _text(row["id"]),
        "name": _text(row.get("name")) or _text(row["id"]),
        "shortDescription": {"text": _text(row.get("description")) or _text(row["id"])},
        "help": {
            "text": _text(row.get("help")) or _text(row.get("description")) or _text(row["id"])
        },
    }
    props = {}
    if _text(row.get("overlaps")):
        props["overlaps"] = _text(row.get("overlaps"))
    if props:
        rule["properties"] = props
    level = _text(row.get("level"))
    if level in _LEVELS:
        rule["defaultConfiguration"] = {"level": level}
    return rule


def _uri(file: str) -> str:
    # SARIF wants a URI reference: forward slashes, no drive letters, relative where possible
    # (GitHub resolves relative URIs against the repository root).
    return PurePosixPath(file.replace("\\", "/")).as_posix().lstrip("/") if file else ""


def _result(row: pd.Series, rule_index: dict[str, int]) -> dict:
    rid = _text(row["rule_id"])
    level = _text(row.get("level")) or "warning"
    out: dict = {
        "ruleId": rid,
        "level": level if level in _LEVELS else "warning",
        "message": {"text": _text(row.get("message")) or rid},
    }
    if rid in rule_index:
        out["ruleIndex"] = rule_index[rid]
    file = _text(row.get("file"))
    if file:
        region: dict = {}
        line = _int(row.get("line"))
        if line is not None and line >= 1:
            region["startLine"] = line
            end = _int(row.get("end_line"))
            if end is not None and end >= line:
                region["endLine"] = end
            col = _int(row.get("column"))
            if col is not None and col >= 1:
                region["startColumn"] = col
            if _text(row.get("snippet")):
                region["snippet"] = {"text": _text(row.get("snippet"))}
        loc: dict = {"artifactLocation": {"uri": _uri(file)}}
        if region:
            loc["region"] = region
        out["locations"] = [{"physicalLocation": loc}]
    if _text(row.get("fingerprint")):
        out["partialFingerprints"] = {"goforensics/v1": _text(row.get("fingerprint"))}
    return out


def sarif_log(
    results: pd.DataFrame,
    rules: pd.DataFrame,
    *,
    tool: str = "goforensics",
    version: str | None = None,
) -> dict:
    """A SARIF 2.1.0 log (as a dict) of one run of ``tool``.

    Parameters
    ----------
    results : DataFrame
        One row per finding; columns ``rule_id``, ``level``, ``message``, ``file``, ``line``
        and optionally ``column``, ``end_line``, ``snippet``, ``fingerprint``.
    rules : DataFrame
        One row per rule; columns ``id``, ``name``, ``description``, ``help`` and optionally
        ``overlaps``, ``level``. Every ``rule_id`` of ``results`` should be among them.
    tool : str
        The driver's name.
    version : str, optional
        The driver's version (default: this package's).

    Returns
    -------
    dict
        ``{"$schema", "version", "runs": [{"tool": {"driver": {...rules}}, "results": [...]}]}``,
        ready for :func:`json.dumps`.

    Examples
    --------
    >>> log = sarif_log(pd.DataFrame(columns=["rule_id", "level", "message", "file", "line"]),
    ...                 pd.DataFrame(columns=["id", "name", "description", "help"]))
    >>> log["runs"][0]["results"], log["runs"][0]["tool"]["driver"]["name"]
    ([], 'goforensics')
    """
    version = _package_version() if version is None else version
    rule_rows = [_rule(r) for _, r in rules.iterrows()]
    index = {r["id"]: i for i, r in enumerate(rule_rows)}
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": tool,
                        "version": version,
                        "rules": rule_rows,
                    }
                },
                "results": [_result(r, index) for _, r in results.iterrows()],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def sarif_json(results: pd.DataFrame, rules: pd.DataFrame, **kwargs) -> str:
    """:func:`sarif_log` as indented JSON text.

    Parameters
    ----------
    results : DataFrame
        The results, as for :func:`sarif_log`.
    rules : DataFrame
        The rules, as for :func:`sarif_log`.
    **kwargs
        Passed to :func:`sarif_log`.

    Returns
    -------
    str
        The SARIF log, indented JSON.

    Examples
    --------
    >>> json.loads(sarif_json(pd.DataFrame(columns=["rule_id"]), pd.DataFrame(columns=["id"])))["version"]
    '2.1.0'
    """
    return json.dumps(sarif_log(results, rules, **kwargs), indent=2, ensure_ascii=False)
