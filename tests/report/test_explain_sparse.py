"""A plan on the sparse path (more than ``pairs.SPARSE_FROM`` account x rep pairs, forced here
on a small company): the solve, the report and the explanations run without any (accounts,
reps) array; the one-move explanations are left empty and ``why_not`` says why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from allocator.exceptions import InputError
from allocator.report.explain import explain_accounts, why_not
from allocator.report.plan_report import write_report
from allocator.territory import pairs
from tests.report.test_explain import plan_with


def test_sparse_plan_reports_and_explains_without_pair_arrays(tmp_path: Path, monkeypatch) -> None:
    dense = plan_with()
    dense_accounts = explain_accounts(dense)
    monkeypatch.setattr(pairs, "SPARSE_FROM", 0)
    plan = plan_with()
    assert plan.assignment is not None
    assert plan.assignment.report.objective == pytest.approx(dense.assignment.report.objective)
    accounts = explain_accounts(plan)
    assert list(accounts.columns) == list(dense_accounts.columns)
    for column in ("account_id", "rep_id", "incumbent_rep_id", "moved", "reason"):
        assert (accounts[column].to_numpy() == dense_accounts[column].to_numpy()).all(), column
    assert (accounts["next_rep_id"] == "").all() and np.isnan(accounts["delta"]).all()
    write_report(plan, tmp_path)  # the whole report, map included, on the sparse path
    assert (tmp_path / "report.md").read_text(encoding="utf-8").startswith("#")
    account, rep = accounts.loc[0, "account_id"], accounts.loc[0, "rep_id"]
    with pytest.raises(InputError, match="one-move explanations"):
        why_not(plan, account, rep)
