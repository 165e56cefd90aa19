"""The peers beside allocator in the GAP and ``side`` parts, and the compact solution trace.

Methods (``--methods``): ``ours`` (allocator), ``highs`` (the dense model from numpy arrays
straight into highspy, :mod:`benchmarks.highs_arrays`), ``cpsat`` (OR-Tools CP-SAT with one
worker, :mod:`benchmarks.cpsat`) and ``naive`` (the dense model written in PuLP and solved by
``pulp.HiGHS``, :mod:`benchmarks.naive`). All get the same wall time, model building
included, and one thread; every answer is re-checked from the raw data by the caller.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from allocator.territory.core import ArcProblem
from benchmarks.naive import DenseRun

__all__ = ["METHODS", "PEERS", "compact", "run_peer"]

METHODS = ("ours", "highs", "cpsat", "naive")


def _highs(problem: ArcProblem, **kw: Any) -> DenseRun:
    from benchmarks.highs_arrays import solve_arrays

    return solve_arrays(problem, **kw)


def _cpsat(problem: ArcProblem, **kw: Any) -> DenseRun:
    from benchmarks.cpsat import solve_cpsat

    return solve_cpsat(problem, **kw)


def _naive(problem: ArcProblem, **kw: Any) -> DenseRun:
    from benchmarks.naive import solve_naive

    return solve_naive(problem, **kw)


#: method -> dense solver of an ArcProblem (``arrays`` is the old name of ``highs``).
PEERS = {"highs": _highs, "arrays": _highs, "cpsat": _cpsat, "naive": _naive}


def run_peer(
    method: str, problem: ArcProblem, *, time_limit: float, gap: float, threads: int
) -> tuple[DenseRun, float]:
    """Solve ``problem`` with a peer; also return the wall seconds (building included)."""
    began = time.perf_counter()
    res = PEERS[method](problem, time_limit=time_limit, gap=gap, threads=threads)
    return res, time.perf_counter() - began


def compact(points: Iterable[tuple[float, float | None]], sign: float = 1.0) -> str:
    """The running best of (seconds, model objective) points as compact JSON
    ``[[seconds, objective], ...]``, objectives times ``sign`` (the instance's own sense)."""
    best: float | None = None
    out: list[list[float]] = []
    for seconds, objective in points:
        if objective is None or (best is not None and objective >= best - 1e-9):
            continue
        best = objective
        out.append([round(seconds, 2), round(sign * objective, 6)])
    return json.dumps(out, separators=(",", ":"))
