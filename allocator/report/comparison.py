"""Scenario comparison: a headline, metrics side by side, owner changes, quota changes, settings
that differ, a chart of the largest metric changes and the territory maps side by side.

:func:`compare` takes solved :class:`~allocator.plan.Plan` objects or output folders (as written
by ``allocator solve``: ``manifest.json``, ``metrics.json``, ``assignments.csv``, ``reps.csv``,
``map.json``) in any mix, two or more. The first one is the baseline: every change is "other
minus first". The number of metrics that differ is :meth:`Comparison.differing`, one count for
the terminal, the HTML and the Markdown (run times, which always differ, are left out of it).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from allocator.exceptions import InputError
from allocator.io.files import read_output_csv
from allocator.io.folder import Claim, Owner, claim, read_plan_manifest
from allocator.report.compare_views import (
    delta_chart,
    largest_words,
    quota_words,
    side_by_side_maps,
)
from allocator.report.document import Bullets, Section, Table, Text, write_document
from allocator.report.format import number
from allocator.report.metrics import plan_metrics

if TYPE_CHECKING:
    from allocator.plan import Plan

__all__ = ["Comparison", "Snapshot", "compare", "flatten", "snapshot", "write_comparison"]

_MISSING = "-"
log = logging.getLogger("allocator")
#: Metrics left out of the count of differences: run times differ on every run.
_TIMING = "seconds"


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys; lists become JSON text (comparable)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out |= flatten(value, f"{path}.")
        elif isinstance(value, list | tuple | Mapping):
            out[path] = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
        else:
            out[path] = value
    return out


@dataclass(frozen=True)
class Snapshot:
    """What a comparison reads from one plan: flat settings and metrics, owners, quotas."""

    name: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    owners: pd.Series  # account_id -> rep_id
    quotas: pd.Series  # rep_id -> quota of the horizon
    figure: go.Figure | None = None  # the territory map (allocator.report.map), when known


def snapshot(source: Plan | str | Path) -> Snapshot:
    """A :class:`Snapshot` of a plan, or of an output folder.

    Raises
    ------
    InputError
        When a folder is missing or lacks ``manifest.json``/``metrics.json``, or a file in it is
        unreadable.
    """
    if isinstance(source, str | Path):
        return _read_folder(Path(source))
    from allocator.report.map import territory_map

    plan = source
    reps = plan.reps_frame()
    return Snapshot(
        name=plan.scenario.name,
        settings=flatten(plan.scenario.model_dump(mode="json")),
        metrics=flatten({**plan.metrics(), **plan_metrics(plan)}),
        owners=plan.owners.astype(str),
        quotas=reps.set_index("rep_id")["quota"].astype(float),
        figure=territory_map(plan),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            [f"{path}: not found; is {path.parent} an allocator output folder?"]
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError([f"{path}: cannot read it ({exc})"]) from None
    if not isinstance(data, dict):
        raise InputError([f"{path}: expected a JSON object"])
    return data


def _read_folder(folder: Path) -> Snapshot:
    record = read_plan_manifest(folder)
    if record.get("status") == "infeasible":
        raise InputError(
            [f"{folder}: holds no plan (its scenario was infeasible: see report.html)"]
        )
    manifest = record.get("scenario", {})
    metrics = _read_json(folder / "metrics.json")
    assignments = read_output_csv(folder / "assignments.csv", ["account_id", "rep_id"])
    reps = read_output_csv(folder / "reps.csv", ["rep_id"])
    quotas = read_output_csv(folder / "quotas.csv", ["rep_id", "target"])
    if reps is not None and "quota" in reps.columns:
        by_rep = reps.set_index("rep_id")["quota"].replace("", "nan").astype(float)
    elif quotas is not None:
        by_rep = (
            quotas.assign(target=quotas["target"].astype(float)).groupby("rep_id")["target"].sum()
        )
    else:
        by_rep = pd.Series(dtype=float)
    owners = (
        assignments.set_index("account_id")["rep_id"]
        if assignments is not None
        else pd.Series(dtype=str)
    )
    return Snapshot(
        name=str(manifest.get("name") or folder.name),
        settings=flatten(manifest.get("settings") or {}),
        metrics=flatten(metrics),
        owners=owners,
        quotas=by_rep,
        figure=_read_figure(folder / "map.json"),
    )


def _read_figure(path: Path) -> go.Figure | None:
    """The map a plan's folder holds (``map.json``), or None when absent or unreadable."""
    if not path.exists():
        return None
    try:
        return pio.from_json(path.read_text(encoding="utf-8"), skip_invalid=True)
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read the map (%s); the comparison goes on without it", path, exc)
        return None


