"""The graph analysis of a scenario's territory problem: tables and settings in, facts out.

:func:`analyse_regions` feeds :func:`allocator.geography.analysis.analyse_graph` with the active
accounts and reps, the region graph (``Tables.adjacency``), the contiguity rules and the balance
bands of ``assignment.constraints`` (fair shares as the model computes them). ``allocator
validate`` prints the result; the contiguity solver calls it before solving and stops on a
finding that proves infeasibility (``GraphAnalysis.infeasible``) instead of searching.
"""

from __future__ import annotations

from allocator.geography.analysis import BalanceBands, GraphAnalysis, analyse_graph
from allocator.io.settings import AssignmentSettings
from allocator.io.tables import Tables
from allocator.territory.build import fair_shares

__all__ = ["analyse_regions"]


def analyse_regions(tables: Tables, settings: AssignmentSettings) -> GraphAnalysis:
    """The region graph analysis of ``tables`` under ``settings`` (``models/assignment.md``).

    Without ``contiguity`` only what holds regardless is proved (units above every band).
    """
    accounts, reps = tables.active_accounts, tables.active_reps
    cons = settings.constraints
    contiguity = cons.contiguity
    bands = None
    if cons.balance is not None and len(reps):
        rule = cons.balance
        measures = ["potential", "workload"] if rule.measure == "both" else [rule.measure]
        fair = {
            m: dict(
                zip(
                    reps["rep_id"],
                    fair_shares(reps, float(accounts[m].sum()), rule.fair_share).tolist(),
                    strict=True,
                )
            )
            for m in measures
        }
        bands = BalanceBands(rule.tolerance, fair)
    return analyse_graph(
        tables.regions,
        tables.adjacency,
        accounts,
        reps,
        level=settings.level,
        include_home=contiguity.include_home if contiguity else True,
        per_component=contiguity.per_component if contiguity else False,
        contiguity=contiguity is not None,
        balance=bands,
    )
