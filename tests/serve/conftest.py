"""The serve tests' plan: the small company (tests/conftest.py) solved by ``allocator solve``."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.cli import main


@pytest.fixture(scope="module")
def company(small_company: Path) -> Path:
    """The small company's scenario file (150 accounts, 6 reps, the demo's settings)."""
    return small_company


@pytest.fixture(scope="module")
def plan_folder(company: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``allocator solve`` of :func:`company` into a fresh folder."""
    out = tmp_path_factory.mktemp("plans") / "original"
    assert main(["-q", "solve", str(company), "--out", str(out), "--threads", "1"]) == 0
    return out
