"""The results JSON: built from a run, validated against the shipped JSON Schema when
written and when read, written atomically."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from muge_eval.cards import TaskCard
from muge_eval.environment import describe_environment
from muge_eval.errors import InputError, Problem
from muge_eval.io.atomic import atomic_write_json
from muge_eval.io.json_schema import packaged_schema, violations
from muge_eval.io.jsonl import iter_json_lines, read_json_document
from muge_eval.specs import TaskOutcome
from muge_eval.version import __version__

SCHEMA_VERSION = "1.0"


def load_schema() -> dict[str, Any]:
    return packaged_schema("results.schema.json")


def schema_problems(document: Any, file: str) -> list[Problem]:
    """Every schema violation, plus non-finite metric values, as problems."""
    problems = violations(load_schema(), document, file)
    if isinstance(document, dict) and isinstance(document.get("metrics"), dict):
        for name, value in document["metrics"].items():
            if isinstance(value, (int, float)) and not math.isfinite(value):
                problems.append(Problem(file, "must be a finite number", field=f"metrics/{name}"))
    return problems


def validate_results(document: Any, file: str) -> None:
    problems = schema_problems(document, file)
    if problems:
        raise InputError(problems, "invalid results file")


def build_results(
    card: TaskCard,
    outcome: TaskOutcome,
    model: Mapping[str, Any],
    run_config: Mapping[str, Any],
    files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    metric_info = {name: spec.recorded() for name, spec in outcome.metric_info.items() if name in outcome.metrics}
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "toolkit": {"name": "muge-eval", "version": __version__},
        "task": {"name": card.name, "version": card.version, "type": card.type, "card_sha256": card.sha256},
        "dataset": outcome.dataset.recorded(),
        "model": dict(model),
        "metrics": dict(outcome.metrics),
        "main_metric": outcome.main_metric if outcome.main_metric in outcome.metrics else None,
        "metric_info": metric_info,
        "protocol": dict(outcome.protocol),
        "run_config": dict(run_config),
        "environment": describe_environment(),
        "timings": {k: round(v, 6) for k, v in outcome.timings.items()},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if files:
        document["files"] = dict(files)
    if outcome.notes:
        document["notes"] = list(outcome.notes)
    if outcome.diagnostics:
        document["diagnostics"] = dict(outcome.diagnostics)
    return document


def write_results(path: Path, document: Mapping[str, Any]) -> None:
    validate_results(document, str(path))
    atomic_write_json(path, document)


def task_type_problems(document: Mapping[str, Any], file: str, registered: Iterable[str]) -> list[Problem]:
    """The results' task type must be one this installation knows."""
    names = list(registered)
    task_type = document.get("task", {}).get("type") if isinstance(document.get("task"), Mapping) else None
    if isinstance(task_type, str) and task_type not in names:
        message = f"unknown task type {task_type!r} (registered: {', '.join(names)}; is its plugin installed?)"
        return [Problem(file, message, field="task/type")]
    return []


def read_results(path: Path, registered_types: Iterable[str] | None = None) -> dict[str, Any]:
    """A results file, checked against the schema and (when given) the registered task types."""
    if not path.is_file():
        raise InputError([Problem(str(path), "results file not found")], "missing file")
    document = read_json_document(path, "results file", allow_constants=False)
    validate_results(document, str(path))
    assert isinstance(document, dict)
    if registered_types is not None:
        problems = task_type_problems(document, str(path), registered_types)
        if problems:
            raise InputError(problems, "invalid results file")
    return document


def samples_path_of(document: Mapping[str, Any], results_path: Path) -> Path | None:
    """The samples file a results file lists, resolved beside it (never outside its folder)."""
    return listed_file(document, results_path, "samples")


def listed_file(document: Mapping[str, Any], results_path: Path, role: str) -> Path | None:
    """The file a results file lists under ``files[role]``, resolved beside it (never
    outside its folder); None when it lists none."""
    name = (document.get("files") or {}).get(role)
    if not name:
        return None
    candidate = (results_path.parent / name).resolve()
    if candidate.parent != results_path.parent.resolve():
        raise InputError(
            [Problem(str(results_path), f"{name!r} must be a file in the same folder", field=f"files/{role}")],
            "invalid results file",
        )
    if not candidate.is_file():
        raise InputError(
            [Problem(str(results_path), f"the {role} file {name!r} is missing", field=f"files/{role}")],
            "invalid results file",
        )
    return candidate


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Per-item records; every line must be a JSON object."""
    samples: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for line in iter_json_lines(path, "samples file"):
        if line.error is not None:
            problems.append(Problem(str(path), line.error, line.number))
        elif not isinstance(line.value, dict):
            problems.append(Problem(str(path), "must be a JSON object", line.number))
        else:
            samples.append(line.value)
    if problems:
        raise InputError(problems, "invalid samples file")
    return samples
