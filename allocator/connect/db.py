"""Plans and companies into databases: append-only plan tables, and a company as one DuckDB file.

:func:`write_plan_tables` appends every output table of a plan to ``allocator_<table>`` (for
example ``allocator_assignments``) with a first column ``plan_id`` (the scenario hash's first
12 characters, ``-``, the UTC time to the microsecond), and one row to ``allocator_plans``
(plan_id, scenario, scenario_hash, created, status, tables). Nothing is ever dropped, replaced
or updated: an earlier plan stays as it was, and a plan_id that already exists is refused. All
tables of one plan go in one transaction: a failure leaves no half plan. :func:`list_plans`
reads ``allocator_plans``. :func:`write_company_database` writes a company's input tables into
a new DuckDB (or any) database, the same columns and values as its CSV files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import InputError
from allocator.io.database import connect, safe_url

__all__ = [
    "PLANS_TABLE",
    "PREFIX",
    "list_plans",
    "make_plan_id",
    "write_company_database",
    "write_frames",
    "write_plan_tables",
]

log = logging.getLogger("allocator")

#: Prefix of every table allocator writes into a user's database.
PREFIX = "allocator_"
#: The table listing every plan written.
PLANS_TABLE = PREFIX + "plans"


def make_plan_id(scenario_hash: str, when: datetime | None = None) -> str:
    """``<first 12 of the scenario hash>-<UTC time, YYYYmmddTHHMMSSffffffZ>``."""
    when = when or datetime.now(UTC)
    return f"{scenario_hash[:12]}-{when:%Y%m%dT%H%M%S%fZ}"


def _quote(conn: Any, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote(name))


def _columns(conn: Any, table: str) -> list[str] | None:
    """Column names of ``table``, or None when it does not exist (no reflection: portable)."""
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table(table):
        return None
    result = conn.execute(sa.text(f"SELECT * FROM {_quote(conn, table)} WHERE 1 = 0"))
    return list(result.keys())


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns a database takes: object columns of mixed values as text, names as text."""
    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    for column in out.columns:
        values = out[column]
        if (
            values.dtype == object
            and not values.map(lambda v: isinstance(v, str) or v is None).all()
        ):
            out[column] = values.map(lambda v: None if v is None or v != v else str(v))
    return out


def _append(conn: Any, table: str, frame: pd.DataFrame) -> None:
    """Append ``frame`` to ``table`` (created when absent); refuses changed columns."""
    frame = _storable(frame)
    existing = _columns(conn, table)
    if existing is not None and list(existing) != list(frame.columns):
        raise InputError(
            [
                f"table {table}: has columns {', '.join(existing)}; this plan's are "
                f"{', '.join(frame.columns)} (write to a new database or rename the old table)"
            ]
        )
    if conn.dialect.name == "duckdb":  # executemany is slow on DuckDB: insert from the frame
        raw = conn.connection.driver_connection
        raw.register("_allocator_frame", frame)
        try:
            if existing is None:
                raw.execute(f"CREATE TABLE {_quote(conn, table)} AS SELECT * FROM _allocator_frame")
            else:
                raw.execute(f"INSERT INTO {_quote(conn, table)} SELECT * FROM _allocator_frame")
        finally:
            raw.unregister("_allocator_frame")
        return
    frame.to_sql(table, conn, if_exists="append", index=False, method="multi", chunksize=500)


