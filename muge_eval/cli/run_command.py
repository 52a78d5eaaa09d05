"""``muge-eval run``: evaluate a model on one or more tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from muge_eval.cli.common import quiet_flag, tasks_dir_option
from muge_eval.cli.regress_command import regression_options
from muge_eval.cli.task_command import TaskCommand, task_names, task_options, unused_flags
from muge_eval.errors import UsageError


class BatchSize(click.ParamType):
    """A positive integer, or ``auto`` (the adapter's choice)."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        if value is None or value == "auto":
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a positive integer or 'auto'", param, ctx)
        if number < 1:
            self.fail(f"{value!r} is not a positive integer or 'auto'", param, ctx)
        return number


@click.command("run", cls=TaskCommand)
@click.option(
    "--task",
    "task_values",
    required=True,
    multiple=True,
    help="Task name (see `muge-eval tasks`) or card file; several as a,b,c or a repeated --task.",
)
@click.option("--model", "model_name", required=True, help="Adapter name (see `muge-eval models`) or module:Class.")
@click.option("--model-args", default="", help="Adapter options as k=v,k2=v2.")
@click.option(
    "--model-name",
    "model_name_recorded",
    default=None,
    help="Name recorded in the results (default: the adapter name).",
)
@click.option("--split", default=None, help="Split to evaluate (default: each card's default split).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the task's files (overrides the card's location).",
)
@click.option("--batch-size", type=BatchSize(), default="64", show_default=True, help="Items per batch, or auto.")
@click.option("--device", default=None, help="Device passed to the adapter (and to networks a task runs): cpu, cuda...")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate only the first N items (queries, images or descriptions); candidate pools stay whole.",
)
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write results.json and predictions (default: a new folder "
    "muge-results/TASK/MODEL/SPLIT_TIME_HASH per run; with several tasks, a folder per task below it).",
)
@click.option("--log-samples", is_flag=True, help="Also write per-item records to samples.jsonl.")
@click.option("--task-args", default="", help="Task options as k=v,... (see `muge-eval task-types`).")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Cache root (default: $MUGE_EVAL_CACHE or ~/.cache/muge-eval): "
    "converted tables, embeddings, captions, images.",
)
@click.option(
    "--skip-bad-images",
    is_flag=True,
    help="Leave images that cannot be decoded out of the pool (named in the results) instead of failing.",
)
@click.option(
    "--num-workers",
    type=click.IntRange(min=0),
    default=None,
    help="Image decoding worker processes (default: one per core but one, at most 16; 0 decodes in-process).",
)
@click.option("--no-embedding-cache", is_flag=True, help="Do not read or write cached embeddings.")
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Items per embedding-cache chunk (default 2048, rounded up to whole batches): "
    "the unit of resuming and of sharding across ranks.",
)
@click.option(
    "--expect",
    "golden",
    metavar="FILE|published:ID",
    default=None,
    help="Golden results file (or published:ID): after the run, compare as `muge-eval regress` does and "
    "fail on a regression.",
)
@regression_options
@tasks_dir_option
@click.pass_context
def run_command(
    ctx: click.Context,
    task_values: tuple[str, ...],
    model_name: str,
    model_args: str,
    model_name_recorded: str | None,
    split: str | None,
    data_dir: Path | None,
    batch_size: int | None,
    device: str | None,
    limit: int | None,
    seed: int,
    output_dir: Path | None,
    log_samples: bool,
    task_args: str,
    cache_dir: Path | None,
    skip_bad_images: bool,
    num_workers: int | None,
    no_embedding_cache: bool,
    chunk_size: int | None,
    golden: str | None,
    tolerances: tuple[str, ...],
    fail_on_improvement: bool,
    summary_path: Path | None,
    tasks_dirs: tuple[Path, ...],
    **flags: Any,
) -> None:
    """Evaluate a model on one or more tasks and write results.json plus predictions.

    The predictions are in the official submission format, so they can be submitted as is.
    The run ends with a table of every metric and its 95% bootstrap interval.

    \b
    Examples:
      muge-eval run --task muge-retrieval-sample --model random
      muge-eval run --task muge-retrieval-sample,muge-caption-sample --model my_pkg.mod:MyModel
      muge-eval run --task muge-retrieval --data-dir ~/data/MUGE --split valid \\
          --model features \\
          --model-args image_features=valid_imgs.img_feat.jsonl,text_features=valid_texts.txt_feat.jsonl
      torchrun --nproc-per-node 8 -m muge_eval run --task muge-retrieval --data-dir ~/data/MUGE \\
          --model hf-chinese-clip --model-args model=OFA-Sys/chinese-clip-vit-base-patch16 --device cuda
      muge-eval run --task muge-retrieval-sample --model random --expect golden.json --tolerance 0.01
    """
    from muge_eval.api import evaluate_with_samples
    from muge_eval.cli.common import registries_for
    from muge_eval.cli.run_report import report_run, report_summary
    from muge_eval.models.args import parse_key_values
    from muge_eval.models.factory import ModelRequest
    from muge_eval.progress import Progress
    from muge_eval.rank_guard import fail_fast
    from muge_eval.regress.tolerance import parse_tolerances
    from muge_eval.runner import default_output_dir
    from muge_eval.specs import RunConfig
    from muge_eval.tasktypes.loading import load_task

    # Read the golden file and the tolerances first: a typo fails before a long run.
    names = task_names(task_values)
    if golden is not None and len(names) > 1:
        raise UsageError("--expect compares one task's results: run one task with it")
    if golden is not None:
        from muge_eval.cli.regress_command import read_golden

        expected = read_golden(golden)
    else:
        expected = None
    parse_tolerances(tolerances)
    registries = registries_for(tasks_dirs)
    shared_args = parse_key_values(task_args, "--task-args")
    # Every task is built (and its options checked) before the first one runs.
    tasks = []
    for name in names:
        task_class = registries.task_types.get(_card_type(registries, name))
        options = task_options(_args_for(task_class, shared_args, len(names)), flags, task_class)
        tasks.append(load_task(registries, name, options, device))
    _check_args_used(shared_args, [type(t) for t in tasks])
    ignored = unused_flags(flags, [type(t) for t in tasks])
    if ignored:
        raise UsageError(f"option(s) {', '.join(ignored)} apply to none of the tasks named")
    request = ModelRequest(model_name, parse_key_values(model_args), model_name_recorded)
    progress = Progress(quiet=quiet_flag(ctx))
    configs = [
        RunConfig(
            split=split or task.card.default_split,
            batch_size=batch_size,
            seed=seed,
            limit=limit,
            data_dir=data_dir,
            cache_dir=cache_dir,
            log_samples=log_samples,
            device=device,
            num_workers=num_workers,
            skip_bad_images=skip_bad_images,
            use_embedding_cache=not no_embedding_cache,
            chunk_size=chunk_size,
        )
        for task in tasks
    ]
    # Under torchrun, a failure on any rank (here or in a task's run) stops every rank and
    # is printed once.
    with fail_fast():
        for task, config in zip(tasks, configs, strict=True):
            task.check_ready(config)  # every task's data and options, before the first model loads
        finished = []
        for task, config in zip(tasks, configs, strict=True):
            if output_dir is None:
                out = default_output_dir(task, request, config)
            else:
                out = output_dir if len(tasks) == 1 else output_dir / task.card.name
            artifacts = evaluate_with_samples(
                task,
                request.model,
                model_args=request.args,
                model_name=request.display_name,
                split=config.split,
                data_dir=config.data_dir,
                batch_size=config.batch_size,
                limit=config.limit,
                seed=config.seed,
                device=config.device,
                output_dir=out,
                log_samples=config.log_samples,
                cache_dir=config.cache_dir,
                num_workers=config.num_workers,
                skip_bad_images=config.skip_bad_images,
                use_embedding_cache=config.use_embedding_cache,
                chunk_size=config.chunk_size,
                quiet=progress.quiet,
                registries=registries,
            )
            if not artifacts.document:  # a worker rank of torchrun: rank 0 reports
                return
            report_run(artifacts, type(task).item_key)
            finished.append(artifacts)
    if len(finished) > 1:
        report_summary(finished)
    if expected is not None:
        from muge_eval.cli.regress_command import check_against_golden

        code = check_against_golden(expected, dict(finished[0].document), tolerances, fail_on_improvement, summary_path)
        if code:
            ctx.exit(code)


def _card_type(registries: Any, name: str) -> str:
    from muge_eval.tasktypes.loading import card_for

    return card_for(registries, name).type


def _args_for(task_class: Any, shared: dict[str, str], task_count: int) -> dict[str, str]:
    """``--task-args`` for one task: all of them for a single task (unknown ones are then
    its error), the ones its type declares when several tasks share the command line."""
    if task_count == 1:
        return dict(shared)
    declared = {o.name for o in task_class.options} | {"metrics", "main_metric"}
    return {k: v for k, v in shared.items() if k in declared}


def _check_args_used(shared: dict[str, str], classes: list[Any]) -> None:
    declared = {o.name for cls in classes for o in cls.options} | {"metrics", "main_metric"}
    unknown = sorted(set(shared) - declared)
    if unknown:
        raise UsageError(f"--task-args {', '.join(unknown)}: no task named takes it")
