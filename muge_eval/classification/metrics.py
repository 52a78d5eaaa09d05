"""Classification metrics: top-1 and top-5 accuracy, mean per-class recall (all in %).

Top-k accuracy is 100 x hits / images: an image hits at k when its class is among its
first k predicted classes. Mean per-class recall is the mean, over the classes that have
at least one image, of each class's top-1 recall (hits / images of the class): CLIP_benchmark's
``mean_per_class_recall`` (scikit-learn's balanced accuracy), which weighs every class the
same however many images it has.

Its per-image form: image i of class c carries ``hit1_i x N / (C x n_c)`` (N images, C
classes present, n_c images of class c); the mean of that over the images is exactly the
mean per-class recall, so the number gets a bootstrap interval from the per-image records
like the others. That interval resamples images with the class weights held fixed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from muge_eval.metrics.spec import MetricSpec

TOP_K = 5
METRICS = ("top1", "top5", "mean_per_class_recall")
MEAN_PER_CLASS_RULE = "mean over the classes with at least one image of each class's top-1 recall"


def hit_at_k(predicted: Sequence[int], label: int, k: int) -> bool:
    """True when ``label`` is among the first ``k`` predicted classes."""
    return label in predicted[:k]


def accuracy(hits: Sequence[bool]) -> float:
    """100 x hits / images (multiplied first, so 46 of 80 is 57.5 exactly)."""
    if not hits:
        raise ValueError("accuracy over zero images is undefined")
    return 100.0 * sum(hits) / len(hits)


def per_class_recall(labels: Sequence[int], hits: Sequence[bool]) -> dict[int, float]:
    """Each class's share of its images that hit, by class index (classes with images)."""
    images = Counter(labels)
    hit_counts = Counter(label for label, hit in zip(labels, hits, strict=True) if hit)
    return {label: hit_counts[label] / count for label, count in sorted(images.items())}


def mean_per_class_recall(labels: Sequence[int], hits: Sequence[bool]) -> float:
    """The mean over classes present of their recall, x 100."""
    recalls = per_class_recall(labels, hits)
    if not recalls:
        raise ValueError("recall over zero images is undefined")
    return 100.0 * math.fsum(recalls.values()) / len(recalls)


def class_balanced_weights(labels: Sequence[int]) -> list[float]:
    """Per image: N / (C x n_c), so that the mean of weight x hit is the mean per-class recall."""
    images = Counter(labels)
    return [len(labels) / (len(images) * images[label]) for label in labels]


_SPECS = {
    "top1": ("share of images whose class is predicted first (%)", ("hit1",)),
    "top5": ("share of images whose class is among the first 5 predictions (%)", ("hit5",)),
    "mean_per_class_recall": (
        "mean over classes of the share of each class's images predicted first (%); per image"
        " hit1 x N / (classes x images of its class), whose mean is exactly this number (its"
        " interval holds the class weights fixed)",
        ("class_balanced_hit1",),
    ),
}


def classification_metric_specs() -> tuple[MetricSpec, ...]:
    """Every reported classification metric."""
    return tuple(
        MetricSpec(
            name=name,
            description=description,
            higher_is_better=True,
            unit="percent",
            aggregation="mean",
            item_fields=fields,
            scale=100.0,
        )
        for name, (description, fields) in _SPECS.items()
    )
