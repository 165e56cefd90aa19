"""The typed schema of a scenario file: every key, its type and its documented default.

Each block of the YAML maps to one frozen pydantic model; unknown keys are rejected
(``extra="forbid"``). ``docs/scenario.md`` documents the same keys; keep the two in step.
A constraint family that is absent from ``assignment.constraints`` is off; ``{}`` turns it on
with the defaults below.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from allocator.io.database import check_url

NonNeg = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseTable(_Block):
    """``data.<table>: {url, table}`` or ``{url, query}``: a table read from a database.

    ``url`` is a SQLAlchemy URL (``duckdb:///company.duckdb``; a relative SQLite or DuckDB file
    is relative to the YAML file); ``${VAR}`` comes from the environment or a ``.env`` file, and
    a password written into the URL is refused (``allocator/io/database.py``).
    """

    url: str
    table: str | None = None
    query: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, raw: Any) -> Any:
        # before validation, on the whole mapping: an error never echoes the URL itself
        if isinstance(raw, dict) and isinstance(raw.get("url"), str):
            try:
                check_url(raw["url"])
            except ValueError as exc:
                raise ValueError(f"url: {exc}") from None
        return raw

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseTable:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table: (a table name) or query: (a SELECT)")
        return self


Table = str | DatabaseTable | None


class DataPaths(_Block):
    """``data:``: the input tables: file paths, relative to the YAML file that names them, or
    database tables (:class:`DatabaseTable`)."""

    reps: Table = None
    accounts: Table = None
    regions: Table = None
    adjacency: Table = None
    products: Table = None
    history: Table = None
    account_potential: Table = None
    commitments: Table = None
    leaves: Table = None
    account_splits: Table = None
    managers: Table = None


class GeographySettings(_Block):
    """``geography:``: how a polygon file in ``data.regions`` becomes regions and links.

    ``id_column``/``name_column``/``layer``: where the ids and names are in the file.
    ``contact``: ``queen`` (touching at a point is enough), ``rook`` (a shared border line), or
    ``none`` (the polygons give no links; only ``data.adjacency`` does). ``snap_m``: polygons
    closer than this many metres touch (closes the gaps of simplified files);
    ``min_border_m``: links need a shared border at least this long.
    """

    id_column: str = "region_id"
    name_column: str = "name"
    layer: str | None = None
    contact: Literal["queen", "rook", "none"] = "queen"
    snap_m: NonNeg = 1.0
    min_border_m: NonNeg = 0.0


# ---------------------------------------------------------------- assignment


class CapacitySettings(_Block):
    """``capacity[rep]``: workload (plus travel time) <= capacity x (1 + tolerance)."""

    tolerance: NonNeg = 0.0
    travel_hours_per_km: NonNeg = 0.0


class BalanceSettings(_Block):
    """``balance[rep]``: share of potential/workload within +-tolerance of the fair share."""

    measure: Literal["potential", "workload", "both"] = "potential"
    tolerance: Annotated[float, Field(gt=0, le=1)] = 0.10
    fair_share: Literal["experience_ramp", "ramp", "equal"] = "ramp"


class ContinuitySettings(_Block):
    """``continuity``: locked accounts stay; at most a share of accounts/potential moves."""

    max_moved_share: Share | None = None
    measure: Literal["accounts", "potential"] = "accounts"
    respect_locked: bool = True


class MaxAccountsSettings(_Block):
    """``max_accounts[rep]``: at most ``limit`` accounts per rep."""

    limit: Annotated[int, Field(ge=1)] = 150


class SkillsSettings(_Block):
    """``skills[account]``: required product skills must be among the rep's skills."""


class ContiguitySettings(_Block):
    """``contiguity[rep]``: the regions a rep serves are connected (within each connected part
    of the map with ``per_component``); with ``include_home`` a rep serves its home region."""

    include_home: bool = True
    per_component: bool = False
    max_rounds: Annotated[int, Field(ge=1)] = 50


class CandidateSettings(_Block):
    """``candidates``: which rep-account arcs enter the model (pruning with exact pricing)."""

    nearest: Annotated[int, Field(ge=1)] = 12
    max_km: NonNeg | None = None
    price_out: bool = True


class ManagerSettings(_Block):
    """``managers[m]``: the potential (or workload) below each manager within +-tolerance of the
    sum of its reps' fair shares (``tolerance: null``: no band); with ``contiguous`` the regions
    served by each manager's reps (any depth) form one connected piece of the region graph
    (``district_contiguity[m]``, needs ``contiguity``; ``models/organisation.md``)."""

    measure: Literal["potential", "workload"] = "potential"
    tolerance: Annotated[float, Field(gt=0, le=1)] | None = 0.10
    contiguous: bool = False


