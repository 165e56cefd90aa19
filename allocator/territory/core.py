"""The arc-level core shared by the territory model and the OR-Library GAP.

An :class:`ArcProblem` is dense numpy data: items (accounts or regions; GAP jobs) x reps (GAP
agents), which arcs are eligible, each arc's objective terms, and :class:`RowFamily` blocks of
linear rows over the arcs (``capacity[r]``, ``balance_lo[r,m]``, ...; ``models/assignment.md``).
:func:`build_model` turns it into a PuLP program over a subset of arcs; the numpy helpers
(:func:`activities`, :func:`violations`, :func:`objective_terms`, :func:`reduced_costs`) evaluate
an assignment or the LP duals without PuLP. Arcs are flat ids ``item * n_reps + rep``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import pulp

from allocator.territory.contiguity import home_rules
from allocator.territory.nearest import largest_cost
from allocator.territory.pairs import Pairs, at, count, is_lazy, nonzero_arcs
from allocator.territory.reduced import reduced_costs

if TYPE_CHECKING:
    from allocator.territory.contiguity import Contiguity, Cut
    from allocator.territory.nearby import Near

__all__ = [
    "ArcModel",
    "ArcProblem",
    "Relaxation",
    "RowFamily",
    "activities",
    "broken",
    "build_model",
    "objective",
    "objective_terms",
    "reduced_costs",
    "violations",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Sense = Literal["<=", ">=", "=="]

_SENSE = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}


@dataclass(frozen=True)
class RowFamily:
    """One family of rows over the arcs, e.g. ``capacity[r]`` for every rep ``r``.

    ``coef`` broadcasts to (items, reps): the arc's coefficient in its row. The row of an arc is
    its rep (``axis="rep"``), its item (``"item"``) or the single row (``"one"``).
    ``deviation`` (balance) gives each row free deviation variables ``d+ - d-`` and their
    objective weight per unit; ``soft`` rows (``<=`` or ``>=``) take a slack in the elastic
    re-solve."""

    key: str
    doc: str
    axis: Literal["rep", "item", "one"]
    coef: FloatArray
    sense: Sense
    rhs: FloatArray
    labels: tuple[str, ...]
    soft: bool = False
    unit: str = ""
    deviation: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.soft and self.sense == "==" and self.deviation is None:
            msg = "a soft '==' row would take a one-way slack: give a '<=' and a '>=' family"
            raise ValueError(f"row family {self.key!r}: {msg}")

    def doc_name(self, j: int) -> str:
        """The document name of row ``j``: ``capacity[R017]``, or ``max_moved`` without index."""
        return f"{self.doc}[{self.labels[j]}]" if self.labels[j] else self.doc

    def pulp_name(self, j: int) -> str:
        return f"{self.key}_{j}"


@dataclass(frozen=True)
class Relaxation:
    """A setting (a scenario key) that moves the limits of a family's rows.

    Raising the setting from ``value`` by ``t`` moves row ``j``'s limit by ``per_unit[j] * t``
    outwards (up for ``<=``, down for ``>=``). ``integer`` settings take whole values;
    ``upper`` is the largest value the setting accepts (None: no bound).
    """

    setting: str
    value: float
    per_unit: FloatArray
    integer: bool = False
    upper: float | None = None


@dataclass(frozen=True)
class ArcProblem:
    """Items x reps arc data; ``terms`` are weighted objective terms per arc (they sum to the cost).

    The deviation rows' weights enter the objective times ``balance_weight``; ``balance_cap``
    bounds their weighted sum (row ``goal_balance``, used by the lexicographic mode). ``relax``
    maps a family's ``key`` to the setting that moves its limits (for the diagnosis).
    ``mip_arrays`` lets large MIPs go to HiGHS from arrays (:mod:`allocator.territory.arc_mip`;
    the territory model sets it, the GAP benchmark keeps PuLP). ``near`` (the sparse path):
    what lets passes over all pairs skip far ones (:mod:`allocator.territory.nearby`).
    """

    items: tuple[str, ...]
    reps: tuple[str, ...]
    eligible: BoolArray
    terms: Mapping[str, FloatArray]
    families: tuple[RowFamily, ...]
    rank: FloatArray
    keep: BoolArray
    contiguity: Contiguity | None = None
    name: str = "assignment"
    balance_weight: float = 1.0
    balance_cap: float | None = None
    relax: Mapping[str, Relaxation] = field(default_factory=dict)
    mip_arrays: bool = False
    near: Near | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.items), len(self.reps)

    @cached_property
    def cost(self) -> FloatArray:
        """Objective coefficient of every arc (sum of the weighted terms); lazy (a
        :class:`~allocator.territory.pairs.Pairs`) on the sparse path."""
        terms = list(self.terms.values())
        total = np.zeros(self.shape) if not any(map(is_lazy, terms)) else Pairs(self.shape, _zero)
        for values in terms:
            total = total + values
        return total  # type: ignore[return-value]

    @cached_property
    def all_arcs(self) -> IntArray:
        return nonzero_arcs(self.eligible)

    @cached_property
    def n_arcs(self) -> int:
        """Number of eligible arcs (counted block by block on the sparse path)."""
        if self.near is not None and self.near.form(self.eligible) is not None:
            return self.near.n_eligible()
        return count(self.eligible)

    @cached_property
    def largest_cost(self) -> float:
        """max |cost| over the eligible arcs, block by block (no (items, reps) temporary); on
        the sparse path from each item's farthest reps (:mod:`allocator.territory.nearest`)."""
        found = largest_cost(self) if self.near is not None else None
        if found is not None:
            return found
        cost, ok, size = self.cost, self.eligible, 4096
        top = [
            float(np.abs(cost[lo : lo + size]).max(where=ok[lo : lo + size], initial=0.0))
            for lo in range(0, len(self.items), size)
        ]
        return max(top, default=0.0)

    @property
    def lazy(self) -> bool:
        """Whether the (items, reps) data is computed on demand (the sparse path)."""
        return is_lazy(self.eligible)


