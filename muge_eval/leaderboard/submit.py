"""Accept a results file onto a board: check it, refuse duplicates, store it by name."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem
from muge_eval.io.atomic import atomic_open, atomic_write_json
from muge_eval.io.safe_json import parse_json
from muge_eval.leaderboard.board import Board
from muge_eval.leaderboard.checks import board_problems, direction_problems, model_key
from muge_eval.leaderboard.entries import SAMPLES_SUFFIX, canonical_stem, load_entries
from muge_eval.plugins import task_type_registry
from muge_eval.results import read_results, read_samples, samples_path_of, validate_results


@dataclass(frozen=True)
class Stored:
    results_path: Path
    samples_path: Path | None
    replaced: Path | None


def check_submission(path: Path, board: Board, replace: bool) -> tuple[dict[str, Any], Path | None, Path | None]:
    """The checked document, its samples file and the stored file it replaces (if any)."""
    document = read_results(path, task_type_registry().names())
    samples = samples_path_of(document, path)
    problems = board_problems(document, board, str(path))
    if problems:
        raise InputError(problems, "refused")
    if samples is not None:
        read_samples(samples)
    entries = load_entries(board)
    same_task = [e for e in entries if e.task == document["task"]["name"]]
    problems = direction_problems(document, [e.document for e in same_task], str(path))
    key = model_key(document["model"]["name"])
    duplicate = next((e for e in same_task if model_key(e.model) == key), None)
    if duplicate is not None and not replace:
        problems.append(
            Problem(
                str(path),
                f"{document['model']['name']!r} on {document['task']['name']!r} is already on the board "
                f"({duplicate.path.name}); pass --replace to replace it",
                field="model/name",
            )
        )
    if problems:
        raise InputError(problems, "refused")
    return document, samples, None if duplicate is None else duplicate.path


def submit(path: Path, board: Board, replace: bool = False) -> Stored:
    """Store ``path`` (and its samples) under canonical names; the results file is written last."""
    document, samples, replaced = check_submission(path, board, replace)
    stem = canonical_stem(document["task"]["name"], document["model"]["name"])
    results_path = board.results_dir / f"{stem}.json"
    samples_target = board.results_dir / f"{stem}{SAMPLES_SUFFIX}" if samples is not None else None
    stored = dict(document)
    stored.pop("files", None)
    if samples_target is not None:
        stored["files"] = {"samples": samples_target.name}
    validate_results(stored, str(results_path))
    if replaced is not None and replaced != results_path:
        # A name that differs only in case or spacing: the new name replaces the old file.
        _remove_entry(replaced)
    if samples is not None and samples_target is not None:
        with atomic_open(samples_target, "wb", encoding=None) as handle, samples.open("rb") as source:
            shutil.copyfileobj(source, handle)
    atomic_write_json(results_path, stored)
    if samples_target is None:
        # A replaced run's samples must not be taken for this run's.
        (board.results_dir / f"{stem}{SAMPLES_SUFFIX}").unlink(missing_ok=True)
    return Stored(results_path, samples_target, replaced)


def _remove_entry(path: Path) -> None:
    try:
        document = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # JsonProblem and UnicodeDecodeError are ValueErrors
        document = {}
    files = (document.get("files") if isinstance(document, dict) else None) or {}
    if not isinstance(files, dict):
        files = {}
    path.unlink(missing_ok=True)
    name = files.get("samples")
    if isinstance(name, str) and "/" not in name and "\\" not in name:
        (path.parent / name).unlink(missing_ok=True)
