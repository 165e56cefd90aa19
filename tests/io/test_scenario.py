"""Scenario files: extends chains, relative paths, errors that name file and key, hash, replace."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from allocator.exceptions import ScenarioError
from allocator.io import settings
from allocator.io.scenario import Scenario, deep_merge, load_scenario, scenario_from_dict
from allocator.io.settings import BalanceSettings, CapacitySettings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """grand (g/) <- parent (p/) <- child (c/): three files in three folders."""
    write(
        tmp_path / "g" / "grand.yaml",
        "name: grand\n"
        "data:\n  reps: reps.csv\n  regions: tables/regions.csv\n"
        "solver:\n  time_limit: 10\n  gap: 0.01\n"
        "assignment:\n  objective:\n    travel: 2\n    balance: 1\n"
        "output:\n  dir: out\n",
    )
    write(
        tmp_path / "p" / "parent.yaml",
        "extends: ../g/grand.yaml\n"
        "data:\n  accounts: data/accounts.csv\n"
        "solver:\n  time_limit: 20\n"
        "assignment:\n  objective:\n    balance: 3\n",
    )
    return write(
        tmp_path / "c" / "child.yaml",
        "extends: ../p/parent.yaml\nname: child\nsolver:\n  gap: 0.05\n",
    )


def test_extends_chain_deep_merges_and_overrides(chain: Path) -> None:
    s = load_scenario(chain)
    assert s.name == "child"  # child overrides grand
    assert (s.solver.time_limit, s.solver.gap) == (20.0, 0.05)  # parent, then child
    assert (s.assignment.objective.travel, s.assignment.objective.balance) == (2.0, 3.0)
    assert s.solver.name == "highs"  # untouched default


def test_paths_are_relative_to_the_file_that_names_them(chain: Path) -> None:
    root = chain.parents[1].resolve()
    s = load_scenario(chain)
    assert s.data.reps == str(root / "g" / "reps.csv")
    assert s.data.regions == str(root / "g" / "tables" / "regions.csv")
    assert s.data.accounts == str(root / "p" / "data" / "accounts.csv")
    assert s.output.dir == str(root / "g" / "out")
    assert s.data.products is None


def test_two_loads_are_equal_with_the_same_hash(chain: Path) -> None:
    a, b = load_scenario(chain), load_scenario(chain)
    assert a == b
    assert a.hash() == b.hash()
    assert len(a.hash()) == 64


def test_hash_ignores_key_order_but_not_values(tmp_path: Path) -> None:
    one = write(tmp_path / "one.yaml", "name: x\nsolver:\n  gap: 0.1\n  time_limit: 5\n")
    two = write(tmp_path / "two.yaml", "solver:\n  time_limit: 5\n  gap: 0.1\nname: x\n")
    three = write(tmp_path / "three.yaml", "name: x\nsolver:\n  gap: 0.1\n  time_limit: 6\n")
    assert load_scenario(one).hash() == load_scenario(two).hash()
    assert load_scenario(one).hash() != load_scenario(three).hash()


def test_cycle_is_reported_with_the_files(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ScenarioError, match=r"b\.yaml: extends: cycle of scenarios: ") as info:
        load_scenario(a)
    assert str(info.value).endswith(
        f"{a.resolve()} -> {(tmp_path / 'b.yaml').resolve()} -> {a.resolve()}"
    )


def test_a_file_extending_itself_is_a_cycle(tmp_path: Path) -> None:
    me = write(tmp_path / "me.yaml", "extends: me.yaml\n")
    with pytest.raises(ScenarioError, match=r"cycle of scenarios: .*me\.yaml -> .*me\.yaml"):
        load_scenario(me)


def test_missing_extends_target(tmp_path: Path) -> None:
    child = write(tmp_path / "child.yaml", "extends: ../gone/base.yaml\n")
    with pytest.raises(
        ScenarioError, match=r"child\.yaml: extends: file not found: .*gone/base\.yaml"
    ):
        load_scenario(child)


def test_extends_must_be_a_path(tmp_path: Path) -> None:
    child = write(tmp_path / "child.yaml", "extends: [a.yaml]\n")
    with pytest.raises(ScenarioError, match=r"child\.yaml: extends: expected a file path"):
        load_scenario(child)


def test_an_error_in_a_parent_names_the_parent(chain: Path) -> None:
    grand = chain.parents[1] / "g" / "grand.yaml"
    grand.write_text(grand.read_text() + "quota:\n  tiers:\n    stretch: 0.5\n")
    with pytest.raises(ScenarioError, match=r"g/grand\.yaml: quota\.tiers\.stretch: .*got 0\.5"):
        load_scenario(chain)


def test_invalid_yaml_reports_line_and_column(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "name: x\nsolver:\n  gap: [0.1\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: line 4, column 1: not valid YAML"):
        load_scenario(bad)


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    dup = write(tmp_path / "dup.yaml", "solver:\n  gap: 0.1\n  gap: 0.2\n")
    with pytest.raises(ScenarioError, match=r"line 3, column 3: .*key 'gap' is given twice"):
        load_scenario(dup)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str")])
def test_the_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path / "s.yaml", text)
    with pytest.raises(
        ScenarioError, match=rf"expected a mapping of keys at the top, got a {kind}"
    ):
        load_scenario(path)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.yaml: scenario file not found"):
        load_scenario(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text", ["", "\n  \n", "# only a comment\n"])
def test_an_empty_file_is_named_as_empty(tmp_path: Path, text: str) -> None:
    # issue 14: an empty scenario gave "data.reps: missing", naming neither file nor cause
    path = write(tmp_path / "scenario.yaml", text)
    with pytest.raises(ScenarioError, match=r"scenario\.yaml: the scenario file is empty"):
        load_scenario(path)


def test_an_empty_parent_is_named(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "")
    child = write(tmp_path / "child.yaml", "extends: base.yaml\nname: x\n")
    with pytest.raises(ScenarioError, match=r"base\.yaml: the scenario file is empty"):
        load_scenario(child)


def test_unknown_keys_suggest_the_closest_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.yaml",
        "nmae: x\ntarget:\n  mix:\n    categories:\n      attack: {mn: 0.1}\nsolver:\n  zzz: 1\n",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert sorted(str(info.value).splitlines()) == [
        f"{path}: nmae: unknown key (did you mean 'name'?)",
        f"{path}: solver.zzz: unknown key (expected one of: name, time_limit, gap, threads, msg)",
        f"{path}: target.mix.categories.attack.mn: unknown key (did you mean 'min'?)",
    ]


def test_wrong_types_name_the_key_path_and_the_value(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "assignment:\n  constraints:\n    max_accounts: {limit: 0}\n")
    with pytest.raises(
        ScenarioError,
        match=r"s\.yaml: assignment\.constraints\.max_accounts\.limit: "
        r"Input should be greater than or equal to 1, got 0",
    ):
        load_scenario(path)


def test_constraint_families_are_off_when_absent_and_on_with_braces(tmp_path: Path) -> None:
    default = Scenario()
    assert default.assignment.constraints.capacity == CapacitySettings()  # the default block
    path = write(tmp_path / "s.yaml", "assignment:\n  constraints:\n    balance: {}\n")
    s = load_scenario(path)
    assert s.assignment.constraints.balance == BalanceSettings()
    assert s.assignment.constraints.capacity is None  # a constraints block lists all that is on
    assert s.assignment.constraints.contiguity is None


def test_replace_with_dotted_keys(chain: Path) -> None:
    s = load_scenario(chain)
    r = s.replace(
        {
            "assignment.constraints.balance.tolerance": 0.05,
            "solver.time_limit": 5,
            "quota": {"tiers": {"stretch": 1.3}},
        }
    )
    assert r.assignment.constraints.balance == BalanceSettings(tolerance=0.05)
    assert r.solver.time_limit == 5.0
    assert r.quota is not None and r.quota.tiers.stretch == 1.3
    # everything else is kept, the original is untouched
    assert (r.solver.gap, r.data, r.name) == (s.solver.gap, s.data, s.name)
    assert r.assignment.constraints.capacity == s.assignment.constraints.capacity
    assert s.solver.time_limit == 20.0 and s.assignment.constraints.balance is None
    assert r.hash() != s.hash()
    assert s.replace({}) == s


def test_replace_rejects_bad_keys_and_values() -> None:
    with pytest.raises(ScenarioError, match=r"<replace>: solver\.gapp: unknown key"):
        Scenario().replace({"solver.gapp": 0.1})
    with pytest.raises(ScenarioError, match=r"cli: solver\.name: Input should be"):
        Scenario().replace({"solver.name": "gurobi"}, source="cli")


def test_scenario_from_dict_names_its_source() -> None:
    with pytest.raises(ScenarioError, match=r"^notebook: output\.formats\.0: "):
        scenario_from_dict({"output": {"formats": ["pdf"]}}, source="notebook")


def test_deep_merge_merges_dicts_and_replaces_the_rest() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    merged = deep_merge(base, {"a": {"y": [3]}, "c": 2})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}  # not modified


# ---------------------------------------------------------------- docs/scenario.md cannot drift

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenario.md"
ROW = re.compile(r"^\| `([^`]+)` \| ([^|]*) \| ([^|]*) \| ([^|]*) \|$", re.MULTILINE)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for option in (annotation, *get_args(annotation)):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _dict_values_of(annotation: Any) -> Any:
    for option in (annotation, *get_args(annotation)):
        if get_origin(option) is dict:
            return get_args(option)[1]
    return None


def settings_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted path, field, model) of every key of the scenario; ``<>`` stands for a dict key."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        yield path, field, model
        values = _dict_values_of(field.annotation)
        sub = _model_of(field.annotation) if values is None else _model_of(values)
        if sub is not None:
            # a data table's database keys are the same for every table: documented once
            nested = f"{path}.<>." if values is not None else f"{path}."
            yield from settings_fields(sub, "data.<>." if prefix == "data." else nested)


def documented() -> dict[str, str]:
    """Documented key path (placeholders as ``<>``) -> its default cell."""
    rows = ROW.finditer(DOC.read_text(encoding="utf-8"))
    return {re.sub(r"<[^>]+>", "<>", m[1]): m[3].strip() for m in rows}


def test_every_field_of_every_settings_model_is_documented() -> None:
    doc = documented()
    fields = list(settings_fields(Scenario))
    assert [path for path, _, _ in fields if path not in doc] == []
    reached = {model for _, _, model in fields}
    defined = {
        m
        for _, m in inspect.getmembers(settings, inspect.isclass)
        if issubclass(m, BaseModel) and m.__module__ == settings.__name__ and m.model_fields
    }
    assert defined - reached == set()  # no settings model is left out of the walk


def test_the_doc_names_no_key_that_does_not_exist() -> None:
    known = {path for path, _, _ in settings_fields(Scenario)} | {"extends"}
    scalar_dicts = {"assignment.constraints.experience.<>", "quota.expense.region_max_ratio.<>"}
    assert set(documented()) - known - scalar_dicts == set()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def test_documented_defaults_are_the_codes_defaults() -> None:
    doc = documented()
    for path, field, _ in settings_fields(Scenario):
        cell = doc[path]
        if field.is_required():
            assert cell == "required", path
            continue
        default = field.get_default()
        if cell == "see below":
            assert isinstance(default, BaseModel), path
            continue
        value = yaml.safe_load(cell.strip("`"))
        if isinstance(default, BaseModel):
            assert type(default).model_validate(value) == default, path
        else:
            assert value == _plain(default), path


def test_every_yaml_example_in_the_doc_is_a_valid_scenario() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        raw = yaml.safe_load(block)
        raw.pop("extends", None)
        scenario_from_dict(raw, source="docs/scenario.md")
    complete = scenario_from_dict(yaml.safe_load(blocks[0]), source="docs/scenario.md")
    constraints = complete.assignment.constraints
    assert all(getattr(constraints, name) is not None for name in type(constraints).model_fields)
    assert complete.target is not None and complete.quota is not None
