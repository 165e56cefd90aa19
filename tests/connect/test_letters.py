"""Quota letters and the sign-off round trip: letters out, commitments in, a new plan explained."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from allocator.connect.letters import chromium_path
from tests.connect.conftest import run


def test_letters_on_the_demo_write_forty_pages(demo_plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "letters"
    assert run("letters", str(demo_plan), "--out", str(out)) == 0
    pages = sorted(out.glob("R*.html"))
    assert len(pages) == 40
    one = (out / "R001.html").read_text()
    for part in (
        "Quota letter",
        "Territory",
        "<svg",
        "Quota by product and month",
        "Tiers",
        "Expense budget",
        "signature",
    ):
        assert part in one, part
    quotas = pd.read_csv(demo_plan / "quotas.csv", dtype={"rep_id": str})
    year = int(quotas.loc[quotas["rep_id"] == "R001", "target"].sum())
    assert f"{year:,}" in one
    assert (out / "letters.html").read_text().count("<section class='letter'>") == 40
    book = pd.read_excel(out / "signoff.xlsx", sheet_name=None)
    rows = pd.concat(book.values())
    assert {"committed", "quota", "rep_id", "product_id"} <= set(rows.columns)
    assert len(rows) == 160 and (rows["committed"] == rows["quota"]).all()
    if chromium_path() is None:
        pytest.skip("no Chromium: letters.pdf not written (HTML checked above)")
    from pypdf import PdfReader

    pdf = PdfReader(out / "letters.pdf")
    assert len(pdf.pages) == 40
    reps = [p.stem for p in pages]
    for page, rep in zip(pdf.pages, reps, strict=True):  # one letter per page, in order
        assert page.extract_text().startswith("Quota letter") and f"({rep})" in page.extract_text()


def test_reconcile_changes_quotas_exactly_where_commitments_differ(
    demo_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan"
    shutil.copytree(demo_plan, plan)
    assert run("letters", str(plan), "--out", str(tmp_path / "letters"), "--no-pdf") == 0
    book = pd.read_excel(tmp_path / "letters" / "signoff.xlsx", sheet_name=None)
    # R001 commits 3,000 more of P2, R002 3,000 less: the P2 target still adds up
    for rows in book.values():  # one sheet per manager: every sheet goes back
        up = (rows["rep_id"] == "R001") & (rows["product_id"] == "P2")
        down = (rows["rep_id"] == "R002") & (rows["product_id"] == "P2")
        rows.loc[up, "committed"] += 3000
        rows.loc[down, "committed"] -= 3000
    signed = tmp_path / "signed.xlsx"
    with pd.ExcelWriter(signed) as xl:
        for sheet, rows in book.items():
            rows.to_excel(xl, sheet_name=sheet, index=False)
    capsys.readouterr()
    assert run("reconcile", str(plan), "--commitments", str(signed)) == 0
    new = tmp_path / "plan-reconciled"
    assert (plan / "rep_product.csv").read_bytes() == (demo_plan / "rep_product.csv").read_bytes()
    before = pd.read_csv(plan / "rep_product.csv", dtype={"rep_id": str}).set_index(
        ["rep_id", "product_id"]
    )["quota"]
    after = pd.read_csv(new / "rep_product.csv", dtype={"rep_id": str}).set_index(
        ["rep_id", "product_id"]
    )["quota"]
    changed = after[after != before]
    assert sorted(changed.index) == [("R001", "P2"), ("R002", "P2")]
    assert changed[("R001", "P2")] == before[("R001", "P2")] + 3000
    assert changed[("R002", "P2")] == before[("R002", "P2")] - 3000
    explained = pd.read_csv(new / "reconcile.csv", dtype={"rep_id": str})
    assert sorted(zip(explained["rep_id"], explained["product_id"], strict=True)) == [
        ("R001", "P2"),
        ("R002", "P2"),
    ]
    assert explained["reason"].str.contains("the quota follows the commitment").all()
    assert (new / "assignments.csv").read_bytes() == (plan / "assignments.csv").read_bytes()
    report = (new / "reconcile.md").read_text()
    assert "R001" in report and "R002" in report
    printed = capsys.readouterr().out
    assert "2 quota(s) changed" in printed


def _signed(plan: Path, tmp_path: Path, changes: dict[tuple[str, str], float], name: str) -> Path:
    """The plan's sign-off workbook (every manager's sheet) with ``committed`` set for some
    (rep, product)."""
    book = pd.read_excel(plan / "letters" / "signoff.xlsx", sheet_name=None)
    found = set()
    for rows in book.values():
        for (rep, product), amount in changes.items():
            row = (rows["rep_id"] == rep) & (rows["product_id"] == product)
            rows.loc[row, "committed"] = amount
            found |= {(rep, product)} if row.any() else set()
    assert found == set(changes)
    path = tmp_path / name
    with pd.ExcelWriter(path) as xl:
        for sheet, rows in book.items():
            rows.to_excel(xl, sheet_name=sheet, index=False)
    return path


def _reasons(folder: Path) -> dict[tuple[str, str], str]:
    explained = pd.read_csv(folder / "reconcile.csv", dtype={"rep_id": str})
    keys = zip(explained["rep_id"], explained["product_id"], strict=True)
    return dict(zip(keys, explained["reason"], strict=True))


def test_reconcile_explains_what_held_a_commitment_back(demo_plan: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan"
    shutil.copytree(demo_plan, plan)
    assert run("letters", str(plan), "--out", str(plan / "letters"), "--no-pdf") == 0
    rp = pd.read_csv(plan / "rep_product.csv", dtype={"rep_id": str})
    rp = rp.set_index(["rep_id", "product_id"])
    low = 0.85 * rp.loc[("R003", "P1"), "fair"]  # the demo's band is +-15%
    room = math.floor(rp.loc[("R003", "P1"), "quota"] - low)
    # R003 commits far below the band, R010 takes exactly what the band lets R003 give up
    signed = _signed(
        plan,
        tmp_path,
        {("R003", "P1"): 1000, ("R010", "P1"): rp.loc[("R010", "P1"), "quota"] + room},
        "band.xlsx",
    )
    assert run("reconcile", str(plan), "--commitments", str(signed)) == 0
    reasons = _reasons(tmp_path / "plan-reconciled")
    assert sorted(reasons) == [("R003", "P1"), ("R010", "P1")]
    assert (
        "fairness band" in reasons[("R003", "P1")] and "needs at least" in reasons[("R003", "P1")]
    )
    assert reasons[("R010", "P1")].endswith("the quota follows the commitment")
    # alone, the same commitment is held by the other reps' commitments, not by the band
    signed = _signed(plan, tmp_path, {("R003", "P1"): 1000}, "alone.xlsx")
    assert run("reconcile", str(plan), "--commitments", str(signed)) == 0
    reasons = _reasons(tmp_path / "plan-reconciled-2")
    after = pd.read_csv(tmp_path / "plan-reconciled-2" / "rep_product.csv", dtype={"rep_id": str})
    r003 = after.set_index(["rep_id", "product_id"]).loc[("R003", "P1"), "quota"]
    if r003 > low + 1:  # the band does not bind: the reason must not blame it
        assert "largest fairness deviation" in reasons[("R003", "P1")]
    others = {k: v for k, v in reasons.items() if k != ("R003", "P1")}
    assert others and all("target is kept" in v for v in others.values())
    assert all(product == "P1" for _, product in reasons)


def test_a_bad_commitment_names_the_sheet_and_row(
    demo_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = tmp_path / "signed.xlsx"
    pd.DataFrame(
        {
            "rep_id": ["R001", "R999"],
            "product_id": ["P1", "P1"],
            "quota": [1, 1],
            "committed": ["lots", 5],
        }
    ).to_excel(signed, sheet_name="M1", index=False)
    assert run("reconcile", str(demo_plan), "--commitments", str(signed)) == 2
    err = capsys.readouterr().err
    assert "sheet 'M1': row 2: column 'committed': 'lots'" in err
    assert "sheet 'M1': row 3: column 'rep_id': 'R999'" in err


def test_signoff_has_one_sheet_per_manager(demo_plan: Path) -> None:
    import dataclasses

    from allocator.connect.folder import read_plan_folder
    from allocator.connect.signoff import signoff_sheets

    plan = read_plan_folder(demo_plan)
    managers = ["M-North" if i % 3 else "M/South" for i in range(len(plan.reps))]
    plan = dataclasses.replace(plan, reps=plan.reps.assign(manager_id=managers))
    sheets = signoff_sheets(plan)
    assert list(sheets) == ["M-North", "M_South"]  # '/' is not allowed in a sheet name
    south = set(plan.reps.loc[[m == "M/South" for m in managers], "rep_id"])
    assert set(sheets["M_South"]["rep_id"]) == south
    assert sum(len(s) for s in sheets.values()) == 160


def test_a_workbook_with_one_managers_sheet_keeps_every_other_quota(
    demo_plan: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan"
    shutil.copytree(demo_plan, plan)
    assert run("letters", str(plan), "--out", str(plan / "letters"), "--no-pdf") == 0
    book = pd.read_excel(plan / "letters" / "signoff.xlsx", sheet_name=None)
    assert len(book) > 1  # the demo's reps have managers
    sheet, rows = next(iter(book.items()))
    a, b = rows.loc[rows["product_id"] == "P2", "rep_id"].iloc[:2]
    rows.loc[(rows["rep_id"] == a) & (rows["product_id"] == "P2"), "committed"] += 2000
    rows.loc[(rows["rep_id"] == b) & (rows["product_id"] == "P2"), "committed"] -= 2000
    signed = tmp_path / "one-sheet.xlsx"
    with pd.ExcelWriter(signed) as xl:
        rows.to_excel(xl, sheet_name=sheet, index=False)
    assert run("reconcile", str(plan), "--commitments", str(signed)) == 0
    before = pd.read_csv(plan / "rep_product.csv", dtype={"rep_id": str})
    after = pd.read_csv(tmp_path / "plan-reconciled" / "rep_product.csv", dtype={"rep_id": str})
    key = ["rep_id", "product_id"]
    diff = after.set_index(key)["quota"] - before.set_index(key)["quota"]
    assert diff[diff != 0].to_dict() == {(a, "P2"): 2000, (b, "P2"): -2000}
