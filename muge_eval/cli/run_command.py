"""``muge-eval run``: evaluate a model on a task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from muge_eval.cli.common import collect_task_options, quiet_flag, registries_for, task_option_flags, tasks_dir_option
from muge_eval.cli.regress_command import check_against_golden, regression_options
from muge_eval.models.args import parse_key_values
from muge_eval.progress import Progress
from muge_eval.runner import ModelRequest, load_task, run_evaluation, safe_name
from muge_eval.specs import RunConfig


def print_metrics(document: dict[str, object]) -> None:
    metrics = document.get("metrics") or {}
    main = document.get("main_metric")
    assert isinstance(metrics, dict)
    for name, value in metrics.items():
        marker = "  (main)" if name == main else ""
        click.echo(f"{name:16s} {value:10.4f}{marker}")


@click.command("run")
@click.option("--task", "task_name", required=True, help="Task name (see `muge-eval tasks`) or a card file.")
@click.option("--model", "model_name", required=True, help="Adapter name (see `muge-eval models`) or module:Class.")
@click.option("--model-args", default="", help="Adapter options as k=v,k2=v2.")
@click.option(
    "--model-name",
    "model_name_recorded",
    default=None,
    help="Name recorded in the results (default: the adapter name).",
)
@click.option("--split", default=None, help="Split to evaluate (default: the card's default split).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the task's files (overrides the card's location).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Evaluate only the first N queries.")
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write results.json and predictions (default: muge-results/TASK/MODEL).",
)
@click.option("--log-samples", is_flag=True, help="Also write per-item records to samples.jsonl.")
@click.option("--task-args", default="", help="Task options as k=v,... (for retrieval: backend=numpy|faiss).")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Cache directory for converted datasets (default: the `datasets` cache).",
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
@click.option(
    "--embedding-cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Embedding cache directory (default: $MUGE_EVAL_EMBEDDING_CACHE or ~/.cache/muge-eval/embeddings).",
)
@click.option("--no-embedding-cache", is_flag=True, help="Do not read or write cached embeddings.")
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=2048,
    show_default=True,
    help="Items per cache chunk (rounded up to whole batches): the unit of resuming and of sharding across ranks.",
)
@click.option(
    "--expect",
    "golden",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Golden results file: after the run, compare as `muge-eval regress` does and fail on a regression.",
)
@regression_options
@tasks_dir_option
@task_option_flags
@click.pass_context
def run_command(
    ctx: click.Context,
    task_name: str,
    model_name: str,
    model_args: str,
    model_name_recorded: str | None,
    split: str | None,
    data_dir: Path | None,
    batch_size: int,
    limit: int | None,
    seed: int,
    output_dir: Path | None,
    log_samples: bool,
    task_args: str,
    cache_dir: Path | None,
    skip_bad_images: bool,
    num_workers: int | None,
    embedding_cache: Path | None,
    no_embedding_cache: bool,
    chunk_size: int,
    golden: Path | None,
    tolerances: tuple[str, ...],
    fail_on_improvement: bool,
    summary_path: Path | None,
    tasks_dirs: tuple[Path, ...],
    **flags: Any,
) -> None:
    """Evaluate a model on a task and write results.json plus predictions.

    The predictions are in the official submission format, so they can be submitted as is.

    \b
    Examples:
      muge-eval run --task muge-retrieval-sample --model random
      muge-eval run --task muge-retrieval --data-dir ~/data/MUGE --split valid \\
          --model features \\
          --model-args image_features=valid_imgs.img_feat.jsonl,text_features=valid_texts.txt_feat.jsonl
      torchrun --nproc-per-node 8 -m muge_eval run --task muge-retrieval --data-dir ~/data/MUGE \\
          --model hf-chinese-clip --model-args model=OFA-Sys/chinese-clip-vit-base-patch16,device=cuda
      muge-eval run --task muge-retrieval-sample --model random --expect golden.json --tolerance 0.01
    """
    from muge_eval.regress.tolerance import parse_tolerances
    from muge_eval.results import read_results

    # Read the golden file and the tolerances first: a typo fails before a long run.
    expected = read_results(golden) if golden is not None else None
    parse_tolerances(tolerances)
    registries = registries_for(tasks_dirs)
    task_options = collect_task_options(task_args, flags)
    task = load_task(registries, task_name, task_options)
    config = RunConfig(
        split=split or task.card.default_split,
        batch_size=batch_size,
        seed=seed,
        limit=limit,
        data_dir=data_dir,
        cache_dir=cache_dir,
        log_samples=log_samples,
        num_workers=num_workers,
        skip_bad_images=skip_bad_images,
        embedding_cache=embedding_cache,
        use_embedding_cache=not no_embedding_cache,
        chunk_size=chunk_size,
    )
    request = ModelRequest(model_name, parse_key_values(model_args), model_name_recorded)
    if output_dir is None:
        output_dir = Path("muge-results") / safe_name(task.card.name) / safe_name(request.display_name or model_name)
    progress = Progress(quiet=quiet_flag(ctx))
    artifacts = run_evaluation(registries, task_name, request, config, output_dir, task_options, progress)
    if not artifacts.document:  # a worker rank of torchrun: rank 0 reports
        return
    print_metrics(dict(artifacts.document))
    for note in artifacts.document.get("notes", []):
        click.echo(f"note: {note}", err=True)
    click.echo(f"results: {artifacts.results_path}")
    if expected is not None:
        code = check_against_golden(expected, dict(artifacts.document), tolerances, fail_on_improvement, summary_path)
        if code:
            ctx.exit(code)
