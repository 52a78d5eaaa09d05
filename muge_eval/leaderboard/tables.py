"""The tables of a leaderboard site: per task (all metrics) and the overview (main metrics).

Submissions are ranked; published reference rows sit among them by value, marked, with no
rank. The overview orders models first by how many tasks they were evaluated on, then by
their average rank over those tasks, so a model evaluated on fewer tasks never sits above
one evaluated on more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from muge_eval.leaderboard.board import Board, BoardTask
from muge_eval.leaderboard.checks import model_key
from muge_eval.leaderboard.entries import Entry, entries_for
from muge_eval.leaderboard.modelcard import ModelCard, card_from
from muge_eval.leaderboard.references import ReferenceRow
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
    aggregation: str = ""


@dataclass(frozen=True)
class Row:
    """A submission (``stem`` names its run) or a published reference (``reference``)."""

    model: str
    stem: str
    url: str | None
    cells: tuple[Cell, ...]
    card: ModelCard = field(default_factory=ModelCard)
    reference: ReferenceRow | None = None

    @property
    def display(self) -> str:
        return self.card.display_name or self.model

    @property
    def setting(self) -> str:
        return self.reference.setting if self.reference is not None and self.reference.setting else self.card.setting


@dataclass(frozen=True)
class TaskTable:
    task: BoardTask
    task_type: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    @property
    def main_index(self) -> int:
        return self.task.columns.index(self.task.main_metric)

    @property
    def main_column(self) -> Column:
        return self.columns[self.main_index]

    @property
    def submissions(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.reference is None)

    @property
    def references(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.reference is not None)


@dataclass(frozen=True)
class OverviewRow:
    """One model across tasks; a reference row has no average rank."""

    model: str
    cells: tuple[Cell, ...]
    stems: tuple[str | None, ...]
    average_rank: float | None
    tasks: int
    card: ModelCard = field(default_factory=ModelCard)
    settings: tuple[str, ...] = ()
    references: tuple[ReferenceRow | None, ...] = ()

    @property
    def display(self) -> str:
        return self.card.display_name or self.model

    @property
    def is_reference(self) -> bool:
        return self.average_rank is None


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


def metric_info_of(
    documents: Sequence[Mapping[str, Any]], metric: str, task_type: str, types: TaskTypeCatalog
) -> Mapping[str, Any]:
    """The metric's description: its spec as recorded (or as registered, for 0.1 files)."""
    info: Mapping[str, Any] = next((d["metric_info"][metric] for d in documents if metric in d["metric_info"]), {})
    if "aggregation" not in info and task_type:  # a results file of muge-eval 0.1: ask the task type
        info = {**info, **types.metric_info(task_type, metric)}
    return info


def metric_infos(
    documents: Sequence[Mapping[str, Any]], columns: Sequence[str], task_type: str, types: TaskTypeCatalog
) -> dict[str, Mapping[str, Any]]:
    return {metric: metric_info_of(documents, metric, task_type, types) for metric in columns}


def _column(metric: str, info: Mapping[str, Any], uncertainty: MetricUncertainty) -> Column:
    return Column(
        metric,
        metric,
        bool(info.get("higher_is_better", True)),
        str(info.get("unit", "")),
        str(info.get("description", "")),
        tuple(sorted(set(uncertainty.rules.values()))),
        tuple(sorted(set(uncertainty.reasons.values()))),
        str(info.get("aggregation", "")),
    )


def _reference_rows(references: Sequence[ReferenceRow], columns: Sequence[str]) -> list[Row]:
    return [
        Row(ref.model, "", ref.url or None, tuple(Cell(ref.metrics.get(c)) for c in columns), ref.card, ref)
        for ref in references
    ]


def _worse(value: float | None, than: float, sign: float) -> bool:
    return value is None or sign * value > sign * than


def _merge(submissions: list[Row], references: list[Row], main: int, higher: bool) -> tuple[Row, ...]:
    """References among the submissions by main-metric value (after equal submissions);
    references without the main metric last."""
    sign = -1.0 if higher else 1.0
    merged = list(submissions)
    for ref in sorted(references, key=lambda r: (r.cells[main].value is None, sign * (r.cells[main].value or 0.0))):
        value = ref.cells[main].value
        position = len(merged)
        if value is not None:
            position = next((i for i, row in enumerate(merged) if _worse(row.cells[main].value, value, sign)), position)
        merged.insert(position, ref)
    return tuple(merged)


