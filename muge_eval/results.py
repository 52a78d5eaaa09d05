"""The results JSON: built from a run, validated against the shipped JSON Schema when
written and when read, written atomically."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from muge_eval import __version__
from muge_eval.cards import TaskCard
from muge_eval.environment import describe_environment
from muge_eval.errors import InputError, Problem, shorten
from muge_eval.io.atomic import atomic_write_json
from muge_eval.io.jsonl import read_json_document
from muge_eval.specs import TaskOutcome

SCHEMA_VERSION = "1.0"


def load_schema() -> dict[str, Any]:
    text = resources.files("muge_eval").joinpath("schemas/results.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_problems(document: Any, file: str) -> list[Problem]:
    """Every schema violation, plus non-finite metric values, as problems."""
    validator = jsonschema.Draft202012Validator(load_schema())
    problems = [
        Problem(file, shorten(error.message, 300), field="/".join(str(p) for p in error.absolute_path) or None)
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]
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
    metric_info = {name: asdict(info) for name, info in outcome.metric_info.items() if name in outcome.metrics}
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
    return document


def write_results(path: Path, document: Mapping[str, Any]) -> None:
    validate_results(document, str(path))
    atomic_write_json(path, document)


def read_results(path: Path) -> dict[str, Any]:
    """A results file, checked against the schema; any fault is one InputError naming it."""
    if not path.is_file():
        raise InputError([Problem(str(path), "results file not found")], "missing file")
    document = read_json_document(path, "results file", allow_constants=False)
    validate_results(document, str(path))
    assert isinstance(document, dict)
    return document
