"""Per-stage time and memory of one territory solve: ``python -m benchmarks.profile 20000 200``.

Stages are found by wrapping the pipeline's functions in their modules (outermost call wins,
nested stages are charged to the inner one): generation, build (tables -> ``Territory``), the arc
problem, precheck, initial arcs, the first LP, the later pricing rounds, the warm start, the MIP
(its PuLP model included), the result tables and the checker. A sampling thread reads the
resident set (``/proc/self/statm``) every 20 ms, so each stage reports its own peak RSS and the
RSS it left behind. ``--tracemalloc`` adds the top allocation sites at the overall peak
(slow: only for small sizes). Prints one JSON line ``PROFILE {...}`` and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

__all__ = ["Profiler", "main", "profile_solve"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Current resident set of this process in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


class Profiler:
    """Wall seconds, CPU seconds and peak RSS per stage, from wrapped functions."""

    def __init__(self) -> None:
        self.stack: list[str] = ["other"]
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self.peak: defaultdict[str, float] = defaultdict(float)
        self.after: dict[str, float] = {}
        self.calls: defaultdict[str, int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            stage = self.stack[-1]
            self.peak[stage] = max(self.peak[stage], rss_mb())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def wrap(self, owner: Any, name: str, stage: str | Callable[[int], str]) -> None:
        """Replace ``owner.name`` by a version that charges its calls to ``stage``."""
        func = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            label = stage(self.calls[name]) if callable(stage) else stage
            self.calls[name] += 1
            self.stack.append(label)
            start, cpu = time.perf_counter(), time.process_time()
            self.peak[label] = max(self.peak[label], rss_mb())
            try:
                return func(*args, **kwargs)
            finally:
                self.stack.pop()
                self.seconds[label] += time.perf_counter() - start
                self.cpu[label] += time.process_time() - cpu
                for outer in self.stack[1:]:  # nested: the outer stage excludes it
                    self.seconds[outer] -= time.perf_counter() - start
                    self.cpu[outer] -= time.process_time() - cpu
                self.after[label] = rss_mb()

        setattr(owner, name, timed)

    def table(self) -> list[dict[str, Any]]:
        order = sorted(
            self.seconds, key=lambda s: list(self.after).index(s) if s in self.after else 99
        )
        return [
            {
                "stage": s,
                "seconds": round(self.seconds[s], 2),
                "cpu_s": round(self.cpu[s], 2),
                "peak_mb": round(self.peak[s]),
                "after_mb": round(self.after.get(s, 0.0)),
            }
            for s in order
        ]


def _install(p: Profiler) -> None:
    from allocator.demo import generate as gen
    from allocator.territory import arc_lp, assignment, heuristic, pricing, solve_arcs

    p.wrap(gen, "generate_company", "generate")
    p.wrap(assignment, "build_territory", "build")
    p.wrap(assignment, "territory_problem", "arc problem")
    p.wrap(assignment, "relaxations", "relaxations")
    p.wrap(assignment, "precheck", "precheck")
    p.wrap(solve_arcs, "initial_arcs", "initial arcs")
    p.wrap(arc_lp.ArcLp, "__init__", "LP build")
    p.wrap(arc_lp.ArcLp, "run", lambda k: "first LP" if k == 0 else "pricing LPs")
    p.wrap(pricing, "reduced_costs", "pricing (numpy)")
    p.wrap(pricing, "_entering", "pricing (numpy)")
    p.wrap(pricing, "_lagrangian", "pricing (numpy)")
    p.wrap(solve_arcs, "_first_start", "warm start")
    p.wrap(solve_arcs, "_mip_rounds", "MIP")
    p.wrap(solve_arcs, "augment_arcs", "augment")
    p.wrap(assignment, "make_result", "result tables")
    p.wrap(assignment, "verify_assignment", "checker")
    _ = heuristic


def profile_solve(
    accounts: int, reps: int, regions: int, time_limit: float, gap: float = 0.005
) -> dict[str, Any]:
    """Generate a company, solve it, and return the profile and the run's summary."""
    from allocator.demo import demo_settings
    from allocator.demo import generate as gen
    from allocator.exceptions import AllocatorError
    from allocator.io.settings import AssignmentSettings, SolverSettings
    from allocator.territory import assignment

    p = Profiler()
    _install(p)
    start, cpu = time.perf_counter(), time.process_time()
    tables = gen.generate_company(accounts=accounts, reps=reps, regions=regions, products=4, seed=1)
    settings = AssignmentSettings.model_validate(demo_settings(tables)["assignment"])
    solver = SolverSettings(time_limit=time_limit, gap=gap, threads=1)
    try:
        result = assignment.solve_assignment(tables, settings, solver)
    except AllocatorError as exc:  # a failed run still reports its stages, time and memory
        p.close()
        return _failed(p, f"{accounts}x{reps}", gap, str(exc), start, cpu)
    p.close()
    report = result.report
    return {
        "case": f"{accounts}x{reps}",
        "solver_gap": gap,
        "status": report.status.value,
        "objective": report.objective,
        "bound": report.bound,
        "gap": report.gap,
        "seconds": round(time.perf_counter() - start, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "arcs": result.arcs,
        "priced": result.priced_arcs,
        "lp_models": p.calls["__init__"],  # 2 or more: phase 1 (the first LP was infeasible)
        "lp_runs": p.calls["run"],
        "load": os.getloadavg()[0],
        "stages": p.table(),
    }


def _failed(
    p: Profiler, case: str, gap: float, message: str, start: float, cpu: float
) -> dict[str, Any]:
    return {
        "case": case,
        "solver_gap": gap,
        "status": "failed: " + message.splitlines()[0],
        "objective": None,
        "bound": None,
        "gap": None,
        "seconds": round(time.perf_counter() - start, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "arcs": None,
        "priced": None,
        "lp_models": p.calls["__init__"],
        "lp_runs": p.calls["run"],
        "load": os.getloadavg()[0],
        "stages": p.table(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("accounts", type=int)
    parser.add_argument("reps", type=int)
    parser.add_argument("--regions", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--gap", type=float, default=0.005, help="solver.gap (0.005)")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    regions = args.regions or max(20, args.reps // 2)
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(5)
    out = profile_solve(args.accounts, args.reps, regions, args.time_limit, args.gap)
    print("PROFILE " + json.dumps(out, default=float), flush=True)
    print(
        f"\n{out['case']}: {out['status']}, gap {out['gap']}, {out['seconds']} s wall, "
        f"{out['cpu_s']} s CPU, peak {out['peak_mb']} MB, load {out['load']:.2f}; "
        f"{out['arcs']} arcs ({out['priced']} priced), {out['lp_models']} LP model(s), "
        f"{out['lp_runs']} LP run(s)"
    )
    print("| stage | s | cpu s | peak MB | after MB |\n|---|---|---|---|---|")
    for row in out["stages"]:
        print(
            f"| {row['stage']} | {row['seconds']} | {row['cpu_s']} | {row['peak_mb']} | "
            f"{row['after_mb']} |"
        )
    if args.tracemalloc:
        import tracemalloc

        snap = tracemalloc.take_snapshot()
        print("peak traced MB", tracemalloc.get_traced_memory()[1] / 2**20)
        for stat in snap.statistics("lineno")[:15]:
            print(stat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
