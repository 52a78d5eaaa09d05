"""Evaluate a model or score a submission on one task, and write a run's files.

The Python API (``muge_eval.api``) and the CLI both go through here: build the task once
from its card and the user's options, check what can be checked before any model is
loaded, build the adapter, run, and write predictions, samples and (last, atomically)
the results file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import muge_eval.distributed as distributed
from muge_eval.errors import MugeEvalError
from muge_eval.io.atomic import atomic_write_json, atomic_write_lines
from muge_eval.models.base import ModelAdapter
from muge_eval.models.factory import ModelRequest, build_adapter
from muge_eval.naming import safe_name
from muge_eval.plugins import Registries
from muge_eval.progress import Progress
from muge_eval.rank_guard import fail_fast
from muge_eval.results import build_results, read_results, write_results
from muge_eval.specs import RunConfig, TaskOutcome
from muge_eval.tasktypes.base import TaskType

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"
DEFAULT_OUTPUT_ROOT = Path("muge-results")


@dataclass(frozen=True)
class RunArtifacts:
    """What a run produced: its results document and, when written, where."""

    document: Mapping[str, Any]
    output_dir: Path | None = None
    results_path: Path | None = None
    # The per-item records (written to samples.jsonl only with log_samples).
    samples: tuple[Mapping[str, Any], ...] = ()


def resolve_batch_size(config: RunConfig, model: ModelAdapter) -> RunConfig:
    """``--batch-size auto``: the adapter's own choice, else 64."""
    if config.batch_size is not None:
        return config
    return dataclasses.replace(config, batch_size=model.auto_batch_size() or 64)


def evaluate_task(
    registries: Registries, task: TaskType, request: ModelRequest, config: RunConfig, progress: Progress
) -> tuple[TaskOutcome, dict[str, Any], RunConfig]:
    """Check, build the model, run. Returns the outcome (empty on a worker rank of a
    multi-process run), the model's results record and the effective run config.

    Under ``torchrun`` a failure on any rank ends every rank, reported once
    (``rank_guard.fail_fast``): the process exits rather than raising."""
    with fail_fast():
        task.check_ready(config)  # fails before any model is loaded
        # The run's seed, device and data directory, and what the task offers (caption:
        # the card's instruction), go to adapter arguments of those names.
        defaults = {
            "seed": config.seed,
            "device": config.device,
            "data_dir": task.data_dir(config.data_dir),
            **task.adapter_defaults(),
        }
        model, record = build_adapter(registries, request, task.capability, task.adapter_protocols, defaults)
        config = resolve_batch_size(config, model)
        started = time.perf_counter()
        outcome = task.evaluate(model, config, progress)
    distributed.shutdown()
    timings = {**outcome.timings, "total_s": time.perf_counter() - started}
    return dataclasses.replace(outcome, timings=timings), record, config


def default_output_dir(task: TaskType, request: ModelRequest, config: RunConfig, now: datetime | None = None) -> Path:
    """``muge-results/TASK/MODEL/SPLIT_TIME_HASH``: a folder of its own for every run, so a
    run never replaces (or sits beside) another's files. HASH digests what else changes the
    numbers: the model's arguments, the task's options and the run's settings."""
    settings = {
        "model_args": {k: str(v) for k, v in sorted(request.args.items())},
        "task_options": {k: str(v) for k, v in sorted(task.settings.items())},
        "run": config.recorded(),
        "data_dir": str(config.data_dir) if config.data_dir else None,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return (
        DEFAULT_OUTPUT_ROOT / safe_name(task.card.name) / safe_name(request.name) / f"{config.split}_{stamp}_{digest}"
    )


def earlier_run_files(output_dir: Path) -> set[str]:
    """The files an earlier run left in ``output_dir`` (as its results file lists them)."""
    path = output_dir / RESULTS_FILE
    if not path.is_file():
        return set()
    try:
        listed = read_results(path).get("files") or {}
    except MugeEvalError:
        return set()
    return {name for name in listed.values() if isinstance(name, str) and "/" not in name and name != RESULTS_FILE}


def write_run_outputs(
    output_dir: Path,
    document: Mapping[str, Any],
    outcome: TaskOutcome,
    log_samples: bool,
) -> Path:
    """Predictions and samples first, the results file last: it exists only when complete.
    Files an earlier run wrote into the same folder and this one does not are removed once
    the new results file is in place, so no stale samples sit beside new results."""
    stale = earlier_run_files(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for prediction in outcome.predictions:
        prediction.write(output_dir / prediction.name)
    if log_samples and outcome.samples:
        atomic_write_lines(
            output_dir / SAMPLES_FILE, lambda: (json.dumps(s, ensure_ascii=False) for s in outcome.samples)
        )
    results_path = output_dir / RESULTS_FILE
    write_results(results_path, document)
    for name in stale - set((document.get("files") or {}).values()):
        (output_dir / name).unlink(missing_ok=True)
    return results_path


def run_files(outcome: TaskOutcome, log_samples: bool) -> dict[str, str]:
    """The ``files`` entry of a run's results: what it writes beside results.json."""
    files = {f"predictions_{p.direction}": p.name for p in outcome.predictions}
    if log_samples and outcome.samples:
        files["samples"] = SAMPLES_FILE
    return files


def run_evaluation(
    registries: Registries,
    task: TaskType,
    request: ModelRequest,
    config: RunConfig,
    progress: Progress,
    output_dir: Path | None,
) -> RunArtifacts:
    """Evaluate, build the results document, and write the run's files when
    ``output_dir`` is given. A worker rank of ``torchrun`` returns an empty document."""
    outcome, record, config = evaluate_task(registries, task, request, config, progress)
    if not distributed.context().is_main:  # rank 0 alone writes the run's files
        return RunArtifacts({})
    files = run_files(outcome, config.log_samples) if output_dir is not None else {}
    document = build_results(task.card, outcome, record, config.recorded(), files)
    if output_dir is None:
        return RunArtifacts(document, samples=outcome.samples)
    results_path = write_run_outputs(output_dir, document, outcome, config.log_samples)
    return RunArtifacts(document, output_dir, results_path, outcome.samples)


def score_outcome(
    task: TaskType, gold_path: Path | None, predictions: Path, split: str, data_dir: Path | None, direction: str | None
) -> TaskOutcome:
    """Check and score a submission file against the task's gold data."""
    gold = task.load_gold(split, data_dir, gold_path, direction)
    submission = task.read_submission(gold, predictions, direction)
    outcome = task.score(gold, submission)
    return dataclasses.replace(outcome, dataset=dataclasses.replace(outcome.dataset, split=split))


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    atomic_write_json(path, document)
