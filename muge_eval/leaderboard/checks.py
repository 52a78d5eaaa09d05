"""Whether a results file belongs on a board: task, split, dataset, metrics, links."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from muge_eval.errors import Problem
from muge_eval.leaderboard.board import Board, BoardTask
from muge_eval.leaderboard.links import is_http_url
from muge_eval.leaderboard.modelcard import card_problems

# The range a metric's value must lie in, by the unit its results file declares.
UNIT_RANGES: Mapping[str, tuple[float | None, float | None]] = {
    "percent": (0.0, 100.0),
    "fraction": (0.0, 1.0),
    "ratio": (0.0, 1.0),
}


def model_key(name: str) -> str:
    """Two model names that differ only in case or spacing are the same model."""
    return " ".join(name.split()).casefold()


def metric_range(task: BoardTask, metric: str, info: Mapping[str, Any]) -> tuple[float | None, float | None]:
    if metric in task.ranges:
        return task.ranges[metric]
    return UNIT_RANGES.get(str(info.get("unit", "")), (None, None))


def _metric_problems(document: Mapping[str, Any], task: BoardTask, file: str) -> list[Problem]:
    problems: list[Problem] = []
    metrics = document["metrics"]
    infos = document["metric_info"]
    for name in task.columns:
        if name not in metrics:
            problems.append(Problem(file, f"the board shows {name!r}, which this file lacks", field="metrics"))
        elif name not in infos:
            problems.append(Problem(file, "no metric_info for this metric", field=f"metric_info/{name}"))
    for name, value in metrics.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            problems.append(Problem(file, "must be a finite number", field=f"metrics/{name}"))
            continue
        low, high = metric_range(task, name, infos.get(name, {}))
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(Problem(file, f"{value} is outside [{low}, {high}]", field=f"metrics/{name}"))
    return problems


def board_problems(document: Mapping[str, Any], board: Board, file: str) -> list[Problem]:
    """Every reason a schema-valid results file cannot go on this board."""
    task_name = document["task"]["name"]
    task = board.task(task_name)
    if task is None:
        ranked = ", ".join(t.name for t in board.tasks)
        message = f"task {task_name!r} is not ranked on this board (it ranks: {ranked})"
        return [Problem(file, message, field="task/name")]
    problems: list[Problem] = []
    split = document["dataset"]["split"]
    if split != task.split:
        problems.append(Problem(file, f"split {split!r}, but the board ranks {task.split!r}", field="dataset/split"))
    fingerprint = document["dataset"]["fingerprint"]
    if fingerprint not in task.fingerprints:
        problems.append(
            Problem(file, f"dataset {fingerprint!r} is not one the board accepts", field="dataset/fingerprint")
        )
    if document["run_config"].get("limit") is not None:
        problems.append(Problem(file, "a run on part of the data (--limit) is not ranked", field="run_config/limit"))
    problems.extend(_metric_problems(document, task, file))
    url = document["model"].get("url")
    if url is not None and not is_http_url(url):
        problems.append(Problem(file, "must be an http(s) URL", field="model/url"))
    card = document["model"].get("card")
    if isinstance(card, Mapping):
        problems.extend(card_problems(card, file))
    return problems


def direction_problems(document: Mapping[str, Any], others: list[Mapping[str, Any]], file: str) -> list[Problem]:
    """A metric must sort the same way in every results file of a task."""
    problems: list[Problem] = []
    for name, info in document["metric_info"].items():
        for other in others:
            other_info = other["metric_info"].get(name)
            if other_info is not None and other_info["higher_is_better"] != info["higher_is_better"]:
                problems.append(
                    Problem(file, "higher_is_better disagrees with results already on the board", field=name)
                )
                break
    return problems
