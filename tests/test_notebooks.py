"""The notebooks run headless from a clean kernel, their check cells included, and are committed
with static outputs (PNG images, HTML tables, text) that render on GitHub and offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["incident_investigation", "postmortem_template", "clustering_research"]
STATIC = {"text/plain", "text/html", "text/markdown", "image/png", "image/svg+xml"}


def read(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", NAMES)
def test_committed_with_static_outputs_from_a_clean_kernel(name):
    nb = read(name)
    spec = nb.metadata["kernelspec"]
    assert spec["name"] == "python3" and spec["language"] == "python"
    code = [c for c in nb.cells if c.cell_type == "code"]
    # executed top to bottom in one fresh kernel: counts 1, 2, 3, ...
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    images = 0
    for c in code:
        for o in c.outputs:
            assert o.output_type != "error", f"{name}: a cell failed when it was committed"
            if o.output_type == "stream":
                assert o.name == "stdout", f"{name}: stderr output committed: {o.text[:200]}"
                continue
            kinds = set(o.get("data", {}))
            assert kinds <= STATIC, f"{name}: output needs JavaScript or a CDN: {kinds - STATIC}"
            assert "<script" not in o.get("data", {}).get("text/html", "").lower()
            images += "image/png" in kinds or "image/svg+xml" in kinds
    assert images >= 2


def test_postmortem_is_parameterised_for_papermill():
    nb = read("postmortem_template")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("dump_paths", "service", "incident_id", "record_dir", "truth_dataset"):
        assert f"{name} = " in tagged[0].source


def test_the_venvs_jupyter_has_the_kernel_the_notebooks_name():
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.language == "python"
    # the kernel runs on this interpreter (the venv's), where goforensics is installed
    assert KernelManager(kernel_name="python3").format_kernel_cmd()[0] == sys.executable


def _execute(nb):
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return nb


def test_clustering_research_runs_with_its_checks():
    nb = _execute(read("clustering_research"))  # a failed check cell raises CellExecutionError
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert sum("assert " in c.source for c in code) >= 2


# The incident notebook's findings on its default series, checked against the checkout
# dataset's ground truth (the service's own registry of why each goroutine exists). The
# checks run in the notebook's kernel after its last cell, on its own variables; the
# notebook itself holds no check, so it runs as it is on anyone's dumps.
INCIDENT_CHECKS = [
    """
from goforensics.datasets import load_dataset

truth = load_dataset("checkout").truth
assert dump_paths == ["bundled:checkout"] and len(truth) == len(d.goroutines)

def majority(cluster_id):
    t = truth[(labels == cluster_id).to_numpy()]
    return t["cause"].value_counts().idxmax(), t["leak"].mean()

# the top suspect is a known leak, and every leak of the service is among the top four
cause, leak_share = majority(top.cluster)
assert leak_share > 0.9, (top.site, cause, leak_share)
leaks = set(truth.loc[truth["leak"], "cause"])
found = {majority(c)[0] for c in s.head(4)["cluster"]}
assert leaks <= found, f"missed: {leaks - found}"
""",
    """
# a leak keeps what it takes: the top suspect's cluster grows and its goroutines stay
assert per_snapshot.iloc[-1] > 3 * per_snapshot.iloc[0]
arrived = life[life["first_snapshot"] > 0]
assert (arrived["last_snapshot"] == d.snapshots["snapshot"].max()).mean() > 0.9
""",
    """
# the leaks grew, and the top suspect's site is among the clusters that grew most
assert top.site in set(grew.head(6)["site"]), grew.head(6)
print("checks passed")
""",
]


def test_incident_notebook_finds_the_checkout_leaks():
    nb = read("incident_investigation")
    assert not any("assert " in c.source for c in nb.cells if c.cell_type == "code")
    nb.cells += [nbformat.v4.new_code_cell(src) for src in INCIDENT_CHECKS]
    nb = _execute(nb)  # a failed check raises CellExecutionError
    assert nb.cells[-1].outputs[0]["text"].strip() == "checks passed"


def test_incident_notebook_runs_on_any_dump_path(tmp_path):
    import papermill as pm

    dump = tmp_path / "one.txt"  # one snapshot of a real Go program, by its file path
    dump.write_bytes(
        (ROOT / "goforensics" / "data" / "demo" / "goroutines-debug2.txt").read_bytes()
    )
    out = tmp_path / "incident.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / "incident_investigation.ipynb"),
        str(out),
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
        parameters={"dump_paths": [str(dump)]},
    )
    executed = nbformat.read(out, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    text = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "1 file(s), 1 snapshot(s)" in text and "one snapshot: nothing to compare" in text
    # the demo program's two leaks (its main.go.txt): a lock held across a receive nobody
    # sends on (cache.refresh, line 19), a send nobody receives (handle, line 29)
    assert "main.(*cache).refresh" in text and "main.handle" in text


def test_postmortem_runs_under_papermill_on_another_series(tmp_path):
    import papermill as pm

    out = tmp_path / "INC-TEST.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / "postmortem_template.ipynb"),
        str(out),
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
        parameters={
            "dump_paths": ["bundled:gateway"],
            "service": "gateway",
            "incident_id": "INC-TEST",
            "record_dir": str(tmp_path / "records"),
            "truth_dataset": "gateway",
        },
    )
    record = tmp_path / "records" / "INC-TEST"
    summary = json.loads((record / "summary.json").read_text())
    assert summary["incident"] == "INC-TEST" and summary["service"] == "gateway"
    assert summary["dumps"] == ["bundled:gateway"]
    assert summary["series"]["snapshots"] == 10
    html = (record / "report.html").read_text()
    assert "<title>INC-TEST: gateway</title>" in html and "<script" not in html.lower()
    executed = nbformat.read(out, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_jupyter_lab_from_the_readme_serves_the_notebooks_and_their_kernel():
    # the README's command, on a free loopback port, asked what a browser would ask
    import os
    import socket
    import subprocess
    import time
    import urllib.request

    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/jupyter lab notebooks/" in readme
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [
        str(jupyter),
        "lab",
        "notebooks/",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--IdentityProvider.token=t",
        "--ServerApp.open_browser=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def get(path, data=None):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=data,
            headers={"Authorization": "token t", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                get("/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not start: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.5)
        names = {c["name"] for c in get("/api/contents")["content"]}
        assert {f"{n}.ipynb" for n in NAMES} <= names
        specs = get("/api/kernelspecs")
        assert "python3" in specs["kernelspecs"]
        kernel = get("/api/kernels", data=json.dumps({"name": "python3"}).encode())
        assert kernel["name"] == "python3"
        get(f"/api/kernels/{kernel['id']}")  # it exists; the server would have said 404 had it died
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_incident_notebook_shows_the_code_with_a_source_tree(tmp_path):
    import papermill as pm

    out = tmp_path / "incident.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / "incident_investigation.ipynb"),
        str(out),
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
        parameters={"source": str(ROOT / "datasets" / "scenarios" / "checkout")},
    )
    executed = nbformat.read(out, as_version=4)
    text = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    # the top suspect of the checkout series blocks on this send (datasets/scenarios/checkout)
    assert "ch <- f()" in text and "recommend.go:" in text
