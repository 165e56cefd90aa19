"""Scenario sweeps: many what-ifs of one scenario, solved in parallel, resumable, compared.

A sweep is a grid of key paths x lists of values and/or named variants
(:mod:`allocator.sweep.grid`). :func:`sweep` solves every variant, locally in processes or on a
Dask cluster (:mod:`allocator.sweep.runner`), writes each into ``DIR/<variant id>/`` with
:func:`~allocator.report.output.write_plan`, and gathers one row per variant into ``DIR/sweep.csv``
and
``DIR/sweep.html`` (:mod:`allocator.sweep.report`). Re-running skips the variants already in
``DIR`` with the same scenario hash. ``allocator sweep SWEEP.yaml --out DIR`` is the same from
the command line (:mod:`allocator.cli.sweep`).

Solver threads: each of ``W`` workers gets ``max(1, cores // W)`` threads (at most the scenario's
own ``solver.threads``). They are passed to the solve, not written into the variant, so the
variant's hash and a re-run's resume do not depend on ``--workers``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import ScenarioError
from allocator.io.scenario import Scenario
from allocator.io.settings import SolverSettings
from allocator.sweep.grid import Variant, expand_sweep, split_sweep_block
from allocator.sweep.progress import Progress
from allocator.sweep.report import flatten, results_frame, write_sweep_report
from allocator.sweep.runner import (
    Event,
    Task,
    dask_slots,
    finished_row,
    prepare_out,
    remove_stale,
    run_dask,
    run_pool,
    run_serial,
    sweep_owner,
)

__all__ = [
    "check_inputs",
    "default_out",
    "run_sweep",
    "run_variants",
    "solve_into",
    "sweep",
]

log = logging.getLogger("allocator")

FAIRNESS_KEYS = ("gini", "cv", "max_min", "jain", "in_band")
Backend = Callable[[Sequence[Task]], Iterator[Event]]


# ---------------------------------------------------------------- the solve hooks


def solve_into(scenario: Scenario, solver: SolverSettings, folder: Path) -> dict[str, Any]:
    """Solve one variant, write its outputs into ``folder`` and return its numbers.

    The numbers: status, objective, bound, gap, solve seconds, and the fairness (``gini``,
    ``cv``, ``max_min``, ``jain``, ``in_band`` per measure) and disruption metrics of
    :func:`allocator.report.metrics.plan_metrics`, keyed ``fairness.potential.gini``,
    ``disruption.accounts_moved``. Runs in the worker process.

    Raises
    ------
    InfeasibleError, InputError, ScenarioError, SolverError
        As :func:`allocator.plan.solve_scenario`.
    """
    from allocator.plan import solve_scenario
    from allocator.report.metrics import plan_metrics
    from allocator.report.output import write_plan

    plan = solve_scenario(scenario, solver=solver)
    write_plan(plan, folder)
    if plan.failed is not None:  # the territory is written; the variant counts as failed
        raise plan.failed.error
    metrics = plan.metrics()
    row: dict[str, Any] = {"status": plan.status}
    row.update({k: metrics.get(k) for k in ("objective", "bound", "gap", "solve_seconds")})
    measures = plan_metrics(plan)
    for measure, values in measures.get("fairness", {}).items():
        row.update({f"fairness.{measure}.{k}": values.get(k) for k in FAIRNESS_KEYS})
    row.update(flatten(measures.get("disruption", {}), "disruption."))
    return row


def check_inputs(scenarios: Sequence[Scenario]) -> None:
    """Load and check each distinct set of input tables once, before any variant is solved.

    Raises
    ------
    InputError, ScenarioError
        When a table is missing, unreadable or breaks the contract.
    """
    from allocator.io.data import load_inputs

    seen = set()
    for scenario in scenarios:
        if scenario.data not in seen:
            seen.add(scenario.data)
            load_inputs(scenario)


# ---------------------------------------------------------------- the Python API


def default_out(base: Scenario) -> Path:
    """``output/<sweep name>`` under the current directory."""
    return Path("output") / (re.sub(r"[^A-Za-z0-9._=+-]", "-", base.name).strip(".-") or "sweep")


def sweep(
    base: Scenario,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    client: Any = None,
    progress: bool = True,
    force: bool = False,
) -> pd.DataFrame:
    """Solve every variant of a sweep and return the table of ``sweep.csv``.

    Parameters
    ----------
    base
        The scenario the variants change. Without ``grid`` and ``variants``, its ``sweep:``
        block says what to vary.
    grid
        Key path -> list of values; the variants are the product of the lists.
    variants
        Variant name -> {key path: value}; crossed with the grid when both are given.
    out
        Folder of the results (default ``output/<base name>``).
    workers
        Local worker processes (default: one per core, at most one per variant); 1 solves in
        this process.
    client
        A ``dask.distributed.Client``: run the variants on its cluster instead.
    progress
        Show the progress line on stderr.

    Returns
    -------
    pandas.DataFrame
        One row per variant: ``variant_id``, the parameters, status, objective, gap, seconds,
        the metrics, ``non_dominated``.

    Raises
    ------
    ScenarioError
        An unknown key path or a bad value (named), nothing to sweep, a foreign folder in ``out``.
    InputError
        The input tables break the data contract.
    """
    if grid is None and variants is None:
        grid, variants = split_sweep_block(base.sweep, source=base.name)
    items = expand_sweep(base, grid, variants, source=base.name)
    outdir = Path(out) if out is not None else default_out(base)
    return run_variants(
        base, items, outdir, workers=workers, client=client, progress=progress, force=force
    )


def run_variants(
    base: Scenario,
    items: Sequence[Variant],
    out: Path,
    *,
    workers: int | None = None,
    client: Any = None,
    progress: bool = True,
    force: bool = False,
) -> pd.DataFrame:
    """Solve the variants not already finished in ``out`` and write ``sweep.csv``/``sweep.html``.

    On an interruption (Ctrl-C) the finished variants stay in ``out``, the table is written
    with the others marked ``not_run``, and the interruption propagates.

    Raises
    ------
    ScenarioError, InputError
        As :func:`sweep`.
    """
    if workers is not None and workers < 1:
        raise ScenarioError(f"workers: expected a number >= 1, got {workers}")
    check_inputs([v.scenario for v in items])
    folder = prepare_out(out, [v.id for v in items], sweep_owner(base), force=force)
    rows: dict[str, dict[str, Any]] = {}
    try:
        for v in items:
            done = finished_row(out, v.id, v.scenario)
            if done is not None:
                rows[v.id] = {**done, "resumed": True}
        todo = [v for v in items if v.id not in rows]
        if rows:
            log.info("sweep: %d of %d variants already solved in %s", len(rows), len(items), out)
        _solve_all(
            todo, out, rows, workers=workers, client=client, progress=progress, total=len(items)
        )
        remove_stale(out)  # every task has ended: what a killed worker left is garbage
    finally:
        frame = results_frame(base, items, rows)
        try:
            write_sweep_report(frame, folder, title=f"Sweep {base.name}")
        finally:
            folder.release()
    return frame


def _solve_all(
    todo: Sequence[Variant],
    out: Path,
    rows: dict[str, dict[str, Any]],
    *,
    workers: int | None,
    client: Any,
    progress: bool,
    total: int,
) -> None:
    backend, slots, threads = _backend(len(todo), workers, client)
    hook = solve_into  # looked up now, so a replaced hook (tests) travels with the tasks
    tasks = [Task(v.id, v.scenario, _solver(v.scenario, threads), str(out), hook) for v in todo]
    budget = max((v.scenario.solver.time_limit for v in todo), default=None)
    bar = Progress(total, slots=slots, resumed=total - len(todo), enabled=progress, budget=budget)
    log.info(
        "sweep: %d variants to solve, %d at a time, %d solver thread(s) each, %s s budget each",
        len(tasks),
        slots,
        threads,
        f"{budget:g}" if budget is not None else "-",
    )
    events = backend(tasks) if tasks else iter(())
    try:
        for event in events:
            if event is None:
                bar.update()
                continue
            ident, row = event
            rows[ident] = {**row, "resumed": False}
            bar.update(row, variant_id=ident)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # stops the workers of an interrupted sweep now, not at garbage collection
        bar.close()


def _backend(n_tasks: int, workers: int | None, client: Any) -> tuple[Backend, int, int]:
    """The backend, variants at once, and solver threads per variant."""
    if client is not None:
        slots, threads = dask_slots(client)
        return (lambda tasks: run_dask(tasks, client)), slots, threads
    cores = os.cpu_count() or 1
    n = max(1, min(workers or cores, n_tasks or 1))
    threads = max(1, cores // n)
    if n > cores:
        log.warning("sweep: %d workers on %d cores: the solves compete for the cores", n, cores)
    if n == 1:
        return run_serial, 1, threads
    return (lambda tasks: run_pool(tasks, n)), n, threads


def _solver(scenario: Scenario, threads: int) -> SolverSettings:
    own = scenario.solver.threads
    return scenario.solver.model_copy(update={"threads": min(own or threads, threads)})


# ---------------------------------------------------------------- the command


#: ``allocator.run_sweep``: the package attribute ``allocator.sweep.run`` is this module once it is
#: imported, so the top-level API names the function differently.
run_sweep = sweep
