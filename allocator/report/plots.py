"""The report's figures, drawn with matplotlib's Agg renderer and returned as PNG bytes.

Figures are built with :class:`matplotlib.figure.Figure` and an Agg canvas, never through
``pyplot``: no global figure registry, no GUI backend, safe in worker processes and threads.
Each function takes plain frames and returns a :class:`Figure`; :func:`png` renders one, with a
CJK font as fallback (:func:`font_families`) so Chinese, Japanese and Korean names in titles
and labels are drawn, not shown as empty boxes.
"""

from __future__ import annotations

import functools
import glob
import io
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps, font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from allocator.report.metrics import largest_quota_deviation, lorenz, plan_weights, quota_fair

if TYPE_CHECKING:
    from allocator.plan import Plan

__all__ = [
    "delta_bars",
    "fairness_figures",
    "font_families",
    "lorenz_plot",
    "png",
    "ratio_bars",
    "stacked_periods",
    "target_plot",
    "territory_map",
]

_LABEL_LIMIT = 40  # above this many reps, bar and map labels would overlap: leave them out

log = logging.getLogger("allocator")

#: Where Debian (fonts-noto-cjk), Fedora and macOS keep a CJK font, for a stale font cache.
_CJK_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/**/*CJK*.[ot]t[cf]",
    "/System/Library/Fonts/PingFang.ttc",
)


@functools.cache
def font_families() -> tuple[str, ...]:
    """Font families for every text of a figure: DejaVu Sans, then a CJK font as fallback when
    one is installed (found at run time; none: a log line, and CJK glyphs may show as boxes)."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [n for n in sorted(names) if "CJK" in n or n in ("PingFang SC", "Microsoft YaHei")]
    if not cjk:
        for pattern in _CJK_FILES:
            for path in glob.glob(pattern, recursive=True):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        names = {f.name for f in font_manager.fontManager.ttflist}
        cjk = [n for n in sorted(names) if "CJK" in n]
    if not cjk:
        log.info("plots: no CJK font found; Chinese names in figures may show as boxes")
        return ("DejaVu Sans",)
    preferred = [n for n in cjk if n.endswith(" SC")] or cjk
    return ("DejaVu Sans", preferred[0])


def _figure(width: float = 9.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (Agg), every text with the CJK fallback of :func:`font_families`."""
    families = list(font_families())
    for text in fig.findobj(Text):
        text.set_fontfamily(families)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _colours(n: int) -> list[tuple[float, float, float, float]]:
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def territory_map(accounts: pd.DataFrame, owners: pd.Series, reps: pd.DataFrame) -> Figure:
    """Accounts (lat/lon) coloured by their rep; each rep's home base as a star in its colour."""
    fig = _figure(8.0, 7.0)
    ax = fig.add_subplot()
    rep_ids = list(reps["rep_id"])
    colour = dict(zip(rep_ids, _colours(len(rep_ids)), strict=True))
    acc = accounts.set_index("account_id").loc[owners.index]
    dots = [colour.get(r, (0.6, 0.6, 0.6, 1.0)) for r in owners]
    ax.scatter(acc["lon"], acc["lat"], c=dots, s=10, alpha=0.75, linewidths=0)
    ax.scatter(
        reps["lon"],
        reps["lat"],
        c=[colour[r] for r in rep_ids],
        marker="*",
        s=260,
        edgecolors="black",
        linewidths=0.8,
        zorder=3,
    )
    if len(rep_ids) <= _LABEL_LIMIT:
        for rep_id, lat, lon in zip(rep_ids, reps["lat"], reps["lon"], strict=True):
            ax.annotate(rep_id, (lon, lat), xytext=(4, 4), textcoords="offset points", fontsize=7)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title("Territories: accounts by rep, stars are home bases")
    ax.set_aspect(1 / max(np.cos(np.radians(float(acc["lat"].mean() if len(acc) else 0))), 0.1))
    return fig


