"""Reference rows from the registry of published results (``muge_eval.published``): a
``references: - id: ...`` entry of board.yaml names a registry id."""

from __future__ import annotations

import re
from typing import Any

from muge_eval.leaderboard.references import ReferenceLookup

SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMBT]?)\s*$", re.IGNORECASE)
SCALE = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def parameter_count(text: str | None) -> float | None:
    """``188M`` -> 188e6; None when the registry gives no count it states plainly."""
    match = SIZE.match(text or "")
    return float(match.group(1)) * SCALE[match.group(2).upper()] if match else None


def registry_record(entry: Any) -> dict[str, Any]:
    """A registry entry in the form the reference-row reader takes."""
    model = entry.model
    weights = {True: "open", False: "closed"}.get(model.open_weights, "")
    return {
        "id": entry.id,
        "model": model.name,
        "task": entry.task,
        "split": entry.split,
        "direction": entry.direction,
        "metrics": entry.results_metrics(),
        "source": entry.source.citation(),
        "url": entry.source.url or "",
        "setting": entry.setting,
        "card": {
            "display_name": model.name,
            "parameters": parameter_count(model.parameters),
            "weights": weights,
            "release_date": model.released or "",
            "setting": entry.setting,
        },
    }


def published_lookup() -> ReferenceLookup:
    """Registry id -> the record of its reference row (None for an unknown id)."""
    from muge_eval.published.loader import load_published

    records = {entry.id: entry for entry in load_published()}

    def lookup(identifier: str) -> dict[str, Any] | None:
        entry = records.get(identifier)
        return None if entry is None else registry_record(entry)

    return lookup
