"""The Python API: evaluate a model or score predictions in one call.

>>> import muge_eval
>>> results = muge_eval.evaluate("muge-retrieval-sample", "random")
>>> results["metrics"]["mean_recall"]
>>> muge_eval.score("muge-retrieval", "pred.jsonl", gold="MR_valid_queries.jsonl")["metrics"]

Both return the results document (the content of ``results.json``), as lm-eval's
``simple_evaluate`` returns its results dict. ``task`` is a registered name, a card file
or a ``TaskCard``; ``model`` is a registered name, ``"module:Class"``, an adapter class or
an adapter object. Keyword arguments other than the run's own are task options (as
``--task-args``: ``tokenizer="jieba"``, ``judge="hf-chinese-clip"``). The command line is
a thin layer over these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from muge_eval.cards import TaskCard
from muge_eval.errors import UsageError
from muge_eval.models.factory import ModelRequest
from muge_eval.plugins import Registries, build_registries
from muge_eval.progress import Progress
from muge_eval.results import build_results, write_results
from muge_eval.runner import RunArtifacts, run_evaluation, score_outcome
from muge_eval.specs import RunConfig
from muge_eval.tasktypes.base import TaskType
from muge_eval.tasktypes.loading import load_task

__all__ = ["evaluate", "evaluate_with_samples", "score", "score_with_samples"]


TaskRef = str | Path | TaskCard | TaskType


def _registries(tasks_dirs: Sequence[Path | str], registries: Registries | None) -> Registries:
    return registries or build_registries(tuple(Path(d) for d in tasks_dirs))


def _task(registries: Registries, task: TaskRef, options: Mapping[str, Any], device: str | None = None) -> TaskType:
    """The task, built once: a TaskType passed in is used as it is (its options were
    checked when it was built)."""
    if isinstance(task, TaskType):
        if options:
            raise UsageError(f"task options ({', '.join(options)}) are given when a task is built, not after")
        return task
    return load_task(registries, task, options, device)


def evaluate_with_samples(
    task: TaskRef,
    model: Any,
    *,
    model_args: Mapping[str, Any] | None = None,
    model_name: str | None = None,
    split: str | None = None,
    data_dir: Path | str | None = None,
    batch_size: int | None = 64,
    limit: int | None = None,
    seed: int = 1234,
    device: str | None = None,
    output_dir: Path | str | None = None,
    log_samples: bool = False,
    cache_dir: Path | str | None = None,
    num_workers: int | None = None,
    skip_bad_images: bool = False,
    use_embedding_cache: bool = True,
    chunk_size: int | None = None,
    quiet: bool = True,
    tasks_dirs: Sequence[Path | str] = (),
    registries: Registries | None = None,
    **task_options: Any,
) -> RunArtifacts:
    """`evaluate`, also returning the per-item records and where files were written."""
    registries = _registries(tasks_dirs, registries)
    built = _task(registries, task, task_options, device)
    config = RunConfig(
        split=split or built.card.default_split,
        batch_size=batch_size,
        seed=seed,
        limit=limit,
        data_dir=Path(data_dir).expanduser() if data_dir is not None else None,
        cache_dir=Path(cache_dir).expanduser() if cache_dir is not None else None,
        log_samples=log_samples,
        device=device,
        num_workers=num_workers,
        skip_bad_images=skip_bad_images,
        use_embedding_cache=use_embedding_cache,
        chunk_size=chunk_size,
    )
    request = ModelRequest(model, dict(model_args or {}), model_name)
    out = Path(output_dir) if output_dir is not None else None
    return run_evaluation(registries, built, request, config, Progress(quiet=quiet), out)


def evaluate(task: TaskRef, model: Any, **kwargs: Any) -> dict[str, Any]:
    """Evaluate ``model`` on ``task``; the results document (files only with ``output_dir``).

    Run keywords: model_args, model_name, split, data_dir, batch_size (None: auto), limit,
    seed, device, output_dir, log_samples, cache_dir, num_workers, skip_bad_images,
    use_embedding_cache, chunk_size, quiet, tasks_dirs. Any other keyword is a task option.
    """
    return dict(evaluate_with_samples(task, model, **kwargs).document)


def score_with_samples(
    task: TaskRef,
    predictions: Path | str,
    gold: Path | str | None = None,
    *,
    split: str | None = None,
    data_dir: Path | str | None = None,
    direction: str | None = None,
    model_name: str = "submission",
    output: Path | str | None = None,
    tasks_dirs: Sequence[Path | str] = (),
    registries: Registries | None = None,
    **task_options: Any,
) -> RunArtifacts:
    """`score`, also returning the per-item records."""
    registries = _registries(tasks_dirs, registries)
    built = _task(registries, task, task_options)
    chosen_split = split or built.card.default_split
    outcome = score_outcome(
        built,
        Path(gold) if gold is not None else None,
        Path(predictions),
        chosen_split,
        Path(data_dir) if data_dir is not None else None,
        direction,
    )
    document = build_results(
        built.card,
        outcome,
        {"name": model_name, "adapter": "submission", "args": {"predictions": str(predictions)}, "fingerprint": None},
        {"split": chosen_split, "batch_size": None, "seed": None, "limit": None},
    )
    if output is not None:
        write_results(Path(output), document)
    return RunArtifacts(document, None, Path(output) if output is not None else None, outcome.samples)


def score(task: TaskRef, predictions: Path | str, gold: Path | str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Check and score a predictions file; the results document (written to ``output``
    when given). Without ``gold`` the gold data comes from the task's data (``data_dir``
    or the card's). Keywords: split, data_dir, direction, model_name, output, tasks_dirs;
    any other keyword is a task option."""
    return dict(score_with_samples(task, predictions, gold, **kwargs).document)
