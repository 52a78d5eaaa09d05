"""Evaluate a model or score a submission, and write the output files of a run."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muge_eval import distributed
from muge_eval.cards import TaskCard, load_card
from muge_eval.errors import UsageError
from muge_eval.io.atomic import atomic_write_json, atomic_write_lines
from muge_eval.models.args import construct, redact
from muge_eval.models.base import ModelAdapter, declared_capabilities
from muge_eval.plugins import Registries, resolve_card
from muge_eval.progress import Progress
from muge_eval.results import build_results, write_results
from muge_eval.specs import RunConfig, TaskOutcome
from muge_eval.tasktypes.base import TaskType

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"


@dataclass(frozen=True)
class ModelRequest:
    name: str
    args: Mapping[str, str] = field(default_factory=dict)
    display_name: str | None = None


@dataclass(frozen=True)
class RunArtifacts:
    output_dir: Path
    results_path: Path
    document: Mapping[str, Any]


def load_task(registries: Registries, name: str, options: Mapping[str, Any]) -> TaskType:
    """The task type instance for a card name (or the path of a card file)."""
    path = Path(name)
    card: TaskCard = (
        load_card(path) if name.endswith((".yaml", ".yml")) and path.is_file() else resolve_card(registries, name)
    )
    task_type = registries.task_types.get(card.type)
    instance: TaskType = task_type(card, options)
    return instance


def build_model(
    registries: Registries, request: ModelRequest, seed: int, capability: str
) -> tuple[ModelAdapter, dict[str, Any]]:
    """Construct the adapter and the record of it that goes into the results."""
    factory = registries.models.get(request.name)
    can = declared_capabilities(factory)
    if capability not in can:
        raise UsageError(
            f"model {request.name!r} cannot do {capability} (it declares: {', '.join(sorted(can)) or 'nothing'})"
        )
    adapter = construct(factory, request.args, f"model {request.name!r}", defaults={"seed": seed})
    fingerprint = adapter.fingerprint() if hasattr(adapter, "fingerprint") else None
    record = {
        "name": request.display_name or request.name,
        "adapter": request.name,
        "args": redact(dict(request.args)),
        "fingerprint": fingerprint,
    }
    protocol = adapter.protocol() if hasattr(adapter, "protocol") else {}
    if protocol:
        record["protocol"] = protocol
    return adapter, record


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


def write_run_outputs(
    output_dir: Path,
    task: TaskType,
    outcome: TaskOutcome,
    model_record: Mapping[str, Any],
    run_config: Mapping[str, Any],
    log_samples: bool,
) -> RunArtifacts:
    """Predictions and samples first, the results file last: it exists only when complete."""
    output_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for prediction in outcome.predictions:
        prediction.write(output_dir / prediction.name)
        files[f"predictions_{prediction.direction}"] = prediction.name
    if log_samples and outcome.samples:
        atomic_write_lines(
            output_dir / SAMPLES_FILE, lambda: (json.dumps(s, ensure_ascii=False) for s in outcome.samples)
        )
        files["samples"] = SAMPLES_FILE
    document = build_results(task.card, outcome, model_record, run_config, files)
    results_path = output_dir / RESULTS_FILE
    write_results(results_path, document)
    return RunArtifacts(output_dir, results_path, document)


def run_evaluation(
    registries: Registries,
    task_name: str,
    model_request: ModelRequest,
    config: RunConfig,
    output_dir: Path,
    task_options: Mapping[str, Any],
    progress: Progress,
) -> RunArtifacts:
    task = load_task(registries, task_name, task_options)
    task.check_split(config.split)
    model, model_record = build_model(registries, model_request, config.seed, task.capability)
    started = time.perf_counter()
    try:
        outcome = task.evaluate(model, config, progress)
    finally:
        distributed.shutdown()
    if not distributed.context().is_main:  # rank 0 alone writes the run's files
        return RunArtifacts(output_dir, output_dir / RESULTS_FILE, {})
    timings = {**outcome.timings, "total_s": time.perf_counter() - started}
    outcome = dataclasses.replace(outcome, timings=timings)
    return write_run_outputs(output_dir, task, outcome, model_record, config.recorded(), config.log_samples)


def score_outcome(
    task: TaskType, gold_path: Path | None, predictions: Path, split: str, data_dir: Path | None, direction: str | None
) -> TaskOutcome:
    gold = task.load_gold(split, data_dir, gold_path, direction)
    submission = task.read_submission(gold, predictions, direction)
    outcome = task.score(gold, submission)
    return dataclasses.replace(outcome, dataset=dataclasses.replace(outcome.dataset, split=split))


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    atomic_write_json(path, document)
