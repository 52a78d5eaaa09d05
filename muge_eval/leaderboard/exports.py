"""CSV and JSON downloads of every table on the site (with model cards and references)."""

from __future__ import annotations

import csv
import io
from typing import Any

from muge_eval.io.csv_cells import csv_text
from muge_eval.leaderboard.board import Board
from muge_eval.leaderboard.modelcard import CARD_FIELDS, ModelCard
from muge_eval.leaderboard.tables import Cell, Overview, Row, TaskTable


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


def _row_record(row: Row) -> dict[str, Any]:
    if row.reference is None:
        return {"kind": "submission", "model": row.model, "run": row.stem, "card": row.card.recorded()}
    ref = row.reference
    return {
        "kind": "reference",
        "model": ref.model,
        "reference_id": ref.id,
        "source": ref.source,
        "url": ref.url or None,
        "setting": ref.setting or None,
        "card": ref.card.recorded(),
    }


def task_json(board: Board, table: TaskTable) -> dict[str, Any]:
    return {
        "task": table.task.name,
        "title": {"en": table.task.title.en, "zh": table.task.title.zh},
        "split": table.task.split,
        "main_metric": table.task.main_metric,
        "bootstrap": bootstrap_record(board),
        "columns": [
            {
                "metric": c.key,
                "higher_is_better": c.higher_is_better,
                "unit": c.unit,
                "aggregation": c.aggregation or None,
                "interval_rule": list(c.rules),
            }
            for c in table.columns
        ],
        "rows": [
            {
                **_row_record(row),
                "metrics": {
                    c.key: _cell(cell)
                    for c, cell in zip(table.columns, row.cells, strict=True)
                    if cell.value is not None
                },
            }
            for row in table.rows
        ],
    }


def overview_json(board: Board, view: Overview) -> dict[str, Any]:
    return {
        "board": {"en": board.title.en, "zh": board.title.zh},
        "bootstrap": bootstrap_record(board),
        "order": "tasks evaluated on (more first), then average rank over those tasks; references last, unranked",
        "tasks": [{"task": t.task.name, "main_metric": t.task.main_metric} for t in view.tasks],
        "rows": [
            {
                "kind": "reference" if row.is_reference else "submission",
                "model": row.model,
                "average_rank": row.average_rank,
                "tasks_ranked": 0 if row.is_reference else row.tasks,
                "card": row.card.recorded(),
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


def _card_values(card: ModelCard) -> list[Any]:
    return [getattr(card, name) for name in CARD_FIELDS]


def task_csv(table: TaskTable) -> str:
    header = ["model", "kind", "run", "source", *CARD_FIELDS]
    for column in table.columns:
        header += _cell_header(column.key)
    rows = []
    for row in table.rows:
        kind = "submission" if row.reference is None else "reference"
        source = row.reference.source if row.reference is not None else ""
        values: list[Any] = [row.model, kind, row.stem, source, *_card_values(row.card)]
        for cell in row.cells:
            values += _cell_values(cell)
        rows.append(values)
    return _csv(header, rows)


def overview_csv(view: Overview) -> str:
    header = ["model", "kind", "average_rank", "tasks_ranked", *CARD_FIELDS]
    for table in view.tasks:
        header += _cell_header(f"{table.task.name} {table.task.main_metric}")
    rows = []
    for row in view.rows:
        kind = "reference" if row.is_reference else "submission"
        tasks = 0 if row.is_reference else row.tasks
        values: list[Any] = [row.model, kind, row.average_rank, tasks, *_card_values(row.card)]
        for cell in row.cells:
            values += _cell_values(cell)
        rows.append(values)
    return _csv(header, rows)