def task_table(
    board: Board,
    task: BoardTask,
    entries: Sequence[Entry],
    samples: Mapping[str, Sequence[Mapping[str, Any]] | None],
    types: TaskTypeCatalog | None = None,
    references: Sequence[ReferenceRow] = (),
) -> TaskTable:
    """Rows best first by the task's main metric; every column with intervals and ranks."""
    types = types or TaskTypeCatalog()
    task_type = str(entries[0].document["task"]["type"]) if entries else ""
    infos = metric_infos([e.document for e in entries], task.columns, task_type, types)
    higher = bool(infos[task.main_metric].get("higher_is_better", True))
    ordered = _order(entries, task.main_metric, higher)
    columns: list[Column] = []
    per_column: list[tuple[list[int], MetricUncertainty]] = []
    for metric in task.columns:
        info = infos[metric]
        col_higher = bool(info.get("higher_is_better", True))
        metric_order = [e.stem for e in _order(entries, metric, col_higher)]
        reported = {e.stem: float(e.document["metrics"][metric]) for e in entries}
        uncertainty = analyse_metric(
            info, metric_order, reported, samples, board.resamples, board.seed, types.item_key(task_type)
        )
        ranks = competition_ranks([reported[e.stem] for e in ordered], col_higher)
        per_column.append((ranks, uncertainty))
        columns.append(_column(metric, info, uncertainty))
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
        model = entry.document["model"]
        rows.append(Row(entry.model, entry.stem, model.get("url"), tuple(cells), card_from(model.get("card"))))
    main = task.columns.index(task.main_metric)
    merged = _merge(rows, _reference_rows(references, task.columns), main, higher)
    return TaskTable(task, task_type, tuple(columns), merged)


def _overview_row(key: str, tables: Sequence[TaskTable], reference: bool) -> OverviewRow:
    cells: list[Cell] = []
    stems: list[str | None] = []
    refs: list[ReferenceRow | None] = []
    found: list[Row] = []
    for table in tables:
        row = next(
            (r for r in table.rows if (r.reference is not None) == reference and _row_key(r) == key),
            None,
        )
        cells.append(Cell(None) if row is None else row.cells[table.main_index])
        stems.append(None if row is None or reference else row.stem)
        refs.append(None if row is None else row.reference)
        if row is not None:
            found.append(row)
    card = next((r.card for r in found if r.card), ModelCard())
    settings = tuple(sorted({r.setting for r in found if r.setting}))
    ranks = [c.rank for c in cells if c.rank is not None]
    average = None if reference else sum(ranks) / len(ranks)
    name = found[0].display if reference else found[0].model
    return OverviewRow(name, tuple(cells), tuple(stems), average, len(found), card, settings, tuple(refs))


def _row_key(row: Row) -> str:
    if row.reference is not None:
        return model_key(row.display) + "\0" + row.setting
    return model_key(row.model)


def overview_of(tables: Sequence[TaskTable]) -> Overview:
    """One row per model: each task's main metric with its rank there, the average rank over
    the tasks it was evaluated on; then one row per published reference model."""
    keys: dict[str, bool] = {}
    for table in tables:
        for row in table.rows:
            keys.setdefault(_row_key(row), row.reference is not None)
    rows = [_overview_row(key, tables, reference) for key, reference in keys.items()]
    submissions = sorted(
        (r for r in rows if not r.is_reference),
        key=lambda r: (-r.tasks, r.average_rank, r.model.casefold()),
    )
    references = sorted((r for r in rows if r.is_reference), key=lambda r: (-r.tasks, r.model.casefold()))
    return Overview(tuple(tables), tuple(submissions) + tuple(references))


def overview(
    board: Board,
    entries: Sequence[Entry],
    samples: Mapping[str, Sequence[Mapping[str, Any]] | None],
    references: Mapping[str, Sequence[ReferenceRow]] | None = None,
) -> Overview:
    """Every task's table and the overview, with all samples in memory (small boards, tests)."""
    types = TaskTypeCatalog()
    refs = references or {}
    tables = tuple(
        task_table(board, t, entries_for(entries, t.name), samples, types, refs.get(t.name, ())) for t in board.tasks
    )
    return overview_of(tables)