@dataclass(frozen=True)
class Comparison:
    """Two or more plans side by side; the first is the baseline of every change column."""

    names: tuple[str, ...]
    metrics: pd.DataFrame  # metric, a column per plan, "change <name>" per other plan, differs
    owners: pd.DataFrame  # account_id, one column per plan: accounts whose owner differs
    quotas: pd.DataFrame  # rep_id, one column per plan, changes, sorted by the largest change
    settings: pd.DataFrame  # key, one column per plan: scenario keys whose values differ
    figures: tuple[go.Figure | None, ...] = ()  # each plan's territory map, when known

    def shown_metrics(self) -> pd.DataFrame:
        """:attr:`metrics` for reading: values as text in the report's number format."""
        shown = self.metrics.drop(columns="differs")
        return shown.assign(**{c: shown[c].map(_shown) for c in shown.columns[1:]})

    def differing(self) -> pd.DataFrame:
        """The metrics that differ between the plans, run times left out: the one count that
        the terminal, the HTML and the Markdown all report."""
        timing = self.metrics["metric"].str.contains(_TIMING)
        return self.metrics[self.metrics["differs"] & ~timing]

    def count_line(self) -> str:
        """``"N of M metrics differ (run times left out)"``, the same words everywhere."""
        timing = int(self.metrics["metric"].str.contains(_TIMING).sum())
        return (
            f"{len(self.differing())} of {len(self.metrics) - timing} metrics differ "
            f"(run times left out)"
        )

    def headline(self) -> list[str]:
        """What changed, in a few sentences: moves, quotas, the largest metric changes, keys."""
        base = self.names[0]
        lines = [f"Against the baseline {base}:"]
        for name in self.names[1:]:
            moved = int((self.owners[name] != self.owners[base]).sum()) if len(self.owners) else 0
            lines.append(
                f"{name}: {number(moved)} accounts change owner; " + quota_words(self, name)
            )
        lines.append(self.count_line() + "; the largest changes: " + largest_words(self) + ".")
        if len(self.settings):
            keys = ", ".join(self.settings["key"].head(6))
            lines.append(f"{len(self.settings)} scenario key(s) differ: {keys}.")
        return lines

    def summary(self, *, rows: int = 15) -> str:
        """A plain-text digest for the terminal."""
        changed = self.shown_metrics().loc[self.differing().index]
        lines = [f"comparing {len(self.names)} plans: {' | '.join(self.names)} (baseline first)"]
        lines += ["", *self.headline()]
        lines += ["", f"{self.count_line()}:"]
        lines += [_text(changed.head(rows)) if len(changed) else "  (none)"]
        lines += ["", f"accounts that change owner: {len(self.owners)}"]
        if len(self.owners):
            lines += [_text(self.owners.head(rows))]
        lines += ["", "reps whose quota changes most:"]
        lines += [_text(self.quotas.head(rows)) if len(self.quotas) else "  (none)"]
        lines += ["", f"scenario keys that differ: {len(self.settings)}"]
        if len(self.settings):
            lines += [_text(self.settings)]
        return "\n".join(lines)

    def sections(self) -> list[Section]:
        """The comparison as report sections (for :func:`write_comparison`)."""
        shown = self.shown_metrics()
        out = [
            Section("Headline", (Bullets(tuple(self.headline())),)),
            Section(
                "Plans", (Bullets(tuple(self.names)), Text("Changes are against the first plan."))
            ),
        ]
        chart = delta_chart(self)
        if chart is not None:
            out.append(Section("Largest changes", (chart,)))
        maps = side_by_side_maps(self)
        if maps is not None:
            out.append(Section("Maps side by side", (maps,)))
        out += [
            Section(
                "Scenario keys that differ", (_table(self.settings, "no scenario key differs"),)
            ),
            Section(
                "Metrics",
                (
                    Text(f"{self.count_line()}:"),
                    _table(shown.loc[self.differing().index], "no metric differs"),
                    Text("Every metric:"),
                    Table(shown),
                ),
            ),
            Section(
                "Accounts that change owner", (_table(self.owners, "no account changes owner"),)
            ),
            Section(
                "Reps whose quota changes most", (_table(self.quotas, "no quotas to compare"),)
            ),
        ]
        return out


def _text(frame: pd.DataFrame) -> str:
    text = frame.to_string(index=False, na_rep=_MISSING, float_format=number)
    return "\n".join("  " + line for line in text.splitlines())


def _table(frame: pd.DataFrame, empty: str) -> Table | Text:
    return Table(frame) if len(frame) else Text(empty)


