"""What ``run`` prints: each task's metrics with bootstrap intervals, then a summary."""

from __future__ import annotations

from collections.abc import Sequence

import click

from muge_eval.runner import RunArtifacts
from muge_eval.summary import ResultRow, result_rows, text_table

RUN_COLUMNS = ("task", "split", "n", "metric", "value", "ci_low", "ci_high", "main")


def report_run(artifacts: RunArtifacts, item_key: str | None) -> None:
    """The metrics table (95% bootstrap intervals where the metric allows), notes, files."""
    document = artifacts.document
    rows = result_rows(document, artifacts.samples, item_key=item_key)
    if rows:
        click.echo(text_table(rows, RUN_COLUMNS))
    for note in document.get("notes", []):
        click.echo(f"note: {note}", err=True)
    if artifacts.results_path is not None:
        click.echo(f"results: {artifacts.results_path}")


def report_summary(finished: Sequence[RunArtifacts]) -> None:
    """One line per task: its main metric."""
    rows: list[ResultRow] = []
    for artifacts in finished:
        rows.extend(row for row in result_rows(artifacts.document, artifacts.samples) if row.main)
    click.echo("\nsummary (main metrics):")
    click.echo(text_table(rows, ("task", "split", "n", "metric", "value", "ci_low", "ci_high")))
