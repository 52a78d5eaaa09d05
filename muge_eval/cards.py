"""Task cards: YAML files that say what a task is, where its data lives and how it is scored.

A card is data, not code: users add a task by writing one in their own directory and
passing ``--tasks-dir``. Built-in cards live in the repository's ``tasks/`` directory,
which is shipped inside the wheel as ``muge_eval/_tasks``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem
from muge_eval.io.safe_yaml import read_yaml_file

DATA_SOURCES = ("local", "hub", "saved")


@dataclass(frozen=True)
class DataSpec:
    """Where a task's data is and in which layout.

    ``source`` is ``local`` (a directory of the official files), ``hub`` (a ``datasets``
    hub id) or ``saved`` (a directory written by ``Dataset.save_to_disk``). ``location`` of a
    local or saved source is relative to the card's directory; it may be empty, in which
    case the user passes ``--data-dir``.
    """

    format: str
    source: str = "local"
    location: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class TaskCard:
    name: str
    version: str
    type: str
    description: str
    data: DataSpec
    splits: tuple[str, ...]
    default_split: str
    # Empty: the task type's defaults (its metrics, its first direction).
    metrics: tuple[str, ...] = ()
    main_metric: str = ""
    directions: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha256: str = ""

    def data_location(self) -> Path | None:
        """The card's data directory resolved against the card file, if it names one."""
        if self.data.location is None or self.data.source == "hub":
            return None
        location = Path(self.data.location).expanduser()
        if not location.is_absolute() and self.path is not None:
            location = self.path.parent / location
        return location


def _require(doc: Mapping[str, Any], key: str, kind: type, problems: list[Problem], file: str) -> Any:
    value = doc.get(key)
    if value is None:
        problems.append(Problem(file, "is required", field=key))
    elif not isinstance(value, kind):
        problems.append(Problem(file, f"must be a {kind.__name__}, got {type(value).__name__}", field=key))
    return value


def _optional_str_list(doc: Mapping[str, Any], key: str, problems: list[Problem], file: str) -> tuple[str, ...]:
    value = doc.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.append(Problem(file, "must be a non-empty list of strings", field=key))
        return ()
    return tuple(dict.fromkeys(value))


def parse_card(doc: Any, file: str, path: Path | None = None, sha256: str = "") -> TaskCard:
    """Build a card from a parsed YAML document, listing every problem at once.

    These are the checks every card passes; what depends on the type (its data formats,
    directions, options, metrics) is checked by the task type when the task is built.
    """
    if not isinstance(doc, dict):
        raise InputError([Problem(file, "a task card must be a YAML mapping")], "invalid task card")
    problems: list[Problem] = []
    name = _require(doc, "name", str, problems, file)
    task_type = _require(doc, "type", str, problems, file)
    data = _require(doc, "data", dict, problems, file)
    metrics = _optional_str_list(doc, "metrics", problems, file)
    main_metric = doc.get("main_metric", "")
    if not isinstance(main_metric, str):
        problems.append(Problem(file, "must be a string", field="main_metric"))
        main_metric = ""
    splits = doc.get("splits", ["valid"])
    if not isinstance(splits, list) or not splits or not all(isinstance(s, str) for s in splits):
        problems.append(Problem(file, "must be a non-empty list of split names", field="splits"))
        splits = ["valid"]
    default_split = doc.get("default_split", splits[0])
    if default_split not in splits:
        problems.append(Problem(file, f"{default_split!r} is not one of the splits", field="default_split"))
    directions = _optional_str_list(doc, "directions", problems, file)
    data_spec = DataSpec(format="")
    if isinstance(data, dict):
        data_format = _require(data, "format", str, problems, file)
        source = data.get("source", "local")
        if source not in DATA_SOURCES:
            problems.append(Problem(file, f"must be one of {', '.join(DATA_SOURCES)}", field="data.source"))
        location = data.get("location")
        if location is not None and not isinstance(location, str):
            problems.append(Problem(file, "must be a string", field="data.location"))
        if source == "hub" and not location:
            problems.append(Problem(file, "a hub source needs the hub id as location", field="data.location"))
        revision = data.get("revision")
        data_spec = DataSpec(str(data_format), str(source), location, None if revision is None else str(revision))
    if metrics and main_metric and main_metric not in metrics:
        problems.append(Problem(file, f"{main_metric!r} is not among the metrics", field="main_metric"))
    options = doc.get("options", {})
    if not isinstance(options, dict):
        problems.append(Problem(file, "must be a mapping", field="options"))
        options = {}
    if problems:
        raise InputError(problems, "invalid task card")
    return TaskCard(
        name=name,
        version=str(doc.get("version", "1")),
        type=task_type,
        description=str(doc.get("description", "")).strip(),
        data=data_spec,
        splits=tuple(splits),
        default_split=default_split,
        metrics=metrics,
        main_metric=main_metric,
        directions=tuple(directions),
        options=dict(options),
        path=path,
        sha256=sha256,
    )


def load_card(path: Path) -> TaskCard:
    """Read and check one card file; its sha256 goes into every results file."""
    doc, raw = read_yaml_file(path, "task card")
    return parse_card(doc, str(path), path.resolve(), hashlib.sha256(raw).hexdigest())


def builtin_tasks_dir() -> Path:
    """The built-in cards. ``muge_eval/_tasks`` is a link to the repository's ``tasks/``
    in a checkout, and a real directory inside an installed wheel."""
    return (Path(__file__).resolve().parent / "_tasks").resolve()


def find_card_files(directory: Path) -> list[Path]:
    """Card files in a directory: ``*.yaml``/``*.yml`` at its top level."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def describe_local_source(data_dir: Path) -> str:
    """``bundled:NAME`` for data shipped with muge-eval (so results do not depend on where
    it is installed), ``local:PATH`` otherwise."""
    resolved = data_dir.resolve()
    try:
        return f"bundled:{resolved.relative_to(builtin_tasks_dir()).as_posix()}"
    except ValueError:
        return f"local:{resolved}"
