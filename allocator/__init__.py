"""allocator: sales territories and quotas planned by linear and integer programming.

The flat public API a notebook needs::

    import allocator

    scenario = allocator.load_scenario("scenarios/demo.yaml")
    plan = allocator.solve_scenario(scenario)
    plan.assignment.assignments   # who owns which account, and why
    plan.quotas.quotas            # rep x product x month, base / target / stretch
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# name -> module: imported on first use, so `allocator --help` and small scripts do not pay
# for pandas, PuLP and matplotlib they never touch (PEP 562)
_LAZY = {
    "AssignmentResult": "territory.assignment",
    "solve_assignment": "territory.assignment",
    "Comparison": "report.comparison",
    "compare": "report.comparison",
    "write_comparison": "report.comparison",
    "describe": "io.data",
    "load_inputs": "io.data",
    "load_tables": "io.data",
    "make_tables": "io.data",
    "AllocatorError": "exceptions",
    "AllocatorWarning": "exceptions",
    "CheckError": "exceptions",
    "InfeasibleError": "exceptions",
    "InputError": "exceptions",
    "OutputError": "exceptions",
    "ScenarioError": "exceptions",
    "SolverError": "exceptions",
    "TimeLimitWarning": "exceptions",
    "generate_company": "demo",
    "write_company": "demo",
    "fairness": "report.metrics",
    "plan_metrics": "report.metrics",
    "write_plan": "report.output",
    "Plan": "plan",
    "solve_scenario": "plan",
    "QuotaResult": "quota.result",
    "allocate_quotas": "quota.allocate",
    "write_report": "report.plan_report",
    "Scenario": "io.scenario",
    "load_scenario": "io.scenario",
    "SolveReport": "solver",
    "Status": "solver",
    "Tables": "io.tables",
    "TargetResult": "quota.target",
    "set_target": "quota.target",
    "run_sweep": "sweep.run",
}

try:
    __version__ = version("allocator")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"allocator.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'allocator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AllocatorError",
    "AllocatorWarning",
    "AssignmentResult",
    "CheckError",
    "Comparison",
    "InfeasibleError",
    "InputError",
    "OutputError",
    "Plan",
    "QuotaResult",
    "Scenario",
    "ScenarioError",
    "SolveReport",
    "SolverError",
    "Status",
    "Tables",
    "TargetResult",
    "TimeLimitWarning",
    "__version__",
    "allocate_quotas",
    "compare",
    "describe",
    "fairness",
    "generate_company",
    "load_inputs",
    "load_scenario",
    "load_tables",
    "make_tables",
    "plan_metrics",
    "run_sweep",
    "set_target",
    "solve_assignment",
    "solve_scenario",
    "write_company",
    "write_comparison",
    "write_plan",
    "write_report",
]
