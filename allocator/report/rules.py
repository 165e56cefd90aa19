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

    @classmethod
    def of(cls, problem: ArcProblem, assign: IntArray) -> MoveRules:
        act = {
            f.key: activities(problem, f, assign) for f in problem.families if f.deviation is None
        }
        return cls(problem, np.asarray(assign, np.int64), act)


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
        for k, broken in enumerate(_contiguity_breaks(rules, items, reps)):
            out[k] += broken
    return out


def _contiguity_breaks(rules: MoveRules, items: IntArray, reps: IntArray) -> list[list[str]]:
    """Contiguity rows a move breaks: the giver's territory split or its home region left, the
    receiver's territory not touching the item's region."""
    c = rules.problem.contiguity
    assert c is not None
    groups = np.asarray(c.groups)
    served: dict[int, set[int]] = {}
    count: dict[tuple[int, int], int] = {}
    for item, rep in enumerate(rules.assign):
        g = int(groups[item])
        served.setdefault(int(rep), set()).add(g)
        count[(int(rep), g)] = count.get((int(rep), g), 0) + 1
    reps_ids, regions = rules.problem.reps, c.regions
    out: list[list[str]] = []
    for item, to in zip(items, reps, strict=True):
        frm, g = int(rules.assign[item]), int(groups[item])
        broken: list[str] = []
        if to != frm:
            if count.get((frm, g), 0) == 1:  # the giver leaves region g
                rest = served.get(frm, set()) - {g}
                if rest and not nx.is_connected(c.graph.subgraph(rest)):
                    broken.append(f"contiguity[{reps_ids[frm]}] (without {regions[g]} it splits)")
                home = int(c.home[frm]) if len(c.home) > frm else -1
                if getattr(c, "include_home", False) and home == g:
                    broken.append(
                        f"home[{reps_ids[frm]}] (it would leave its home region {regions[g]})"
                    )
            mine = served.get(int(to), set())
            if mine and g not in mine and not any(c.graph.has_edge(g, h) for h in mine):
                broken.append(
                    f"contiguity[{reps_ids[int(to)]}] ({regions[g]} does not touch its territory)"
                )
        out.append(broken)
    return out
