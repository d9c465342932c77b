"""Progress: on a terminal, every command that can take a while shows its steps on stderr; in a
pipe or a file (CI, scripts) it prints no bar at all, only its one-line account."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run(args: list[str], tty: bool) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal (tty) or a pipe; its stderr text."""
    cmd = [sys.executable, "-m", "goforensics.cli", *args]
    if not tty:
        r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
        return r.returncode, r.stderr
    master, slave = pty.openpty()
    # a terminal 120 columns wide (a new pseudo-terminal has 0: nothing would fit on a line)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, env=ENV)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(timeout=600), b"".join(chunks).decode(errors="replace")


COMMANDS = {
    "triage": (["triage", "bundled:checkout"], "reading"),
    "cluster": (["cluster", "bundled:checkout", "-o", os.devnull], "clustering"),
    "report": (["report", "bundled:checkout", "-o", os.devnull], "report:"),
    "export": (["export", "bundled:checkout", "--format", "folded", "-o", os.devnull], "export:"),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_terminal_sees_the_steps(name):
    args, shown = COMMANDS[name]
    code, err = run(args, tty=True)
    assert code == 0, err
    assert shown in err and "parsing" in err  # its steps, and the files being read
    assert "10 snapshot(s)" in err  # the account is still printed after the bar


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_pipe_sees_no_bar(name):
    args, shown = COMMANDS[name]
    code, err = run(args, tty=False)
    assert code == 0, err
    assert "\r" not in err and "parsing" not in err and shown not in err
    assert "10 snapshot(s)" in err
