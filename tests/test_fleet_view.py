"""The fleet view in HTML: instances x causes, which instances carry each cause and since when.

The fleet is copies of the bundled scenario series: checkout on two instances, gateway on
one; gateway's audit log grows only there (an outlier), as its truth file says.
"""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

import goforensics as gf
from goforensics.cli import cli
from goforensics.fleet import fleet_triage
from goforensics.read.series import bundled_path
from goforensics.show.fleet import fleet_html, fleet_page
from goforensics.show.report import report_html

pytest.importorskip("dask")


def _copy_series(name: str, dest: Path, snapshots: int = 6) -> None:
    src = bundled_path(name)
    dest.mkdir(parents=True)
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["snapshots"] = manifest["snapshots"][:snapshots]
    for snap in manifest["snapshots"]:
        shutil.copyfile(src / snap["file"], dest / snap["file"])
    (dest / "manifest.json").write_text(json.dumps(manifest))


class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts (header cells included)."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fleetview")
    for inst, name in (("a", "checkout"), ("b", "gateway"), ("c", "checkout")):
        _copy_series(name, root / inst)
    return root


@pytest.fixture(scope="module")
def result(fleet):
    return fleet_triage(fleet, progress=False)


def _grid(html: str) -> dict[str, dict[str, str]]:
    p = _Tables()
    p.feed(html)
    grid = p.tables[-1]
    heads = grid[0][1:]
    return {row[0]: dict(zip(heads, row[1:], strict=True)) for row in grid[1:]}


def test_the_grid_names_the_instances_that_carry_each_cause_and_since_when(result):
    grid = _grid(fleet_html(result))
    assert sorted(grid) == ["a", "b", "c"]
    assert len(result.verdicts)
    for v in result.verdicts.itertuples():
        for inst, cells in grid.items():
            cell = cells[f"#{v.cluster}"]
            if inst in v.carried_by:
                g = result.growth
                since = g[(g["instance"] == inst) & (g["cluster"] == v.cluster)]["since"].iloc[0]
                assert cell == "since " + since.strftime("%m-%d %H:%M"), (inst, v.cluster)
            else:
                assert not cell.startswith("since"), (inst, v.cluster)


def test_the_audit_log_grows_on_gateway_only(result):
    p = _Tables()
    p.feed(fleet_html(result))
    causes = p.tables[0]
    head = causes[0]
    audit = [r for r in causes[1:] if "main.(*auditLog).record" in r[head.index("where it blocks")]]
    assert len(audit) == 1
    row = dict(zip(head, audit[0], strict=True))
    assert row["grows on"] == "1 of 3" and row["scope"] == "an outlier"
    assert row["instances"] == "b" and row["first on"] == "b"


def test_the_report_opens_with_the_fleet_view(fleet, result):
    page = report_html(gf.load(fleet), charts=False, fleet=result)
    assert page.index("<h2>Fleet</h2>") < page.index("<h2>Suspects")
    assert _grid(page[page.index("<h2>Fleet</h2>") : page.index("<h2>Suspects")]).keys() == {
        "a",
        "b",
        "c",
    }


def test_fleet_command_writes_the_view_as_a_page(fleet, result):
    run = CliRunner().invoke(cli, ["fleet", str(fleet), "--format", "html"])
    assert run.exit_code == 0, run.output
    assert run.output.startswith("<!DOCTYPE html>") and "<h2>Fleet</h2>" in run.output
    assert _grid(run.output) == _grid(fleet_page(result))
