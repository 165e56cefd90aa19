"""Input tables read from a database through SQLAlchemy, with credentials kept out of files.

A table under ``data:`` may be ``{url: ..., table: ...}`` or ``{url: ..., query: ...}``. The URL
is a SQLAlchemy URL (``duckdb:///company.duckdb``, ``sqlite:///crm.db``,
``postgresql+psycopg://planner:${PGPASSWORD}@db.example.com/sales``); ``${VAR}`` is replaced by
the environment variable ``VAR`` or, when the environment lacks it, by ``VAR`` from a ``.env``
file (python-dotenv; the first one found from the working folder upwards). A password written
into the YAML itself is refused (:func:`check_url`), and a URL is only ever shown or recorded
with its password hidden (:func:`safe_url`). Reading is :func:`read_table`; :func:`rows_sha256`
is the hash of the rows read that the manifest records.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.exceptions import InputError, ScenarioError

__all__ = [
    "check_url",
    "connect",
    "interpolate",
    "read_table",
    "resolve_file_url",
    "rows_sha256",
    "safe_url",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_USERINFO = re.compile(r"^[^:/]+://(?P<user>[^:@/]*):(?P<password>[^@/]*)@")
#: Dialects whose database is a file: a relative path is relative to the scenario file.
_FILE_DIALECTS = re.compile(
    r"^(?P<head>(?:sqlite|duckdb)(?:\+\w+)?:///)(?P<path>[^?]*)(?P<tail>\?.*)?$"
)


def check_url(url: str) -> str:
    """``url`` itself when it holds no literal password (``${VAR}`` is fine).

    Raises
    ------
    ValueError
        When the URL carries a password: credentials come from the environment or ``.env``.
    """
    match = _USERINFO.match(url)
    if match and match["password"] and not _VAR.fullmatch(match["password"]):
        raise ValueError(
            "the URL holds a password: write ${VARIABLE} in its place and set VARIABLE in the "
            "environment or in a .env file (never in the scenario)"
        )
    return url


def resolve_file_url(url: str, base: Path) -> str:
    """A SQLite or DuckDB URL with its relative file path made absolute against ``base``."""
    match = _FILE_DIALECTS.match(url)
    if not match or not match["path"] or match["path"] == ":memory:":
        return url
    path = Path(match["path"]).expanduser()
    if path.is_absolute() or _VAR.search(match["path"]):
        return url
    return f"{match['head']}{(base / path).resolve()}{match['tail'] or ''}"


def _dotenv() -> Mapping[str, str | None]:
    from dotenv import dotenv_values, find_dotenv

    found = find_dotenv(usecwd=True)
    return dotenv_values(found) if found else {}


def interpolate(url: str, *, key: str) -> str:
    """``url`` with each ``${VAR}`` replaced from the environment, else from ``.env``.

    Raises
    ------
    ScenarioError
        Naming ``key`` and the variable that neither the environment nor ``.env`` sets.
    """
    names = _VAR.findall(url)
    if not names:
        return url
    env = {**{k: v for k, v in _dotenv().items() if v is not None}, **os.environ}
    missing = [n for n in names if n not in env]
    if missing:
        raise ScenarioError(
            f"{key}: the URL needs ${{{missing[0]}}}: set {missing[0]} in the environment or in "
            "a .env file in the working folder"
        )
    from urllib.parse import quote

    # a password may hold @ : / %: quote what goes into the user info, keep the rest verbatim
    at = url.find("@")
    return _VAR.sub(lambda m: quote(env[m[1]], safe="") if m.start() < at else env[m[1]], url)


def safe_url(url: str) -> str:
    """The URL to show and record: the password replaced by ``***`` (``${VAR}`` kept)."""
    match = _USERINFO.match(url)
    if not match or not match["password"] or _VAR.fullmatch(match["password"]):
        return url
    start, end = match.span("password")
    return url[:start] + "***" + url[end:]


def connect(url: str, *, key: str) -> Any:
    """A SQLAlchemy engine for ``url`` (interpolated); errors name ``key``, never the password.

    Raises
    ------
    InputError
        When the URL is malformed or its driver is not installed.
    """
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = safe_url(url)
    try:
        return sa.create_engine(interpolate(url, key=key))
    except NoSuchModuleError:
        driver = url.split(":", 1)[0]
        raise InputError(
            [
                f"{key}: {shown}: no SQLAlchemy driver for '{driver}' is installed "
                "(duckdb, sqlite and postgresql+psycopg come with allocator)"
            ]
        ) from None
    except (ArgumentError, ValueError) as exc:
        raise InputError(
            [f"{key}: {shown}: not a database URL ({_scrub(str(exc), url)})"]
        ) from None
    except ImportError as exc:
        raise InputError([f"{key}: {shown}: its driver cannot be imported ({exc})"]) from None


def _scrub(text: str, url: str) -> str:
    """``text`` (a driver's message) with any password of ``url`` removed, on one line."""
    first = text.strip().splitlines()[0] if text.strip() else text
    for value in {m["password"] for m in [_USERINFO.match(url)] if m and m["password"]}:
        first = first.replace(value, "***")
    try:
        real = interpolate(url, key="")
    except ScenarioError:
        return first
    match = _USERINFO.match(real)
    if match and match["password"]:
        first = first.replace(match["password"], "***")
    return first


def read_table(url: str, *, table: str | None, query: str | None, key: str) -> pd.DataFrame:
    """Every row of ``table`` (in the database's order) or of ``query``, as a DataFrame.

    Raises
    ------
    InputError
        When the database cannot be reached or the table or query fails; the message names
        ``key`` (``data.accounts``) and the URL with its password hidden.
    """
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    engine = connect(url, key=key)
    try:
        with engine.connect() as conn:
            if query is None:
                assert table is not None
                quote = engine.dialect.identifier_preparer.quote
                name = ".".join(quote(part) for part in table.split("."))
                query = f"SELECT * FROM {name}"
            frame = pd.read_sql_query(sa.text(query), conn)
    except (SQLAlchemyError, DBAPIError, pd.errors.DatabaseError) as exc:
        what = f"table {table}" if table is not None else "query"
        error = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) and exc.__cause__ else exc
        cause = _scrub(str(getattr(error, "orig", None) or error), url)
        raise InputError([f"{key}: {safe_url(url)}: cannot read the {what} ({cause})"]) from None
    finally:
        engine.dispose()
    frame.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    return frame


