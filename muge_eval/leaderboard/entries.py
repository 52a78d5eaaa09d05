"""The results files stored on a board, and their canonical names."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem
from muge_eval.leaderboard.board import Board
from muge_eval.leaderboard.checks import board_problems, direction_problems, model_key
from muge_eval.naming import safe_name
from muge_eval.plugins import task_type_registry
from muge_eval.results import listed_file, read_results, samples_path_of

SAMPLES_SUFFIX = ".samples.jsonl"
# Thumbnails of the images a run made for its gallery (text-to-image), stored at submit.
GALLERY_SUFFIX = ".gallery.tsv"
GALLERY_ROLE = "gallery"


@dataclass(frozen=True)
class Entry:
    """One stored results file; ``stem`` names it and its run page."""

    stem: str
    path: Path
    document: Mapping[str, Any]
    samples_path: Path | None
    gallery_path: Path | None = None

    @property
    def task(self) -> str:
        return str(self.document["task"]["name"])

    @property
    def model(self) -> str:
        return str(self.document["model"]["name"])


def canonical_stem(task: str, model: str) -> str:
    """``task--model-hash``: readable, safe on any file system, distinct for distinct names."""
    digest = hashlib.sha256(f"{task}\0{model_key(model)}".encode()).hexdigest()[:10]
    return f"{safe_name(task)[:60]}--{safe_name(model)[:60]}-{digest}"


def load_entries(board: Board) -> list[Entry]:
    """Every stored results file, each checked against the schema and the board again."""
    entries: list[Entry] = []
    problems: list[Problem] = []
    directory = board.results_dir
    paths = sorted(directory.glob("*.json")) if directory.is_dir() else []
    seen: dict[tuple[str, str], Path] = {}
    for path in paths:
        try:
            document = read_results(path, task_type_registry().names())
            samples = samples_path_of(document, path)
            gallery = listed_file(document, path, GALLERY_ROLE)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        file_problems = board_problems(document, board, str(path))
        same_task = [e.document for e in entries if e.task == document["task"]["name"]]
        file_problems += direction_problems(document, same_task, str(path))
        key = (document["task"]["name"], model_key(document["model"]["name"]))
        if key in seen:
            file_problems.append(Problem(str(path), f"same model and task as {seen[key].name}", field="model/name"))
        seen[key] = path
        problems.extend(file_problems)
        if not file_problems:
            entries.append(Entry(path.stem, path, document, samples, gallery))
    if problems:
        raise InputError(problems, "the board holds invalid results")
    return entries


def entries_for(entries: Sequence[Entry], task: str) -> list[Entry]:
    return [e for e in entries if e.task == task]