class AssignmentConstraints(_Block):
    """``assignment.constraints``: each family is off when absent."""

    capacity: CapacitySettings | None = None
    balance: BalanceSettings | None = None
    experience: dict[str, NonNeg] | None = None
    skills: SkillsSettings | None = None
    max_accounts: MaxAccountsSettings | None = None
    continuity: ContinuitySettings | None = None
    contiguity: ContiguitySettings | None = None
    managers: ManagerSettings | None = None
    candidates: CandidateSettings = CandidateSettings()

    @model_validator(mode="after")
    def _contiguous_managers_need_contiguity(self) -> AssignmentConstraints:
        if self.managers is not None and self.managers.contiguous and self.contiguity is None:
            raise ValueError(
                "managers.contiguous needs contiguity (add assignment.constraints.contiguity: {})"
            )
        return self


class ObjectiveWeights(_Block):
    """``assignment.objective``: weights of the objective terms.

    travel: per km (great-circle x visits); balance: per percentage point of deviation from a
    rep's fair share, summed over reps; disruption: per 1,000 of moved potential.
    ``mode: lexicographic`` optimises ``order`` one goal at a time, each earlier goal held within
    ``lexicographic_tolerance`` (relative) of its optimum.
    """

    travel: NonNeg = 1.0
    balance: NonNeg = 0.0
    disruption: NonNeg = 0.0
    mode: Literal["weighted", "lexicographic"] = "weighted"
    order: tuple[Literal["travel", "balance", "disruption"], ...] = (
        "travel",
        "balance",
        "disruption",
    )
    lexicographic_tolerance: NonNeg = 0.01


class AssignmentSettings(_Block):
    """``assignment:``: the account-to-rep model (``models/assignment.md``)."""

    enabled: bool = True
    level: Literal["account", "region"] = "account"
    # a planner's edits to replay (allocator serve writes it): account_id, rep_id, locked, who, why
    overrides: str | None = None
    objective: ObjectiveWeights = ObjectiveWeights()
    constraints: AssignmentConstraints = AssignmentConstraints(
        capacity=CapacitySettings(),
    )

    @model_validator(mode="after")
    def _districts_not_lexicographic(self) -> AssignmentSettings:
        managers = self.constraints.managers
        if managers is not None and managers.contiguous and self.objective.mode == "lexicographic":
            raise ValueError(
                "constraints.managers.contiguous works with objective.mode: weighted only (the "
                "lexicographic cut rounds join reps' territories, not districts)"
            )
        return self


# ---------------------------------------------------------------- target and quota


class TargetWeights(_Block):
    """``target.weights``: weights of the four references; they must sum to 1."""

    plan: NonNeg = 0.25
    history: NonNeg = 0.25
    industry: NonNeg = 0.25
    competitor: NonNeg = 0.25

    @model_validator(mode="after")
    def _sum_to_one(self) -> TargetWeights:
        total = self.plan + self.history + self.industry + self.competitor
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the four weights must sum to 1, they sum to {total:g}")
        return self


class Band(_Block):
    """A share band ``{min, max}`` of the target."""

    min: Share = 0.0
    max: Share = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self


class MixSettings(_Block):
    """``target.mix``: share bands per product category and/or per product."""

    categories: dict[Literal["attack", "volume", "profit", "image"], Band] = {}
    products: dict[str, Band] = {}


class TargetSettings(_Block):
    """``target:``: next period's company target (``models/target.md``)."""

    start: str = "2027-01"
    months: Annotated[int, Field(ge=1, le=36)] = 12
    amount: NonNeg | None = None
    plan: NonNeg | None = None
    industry_growth: float = 0.0
    competitor_growth: float = 0.0
    weights: TargetWeights = TargetWeights()
    mix: MixSettings = MixSettings()
    by_manager: dict[str, NonNeg] = {}


class FairnessSettings(_Block):
    """``quota.fairness``: quota-to-potential ratio within +-band of the product's common ratio."""

    band: Annotated[float, Field(gt=0, le=1)] = 0.15


class HistoryBounds(_Block):
    """``quota.history``: quota between last year's actual x (1+min_growth) and x (1+max_growth)."""

    min_growth: float | None = None
    max_growth: float | None = None


class TierSettings(_Block):
    """``quota.tiers``: base/target/stretch, fixed factors or attainment probabilities."""

    method: Literal["fixed", "probability"] = "fixed"
    base: Annotated[float, Field(gt=0, le=1)] = 0.9
    stretch: Annotated[float, Field(ge=1)] = 1.15
    base_probability: Annotated[float, Field(gt=0, lt=1)] = 0.8
    stretch_probability: Annotated[float, Field(gt=0, lt=1)] = 0.2

    @model_validator(mode="after")
    def _base_below_stretch(self) -> TierSettings:
        # base is reached more often than the target (p >= 0.5), stretch less often (p <= 0.5)
        if not self.stretch_probability <= 0.5 <= self.base_probability:
            raise ValueError(
                f"base_probability ({self.base_probability:g}) must be >= 0.5 and "
                f"stretch_probability ({self.stretch_probability:g}) <= 0.5"
            )
        return self


