"""``allocator serve``: edit-to-updated-metrics latency, beside a full re-solve (the peer).

One case per plan size, run by :mod:`benchmarks.run` (part ``serve``) or alone with
``python -m benchmarks.serve '{"accounts": 2000, "reps": 40, "regions": 30}'``. It opens the
plan as the server does (:class:`allocator.serve.Workspace`) and times, over ``edits``
single-account moves (each to the next rep) and ``edits`` 50-account lasso moves, what the
page waits for after an edit: the edit applied, the rep totals, fairness, objective terms and
the independent checker's violations recomputed, and the JSON of the side panel built
(``Workspace.edit``). The map's refresh is timed apart (``map_s``). Rows report the median
(``seconds``), the 95th percentile and the maximum. The peer row is what an edit would cost if
its numbers came from the solver: solving the territory again (``solve_assignment``, demo
size only).

The demo plan (2,000 accounts) is solved first; the 20,000-account plan starts from the
incumbents (nearest rep where an account has none), since the latency does not depend on how
good the plan is and a 20,000 x 200 solve takes minutes.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["serve_rows"]


def _load() -> float:
    return os.getloadavg()[0]


def _opened(spec: dict[str, Any]) -> tuple[Any, float | None]:
    """An :class:`~allocator.serve.source.Opened` of a generated company, and the solve time."""
    from allocator.demo.files import demo_settings
    from allocator.demo.generate import generate_company
    from allocator.geography.distance import distance_matrix
    from allocator.io.scenario import scenario_from_dict
    from allocator.plan import solve_scenario
    from allocator.serve.source import Opened, opened_plan

    tables = generate_company(
        accounts=spec["accounts"], reps=spec["reps"], regions=spec["regions"], seed=1
    )
    scenario = scenario_from_dict({"name": "bench", **demo_settings(tables)})
    scenario = scenario.replace({"solver.threads": 1, "solver.time_limit": 120})
    if spec.get("solve", True):
        began = time.perf_counter()
        plan = solve_scenario(scenario, tables=tables)
        return opened_plan(plan, label="bench"), time.perf_counter() - began
    acc, reps = tables.active_accounts, tables.active_reps
    km = distance_matrix(acc["lat"], acc["lon"], reps["lat"], reps["lon"])
    nearest = reps["rep_id"].to_numpy(str)[np.argmin(km, axis=1)]
    incumbent = acc["incumbent_rep_id"].to_numpy(str)
    valid = np.isin(incumbent, reps["rep_id"].to_numpy(str))
    owners = pd.Series(np.where(valid, incumbent, nearest), index=acc["account_id"].to_numpy())
    empty = pd.Series(dtype=float)
    return Opened("bench", scenario, tables, owners, empty, empty.astype(str)), None


def _timed(ws: Any, batches: list[list[str]]) -> tuple[list[float], list[float]]:
    reps = list(ws.ctx.reps.index)
    edit_s, map_s = [], []
    for ids in batches:
        owner = ws.session.state.owners[ids[0]]
        rep = reps[(reps.index(owner) + 1) % len(reps)]
        began = time.perf_counter()
        state = ws.edit(
            {"version": ws.session.version, "action": "move", "accounts": ids, "rep": rep}
        )
        edit_s.append(time.perf_counter() - began)
        json.dumps(state)
        began = time.perf_counter()
        ws.map_json()
        map_s.append(time.perf_counter() - began)
    return edit_s, map_s


def serve_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The benchmark rows of one plan size (see the module docstring)."""
    from allocator.serve import Workspace
    from allocator.territory.assignment import solve_assignment

    opened, _ = _opened(spec)
    ws = Workspace(opened)
    ws.evaluation()  # the page's first load, not an edit
    free = [a for a in ws.ctx.accounts.index if a not in ws.ctx.data_locked]
    edits = spec.get("edits", 30)
    rng = np.random.default_rng(1)
    singles = [[str(a)] for a in rng.choice(free, edits, replace=False)]
    lassos = [list(map(str, rng.choice(free, 50, replace=False))) for _ in range(edits)]
    size = f"{len(ws.ctx.accounts)}x{len(ws.ctx.reps)}"
    rows = []
    for method, batches in (("move 1 account", singles), ("lasso 50 accounts", lassos)):
        edit_s, map_s = _timed(ws, batches)
        rows.append(
            {
                "case": f"{spec['accounts']}x{spec['reps']}",
                "size": size,
                "method": method,
                "status": "ok",
                "seconds": round(statistics.median(edit_s), 4),
                "detail": f"p95 {np.percentile(edit_s, 95):.3f} s, max {max(edit_s):.3f} s over "
                f"{len(edit_s)} edits; map refresh median {statistics.median(map_s):.3f} s",
                "check": "violations from the independent checker",
                "load": round(_load(), 2),
            }
        )
    if spec.get("peer", False):
        began = time.perf_counter()
        solve_assignment(opened.tables, opened.scenario.assignment, opened.scenario.solver)
        rows.append(
            {
                "case": f"{spec['accounts']}x{spec['reps']}",
                "size": size,
                "method": "peer: re-solve the territory",
                "status": "ok",
                "seconds": round(time.perf_counter() - began, 4),
                "detail": "solve_assignment of the opened plan's inputs, 1 thread (what each "
                "edit would cost if metrics came from the solver)",
                "check": "checked inside solve_assignment",
                "load": round(_load(), 2),
            }
        )
    return rows


if __name__ == "__main__":
    for row in serve_rows(json.loads(sys.argv[1])):
        print(row)
