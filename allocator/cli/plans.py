"""``allocator plans URL``: the plans appended to a database by ``solve --to-db``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_plans_parser", "cmd_plans"]


def cmd_plans(args: argparse.Namespace) -> int:
    from allocator.connect.db import PLANS_TABLE, list_plans
    from allocator.io.database import safe_url

    plans = list_plans(args.url)
    if plans.empty:
        print(f"{safe_url(args.url)}: no plans yet ({PLANS_TABLE} is absent or empty)")
        return 0
    shown = plans[["plan_id", "scenario", "created", "status"]]
    print(f"{len(plans)} plan(s) in {safe_url(args.url)}:")
    print(shown.to_string(index=False))
    return 0


def add_plans_parser(sub: Any) -> None:
    """Add ``plans`` to the sub-parsers ``sub``."""
    p = sub.add_parser("plans", help="list the plans written to a database by solve --to-db")
    p.add_argument("url", metavar="URL", help="SQLAlchemy URL, e.g. duckdb:///plans.duckdb")
    p.set_defaults(func=cmd_plans)
