"""The comparison as a picture (host side, matplotlib): grouped bars of guest/host ratio, one
group per benchmark figure, one bar per guest, the 1.0 line (the host) drawn across."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bench.report import Row

LOG_SPREAD = 20.0
"""Ratios spreading over more than this factor are drawn on a logarithmic axis."""


def plot_ratios(rows: Sequence[Row], guests: Sequence[str], title: str) -> Figure:
    """One bar per (figure, guest) that has a ratio; figures where lower is better are marked
    ``(lower is better)`` under their group."""
    figure = Figure(figsize=(max(8.0, 0.75 * len(rows) * max(1, len(guests)) ** 0.5 + 3), 5.5))
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(guests))
    ratios = [r for row in rows for g in guests if (r := row.ratio(g)) is not None and r > 0]
    for index, guest in enumerate(guests):
        xs, heights = [], []
        for position, row in enumerate(rows):
            ratio = row.ratio(guest)
            if ratio is not None:
                xs.append(position - 0.4 + width * (index + 0.5))
                heights.append(ratio)
        axes.bar(xs, heights, width=width * 0.92, label=guest)
    axes.axhline(1.0, color="black", linewidth=1.0, linestyle="--", label="host = 1.0")
    if ratios and max(ratios) / min(ratios) > LOG_SPREAD:
        axes.set_yscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        axes.yaxis.set_major_formatter(plain)
        axes.yaxis.set_minor_formatter(plain)
    axes.set_xticks(range(len(rows)))
    axes.set_xticklabels(
        [row.label + ("\n(lower is better)" if not row.higher_is_better else "") for row in rows],
        rotation=40,
        ha="right",
        fontsize=8,
    )
    axes.set_ylabel("guest / host")
    axes.set_title(title)
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure
