"""Contiguous territories on real maps (issue 13): allocator and GerryChain, same wall time.

``python -m benchmarks.maps [--quick] [--only nc-county-k8-5 ...] [--out benchmarks/results_maps]``

Instances come from ``../shared/maps`` through :func:`allocator.demo.maps.map_instance` (one
account per unit at its point, potential and workload proportional to population, K reps with
homes spread deterministically; ``regions.geojson`` where the folder has one). For each case:

- allocator: ``solve_assignment`` with the case's time limit as the whole run's budget; status,
  objective, proven bound and gap; the independent checker runs inside and we check contiguity
  and balance again here with networkx and pandas (column ``verified``).
- GerryChain (``pip install -e ".[bench]"``): a ReCom chain (DeFord, Duchin & Solomon 2021) for
  the same wall time, from ``recursive_tree_part``; every plan visited is scored on our
  objective with its districts matched to reps by a linear assignment (Hungarian method on the
  districts' travel to each rep's home); the best one is checked by our checker (GerryChain
  knows nothing of homes, so rule ``home[r]`` can fail). Region level on connected maps only.

Rows go to ``<out>.csv`` as they finish; ``<out>.md`` is re-rendered after each case.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from allocator.demo.maps import MAPS_DIR, map_instance
from allocator.exceptions import AllocatorError, InfeasibleError, NoSolutionInTimeError
from allocator.geography.distance import distance_matrix
from allocator.io.settings import SolverSettings
from allocator.io.tables import Tables
from allocator.territory.assignment import solve_assignment
from allocator.territory.check import check_assignment

HERE = Path(__file__).resolve().parent

log = logging.getLogger("allocator")


@dataclass(frozen=True)
class MapCase:
    """One benchmark case: a map folder, K reps, balance tolerance, level and wall time."""

    folder: str
    reps: int
    tolerance: float
    seconds: float
    level: str = "region"
    people_per_account: int | None = None

    @property
    def name(self) -> str:
        tail = "" if self.level == "region" else f"-acc{self.people_per_account}"
        return f"{self.folder}-k{self.reps}-{round(self.tolerance * 100)}{tail}"


CASES = (
    MapCase("nc-county", 6, 0.10, 30),
    MapCase("nc-county", 6, 0.05, 30),
    MapCase("nc-county", 8, 0.10, 30),
    MapCase("nc-county", 8, 0.05, 30),
    MapCase("va-county", 5, 0.05, 60),
    MapCase("va-county", 5, 0.10, 60),
    MapCase("va-county", 4, 0.05, 60),
    MapCase("ia-county", 5, 0.05, 60),
    MapCase("ga-county", 5, 0.05, 60),
    MapCase("nh-tract", 8, 0.05, 60),
    MapCase("hi-tract", 8, 0.05, 60),
    MapCase("nc-county", 13, 0.05, 120, level="account", people_per_account=20_000),
    MapCase("nc-county", 13, 0.05, 120, level="account", people_per_account=2_000),
    MapCase("nc-tract", 13, 0.05, 300),
    MapCase("ga-tract", 14, 0.05, 300),
    MapCase("tx-county", 36, 0.05, 300, level="account", people_per_account=2_000),
)
QUICK = (MapCase("nc-county", 6, 0.10, 15), MapCase("nh-tract", 8, 0.05, 20))

COLUMNS = [
    "case",
    "solver",
    "status",
    "objective",
    "bound",
    "gap",
    "seconds",
    "verified",
    "note",
]


def run_ours(case: MapCase, tables: Tables, settings: Any) -> dict[str, Any]:
    """allocator on the case: the time limit is the whole run's budget."""
    solver = SolverSettings(time_limit=case.seconds, gap=1e-4, threads=1)
    began = time.monotonic()
    row: dict[str, Any] = {"case": case.name, "solver": "allocator"}
    try:
        result = solve_assignment(tables, settings, solver, deadline=began + case.seconds)
    except InfeasibleError as exc:
        return {**row, "status": "infeasible", "seconds": _since(began), "note": _first(exc)}
    except NoSolutionInTimeError as exc:
        return {
            **row,
            "status": "time_limit_infeasible",
            "seconds": _since(began),
            "note": _first(exc),
        }
    except AllocatorError as exc:
        return {**row, "status": "error", "seconds": _since(began), "note": _first(exc)}
    report = result.report
    owners = result.assignments[["account_id", "rep_id"]]
    return {
        **row,
        "status": report.status.value,
        "objective": report.objective,
        "bound": report.bound,
        "gap": report.gap,
        "seconds": _since(began),
        "verified": _verify(tables, settings, owners),
    }


