"""The browser the page tests drive: Debian's chromium under Playwright (never its own download).

The flags keep a headless Chromium from reaching for the network this machine does not have.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MISSING = "Debian chromium is not installed (.ci/setup.d/chromium.sh installs it in CI)"


def chromium_executable() -> str | None:
    """``/usr/bin/chromium``, else ``chromium`` on the PATH, else None."""
    default = Path("/usr/bin/chromium")
    return str(default) if default.exists() else shutil.which("chromium")
