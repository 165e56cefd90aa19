"""Which hard rules of the territory model a single move would break, checked on the model itself.

A *move* takes one item (an account, or a region at ``level: region``) from its owner to another
rep, everything else fixed. :func:`move_breaks` checks it against every row family of the plan's
own :class:`~allocator.territory.core.ArcProblem` (capacity, balance_lo/hi, max_accounts,
max_moved: the continuity budget, and any family added later), against eligibility (experience,
skills, locks) and against contiguity (both territories connected after the move, and the home
rule of ``include_home``). So an explanation never disagrees with the model about what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import numpy.typing as npt

from allocator.report.format import number
from allocator.territory.core import ArcProblem, RowFamily, activities, tolerance

__all__ = ["MoveRules", "family_masks", "move_breaks"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MoveRules:
    """The problem, the plan's rep per item, and each family's row activities at the plan."""

    problem: ArcProblem
    assign: IntArray  # rep position per item
    act: dict[str, np.ndarray]
    home_joins: bool = False  # contiguity counts each rep's home region in its territory
    home_rule: bool = False  # a rep must keep an item in its home region (issue 13 semantics)

    @classmethod
    def of(cls, problem: ArcProblem, assign: IntArray, settings: object = None) -> MoveRules:
        """The rules of ``problem`` at ``assign``; ``settings`` (the scenario's contiguity block)
        says how the home region counts: in the territory (``include_home``, the rule before
        issue 13) or as a rule of its own (settings with ``per_component``, issue 13)."""
        act = {
            f.key: activities(problem, f, assign) for f in problem.families if f.deviation is None
        }
        include = bool(getattr(settings, "include_home", False))
        own_rule = hasattr(settings, "per_component")
        return cls(
            problem,
            np.asarray(assign, np.int64),
            act,
            home_joins=include and not own_rule,
            home_rule=include and own_rule,
        )


def _family_breaks(
    rules: MoveRules, family: RowFamily, items: IntArray
) -> list[tuple[BoolArray, np.ndarray, np.ndarray, str]]:
    """Per side of ``family``'s rows: (broken mask, value after, limit, side) over items x reps.

    ``side`` is "to" (the receiving rep's row), "from" (the giving rep's) or "one" (a single row).
    """
    p = rules.problem
    m = len(p.reps)
    coef = np.broadcast_to(family.coef, p.shape)[items]
    own = rules.assign[items]
    mine = coef[np.arange(len(items)), own]
    act, rhs, tol = rules.act[family.key], family.rhs, tolerance(family.rhs)
    out = []
    upper, lower = family.sense in ("<=", "=="), family.sense in (">=", "==")
    if family.axis == "rep":
        gain, lose = act[None, :] + coef, np.repeat((act[own] - mine)[:, None], m, axis=1)
        to_rhs, from_rhs = np.broadcast_to(rhs, gain.shape), np.repeat(rhs[own][:, None], m, 1)
        if upper:
            out.append((gain > to_rhs + tol[None, :], gain, to_rhs, "to"))
        if lower:
            out.append((lose < from_rhs - tol[own][:, None], lose, from_rhs, "from"))
    elif family.axis == "one":
        after = act[0] + coef - mine[:, None]
        limit = np.full(after.shape, rhs[0])
        if upper:
            out.append((after > rhs[0] + tol[0], after, limit, "one"))
        if lower:
            out.append((after < rhs[0] - tol[0], after, limit, "one"))
    return out


def family_masks(rules: MoveRules, items: IntArray) -> BoolArray:
    """Items x reps: True where moving the item to the rep breaks a row of some family."""
    out = np.zeros((len(items), len(rules.problem.reps)), bool)
    for family in rules.problem.families:
        if family.deviation is None:
            for mask, *_ in _family_breaks(rules, family, np.asarray(items, np.int64)):
                out |= mask
    own = rules.assign[np.asarray(items, np.int64)]
    out[np.arange(len(items)), own] = False
    return out


def move_breaks(rules: MoveRules, items: IntArray, reps: IntArray) -> list[list[str]]:
    """For each pair (items[k], reps[k]) the rows the move would break, with their numbers
    (``capacity[R1] (40 > 35 hours)``); [] when none. A rep equal to the item's owner (no move)
    breaks nothing; an ineligible arc names ``eligibility`` (experience, skills or a lock)."""
    p = rules.problem
    items, reps = np.asarray(items, np.int64), np.asarray(reps, np.int64)
    own = rules.assign[items]
    out: list[list[str]] = [[] for _ in items]
    moves = reps != own
    k_all = np.arange(len(items))
    for k in np.flatnonzero(moves & ~p.eligible[items, reps]):
        out[k].append("eligibility (experience, skills or a lock)")
    for family in p.families:
        if family.deviation is not None:
            continue
        for mask, after, limit, side in _family_breaks(rules, family, items):
            for k in np.flatnonzero(mask[k_all, reps] & moves):
                j = reps[k] if side == "to" else own[k] if side == "from" else 0
                sign = ">" if after[k, reps[k]] > limit[k, reps[k]] else "<"
                out[k].append(
                    f"{family.doc_name(int(j))} ({number(after[k, reps[k]])} {sign} "
                    f"{number(limit[k, reps[k]])}{' ' + family.unit if family.unit else ''})"
                )
    if p.contiguity is not None:
        for i, broken in enumerate(_contiguity_breaks(rules, items, reps)):
            out[i] += broken
    return out


def _territories(rules: MoveRules) -> tuple[dict[int, set[int]], dict[tuple[int, int], int]]:
    """Regions served per rep position, and items per (rep, region), at the plan."""
    groups = np.asarray(rules.problem.contiguity.groups)  # type: ignore[union-attr]
    served: dict[int, set[int]] = {}
    count: dict[tuple[int, int], int] = {}
    for item, rep in enumerate(rules.assign):
        g = int(groups[item])
        served.setdefault(int(rep), set()).add(g)
        count[(int(rep), g)] = count.get((int(rep), g), 0) + 1
    return served, count


def _connected(rules: MoveRules, rep: int, regions: set[int]) -> bool:
    """Whether ``regions`` as ``rep``'s territory is connected in the region graph; with
    ``home_joins`` (the model counts the home region in the territory) the home joins it."""
    c = rules.problem.contiguity
    assert c is not None
    nodes = set(regions)
    if rules.home_joins and len(c.home) > rep and c.home[rep] >= 0:
        nodes.add(int(c.home[rep]))
    return len(nodes) <= 1 or nx.is_connected(c.graph.subgraph(nodes))


def _contiguity_breaks(rules: MoveRules, items: IntArray, reps: IntArray) -> list[list[str]]:
    """Contiguity rows a move breaks: either territory not connected after the move, and (when
    the home rule holds on its own, ``home_rule``) the giver leaving its home region."""
    c = rules.problem.contiguity
    assert c is not None
    groups = np.asarray(c.groups)
    served, count = _territories(rules)
    ids, regions = rules.problem.reps, c.regions
    out: list[list[str]] = []
    for item, to in zip(items, reps, strict=True):
        frm, to, g = int(rules.assign[item]), int(to), int(groups[item])
        broken: list[str] = []
        if to != frm:
            left = served.get(frm, set()) - ({g} if count.get((frm, g), 0) == 1 else set())
            if not _connected(rules, frm, left):
                broken.append(f"contiguity[{ids[frm]}] (without {regions[g]} it splits)")
            if not _connected(rules, to, served.get(to, set()) | {g}):
                broken.append(f"contiguity[{ids[to]}] ({regions[g]} does not touch its territory)")
            home = int(c.home[frm]) if len(c.home) > frm else -1
            if rules.home_rule and home == g and g not in left:
                broken.append(f"home[{ids[frm]}] (it would leave its home region {regions[g]})")
        out.append(broken)
    return out
