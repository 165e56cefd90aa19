"""One benchmark case, run in its own process: ``python -m benchmarks.cases '<json spec>'``.

Each finished row is printed as one line ``ROW {json}`` as soon as it is known, so the parent
(:mod:`benchmarks.run`) can write it to the CSV at once. ``peak_mb`` is this process's peak
resident memory so far (``ru_maxrss``). Every answer is verified independently before it is
reported: GAP answers by :func:`allocator.territory.gap.check_gap` (inside ``solve_gap`` for
ours, here for the peers of :mod:`benchmarks.peers`), territory answers by
:func:`allocator.territory.check.check_assignment`. ``trace`` is the running best as compact
JSON ``[[seconds, objective], ...]`` (:func:`benchmarks.peers.compact`).
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from allocator.exceptions import AllocatorError
from benchmarks.peers import compact, run_peer
from benchmarks.timers import Timers

__all__ = ["emit", "gap_rows", "main", "quota_row", "scale_row", "side_row"]


def peak_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(row: dict[str, Any]) -> None:
    """Print one finished row for the parent process."""
    row = {**row, "peak_mb": round(peak_mb())}
    print("ROW " + json.dumps(row, default=float), flush=True)


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return abs(a - b) / max(1.0, abs(a))


# ---------------------------------------------------------------- GAP


def gap_rows(spec: dict[str, Any]) -> None:
    """Solve the problems of one OR-Library / Yagiura file; one row per problem."""
    from allocator.territory.gap import read_gap

    path = Path(spec["file"])
    optima = pd.read_csv(spec["optima"])
    sense = "max" if path.parent.name == "gap" and path.stem[3:].isdigit() else "min"
    only = spec.get("indices")
    for instance in read_gap(path):
        if only and instance.index not in only:
            continue
        hit = optima[
            (optima["file"].map(lambda f: Path(f).name) == path.name)
            & (optima["index_in_file"] == instance.index)
            & (optima["sense"] == sense)
        ]
        name = str(hit["instance"].iloc[0]) if len(hit) else instance.name
        published = float(hit["optimal_or_best"].iloc[0]) if len(hit) else None
        kind = str(hit["status"].iloc[0]) if len(hit) else ""
        row = _gap_solve(spec, instance, sense)
        worse = None
        if published is not None and row.get("objective") is not None:
            sign = -1.0 if sense == "max" else 1.0
            worse = sign * (row["objective"] - published) / abs(published)
        emit(
            {
                "case": f"{path.stem}/{name}" if path.parent.name == "gap" else name,
                "size": f"{instance.shape[0]}x{instance.shape[1]}",
                "sense": sense,
                **row,
                "published": published,
                "published_status": kind,
                "vs_published": worse,
            }
        )


def _gap_solve(spec: dict[str, Any], instance, sense: str) -> dict[str, Any]:
    """One method on one GAP instance: status, checked objective, bound, seconds, trace."""
    from allocator.io.settings import SolverSettings
    from allocator.solver.trace import run_trace
    from allocator.territory.gap import check_gap, gap_problem, solve_gap

    method, maximize = spec.get("method", "ours"), sense == "max"
    sign = -1.0 if maximize else 1.0
    limit, threads = spec["time_limit"], spec["threads"]
    if method == "ours":
        solver = SolverSettings(time_limit=limit, gap=0.0, threads=threads)
        with run_trace() as trace:
            result = solve_gap(instance, maximize=maximize, solver=solver)
        return {
            "method": "ours",
            "status": result.status,
            "objective": result.objective,
            "bound": result.bound,
            "gap": result.gap,
            "seconds": round(result.seconds, 3),
            "check": "ok",  # solve_gap raises CheckError otherwise
            "trace": compact(((p.seconds, p.objective) for p in trace.points), sign),
        }
    res, seconds = run_peer(
        method, gap_problem(instance, maximize=maximize), time_limit=limit, gap=0.0, threads=threads
    )
    check, objective = "no solution", None
    if (res.assign >= 0).all():
        problems, objective = check_gap(instance, res.assign)
        claimed = None if res.objective is None else sign * res.objective
        check = _agree(problems[0] if problems else "ok", objective, claimed)
    bound = None if res.bound is None else sign * res.bound
    return {
        "method": method,
        "status": res.status,
        "objective": objective,
        "bound": bound,
        "gap": _rel(objective, bound),
        "seconds": round(seconds, 3),
        "build_s": round(res.build_seconds, 3),
        "solve_s": round(res.solve_seconds, 3),
        "check": check,
        "trace": compact(res.trace, sign),
        "detail": f"{res.variables} binaries",
    }


# ---------------------------------------------------------------- territory


def _company(accounts: int, reps: int, regions: int, products: int = 4):
    from allocator.demo import demo_settings, generate_company

    tables = generate_company(
        accounts=accounts, reps=reps, regions=regions, products=products, seed=1
    )
    return tables, demo_settings(tables)


def _check(tables, settings, accounts, reps) -> tuple[str, float | None]:
    """Independent check of an assignment (account ids, rep ids): 'ok' or the first problem."""
    from allocator.territory.check import check_assignment

    frame = pd.DataFrame({"account_id": list(accounts), "rep_id": list(reps)})
    check = check_assignment(tables, settings, frame)
    return ("ok" if not check.violations else check.violations[0]), check.objective


def _agree(status: str, checked: float | None, claimed: float | None) -> str:
    """'ok' when the check passed and its objective equals the solver's (1e-6 relative)."""
    if status != "ok":
        return status
    if checked is None or claimed is None:
        return "no objective"
    diff = abs(checked - claimed) / max(1.0, abs(checked))
    return "ok" if diff <= 1e-6 else f"objective {claimed:.6g} vs checked {checked:.6g}"


