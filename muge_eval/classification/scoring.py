"""Score top-k class predictions against the gold classes of a split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from muge_eval.classification.gold import ClassificationGold
from muge_eval.classification.metrics import (
    TOP_K,
    accuracy,
    class_balanced_weights,
    hit_at_k,
    mean_per_class_recall,
)
from muge_eval.errors import InputError, Problem


@dataclass(frozen=True)
class ClassificationScore:
    metrics: Mapping[str, float]
    samples: tuple[Mapping[str, Any], ...]


def score_predictions(gold: ClassificationGold, predictions: Mapping[str, tuple[int, ...]]) -> ClassificationScore:
    """Top-1, top-5 and mean per-class recall over every gold image, and one record per
    image (its class, the predicted classes, hit1, hit5 and its class-balanced hit1)."""
    if not gold.image_ids:
        raise InputError([Problem(gold.root, "no images to score")])
    hits1 = [hit_at_k(predictions[i], label, 1) for i, label in zip(gold.image_ids, gold.labels, strict=True)]
    hits5 = [hit_at_k(predictions[i], label, TOP_K) for i, label in zip(gold.image_ids, gold.labels, strict=True)]
    weights = class_balanced_weights(gold.labels)
    samples = tuple(
        {
            "image_id": image_id,
            "label": label,
            "class_name": gold.class_names[label],
            "predicted": list(predictions[image_id]),
            "hit1": hit1,
            "hit5": hit5,
            "class_balanced_hit1": weight if hit1 else 0.0,
        }
        for image_id, label, hit1, hit5, weight in zip(gold.image_ids, gold.labels, hits1, hits5, weights, strict=True)
    )
    metrics = {
        "top1": accuracy(hits1),
        "top5": accuracy(hits5),
        "mean_per_class_recall": mean_per_class_recall(gold.labels, hits1),
    }
    return ClassificationScore(metrics, samples)
