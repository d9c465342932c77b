"""What a command loads: the heavy libraries only on the paths that use them.

scikit-learn, SciPy, networkx and Altair each cost from a tenth of a second to a second to
import; ``import goforensics`` and ``goforensics --help`` need none of them, and the triage of
a small dump (a real Go program's deadlock, three goroutines) needs neither scikit-learn, SciPy
nor Altair. Each check runs in a fresh interpreter and reads ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sklearn", "scipy", "networkx", "altair", "vl_convert", "jsonschema")


def loaded_after(code: str) -> set[str]:
    """The heavy top-level packages in ``sys.modules`` after running ``code`` in a new process."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300
    )
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout.strip().splitlines()[-1]))


def test_import_goforensics_loads_no_heavy_library():
    assert loaded_after("import goforensics") == set()


def test_help_loads_no_heavy_library():
    code = "from goforensics.cli import main\nassert main(['--help']) == 0"
    assert loaded_after(code) == set()


def test_a_command_s_help_loads_no_heavy_library():
    code = "from goforensics.cli import main\nassert main(['report', '--help']) == 0"
    assert loaded_after(code) == set()


@pytest.fixture(scope="module")
def deadlock_dump(build_go, tmp_path_factory) -> Path:
    exe = build_go(ROOT / "tests" / "goprograms" / "deadlock")
    r = subprocess.run([str(exe)], capture_output=True, timeout=300)
    assert r.returncode == 2 and b"all goroutines are asleep" in r.stderr
    path = tmp_path_factory.mktemp("imports") / "deadlock.txt"
    path.write_bytes(r.stderr)
    return path


def test_triage_of_a_small_dump_needs_no_scikit_learn_scipy_or_altair(deadlock_dump):
    code = (
        "from goforensics.cli import main\n"
        f"assert main(['triage', {str(deadlock_dump)!r}, '-o', {os.devnull!r}]) == 0"
    )
    loaded = loaded_after(code)
    assert not loaded & {"sklearn", "scipy", "altair", "vl_convert"}, loaded
    assert "networkx" in loaded  # the wait-for graph: the deadlock's cycle is found on it


def test_the_estimator_brings_scikit_learn():
    code = "import goforensics as gf\nassert hasattr(gf.StackClusterer(), 'get_params')"
    assert "sklearn" in loaded_after(code)
