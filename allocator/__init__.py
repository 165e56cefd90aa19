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
    "AssignmentResult": "assignment",
    "solve_assignment": "assignment",
    "Comparison": "comparison",
    "compare": "comparison",
    "write_comparison": "comparison",
    "describe": "data",
    "load_inputs": "data",
    "load_tables": "data",
    "make_tables": "data",
    "AllocatorError": "exceptions",
    "AllocatorWarning": "exceptions",
    "CheckError": "exceptions",
    "InfeasibleError": "exceptions",
    "InputError": "exceptions",
    "ScenarioError": "exceptions",
    "SolverError": "exceptions",
    "TimeLimitWarning": "exceptions",
    "generate_company": "generate",
    "write_company": "generate",
    "fairness": "metrics",
    "plan_metrics": "metrics",
    "write_plan": "output",
    "Plan": "plan",
    "solve_scenario": "plan",
    "QuotaResult": "quota",
    "allocate_quotas": "quota",
    "write_report": "report",
    "Scenario": "scenario",
    "load_scenario": "scenario",
    "SolveReport": "solve",
    "Status": "solve",
    "Tables": "tables",
    "TargetResult": "target",
    "set_target": "target",
    "run_sweep": "sweep",
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