def rows_sha256(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows read, as CSV text (header included): what the manifest records."""
    text = frame.to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: Columns that name a row of a table without a unique key, for messages.
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "adjacency": ("region_a", "region_b"),
    "history": ("account_id", "product_id", "period"),
    "commitments": ("rep_id", "product_id"),
}


def row_labels(frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Each row's label by its key: ``account_id 'A0007'``; ``row n`` (1-based) without one."""
    present = [c for c in columns if c in frame.columns]
    if not present:
        return tuple(f"row {i + 1}" for i in range(len(frame)))
    cells = frame[present].astype(object).where(frame[present].notna(), "")
    labels = []
    for i, values in enumerate(cells.itertuples(index=False)):
        if all(str(v).strip() == "" for v in values):
            labels.append(f"row {i + 1} (no {', '.join(present)})")
        else:
            labels.append(
                ", ".join(f"{c} {str(v).strip()!r}" for c, v in zip(present, values, strict=True))
            )
    return tuple(labels)


def read_database(name: str, spec: Any, problems: Any) -> tuple[Any, dict[str, str]] | None:
    """Table ``name`` from its :class:`~allocator.io.settings.DatabaseTable` ``spec``.

    Returns the :class:`~allocator.io.readers.Raw` table, its rows labelled by their key
    (``account_id 'A0007'``) since a database has no row numbers, and its origin for the
    manifest (url without password, table or query, rows_sha256); None after adding the reason
    to ``problems`` when it cannot be read.
    """
    from allocator.io.readers import Raw
    from allocator.io.tables import KEYS

    key = f"data.{name}"
    try:
        frame = read_table(spec.url, table=spec.table, query=spec.query, key=key)
    except (InputError, ScenarioError) as exc:
        for line in getattr(exc, "problems", None) or [str(exc)]:
            problems.add(line)
        return None
    source = f"table {spec.table}" if spec.table is not None else "query"
    where = f"{key} ({safe_url(spec.url)}, {source})"
    rows = row_labels(frame, KEYS.get(name, ROW_KEYS.get(name, ())))
    origin = {"url": safe_url(spec.url), "rows_sha256": rows_sha256(frame)}
    origin.update({"table": spec.table} if spec.table is not None else {"query": spec.query})
    return Raw(name, frame, where, rows), origin
