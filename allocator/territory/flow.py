"""The exact contiguity model for a set of reps: single-commodity flow from a root per rep.

Rows (15)-(18) of ``models/assignment.md``: each served region of rep ``r`` consumes one unit of
a flow that leaves from ``r``'s root (its home region; a chosen region when it has none) and only
passes through regions ``r`` serves (Shirabe 2009; Validi, Buchanan & Lykhovyd 2022). Used for the
whole problem (bound, proof of infeasibility, smallest tolerance) and for sub-problems of two or
three neighbouring reps in the large neighbourhood search, where the other reps keep their items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pulp

from allocator.territory.grow import Graph, Rows

__all__ = ["FlowModel", "build_flow", "flow_start", "read_flow"]

IntArray = npt.NDArray[np.int64]

Var: TypeAlias = pulp.LpVariable


@dataclass
class FlowModel:
    """The PuLP program and its variables by index (``x[i, r]``, ``y[r, g]``, flows, ...)."""

    prob: pulp.LpProblem
    reps: tuple[int, ...]
    items: IntArray
    x: dict[tuple[int, int], Var] = field(default_factory=dict)
    y: dict[tuple[int, int], Var] = field(default_factory=dict)
    z: dict[tuple[int, int], Var] = field(default_factory=dict)
    s: dict[tuple[int, int], Var] = field(default_factory=dict)
    f: dict[tuple[int, int, int], Var] = field(default_factory=dict)
    dev: dict[tuple[int, int], tuple[Var, Var]] = field(default_factory=dict)
    slack: dict[tuple[int, int], Var] = field(default_factory=dict)
    tolerance: Var | None = None


def build_flow(
    graph: Graph,
    rows: Rows,
    assign: IntArray,
    reps: Sequence[int],
    *,
    penalty: float | None = None,
    tolerance: bool = False,
    integer: bool = True,
) -> FlowModel:
    """The model re-assigning the items ``assign`` gives to ``reps`` among them.

    ``penalty`` (per unit of relative violation) makes the rows soft, to repair a plan that
    violates them; ``tolerance`` replaces the balance bands by ``target x (1 +- t)`` and
    minimises ``t`` (the smallest tolerance with connected territories).
    """
    reps = tuple(int(r) for r in reps)
    items = np.flatnonzero(np.isin(assign, reps))
    prob = pulp.LpProblem("contiguity", pulp.LpMinimize)
    model = FlowModel(prob, reps, items)
    cat = pulp.LpBinary if integer else pulp.LpContinuous
    objective: list[tuple[Var, float]] = []
    for i in items.tolist():
        allowed = [r for r in reps if graph.eligible[i, r] and graph.fixed[i] in (-1, r)]
        for r in allowed:
            model.x[i, r] = prob.add_variable(f"x_{i}_{r}", 0, 1, cat)
            objective.append((model.x[i, r], float(graph.cost[i, r])))
        prob += pulp.lpSum(model.x[i, r] for r in allowed) == 1, f"assign_once_{i}"
    by_region: dict[int, list[int]] = {}
    for i in items.tolist():
        by_region.setdefault(int(graph.region[i]), []).append(i)
    for r in reps:
        _add_rep_flow(model, graph, r, by_region, cat)
    for k, (_, members) in enumerate(graph.districts):
        if members and set(members) <= set(reps):
            _add_district_flow(model, graph, k, members, cat)
    objective += _add_rows(model, rows, assign, penalty=penalty, tolerance=tolerance)
    if tolerance:
        assert model.tolerance is not None
        objective = [(model.tolerance, 1.0)]
    prob.setObjective(pulp.LpAffineExpression(objective))
    return model


def _add_rep_flow(
    model: FlowModel, graph: Graph, r: int, by_region: dict[int, list[int]], cat: str
) -> None:
    """Rows (11), (12) and the flow rows (15)-(18) of rep ``r``."""
    prob = model.prob
    size = len(by_region)
    served = []
    for g, members in sorted(by_region.items()):
        xs = [model.x[i, r] for i in members if (i, r) in model.x]
        if not xs:
            continue
        y = model.y[r, g] = prob.add_variable(f"y_{r}_{g}", 0, 1, cat)
        for k, x in enumerate(xs):
            prob += x <= y, f"serves_{r}_{g}_{k}"
        prob += y <= pulp.lpSum(xs), f"serves_any_{r}_{g}"
        served.append(g)
    root = int(graph.root[r])
    rooted = root in by_region and (r, root) in model.y
    if rooted:
        prob += model.y[r, root] == 1, f"home_{r}"
    # free root candidates: everywhere without a root; with per_component, in the other parts
    home_part = graph.component[root] if rooted else -1
    free = [
        g for g in served if not rooted or (graph.per_component and graph.component[g] != home_part)
    ]
    for g in free:
        model.z[r, g] = prob.add_variable(f"z_{r}_{g}", 0, 1, cat)
        prob += model.z[r, g] <= model.y[r, g], f"root_in_{r}_{g}"
    for part in _by_component(graph, free):
        prob += pulp.lpSum(model.z[r, g] for g in part) <= 1, f"one_root_{r}_{part[0]}"
    roots = ([root] if rooted else []) + free
    in_flow: dict[int, list[Var]] = {g: [] for g in served}
    out_flow: dict[int, list[Var]] = {g: [] for g in served}
    for g in served:
        for h in graph.neighbours[g]:
            if (r, h) in model.y:
                f = model.f[r, g, h] = prob.add_variable(f"f_{r}_{g}_{h}", 0, size)
                prob += f <= size * model.y[r, h], f"flow_in_{r}_{g}_{h}"
                prob += f <= size * model.y[r, g], f"flow_out_{r}_{g}_{h}"
                out_flow[g].append(f)
                in_flow[h].append(f)
    if rooted:
        same = [g for g in served if graph.component[g] == home_part or not graph.per_component]
        _add_ball_cuts(model, graph, r, root, same)
    for g in served:
        net = pulp.lpSum(in_flow[g]) - pulp.lpSum(out_flow[g])
        if g in roots:
            s = model.s[r, g] = prob.add_variable(f"s_{r}_{g}", 0, size)
            if (r, g) in model.z:
                prob += s <= size * model.z[r, g], f"supply_{r}_{g}"
            net = net + s
        prob += net == model.y[r, g], f"consume_{r}_{g}"


def _add_district_flow(
    model: FlowModel, graph: Graph, k: int, members: tuple[int, ...], cat: str
) -> None:
    """Rows ``district_serves``/``district_flow`` of district ``k`` (``models/organisation.md``):
    ``w[k,g]`` (kept in ``model.y`` under the key ``-(k+1)``) is 1 when a rep of the district
    serves ``g``, and one flow from the district's root (a member's home; else one free root
    per component) reaches every served region through served regions only."""
    prob, key = model.prob, -(k + 1)
    regions = sorted({g for (r, g) in model.y if r in members})
    size = len(regions)
    for g in regions:
        ys = [model.y[r, g] for r in members if (r, g) in model.y]
        w = model.y[key, g] = prob.add_variable(f"w_{k}_{g}", 0, 1, cat)
        for j, y in enumerate(ys):
            prob += y <= w, f"district_serves_{k}_{g}_{j}"
        prob += w <= pulp.lpSum(ys), f"district_serves_any_{k}_{g}"
    homes = [int(graph.root[r]) for r in members if (r, int(graph.root[r])) in model.y]
    root = homes[0] if homes else -1
    part = graph.component[root] if root >= 0 else -1
    free = [g for g in regions if root < 0 or (graph.per_component and graph.component[g] != part)]
    for g in free:
        model.z[key, g] = prob.add_variable(f"zd_{k}_{g}", 0, 1, cat)
        prob += model.z[key, g] <= model.y[key, g], f"district_root_in_{k}_{g}"
    for piece in _by_component(graph, free):
        prob += pulp.lpSum(model.z[key, g] for g in piece) <= 1, f"district_one_root_{k}_{piece[0]}"
    net = {g: pulp.LpAffineExpression() for g in regions}
    for g in regions:
        for h in graph.neighbours[g]:
            if (key, h) in model.y:
                f = model.f[key, g, h] = prob.add_variable(f"fd_{k}_{g}_{h}", 0, size)
                prob += f <= size * model.y[key, h], f"district_flow_in_{k}_{g}_{h}"
                prob += f <= size * model.y[key, g], f"district_flow_out_{k}_{g}_{h}"
                net[g] -= f
                net[h] += f
    for g in regions:
        if g == root or g in free:
            s = model.s[key, g] = prob.add_variable(f"sd_{k}_{g}", 0, size)
            if g in free:
                prob += s <= size * model.z[key, g], f"district_supply_{k}_{g}"
            net[g] += s
        prob += net[g] == model.y[key, g], f"district_flow_{k}_{g}"


def _add_ball_cuts(model: FlowModel, graph: Graph, r: int, root: int, served: list[int]) -> None:
    """Rows (19): ``y[r,g] <= sum_{h in N(B)} y[r,h]`` for the balls ``B`` of radius 0 and 1
    around ``g`` that miss the root: their boundary separates ``g`` from the root, so a connected
    territory serving ``g`` serves one region of it (separator inequalities, valid for every
    connected plan; they tighten the flow model's weak linear relaxation)."""
    allowed = set(served)
    for g in served:
        if g == root:
            continue
        ball = {g}
        for radius in (0, 1):
            if radius == 1:
                ball = ball | set(graph.neighbours[g])
                if root in ball:
                    break
            border = {h for b in ball for h in graph.neighbours[b]} - ball
            terms = [model.y[r, h] for h in sorted(border & allowed)]
            model.prob += model.y[r, g] <= pulp.lpSum(terms), f"ball_{r}_{g}_{radius}"


def _by_component(graph: Graph, regions: list[int]) -> list[list[int]]:
    if not graph.per_component:
        return [regions] if regions else []
    parts: dict[int, list[int]] = {}
    for g in regions:
        parts.setdefault(int(graph.component[g]), []).append(g)
    return list(parts.values())


def _add_rows(
    model: FlowModel, rows: Rows, assign: IntArray, *, penalty: float | None, tolerance: bool
) -> list[tuple[Var, float]]:
    """The per-rep rows (capacity, balance, counts) of the reps in the model; deviations."""
    prob, objective = model.prob, []
    if tolerance:
        model.tolerance = prob.add_variable("tolerance", 0)
    for k, coef in enumerate(rows.coef):
        for r in model.reps:
            act = pulp.lpSum(coef[i, r] * x for (i, rr), x in model.x.items() if rr == r)
            lo, hi, target = rows.lo[k][r], rows.hi[k][r], rows.target[k][r]
            name = f"row_{k}_{r}"
            if model.tolerance is not None and rows.spread[k] and np.isfinite(target):
                t = float(target) * model.tolerance
                prob += act >= float(target) - t, f"{name}_lo"
                prob += act <= float(target) + t, f"{name}_hi"
            elif np.isfinite(lo) or np.isfinite(hi):
                e: pulp.LpAffineExpression | int = 0
                if penalty is not None:
                    e = model.slack[k, r] = prob.add_variable(f"e_{k}_{r}", 0)
                    objective.append((model.slack[k, r], penalty / float(rows.scale[k][r])))
                if np.isfinite(lo):
                    prob += act + e >= float(lo), f"{name}_lo"
                if np.isfinite(hi):
                    prob += act - e <= float(hi), f"{name}_hi"
            if rows.dev[k][r]:
                dp = prob.add_variable(f"dp_{k}_{r}", 0)
                dm = prob.add_variable(f"dm_{k}_{r}", 0)
                model.dev[k, r] = (dp, dm)
                prob += act - dp + dm == float(target), f"{name}_dev"
                objective += [(dp, float(rows.dev[k][r])), (dm, float(rows.dev[k][r]))]
    return objective


def flow_start(model: FlowModel, graph: Graph, rows: Rows, assign: IntArray) -> dict[str, float]:
    """Every variable's value for a connected ``assign``: a spanning tree's flows per rep."""
    out: dict[str, float] = {}
    for (i, r), x in model.x.items():
        out[x.name] = float(assign[i] == r)
    for r in model.reps:
        served = {int(graph.region[i]) for i in model.items.tolist() if assign[i] == r}
        for (rr, g), y in model.y.items():
            if rr == r:
                out[y.name] = float(g in served)
        root = int(graph.root[r])
        for part in _by_component(graph, sorted(served)):
            start = root if root in part else part[0]
            if (r, start) in model.z:
                out[model.z[r, start].name] = 1.0
            _tree_flows(model, graph, r, start, set(part), out)
    for k, (_, members) in enumerate(graph.districts):
        _district_start(model, graph, k, members, assign, out)
    for (k, r), (dp, dm) in model.dev.items():
        gap = float(rows.coef[k][assign == r, r].sum() - rows.target[k][r])
        out[dp.name], out[dm.name] = max(gap, 0.0), max(-gap, 0.0)
    for (k, r), e in model.slack.items():
        act = float(rows.coef[k][assign == r, r].sum())
        out[e.name] = max(rows.lo[k][r] - act, act - rows.hi[k][r], 0.0)
    if model.tolerance is not None:
        out[model.tolerance.name] = tolerance_of(rows, assign)
    return out


def _district_start(
    model: FlowModel,
    graph: Graph,
    k: int,
    members: tuple[int, ...],
    assign: IntArray,
    out: dict[str, float],
) -> None:
    """Start values of district ``k``'s rows (when in the model) for a plan joining it up."""
    key = -(k + 1)
    if not any(kk == key for kk, _ in model.y):
        return
    served = {int(graph.region[i]) for i in model.items.tolist() if assign[i] in members}
    for (kk, g), w in model.y.items():
        if kk == key:
            out[w.name] = float(g in served)
    homes = [int(graph.root[r]) for r in members if int(graph.root[r]) in served]
    for part in _by_component(graph, sorted(served)):
        start = next((h for h in homes if h in part), part[0])
        if (key, start) in model.z:
            out[model.z[key, start].name] = 1.0
        _tree_flows(model, graph, key, start, set(part), out)


def _tree_flows(
    model: FlowModel, graph: Graph, r: int, start: int, part: set[int], out: dict[str, float]
) -> None:
    """Breadth-first tree of ``part`` from ``start``: each edge carries its subtree's size."""
    parent, order = {start: -1}, [start]
    for u in order:
        for v in graph.neighbours[u]:
            if v in part and v not in parent:
                parent[v] = u
                order.append(v)
    size = dict.fromkeys(order, 1)
    for v in reversed(order[1:]):
        size[parent[v]] += size[v]
        f = model.f.get((r, parent[v], v))
        if f is not None:
            out[f.name] = float(size[v])
    s = model.s.get((r, start))
    if s is not None:
        out[s.name] = float(size[start])


def tolerance_of(rows: Rows, assign: IntArray) -> float:
    """The largest relative distance of a balance row from its target (``t`` of the plan)."""
    m = rows.coef[0].shape[1] if rows.coef else 0
    worst = 0.0
    for k, coef in enumerate(rows.coef):
        if not rows.spread[k]:
            continue
        act = np.bincount(assign, weights=coef[np.arange(len(assign)), assign], minlength=m)
        target = rows.target[k]
        ok = np.isfinite(target) & (target > 0)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(act[ok] - target[ok]) / target[ok])))
    return worst


def read_flow(model: FlowModel, assign: IntArray) -> IntArray:
    """``assign`` with the model's items set to the rep of their largest ``x``."""
    out = assign.copy()
    best = dict.fromkeys(model.items.tolist(), -1.0)
    for (i, r), x in model.x.items():
        value = x.varValue or 0.0
        if value > best[i]:
            best[i], out[i] = value, r
    return out
