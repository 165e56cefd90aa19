"""The package layout stays readable: imports point down the flow, modules stay small."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: "Modules under about 400 lines" (STYLE.md); the command-line modules are exempt.
MAX_LINES = 450


def test_import_contracts_hold() -> None:
    """``lint-imports`` (pyproject.toml): layers from cli down to exceptions, checkers apart."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed: pip install -e '.[dev]'")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def test_no_module_outside_the_cli_is_oversized() -> None:
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
        for path in (ROOT / "allocator").rglob("*.py")
        if "cli" not in path.relative_to(ROOT / "allocator").parts
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_every_stage_package_says_what_it_does() -> None:
    for init in (ROOT / "allocator").glob("*/__init__.py"):
        text = init.read_text()
        assert text.startswith('"""'), f"{init.parent.name}/__init__.py needs a docstring"
