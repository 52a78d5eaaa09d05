"""Which items a run's gallery shows: a few drawn with the board's seed from the task's
item ids (the same items for every model of the task), and the run's worst and best items
by its per-item score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from muge_eval.metrics.persample import KEY_FIELDS, item_value, passes_filter

SEEDED = "seeded"
WORST = "worst"
BEST = "best"


@dataclass(frozen=True)
class ItemScores:
    """One number per sample (None where it has none) and the metric they come from."""

    metric: str
    values: tuple[float | None, ...]
    higher_is_better: bool


@dataclass(frozen=True)
class Chosen:
    """A sample shown in a gallery and why: seeded, worst and/or best."""

    index: int
    why: tuple[str, ...]


def _per_item(info: Mapping[str, Any], metric: str, samples: Sequence[Mapping[str, Any]]) -> tuple[float | None, ...]:
    """A mean metric's own per-item value; for a corpus or set metric, a per-item field of
    the same name if the samples carry one (e.g. each image's CIDEr-D)."""
    if info.get("aggregation") == "mean" and isinstance(info.get("item_fields"), list) and info["item_fields"]:
        fields = [str(f) for f in info["item_fields"]]
        item_filter = info.get("item_filter") or {}
    else:
        fields, item_filter = [metric], {}
    selected = dict(item_filter)
    return tuple(item_value(s, fields) if passes_filter(s, selected) else None for s in samples)


def item_scores(
    infos: Mapping[str, Mapping[str, Any]], columns: Sequence[str], samples: Sequence[Mapping[str, Any]]
) -> ItemScores | None:
    """Per-item scores by the first of ``columns`` (main metric first) that has them;
    ``infos`` describes each metric (its metric_info)."""
    for metric in columns:
        info = infos.get(metric) or {}
        values = _per_item(info, metric, samples)
        if any(v is not None for v in values):
            scale = float(info.get("scale", 1.0)) if info.get("aggregation") == "mean" else 1.0
            scaled = tuple(None if v is None else v * scale for v in values)
            return ItemScores(metric, scaled, bool(info.get("higher_is_better", True)))
    return None


def item_key(sample: Mapping[str, Any], key_field: str | None) -> str:
    """A string naming the item (with its direction, when the sample has one)."""
    for name in (key_field, *KEY_FIELDS) if key_field else KEY_FIELDS:
        value = sample.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            direction = sample.get("direction")
            return f"{direction}:{value}" if isinstance(direction, str) else str(value)
    return ""


def choose(
    samples: Sequence[Mapping[str, Any]],
    scores: ItemScores | None,
    key_field: str | None,
    seed: int,
    seeded: int,
    extremes: int,
) -> list[Chosen]:
    """The seeded items in key order (drawn from the item keys alone, so every model of a
    task with the same items shows the same ones), then the worst and the best items of the
    run that are not among them (ties: file order). A seeded item that is also among the
    worst or best says so."""
    keys = [item_key(s, key_field) for s in samples]
    by_key = sorted(range(len(samples)), key=lambda i: (keys[i], i))
    draws: list[int] = [int(p) for p in np.random.default_rng(seed).permutation(len(by_key))[:seeded]]
    why: dict[int, list[str]] = {by_key[int(p)]: [SEEDED] for p in draws}
    seeded_items = sorted(why, key=lambda i: (keys[i], i))
    extra: list[int] = []
    if scores is not None and extremes:
        valid = [i for i, v in enumerate(scores.values) if v is not None]
        ascending = sorted(valid, key=lambda i: (scores.values[i] or 0.0, i))
        descending = sorted(valid, key=lambda i: (-(scores.values[i] or 0.0), i))
        worst, best = (ascending, descending) if scores.higher_is_better else (descending, ascending)
        for label, order in ((WORST, worst), (BEST, best)):
            for index in [i for i in order if not (WORST in why.get(i, ()) or BEST in why.get(i, ()))][:extremes]:
                if index not in why:
                    extra.append(index)
                why.setdefault(index, []).append(label)
    return [Chosen(i, tuple(why[i])) for i in seeded_items + extra]
