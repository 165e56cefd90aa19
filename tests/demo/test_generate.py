"""The demo company generator and the shipped demo dataset (``allocator/demo/generate.py``).

Every realism claim of the module docstring is recomputed here from the tables themselves
(nearest seeds by brute force, graph properties with networkx, feasibility of the demo's
constraints with an LP relaxation solved by scipy's HiGHS), not read back from the generator.
"""

from __future__ import annotations

import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from allocator.demo import DEMO_DIR, generate_company, write_company, write_demo
from allocator.demo.country import delaunay_edges, project_km
from allocator.demo.files import main
from allocator.exceptions import InputError
from allocator.io.data import load_inputs
from allocator.io.scenario import load_scenario
from allocator.io.tables import COLUMNS, OPTIONAL_DEFAULTS, Tables

TABLES = ("reps", "accounts", "regions", "adjacency", "products", "history", "account_potential")


@pytest.fixture(scope="module")
def demo() -> Tables:
    """The default company (seed 0): what ``allocator/demo`` must hold."""
    return generate_company()


@pytest.fixture(scope="module")
def small() -> Tables:
    """A small company: 300 accounts, 8 reps, 6 regions, seed 3."""
    return generate_company(accounts=300, reps=8, regions=6, seed=3)


def _table(tables: Tables, name: str) -> pd.DataFrame:
    """An optional table the generator always makes."""
    frame = getattr(tables, name)
    assert isinstance(frame, pd.DataFrame), name
    return frame


def _eligible(accounts: pd.DataFrame, reps: pd.DataFrame) -> np.ndarray:
    """Account x rep mask of the demo's rules: experience >= 3 on A accounts, required skill."""
    senior = reps["experience"].to_numpy() >= 3
    skills = [set(s.split(";")) for s in reps["skills"]]
    return np.array(
        [
            [(senior[r] or seg != "A") and (not req or req in skills[r]) for r in range(len(reps))]
            for seg, req in zip(accounts["segment"], accounts["required_skills"], strict=True)
        ]
    )


def _great_circle_km(accounts: pd.DataFrame, reps: pd.DataFrame) -> np.ndarray:
    lat1, lon1 = (np.radians(accounts[c].to_numpy())[:, None] for c in ("lat", "lon"))
    lat2, lon2 = (np.radians(reps[c].to_numpy())[None, :] for c in ("lat", "lon"))
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * np.arcsin(np.sqrt(h))


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_equal_tables(small: Tables) -> None:
    again = generate_company(accounts=300, reps=8, regions=6, seed=3)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name))


def test_other_seed_gives_other_tables(small: Tables) -> None:
    other = generate_company(accounts=300, reps=8, regions=6, seed=4)
    assert not np.allclose(small.accounts["lat"], other.accounts["lat"])
    assert not _table(small, "history")["sales"].equals(_table(other, "history")["sales"])


def test_default_size_is_fast() -> None:
    began = time.perf_counter()
    generate_company()
    assert time.perf_counter() - began < 5.0


# ------------------------------------------------------------------ geography


def test_delaunay_edges_of_a_hand_checked_quadrilateral() -> None:
    # (2.1, 2.1) lies outside the circle through the other three (centre (1, 1), radius 1.414),
    # so the Delaunay diagonal joins (2, 0) and (0, 2): points 1 and 2.
    points = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.1, 2.1]])
    assert delaunay_edges(points) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]
    assert delaunay_edges(points[:2]) == [(0, 1)]
    assert delaunay_edges(points[:1]) == []


@pytest.mark.parametrize("which", ["demo", "small"])
def test_region_graph_is_connected_and_planar(which: str, request: pytest.FixtureRequest) -> None:
    tables = request.getfixturevalue(which)
    graph = nx.Graph(
        list(
            zip(
                _table(tables, "adjacency")["region_a"],
                _table(tables, "adjacency")["region_b"],
                strict=True,
            )
        )
    )
    graph.add_nodes_from(_table(tables, "regions")["region_id"])
    assert nx.is_connected(graph)
    assert min(d for _, d in graph.degree) >= 1
    assert nx.check_planarity(graph)[0]
    assert graph.number_of_edges() <= 3 * graph.number_of_nodes() - 6


