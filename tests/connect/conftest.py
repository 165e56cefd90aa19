"""Shared fixtures of the connector tests: the demo solved once per session, and a small company."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.cli import main


def run(*words: str) -> int:
    """``allocator WORDS`` in-process; its exit code."""
    return main(list(words))


@pytest.fixture(scope="session")
def demo_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo solved into a folder (read-only for the tests: copy it before changing it)."""
    out = tmp_path_factory.mktemp("demo") / "plan"
    assert run("demo", "--out", str(out), "--threads", "1") == 0
    return out


@pytest.fixture(scope="session")
def small_company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated company of 240 accounts, 8 reps, 10 regions as CSVs: its scenario file."""
    folder = tmp_path_factory.mktemp("small") / "company"
    assert (
        run(
            "generate",
            str(folder),
            "--accounts",
            "240",
            "--reps",
            "8",
            "--regions",
            "10",
            "--seed",
            "3",
            "--name",
            "small",
        )
        == 0
    )
    return folder / "scenario.yaml"
