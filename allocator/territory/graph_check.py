"""What the region graph and the numbers decide before any search, and the tolerance that works.

:func:`graph_findings` raises :class:`InfeasibleError` for what is proven up front: items in a
part of the map no rep can reach, a unit whose own measure is above every band it could join, a
part of the map whose resident reps cannot carry its total within their bands. Each message
gives the smallest balance tolerance that would remove that cause. :func:`explain_tolerance`
turns a proof by the exact model into the smallest tolerance with connected territories (solved
exactly with the flow model when time allows, else bounds) and names the units that force it.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import numpy.typing as npt

from allocator.exceptions import InfeasibleError
from allocator.io.settings import SolverSettings
from allocator.solver import Status, solve
from allocator.solver.trace import traced_as
from allocator.territory.contiguity import Contiguity
from allocator.territory.core import ArcProblem, violations
from allocator.territory.flow import build_flow, flow_start, tolerance_of
from allocator.territory.grow import Graph, Rows

__all__ = ["explain_tolerance", "graph_findings"]

log = logging.getLogger("allocator")

IntArray = npt.NDArray[np.int64]


def graph_findings(problem: ArcProblem, contiguity: Contiguity, graph: Graph, rows: Rows) -> None:
    """Raise :class:`InfeasibleError` for every cause proven before solving; else return.

    Raises
    ------
    InfeasibleError
        One line per cause, with the regions, what to change and the tolerance that would work.
    """
    problems = _unreachable(problem, contiguity, graph)
    problems += _districts_apart(problem, contiguity, graph)
    problems += _too_big(problem, contiguity, graph, rows)
    if not problems:
        problems = _component_bands(problem, contiguity, graph, rows)
    if problems:
        raise InfeasibleError(
            f"{problem.name}: no plan with connected territories exists (proven before solving):",
            diagnosis=problems,
        )


def _names(contiguity: Contiguity, regions: list[int], limit: int = 6) -> str:
    shown = [contiguity.regions[g] for g in regions[:limit]]
    more = f" ... ({len(regions)} regions)" if len(regions) > limit else ""
    return ", ".join(shown) + more


def _unreachable(problem: ArcProblem, contiguity: Contiguity, graph: Graph) -> list[str]:
    """Components with items where no rep may go (every rep is tied to its home's component)."""
    if graph.per_component or (graph.root < 0).any():
        return []
    out = []
    homes = {int(graph.component[h]) for h in graph.root.tolist()}
    for c in sorted(set(graph.component[graph.region].tolist()) - homes):
        regions = sorted({int(g) for g in graph.region if graph.component[g] == c})
        count = int(np.isin(graph.region, regions).sum())
        out.append(
            f"regions {_names(contiguity, regions)} ({count} item(s)) form a part of the map "
            "that no rep lives in and no link reaches: add a link (adjacency), put a rep there, "
            "or set contiguity.per_component: true"
        )
    return out


def _districts_apart(problem: ArcProblem, contiguity: Contiguity, graph: Graph) -> list[str]:
    """``district_contiguity[m]``: a manager whose reps must serve home regions in different
    parts of the map (no path through regions with items joins them) cannot be one piece."""
    if graph.per_component:
        return []
    out = []
    for manager, members in graph.districts:
        homes = sorted({int(graph.root[r]) for r in members if graph.root[r] >= 0})
        parts = sorted({int(graph.component[h]) for h in homes})
        if len(parts) > 1:
            lives = {r: int(graph.component[graph.root[r]]) for r in members if graph.root[r] >= 0}
            where = "; ".join(
                f"{', '.join(problem.reps[r] for r, p in lives.items() if p == c)} in "
                f"{_names(contiguity, [h for h in homes if graph.component[h] == c])}"
                for c in parts
            )
            out.append(
                f"district_contiguity[{manager}]: its reps live in {len(parts)} parts of the map "
                f"that no link joins ({where}): link the parts (adjacency), move the reps to one "
                "manager per part, or drop assignment.constraints.managers.contiguous"
            )
    return out


def _too_big(problem: ArcProblem, contiguity: Contiguity, graph: Graph, rows: Rows) -> list[str]:
    """Items whose own activity exceeds the upper bound of every rep that may take them."""
    out = []
    for k, coef in enumerate(rows.coef):
        hi = rows.hi[k]
        if not np.isfinite(hi).any():
            continue
        over = np.where(graph.eligible, coef > hi[None, :] + 1e-9, True).all(axis=1)
        for i in np.flatnonzero(over).tolist()[:5]:
            name = contiguity.regions[int(graph.region[i])]
            share = coef[i] / rows.target[k]
            need = float(np.min(np.where(graph.eligible[i], share, np.inf))) - 1.0
            what = (
                f"the {rows.names[k]} balance band"
                if rows.spread[k]
                else f"the {rows.names[k]} limit"
            )
            tol = f"; a tolerance of at least +-{need:.1%} would admit it" if rows.spread[k] else ""
            unit = f"region {name}" if problem.items[i] == name else f"{problem.items[i]} ({name})"
            out.append(
                f"{unit} alone is above {what} for every rep that "
                f"may serve it: {need + 1:.0%} of a fair share{tol}; or add reps so that the "
                "fair share grows, or serve it at account level"
            )
    return out


def _component_bands(
    problem: ArcProblem, contiguity: Contiguity, graph: Graph, rows: Rows
) -> list[str]:
    """Parts of the map whose resident reps must carry all their items within their bands."""
    if graph.per_component or (graph.root < 0).any():
        return []
    out = []
    item_comp = graph.component[graph.region]
    rep_comp = graph.component[graph.root]
    for c in sorted(set(item_comp.tolist())):
        reps = np.flatnonzero(rep_comp == c)
        items = np.flatnonzero(item_comp == c)
        for k, coef in enumerate(rows.coef):
            if not rows.spread[k]:
                continue
            total = float(coef[items][:, reps[0]].sum())
            lo, hi = float(rows.lo[k][reps].sum()), float(rows.hi[k][reps].sum())
            if lo - 1e-9 <= total <= hi + 1e-9:
                continue
            need = abs(total / float(rows.target[k][reps].sum()) - 1.0)
            regions = sorted({int(g) for g in graph.region[items]})
            out.append(
                f"the part of the map with {_names(contiguity, regions)} holds {total:,.0f} but "
                f"its {len(reps)} resident rep(s) must carry between {lo:,.0f} and {hi:,.0f}: "
                f"a tolerance of +-{need:.1%} would work, or move a rep, or set "
                "contiguity.per_component: true"
            )
    return out


@traced_as(None)  # a tolerance search, not the run's problem
def explain_tolerance(
    problem: ArcProblem,
    graph: Graph,
    rows: Rows,
    assign: IntArray,
    solver: SolverSettings,
    deadline: float,
) -> InfeasibleError:
    """The error for a proof by the exact model: the smallest tolerance and the units forcing it.

    ``assign`` is the best connected plan found; its own tolerance bounds the answer from above.
    The flow model minimising the tolerance runs for the time left (exact when it finishes).
    """
    if not any(rows.spread):
        return InfeasibleError(
            f"{problem.name}: no plan with connected territories in which each rep serves its "
            "home region meets every hard rule (proven by the exact model); more time would not "
            "help. The best connected plan found breaks:",
            diagnosis=violations(problem, assign)[:10],
        )
    upper = tolerance_of(rows, assign)
    lower, exact = _current_tolerance(rows), False  # proven infeasible at it
    left = deadline - time.monotonic() - 0.5
    if left > 0.5 and any(rows.spread):
        model = build_flow(graph, rows, assign, tuple(range(problem.shape[1])), tolerance=True)
        warm = flow_start(model, graph, rows, assign)
        report = solve(model.prob, solver, warm_start=warm, time_limit=left)
        if report.has_solution and report.objective is not None:
            upper = min(upper, float(report.objective))
        lower = max(lower, float(report.bound or 0.0))
        exact = report.status is Status.OPTIMAL
    if exact:
        what = f"the smallest balance tolerance with connected territories is +-{upper:.2%}"
    else:
        what = (
            f"the smallest balance tolerance with connected territories is above +-{lower:.2%} "
            f"(proven) and at most +-{upper:.2%} (a connected plan exists there; a longer run "
            "narrows this interval, it cannot make the current tolerance work)"
        )
    lines = [what, *_largest_units(problem, graph, rows)]
    return InfeasibleError(
        f"{problem.name}: balance and contiguity conflict: no plan with connected territories "
        "meets every balance band (proven by the exact model); more time would not help:",
        diagnosis=lines,
    )


def _current_tolerance(rows: Rows) -> float:
    """The tolerance of the balance bands now (``hi = target x (1 + t)``), 0 without bands."""
    out = 0.0
    for k, hi in enumerate(rows.hi):
        target = rows.target[k]
        ok = np.isfinite(hi) & np.isfinite(target) & (target > 0)
        if rows.spread[k] and ok.any():
            out = max(out, float(np.max((hi[ok] - target[ok]) / target[ok])))
    return out


def _largest_units(problem: ArcProblem, graph: Graph, rows: Rows, limit: int = 3) -> list[str]:
    """The units holding at least half a fair share on their own: they force a wide band."""
    out = []
    for k, coef in enumerate(rows.coef):
        if not rows.spread[k]:
            continue
        share = coef[:, 0] / float(np.nanmax(rows.target[k]))
        for i in np.argsort(-share)[:limit].tolist():
            if share[i] >= 0.5:
                out.append(
                    f"{problem.items[i]} holds {share[i]:.0%} of a fair {rows.names[k]} share on "
                    "its own"
                )
    if not out:
        measures = " and ".join(n for n, s in zip(rows.names, rows.spread, strict=True) if s)
        out.append(f"no single unit forces it: the way {measures} lie on the map does")
    return out