def compare(
    sources: Sequence[Plan | str | Path], *, names: Sequence[str] | None = None
) -> Comparison:
    """Compare plans and/or output folders; the first is the baseline.

    Raises
    ------
    InputError
        Fewer than two sources, ``names`` of the wrong length, or an unreadable folder.
    """
    if len(sources) < 2:
        raise InputError(
            [f"compare: needs at least two plans or output folders, got {len(sources)}"]
        )
    snaps = [snapshot(s) for s in sources]
    if names is not None and len(names) != len(snaps):
        raise InputError([f"compare: {len(names)} names for {len(snaps)} plans"])
    labels = _unique(list(names) if names is not None else [s.name for s in snaps])
    return Comparison(
        names=tuple(labels),
        metrics=_metrics(snaps, labels),
        owners=_owners(snaps, labels),
        quotas=_quotas(snaps, labels),
        settings=_settings(snaps, labels),
        figures=tuple(s.figure for s in snaps),
    )


def _unique(labels: list[str]) -> list[str]:
    out: list[str] = []
    for label in labels:
        out.append(label if label not in out else f"{label} ({len(out) + 1})")
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _shown(value: Any) -> str:
    """A metric value as text in the report's number format, None or NaN as '-'."""
    value_number = _number(value)
    if value_number is None:
        return _MISSING if value is None or value != value else str(value)
    return number(value_number)


def _metrics(snaps: list[Snapshot], labels: list[str]) -> pd.DataFrame:
    keys = list(dict.fromkeys(k for s in snaps for k in s.metrics))
    frame = pd.DataFrame({"metric": keys})
    for label, snap in zip(labels, snaps, strict=True):
        frame[label] = [snap.metrics.get(k, _MISSING) for k in keys]
    base = [_number(v) for v in frame[labels[0]]]
    for label in labels[1:]:
        other = [_number(v) for v in frame[label]]
        frame[f"change {label}"] = [
            None if a is None or b is None else b - a for a, b in zip(base, other, strict=True)
        ]
    frame["differs"] = [
        len({json.dumps(v, default=str, ensure_ascii=False) for v in row}) > 1
        for row in frame[labels].values
    ]
    return frame


def _owners(snaps: list[Snapshot], labels: list[str]) -> pd.DataFrame:
    wide = pd.DataFrame({label: s.owners for label, s in zip(labels, snaps, strict=True)})
    wide = wide.fillna(_MISSING).astype(str)
    differs = wide.nunique(axis=1) > 1
    return (
        wide[differs]
        .rename_axis("account_id")
        .reset_index()
        .sort_values("account_id", ignore_index=True)
    )


def _quotas(snaps: list[Snapshot], labels: list[str]) -> pd.DataFrame:
    wide = pd.DataFrame({label: s.quotas for label, s in zip(labels, snaps, strict=True)})
    if wide.empty or wide.isna().all().all():
        return pd.DataFrame(columns=["rep_id", *labels])
    wide = wide.fillna(0.0)
    for label in labels[1:]:
        wide[f"change {label}"] = wide[label] - wide[labels[0]]
    wide["spread"] = wide[labels].max(axis=1) - wide[labels].min(axis=1)
    wide = wide[wide["spread"] > 0].sort_values("spread", ascending=False)
    return wide.drop(columns="spread").rename_axis("rep_id").reset_index()


def _settings(snaps: list[Snapshot], labels: list[str]) -> pd.DataFrame:
    keys = sorted({k for s in snaps for k in s.settings})
    rows = []
    for key in keys:
        values = [
            json.dumps(s.settings.get(key), default=str, ensure_ascii=False)
            if key in s.settings
            else _MISSING
            for s in snaps
        ]
        if len(set(values)) > 1:
            rows.append([key, *(v.strip('"') for v in values)])
    return pd.DataFrame(rows, columns=["key", *labels])


def write_comparison(
    comparison: Comparison, outdir: str | Path | Claim, *, force: bool = False
) -> list[Path]:
    """Write ``comparison.html``, ``comparison.md`` and a manifest into ``outdir``.

    ``outdir`` is a folder or a :class:`~allocator.io.folder.Claim` taken before solving; a
    folder of another kind (a plan), with edited files or files allocator did not write is
    refused unless ``force``.

    Raises
    ------
    OutputError
        The folder cannot be used or written.
    """
    if not isinstance(outdir, Claim):
        with claim(outdir, Owner("comparison", None, "comparison"), force=force) as folder:
            return write_comparison(comparison, folder)
    title = f"Comparison: {' vs '.join(comparison.names)}"
    subtitle = f"{len(comparison.names)} plans; the first is the baseline"
    written = write_document(outdir, "comparison", title, comparison.sections(), subtitle=subtitle)
    return [*written, outdir.commit({"plans": list(comparison.names)})]