@pytest.mark.parametrize("table", ["accounts", "reps"])
def test_everyone_is_in_the_region_of_the_nearest_seed(demo: Tables, table: str) -> None:
    frame = getattr(demo, table)
    seeds = project_km(
        _table(demo, "regions")["lat"].to_numpy(), _table(demo, "regions")["lon"].to_numpy()
    )
    points = project_km(frame["lat"].to_numpy(), frame["lon"].to_numpy())
    dist = ((points[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2)
    nearest = _table(demo, "regions")["region_id"].to_numpy()[dist.argmin(axis=1)]
    assert (nearest == frame["region_id"].to_numpy()).all()


def test_locations_lie_in_the_country_box(demo: Tables) -> None:
    for frame in (demo.accounts, demo.reps, _table(demo, "regions")):
        assert frame["lat"].between(47, 55).all() and frame["lon"].between(6, 15).all()


# ------------------------------------------------------------------ totals and segments


def test_workload_is_about_80_percent_of_capacity(demo: Tables, small: Tables) -> None:
    for tables in (demo, small):
        ratio = tables.accounts["workload"].sum() / tables.reps["capacity"].sum()
        assert 0.7 <= ratio <= 0.9
        assert ratio == pytest.approx(0.8, abs=0.005)


def test_segments_follow_potential_rank(demo: Tables) -> None:
    acc = demo.accounts
    assert acc["segment"].value_counts().to_dict() == {"C": 1200, "B": 600, "A": 200}
    by = acc.groupby("segment")["potential"]
    assert by.min()["A"] >= by.max()["B"] and by.min()["B"] >= by.max()["C"]
    assert acc.groupby("segment")["visits"].first().to_dict() == {"A": 48, "B": 24, "C": 12}
    assert acc.groupby("segment")["workload"].mean().is_monotonic_decreasing


def test_potential_is_the_sum_of_product_potential(demo: Tables) -> None:
    total = _table(demo, "account_potential").groupby("account_id")["potential"].sum()
    assert (
        total.reindex(demo.accounts["account_id"]).to_numpy() == demo.accounts["potential"]
    ).all()
    assert (_table(demo, "account_potential")["potential"] > 0).all()


def test_reps(demo: Tables) -> None:
    reps = demo.reps
    new = reps[(reps["ramp"] < 1) | (reps["ramp_schedule"] != "")]
    assert len(new) == 4 and (new["experience"] <= 1).all()
    hired = new[new["start"] != ""]  # the first new hire starts in April on the new-hire ramp
    assert hired[["start", "ramp_schedule", "ramp"]].values.tolist() == [
        ["2027-04", "25/50/75/100", 1.0]
    ]
    assert (new.drop(hired.index)["ramp"] == 0.5).all()
    assert (reps["experience"] % 1 == 0).all() and reps["experience"].between(0, 20).all()
    assert reps["capacity"].between(1280, 1600).all() and reps["active"].all()
    assert (reps["skills"].str.count(";") >= 2).all()  # at most one of the 4 skills missing


def test_products_cycle_the_categories() -> None:
    products = _table(
        generate_company(accounts=50, reps=3, regions=3, products=6, seed=1), "products"
    )
    assert list(products["product_id"]) == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert list(products["category"]) == ["attack", "volume", "profit", "image", "attack", "volume"]
    assert list(products["margin"]) == [0.45, 0.20, 0.35, 0.50, 0.45, 0.20]


def test_incumbents_locks_and_skills(demo: Tables) -> None:
    acc = demo.accounts
    served = acc["incumbent_rep_id"] != ""
    assert (
        served.sum() == 1800 and acc.loc[served, "incumbent_rep_id"].isin(demo.reps["rep_id"]).all()
    )
    assert acc["locked"].sum() == 54 and served[acc["locked"]].all()
    ok = _eligible(acc, demo.reps)
    rep_pos = {r: i for i, r in enumerate(demo.reps["rep_id"])}
    incumbent_ok = [ok[a, rep_pos[r]] for a, r in enumerate(acc["incumbent_rep_id"]) if r]
    assert all(incumbent_ok)  # so every locked account's incumbent is eligible too
    required = acc[acc["required_skills"] != ""]
    assert len(required) == 100
    bought = set(
        zip(
            *(_table(demo, "account_potential")[c] for c in ("account_id", "product_id")),
            strict=True,
        )
    )
    assert all(
        (a, p) in bought
        for a, p in zip(required["account_id"], required["required_skills"], strict=True)
    )


# ------------------------------------------------------------------ history


def test_history_covers_36_months_with_season_and_growth(demo: Tables) -> None:
    hist = _table(demo, "history")
    periods = sorted(hist["period"].unique())
    assert len(periods) == 36 and periods[0] == "2024-01" and periods[-1] == "2026-12"
    by_month = hist.groupby(hist["period"].str[5:])["sales"].sum()
    assert by_month["12"] > 1.3 * by_month["07"]
    by_year = hist.groupby(hist["period"].str[:4])["sales"].sum()
    assert 1.05 < by_year["2026"] / by_year["2024"] < 1.13  # two years of 3-6% growth
    assert (hist["sales"] >= 0).all() and (hist["sales"] % 1 == 0).all()


def test_history_only_for_served_accounts_and_bought_products(demo: Tables) -> None:
    pairs = _table(demo, "history")[["account_id", "product_id"]].drop_duplicates()
    bought = _table(demo, "account_potential")[["account_id", "product_id"]]
    assert len(pairs.merge(bought)) == len(pairs)
    served = demo.accounts.loc[demo.accounts["incumbent_rep_id"] != "", "account_id"]
    assert set(pairs["account_id"]) == set(served)


# ------------------------------------------------------------------ files


def test_shipped_demo_equals_a_fresh_generation(tmp_path: Path) -> None:
    write_demo(tmp_path)
    shipped = sorted(p.name for p in DEMO_DIR.iterdir() if p.suffix in (".csv", ".yaml"))
    assert shipped == sorted(p.name for p in tmp_path.iterdir())
    for name in shipped:
        assert (DEMO_DIR / name).read_bytes() == (tmp_path / name).read_bytes(), name
    assert sum((DEMO_DIR / n).stat().st_size for n in shipped) < 12e6


def test_written_company_loads_back_equal(small: Tables, tmp_path: Path) -> None:
    path = write_company(small, tmp_path / "co", scenario_name="co")
    scenario = load_scenario(path)
    assert scenario.name == "co" and scenario.target is not None
    last_year = _table(small, "history")[_table(small, "history")["period"] >= "2026-01"][
        "sales"
    ].sum()
    assert scenario.target.plan == pytest.approx(1.05 * last_year, abs=50_000)
    loaded = load_inputs(scenario)
    for name in TABLES:  # the contract's columns (extra columns such as regions.lat stay text)
        columns = [*COLUMNS[name], *OPTIONAL_DEFAULTS.get(name, {})]
        pd.testing.assert_frame_equal(getattr(loaded, name)[columns], getattr(small, name)[columns])
    assert "active" not in (tmp_path / "co" / "reps.csv").read_text().splitlines()[0]


def test_demo_scenarios_load() -> None:
    root = Path(__file__).parents[2] / "scenarios"
    demo = load_scenario(root / "demo.yaml")
    tight = load_scenario(root / "demo-tight-continuity.yaml")
    assert demo.data.reps == str((DEMO_DIR / "reps.csv").resolve())
    assert tight.assignment.constraints.continuity is not None
    assert tight.assignment.constraints.continuity.max_moved_share == 0.05
    assert tight.assignment == demo.assignment.model_copy(
        update={
            "constraints": demo.assignment.constraints.model_copy(
                update={"continuity": tight.assignment.constraints.continuity}
            )
        }
    )


@pytest.mark.parametrize("moved", [0.25, 0.05])
def test_shipped_demo_relaxation_is_feasible(moved: float) -> None:
    """LP relaxation of the demo's assignment constraints on its 12 nearest eligible reps."""
    scenario = load_scenario(DEMO_DIR / "demo.yaml")
    tables = load_inputs(scenario)
    acc, reps = tables.accounts, tables.reps
    ok = _eligible(acc, reps)
    order = np.argsort(_great_circle_km(acc, reps), axis=1, kind="stable")
    arcs = [(a, r) for a in range(len(acc)) for r in [r for r in order[a] if ok[a, r]][:12]]
    a_of, r_of = np.array(arcs).T
    rep_pos = {r: i for i, r in enumerate(reps["rep_id"])}
    incumbent = np.array([rep_pos.get(r, -1) for r in acc["incumbent_rep_id"]])
    pot, work = acc["potential"].to_numpy(), acc["workload"].to_numpy()
    fair = reps["ramp"].to_numpy() / reps["ramp"].sum() * pot.sum()
    stays = (incumbent[a_of] == r_of).astype(float)
    served = (incumbent >= 0).sum()
    rows = np.concatenate([a_of, len(acc) + r_of, len(acc) + len(reps) + r_of])
    rows = np.concatenate([rows, np.full(len(arcs), len(acc) + 2 * len(reps))])
    values = np.concatenate([np.ones(len(arcs)), work[a_of], pot[a_of], stays])
    cols = np.tile(np.arange(len(arcs)), 4)
    matrix = coo_matrix((values, (rows, cols))).tocsr()
    lower = np.concatenate(
        [np.ones(len(acc)), np.zeros(len(reps)), 0.75 * fair, [(1 - moved) * served]]
    )
    upper = np.concatenate([np.ones(len(acc)), reps["capacity"], 1.25 * fair, [np.inf]])
    fixed = (stays == 1) & acc["locked"].to_numpy()[a_of]
    res = milp(
        np.zeros(len(arcs)),
        constraints=LinearConstraint(matrix, lower, upper),
        bounds=Bounds(fixed.astype(float), np.ones(len(arcs))),
    )
    assert res.status == 0, res.message
    x = res.x
    assert np.allclose(np.bincount(a_of, weights=x), 1, atol=1e-6)
    assert (np.bincount(r_of, weights=x * work[a_of]) <= reps["capacity"] + 1e-6).all()
    assert pot.max() < 0.75 * fair.min()  # no single account breaks a balance band
    assert fixed.sum() == acc["locked"].sum()  # every locked incumbent is a candidate


# ------------------------------------------------------------------ arguments and CLI


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"accounts": 0}, "accounts must be an integer >= 1, got 0"),
        ({"reps": -1}, "reps must be an integer >= 1"),
        ({"regions": 2.5}, "regions must be an integer >= 1"),
        ({"start": "2027-13"}, "start must be a month YYYY-MM, got '2027-13'"),
        ({"start": "Jan 2027"}, "start must be a month YYYY-MM"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        generate_company(**kwargs)  # type: ignore[arg-type]


def test_main_writes_a_company(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(tmp_path / "co"), "--accounts", "40", "--reps", "3", "--regions", "4"])
    assert code == 0 and "scenario.yaml" in capsys.readouterr().out
    assert len(load_inputs(load_scenario(tmp_path / "co" / "scenario.yaml")).accounts) == 40
    assert main([str(tmp_path / "bad"), "--reps", "0"]) == 2
    assert "reps must be an integer >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])