def _zero(rows: slice | IntArray, cols: IntArray | None, outer: bool) -> FloatArray:
    if not outer:
        return np.zeros(len(rows))  # type: ignore[arg-type]
    n = len(range(rows.start, rows.stop)) if isinstance(rows, slice) else len(rows)
    return np.zeros((n, 1))


@dataclass
class ArcModel:
    """A PuLP program built from an :class:`ArcProblem` and the maps back to the problem."""

    prob: pulp.LpProblem
    arcs: IntArray
    x: list[pulp.LpVariable]
    rows: dict[str, tuple[RowFamily | None, int]]
    names: dict[str, str]
    y: dict[tuple[int, int], pulp.LpVariable] = field(default_factory=dict)
    dev: dict[str, tuple[pulp.LpVariable, pulp.LpVariable]] = field(default_factory=dict)
    slack: dict[str, pulp.LpVariable] = field(default_factory=dict)

    def doc_name(self, pulp_name: str) -> str:
        """Render a PuLP row name as its document name (``capacity_16`` -> ``capacity[R017]``)."""
        return self.names.get(pulp_name, pulp_name)

    def values(self) -> FloatArray:
        return np.array([v.varValue or 0.0 for v in self.x])


def build_model(
    problem: ArcProblem,
    arcs: IntArray,
    *,
    integer: bool,
    elastic: bool = False,
    cuts: Sequence[Cut] | None = None,
) -> ArcModel:
    """The program over ``arcs``: rows (1)-(7), and (11)-(13) when ``cuts`` is given.

    ``elastic`` adds a slack to every soft row and minimises their sum instead of the cost.
    With ``integer=False`` the arc variables are continuous and have no upper bound (``assign_once``
    implies it), so that every arc's reduced cost is the one :func:`reduced_costs` computes.
    """
    n, m = problem.shape
    arcs = np.asarray(arcs, np.int64)
    ii, rr = arcs // m, arcs % m
    cat = pulp.LpBinary if integer else pulp.LpContinuous
    up = 1 if integer else None
    prob = pulp.LpProblem(problem.name, pulp.LpMinimize)
    new = prob.add_variable  # PuLP 4's way; also skips a deprecation warning per variable
    x = [new(f"x_{i}_{r}", 0, up, cat) for i, r in zip(ii.tolist(), rr.tolist(), strict=True)]
    model = ArcModel(prob, arcs, x, rows={}, names={})
    cost_terms: list[tuple[pulp.LpVariable, float]] = []
    if not elastic:
        cost = at(problem.cost, (n, m), ii, rr).tolist()
        cost_terms += [(v, c) for v, c in zip(x, cost, strict=True) if c]
    _add_assign_once(model, problem, ii)
    deviations: list[tuple[pulp.LpVariable, float]] = []
    for family in problem.families:
        deviations += _add_family(model, family, ii, rr, (n, m), elastic=elastic)
    if elastic:
        cost_terms += [(s, 1.0) for s in model.slack.values()]
    elif problem.balance_weight:
        cost_terms += [(v, w * problem.balance_weight) for v, w in deviations if w]
    if problem.balance_cap is not None and not elastic:
        _add_row(model, "goal_balance", "goal[balance]", deviations, "<=", problem.balance_cap)
    if cuts is not None and problem.contiguity is not None:
        _add_contiguity(model, problem, ii, rr, cuts)
    prob.setObjective(pulp.LpAffineExpression(cost_terms))
    return model


