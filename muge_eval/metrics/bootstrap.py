"""Percentile bootstrap intervals of a mean, and paired bootstrap tests between two models.

Every model of a task is resampled with the same index draws (seeded), so the numbers on a
page are reproducible from the stored samples, the seed and the number of resamples.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.metrics.persample import NoSamples, SampleValues, sample_values

CONFIDENCE = 0.95
# Upper bound on floats held at once while resampling (rows x draws x items).
CHUNK_FLOATS = 4_000_000


def bootstrap_means(matrix: npt.NDArray[np.float64], resamples: int, seed: int) -> npt.NDArray[np.float64]:
    """Means of each row over ``resamples`` draws of item indices with replacement.

    The draws depend only on (seed, number of items), not on the rows.
    """
    rows, items = matrix.shape
    rng = np.random.default_rng(seed)
    out = np.empty((rows, resamples), dtype=np.float64)
    chunk = max(1, CHUNK_FLOATS // max(1, rows * items))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        index = rng.integers(0, items, size=(size, items))
        out[:, start : start + size] = matrix[:, index].mean(axis=2)
    return out


def percentile_interval(draws: npt.NDArray[np.float64]) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class MetricUncertainty:
    """Intervals of one metric for the models of a task, and whose lead is not significant."""

    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # stem -> True when its lead over the next model (in the given order) is not significant,
    # False when it is; absent when no paired test was possible.
    lead_not_significant: Mapping[str, bool] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    rules: Mapping[str, str] = field(default_factory=dict)


def _aligned(values: SampleValues) -> tuple[tuple[Any, ...] | None, npt.NDArray[np.float64]]:
    """Values in key order (so two models' items line up), times the metric's scale."""
    scaled = values.values * values.scale
    keys = values.keys
    if keys is None:
        return None, scaled
    order = sorted(range(len(keys)), key=lambda i: (type(keys[i]).__name__, keys[i]))
    return tuple(keys[i] for i in order), scaled[order]


def analyse_metric(
    info: Mapping[str, Any],
    order: Sequence[str],
    reported: Mapping[str, float],
    samples: Mapping[str, Sequence[Mapping[str, Any]] | None],
    resamples: int,
    seed: int,
    item_key: str | None = None,
) -> MetricUncertainty:
    """Intervals for every model in ``order`` (best first) and paired tests of neighbours,
    for the metric that ``info`` (its metric_info entry) describes."""
    found: dict[str, tuple[tuple[Any, ...] | None, npt.NDArray[np.float64]]] = {}
    reasons: dict[str, str] = {}
    rules: dict[str, str] = {}
    for stem in order:
        result = sample_values(info, reported[stem], samples.get(stem), item_key)
        if isinstance(result, NoSamples):
            reasons[stem] = result.reason
        else:
            found[stem] = _aligned(result)
            rules[stem] = result.rule
    groups: dict[Any, list[str]] = {}
    for stem, (keys, values) in found.items():
        groups.setdefault(keys if keys is not None else ("#unpaired", stem, len(values)), []).append(stem)
    draws: dict[str, npt.NDArray[np.float64]] = {}
    for stems in groups.values():
        matrix = np.stack([found[s][1] for s in stems])
        for stem, row in zip(stems, bootstrap_means(matrix, resamples, seed), strict=True):
            draws[stem] = row
    intervals = {stem: percentile_interval(row) for stem, row in draws.items()}
    lead: dict[str, bool] = {}
    for better, worse in itertools.pairwise(order):
        paired = better in found and worse in found and found[better][0] is not None
        if paired and found[better][0] == found[worse][0]:
            low, high = percentile_interval(draws[better] - draws[worse])
            lead[better] = low <= 0.0 <= high
    return MetricUncertainty(intervals, lead, reasons, rules)
