"""Named fixtures shared across the test packages (tests mirror ``allocator/``).

``small_tables``: a generated company (150 accounts, 6 reps, 6 regions, seed 1) with the demo's
settings. ``small_company``: its scenario file, written once per module into a folder of its
own, so a test may write next to it. ``small_solved``: its scenario file in a session folder
and its plan, solved once for the whole session; ``small_plan``: that plan alone.
``cli_main``: the ``allocator`` command in this process, as a planner runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from allocator.demo import generate_company, write_company
from allocator.io.scenario import load_scenario
from allocator.io.tables import Tables
from allocator.plan import Plan, solve_scenario

SMALL = {"accounts": 150, "reps": 6, "regions": 6, "seed": 1}


@pytest.fixture(scope="session")
def small_tables() -> Tables:
    """The small generated company's input tables (150 accounts, 6 reps, 6 regions, seed 1)."""
    return generate_company(**SMALL)


@pytest.fixture(scope="module")
def small_company(small_tables: Tables, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scenario.yaml`` of the small company in a folder of this module's own."""
    return write_company(small_tables, tmp_path_factory.mktemp("small"), scenario_name="small")


@pytest.fixture(scope="session")
def small_solved(
    small_tables: Tables, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Plan]:
    """The small company's scenario file in a session folder, and its plan, solved once."""
    path = write_company(small_tables, tmp_path_factory.mktemp("small-plan"), scenario_name="small")
    return path, solve_scenario(load_scenario(path))


@pytest.fixture(scope="session")
def small_plan(small_solved: tuple[Path, Plan]) -> Plan:
    """The small company solved once for the whole session."""
    return small_solved[1]


@pytest.fixture
def cli_main() -> Callable[[list[str]], int]:
    """``allocator.cli.main``: the commands as a planner runs them, in this process."""
    from allocator.cli import main

    return main
