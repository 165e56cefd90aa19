"""OR-Library generalized assignment (GAP): reader, solver through the territory core, benchmark.

A GAP instance is the territory model with only rows (1) ``assign_once`` and (2) ``capacity``:
jobs are items, agents are reps, ``a[r,i]`` is the capacity use of an arc and ``c[r,i]`` its
cost (``models/assignment.md``, last section). :func:`solve_gap` builds that
:class:`~allocator.territory.core.ArcProblem` and calls the same
:func:`~allocator.territory.solve_arcs.solve_arcs`
as :func:`allocator.territory.assignment.solve_assignment`; every answer is verified by
:func:`check_gap`,
which shares no code with the model.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from allocator.exceptions import CheckError, InputError, NoSolutionInTimeError, SolverError
from allocator.io.settings import SolverSettings
from allocator.solver import SolveReport, Status, relative_gap
from allocator.solver.deadline import expired, resolve_deadline
from allocator.territory.core import ArcProblem, RowFamily
from allocator.territory.gap_fill import best_start
from allocator.territory.gap_lagrange import applies, lagrangian_start
from allocator.territory.gap_relink import Elite
from allocator.territory.gap_search import GapArrays, feasible_start, improve
from allocator.territory.solve_arcs import CoreOptions, solve_arcs

__all__ = ["GapInstance", "GapResult", "bench_gap", "check_gap", "read_gap", "solve_gap"]

log = logging.getLogger("allocator")

#: Share of the run's time the MIP gets before the search takes over (``benchmarks/notes.md``).
MIP_SHARE = 0.3
#: Share of the run's time at which the search hands back to a warm-started MIP, on instances
#: of at most :data:`SMALL` arcs (it may prove them optimal); larger ones search to the end (the
#: MIP found nothing in its last quarter there, ``benchmarks/notes.md``).
SEARCH_END, SMALL = 0.8, 1000
#: A MIP incumbent further than this (relative gap) from its bound, or without a bound, races
#: a Lagrangian start (:func:`~allocator.territory.gap_search.feasible_start`) given at most
#: START_SHARE of the run: under load the MIP handed e801600's search a start at 3x the optimum.
POOR, START_SHARE = 0.02, 0.1
#: Above LARGE arcs the first LP starts from each job's NEAREST cheapest agents and prices the
#: rest in (exact): over all 128,000 arcs of d801600 the first LP ran out of its share (10.5 s)
#: at load 2.7 and the MIP started with no bound; from 10 per job it was optimal in 5 s. At
#: 64,000 arcs (d401600) the LP over every arc did better (a pricing round ran out of time).
LARGE, NEAREST = 100_000, 10
#: The search escalates (larger, longer sub-MIPs) after this share of the run's time without
#: an improvement (``kick`` of :func:`~allocator.territory.gap_search.improve`).
KICK = 0.08
#: Share of the run's time for starts filled agent by agent (:mod:`~allocator.territory.gap_fill`)
#: after the MIP; the best, after a descent, is the search's start. Not where the Lagrangian
#: heuristic runs (few agents with many jobs: there its knapsacks do better, gapd/d20100 6,250
#: at best from fills against about 6,210).
FILL_SHARE = 0.15
#: Where :func:`~allocator.territory.gap_lagrange.applies`, the Lagrangian heuristic runs after
#: the MIP until this share of the time from the run's start to the search's end
#: (``benchmarks/notes.md``).
LAGRANGE_END = 0.65

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GapInstance:
    """One GAP problem: ``cost`` and ``weight`` are (agents x jobs), ``capacity`` per agent."""

    name: str
    cost: FloatArray
    weight: FloatArray
    capacity: FloatArray
    file: str = ""
    index: int = 1

    @property
    def shape(self) -> tuple[int, int]:
        """(agents, jobs)."""
        m, n = self.cost.shape
        return m, n


@dataclass(frozen=True)
class GapResult:
    """A solved GAP instance: the agent (0-based) of every job and the solve figures."""

    name: str
    sense: Literal["max", "min"]
    objective: float
    bound: float | None
    gap: float | None
    seconds: float
    status: str
    assignment: IntArray


def read_gap(path: str | Path) -> list[GapInstance]:
    """Every problem of an OR-Library (``P`` then blocks) or Yagiura (one block) GAP file.

    Raises
    ------
    InputError
        When the file cannot be read or its numbers do not form whole problems.
    """
    path = Path(path)
    try:
        values = np.array(path.read_text().split(), dtype=float)
    except (OSError, ValueError) as exc:
        raise InputError(
            [f"{path}: not a GAP file of whitespace-separated numbers ({exc})"]
        ) from None
    single = len(values) >= 2 and _block_size(values, 0) == len(values)
    count, pos = (1, 0) if single else (int(values[0]) if len(values) else 0, 1)
    out = []
    for k in range(1, count + 1):
        size = _block_size(values, pos)
        if size <= 0 or pos + size > len(values):
            raise InputError([f"{path}: problem {k} of {count} is incomplete"])
        m, n = int(values[pos]), int(values[pos + 1])
        block = values[pos + 2 : pos + size]
        name = path.stem if single else f"{path.stem}-{k}"
        out.append(
            GapInstance(
                name=name,
                cost=block[: m * n].reshape(m, n),
                weight=block[m * n : 2 * m * n].reshape(m, n),
                capacity=block[2 * m * n :],
                file=path.name,
                index=k,
            )
        )
        pos += size
    if pos != len(values):
        raise InputError([f"{path}: {len(values) - pos} numbers left after {count} problem(s)"])
    return out


def _block_size(values: FloatArray, pos: int) -> int:
    """Numbers in the block starting at ``pos`` (``m n``, two m x n matrices, m capacities)."""
    if pos + 2 > len(values):
        return -1
    m, n = int(values[pos]), int(values[pos + 1])
    return 2 + 2 * m * n + m if m > 0 and n > 0 else -1


def gap_problem(instance: GapInstance, *, maximize: bool) -> ArcProblem:
    """The arc problem of a GAP instance (profits negated when ``maximize``)."""
    m, _ = instance.shape
    cost = (-instance.cost if maximize else instance.cost).T.astype(float)
    weight = instance.weight.T.astype(float)
    agents = tuple(str(r + 1) for r in range(m))
    capacity = RowFamily(
        "capacity",
        "capacity",
        "rep",
        weight,
        "<=",
        instance.capacity.astype(float),
        agents,
        True,
        "units",
    )
    return ArcProblem(
        items=tuple(str(i + 1) for i in range(instance.shape[1])),
        reps=agents,
        eligible=weight <= instance.capacity[None, :],
        terms={"cost": cost},
        families=(capacity,),
        rank=cost,
        keep=np.zeros(cost.shape, bool),
        name=re.sub(r"\W", "_", f"gap_{instance.name}"),
    )


def solve_gap(
    instance: GapInstance,
    *,
    maximize: bool,
    solver: SolverSettings | None = None,
    nearest: int | None = None,
) -> GapResult:
    """Solve one GAP instance with the territory core and verify the answer.

    ``nearest`` keeps only each job's cheapest agents at first and prices the rest in (exact,
    see ``models/assignment.md``); None uses every arc up to :data:`LARGE` arcs and
    :data:`NEAREST` per job beyond.

    Raises
    ------
    InfeasibleError
        When no assignment fits the capacities.
    CheckError
        When the independent check disagrees with the solver (a bug).
    """
    solver = solver or SolverSettings()
    start = time.perf_counter()
    deadline = resolve_deadline(None, solver.time_limit)
    assign, report = _mip_then_search(
        instance, maximize=maximize, solver=solver, nearest=nearest, deadline=deadline
    )
    seconds = time.perf_counter() - start
    sign = -1.0 if maximize else 1.0
    objective = sign * (report.objective or 0.0)
    problems, recomputed = check_gap(instance, assign)
    if problems or not math.isclose(recomputed, objective, rel_tol=1e-6, abs_tol=1e-6):
        raise CheckError(
            f"gap {instance.name}: {problems or ''} objective {recomputed} vs {objective}"
        )
    return GapResult(
        name=instance.name,
        sense="max" if maximize else "min",
        objective=recomputed,
        bound=None if report.bound is None else sign * report.bound,
        gap=report.gap,
        seconds=seconds,
        status=report.status.value,
        assignment=assign,
    )


def _mip_then_search(
    instance: GapInstance,
    *,
    maximize: bool,
    solver: SolverSettings,
    nearest: int | None,
    deadline: float,
) -> tuple[IntArray, SolveReport]:
    """The MIP for :data:`MIP_SHARE` of the time (bound and incumbent), then the search.

    When the MIP finds nothing in its share, :func:`_search_without_mip` takes over.
    """
    problem = gap_problem(instance, maximize=maximize)
    began = time.monotonic()
    if nearest is None and instance.cost.size > LARGE:
        nearest = NEAREST
    options = CoreOptions(nearest=nearest)
    sign = -1.0 if maximize else 1.0
    arrays = GapArrays(
        sign * instance.cost.astype(float),
        instance.weight.astype(float),
        instance.capacity.astype(float),
    )
    try:
        first = began + MIP_SHARE * max(0.0, deadline - began)
        solution = solve_arcs(problem, options, solver, deadline=first)
    except (NoSolutionInTimeError, SolverError) as exc:
        log.info("gap %s: %s; searching from a Lagrangian start instead", instance.name, exc)
        return _search_without_mip(problem, arrays, solver, deadline, began)
    report = solution.report
    bounds = [b for b in (report.bound, solution.lp_bound) if b is not None]
    if bounds and max(bounds) != report.bound:  # the MIP stopped before its bound passed the LP's
        report = replace(report, bound=max(bounds), gap=relative_gap(report.objective, max(bounds)))
    if report.status is Status.OPTIMAL or report.objective is None or expired(deadline):
        return solution.assign, report
    small = instance.cost.size <= SMALL
    until = began + SEARCH_END * max(0.0, deadline - began) if small else deadline
    kick = KICK * max(0.0, deadline - began)
    start = _better_start(arrays, solution.assign, report, began, deadline)
    if not applies(arrays.cost, arrays.weight, arrays.capacity):
        filled = min(until, time.monotonic() + FILL_SHARE * max(0.0, deadline - began))
        start = best_start(arrays, start, deadline=filled)
    then = began + LAGRANGE_END * (until - began)
    pool = Elite()  # the Lagrangian heuristic's assignments, for the search's crossovers
    start, report, duals = lagrangian_start(
        arrays, start, report, then, lambda a: pool.add(arrays.value(a), a)
    )
    found = improve(
        arrays, start, deadline=until, bound=report.bound, kick=kick, duals=duals, elite=pool
    )
    if found.bound is not None and (report.bound is None or found.bound > report.bound):
        gap = relative_gap(report.objective, found.bound)
        report = replace(report, bound=found.bound, gap=gap)
    if found.objective < report.objective - 1e-9 or found.stop == "bound":
        status = Status.OPTIMAL if found.stop == "bound" else report.status
        gap = relative_gap(found.objective, report.bound)
        report = replace(report, objective=found.objective, status=status, gap=gap)
    if report.status is Status.OPTIMAL or expired(deadline) or not small:
        return found.assign, report
    return _mip_again(problem, found.assign, report, solver, deadline)


def _better_start(
    arrays: GapArrays, assign: IntArray, report: SolveReport, began: float, deadline: float
) -> IntArray:
    """The MIP's incumbent, or a Lagrangian start when the incumbent is poor (see
    :data:`POOR`) and the start costs less."""
    if report.gap is not None and report.gap <= POOR:
        return assign
    until = min(deadline, time.monotonic() + START_SHARE * max(0.0, deadline - began))
    other = feasible_start(arrays, deadline=until, record=arrays.value(assign))
    if other is None or arrays.value(other) >= arrays.value(assign):
        return assign
    log.info("gap: a Lagrangian start %g beats the MIP's %g", arrays.value(other), report.objective)
    return other


def _mip_again(
    problem: ArcProblem,
    start: IntArray,
    report: SolveReport,
    solver: SolverSettings,
    deadline: float,
) -> tuple[IntArray, SolveReport]:
    """The MIP warm-started with the search's best for the time left: it may prove it optimal
    (small instances) or improve it; the better answer, with the better bound, is kept."""
    try:
        again = solve_arcs(problem, CoreOptions(), solver, start=start, deadline=deadline)
    except (NoSolutionInTimeError, SolverError) as exc:
        log.info("%s: the second MIP failed (%s); keeping the search's answer", problem.name, exc)
        return start, report
    bounds = [b for b in (report.bound, again.report.bound, again.lp_bound) if b is not None]
    bound = max(bounds) if bounds else None
    mine = again.report
    if mine.objective is None or mine.objective > (report.objective or math.inf) - 1e-9:
        status = Status.OPTIMAL if mine.status is Status.OPTIMAL else report.status
        return start, replace(
            report, bound=bound, status=status, gap=relative_gap(report.objective, bound)
        )
    return again.assign, replace(mine, bound=bound, gap=relative_gap(mine.objective, bound))


def _search_without_mip(
    problem: ArcProblem,
    arrays: GapArrays,
    solver: SolverSettings,
    deadline: float,
    began: float,
) -> tuple[IntArray, SolveReport]:
    """The search from :func:`feasible_start` when the MIP found nothing in its share; without
    a start by the deadline, the MIP gets what is left (and raises when it finds nothing)."""
    start = feasible_start(arrays, deadline=deadline)
    if start is None:
        solution = solve_arcs(problem, CoreOptions(), solver, deadline=deadline)
        return solution.assign, solution.report
    found = improve(arrays, start, deadline=deadline, kick=KICK * max(0.0, deadline - began))
    report = SolveReport(
        status=Status.TIME_LIMIT,
        solver="search",
        objective=found.objective,
        bound=None,
        gap=None,
        seconds=time.monotonic() - began,
        has_solution=True,
        message="the MIP found nothing in its share; local search, LNS and tabu from a "
        "Lagrangian start",
    )
    return found.assign, report


def check_gap(
    instance: GapInstance, assignment: Sequence[int] | IntArray
) -> tuple[list[str], float]:
    """Violations (job without agent, capacity exceeded) and the objective of an assignment."""
    agents = np.asarray(assignment)
    m, n = instance.shape
    problems = [f"job {j + 1}: no agent" for j in range(n) if not 0 <= agents[j] < m]
    if problems:
        return problems, math.nan
    jobs = np.arange(n)
    used = np.zeros(m)
    np.add.at(used, agents, instance.weight[agents, jobs])
    problems += [
        f"capacity[{r + 1}]: {used[r]:g} > {instance.capacity[r]:g}"
        for r in range(m)
        if used[r] > instance.capacity[r] * (1 + 1e-9) + 1e-9  # the search's tolerance
    ]
    return problems, float(instance.cost[agents, jobs].sum())


def _sense(path: Path) -> Literal["max", "min"]:
    """gap1-gap12 are published as maximisation; every other set is minimisation."""
    return "max" if re.fullmatch(r"gap\d+", path.stem) else "min"


def bench_gap(
    paths: Sequence[str | Path],
    *,
    optima_csv: str | Path | None = None,
    time_limit: float | None = None,
    solver: SolverSettings | None = None,
) -> pd.DataFrame:
    """Solve every problem of the given files; compare with published values when known.

    Columns: instance, sense, objective, bound, gap, seconds, published, diff (objective minus
    published, in the instance's own sense), status. ``time_limit`` (per problem) overrides the
    solver's.

    Raises
    ------
    InputError
        When a file cannot be read.
    """
    solver = solver or SolverSettings()
    if time_limit is not None:
        solver = solver.model_copy(update={"time_limit": time_limit})
    optima = pd.read_csv(optima_csv) if optima_csv is not None else None
    rows = []
    for path in map(Path, paths):
        sense = _sense(path)
        for instance in read_gap(path):
            result = solve_gap(instance, maximize=sense == "max", solver=solver)
            name, published = _published(optima, instance, sense)
            rows.append(
                {
                    "instance": name,
                    "sense": sense,
                    "objective": result.objective,
                    "bound": result.bound,
                    "gap": result.gap,
                    "seconds": round(result.seconds, 3),
                    "published": published,
                    "diff": None if published is None else result.objective - published,
                    "status": result.status,
                }
            )
            log.info("gap %s: %s %g (published %s)", name, sense, result.objective, published)
    return pd.DataFrame(rows)


def _published(
    optima: pd.DataFrame | None, instance: GapInstance, sense: str
) -> tuple[str, float | None]:
    if optima is None:
        return instance.name, None
    files = optima["file"].astype(str).map(lambda f: Path(f).name)
    hit = optima[
        (files == instance.file)
        & (optima["index_in_file"].astype(int) == instance.index)
        & (optima["sense"] == sense)
    ]
    if hit.empty:
        return instance.name, None
    row = hit.iloc[0]
    return str(row["instance"]), float(row["optimal_or_best"])