def _groups(index: IntArray, size: int) -> list[IntArray]:
    """Positions of ``index`` grouped by value 0..size-1."""
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(size + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(size)]


def _add_row(model: ArcModel, name: str, doc: str, terms: list, sense: str, rhs: float) -> None:
    expr = pulp.LpAffineExpression(terms)
    model.prob.addConstraint(pulp.LpConstraint(expr, _SENSE[sense], name, rhs))
    model.names[name] = doc


def _add_assign_once(model: ArcModel, problem: ArcProblem, ii: IntArray) -> None:
    for i, pos in enumerate(_groups(ii, len(problem.items))):
        name = f"assign_once_{i}"
        _add_row(
            model,
            name,
            f"assign_once[{problem.items[i]}]",
            [(model.x[k], 1.0) for k in pos],
            "==",
            1.0,
        )
        model.rows[name] = (None, i)


def _add_family(
    model: ArcModel,
    family: RowFamily,
    ii: IntArray,
    rr: IntArray,
    shape: tuple[int, int],
    *,
    elastic: bool,
) -> list[tuple[pulp.LpVariable, float]]:
    """Add every row of ``family``; return its deviation variables with their weights."""
    coef = at(family.coef, shape, ii, rr).tolist()
    index = {"rep": rr, "item": ii, "one": np.zeros_like(ii)}[family.axis]
    cost_terms: list[tuple[pulp.LpVariable, float]] = []
    for j, pos in enumerate(_groups(index, len(family.rhs))):
        name, rhs = family.pulp_name(j), float(family.rhs[j])
        terms = [(model.x[k], coef[k]) for k in pos.tolist() if coef[k]]
        if family.deviation is not None:
            up, down = (
                model.prob.add_variable(f"dp_{name}", 0),
                model.prob.add_variable(f"dm_{name}", 0),
            )
            terms += [(up, -1.0), (down, 1.0)]
            model.dev[name] = (up, down)
            weight = float(family.deviation[j])
            cost_terms += [(up, weight), (down, weight)]
        if elastic and family.soft:
            s = model.prob.add_variable(f"s_{name}", 0)
            terms.append((s, _slack_sign(family.sense) * slack_scale(rhs)))
            model.slack[name] = s
        _add_row(model, name, family.doc_name(j), terms, family.sense, rhs)
        model.rows[name] = (family, j)
    return cost_terms


def slack_scale(rhs: FloatArray) -> FloatArray:
    """Unit of a soft row's slack (like ``rhs``: a float or (rows,)): its right-hand side, at
    least 1, so slacks are relative."""
    return np.maximum(np.abs(rhs), 1.0)


def _slack_sign(sense: str) -> float:
    return -1.0 if sense == "<=" else 1.0


def _add_contiguity(
    model: ArcModel, problem: ArcProblem, ii: IntArray, rr: IntArray, cuts: Iterable[Cut]
) -> None:
    """Rows (11) serves, (12) serves_any and (13) contiguity with the region variables ``y``."""
    contiguity = problem.contiguity
    assert contiguity is not None
    groups = contiguity.groups[ii]
    pairs = set(zip(rr.tolist(), groups.tolist(), strict=True))
    roots = home_rules(contiguity, problem.eligible).root
    home = {r: int(g) for r, g in enumerate(roots.tolist()) if g >= 0}
    for r, g in sorted(pairs):
        fixed = home.get(r) == g
        model.y[r, g] = model.prob.add_variable(f"y_{r}_{g}", 1 if fixed else 0, 1)
    serves: dict[tuple[int, int], list[tuple[pulp.LpVariable, float]]] = {}
    for k, (r, g) in enumerate(zip(rr.tolist(), groups.tolist(), strict=True)):
        name = f"serves_{k}"
        rep, item = problem.reps[r], problem.items[int(ii[k])]
        _add_row(
            model,
            name,
            f"serves[{item},{rep}]",
            [(model.x[k], 1.0), (model.y[r, g], -1.0)],
            "<=",
            0,
        )
        serves.setdefault((r, g), []).append((model.x[k], -1.0))
    for (r, g), terms in serves.items():
        name = f"serves_any_{r}_{g}"
        doc = f"serves_any[{problem.reps[r]},{contiguity.regions[g]}]"
        _add_row(model, name, doc, [(model.y[r, g], 1.0), *terms], "<=", 0)
    for cut in cuts:
        terms = [(model.y[cut.rep, g], 1.0) for g in cut.lhs if (cut.rep, g) in model.y]
        if len(terms) < len(cut.lhs):
            continue  # a region of the left side cannot be served: the cut holds trivially
        terms += [(model.y[cut.rep, h], -1.0) for h in cut.rhs if (cut.rep, h) in model.y]
        doc = cut.doc_name(problem.reps, contiguity.regions)
        _add_row(model, cut.pulp_name, doc, terms, "<=", len(cut.lhs) - 1)


