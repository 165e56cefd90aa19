"""Reporting: fairness metrics, explanations, figures, the plan report, comparisons, output folders.

:func:`plan_metrics`, :func:`explain_accounts`, :func:`plan_headline`, :func:`territory_map`
(the interactive map) with :func:`map_html`, :func:`write_report`, :func:`compare` and
:func:`write_plan` (the output folder with its manifest).
"""

from allocator.report.comparison import Comparison, compare, write_comparison
from allocator.report.explain import explain_accounts
from allocator.report.headline import plan_headline
from allocator.report.map import map_html, territory_map
from allocator.report.metrics import fairness, plan_metrics
from allocator.report.output import write_plan
from allocator.report.plan_report import write_report

__all__ = [
    "Comparison",
    "compare",
    "explain_accounts",
    "fairness",
    "map_html",
    "plan_headline",
    "plan_metrics",
    "territory_map",
    "write_comparison",
    "write_plan",
    "write_report",
]
