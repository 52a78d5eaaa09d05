"""Tables of results: task, split, n, model, metric, value and its 95% bootstrap interval.

The end of a ``run`` prints one (as lm-eval prints its stderr column) and ``muge-eval
table`` builds one from results files, as CSV, Markdown or text (as ``clip_benchmark
build`` does). Intervals come from each metric's spec and the per-item records: a metric
without them (corpus- or set-level, or no samples) has an empty interval.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20210501
HEADER = ("task", "split", "n", "model", "metric", "value", "ci_low", "ci_high", "main")


@dataclass(frozen=True)
class ResultRow:
    task: str
    split: str
    n: int | None
    model: str
    metric: str
    value: float
    low: float | None
    high: float | None
    main: bool
    higher_is_better: bool = True

    def cells(self) -> tuple[str, ...]:
        return (
            self.task,
            self.split,
            "" if self.n is None else str(self.n),
            self.model,
            self.metric,
            f"{self.value:.4f}",
            "" if self.low is None else f"{self.low:.4f}",
            "" if self.high is None else f"{self.high:.4f}",
            "*" if self.main else "",
        )


def _item_count(document: Mapping[str, Any]) -> int | None:
    counts = document.get("dataset", {}).get("num_items", {})
    return next((int(v) for v in counts.values()), None) if counts else None


def result_rows(
    document: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]] | None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    item_key: str | None = None,
) -> list[ResultRow]:
    """One row per metric of a results document, with a bootstrap interval where the
    metric's spec and the samples allow one."""
    from muge_eval.metrics.bootstrap import analyse_metric

    rows = []
    metrics: Mapping[str, float] = document.get("metrics", {})
    info_of: Mapping[str, Mapping[str, Any]] = document.get("metric_info", {})
    for name, value in metrics.items():
        info = info_of.get(name, {})
        uncertainty = analyse_metric(info, ["run"], {"run": float(value)}, {"run": samples}, resamples, seed, item_key)
        low, high = uncertainty.intervals.get("run", (None, None))
        rows.append(
            ResultRow(
                task=str(document["task"]["name"]),
                split=str(document.get("dataset", {}).get("split", "")),
                n=_item_count(document),
                model=str(document["model"]["name"]),
                metric=name,
                value=float(value),
                low=low,
                high=high,
                main=name == document.get("main_metric"),
                higher_is_better=bool(info.get("higher_is_better", True)),
            )
        )
    return rows


def text_table(rows: Sequence[ResultRow], columns: Sequence[str] = HEADER) -> str:
    """Aligned plain text; numbers right-aligned."""
    index = [HEADER.index(c) for c in columns]
    lines = [tuple(columns), *(tuple(r.cells()[i] for i in index) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    numeric = {"n", "value", "ci_low", "ci_high"}
    out = []
    for line in lines:
        cells = [
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for cell, width, column in zip(line, widths, columns, strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def markdown_table(rows: Sequence[ResultRow], columns: Sequence[str] = HEADER) -> str:
    index = [HEADER.index(c) for c in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r.cells()[i].replace("|", "\\|") for i in index) + " |" for r in rows]
    return "\n".join(lines)


def csv_table(rows: Sequence[ResultRow], columns: Sequence[str] = HEADER) -> str:
    """CSV; a text cell that starts like a formula (a model named ``=HYPERLINK(...)``) is
    quoted so that a spreadsheet shows it as text."""
    from muge_eval.io.csv_cells import csv_text

    index = [HEADER.index(c) for c in columns]
    numeric = {HEADER.index(c) for c in ("n", "value", "ci_low", "ci_high")}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = row.cells()
        writer.writerow([cells[i] if i in numeric else csv_text(cells[i]) for i in index])
    return buffer.getvalue()


RENDERERS = {"text": text_table, "markdown": markdown_table, "csv": csv_table}