def ratio_bars(
    values: pd.Series,
    *,
    title: str,
    ylabel: str,
    reference: float = 1.0,
    band: float | None = None,
    limit: float | None = None,
) -> Figure:
    """One bar per rep against a reference line, its +-band (relative) and an optional limit."""
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(values))
    outside = (
        (values - reference).abs() > band * reference + 1e-9
        if band is not None
        else pd.Series(False, index=values.index)
    )
    ax.bar(x, values, color=np.where(outside, "#d62728", "#1f77b4"))
    ax.axhline(reference, color="black", linewidth=1, label=f"reference {reference:.3g}")
    if band is not None:
        ax.axhspan(
            reference * (1 - band),
            reference * (1 + band),
            color="green",
            alpha=0.12,
            zorder=0,
            label=f"band +-{band:.0%}",
        )
    if limit is not None:
        ax.axhline(limit, color="#d62728", linestyle="--", linewidth=1, label=f"limit {limit:.3g}")
    if len(values) <= _LABEL_LIMIT:
        ax.set_xticks(x, [str(i) for i in values.index], rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(values)} reps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def lorenz_plot(
    values: pd.Series, weights: pd.Series | None, *, gini: float | None, title: str
) -> Figure:
    """The Lorenz curve of the normalised values against the line of equality."""
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot()
    x, y = lorenz(values, weights)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="equality")
    ax.plot(
        x, y, marker="o", markersize=3, label="reps" if gini is None else f"reps (Gini {gini:.3f})"
    )
    ax.fill_between(x, y, x, alpha=0.15)
    ax.set_xlabel("share of reps (lowest first)")
    ax.set_ylabel("share of the total")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def stacked_periods(frame: pd.DataFrame, *, value: str, title: str) -> Figure:
    """Bars per period stacked by product (``period``, ``product_id``, ``value`` columns)."""
    wide = frame.pivot_table(
        index="period", columns="product_id", values=value, aggfunc="sum"
    ).fillna(0.0)
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(wide))
    bottom = np.zeros(len(wide))
    for product_id, colour in zip(wide.columns, _colours(len(wide.columns)), strict=True):
        ax.bar(x, wide[product_id], bottom=bottom, color=colour, label=str(product_id))
        bottom += wide[product_id].to_numpy(float)
    ax.set_xticks(x, [str(p) for p in wide.index], rotation=45)
    ax.set_ylabel(value)
    ax.set_title(title)
    ax.legend(title="product", fontsize=8)
    return fig


def target_plot(references: pd.DataFrame) -> Figure:
    """The four references per month as lines and the weighted target as bars."""
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(references))
    ax.bar(x, references["target"], color="#c7c7c7", label="target")
    for column, style in (
        ("plan", "-"),
        ("history", "--"),
        ("industry", "-."),
        ("competitor", ":"),
    ):
        if column in references and references[column].notna().any():
            ax.plot(x, references[column], linestyle=style, marker="o", markersize=3, label=column)
    ax.set_xticks(x, [str(p) for p in references["period"]], rotation=45)
    ax.set_ylabel("amount per month")
    ax.set_title("Target build-up: references and the weighted target")
    ax.legend(fontsize=8)
    return fig


def fairness_figures(
    plan: Plan, fairness: dict[str, Any], reps: pd.DataFrame
) -> list[tuple[str, str, Figure]]:
    """(name, caption, figure) of the report's fairness plots: utilisation and quota-to-potential
    per rep against their bands, the Lorenz curve of potential. ``fairness`` is
    ``plan_metrics(plan)["fairness"]``, ``reps`` is ``plan.reps_frame()``."""
    by_rep = reps.set_index("rep_id")
    capacity = plan.scenario.assignment.constraints.capacity
    utilization = ratio_bars(
        by_rep["utilization"],
        title="Utilisation per rep",
        ylabel="workload / capacity",
        reference=float(by_rep["workload"].sum() / by_rep["capacity"].sum()),
        band=fairness["utilization"]["band"],
        limit=None if capacity is None else 1 + capacity.tolerance,
    )
    out = [
        ("utilization", "Workload utilisation per rep against the mean and the band", utilization)
    ]
    if plan.quotas is not None and largest_quota_deviation(plan) > 1e-3:
        fair = quota_fair(plan).reindex(by_rep.index)
        bars = ratio_bars(
            (by_rep["quota"] / fair).where(fair > 0).dropna(),
            title="Quota over the fair quota the quota LP used, per rep (1 = fair)",
            ylabel="quota / fair quota",
            band=fairness["quota"]["band"],
        )
        out.append(("quota_ratio", "Quota over the LP's fair quota (ramp x potential share)", bars))
    lorenz_fig = lorenz_plot(
        by_rep["potential"],
        plan_weights(plan).reindex(by_rep.index),
        gini=fairness["potential"]["gini"],
        title="Lorenz curve: potential per rep",
    )
    out.append(("lorenz", "Lorenz curve of potential over fair-share weights", lorenz_fig))
    return out


def delta_bars(labels: list[str], relative: np.ndarray, *, title: str) -> Figure:
    """Horizontal bars of relative changes (0.1 = +10%), largest first at the top."""
    fig = _figure(9.0, 0.9 + 0.32 * max(len(labels), 1))
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]
    colours = np.where(relative >= 0, "#2e7d32", "#c62828")
    ax.barh(y, relative * 100, color=colours)
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("change against the baseline, %")
    ax.set_title(title)
    return fig
