"""``board.yaml``: what a board ranks (tasks, split, metrics, accepted dataset fingerprints),
in which words (English and/or Chinese), beside which published numbers, and how much of
each run its gallery shows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem, ProblemList
from muge_eval.io.safe_yaml import read_yaml_file
from muge_eval.leaderboard.references import ReferenceRow, RegistryReference, parse_reference
from muge_eval.leaderboard.texts import Text, parse_text

BOARD_FILE = "board.yaml"
RESULTS_DIR = "results"
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20210501
BOARD_KEYS = {"title", "description", "tasks", "bootstrap", "gallery"}
TASK_KEYS = {"name", "title", "description", "split", "main_metric", "columns", "fingerprints", "ranges", "references"}
# gallery key -> (default, low, high)
GALLERY_LIMITS = {
    "seeded": (6, 0, 50),
    "extremes": (2, 0, 10),
    "thumbnail": (96, 32, 256),
    "max_image_mb": (50, 1, 1000),
}


@dataclass(frozen=True)
class GallerySettings:
    """How many items a run's gallery shows and how big its pictures may be.

    ``seeded`` items are drawn with the board's seed from the task's item ids (so every
    model of a task shows the same ones); ``extremes`` more are its worst and as many its
    best by the main metric. Thumbnails are at most ``thumbnail`` pixels on a side, and all
    of a site's thumbnails together at most ``max_image_mb`` MB.
    """

    seeded: int = 6
    extremes: int = 2
    thumbnail: int = 96
    max_image_mb: int = 50


@dataclass(frozen=True)
class BoardTask:
    """One ranked task: which split, which metric ranks, which columns are shown."""

    name: str
    split: str
    main_metric: str
    columns: tuple[str, ...]
    fingerprints: tuple[str, ...]
    title: Text = field(default_factory=Text)
    ranges: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    description: Text = field(default_factory=Text)
    references: tuple[ReferenceRow | RegistryReference, ...] = ()

    @property
    def display(self) -> str:
        return self.title.get("en") or self.name

    def display_in(self, lang: str) -> str:
        return self.title.get(lang) or self.name


@dataclass(frozen=True)
class Board:
    directory: Path
    title: Text
    description: Text
    tasks: tuple[BoardTask, ...]
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    gallery: GallerySettings = field(default_factory=GallerySettings)

    @property
    def results_dir(self) -> Path:
        return self.directory / RESULTS_DIR

    def task(self, name: str) -> BoardTask | None:
        return next((t for t in self.tasks if t.name == name), None)


def _str_list(value: Any, where: str, problems: ProblemList) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.add("must be a non-empty list of strings", field_name=where)
        return ()
    return tuple(value)


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _ranges(value: Any, where: str, problems: ProblemList) -> dict[str, tuple[float | None, float | None]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add("must map metric names to [low, high]", field_name=where)
        return {}
    out: dict[str, tuple[float | None, float | None]] = {}
    for metric, bounds in value.items():
        ok = isinstance(bounds, list) and len(bounds) == 2
        ok = ok and all(b is None or _finite_number(b) for b in bounds)
        if ok and None not in bounds and bounds[0] > bounds[1]:
            problems.add("low is above high", field_name=f"{where}.{metric}")
            continue
        if not ok:
            problems.add("must be [low, high] (finite numbers or null)", field_name=f"{where}.{metric}")
            continue
        out[str(metric)] = (bounds[0], bounds[1])
    return out


def _parse_task(doc: Any, where: str, problems: ProblemList) -> BoardTask | None:
    if not isinstance(doc, dict):
        problems.add("must be a mapping", field_name=where)
        return None
    for key in sorted(set(map(str, doc)) - TASK_KEYS):
        problems.add(f"unknown key (known: {', '.join(sorted(TASK_KEYS))})", field_name=f"{where}.{key}")
    values: dict[str, str] = {}
    for key in ("name", "split", "main_metric"):
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            problems.add("is required (a string)", field_name=f"{where}.{key}")
        values[key] = str(value)
    columns = _str_list(doc.get("columns", [values["main_metric"]]), f"{where}.columns", problems)
    if columns and values["main_metric"] not in columns:
        columns = (values["main_metric"], *columns)
    fingerprints = _str_list(doc.get("fingerprints"), f"{where}.fingerprints", problems)
    title = parse_text(doc.get("title"), f"{where}.title", problems)
    description = parse_text(doc.get("description"), f"{where}.description", problems)
    ranges = _ranges(doc.get("ranges"), f"{where}.ranges", problems)
    raw_references = doc.get("references") or []
    references = []
    if not isinstance(raw_references, list):
        problems.add("must be a list of references", field_name=f"{where}.references")
        raw_references = []
    for index, raw in enumerate(raw_references):
        found = parse_reference(raw, values["name"], columns, f"{where}.references[{index}]", problems)
        if found is not None:
            references.append(found)
    return BoardTask(
        values["name"],
        values["split"],
        values["main_metric"],
        columns,
        fingerprints,
        title,
        ranges,
        description,
        tuple(references),
    )


def _gallery(value: Any, problems: ProblemList) -> GallerySettings:
    if value is None:
        return GallerySettings()
    if not isinstance(value, dict):
        problems.add(f"must be a mapping ({', '.join(GALLERY_LIMITS)})", field_name="gallery")
        return GallerySettings()
    for key in sorted(set(map(str, value)) - set(GALLERY_LIMITS)):
        problems.add(f"unknown key (known: {', '.join(GALLERY_LIMITS)})", field_name=f"gallery.{key}")
    settings = {}
    for key, (default, low, high) in GALLERY_LIMITS.items():
        number = value.get(key, default)
        if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
            problems.add(f"must be an integer from {low} to {high}", field_name=f"gallery.{key}")
            number = default
        settings[key] = number
    return GallerySettings(**settings)


def parse_board(doc: Any, directory: Path, file: str) -> Board:
    problems = ProblemList(file)
    if not isinstance(doc, dict):
        raise InputError([Problem(file, "board.yaml must be a YAML mapping")], "invalid board")
    for key in sorted(set(map(str, doc)) - BOARD_KEYS):
        problems.add(f"unknown key (known: {', '.join(sorted(BOARD_KEYS))})", field_name=key)
    title = parse_text(doc.get("title"), "title", problems, required=True)
    description = parse_text(doc.get("description"), "description", problems)
    raw_tasks = doc.get("tasks")
    tasks: list[BoardTask] = []
    if not isinstance(raw_tasks, list) or not raw_tasks:
        problems.add("must be a non-empty list of tasks", field_name="tasks")
    else:
        for index, raw in enumerate(raw_tasks):
            task = _parse_task(raw, f"tasks[{index}]", problems)
            if task is not None:
                tasks.append(task)
    for name in sorted(n for n, count in Counter(t.name for t in tasks).items() if count > 1):
        problems.add(f"task {name!r} is listed more than once", field_name="tasks")
    bootstrap = doc.get("bootstrap", {})
    resamples, seed = DEFAULT_RESAMPLES, DEFAULT_SEED
    if not isinstance(bootstrap, dict):
        problems.add("must be a mapping with resamples and seed", field_name="bootstrap")
    else:
        resamples = bootstrap.get("resamples", DEFAULT_RESAMPLES)
        seed = bootstrap.get("seed", DEFAULT_SEED)
        if not isinstance(resamples, int) or isinstance(resamples, bool) or not 100 <= resamples <= 100000:
            problems.add("must be an integer from 100 to 100000", field_name="bootstrap.resamples")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            problems.add("must be a non-negative integer", field_name="bootstrap.seed")
    gallery = _gallery(doc.get("gallery"), problems)
    problems.raise_if_any("invalid board")
    return Board(directory, title, description, tuple(tasks), int(resamples), int(seed), gallery)


def load_board(directory: Path) -> Board:
    path = directory / BOARD_FILE
    if not path.is_file():
        raise InputError([Problem(str(path), "board.yaml not found: is this a board directory?")], "invalid board")
    doc, _ = read_yaml_file(path, "board")
    return parse_board(doc, directory, str(path))