# ---------------------------------------------------------------- numpy evaluation


def activities(problem: ArcProblem, family: RowFamily, assign: IntArray) -> FloatArray:
    """Left-hand side of every row of ``family`` for a complete assignment (rep per item)."""
    n, m = problem.shape
    rows = np.arange(n)
    values = at(family.coef, (n, m), rows, assign)
    if family.axis == "rep":
        return np.bincount(assign, weights=values, minlength=m).astype(float)
    if family.axis == "item":
        return np.asarray(values, float)
    return np.array([values.sum()])


def row_slack(family: RowFamily, activity: FloatArray) -> FloatArray:
    """How far each row is from its limit (>= 0 when satisfied; 0 for equalities)."""
    if family.sense == "<=":
        return family.rhs - activity
    if family.sense == ">=":
        return activity - family.rhs
    return np.zeros_like(activity) if family.deviation is not None else -abs(activity - family.rhs)


def tolerance(values: FloatArray) -> FloatArray:
    """Feasibility tolerance of rows with right-hand sides ``values`` (relative 1e-6)."""
    return 1e-6 * np.maximum(1.0, np.abs(values))


def violations(problem: ArcProblem, assign: IntArray) -> list[str]:
    """Document names of the rows a complete assignment violates (arcs must be eligible)."""
    out = []
    n = len(problem.items)
    if np.any(assign < 0) or not problem.eligible[np.arange(n), assign].all():
        out.append("assign_once")
        return out
    for family in problem.families:
        for j in np.flatnonzero(broken(problem, family, assign)):
            out.append(family.doc_name(int(j)))
    return out


def broken(problem: ArcProblem, family: RowFamily, assign: IntArray) -> BoolArray:
    """Which rows of ``family`` (rows,) an assignment breaks beyond :func:`tolerance`."""
    slack = row_slack(family, activities(problem, family, assign))
    return slack < -tolerance(family.rhs)


def objective_terms(problem: ArcProblem, assign: IntArray) -> dict[str, float]:
    """Weighted objective terms of a complete assignment; ``balance`` from the deviation rows."""
    rows = np.arange(len(problem.items))
    terms = {key: float(values[rows, assign].sum()) for key, values in problem.terms.items()}
    balance = 0.0
    for family in problem.families:
        if family.deviation is not None:
            gap = np.abs(activities(problem, family, assign) - family.rhs)
            balance += float((family.deviation * gap).sum())
    if any(f.deviation is not None for f in problem.families):
        terms["balance"] = balance * problem.balance_weight
    return terms


def objective(problem: ArcProblem, assign: IntArray) -> float:
    """The objective of a complete assignment: the sum of :func:`objective_terms`."""
    return float(sum(objective_terms(problem, assign).values()))


def start_values(model: ArcModel, problem: ArcProblem, assign: IntArray) -> dict[str, float]:
    """Every variable's value for a complete assignment: the MIP warm start."""
    m = len(problem.reps)
    chosen = set((np.arange(len(assign)) * m + assign).tolist())
    start = {v.name: float(a in chosen) for v, a in zip(model.x, model.arcs.tolist(), strict=True)}
    for family in problem.families:
        if family.deviation is None:
            continue
        gap = activities(problem, family, assign) - family.rhs
        for j, value in enumerate(gap.tolist()):
            up, down = model.dev[family.pulp_name(j)]
            start[up.name], start[down.name] = max(value, 0.0), max(-value, 0.0)
    if problem.contiguity is not None:
        served = set(zip(assign.tolist(), problem.contiguity.groups.tolist(), strict=True))
        for (r, g), var in model.y.items():
            start[var.name] = 1.0 if (r, g) in served or (var.lowBound or 0) >= 1 else 0.0
    return start


def read_assignment(model: ArcModel, n_items: int, n_reps: int) -> IntArray:
    """Rep per item from the solved arc variables (the arc with the largest value)."""
    values = model.values()
    ii, rr = model.arcs // n_reps, model.arcs % n_reps
    order = np.lexsort((-values, ii))
    first = order[np.r_[True, ii[order][1:] != ii[order][:-1]]] if len(order) else order
    assign = np.full(n_items, -1, np.int64)
    assign[ii[first]] = rr[first]
    return assign
