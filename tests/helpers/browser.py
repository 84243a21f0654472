"""Headless Chromium from Debian's package, driven by Playwright, for the web app tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium; the test skips, saying how to install it, when it is absent."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None or not Path(found).exists():
        pytest.skip("Chromium is not installed: `apt-get install chromium` (.ci/run does it)")
    return found
