"""A real headless browser for the report tests: Debian's Chromium driven by Playwright.

Playwright drives the system's ``chromium`` (never a browser of its own: Playwright's
download is not used). Where Chromium is missing, the setup installs Debian's package
itself (as root with apt-get), so the README's test command passes on a machine that
has only Python; where that cannot be done, the test fails with what to install: the
report's promise is about what a browser does, so it is never skipped.
"""

from __future__ import annotations

import base64
import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
]


def _find_chromium() -> str | None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        exe = next(
            (p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium") if Path(p).exists()),
            None,
        )
    return exe


def _install_chromium() -> str:
    """Install Debian's Chromium with apt-get (as root, where apt-get exists); '' or why not.

    A fresh machine has only Python: the test setup brings the browser itself, from the
    distribution's packages (Playwright's own browser download is never used). One install
    per machine: a lock keeps two test processes from running apt-get at once.
    """
    apt = shutil.which("apt-get")
    if apt is None:
        return "no apt-get on this machine"
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open(Path(tempfile.gettempdir()) / "goforensics-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _find_chromium():
            return ""
        for cmd in (
            [apt, "update", "-qq"],
            [apt, "install", "-y", "-qq", "--no-install-recommends", "chromium"],
        ):
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
            if r.returncode != 0:
                return f"{' '.join(cmd[:2])} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}"
    return ""


def chromium_path() -> str:
    """Debian's Chromium: found, or installed by the test setup itself (never skipped)."""
    exe = _find_chromium()
    if exe is None:
        why = _install_chromium()
        exe = _find_chromium()
        if exe is None:
            pytest.fail(
                f"Chromium is not installed and could not be installed ({why}): "
                "`apt-get install -y chromium`; the report's browser tests need a real browser",
                pytrace=False,
            )
    return exe


@dataclass
class Visit:
    """What happened while a page was open."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def console_errors(self) -> list[str]:
        return [t for k, t in self.console if k in ("error", "warning")] + self.errors


class Browser:
    """One headless Chromium with a fresh profile; ``open(path)`` gives (page, Visit)."""

    def __init__(self) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            pytest.fail(
                "the Python package playwright is missing: pip install -e '.[dev]'", pytrace=False
            )
        self._profile = tempfile.TemporaryDirectory(prefix="gf-chromium-")
        self._pw = sync_playwright().start()
        self.context = self._pw.chromium.launch_persistent_context(
            self._profile.name,
            executable_path=chromium_path(),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
            offline=True,
        )

    def open(self, path: Path):
        page = self.context.new_page()
        visit = Visit()
        page.on("console", lambda m: visit.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: visit.errors.append(str(e)))
        page.on("request", lambda r: visit.requests.append(r.url))
        page.on("requestfailed", lambda r: visit.failed.append(r.url))
        page.goto(Path(path).resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(300)  # let any (unwanted) handler run before looking
        return page, visit

    def ink(self, png: bytes) -> float:
        """Share of pixels of a PNG that are not (near) white, measured by the browser's canvas."""
        page = self.context.new_page()
        try:
            page.set_content("<canvas></canvas>")
            return page.evaluate(
                """async (b64) => {
                    const img = new Image();
                    img.src = 'data:image/png;base64,' + b64;
                    await img.decode();
                    const c = document.querySelector('canvas');
                    c.width = img.naturalWidth; c.height = img.naturalHeight;
                    const ctx = c.getContext('2d');
                    ctx.drawImage(img, 0, 0);
                    const d = ctx.getImageData(0, 0, c.width, c.height).data;
                    let ink = 0;
                    for (let i = 0; i < d.length; i += 4) {
                        if (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235) ink++;
                    }
                    return ink / (d.length / 4);
                }""",
                base64.b64encode(png).decode("ascii"),
            )
        finally:
            page.close()

    def close(self) -> None:
        self.context.close()
        self._pw.stop()
        self._profile.cleanup()
