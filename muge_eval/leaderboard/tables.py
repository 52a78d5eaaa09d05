"""The tables of a leaderboard site: per task (all metrics) and the overview (main metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from muge_eval.leaderboard.board import Board, BoardTask
from muge_eval.leaderboard.entries import Entry, entries_for
from muge_eval.metrics.bootstrap import MetricUncertainty, analyse_metric
from muge_eval.tasktypes.catalog import TaskTypeCatalog


@dataclass(frozen=True)
class Cell:
    value: float | None
    rank: int | None = None
    low: float | None = None
    high: float | None = None
    lead_not_significant: bool | None = None
    no_interval: str = ""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    higher_is_better: bool
    unit: str
    description: str
    rules: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    model: str
    stem: str
    url: str | None
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class TaskTable:
    task: BoardTask
    task_type: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class OverviewRow:
    model: str
    cells: tuple[Cell, ...]
    stems: tuple[str | None, ...]
    average_rank: float
    tasks: int


@dataclass(frozen=True)
class Overview:
    tasks: tuple[TaskTable, ...]
    rows: tuple[OverviewRow, ...]


def competition_ranks(values: Sequence[float], higher_is_better: bool) -> list[int]:
    """1 + the number of strictly better values (ties share the better rank)."""
    if higher_is_better:
        return [1 + sum(other > v for other in values) for v in values]
    return [1 + sum(other < v for other in values) for v in values]


def _order(entries: Sequence[Entry], metric: str, higher_is_better: bool) -> list[Entry]:
    sign = -1.0 if higher_is_better else 1.0
    return sorted(entries, key=lambda e: (sign * float(e.document["metrics"][metric]), e.model.casefold(), e.stem))


def _direction(entries: Sequence[Entry], metric: str, types: TaskTypeCatalog) -> tuple[bool, Mapping[str, Any]]:
    """Whether higher is better, and the metric's description (its spec, as recorded)."""
    info: Mapping[str, Any] = next(
        (e.document["metric_info"][metric] for e in entries if metric in e.document["metric_info"]), {}
    )
    if "aggregation" not in info and entries:  # a results file of muge-eval 0.1: ask the task type
        info = {**info, **types.metric_info(str(entries[0].document["task"]["type"]), metric)}
    return bool(info.get("higher_is_better", True)), info


def task_table(
    board: Board,
    task: BoardTask,
    entries: Sequence[Entry],
    samples: Mapping[str, Sequence[Mapping[str, Any]] | None],
    types: TaskTypeCatalog | None = None,
) -> TaskTable:
    """Rows best first by the task's main metric; every column with intervals and ranks."""
    types = types or TaskTypeCatalog()
    higher, _ = _direction(entries, task.main_metric, types)
    ordered = _order(entries, task.main_metric, higher)
    task_type = str(ordered[0].document["task"]["type"]) if ordered else ""
    columns: list[Column] = []
    per_column: list[tuple[list[int], MetricUncertainty]] = []
    for metric in task.columns:
        col_higher, info = _direction(entries, metric, types)
        metric_order = [e.stem for e in _order(entries, metric, col_higher)]
        reported = {e.stem: float(e.document["metrics"][metric]) for e in entries}
        uncertainty = analyse_metric(
            info, metric_order, reported, samples, board.resamples, board.seed, types.item_key(task_type)
        )
        ranks = competition_ranks([reported[e.stem] for e in ordered], col_higher)
        per_column.append((ranks, uncertainty))
        columns.append(
            Column(
                metric,
                metric,
                col_higher,
                str(info.get("unit", "")),
                str(info.get("description", "")),
                tuple(sorted(set(uncertainty.rules.values()))),
                tuple(sorted(set(uncertainty.reasons.values()))),
            )
        )
    rows = []
    for index, entry in enumerate(ordered):
        cells = []
        for metric, (ranks, uncertainty) in zip(task.columns, per_column, strict=True):
            interval = uncertainty.intervals.get(entry.stem)
            cells.append(
                Cell(
                    float(entry.document["metrics"][metric]),
                    ranks[index],
                    None if interval is None else interval[0],
                    None if interval is None else interval[1],
                    uncertainty.lead_not_significant.get(entry.stem),
                    uncertainty.reasons.get(entry.stem, ""),
                )
            )
        url = entry.document["model"].get("url")
        rows.append(Row(entry.model, entry.stem, url, tuple(cells)))
    return TaskTable(task, task_type, tuple(columns), tuple(rows))


def overview(
    board: Board, entries: Sequence[Entry], samples: Mapping[str, Sequence[Mapping[str, Any]] | None]
) -> Overview:
    """One row per model: each task's main metric with its rank there, and the average rank."""
    types = TaskTypeCatalog()
    tables = tuple(task_table(board, t, entries_for(entries, t.name), samples, types) for t in board.tasks)
    names: dict[str, str] = {}
    for entry in entries:
        names.setdefault(" ".join(entry.model.split()).casefold(), entry.model)
    rows = []
    for key, name in names.items():
        cells: list[Cell] = []
        stems: list[str | None] = []
        for table in tables:
            main = table.task.columns.index(table.task.main_metric)
            row = next((r for r in table.rows if " ".join(r.model.split()).casefold() == key), None)
            cells.append(Cell(None) if row is None else row.cells[main])
            stems.append(None if row is None else row.stem)
        ranks = [c.rank for c in cells if c.rank is not None]
        rows.append(OverviewRow(name, tuple(cells), tuple(stems), sum(ranks) / len(ranks), len(ranks)))
    rows.sort(key=lambda r: (r.average_rank, -r.tasks, r.model.casefold()))
    return Overview(tables, tuple(rows))
