"""``muge-eval validate`` and ``muge-eval score``: check and score submissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from muge_eval.cli.common import F, collect_task_options, registries_for, task_option_flags, tasks_dir_option
from muge_eval.cli.run_command import print_metrics
from muge_eval.errors import InputError, UsageError
from muge_eval.results import build_results, write_results
from muge_eval.retrieval.scoring import tianchi_failure, tianchi_success
from muge_eval.runner import load_task, score_outcome, write_json


def common_submission_options(func: F) -> F:
    func = click.option("--task", "task_name", required=True, help="Task name or card file.")(func)
    func = click.option("--split", default=None, help="Split the gold data comes from (default: the card's).")(func)
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Directory of the task's files, used when --gold is not given.",
    )(func)
    func = click.option(
        "--direction",
        type=click.Choice(["text_to_image", "image_to_text"]),
        default=None,
        help="Retrieval direction of the submission (default: the card's first).",
    )(func)
    func = click.option("--task-args", default="", help="Task options as k=v,...")(func)
    return task_option_flags(tasks_dir_option(func))


@click.command("validate")
@click.argument("predictions", type=click.Path(path_type=Path))
@click.option("--gold", type=click.Path(path_type=Path), default=None, help="Gold file (default: the task's data).")
@common_submission_options
def validate_command(
    predictions: Path,
    gold: Path | None,
    task_name: str,
    split: str | None,
    data_dir: Path | None,
    direction: str | None,
    task_args: str,
    tasks_dirs: tuple[Path, ...],
    **flags: Any,
) -> None:
    """Check a submission without scoring it: every problem, with file, line and field.

    \b
    Example:
      muge-eval validate --task muge-retrieval pred.jsonl --gold MR_valid_queries.jsonl
    """
    task = load_task(registries_for(tasks_dirs), task_name, collect_task_options(task_args, flags))
    gold_data = task.load_gold(split or task.card.default_split, data_dir, gold, direction)
    task.read_submission(gold_data, predictions, direction)
    click.echo(f"{predictions}: valid submission for {task.card.name}")


@click.command("score")
@click.option("--gold", type=click.Path(path_type=Path), default=None, help="Gold file (default: the task's data).")
@click.option("--predictions", type=click.Path(path_type=Path), required=True, help="The submission to score.")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Where to write the output."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["results", "tianchi"]),
    default="results",
    show_default=True,
    help="results: our results JSON; tianchi: the official scorer's output object.",
)
@click.option("--model-name", default="submission", show_default=True, help="Name recorded in the results.")
@common_submission_options
def score_command(
    gold: Path | None,
    predictions: Path,
    output: Path | None,
    output_format: str,
    model_name: str,
    task_name: str,
    split: str | None,
    data_dir: Path | None,
    direction: str | None,
    task_args: str,
    tasks_dirs: tuple[Path, ...],
    **flags: Any,
) -> None:
    """Score a submission against gold data.

    \b
    Examples:
      muge-eval score --task muge-retrieval --gold MR_valid_queries.jsonl --predictions pred.jsonl
      muge-eval score --task muge-retrieval --gold MR_valid_queries.jsonl --predictions pred.jsonl \\
          --format tianchi --output score.json
    """
    task = load_task(registries_for(tasks_dirs), task_name, collect_task_options(task_args, flags))
    # Retrieval has the official scorer's object; another task type may define its own.
    if output_format == "tianchi" and task.card.type != "retrieval" and not hasattr(task, "tianchi_success"):
        raise UsageError(f"--format tianchi is the MUGE retrieval scorer's output, not for {task.card.type} tasks")
    chosen_split = split or task.card.default_split
    try:
        outcome = score_outcome(task, gold, predictions, chosen_split, data_dir, direction)
    except InputError as exc:
        if output_format == "tianchi" and output is not None:
            write_json(output, tianchi_failure(exc.format()))
        raise
    if output_format == "tianchi":
        # A task type may define its own Tianchi-style object; retrieval's is the official one.
        task_tianchi = getattr(task, "tianchi_success", None)
        document = (
            task_tianchi(dict(outcome.metrics)) if callable(task_tianchi) else tianchi_success(dict(outcome.metrics))
        )
        if output is not None:
            write_json(output, document)
        print_metrics({"metrics": document["scoreJson"], "main_metric": "score"})
        return
    results = build_results(
        task.card,
        outcome,
        {"name": model_name, "adapter": "submission", "args": {"predictions": str(predictions)}, "fingerprint": None},
        {"split": chosen_split, "batch_size": None, "seed": None, "limit": None},
    )
    if output is not None:
        write_results(output, results)
    print_metrics(results)
    for note in results.get("notes", []):
        click.echo(f"note: {note}", err=True)
    if output is not None:
        click.echo(f"results: {output}")
