"""Published reference rows: numbers from papers shown beside the submissions, marked as
published and never ranked.

A board task lists them under ``references:``, each either an id of the published-results
registry or the numbers inline with their source::

    references:
      - id: chinese-clip-vit-b16-muge-zeroshot        # resolved by the registry
      - model: Chinese-CLIP ViT-B/16
        setting: zero-shot
        metrics: {mean_recall: 63.0, r1: 42.6}
        source: Yang et al. 2022, Chinese CLIP, Table 3
        url: https://arxiv.org/abs/2211.01335
        card: {organisation: Alibaba DAMO Academy, parameters: 188000000, weights: open}

Registry records are read by attribute (``reference_from_record``), so any object with
``id``, ``model``, ``task``, ``metrics``, ``source`` and ``setting`` (and optionally
``url``, ``split``, ``direction`` and model metadata) becomes a row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from muge_eval.errors import InputError, Problem, ProblemList
from muge_eval.leaderboard.links import is_http_url
from muge_eval.leaderboard.modelcard import SETTINGS, ModelCard, card_from, card_problems

REFERENCE_KEYS = {"id", "model", "setting", "metrics", "source", "url", "card"}
# The attributes of a registry record that may carry its model's metadata.
METADATA_ATTRIBUTES = ("card", "model_card", "metadata", "model_metadata")

# A registry lookup: id -> record (None when the registry has no such id).
ReferenceLookup = Callable[[str], Any]


@dataclass(frozen=True)
class ReferenceRow:
    """One published result of one model on one board task."""

    id: str
    task: str
    model: str
    metrics: Mapping[str, float]
    source: str
    url: str = ""
    setting: str = ""
    card: ModelCard = field(default_factory=ModelCard)
    split: str = ""
    direction: str = ""

    @property
    def display(self) -> str:
        return self.card.display_name or self.model


@dataclass(frozen=True)
class RegistryReference:
    """A ``references:`` entry naming a registry id, resolved when the site is built."""

    id: str
    where: str


def _metrics(value: Any, columns: tuple[str, ...], where: str, problems: ProblemList) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        problems.add("must map metric names to numbers", field_name=where)
        return {}
    out: dict[str, float] = {}
    for name, number in value.items():
        if str(name) not in columns:
            problems.add(f"not a column of this task (columns: {', '.join(columns)})", field_name=f"{where}.{name}")
        elif isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            problems.add("must be a finite number", field_name=f"{where}.{name}")
        else:
            out[str(name)] = float(number)
    return out


def _card(value: Any, file: str, where: str, problems: ProblemList) -> ModelCard:
    if value is None:
        return ModelCard()
    from muge_eval.leaderboard.modelcard import card_schema_problems

    if not isinstance(value, Mapping):
        problems.add("must be a mapping of model card fields", field_name=where)
        return ModelCard()
    found = card_schema_problems(value, file, where) + card_problems(value, file, where)
    problems.problems.extend(found)
    return card_from(value) if not found else ModelCard()


def parse_reference(
    doc: Any, task: str, columns: tuple[str, ...], where: str, problems: ProblemList
) -> ReferenceRow | RegistryReference | None:
    """One ``references:`` entry of a board task."""
    if not isinstance(doc, Mapping):
        problems.add("must be a mapping (id: ..., or model, metrics and source)", field_name=where)
        return None
    for key in sorted(set(map(str, doc)) - REFERENCE_KEYS):
        problems.add(f"unknown key (known: {', '.join(sorted(REFERENCE_KEYS))})", field_name=f"{where}.{key}")
    if "metrics" not in doc:
        ref_id = doc.get("id")
        if not isinstance(ref_id, str) or not ref_id:
            problems.add("needs a registry id, or model, metrics and source", field_name=where)
            return None
        return RegistryReference(ref_id, where)
    values: dict[str, str] = {}
    for key in ("model", "source"):
        value = doc.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.add("is required (a string)", field_name=f"{where}.{key}")
        values[key] = str(value or "").strip()
    url = doc.get("url", "")
    if url and not is_http_url(url):
        problems.add("must be an http(s) URL", field_name=f"{where}.url")
    setting = doc.get("setting", "")
    if setting and setting not in SETTINGS:
        problems.add(f"must be one of {', '.join(SETTINGS)}", field_name=f"{where}.setting")
    metrics = _metrics(doc.get("metrics"), columns, f"{where}.metrics", problems)
    card = _card(doc.get("card"), problems.file, f"{where}.card", problems)
    ref_id = doc.get("id") if isinstance(doc.get("id"), str) else f"{task}:{values['model']}"
    return ReferenceRow(
        str(ref_id), task, values["model"], metrics, values["source"], str(url or ""), str(setting or ""), card
    )


def _attr(record: Any, name: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def reference_from_record(record: Any, task: str, split: str, columns: tuple[str, ...], where: str) -> ReferenceRow:
    """A row from a published-results registry record (read by attribute, duck-typed).

    Expected: ``id``, ``model``, ``task`` (a task card name), ``metrics`` (name -> number),
    ``source`` (a citation string, or an object with ``citation``/``title`` and ``url``),
    ``setting`` (``zero-shot``/``fine-tuned``); optional ``url``, ``split``, ``direction``
    and model metadata in ``card``/``model_card``/``metadata`` (a mapping or object with
    model card fields). Metrics the board does not show are left out.
    """
    problems = ProblemList(where)
    record_task = _attr(record, "task")
    if record_task != task:
        problems.add(f"the record is for task {record_task!r}, not {task!r}", field_name="task")
    record_split = _attr(record, "split")
    if record_split and record_split != split:
        problems.add(f"the record is for split {record_split!r}, but the board ranks {split!r}", field_name="split")
    source = _attr(record, "source", "")
    url = _attr(record, "url", "") or ""
    if not isinstance(source, str):
        url = url or _attr(source, "url", "") or ""
        source = _attr(source, "citation") or _attr(source, "title") or ""
    if not source:
        problems.add("has no source", field_name="source")
    metrics_in = _attr(record, "metrics") or {}
    metrics = {
        str(k): float(v)
        for k, v in dict(metrics_in).items()
        if str(k) in columns and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }
    if not metrics:
        problems.add(f"no metric the board shows ({', '.join(columns)})", field_name="metrics")
    setting = str(_attr(record, "setting", "") or "")
    problems.raise_if_any("invalid published reference")
    metadata = next((m for m in (_attr(record, a) for a in METADATA_ATTRIBUTES) if m is not None), None)
    return ReferenceRow(
        id=str(_attr(record, "id")),
        task=task,
        model=str(_attr(record, "model")),
        metrics=metrics,
        source=str(source),
        url=str(url) if is_http_url(url) else "",
        setting=setting if setting in SETTINGS else "",
        card=card_from(metadata),
        split=str(record_split or ""),
        direction=str(_attr(record, "direction", "") or ""),
    )


def resolve_reference(
    entry: ReferenceRow | RegistryReference,
    lookup: ReferenceLookup | None,
    task: str,
    split: str,
    columns: tuple[str, ...],
    file: str,
) -> ReferenceRow:
    """An inline row as it is; a registry id through ``lookup``."""
    if isinstance(entry, ReferenceRow):
        return entry
    if lookup is None:
        message = (
            f"names the registry id {entry.id!r}, but no published-results registry is available: "
            "give the numbers inline"
        )
        raise InputError([Problem(file, message, field=entry.where)], "invalid board")
    record = lookup(entry.id)
    if record is None:
        raise InputError(
            [Problem(file, f"no published result with id {entry.id!r}", field=entry.where)], "invalid board"
        )
    return reference_from_record(record, task, split, columns, f"{file}: {entry.where}")
