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
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


@pytest.mark.parametrize("name", ["incident_investigation", "clustering_research"])
def test_notebook_runs_with_its_checks(name):
    nb = _execute(read(name))  # a failed check cell raises CellExecutionError
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert sum("assert " in c.source for c in code) >= 2


def test_postmortem_runs_under_papermill_on_another_series(tmp_path):
    import papermill as pm

    out = tmp_path / "INC-TEST.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / "postmortem_template.ipynb"), str(out), cwd=str(NOTEBOOKS), progress_bar=False,
        kernel_name="python3",
        parameters={"dump_paths": ["bundled:gateway"], "service": "gateway", "incident_id": "INC-TEST",
                    "record_dir": str(tmp_path / "records"), "truth_dataset": "gateway"},
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
    cmd = [str(jupyter), "lab", "notebooks/", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           "--IdentityProvider.token=t", "--ServerApp.open_browser=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def get(path, data=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     headers={"Authorization": "token t", "Content-Type": "application/json"})
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
