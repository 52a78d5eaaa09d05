"""Geometry of the inline SVG plots: a forest plot of every model's interval on a task, and
the main metric against parameters and against release date.

Only numbers and labels are computed here; the templates draw them (escaped), so a plot
reads without JavaScript and fetches nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from muge_eval.leaderboard.format import format_number

LABEL_WIDTH = 230
PLOT_WIDTH = 420
VALUE_WIDTH = 170
ROW_HEIGHT = 22
TOP = 10
AXIS_HEIGHT = 34
SCATTER_WIDTH = 680
SCATTER_HEIGHT = 380
MARGIN_LEFT = 64
MARGIN_RIGHT = 170
MARGIN_TOP = 14
MARGIN_BOTTOM = 48
# Above this many points a scatter plot names them in tooltips only.
MAX_LABELLED_POINTS = 24
MAX_LABEL = 30


@dataclass(frozen=True)
class PlotRow:
    """One model on a task: its main-metric value and interval (if any)."""

    label: str
    value: float
    low: float | None
    high: float | None
    reference: bool
    weights: str = ""
    parameters: float | None = None
    released: float | None = None
    release_text: str = ""
    parameters_text: str = ""


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass(frozen=True)
class ForestRow:
    label: str
    title: str
    y: float
    x: float
    low: float | None
    high: float | None
    value_text: str
    reference: bool


@dataclass(frozen=True)
class ForestPlot:
    width: int
    height: int
    label_width: int
    plot_width: int
    axis_y: float
    ticks: tuple[Tick, ...]
    rows: tuple[ForestRow, ...]


@dataclass(frozen=True)
class Point:
    label: str
    title: str
    x: float
    y: float
    low: float | None
    high: float | None
    reference: bool
    weights: str


@dataclass(frozen=True)
class ScatterPlot:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    points: tuple[Point, ...]
    labelled: bool


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def nice_ticks(low: float, high: float, count: int = 5) -> tuple[float, float, list[float]]:
    """A rounded axis range covering [low, high] and its tick values."""
    if not math.isfinite(low) or not math.isfinite(high):
        return 0.0, 1.0, [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    ticks = [start + i * step for i in range(round((stop - start) / step) + 1)]
    return start, stop, ticks


def _tick_text(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"


def _interval_text(row: PlotRow, unit: str) -> str:
    text = format_number(row.value, unit)
    if row.low is not None and row.high is not None:
        text += f" [{format_number(row.low, unit)}, {format_number(row.high, unit)}]"
    return text


def forest_plot(rows: Sequence[PlotRow], unit: str) -> ForestPlot | None:
    """One line per model: a point at its value and a whisker over its 95% interval."""
    if not rows:
        return None
    numbers = [v for r in rows for v in (r.value, r.low, r.high) if v is not None]
    start, stop, ticks = nice_ticks(min(numbers), max(numbers))
    scale = PLOT_WIDTH / (stop - start)

    def x_of(value: float | None) -> float | None:
        return None if value is None else round((value - start) * scale, 2)

    out = []
    for index, row in enumerate(rows):
        y = TOP + index * ROW_HEIGHT + ROW_HEIGHT / 2
        value_text = _interval_text(row, unit)
        out.append(
            ForestRow(
                _short(row.label),
                f"{row.label}: {value_text}",
                y,
                x_of(row.value) or 0.0,
                x_of(row.low),
                x_of(row.high),
                value_text,
                row.reference,
            )
        )
    axis_y = TOP + len(rows) * ROW_HEIGHT + 4
    return ForestPlot(
        LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH,
        int(axis_y + AXIS_HEIGHT),
        LABEL_WIDTH,
        PLOT_WIDTH,
        axis_y,
        tuple(Tick(round((t - start) * scale, 2), _tick_text(t)) for t in ticks),
        tuple(out),
    )


def _log_ticks(low: float, high: float) -> tuple[float, float, list[float]]:
    start = math.floor(math.log10(low))
    stop = math.ceil(math.log10(high))
    if stop == start:
        stop += 1
    return float(start), float(stop), [float(e) for e in range(int(start), int(stop) + 1)]


def _size_text(exponent: float) -> str:
    value = 10**exponent
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def scatter_plot(rows: Sequence[PlotRow], by: str, unit: str) -> ScatterPlot | None:
    """The main metric (y, with interval whiskers) against ``parameters`` (log scale) or
    ``released`` (fractional year); models that do not state it are left out."""
    chosen = [r for r in rows if (r.parameters if by == "parameters" else r.released) is not None]
    if not chosen:
        return None
    xs = [float((r.parameters if by == "parameters" else r.released) or 0.0) for r in chosen]
    if by == "parameters":
        logs = [math.log10(x) for x in xs]
        x_start, x_stop, x_values = _log_ticks(min(xs), max(xs))
        positions, x_texts = logs, [_size_text(e) for e in x_values]
    else:
        x_start, x_stop, x_values = nice_ticks(min(xs) - 0.25, max(xs) + 0.25, 4)
        positions, x_texts = xs, [f"{v:g}" for v in x_values]
    numbers = [v for r in chosen for v in (r.value, r.low, r.high) if v is not None]
    y_start, y_stop, y_values = nice_ticks(min(numbers), max(numbers))
    plot_width = SCATTER_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = SCATTER_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(value: float) -> float:
        return round((value - x_start) / (x_stop - x_start) * plot_width, 2)

    def py(value: float | None) -> float | None:
        return None if value is None else round(plot_height - (value - y_start) / (y_stop - y_start) * plot_height, 2)

    points = []
    for row, position in zip(chosen, positions, strict=True):
        stated = row.parameters_text if by == "parameters" else row.release_text
        points.append(
            Point(
                _short(row.label),
                f"{row.label} ({stated}): {_interval_text(row, unit)}",
                px(position),
                py(row.value) or 0.0,
                py(row.low),
                py(row.high),
                row.reference,
                row.weights,
            )
        )
    return ScatterPlot(
        SCATTER_WIDTH,
        SCATTER_HEIGHT,
        MARGIN_LEFT,
        MARGIN_TOP,
        plot_width,
        plot_height,
        tuple(Tick(px(v), t) for v, t in zip(x_values, x_texts, strict=True)),
        tuple(Tick(py(v) or 0.0, _tick_text(v)) for v in y_values),
        tuple(points),
        len(points) <= MAX_LABELLED_POINTS,
    )