def _solver(spec: dict[str, Any]):
    from allocator.io.settings import SolverSettings

    return SolverSettings(
        time_limit=spec["time_limit"], gap=spec.get("gap", 0.005), threads=spec["threads"]
    )


def _ours(spec: dict[str, Any], tables, settings) -> dict[str, Any]:
    """Solve with ``solve_assignment``, timing data prep, PuLP build, PuLP->HiGHS and HiGHS."""
    from allocator import solver as solve_mod
    from allocator.solver import highs as highs_mod
    from allocator.solver.trace import run_trace
    from allocator.territory import assignment, heuristic, pricing
    from allocator.territory import solve_arcs as arcsolve

    timers = Timers()
    timers.wrap(assignment, ("build_territory", "territory_problem", "precheck"), "data")
    for module in (arcsolve, pricing, heuristic):
        timers.wrap(module, ("build_model",), "pulp_build")
        timers.wrap(module, ("solve",), "solver_call")
    timers.wrap(highs_mod, ("_highs_lp",), "to_highs")
    # the pricing LP is built from arrays straight into one HiGHS model (no PuLP)
    timers.wrap(pricing.ArcLp, ("__init__", "add"), "pulp_build")  # type: ignore[arg-type]
    timers.wrap(solve_mod.HighsLpSession, ("run",), "solver_call")  # type: ignore[arg-type]
    timers.wrap(assignment, ("verify_assignment",), "check")
    start = time.perf_counter()
    with run_trace() as trace:
        result = assignment.solve_assignment(tables, settings, _solver(spec))
    total = time.perf_counter() - start
    t = timers.totals
    build = t["data"] + t["pulp_build"] + t["to_highs"]
    frame = result.assignments
    status, checked = _check(tables, settings, frame["account_id"], frame["rep_id"])
    report = result.report
    return {
        "method": "ours",
        "status": report.status.value,
        "objective": report.objective,
        "bound": report.bound,
        "gap": report.gap,
        "seconds": round(total, 2),
        "build_s": round(build, 2),
        "solve_s": round(t["solver_call"] - t["to_highs"], 2),
        "build_share": round(build / total, 3),
        "detail": (
            f"data {t['data']:.1f}s, pulp {t['pulp_build']:.1f}s, to_highs {t['to_highs']:.1f}s, "
            f"highs {t['solver_call'] - t['to_highs']:.1f}s, check {t['check']:.1f}s; "
            f"{result.arcs} arcs ({result.priced_arcs} priced), lp bound {result.lp_bound}"
        ),
        "check": _agree(status, checked, report.objective),
        "trace": compact((p.seconds, p.objective) for p in trace.points),
    }


def scale_row(spec: dict[str, Any]) -> None:
    """Our model on a generated company with the demo's constraints."""
    from allocator.exceptions import NoSolutionInTimeError
    from allocator.io.settings import AssignmentSettings

    a, r, g = spec["accounts"], spec["reps"], spec["regions"]
    began = time.perf_counter()
    tables, blocks = _company(a, r, g)
    generated = time.perf_counter() - began
    settings = AssignmentSettings.model_validate(blocks["assignment"])
    solving = time.perf_counter()
    try:
        row = _ours(spec, tables, settings)
    except AllocatorError as exc:  # the row says so, with its time and peak memory
        first = str(exc).splitlines()[0]
        status = "no plan in time" if isinstance(exc, NoSolutionInTimeError) else "failed"
        seconds = round(time.perf_counter() - solving, 2)
        row = {"method": "ours", "status": status, "seconds": seconds, "detail": first[:300]}
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime  # less load-sensitive than wall
    gap = spec.get("gap", 0.005)
    row["detail"] = f"gap {gap:g}; generate {generated:.1f}s; user CPU {cpu:.1f}s; " + row["detail"]
    emit({"case": f"{a}x{r}", "size": f"{a}x{r}", **row})


def _dense(spec: dict[str, Any], tables, settings) -> dict[str, Any]:
    """The all-pairs model by a peer (:mod:`benchmarks.peers`): naive PuLP, HiGHS from numpy
    arrays, CP-SAT. CP-SAT's rounded objective is only reported; the row's is the checker's."""
    from allocator.territory.build import build_territory, territory_problem
    from allocator.territory.splits import split_rows
    from benchmarks.naive import build_naive

    start = time.perf_counter()
    territory = build_territory(tables, settings)
    problem = territory_problem(tables, settings, territory)
    prep = time.perf_counter() - start
    if spec.get("build_only"):
        build_naive(problem)
        built = time.perf_counter() - start
        return {
            "method": spec["method"],
            "status": "build only",
            "seconds": round(built, 2),
            "build_s": round(built, 2),
            "detail": f"data {prep:.1f}s; not solved",
        }
    res, _ = run_peer(
        spec["method"],
        problem,
        time_limit=spec["time_limit"],
        gap=spec.get("gap", 0.005),
        threads=spec["threads"],
    )
    total = time.perf_counter() - start
    status, checked = "no solution", None
    if (res.assign >= 0).all():
        # split accounts are fixed by the input, outside the model's items (as in make_result)
        split = split_rows(territory.splits)
        reps = [*np.asarray(problem.reps, dtype=object)[res.assign], *split["rep_id"]]
        items = [*problem.items, *split["account_id"]]
        status, checked = _check(tables, settings, items, reps)
    build = prep + res.build_seconds
    claimed = checked if spec["method"] == "cpsat" and checked is not None else res.objective
    return {
        "method": spec["method"],
        "status": res.status,
        "objective": checked,
        "bound": res.bound,
        "gap": _rel(checked, res.bound),
        "seconds": round(total, 2),
        "build_s": round(build, 2),
        "solve_s": round(res.solve_seconds, 2),
        "build_share": round(build / total, 3),
        "detail": f"{res.variables} binaries; solver objective {res.objective}",
        "check": _agree(status, checked, claimed),
        "trace": compact((prep + s, o) for s, o in res.trace),
    }


