"""Everything one ``allocator serve`` process works on: the opened plan, the session, the job.

:class:`Workspace` ties the pure parts together for the routes: it evaluates each version of
the plan once (:func:`~allocator.serve.recompute.evaluate`), turns states into the JSON the
page reads, starts and settles re-optimisations, saves, and compares with another plan.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import pandas as pd
from plotly.utils import PlotlyJSONEncoder

from allocator.plan import Plan, territory_tables
from allocator.report.comparison import compare
from allocator.serve.mapview import EditMap
from allocator.serve.recompute import Context, Evaluation, evaluate, make_context
from allocator.serve.reoptimise import Reoptimisation, diff_owners, pinned_tables
from allocator.serve.save import Saved, edited_plan, save_edited
from allocator.serve.session import Note, ServeError, Session, StaleError
from allocator.serve.source import Opened, open_source

__all__ = ["Workspace"]


class Workspace:
    """The opened plan under edit, its evaluations, its background job and its saves."""

    def __init__(self, opened: Opened) -> None:
        self.opened = opened
        self.ctx: Context = _context(opened)
        self.session = Session(
            opened.owners, reps=self.ctx.reps.index, data_locked=self.ctx.data_locked
        )
        self.job: Reoptimisation | None = None
        self.saved: list[Saved] = []
        self._cache: dict[int, Evaluation] = {}
        self._lock = threading.RLock()
        base = self.session.base
        self._base_eval = evaluate(self.ctx, base.owners, base.unlocked)
        self.map = _edit_map(opened, self.ctx, self.session, self._base_eval)

    # ------------------------------------------------------------ reading

    def evaluation(self) -> Evaluation:
        """The current version's :class:`Evaluation` (computed once per version)."""
        with self._lock:
            version, state = self.session.version, self.session.state
            if version not in self._cache:
                self._cache = {version: evaluate(self.ctx, state.owners, state.unlocked)}
            return self._cache[version]

    def state_json(self) -> dict[str, Any]:
        """The side panel's data: version, headline, rep table, fairness, violations, undo."""
        with self._lock:
            s, ev = self.session, self.evaluation()
            base = self._base_eval
            return {
                "version": s.version,
                "label": self.opened.label,
                "can_undo": s.can_undo,
                "can_redo": s.can_redo,
                "history": s.history(),
                "headline": _clean(dict(ev.headline)),
                "base_headline": _clean(dict(base.headline)),
                "terms": _clean(dict(ev.terms)),
                "fairness": _clean({k: dict(v) for k, v in ev.fairness.items()}),
                "reps": _records(ev.reps),
                "violations": [v.__dict__ for v in ev.violations],
                "edited": len(s.edited()),
                "locked": sorted(s.locked()),
                "warnings": list(self.opened.warnings),
                "job": self.job_json(),
                "saved": [str(x.folder) for x in self.saved],
            }

    def accounts_json(self) -> dict[str, Any]:
        """Static account and rep lists for the page's pickers."""
        acc = self.ctx.accounts
        colours = self.map.colours
        return {
            "accounts": {
                "account_id": list(acc.index),
                "region_id": acc["region_id"].astype(str).tolist(),
            },
            "reps": [
                {"rep_id": r, "name": str(n), "colour": colours[r]}
                for r, n in zip(self.ctx.reps.index, self.ctx.reps["name"], strict=True)
            ],
            "regions": sorted(acc["region_id"].astype(str).unique().tolist()),
        }

    def map_json(self) -> str:
        with self._lock:
            state = self.session.state
            fig = self.map.figure(state.owners, self.session.locked(), self.evaluation())
        return json.dumps(fig, cls=PlotlyJSONEncoder)

    # ------------------------------------------------------------ edits

    def edit(self, body: dict[str, Any]) -> dict[str, Any]:
        action = body.get("action")
        accounts = body.get("accounts") or []
        if not isinstance(accounts, list):
            raise ServeError("accounts: expected a list of account ids")
        note = Note(str(body.get("who") or ""), str(body.get("why") or ""))
        version = _version(body)
        if action == "move":
            self.session.move(accounts, str(body.get("rep") or ""), note, version=version)
        elif action == "lock":
            self.session.lock(accounts, note, version=version)
        elif action == "unlock":
            self.session.unlock(accounts, note, version=version)
        else:
            raise ServeError(f"unknown action {action!r}: expected move, lock or unlock")
        return self.state_json()

    def undo(self, body: dict[str, Any]) -> dict[str, Any]:
        self.session.undo(version=_version(body))
        return self.state_json()

    def redo(self, body: dict[str, Any]) -> dict[str, Any]:
        self.session.redo(version=_version(body))
        return self.state_json()

    # ------------------------------------------------------------ re-optimisation

    def reoptimise(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.session.check_version(_version(body))
            if self.job is not None and self.job.state == "running":
                raise ServeError("a re-optimisation is already running: wait for it")
            s = self.session
            tables = pinned_tables(
                self.ctx.tables, s.state.owners, s.state.pinned, s.state.unlocked
            )
            scenario = self.opened.scenario
            self.job = Reoptimisation.start(
                tables, scenario.assignment, scenario.solver, version=s.version
            )
            return self.job_json() or {}

    def job_json(self) -> dict[str, Any] | None:
        job = self.job
        if job is None:
            return None
        out: dict[str, Any] = {
            "state": job.state,
            "elapsed": round(job.elapsed, 1),
            "time_limit": job.time_limit,
            "lines": job.lines[-8:],
            "error": job.error,
            "version": job.version,
        }
        if job.state == "done" and job.owners is not None:
            out["diff"] = self._diff(job)
        return out

    def _diff(self, job: Reoptimisation) -> dict[str, Any]:
        assert job.owners is not None
        now = self.session.state
        moves = diff_owners(now.owners, job.owners, self.ctx.accounts["potential"])
        after = evaluate(self.ctx, job.owners.reindex(now.owners.index), now.unlocked)
        before = self.evaluation()
        keys = [k for k in after.headline if k in before.headline]
        return {
            "moves": _records(moves.head(200)),
            "moved": len(moves),
            "metrics": [
                {"metric": k, "before": before.headline[k], "after": after.headline[k]}
                for k in keys
            ],
            "violations_after": [v.text for v in after.violations],
        }

    def settle(self, body: dict[str, Any], *, accept: bool) -> dict[str, Any]:
        with self._lock:
            job = self.job
            if job is None or job.state == "running":
                raise ServeError("no finished re-optimisation to accept or discard")
            if accept:
                if job.owners is None:
                    raise ServeError(f"the re-optimisation found no plan: {job.error}")
                if job.version != self.session.version:
                    self.job = None
                    raise StaleError(
                        "the plan was edited after this re-optimisation started; its result is "
                        "stale and was discarded: re-optimise again"
                    )
                self.session.adopt(job.owners, "accepted re-optimisation", version=_version(body))
            self.job = None
            return self.state_json()

    # ------------------------------------------------------------ save and compare

    def save(self, body: dict[str, Any]) -> dict[str, Any]:
        folder = str(body.get("folder") or "").strip()
        if not folder:
            raise ServeError("folder: give the path of a NEW folder to save the plan into")
        with self._lock:
            self.session.check_version(_version(body))
            saved = save_edited(
                Path(folder), self.opened, self.ctx, self.session, self.evaluation()
            )
            self.saved.append(saved)
            return {
                "folder": str(saved.folder),
                "files": [p.name for p in saved.files],
                "overrides": saved.overrides,
                "state": self.state_json(),
            }

    def compare(self, body: dict[str, Any]) -> dict[str, Any]:
        other = str(body.get("other") or "").strip()
        if not other:
            raise ServeError("other: give a plan folder or a scenario file to compare with")
        opened = open_source(Path(other))
        with self._lock:
            current = edited_plan(
                self.opened, self.ctx, self.session, self.evaluation(), quotas=False
            )
        source: Plan | Path = opened.plan if opened.plan is not None else Path(other)
        result = compare([current, source], names=["this plan", opened.label])
        ctx = _context(opened)
        ev = evaluate(ctx, opened.owners)
        session = Session(opened.owners, reps=ctx.reps.index, data_locked=ctx.data_locked)
        side = _edit_map(opened, ctx, session, ev).figure(opened.owners, ctx.data_locked, ev)
        timing = result.metrics["metric"].str.contains("seconds")
        changed = result.shown_metrics()[result.metrics["differs"] & ~timing]
        return {
            "names": list(result.names),
            "metrics": _records(changed.head(40)),
            "owners": _records(result.owners.head(200)),
            "owners_total": len(result.owners),
            "settings": _records(result.settings),
            "map": json.loads(json.dumps(side, cls=PlotlyJSONEncoder)),
        }


def _context(opened: Opened) -> Context:
    """The plan's context on the tables the territory model reads (``territory_tables``: each
    rep's capacity and ramp over the months it is present), as the solve and its checker do."""
    view = territory_tables(opened.scenario, opened.tables)
    return make_context(view, opened.scenario.assignment, opened.owners, opened.rep_quota)


def _edit_map(opened: Opened, ctx: Context, session: Session, ev: Evaluation) -> EditMap:
    """The report's map of the opened plan, ready to be restyled after each edit."""
    plan = opened.plan or edited_plan(opened, ctx, session, ev, quotas=False)
    return EditMap(plan, ctx, title=opened.label)


def _version(body: dict[str, Any]) -> int | None:
    value = body.get("version")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ServeError(f"version: expected a whole number, got {value!r}") from None


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(row) for row in frame.to_dict(orient="records")]
