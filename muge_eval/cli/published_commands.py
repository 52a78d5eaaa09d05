"""``muge-eval published`` (list the registry of published results) and ``muge-eval
compare`` (a run's numbers next to published ones, with every protocol difference)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

EXIT_MISSED = 1
EXIT_NOT_COMPARABLE = 3
MEASURED = {"authors": "the model's authors", "independent": "independent measurement"}


def _matches(entry: Any, task: str | None, model: str | None, source: str | None) -> bool:
    if task and task not in (entry.task, entry.task.removesuffix("-retrieval")):
        return False
    if source and source != entry.source.key:
        return False
    if model:
        wanted = model.lower()
        return wanted in entry.model.key or wanted in entry.model.name.lower() or wanted == entry.model.family
    return True


def _metrics_text(entry: Any) -> str:
    return " ".join(f"{name}={value:.{entry.decimals}f}" for name, value in entry.metrics.items())


@click.command("published")
@click.option("--task", default=None, help="Only this task card (e.g. flickr30k-cn-retrieval or flickr30k-cn).")
@click.option("--model", default=None, help="Only models whose key or name contains this (or of this family).")
@click.option("--source", default=None, help="Only this source (e.g. chinese-clip-results, flageval-clipeval).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def published_command(task: str | None, model: str | None, source: str | None, output_format: str) -> None:
    """List published retrieval results with their sources.

    Every number is copied from the source named beside it (a repository file at a commit,
    or documentation); `muge-eval compare` puts a run next to them.

    \b
    Examples:
      muge-eval published --task muge-retrieval
      muge-eval published --model qa-clip --format json
    """
    from muge_eval.published import load_published

    entries = [e for e in load_published() if _matches(e, task, model, source)]
    if output_format == "json":
        click.echo(json.dumps([_entry_json(e) for e in entries], ensure_ascii=False, indent=2))
        return
    if not entries:
        click.echo("no published results match")
        return
    for entry in entries:
        click.echo(entry.id)
        click.echo(f"    {entry.model.name} | {entry.task} {entry.split} | {entry.direction} | {entry.setting}")
        click.echo(f"    {_metrics_text(entry)}")
        click.echo(f"    source: {entry.source.citation()} ({MEASURED[entry.source.measured_by]}), {entry.table}")
    click.echo(f"{len(entries)} published result(s)")


def _entry_json(entry: Any) -> dict[str, Any]:
    import dataclasses

    record = dataclasses.asdict(entry)
    record["metrics"] = dict(entry.metrics)
    record["protocol"] = dict(entry.protocol)
    return record


def _cell(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def comparison_text(comparison: Any) -> str:
    """The table, the protocol differences and the verdict of one comparison."""
    entry = comparison.entry
    lines = [
        f"published: {entry.id}",
        f"  {entry.model.name} on {entry.task} {entry.split}, {entry.direction}, {entry.setting}",
        f"  source: {entry.source.citation()} ({MEASURED[entry.source.measured_by]}), {entry.table}",
    ]
    if entry.notes:
        lines.append(f"  note: {entry.notes}")
    header = ("metric", "measured", "published", "difference", "tolerance", "verdict")
    cells = [header] + [
        (r.metric, _cell(r.measured), _cell(r.published), _cell(r.difference, True), _cell(r.tolerance), r.verdict)
        for r in comparison.rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        body = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1], strict=True))]
        lines.append("  " + "  ".join([*body, row[-1]]))
    differs = [d for d in comparison.differences if d.kind in ("differs", "")]
    unknown = [d for d in comparison.differences if d not in differs]
    if differs:
        lines.append("  protocol differences that could explain a gap:")
        lines += [f"    - {d.describe()}" for d in differs]
    if unknown:
        lines.append("  not known on one side (could also explain a gap):")
        lines += [f"    - {d.describe()}" for d in unknown]
    lines.append(f"  verdict: {comparison.summary()}")
    return "\n".join(lines)


def _tolerance_options(specs: Sequence[str]) -> tuple[float | None, dict[str, float]]:
    """``--tolerance`` as regress takes it; no bare number: each entry's own rounding."""
    from muge_eval.regress.tolerance import parse_tolerances

    parsed = parse_tolerances(specs)
    bare = any("=" not in item for spec in specs for item in spec.split(",") if item.strip())
    return (parsed.default if bare else None), dict(parsed.per_metric)


@click.command("compare")
@click.argument("results_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--published",
    "published_id",
    default=None,
    help="A published entry id (default: every entry on the run's task and split).",
)
@click.option("--model", default=None, help="Without --published: only entries of models matching this.")
@click.option(
    "--tolerance",
    "tolerances",
    multiple=True,
    metavar="SPEC",
    help="Allowed absolute difference: a number for every metric and/or metric=number "
    "(default: half a unit of the published value's last digit, e.g. 0.05).",
)
def compare_command(
    results_file: Path, published_id: str | None, model: str | None, tolerances: tuple[str, ...]
) -> None:
    """Put a run's metrics next to published ones, with every protocol difference.

    For each published entry: measured and published values, the difference, a verdict
    against the tolerance, and each protocol fact that differs (split definition,
    preprocessing, resolution, context length, text preprocessing, precision, JPEG draft)
    or that one side does not state. Exit status: 0 when no comparable entry misses, 1
    when a metric misses its tolerance, 3 when every entry is on other data (task, split,
    --limit).

    \b
    Examples:
      muge-eval compare muge-results/muge-retrieval/cn-clip/results.json
      muge-eval compare results.json --published chinese-clip-results/cn-clip-vit-b-16/muge/valid/t2i/zero-shot
    """
    from muge_eval.errors import UsageError
    from muge_eval.plugins import task_type_registry
    from muge_eval.published import find_published, load_published
    from muge_eval.published.compare import MISSED, NOT_COMPARABLE, candidates, compare_to_published
    from muge_eval.results import read_results

    results = read_results(results_file, task_type_registry().names())
    default, per_metric = _tolerance_options(tolerances)
    entries = load_published()
    if published_id is not None:
        chosen = [find_published(published_id, entries)]
    else:
        chosen = [e for e in candidates(results, entries) if _matches(e, None, model, None)]
        if not chosen:
            task, split = results["task"]["name"], results["dataset"]["split"]
            raise UsageError(f"no published result on {task} {split}: see `muge-eval published` and pass --published")
    comparisons = [compare_to_published(results, entry, default, per_metric) for entry in chosen]
    click.echo("\n\n".join(comparison_text(c) for c in comparisons))
    verdicts = {c.verdict for c in comparisons}
    if verdicts == {NOT_COMPARABLE}:
        sys.exit(EXIT_NOT_COMPARABLE)
    if MISSED in verdicts:
        sys.exit(EXIT_MISSED)