class CalendarSettings(_Block):
    """``quota.calendar``: working days (weekdays 0=Mon..6=Sun off) and holidays."""

    weekend: tuple[Annotated[int, Field(ge=0, le=6)], ...] = (5, 6)
    holidays: tuple[date, ...] = ()


class ExpenseSettings(_Block):
    """``quota.expense``: expense budget allocated with the quota (``models/quota.md``)."""

    budget: NonNeg
    max_ratio: Annotated[float, Field(gt=0)] = 0.1
    region_max_ratio: dict[str, Annotated[float, Field(gt=0)]] = {}
    elasticity: Annotated[float, Field(gt=0, lt=1)] = 0.3


class QuotaSettings(_Block):
    """``quota:``: the quota LP and its phasing (``models/quota.md``)."""

    enabled: bool = True
    fairness: FairnessSettings = FairnessSettings()
    cap_share: Annotated[float, Field(gt=0)] | None = None
    history: HistoryBounds = HistoryBounds()
    tiers: TierSettings = TierSettings()
    calendar: CalendarSettings = CalendarSettings()
    expense: ExpenseSettings | None = None
    # > 1 guarantees commitments that already meet totals and band come back untouched
    commitment_weight: NonNeg = 2.0


# ---------------------------------------------------------------- solver and output


class SolverSettings(_Block):
    """``solver:``: backend, limits and threads (``allocator/solver/__init__.py``).

    ``time_limit`` bounds a whole run, every stage and solver call together
    (:mod:`allocator.solver.deadline`), not each call.
    """

    name: Literal["highs", "cbc"] = "highs"
    time_limit: Annotated[float, Field(gt=0)] = 60.0
    gap: Annotated[float, Field(ge=0, lt=1)] = 1e-4
    threads: Annotated[int, Field(ge=1)] | None = None
    msg: bool = False


class OutputSettings(_Block):
    """``output:``: where results go and in which formats."""

    dir: str | None = None
    formats: tuple[Literal["csv", "parquet", "json", "xlsx"], ...] = ("csv",)
    granularity: Literal["month", "week", "day"] = "month"
    #: a SQLAlchemy URL the plan's tables are appended to (``allocator/connect/db.py``)
    database: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("database"), str):
            try:
                check_url(raw["database"])
            except ValueError as exc:
                raise ValueError(f"database: {exc}") from None
        return raw


# ---------------------------------------------------------------- tracking and activities


class RebalanceSettings(_Block):
    """``track.rebalance``: re-solving the territory when reps leave, join or change capacity."""

    # per 1,000 of moved potential; far above travel and balance so only forced moves happen
    disruption: NonNeg = 1000.0
    new_hire_ramp: Share = 0.5
    gap: Annotated[float, Field(ge=0, lt=1)] = 1e-4


class TrackSettings(_Block):
    """``track:``: attainment, pace and rebalancing during the period (``docs/tracking.md``)."""

    behind_margin: Share = 0.1
    rebalance: RebalanceSettings = RebalanceSettings()


class FunnelSettings(_Block):
    """``activities.segments.<segment>``: the sales funnel of one account segment."""

    deal_size: Annotated[float, Field(gt=0)]
    win_rate: Annotated[float, Field(gt=0, le=1)]
    meetings_per_deal: NonNeg
    calls_per_meeting: NonNeg


class ActivitySettings(_Block):
    """``activities:``: quota -> opportunities, meetings, calls per week (``docs/tracking.md``)."""

    segments: dict[str, FunnelSettings] = {}
    default: FunnelSettings | None = None
    hours_per_meeting: NonNeg = 1.5
    hours_per_call: NonNeg = 0.25
    capacity_share: Annotated[float, Field(gt=0, le=1)] = 1.0


# ---------------------------------------------------------------- organisation


class StaffingSettings(_Block):
    """``staffing:``: ramp curves and the period of capacity hours (``models/organisation.md``).

    ``ramp_schedules`` names monthly shares from a rep's start month (``new_hire: [0.25, 0.5,
    0.75, 1.0]``); ``reps.ramp_schedule`` names one (or writes shares in the cell);
    ``default_schedule`` applies to reps with a ``start`` and no schedule of their own.
    ``capacity_period`` says whether ``reps.capacity`` is hours per plan year (default) or per
    month; ``accounts.workload`` is always hours per plan year.
    """

    ramp_schedules: dict[str, tuple[Share, ...]] = {}
    default_schedule: str | None = None
    capacity_period: Literal["year", "month"] = "year"

    @model_validator(mode="after")
    def _known_default(self) -> StaffingSettings:
        if self.default_schedule is not None and self.default_schedule not in self.ramp_schedules:
            known = ", ".join(sorted(self.ramp_schedules)) or "none defined"
            raise ValueError(
                f"default_schedule {self.default_schedule!r} is not one of ramp_schedules ({known})"
            )
        empty = [name for name, shares in self.ramp_schedules.items() if not shares]
        if empty:
            raise ValueError(f"ramp_schedules.{empty[0]}: expected at least one share")
        return self
