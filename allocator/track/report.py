"""The files of the ``track`` and ``rebalance`` commands: CSV tables, reports and the burn-up.

:func:`write_track` writes the attainment, burn-up and re-phased tables with ``track.html`` /
``track.md`` (sections by :func:`track_sections`, burn-up small multiples by
:func:`burnup_figure`); :func:`write_rebalance` writes the moves and reps tables with
``rebalance.html`` / ``.md`` and the territory map. Documents are rendered by
:mod:`allocator.report.document`. pandas and matplotlib are imported inside the functions, so that
``allocator --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from allocator.io.folder import Claim
    from allocator.report.document import Section
    from allocator.track.attainment import Attainment, Rephased
    from allocator.track.rebalance import Rebalance

__all__ = ["burnup_figure", "track_sections", "write_csv", "write_rebalance", "write_track"]

_PANEL_COLUMNS = 4


def write_csv(frame: pd.DataFrame, path: Path | Claim, name: str | None = None) -> Path:
    """Write ``frame`` as CSV, datetime columns as ``YYYY-MM-DD``.

    Staged as ``name`` into a :class:`~allocator.io.folder.Claim` (its owner commits it), or
    written to the file ``path`` through a claim of its folder.

    Raises
    ------
    OutputError
        The folder cannot be used or written.
    """
    from allocator.io.folder import Claim, Owner, claim

    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype).startswith("datetime64"):
            out[column] = out[column].dt.strftime("%Y-%m-%d")

    def write(p: Path) -> None:
        out.to_csv(p, index=False, lineterminator="\n")

    if isinstance(path, Claim):
        return path.write(name or "table.csv", write)
    with claim(path.parent, Owner("table", None, path.name)) as folder:
        written = folder.write(path.name, write)
        folder.commit()
        return written


def _claimed(outdir: str | Path | Claim, kind: str, title: str) -> tuple[Claim, Claim | None]:
    """``outdir`` as a claim, and the claim to commit and release here (None: the caller's)."""
    from allocator.io.folder import Claim, Owner, claim

    if isinstance(outdir, Claim):
        return outdir, None
    folder = claim(outdir, Owner(kind, None, title))
    return folder, folder


def write_track(
    outdir: str | Path | Claim, attainment: Attainment, rephased: Rephased | None, *, title: str
) -> list[Path]:
    """Write attainment.csv, attainment_reps.csv, burnup.csv, the re-phased tables (rephase.csv,
    rephased_days.csv, rephased_months.csv), track.html / track.md with the burn-up chart and
    the folder's manifest (see :func:`allocator.io.folder.claim`; ``OutputError`` when the
    folder cannot be used)."""
    from allocator.report.document import write_document

    folder, own = _claimed(outdir, "track", title)
    try:
        tables = {
            "attainment": attainment.rep_product,
            "attainment_reps": attainment.reps,
            "burnup": attainment.burnup,
        }
        if rephased is not None:
            tables |= {
                "rephase": rephased.pairs,
                "rephased_days": rephased.days,
                "rephased_months": rephased.months,
            }
        written = [write_csv(frame, folder, f"{stem}.csv") for stem, frame in tables.items()]
        subtitle = f"as of {attainment.as_of:%Y-%m-%d}"
        sections = track_sections(attainment, rephased)
        written += write_document(folder, "track", title, sections, subtitle=subtitle)
        return [*written, folder.commit({"as_of": f"{attainment.as_of:%Y-%m-%d}"})]
    finally:
        if own is not None:
            own.release()


def track_sections(attainment: Attainment, rephased: Rephased | None) -> list[Section]:
    """The sections of track.html: summary, burn-up chart, reps behind, reps, re-phasing."""
    from allocator.report.document import Bullets, Image, Section, Table, Text
    from allocator.report.plots import png

    reps = attainment.reps
    behind = reps[reps["behind"]].sort_values("pace_attainment")
    shown = ["rep_id", "name", "team", "quota", "quota_to_date", "actual_to_date"]
    shown += ["attainment", "pace", "pace_attainment"]
    margin = f"{attainment.behind_margin:.0%}"
    sections = [
        Section(
            "Attainment", (Bullets(tuple(s.strip() for s in attainment.summary().splitlines())),)
        ),
        Section(
            "Burn-up per team",
            (
                Image(
                    "burnup",
                    "Cumulative quota (grey), actual sales (solid) and the projection at the "
                    "current run rate (dashed) per team",
                    png(burnup_figure(attainment.burnup, attainment.as_of)),
                ),
            ),
        ),
        Section(
            f"Reps behind pace by more than {margin}",
            (Table(behind[shown]),) if len(behind) else (Text("No rep is behind pace."),),
        ),
        Section("Reps", (Table(reps[shown]),)),
    ]
    if rephased is not None:
        per_rep = rephased.pairs.groupby("rep_id", as_index=False)[
            ["quota", "actual_to_date", "plan_remaining", "remaining", "new_total"]
        ].sum()
        sections.append(Section("Re-phased quotas", (Text(rephased.summary()), Table(per_rep))))
    return sections


def burnup_figure(burnup: pd.DataFrame, as_of: pd.Timestamp) -> Figure:
    """Small multiples, one per team ('all' first): cumulative quota, actual and projection."""
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    teams = list(dict.fromkeys(burnup["team"]))
    cols = min(_PANEL_COLUMNS, len(teams))
    rows = -(-len(teams) // cols)
    fig = Figure(figsize=(3.4 * cols, 2.5 * rows + 0.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, team in zip(axes.flat, teams, strict=False):
        data = burnup[burnup["team"] == team]
        ax.plot(data["date"], data["quota_cum"], color="#bdbdbd", linewidth=3, label="quota")
        ax.plot(data["date"], data["actual_cum"], color="#1f77b4", linewidth=1.8, label="actual")
        ax.plot(
            data["date"],
            data["projected_cum"],
            color="#1f77b4",
            linestyle="--",
            linewidth=1,
            label="at current pace",
        )
        ax.axvline(as_of, color="#d62728", linewidth=0.8)
        ax.set_title(f"{team}: {_burnup_title(data, as_of)}", fontsize=9)
        ax.yaxis.set_major_formatter(FuncFormatter(_short))
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=range(1, 13, 2)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(teams) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Burn-up as of {as_of:%Y-%m-%d} (red line)", fontsize=11)
    return fig


def _burnup_title(data: pd.DataFrame, as_of: pd.Timestamp) -> str:
    """'103% to date, pace 99%' for one team's burn-up rows."""
    now = data[data["date"] == as_of].iloc[0]
    end = data.iloc[-1]
    to_date = f"{now['actual_cum'] / now['quota_cum']:.0%}" if now["quota_cum"] else "-"
    pace = f"{end['projected_cum'] / end['quota_cum']:.0%}" if end["quota_cum"] else "-"
    return f"{to_date} to date, pace {pace}"


def _short(value: float, _: object) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    return f"{value / 1e3:.0f}k" if abs(value) >= 1e3 else f"{value:.0f}"


def write_rebalance(result: Rebalance, outdir: str | Path | Claim, *, title: str) -> list[Path]:
    """Write rebalance.csv (moves), rebalance_reps.csv, rebalance_assignments.csv,
    rebalance_quotas.csv (when quotas were allocated), rebalance.html / .md and the folder's
    manifest (``OutputError`` when the folder cannot be used)."""
    from allocator.report.document import Image, Section, Table, Text, write_document
    from allocator.report.plots import png, territory_map

    folder, own = _claimed(outdir, "rebalance", title)
    try:
        tables = {
            "rebalance": result.moves,
            "rebalance_reps": result.reps,
            "rebalance_assignments": result.assignment.assignments,
        }
        if result.quotas is not None:
            tables["rebalance_quotas"] = result.quotas.quotas
        written = [write_csv(frame, folder, f"{stem}.csv") for stem, frame in tables.items()]
        moves = result.moves
        reps = result.tables.active_reps
        figure = territory_map(result.tables.active_accounts, result.owners, reps)
        sections = [
            Section("Summary", (Text(result.summary().splitlines()[0]), Table(result.reps))),
            Section("Moves", (Table(moves),) if len(moves) else (Text("No account moves."),)),
            Section("Territory after", (Image("map", "Accounts by their new rep", png(figure)),)),
        ]
        written += write_document(folder, "rebalance", title, sections)
        return [*written, folder.commit()]
    finally:
        if own is not None:
            own.release()
