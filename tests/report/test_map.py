"""The interactive territory map: polygons per region, colours, hover words, offline HTML."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import networkx as nx
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from allocator.plan import Plan
from allocator.report.map import highlight_accounts, map_html, territory_map
from allocator.report.regions import region_cells, region_polygons, territory_colours


@pytest.fixture(scope="module")
def plan(small_plan: Plan) -> Plan:
    return small_plan


@pytest.fixture(scope="module")
def figure(plan):
    return territory_map(plan)


def test_region_cells_one_valid_polygon_per_region(plan) -> None:
    cells = region_cells(plan.tables)
    regions = set(plan.tables.regions["region_id"])
    assert set(cells.index) == regions and cells.index.is_unique
    assert cells.crs.to_epsg() == 4326
    assert all(g.is_valid and g.area > 0 for g in cells.geometry)
    # cells tile the hull: no two overlap, and every account lies in one of them
    union = shapely.union_all(list(cells.geometry))
    assert sum(g.area for g in cells.geometry) == pytest.approx(union.area, rel=1e-6)
    acc = plan.tables.active_accounts
    inside = [union.covers(Point(x, y)) for x, y in zip(acc["lon"], acc["lat"], strict=True)]
    assert all(inside)


def test_given_shapes_win_over_cells(plan: Plan) -> None:
    """Tables.shapes (issue 13, a GeoDataFrame by region_id in EPSG:4326) is drawn as given;
    in another CRS it is brought to lon/lat first."""
    cells = region_cells(plan.tables)
    boxes = cells.assign(geometry=[g.envelope for g in cells.geometry])
    got = region_polygons(SimpleNamespace(shapes=boxes))
    assert all(a.equals(b) for a, b in zip(got.geometry, boxes.geometry, strict=True))
    metres = region_polygons(SimpleNamespace(shapes=boxes.to_crs(3857)))
    assert metres.crs.to_epsg() == 4326
    assert all(
        a.equals_exact(b, 1e-6) for a, b in zip(metres.geometry, boxes.geometry, strict=True)
    )


def test_one_polygon_trace_per_region_and_the_other_traces(figure, plan) -> None:
    regions = [t for t in figure.data if t.meta == "region"]
    assert sorted(t.name for t in regions) == sorted(plan.tables.regions["region_id"])
    accounts = next(t for t in figure.data if t.meta == "accounts")
    assert len(accounts.x) == len(plan.owners)
    reps = next(t for t in figure.data if t.meta == "reps")
    assert list(reps.customdata) == list(plan.tables.active_reps["rep_id"])


def test_touching_territories_get_different_colours(plan) -> None:
    tables = plan.tables
    reps = list(tables.active_reps["rep_id"])
    colours = territory_colours(plan.owners, tables.active_accounts, tables.adjacency, reps)
    acc = tables.active_accounts.set_index("account_id").loc[plan.owners.index]
    share = acc.assign(rep=plan.owners).groupby(["region_id", "rep"])["potential"].sum()
    held = share[share >= 0.15 * share.groupby(level=0).transform("sum")].reset_index()
    holders = held.groupby("region_id")["rep"].agg(set)
    graph = nx.Graph()
    for group in holders:
        graph.add_edges_from((a, b) for a in group for b in group if a < b)
    for a, b in zip(tables.adjacency["region_a"], tables.adjacency["region_b"], strict=True):
        graph.add_edges_from(
            (r, s) for r in holders.get(a, ()) for s in holders.get(b, ()) if r != s
        )
    assert graph.number_of_edges() > 0
    for r, s in graph.edges:
        assert colours[r] != colours[s], (r, s)


def test_account_hover_says_owner_incumbent_potential_workload_reason_next_best(
    figure,
    plan,
) -> None:
    accounts = next(t for t in figure.data if t.meta == "accounts")
    row = plan.assignment.assignments.set_index("account_id")
    for (account, rep), text in list(zip(accounts.customdata, accounts.text, strict=True))[:20]:
        assert text.startswith(f"<b>{account}</b>")
        assert f"owner <b>{rep}</b>" in text and "incumbent" in text
        assert "potential" in text and "workload" in text and "reason:" in text
        assert "next best:" in text
        assert row.loc[account, "reason"] in text


def test_region_hover_gives_territory_totals_against_the_fair_share(figure) -> None:
    region = next(t for t in figure.data if t.meta == "region")
    assert "of its fair share" in region.text and "accounts" in region.text


def test_map_html_is_offline_and_searchable(figure) -> None:
    fragment = map_html(figure)
    assert "<script" in fragment and "Plotly" in fragment
    assert not re.search(r'<script[^>]+src="http', fragment)
    index = json.loads(re.search(r"\}\)\(\"territory-map\", (\{.*\})\);</script>", fragment)[1])
    accounts = next(t for t in figure.data if t.meta == "accounts")
    assert {a for a, _ in accounts.customdata} <= set(index)
    assert map_html(figure, include_plotlyjs=False).count("<script") < fragment.count("<script")


def test_highlight_rings_exactly_the_given_accounts(figure) -> None:
    accounts = next(t for t in figure.data if t.meta == "accounts")
    chosen = [accounts.customdata[0][0], accounts.customdata[3][0]]
    out = highlight_accounts(figure, chosen, title="other")
    trace = next(t for t in out.data if t.meta == "accounts")
    ringed = [
        a for (a, _), w in zip(trace.customdata, trace.marker.line.width, strict=True) if w > 1
    ]
    assert ringed == chosen and out.layout.title.text == "other"
    assert pd.Series(figure.data[-1].x).empty  # the original figure is untouched


def test_many_regions_merge_into_one_polygon_trace_per_territory(
    plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of census tracts would be thousands of traces: above MERGE_FROM regions the
    polygons of one territory are one trace (the hover then describes the territory)."""
    from allocator.report import map as map_module

    monkeypatch.setattr(map_module, "MERGE_FROM", 3)
    figure = territory_map(plan)
    regions = [t for t in figure.data if t.meta == "region"]
    owners = {t.legendgroup for t in regions}
    assert len(regions) == len(owners) < len(plan.tables.regions)
    assert all(t.name == f"territory {t.legendgroup}" for t in regions)
