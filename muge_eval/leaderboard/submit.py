"""Accept a results file onto a board: check it, refuse duplicates, store it by name.

The stored copy holds no absolute path of the machine that made the run, carries the
model card given with ``--card``, and brings along the per-sample scores and (for a run
that makes images) thumbnails of the images its gallery shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem
from muge_eval.io.atomic import atomic_write_json, atomic_write_lines
from muge_eval.io.safe_json import parse_json
from muge_eval.leaderboard.board import Board
from muge_eval.leaderboard.checks import board_problems, direction_problems, model_key
from muge_eval.leaderboard.entries import GALLERY_ROLE, GALLERY_SUFFIX, SAMPLES_SUFFIX, canonical_stem, load_entries
from muge_eval.leaderboard.gallery.build import GalleryContext, submission_images
from muge_eval.leaderboard.gallery.hooks import gallery_hook
from muge_eval.leaderboard.gallery.images import write_image_tsv
from muge_eval.leaderboard.paths import scrub, scrubbed_lines
from muge_eval.leaderboard.tables import metric_infos
from muge_eval.plugins import task_type_registry
from muge_eval.results import read_results, read_samples, samples_path_of, validate_results
from muge_eval.tasktypes.catalog import TaskTypeCatalog


@dataclass(frozen=True)
class Stored:
    results_path: Path
    samples_path: Path | None
    replaced: Path | None
    gallery_path: Path | None = None


@dataclass(frozen=True)
class Checked:
    document: dict[str, Any]
    samples_path: Path | None
    samples: list[dict[str, Any]]
    replaces: Path | None


def with_card(document: dict[str, Any], card: Mapping[str, Any] | None, file: str) -> dict[str, Any]:
    """The document with ``card``'s fields over its own ``model.card``, checked by the schema."""
    if card is None:
        return document
    model = {**document["model"], "card": {**(document["model"].get("card") or {}), **card}}
    merged = {**document, "model": model}
    validate_results(merged, file)
    return merged


def check_submission(path: Path, board: Board, replace: bool, card: Mapping[str, Any] | None = None) -> Checked:
    """The checked document, its samples and the stored file it replaces (if any)."""
    document = with_card(read_results(path, task_type_registry().names()), card, str(path))
    samples_path = samples_path_of(document, path)
    problems = board_problems(document, board, str(path))
    if problems:
        raise InputError(problems, "refused")
    samples = read_samples(samples_path) if samples_path is not None else []
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
    return Checked(document, samples_path, samples, None if duplicate is None else duplicate.path)


def _gallery_images(checked: Checked, path: Path, board: Board) -> dict[str, bytes]:
    document = checked.document
    task = board.task(document["task"]["name"])
    task_type = str(document["task"]["type"])
    if task is None:
        return {}
    types = TaskTypeCatalog()
    infos = metric_infos([document], task.columns, task_type, types)
    context = GalleryContext(task, board.gallery, board.seed, types.item_key(task_type), gallery_hook(task_type))
    return submission_images(document, infos, path, checked.samples, context)


def submit(path: Path, board: Board, replace: bool = False, card: Mapping[str, Any] | None = None) -> Stored:
    """Store ``path`` (its samples, its gallery images) under canonical names; the results
    file is written last."""
    checked = check_submission(path, board, replace, card)
    document = checked.document
    stem = canonical_stem(document["task"]["name"], document["model"]["name"])
    results_path = board.results_dir / f"{stem}.json"
    samples_target = board.results_dir / f"{stem}{SAMPLES_SUFFIX}" if checked.samples_path is not None else None
    images = _gallery_images(checked, path, board)
    gallery_target = board.results_dir / f"{stem}{GALLERY_SUFFIX}" if images else None
    stored = scrub({k: v for k, v in document.items() if k != "files"})
    files = {}
    if samples_target is not None:
        files["samples"] = samples_target.name
    if gallery_target is not None:
        files[GALLERY_ROLE] = gallery_target.name
    if files:
        stored["files"] = files
    validate_results(stored, str(results_path))
    if checked.replaces is not None and checked.replaces != results_path:
        # A name that differs only in case or spacing: the new name replaces the old file.
        _remove_entry(checked.replaces)
    if checked.samples_path is not None and samples_target is not None:
        source = checked.samples_path
        atomic_write_lines(samples_target, lambda: scrubbed_lines(source))
    if gallery_target is not None:
        write_image_tsv(gallery_target, images)
    atomic_write_json(results_path, stored)
    # A replaced run's samples and images must not be taken for this run's.
    for suffix, target in ((SAMPLES_SUFFIX, samples_target), (GALLERY_SUFFIX, gallery_target)):
        if target is None:
            (board.results_dir / f"{stem}{suffix}").unlink(missing_ok=True)
    return Stored(results_path, samples_target, checked.replaces, gallery_target)


def _remove_entry(path: Path) -> None:
    try:
        document = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # JsonProblem and UnicodeDecodeError are ValueErrors
        document = {}
    files = (document.get("files") if isinstance(document, dict) else None) or {}
    if not isinstance(files, dict):
        files = {}
    path.unlink(missing_ok=True)
    for role in ("samples", GALLERY_ROLE):
        name = files.get(role)
        if isinstance(name, str) and "/" not in name and "\\" not in name:
            (path.parent / name).unlink(missing_ok=True)
