"""The findings of the graph analysis: islands, components no rep can reach, regions without
accounts, shared homes, and the balance bands the graph alone proves impossible.

Each finding names the regions (with their accounts and potential), says what would fix it and
whether it is a proof (``infeasible``), with the smallest balance tolerance that could admit it.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import pandas as pd

from allocator.geography.components import (
    BalanceBands,
    Component,
    Finding,
    GraphInputs,
    confined_reps,
    home_counts,
    reach,
)
from allocator.geography.distance import haversine_km

__all__ = ["balance_findings", "graph_findings"]

_NAMED = 5  # regions named in one finding before "and N more"
_PER_COMPONENT = "assignment.constraints.contiguity.per_component: true"


# ---------------------------------------------------------------- text


def _accounts(n: int) -> str:
    return f"{n} account{'s' if n != 1 else ''}"


def _label(inputs: GraphInputs, region: str) -> str:
    name = inputs.names.get(region, region)
    return region if name in ("", region) else f"{region} '{name}'"


def _listed(inputs: GraphInputs, regions: tuple[str, ...], detail: bool = True) -> str:
    by_region = inputs.accounts.groupby(inputs.accounts["region_id"].astype(str))
    count, potential = by_region.size(), by_region["potential"].sum()
    shown = []
    for g in regions[:_NAMED]:
        text = _label(inputs, g)
        if detail and g in count.index:
            n = int(count[g])
            text += f" ({n} account{'s' if n != 1 else ''}, potential {float(potential[g]):,.0f})"
        shown.append(text)
    more = f" and {len(regions) - _NAMED} more" if len(regions) > _NAMED else ""
    return ", ".join(shown) + more


def _piece(c: Component, total: float) -> str:
    share = f" ({c.potential / total:.1%})" if total > 0 else ""
    what = "region" if c.size == 1 else "regions"
    return (
        f"component {c.number} ({c.size} {what}, {_accounts(c.accounts)}, "
        f"potential {c.potential:,.0f}{share})"
    )


def _closest_link(inputs: GraphInputs, piece: Component, main: Component) -> str:
    """``region_a: X, region_b: Y (N km)``: the nearest pair of regions of two components."""
    pts = inputs.points
    a = pts.reindex(list(piece.regions)).dropna()
    b = pts.reindex(list(main.regions)).dropna()
    if a.empty or b.empty:
        return f"region_a: {piece.regions[0]}, region_b: {main.regions[0]}"
    km = haversine_km(
        a["lat"].to_numpy()[:, None],
        a["lon"].to_numpy()[:, None],
        b["lat"].to_numpy()[None, :],
        b["lon"].to_numpy()[None, :],
    )
    i, j = (int(k) for k in np.unravel_index(int(np.argmin(km)), km.shape))
    near, far = str(a.index[i]), str(b.index[j])
    return f"region_a: {near}, region_b: {far} ({float(km[i, j]):,.0f} km apart)"


# ---------------------------------------------------------------- graph findings


def graph_findings(
    inputs: GraphInputs, components: tuple[Component, ...], empty: tuple[str, ...]
) -> list[Finding]:
    total = sum(c.potential for c in components)
    component_of = {g: c.number - 1 for c in components for g in c.regions}
    allowed = reach(inputs, components, component_of)
    out = [
        f
        for c in components
        if (f := _piece_finding(inputs, c, components[0], total, allowed[c.number - 1], empty))
    ]
    if empty:
        out.append(
            Finding(
                "no_accounts",
                empty,
                f"{len(empty)} region{'s hold' if len(empty) > 1 else ' holds'} no active "
                f"accounts: {_listed(inputs, empty, False)}; "
                "they belong to no territory and do not join territories across them",
                "give them accounts, or add links (adjacency, link: add) across them where a "
                "territory should reach over",
            )
        )
    return out + _home_findings(inputs)


def _piece_finding(
    inputs: GraphInputs,
    c: Component,
    main: Component,
    total: float,
    allowed: set[str],
    empty: tuple[str, ...],
) -> Finding | None:
    """A finding for a component without reps, or one cut off by regions without accounts."""
    cut = _cut_by_empty(inputs, c, empty) if c.island else ""
    if c.reps and not cut:
        return None  # an island with its own reps: the component list says it all
    what = _piece(c, total)
    if c.size == 1:
        what += f": {_listed(inputs, c.regions)}, no neighbour with accounts"
    elif c.size <= _NAMED:
        what += f": {_listed(inputs, c.regions)}"
    else:
        what += f": {_listed(inputs, c.regions, False)}"
    link = _closest_link(inputs, c, main) if c is not main else ""
    if c.reps:
        fix = f"add a link in the adjacency table ({link}, link: add)" if link else ""
        return Finding("island", c.regions, f"{what}{cut}", fix)
    if allowed:
        how = "per_component: true" if inputs.per_component else "reps without a home rule"
        how = how if inputs.contiguity else "contiguity is off"
        return Finding(
            "no_rep", c.regions, f"{what}; no rep lives there: served from elsewhere ({how}){cut}"
        )
    fixes = _unreached_fixes(c, link)
    message = f"{what}; no rep lives there, and with contiguity no rep can serve it{cut}"
    return Finding("no_rep", c.regions, message, fixes, infeasible=True)


def _unreached_fixes(c: Component, link: str) -> str:
    fixes = []
    if link:
        fixes.append(
            f"add a link in the adjacency table ({link}, link: add) if a road or ferry joins them"
        )
    more = " or another of its regions" if c.size > 1 else ""
    fixes.append(f"put a rep there (a rep with region_id {c.regions[0]}{more})")
    fixes.append(
        f"or set {_PER_COMPONENT}, so that a rep may serve one connected piece per component"
    )
    return "; ".join(fixes)


def _cut_by_empty(inputs: GraphInputs, c: Component, empty: tuple[str, ...]) -> str:
    """``; cut off only by regions without accounts: ...`` when the full graph joins it on."""
    if not empty:
        return ""
    whole = nx.node_connected_component(inputs.graph, c.regions[0])
    blockers = tuple(sorted(g for g in whole if g in set(empty)))
    if not blockers or set(whole) <= set(c.regions) | set(empty):
        return ""
    return f"; cut off only by regions without accounts: {_listed(inputs, blockers, False)}"


def _what(inputs: GraphInputs, items: int) -> str:
    if inputs.level == "region":
        return "one region"
    return f"{items} account{'s' if items != 1 else ''}"


def _home_findings(inputs: GraphInputs) -> list[Finding]:
    if not (inputs.contiguity and inputs.include_home):
        return []
    items, residents = home_counts(inputs)
    out = []
    for key, n in residents.items():
        home = str(key)
        reps = sorted(
            inputs.reps.loc[inputs.reps["region_id"].astype(str) == home, "rep_id"].astype(str)
        )
        have = int(items.get(home, 0))
        if have == 0:
            out.append(
                Finding(
                    "home_without_accounts",
                    (home,),
                    f"home region {_label(inputs, home)} of {', '.join(reps)} holds no accounts: "
                    "no home rule there; the territory only has to be connected",
                )
            )
        elif have < n:
            out.append(
                Finding(
                    "shared_home",
                    (home,),
                    f"{', '.join(reps)} live in {_label(inputs, home)}, which has "
                    f"{_what(inputs, have)} for {n} reps: it goes to one of them "
                    "(its accounts go to reps living there); the others only need connected "
                    "territories",
                )
            )
    return out


# ---------------------------------------------------------------- balance findings


def balance_findings(
    inputs: GraphInputs,
    components: tuple[Component, ...],
    component_of: Mapping[str, int],
    bands: BalanceBands,
) -> list[Finding]:
    allowed = reach(inputs, components, component_of)
    confined = confined_reps(inputs) if inputs.include_home and not inputs.per_component else {}
    out: list[Finding] = []
    for measure, fair_map in bands.fair.items():
        fair = pd.Series(fair_map, dtype=float)
        out += _oversized(inputs, component_of, allowed, measure, fair, bands.tolerance)
        if confined:
            out += _component_bands(inputs, components, confined, measure, fair, bands.tolerance)
    return out


def _units(inputs: GraphInputs, measure: str) -> pd.DataFrame:
    """Units that one rep takes whole: regions (level region) or accounts, with their value."""
    acc = inputs.accounts.assign(region_id=inputs.accounts["region_id"].astype(str))
    if inputs.level == "region":
        units = acc.groupby("region_id")[measure].sum().to_frame("value")
        units["region_id"] = units.index
        units["label"] = [_label(inputs, g) for g in units.index]
        return units
    return pd.DataFrame(
        {
            "value": acc[measure].to_numpy(float),
            "region_id": acc["region_id"].to_numpy(),
            "label": [f"account {a}" for a in acc["account_id"].astype(str)],
        }
    )


def _oversized(
    inputs: GraphInputs,
    component_of: Mapping[str, int],
    allowed: list[set[str]],
    measure: str,
    fair: pd.Series,
    tolerance: float,
) -> list[Finding]:
    units = _units(inputs, measure)
    units = units[units["region_id"].isin(component_of.keys())]
    best = [float(fair.reindex(sorted(r)).max()) if r else 0.0 for r in allowed]
    cap = np.array([best[component_of[g]] for g in units["region_id"]])
    over = (units["value"].to_numpy() > (1 + tolerance) * cap * (1 + 1e-9)) & (cap > 0)
    if not over.any():
        return []
    bad = units[over].assign(cap=cap[over]).sort_values("value", ascending=False)
    need = float((bad["value"] / bad["cap"]).max() - 1.0)
    total = float(inputs.accounts[measure].sum())
    top = bad.iloc[0]
    names = ", ".join(bad["label"].head(_NAMED)) + (
        f" and {len(bad) - _NAMED} more" if len(bad) > _NAMED else ""
    )
    message = (
        f"{names}: {'holds' if len(bad) == 1 else 'each hold'} more {measure} than any rep may "
        f"carry (largest: {top['value']:,.0f} = {top['value'] / total:.1%}, a rep's fair share "
        f"is at most {top['cap']:,.0f}, +{tolerance:.0%} = {(1 + tolerance) * top['cap']:,.0f}); "
        f"no plan meets the balance below a tolerance of {need:.1%}"
    )
    fix = f"raise assignment.constraints.balance.tolerance to at least {_ceil(need)}"
    fix += (
        ", plan at level: account so that the region can be shared"
        if inputs.level == "region"
        else ""
    )
    fix += ", or use fewer reps (a larger fair share)"
    regions = tuple(dict.fromkeys(bad["region_id"]))
    return [Finding("oversized_unit", regions, message, fix, infeasible=True, min_tolerance=need)]


def _component_bands(
    inputs: GraphInputs,
    components: tuple[Component, ...],
    confined: Mapping[str, str],
    measure: str,
    fair: pd.Series,
    tolerance: float,
) -> list[Finding]:
    """A component must give its bound reps their lower bands and fit in its reps' upper bands."""
    value = inputs.accounts.groupby(inputs.accounts["region_id"].astype(str))[measure].sum()
    free = float(fair.drop(list(confined), errors="ignore").sum())
    out = []
    for c in components:
        bound = float(fair.reindex([r for r, h in confined.items() if h in set(c.regions)]).sum())
        have = float(value.reindex(list(c.regions)).sum())
        need = 0.0
        if bound + free > 0:
            need = max(need, have / (bound + free) - 1.0)
        if bound > 0:
            need = max(need, 1.0 - have / bound)
        if need <= tolerance * (1 + 1e-9):
            continue
        reps = ", ".join(sorted(r for r, h in confined.items() if h in set(c.regions))) or "none"
        message = (
            f"component {c.number} holds {measure} {have:,.0f} while the reps bound to it "
            f"({reps}) have fair shares of {bound:,.0f} in all (reps free to go anywhere: "
            f"{free:,.0f}); no plan meets the balance below a tolerance of {need:.1%}"
        )
        fix = (
            f"raise assignment.constraints.balance.tolerance to at least {_ceil(need)}, set "
            f"{_PER_COMPONENT}, add a link to the component, or move reps' homes"
        )
        out.append(Finding("component_balance", c.regions, message, fix, True, need))
    return out


def _ceil(tolerance: float) -> str:
    """The tolerance rounded up to a tenth of a percent, as a YAML value (``0.254``)."""
    return f"{np.ceil(tolerance * 1000 - 1e-9) / 1000:g}"
