"""Geometry of the inline SVG bar charts (the template draws them; nothing is fetched)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from muge_eval.leaderboard.format import format_number

LABEL_WIDTH = 220
PLOT_WIDTH = 420
VALUE_WIDTH = 90
BAR_HEIGHT = 18
GAP = 8
TOP = 8


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    y: float
    width: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    label_width: int
    plot_width: int
    bar_height: int
    bars: tuple[Bar, ...]


def bar_chart(
    title: str, items: Sequence[tuple[str, float, float | None, float | None]], unit: str = ""
) -> BarChart | None:
    """Horizontal bars from zero, one per (label, value, low, high), whiskers for intervals."""
    if not items or any(value < 0 for _, value, _, _ in items):
        return None
    top = max(max(value, high if high is not None else value) for _, value, _, high in items)
    scale = PLOT_WIDTH / top if top > 0 else 0.0
    bars = []
    for index, (label, value, low, high) in enumerate(items):
        bars.append(
            Bar(
                label if len(label) <= 32 else label[:31] + "…",
                format_number(value, unit),
                TOP + index * (BAR_HEIGHT + GAP),
                round(value * scale, 2),
                None if low is None else round(max(low, 0.0) * scale, 2),
                None if high is None else round(high * scale, 2),
            )
        )
    height = TOP * 2 + len(items) * (BAR_HEIGHT + GAP)
    return BarChart(
        title, LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH, height, LABEL_WIDTH, PLOT_WIDTH, BAR_HEIGHT, tuple(bars)
    )
