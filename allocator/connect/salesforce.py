"""A plan as Salesforce data-loader files: territories, their users and their accounts.

Writes three CSV files named after the objects of Salesforce's territory model, with the field
names of Salesforce's object reference (Sales Territories, API 30.0 and later):

- ``Territory2.csv``: ``Name``, ``DeveloperName``, ``Territory2ModelId``, ``Territory2TypeId``,
  ``ParentTerritory2Id``, ``Description``. One territory per rep who owns accounts, and one per
  manager above them when the reps table has a ``manager_id`` column (parents first).
- ``UserTerritory2Association.csv``: ``Territory2Id``, ``UserId``, ``RoleInTerritory2``.
- ``ObjectTerritory2Association.csv``: ``ObjectId``, ``Territory2Id``, ``AssociationCause``
  (``Territory2Manual``: allocator, not a rule, put the account there).

Salesforce ids come from ``crm_ids.csv`` (:func:`read_crm_ids`): columns ``kind``, ``id``,
``crm_id``; ``kind`` is ``rep`` (a User), ``account`` (an Account), ``model`` (the
Territory2Model the territories go into), ``type`` (their Territory2Type) or ``territory``
(a territory already loaded, by its DeveloperName). Territories are new records until they are
loaded, so the association rows need their ids: load ``Territory2.csv`` first, add the ids from
the data loader's success file as ``territory`` rows, and export again. Every id that cannot be
mapped is reported by name in ``unmapped.csv`` and the summary; its rows are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocator.io.files import atomic_write
from allocator.io.rows import RowProblems, read_rows

__all__ = [
    "FIELDS",
    "KINDS",
    "SalesforceFiles",
    "read_crm_ids",
    "salesforce_files",
    "write_salesforce",
]

#: The columns of each file, in Salesforce's object reference spelling.
FIELDS: dict[str, tuple[str, ...]] = {
    "Territory2": (
        "Name",
        "DeveloperName",
        "Territory2ModelId",
        "Territory2TypeId",
        "ParentTerritory2Id",
        "Description",
    ),
    "UserTerritory2Association": ("Territory2Id", "UserId", "RoleInTerritory2"),
    "ObjectTerritory2Association": ("ObjectId", "Territory2Id", "AssociationCause"),
}
KINDS = ("rep", "account", "model", "type", "territory")
_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
_NAME_MAX, _DESCRIPTION_MAX = 80, 1000


@dataclass(frozen=True)
class SalesforceFiles:
    """The three object tables and what could not be mapped (kind, id, name, reason)."""

    territories: pd.DataFrame
    users: pd.DataFrame
    objects: pd.DataFrame
    unmapped: pd.DataFrame
    counts: Mapping[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"Territory2: {len(self.territories)} territories, UserTerritory2Association: "
            f"{len(self.users)} rows, ObjectTerritory2Association: {len(self.objects)} rows"
        ]
        if len(self.unmapped):
            lines.append(f"not mapped ({len(self.unmapped)}, see unmapped.csv):")
            for (kind, reason), group in self.unmapped.groupby(["kind", "reason"], sort=False):
                pairs = list(zip(group["id"], group["name"], strict=True))
                shown = ", ".join(f"{i} ({n})" if n else str(i) for i, n in pairs[:8])
                more = f", ... {len(group) - 8} more" if len(group) > 8 else ""
                lines.append(f"  {kind}: {shown}{more}: {reason}")
        return "\n".join(lines)


def read_crm_ids(path: str | Path) -> dict[str, dict[str, str]]:
    """``kind -> {our id -> Salesforce id}`` from ``crm_ids.csv`` (CSV, Excel or Parquet).

    Raises
    ------
    InputError
        A missing column, an unknown kind, a malformed Salesforce id (15 or 18 letters and
        digits) or an id given twice, each naming the file and row.
    """
    frame, rows = read_rows(path)
    problems = RowProblems(frame, str(path), rows)
    missing = [c for c in ("kind", "id", "crm_id") if c not in frame.columns]
    if missing:
        problems.problems.append(
            f"{path}: missing column(s) {', '.join(missing)} (expected kind, id, crm_id)"
        )
        problems.raise_if_any()
    text = frame[["kind", "id", "crm_id"]].map(lambda v: "" if pd.isna(v) else str(v).strip())
    text["kind"] = text["kind"].str.lower()
    problems.cells(~text["kind"].isin(KINDS), "kind", f"one of {', '.join(KINDS)}")
    problems.cells(
        text["id"] == "", "id", "our id of the rep, account, territory (model and type: any label)"
    )
    problems.cells(
        ~text["crm_id"].map(lambda v: bool(_ID.match(v))),
        "crm_id",
        "a Salesforce id: 15 or 18 letters and digits",
    )
    problems.cells(
        text.duplicated(["kind", "id"]) & (text["id"] != ""), "id", "an id given once per kind"
    )
    problems.raise_if_any()
    out: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    for kind, ours, theirs in text.itertuples(index=False):
        out[kind][ours] = theirs
    return out


def developer_name(text: str) -> str:
    """A valid DeveloperName: letters, digits and single underscores, starting with a letter."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name or not name[0].isalpha():
        name = "T_" + name
    return name[:_NAME_MAX].rstrip("_")


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3`` ... when taken (ids that differ only in non-ASCII)."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name[: _NAME_MAX - len(str(n)) - 1]}_{n}"
    taken.add(candidate)
    return candidate


def _single(ids: Mapping[str, str], kind: str, unmapped: list[dict[str, str]]) -> str:
    if len(ids) == 1:
        return next(iter(ids.values()))
    reason = "needs exactly one row" + (f", found {len(ids)}" if ids else "")
    unmapped.append({"kind": kind, "id": "", "name": "", "reason": f"crm_ids.csv {reason}"})
    return ""


def salesforce_files(
    reps: pd.DataFrame,
    owners: pd.Series,
    accounts: pd.DataFrame,
    ids: Mapping[str, Mapping[str, str]],
    *,
    plan_name: str,
    prefix: str = "",
) -> SalesforceFiles:
    """The three object tables of a plan.

    Parameters
    ----------
    reps
        rep_id, name and the plan's totals (``accounts``, ``potential``, ``quota``); an optional
        ``manager_id`` (and ``manager_name``) builds the parent territories.
    owners
        account_id -> rep_id.
    accounts
        account_id, name.
    ids
        :func:`read_crm_ids`.
    """
    unmapped: list[dict[str, str]] = []
    model = _single(ids.get("model", {}), "model", unmapped)
    kind_id = _single(ids.get("type", {}), "type", unmapped)
    known = ids.get("territory", {})
    served = reps[reps["rep_id"].isin(set(owners))].copy()
    names = dict(zip(reps["rep_id"], reps["name"], strict=True))
    rows: list[dict[str, str]] = []
    parents: dict[str, str] = {}
    if "manager_id" in served.columns:
        for manager in sorted(
            {str(m) for m in served["manager_id"] if str(m).strip() and str(m) != "nan"}
        ):
            dev = developer_name(f"{prefix}MGR_{manager}")
            parents[manager] = dev
            label = names.get(manager, manager)
            rows.append(
                _territory(
                    f"{label} (manager)", dev, model, kind_id, "", f"{plan_name}: manager {manager}"
                )
            )
    territory_of: dict[str, str] = {}
    taken = set(parents.values())
    waiting: set[str] = set()
    for rep in served.itertuples(index=False):
        dev = _unique(developer_name(f"{prefix}{rep.rep_id}"), taken)
        territory_of[rep.rep_id] = dev
        manager = str(getattr(rep, "manager_id", "") or "")
        parent = known.get(parents[manager], "") if manager in parents else ""
        if manager in parents and not parent and manager not in waiting:
            waiting.add(manager)  # one row per parent territory, not one per rep under it
            unmapped.append(
                {
                    "kind": "territory",
                    "id": parents[manager],
                    "name": names.get(manager, manager),
                    "reason": "parent territory not loaded yet: ParentTerritory2Id left empty",
                }
            )
        about = (
            f"{plan_name}: {int(rep.accounts)} accounts, potential {rep.potential:,.0f}, "
            f"quota {rep.quota:,.0f}"
        )
        rows.append(_territory(f"{rep.name} ({rep.rep_id})", dev, model, kind_id, parent, about))
    territories = pd.DataFrame(rows, columns=list(FIELDS["Territory2"]))
    missing_territories = [dev for dev in territory_of.values() if dev not in known]
    for dev in missing_territories:
        unmapped.append(
            {
                "kind": "territory",
                "id": dev,
                "name": "",
                "reason": "no Salesforce id yet: load Territory2.csv, add the ids as "
                "territory rows, export again",
            }
        )
    users = _users(served, territory_of, known, ids.get("rep", {}), unmapped)
    objects = _objects(owners, accounts, territory_of, known, ids.get("account", {}), unmapped)
    return SalesforceFiles(
        territories,
        users,
        objects,
        pd.DataFrame(unmapped, columns=["kind", "id", "name", "reason"]),
    )


def _territory(
    name: str, dev: str, model: str, kind: str, parent: str, about: str
) -> dict[str, str]:
    return dict(
        zip(
            FIELDS["Territory2"],
            (name[:_NAME_MAX], dev, model, kind, parent, about[:_DESCRIPTION_MAX]),
            strict=True,
        )
    )


def _users(served, territory_of, known, users, unmapped) -> pd.DataFrame:
    rows = []
    for rep in served.itertuples(index=False):
        user = users.get(rep.rep_id, "")
        if not user:
            unmapped.append(
                {
                    "kind": "rep",
                    "id": rep.rep_id,
                    "name": rep.name,
                    "reason": "no Salesforce User id in crm_ids.csv",
                }
            )
        territory = known.get(territory_of[rep.rep_id], "")
        if user and territory:
            rows.append((territory, user, "Owner"))
    return pd.DataFrame(rows, columns=list(FIELDS["UserTerritory2Association"]))


def _objects(owners, accounts, territory_of, known, crm, unmapped) -> pd.DataFrame:
    names = dict(zip(accounts["account_id"], accounts["name"], strict=True))
    rows = []
    for account, rep in owners.items():
        object_id = crm.get(account, "")
        if not object_id:
            unmapped.append(
                {
                    "kind": "account",
                    "id": account,
                    "name": names.get(account, ""),
                    "reason": "no Salesforce Account id in crm_ids.csv",
                }
            )
        territory = known.get(territory_of.get(rep, ""), "")
        if object_id and territory:
            rows.append((object_id, territory, "Territory2Manual"))
    return pd.DataFrame(rows, columns=list(FIELDS["ObjectTerritory2Association"]))


def write_salesforce(files: SalesforceFiles, outdir: Path) -> list[Path]:
    """Write the three object CSVs and ``unmapped.csv`` (UTF-8, as the data loader reads)."""
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (
        ("Territory2", files.territories),
        ("UserTerritory2Association", files.users),
        ("ObjectTerritory2Association", files.objects),
        ("unmapped", files.unmapped),
    ):
        path = outdir / f"{name}.csv"
        atomic_write(
            path, lambda p, f=frame: f.to_csv(p, index=False, encoding="utf-8", lineterminator="\n")
        )
        written.append(path)
    return written
