"""``muge-eval table``: results files as one table, without a board."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("table")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown", "csv"]),
    default="text",
    show_default=True,
)
@click.option("--main-only", is_flag=True, help="Only each file's main metric.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here, not stdout.")
def table_command(results: tuple[Path, ...], output_format: str, main_only: bool, output: Path | None) -> None:
    """Tabulate results files: task, split, n, model, metric, value and its 95% bootstrap
    interval (from the samples file a results file lists, when it has one).

    \b
    Examples:
      muge-eval table muge-results/*/*/results.json
      muge-eval table a/results.json b/results.json --format markdown --main-only
    """
    from muge_eval.io.atomic import atomic_write_text
    from muge_eval.plugins import task_type_registry
    from muge_eval.results import read_results, read_samples, samples_path_of
    from muge_eval.summary import RENDERERS, ResultRow, result_rows
    from muge_eval.tasktypes.catalog import TaskTypeCatalog

    registered = task_type_registry().names()
    catalog = TaskTypeCatalog()
    rows: list[ResultRow] = []
    for path in results:
        document = read_results(path, registered)
        samples_path = samples_path_of(document, path)
        samples = read_samples(samples_path) if samples_path is not None else None
        found = result_rows(document, samples, item_key=catalog.item_key(str(document["task"]["type"])))
        rows.extend(r for r in found if r.main or not main_only)
    text = RENDERERS[output_format](rows)
    if output is None:
        click.echo(text.rstrip("\n"))
    else:
        atomic_write_text(output, text if text.endswith("\n") else text + "\n")
        click.echo(f"table: {output}")