def _since(began: float) -> float:
    return round(time.monotonic() - began, 1)


def _first(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _verify(tables: Tables, settings: Any, owners: pd.DataFrame) -> str:
    """Our checker, then contiguity (networkx) and balance (pandas) recomputed here."""
    check = check_assignment(tables, settings, owners)
    if check.violations:
        return f"no: {check.violations[0]}"
    acc = owners.merge(tables.active_accounts[["account_id", "region_id", "potential"]])
    assert tables.adjacency is not None
    graph = nx.Graph(
        list(zip(tables.adjacency["region_a"], tables.adjacency["region_b"], strict=True))
    )
    per_component = settings.constraints.contiguity.per_component
    graph.add_nodes_from(acc["region_id"])  # islands without any link are components too
    held = graph.subgraph(set(acc["region_id"]))
    comp = {g: k for k, c in enumerate(nx.connected_components(held)) for g in c}
    for rep, group in acc.groupby("rep_id"):
        served = set(group["region_id"])
        graph.add_nodes_from(served)
        parts = nx.connected_components(graph.subgraph(served))
        seen = [comp.get(next(iter(p)), -1) for p in parts]
        if (len(set(seen)) != len(seen)) if per_component else len(seen) > 1:
            return f"no: {rep} split"
    load = acc.groupby("rep_id")["potential"].sum()
    fair = acc["potential"].sum() / len(tables.active_reps)
    tol = settings.constraints.balance.tolerance
    if ((load - fair).abs() > tol * fair * (1 + 1e-9)).any() or len(load) < len(tables.active_reps):
        return "no: balance"
    return "yes"


def run_gerrychain(case: MapCase, tables: Tables, settings: Any) -> dict[str, Any]:
    """GerryChain's ReCom chain for the case's wall time, best plan on our objective."""
    row: dict[str, Any] = {"case": case.name, "solver": "gerrychain recom"}
    if case.level != "region":
        return {**row, "status": "n/a", "note": "partitions units only (region level)"}
    assert tables.adjacency is not None
    units = tables.active_accounts.set_index("region_id")
    graph = nx.Graph(
        list(zip(tables.adjacency["region_a"], tables.adjacency["region_b"], strict=True))
    )
    graph.add_nodes_from(units.index)
    if not nx.is_connected(graph):
        return {**row, "status": "n/a", "note": "the region graph is not connected"}
    try:
        from gerrychain import Graph, MarkovChain, Partition
    except ImportError:
        return {**row, "status": "n/a", "note": 'gerrychain not installed (".[bench]")'}
    began = time.monotonic()
    score = _scorer(tables)
    best = _chain(graph, units, case, score, began, (Graph, MarkovChain, Partition))
    if best is None:
        return {
            **row,
            "status": "no plan",
            "seconds": _since(began),
            "note": "no balanced start plan (recursive_tree_part) within the time",
        }
    value, owners, steps = best
    checked = check_assignment(tables, settings, owners)
    homes = sum("home[" in v for v in checked.violations)
    verified = "yes" if not checked.violations else f"no: {homes} home rule(s) broken"
    return {
        **row,
        "status": "feasible",
        "objective": value,
        "seconds": _since(began),
        "verified": verified,
        "note": f"{steps} steps",
    }


def _scorer(tables: Tables) -> Callable[[dict[str, int]], tuple[float, pd.DataFrame]]:
    """Our travel objective of a district plan, districts matched to reps optimally."""
    from scipy.optimize import linear_sum_assignment

    acc = tables.active_accounts.reset_index(drop=True)
    reps = tables.active_reps.reset_index(drop=True)
    km = distance_matrix(acc["lat"], acc["lon"], reps["lat"], reps["lon"])
    km = km * acc["visits"].to_numpy(float)[:, None]
    region = acc["region_id"].to_numpy()

    def score(assignment: dict[str, int]) -> tuple[float, pd.DataFrame]:
        district = np.array([assignment[g] for g in region])
        k = len(reps)
        cost = np.array([km[district == d].sum(axis=0) for d in range(k)])
        rows, cols = linear_sum_assignment(cost)
        rep_of = dict(zip(rows.tolist(), cols.tolist(), strict=True))
        owners = pd.DataFrame(
            {
                "account_id": acc["account_id"],
                "rep_id": reps["rep_id"].to_numpy()[[rep_of[d] for d in district]],
            }
        )
        return float(cost[rows, cols].sum()), owners

    return score


def _chain(
    graph: nx.Graph,
    units: pd.DataFrame,
    case: MapCase,
    score: Callable[[dict[str, int]], tuple[float, pd.DataFrame]],
    began: float,
    classes: tuple[Any, Any, Any],
) -> tuple[float, pd.DataFrame, int] | None:
    from functools import partial

    from gerrychain.accept import always_accept
    from gerrychain.constraints import within_percent_of_ideal_population
    from gerrychain.partition import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.updaters import Tally

    gc_graph, chain_class, partition_class = classes
    potential = units["potential"].astype(float).to_dict()
    for g in graph.nodes:
        graph.nodes[g]["pop"] = float(potential[g])
    ideal = float(units["potential"].sum()) / case.reps
    plan_graph = gc_graph.from_networkx(graph)
    best: tuple[float, pd.DataFrame, int] | None = None
    steps = 0
    left = max(case.seconds - (time.monotonic() - began), 0.01)
    signal.signal(signal.SIGALRM, _out_of_time)  # a ReCom step can take minutes on lumpy maps
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
        start = recursive_tree_part(plan_graph, range(case.reps), ideal, "pop", case.tolerance)
        part = partition_class(plan_graph, start, {"population": Tally("pop", alias="population")})
        proposal = partial(recom, pop_col="pop", pop_target=ideal, epsilon=case.tolerance)
        limit = within_percent_of_ideal_population(part, case.tolerance)
        chain = chain_class(proposal, [limit], always_accept, part, total_steps=10**9)
        for state in chain:
            steps += 1
            original = state.graph.original_nx_node_id_for_internal_node_id
            value, owners = score({original(n): d for n, d in state.assignment.items()})
            if best is None or value < best[0]:
                best = (value, owners, steps)
    except _OutOfTime:
        pass
    except Exception:  # GerryChain raises its own errors when no balanced cut is found
        log.warning("gerrychain stopped with an error", exc_info=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return None if best is None else (best[0], best[1], steps)


class _OutOfTime(Exception):
    """The wall time of a GerryChain run is over."""


def _out_of_time(*_: object) -> None:
    raise _OutOfTime


def _append(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def render(csv_path: Path) -> str:
    """The Markdown table of the rows in ``csv_path``."""
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    lines = [
        "| case | solver | status | objective | bound | gap | seconds | verified | note |",
        "|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        gap = f"{float(r['gap']):.2%}" if r.get("gap") else ""
        obj = f"{float(r['objective']):,.1f}" if r.get("objective") else ""
        bound = f"{float(r['bound']):,.1f}" if r.get("bound") else ""
        lines.append(
            f"| {r['case']} | {r['solver']} | {r['status']} | {obj} | {bound} | {gap} | "
            f"{r.get('seconds', '')} | {r.get('verified', '')} | {r.get('note', '')} |"
        )
    notes = HERE / "notes_maps.md"
    tail = notes.read_text() if notes.is_file() else ""
    return "# Contiguous territories on real maps\n\n" + "\n".join(lines) + "\n" + tail


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.maps", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two short cases")
    parser.add_argument("--only", nargs="+", help="case names (e.g. nc-county-k8-5)")
    parser.add_argument("--out", type=Path, default=HERE / "results_maps")
    args = parser.parse_args(argv)
    if not MAPS_DIR.is_dir():
        print(f"maps: skipped: no {MAPS_DIR} (set ALLOCATOR_SHARED)", flush=True)
        return 0
    cases = [c for c in (QUICK if args.quick else CASES) if not args.only or c.name in args.only]
    csv_path = args.out.with_suffix(".csv")
    load = os.getloadavg()[0]
    for case in cases:
        scenario, tables = map_instance(
            MAPS_DIR / case.folder,
            reps=case.reps,
            tolerance=case.tolerance,
            level=case.level,
            people_per_account=case.people_per_account,
            time_limit=case.seconds,
        )
        for run in (run_ours, run_gerrychain):
            row = run(case, tables, scenario.assignment)
            row["note"] = (row.get("note") or "") + f" (load {os.getloadavg()[0]:.1f})"
            print(row, flush=True)
            _append(csv_path, row)
            args.out.with_suffix(".md").write_text(render(csv_path))
    print(f"wrote {csv_path} (load average at start {load:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
