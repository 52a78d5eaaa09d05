"""CSV and JSON downloads of every table on the site."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from muge_eval.leaderboard.board import Board
from muge_eval.leaderboard.format import csv_text
from muge_eval.leaderboard.tables import Cell, Overview, TaskTable


def _cell(cell: Cell) -> dict[str, Any]:
    return {
        "value": cell.value,
        "ci95_low": cell.low,
        "ci95_high": cell.high,
        "rank": cell.rank,
        "lead_not_significant": cell.lead_not_significant,
    }


def bootstrap_record(board: Board) -> dict[str, Any]:
    return {"resamples": board.resamples, "seed": board.seed, "confidence": 0.95, "method": "percentile"}


def task_json(board: Board, table: TaskTable) -> dict[str, Any]:
    return {
        "task": table.task.name,
        "split": table.task.split,
        "main_metric": table.task.main_metric,
        "bootstrap": bootstrap_record(board),
        "columns": [
            {"metric": c.key, "higher_is_better": c.higher_is_better, "unit": c.unit, "interval_rule": list(c.rules)}
            for c in table.columns
        ],
        "rows": [
            {
                "model": row.model,
                "run": row.stem,
                "metrics": {c.key: _cell(cell) for c, cell in zip(table.columns, row.cells, strict=True)},
            }
            for row in table.rows
        ],
    }


def overview_json(board: Board, view: Overview) -> dict[str, Any]:
    return {
        "board": board.title,
        "bootstrap": bootstrap_record(board),
        "tasks": [{"task": t.task.name, "main_metric": t.task.main_metric} for t in view.tasks],
        "rows": [
            {
                "model": row.model,
                "average_rank": row.average_rank,
                "tasks_ranked": row.tasks,
                "tasks": {
                    t.task.name: {**_cell(cell), "run": stem}
                    for t, cell, stem in zip(view.tasks, row.cells, row.stems, strict=True)
                    if cell.value is not None
                },
            }
            for row in view.rows
        ],
    }


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_text(v) for v in row])
    return buffer.getvalue()


def _cell_values(cell: Cell) -> list[Any]:
    return [cell.value, cell.low, cell.high, cell.rank]


def _cell_header(prefix: str) -> list[str]:
    return [prefix, f"{prefix} ci95_low", f"{prefix} ci95_high", f"{prefix} rank"]


def task_csv(table: TaskTable) -> str:
    header = ["model", "run"]
    for column in table.columns:
        header += _cell_header(column.key)
    rows = []
    for row in table.rows:
        values: list[Any] = [row.model, row.stem]
        for cell in row.cells:
            values += _cell_values(cell)
        rows.append(values)
    return _csv(header, rows)


def overview_csv(view: Overview) -> str:
    header = ["model", "average_rank", "tasks_ranked"]
    for table in view.tasks:
        header += _cell_header(f"{table.task.name} {table.task.main_metric}")
    rows = []
    for row in view.rows:
        values: list[Any] = [row.model, row.average_rank, row.tasks]
        for cell in row.cells:
            values += _cell_values(cell)
        rows.append(values)
    return _csv(header, rows)


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
