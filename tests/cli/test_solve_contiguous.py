"""``allocator solve`` with contiguity: exit 0 with a plan, exit 4 with the best plan written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from allocator.cli.main import main
from tests.territory.test_contiguous import grid_tables


def scenario(folder: Path, tolerance: float, seconds: float) -> Path:
    """A 6x6 grid company with 4 reps in the corners, balance of potential at ``tolerance``."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = grid_tables(
        6, 6, [(0, 0), (0, 5), (5, 0), (5, 5)], np.random.default_rng(0).lognormal(3, 0.5, 36)
    )
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    doc = {
        "name": "grid",
        "data": {name: f"{name}.csv" for name in frames},
        "assignment": {
            "level": "region",
            "constraints": {
                "balance": {"tolerance": tolerance, "fair_share": "equal"},
                "contiguity": {},
            },
        },
        "solver": {"time_limit": seconds, "threads": 1},
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_feasible_grid_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["solve", str(scenario(tmp_path / "in", 0.10, 20)), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] in ("optimal", "time_limit") and metrics["gap"] is not None


def test_out_of_time_exits_4_and_still_writes_the_best_plan_marked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["solve", str(scenario(tmp_path / "in", 0.01, 0.01)), "--out", str(out)]) == 4
    assert json.loads((out / "metrics.json").read_text())["status"] == "time_limit_infeasible"
    assert len(pd.read_csv(out / "assignments.csv")) == 36
