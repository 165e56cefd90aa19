"""``allocator letters PLAN`` and ``allocator reconcile PLAN --commitments signed.xlsx``.

Letters go out (one page per rep, HTML and PDF, and a sign-off workbook); the filled-in
workbook comes back and the quotas are allocated again with the reps' commitments, into a new
plan folder with every change explained.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from allocator.cli.export import output_folder

__all__ = ["add_letters_parsers", "cmd_letters", "cmd_reconcile"]


def cmd_letters(args: argparse.Namespace) -> int:
    from allocator.connect.folder import read_plan_folder
    from allocator.connect.geo import plan_layers
    from allocator.connect.letters import letter_pages, print_pdf, write_letters
    from allocator.connect.signoff import signoff_sheets, write_signoff

    plan = read_plan_folder(args.plan)
    out = output_folder(Path(args.plan), args.out, "letters")
    territories, accounts = plan_layers(plan)
    points = plan.tables.accounts.set_index("account_id").loc[plan.owners.index, ["lat", "lon"]]
    points = points.assign(rep_id=plan.owners.to_numpy())
    letters = letter_pages(plan, territories.set_index("rep_id"), points)
    title = f"Quota letters: {plan.scenario.name}"
    paths = write_letters(letters, out, title=title)
    workbook = write_signoff(signoff_sheets(plan), out / "signoff.xlsx")
    pdf = None if args.no_pdf else print_pdf(out / "letters.html", out / "letters.pdf")
    print(
        f"{len(letters)} letters written to {out.resolve()}: one <rep_id>.html each, "
        f"letters.html (all pages){', letters.pdf' if pdf else ''}"
    )
    if pdf is None and not args.no_pdf:
        print("no PDF: Chromium (or the playwright package) is not installed; print letters.html")
    print(
        f"sign-off workbook: {workbook.resolve()} (fill in the committed column, then run "
        "allocator reconcile PLAN --commitments it)"
    )
    del accounts, paths
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from allocator.connect.folder import fresh_folder, read_plan_folder
    from allocator.connect.reconcile import reconcile, write_reconciled
    from allocator.connect.signoff import read_commitments

    source = Path(args.plan)
    plan = read_plan_folder(source)
    products = set(plan.rep_product["product_id"]) if plan.rep_product is not None else set()
    commitments = read_commitments(
        args.commitments, reps=set(plan.reps["rep_id"]), products=products
    )
    result = reconcile(plan, commitments)
    if args.out is None:
        out = fresh_folder(source.resolve().with_name(f"{source.resolve().name}-reconciled"))
    else:
        out = output_folder(source, args.out, "")
    write_reconciled(result, source, out)
    print(result.summary())
    print(f"reconciled plan written to {out.resolve()} (reconcile.md explains each change)")
    return 0


def add_letters_parsers(sub: Any) -> None:
    """Add ``letters`` and ``reconcile`` to the sub-parsers ``sub``."""
    p = sub.add_parser("letters", help="quota letters per rep (HTML, PDF) and a sign-off workbook")
    p.add_argument("plan", metavar="PLAN", help="plan folder written by allocator solve")
    p.add_argument("--out", metavar="DIR", help="output folder (default: a new PLAN/letters)")
    p.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    p.set_defaults(func=cmd_letters)
    p = sub.add_parser(
        "reconcile", help="feed signed-off commitments back and allocate the quotas again"
    )
    p.add_argument("plan", metavar="PLAN", help="the signed-off plan folder")
    p.add_argument(
        "--commitments",
        required=True,
        metavar="XLSX",
        help="the filled-in sign-off workbook (committed column)",
    )
    p.add_argument("--out", metavar="DIR", help="new plan folder (default: PLAN-reconciled)")
    p.set_defaults(func=cmd_reconcile)