def write_frames(url: str, frames: Mapping[str, pd.DataFrame], *, key: str = "--to-db") -> None:
    """Write each frame as a NEW table named by its key, in one transaction.

    Raises
    ------
    InputError
        When a table of that name already exists (nothing is written then) or the database
        cannot be reached.
    """
    engine = connect(url, key=key)
    try:
        with engine.begin() as conn:
            taken = [name for name in frames if _columns(conn, name) is not None]
            if taken:
                raise InputError(
                    [
                        f"{key}: {safe_url(url)}: already holds table(s) {', '.join(taken)}: "
                        "refusing to overwrite them (give a new database file)"
                    ]
                )
            for name, frame in frames.items():
                _append(conn, name, frame)
    except InputError:
        raise
    except Exception as exc:  # a driver's error: one line, no password
        raise InputError([f"{key}: {safe_url(url)}: cannot write ({_first_line(exc)})"]) from None
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_plan_tables(
    url: str,
    tables: Mapping[str, pd.DataFrame],
    *,
    scenario: str,
    scenario_hash: str,
    status: str,
    when: datetime | None = None,
) -> str:
    """Append a plan's tables to ``allocator_<name>`` with its ``plan_id``; return the id.

    Raises
    ------
    InputError
        When the database cannot be reached, a plan with this id exists already, or an
        existing ``allocator_*`` table has other columns.
    """
    import sqlalchemy as sa

    when = when or datetime.now(UTC)
    plan_id = make_plan_id(scenario_hash, when)
    engine = connect(url, key="--to-db")
    row = pd.DataFrame(
        [
            {
                "plan_id": plan_id,
                "scenario": scenario,
                "scenario_hash": scenario_hash,
                "created": when.isoformat(timespec="seconds"),
                "status": status,
                "tables": ",".join(tables),
            }
        ]
    )
    try:
        with engine.begin() as conn:
            if _columns(conn, PLANS_TABLE) is not None:
                seen = conn.execute(
                    sa.text(f"SELECT COUNT(*) FROM {_quote(conn, PLANS_TABLE)} WHERE plan_id = :p"),
                    {"p": plan_id},
                ).scalar()
                if seen:
                    raise InputError([f"--to-db: plan {plan_id} is already in the database"])
            _append(conn, PLANS_TABLE, row)
            for name, frame in tables.items():
                _append(
                    conn, PREFIX + name, frame.assign(plan_id=plan_id)[["plan_id", *frame.columns]]
                )
    except InputError:
        raise
    except Exception as exc:
        raise InputError([f"--to-db: {safe_url(url)}: cannot write ({_first_line(exc)})"]) from None
    finally:
        engine.dispose()
    log.info("plan %s appended to %s", plan_id, safe_url(url))
    return plan_id


def list_plans(url: str) -> pd.DataFrame:
    """Every plan in the database (``allocator_plans``), oldest first; empty when none.

    Raises
    ------
    InputError
        When the database cannot be reached.
    """
    import sqlalchemy as sa

    engine = connect(url, key="plans")
    try:
        with engine.connect() as conn:
            if _columns(conn, PLANS_TABLE) is None:
                return pd.DataFrame(columns=["plan_id", "scenario", "created", "status", "tables"])
            query = f"SELECT * FROM {_quote(conn, PLANS_TABLE)} ORDER BY created, plan_id"
            return pd.read_sql_query(sa.text(query), conn)
    except InputError:
        raise
    except Exception as exc:
        raise InputError([f"plans: {safe_url(url)}: cannot read ({_first_line(exc)})"]) from None
    finally:
        engine.dispose()


def write_company_database(
    tables: Any, db_path: Path, *, scenario_name: str, yaml_path: Path | None = None
) -> Path:
    """Write a company's input tables into a NEW DuckDB file, and a scenario reading them.

    The tables hold the same columns and values as the CSV files of
    :func:`allocator.demo.files.write_company`; the scenario (``<db stem>.yaml`` beside the
    file unless ``yaml_path``) has the demo's settings and ``data:`` entries
    ``{url: duckdb:///<file name>, table: <name>}``, relative to itself.

    Raises
    ------
    InputError
        When the database file or the scenario file exists already (never overwritten).
    """
    import yaml

    from allocator.demo.files import demo_settings, export_frame
    from allocator.io.files import atomic_write
    from allocator.io.tables import TABLE_NAMES

    db_path = Path(db_path).resolve()
    yaml_path = Path(yaml_path or db_path.with_suffix(".yaml")).resolve()
    existing = [str(p) for p in (db_path, yaml_path) if p.exists()]
    if existing:
        raise InputError([f"{p}: exists already: refusing to overwrite it" for p in existing])
    frames = {
        name: export_frame(name, getattr(tables, name))
        for name in TABLE_NAMES
        if getattr(tables, name) is not None
    }
    db_path.parent.mkdir(parents=True, exist_ok=True)
    write_frames(f"duckdb:///{db_path}", frames, key="--duckdb")
    relative = os.path.relpath(db_path, yaml_path.parent)
    data = {name: {"url": f"duckdb:///{relative}", "table": name} for name in frames}
    blocks = demo_settings(tables, output_dir=f"output/{scenario_name}")
    text = f"{tables.summary()} in {db_path.name}, made by allocator generate --duckdb"
    doc = {"name": scenario_name, "description": text, "data": data, **blocks}
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    atomic_write(yaml_path, lambda p: p.write_text(body, encoding="utf-8"))
    return yaml_path


def append_plan(plan: Any, url: str) -> str:
    """Append a solved :class:`~allocator.plan.Plan`'s tables to ``url``; a line to print."""
    from allocator.report.output import plan_tables

    plan_id = write_plan_tables(
        url,
        plan_tables(plan),
        scenario=plan.scenario.name,
        scenario_hash=plan.scenario.hash(),
        status=plan.status,
    )
    return f"plan {plan_id} appended to {safe_url(url)} (list them: allocator plans URL)"