def side_row(spec: dict[str, Any]) -> None:
    """One method (ours, highs, cpsat, naive) on one generated company."""
    from allocator.io.settings import AssignmentSettings

    a, r, g = spec["accounts"], spec["reps"], spec["regions"]
    tables, blocks = _company(a, r, g)
    settings = AssignmentSettings.model_validate(blocks["assignment"])
    row = (
        _ours(spec, tables, settings)
        if spec["method"] == "ours"
        else _dense(spec, tables, settings)
    )
    emit({"case": f"{a}x{r}", "size": f"{a}x{r}", **row})


def _plane(frame: pd.DataFrame) -> np.ndarray:
    """Degrees to an equirectangular plane around latitude 51 (good enough for nearest rep)."""
    lat, lon = frame["lat"].to_numpy(float), frame["lon"].to_numpy(float)
    return np.column_stack([lat, lon * math.cos(math.radians(51.0))])


def quota_row(spec: dict[str, Any]) -> None:
    """The quota LP on a generated company (incumbents, prospects to their nearest rep)."""
    from allocator.io.settings import QuotaSettings, TargetSettings
    from allocator.quota import allocate as quota
    from allocator.quota.target import set_target

    reps, products, accounts = spec["reps"], spec["products"], spec["accounts"]
    tables, blocks = _company(accounts, reps, spec["regions"], products)
    acc, rep = tables.accounts, tables.active_reps
    near = cKDTree(_plane(rep)).query(_plane(acc))[1]
    incumbent = acc["incumbent_rep_id"].fillna("").astype(str).to_numpy()
    owner = np.where(incumbent != "", incumbent, rep["rep_id"].to_numpy()[near])
    owners = pd.Series(owner, index=acc["account_id"].to_numpy())
    target = set_target(tables, TargetSettings.model_validate(blocks["target"]))
    settings = QuotaSettings.model_validate(blocks["quota"])
    timers = Timers()
    timers.wrap(quota, ("_solve_two_stage",), "lp")
    timers.wrap(quota, ("check_quotas",), "check")
    reports: list[Any] = []
    solve = quota.solve
    quota.solve = lambda *a, **k: reports.append(solve(*a, **k)) or reports[-1]  # type: ignore[attr-defined]
    start = time.perf_counter()
    row: dict[str, Any] = {"check": "ok"}  # allocate_quotas raises CheckError otherwise
    try:
        report = quota.allocate_quotas(tables, owners, target, settings, _solver(spec)).report
        row.update(status=report.status.value, objective=report.objective, bound=report.bound)
    except AllocatorError as exc:
        row.update(status="failed", check=f"{type(exc).__name__}: {exc}"[:200])
    total = time.perf_counter() - start
    stages = ", ".join(
        f"{r.status.value} {r.objective if r.objective is None else f'{r.objective:.6g}'} "
        f"in {r.seconds:.2f}s"
        for r in reports
    )
    lp = timers.totals["lp"]
    emit(
        {
            "case": f"quota {reps}x{products}x{len(target.periods)}",
            "size": f"{reps}x{products}x{len(target.periods)}",
            "method": "ours",
            **row,
            "seconds": round(total, 2),
            "solve_s": round(lp, 2),
            "detail": (
                f"{accounts} accounts; LP solves: {stages}; LP build+solve {lp:.2f}s, "
                f"check {timers.totals['check']:.2f}s, "
                f"rest (phasing, tiers) {total - lp - timers.totals['check']:.2f}s"
            ),
        }
    )


def serve_row(spec: dict[str, Any]) -> None:
    """``allocator serve`` edit latency (:mod:`benchmarks.serve`)."""
    from benchmarks.serve import serve_rows

    for row in serve_rows(spec):
        emit(row)


KINDS = {
    "gap": gap_rows,
    "scale": scale_row,
    "side": side_row,
    "quota": quota_row,
    "serve": serve_row,
}


def main(argv: list[str] | None = None) -> int:
    """Run the case given as a JSON spec (``kind`` selects the function)."""
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    spec = json.loads((argv if argv is not None else sys.argv[1:])[0])
    KINDS[spec["kind"]](spec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