def test_organisation(demo: Tables) -> None:
    """Districts of 8 reps west to east under two regions, one leave, one 60/40 split."""
    reps, managers = demo.reps, demo.managers
    assert managers is not None and demo.leaves is not None and demo.account_splits is not None
    assert reps.groupby("manager_id").size().tolist() == [8] * 5
    west = reps.groupby("manager_id")["lon"].mean().sort_index()
    assert west.is_monotonic_increasing or west.iloc[0] < west.iloc[-1]
    districts = managers[managers["level"] == "district"]
    assert set(districts["parent_id"]) == {"V1", "V2"}
    senior = reps.loc[reps["experience"].idxmax(), "rep_id"]
    assert demo.leaves.values.tolist() == [[senior, "2027-07-01", "2027-07-14"]]
    split = demo.account_splits
    assert split["share"].tolist() == [0.6, 0.4]
    account = demo.accounts.set_index("account_id").loc[split["account_id"].iloc[0]]
    assert (
        account["potential"]
        == demo.accounts.loc[demo.accounts["incumbent_rep_id"] != "", "potential"].max()
    )
    assert split["rep_id"].iloc[0] == account["incumbent_rep_id"]
    second = reps.set_index("rep_id").loc[split["rep_id"].iloc[1]]
    assert second["experience"] >= 3 or account["segment"] != "A"
