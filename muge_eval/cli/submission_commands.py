"""``muge-eval validate`` and ``muge-eval score``: check and score submissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from muge_eval.cli.common import F, registries_for, tasks_dir_option
from muge_eval.cli.task_command import TaskCommand, task_options, unused_flags
from muge_eval.errors import UsageError


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
        default=None,
        help="Ranking direction of a retrieval submission, e.g. image_to_text (default: the card's first).",
    )(func)
    func = click.option("--task-args", default="", help="Task options as k=v,...")(func)
    return tasks_dir_option(func)


def _load(task_name: str, task_args: str, tasks_dirs: tuple[Path, ...], flags: dict[str, Any]) -> Any:
    from muge_eval.models.args import parse_key_values
    from muge_eval.tasktypes.loading import card_for, load_task

    registries = registries_for(tasks_dirs)
    task_class = registries.task_types.get(card_for(registries, task_name).type)
    ignored = unused_flags(flags, [task_class])
    if ignored:
        raise UsageError(f"option(s) {', '.join(ignored)} do not apply to {task_class.name} tasks")
    options = task_options(parse_key_values(task_args, "--task-args"), flags, task_class)
    return registries, load_task(registries, task_name, options)


@click.command("validate", cls=TaskCommand)
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
    _, task = _load(task_name, task_args, tasks_dirs, flags)
    gold_data = task.load_gold(split or task.card.default_split, data_dir, gold, direction)
    task.read_submission(gold_data, predictions, direction)
    click.echo(f"{predictions}: valid submission for {task.card.name}")


@click.command("score", cls=TaskCommand)
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
    from muge_eval.api import score_with_samples
    from muge_eval.cli.run_report import report_run
    from muge_eval.errors import InputError
    from muge_eval.runner import write_json

    registries, task = _load(task_name, task_args, tasks_dirs, flags)
    if output_format == "tianchi" and not task.tianchi:
        raise UsageError(f"--format tianchi is MUGE's scorer output; {task.name} tasks have none")
    try:
        artifacts = score_with_samples(
            task,
            predictions,
            gold,
            split=split,
            data_dir=data_dir,
            direction=direction,
            model_name=model_name,
            output=output if output_format == "results" else None,
            registries=registries,
        )
    except InputError as exc:
        if output_format == "tianchi" and output is not None:
            write_json(output, task.tianchi_failure(exc.format()))
        raise
    if output_format == "tianchi":
        document = task.tianchi_success(dict(artifacts.document["metrics"]))
        if output is not None:
            write_json(output, document)
        for name, value in document["scoreJson"].items():
            click.echo(f"{name:16s} {value:10.4f}")
        return
    report_run(artifacts, type(task).item_key)
