"""Building a task: its card (by name, file or object), its registered type, its options."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from muge_eval.cards import TaskCard, load_card
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.plugins import Registries, resolve_card
from muge_eval.tasktypes.base import TaskType


def card_for(registries: Registries, task: str | Path | TaskCard) -> TaskCard:
    """A card by registered name, by the path of a card file, or as given."""
    if isinstance(task, TaskCard):
        return task
    path = Path(task)
    if str(task).endswith((".yaml", ".yml")) and path.is_file():
        return load_card(path)
    return resolve_card(registries, str(task))


def load_task(
    registries: Registries,
    task: str | Path | TaskCard,
    options: Mapping[str, Any] | None = None,
    device: str | None = None,
) -> TaskType:
    """The task type instance for a card, with the user's options checked. The run's
    ``device`` also goes to a type that has a ``device`` option of its own (the network it
    runs, e.g. t2i's Inception), unless that option is set."""
    card = card_for(registries, task)
    if card.type not in registries.task_types:
        file = str(card.path) if card.path else card.name
        known = ", ".join(registries.task_types.names())
        raise InputError(
            [Problem(file, f"unknown task type {card.type!r} (registered: {known})", None, "type")], "invalid task card"
        )
    task_class = registries.task_types.get(card.type)
    if not (isinstance(task_class, type) and issubclass(task_class, TaskType)):
        raise UsageError(f"task type {card.type!r} is registered as {task_class!r}, not a TaskType subclass")
    merged = dict(options or {})
    if device is not None and "device" not in merged and any(o.name == "device" for o in task_class.options):
        merged["device"] = device
    return task_class(card, merged, registries)
