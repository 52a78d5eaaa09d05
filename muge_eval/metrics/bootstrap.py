"""Percentile bootstrap intervals of a mean or of a recomputed corpus metric, and paired
bootstrap tests between two models.

Every model of a task is resampled with the same index draws (seeded), so the numbers on a
page are reproducible from the stored samples, the seed and the number of resamples. A
mean is averaged over each draw; a corpus metric with a recompute rule (BLEU) sums its
per-item statistics over each draw and applies the rule (sacrebleu's paired bootstrap).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.metrics.persample import NoSamples, SampleStatistics, SampleValues, sample_values

CONFIDENCE = 0.95
# Upper bound on floats held at once while resampling (rows x draws x items).
CHUNK_FLOATS = 4_000_000


def _index_chunks(rows: int, items: int, resamples: int, seed: int) -> Iterator[tuple[int, npt.NDArray[np.int64]]]:
    """(first resample, item indices of the next resamples), drawn with replacement."""
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_FLOATS // max(1, rows * items))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        yield start, rng.integers(0, items, size=(size, items))


def resample_counts(
    items: int, resamples: int, seed: int, rows: int = 1
) -> Iterator[tuple[int, npt.NDArray[np.float64]]]:
    """(first resample, how often each item is drawn in each of the next resamples): the
    draws of ``bootstrap_means`` of ``rows`` rows, as counts of shape (resamples, items)."""
    for start, index in _index_chunks(rows, items, resamples, seed):
        size = len(index)
        flat = (index + np.arange(size, dtype=np.int64)[:, None] * items).ravel()
        yield start, np.bincount(flat, minlength=size * items).reshape(size, items).astype(np.float64)


def bootstrap_means(matrix: npt.NDArray[np.float64], resamples: int, seed: int) -> npt.NDArray[np.float64]:
    """Means of each row over ``resamples`` draws of item indices with replacement.

    The draws depend only on (seed, number of items), not on the rows.
    """
    rows, items = matrix.shape
    out = np.empty((rows, resamples), dtype=np.float64)
    for start, index in _index_chunks(rows, items, resamples, seed):
        out[:, start : start + len(index)] = matrix[:, index].mean(axis=2)
    return out


def bootstrap_recomputed(statistics: Sequence[SampleStatistics], resamples: int, seed: int) -> npt.NDArray[np.float64]:
    """For each model (its per-item statistics, items aligned), the metric recomputed from
    the statistics summed over each draw: the same draws as ``bootstrap_means`` of as many
    rows."""
    rows, items = len(statistics), statistics[0].statistics.shape[0]
    out = np.empty((rows, resamples), dtype=np.float64)
    # How often each item is drawn in each resample: the sums are then one product.
    for start, counts in resample_counts(items, resamples, seed, rows):
        size = len(counts)
        for row, found in enumerate(statistics):
            out[row, start : start + size] = found.values_of(counts @ found.statistics)
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


Aligned = tuple[tuple[Any, ...] | None, "npt.NDArray[np.float64] | SampleStatistics"]


def _aligned(values: SampleValues | SampleStatistics) -> Aligned:
    """Values (times the metric's scale) or statistics in key order, so that two models'
    items line up."""
    keys = values.keys
    if isinstance(values, SampleStatistics):
        if keys is None:
            return None, values
        order = sorted(range(len(keys)), key=lambda i: (type(keys[i]).__name__, keys[i]))
        aligned = dataclasses.replace(values, statistics=values.statistics[order], keys=tuple(keys[i] for i in order))
        return aligned.keys, aligned
    scaled = values.values * values.scale
    if keys is None:
        return None, scaled
    order = sorted(range(len(keys)), key=lambda i: (type(keys[i]).__name__, keys[i]))
    return tuple(keys[i] for i in order), scaled[order]


def _count(payload: npt.NDArray[np.float64] | SampleStatistics) -> int:
    return payload.statistics.shape[0] if isinstance(payload, SampleStatistics) else len(payload)


def _draws(payloads: Sequence[npt.NDArray[np.float64] | SampleStatistics], resamples: int, seed: int) -> Any:
    if isinstance(payloads[0], SampleStatistics):
        return bootstrap_recomputed([p for p in payloads if isinstance(p, SampleStatistics)], resamples, seed)
    return bootstrap_means(np.stack([p for p in payloads if not isinstance(p, SampleStatistics)]), resamples, seed)


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
    found: dict[str, Aligned] = {}
    reasons: dict[str, str] = {}
    rules: dict[str, str] = {}
    for stem in order:
        result = sample_values(info, reported[stem], samples.get(stem), item_key)
        if isinstance(result, NoSamples):
            reasons[stem] = result.reason
        else:
            found[stem] = _aligned(result)
            rules[stem] = result.description if isinstance(result, SampleStatistics) else result.rule
    groups: dict[Any, list[str]] = {}
    for stem, (keys, payload) in found.items():
        groups.setdefault(keys if keys is not None else ("#unpaired", stem, _count(payload)), []).append(stem)
    draws: dict[str, npt.NDArray[np.float64]] = {}
    for stems in groups.values():
        for stem, row in zip(stems, _draws([found[s][1] for s in stems], resamples, seed), strict=True):
            draws[stem] = row
    intervals = {stem: percentile_interval(row) for stem, row in draws.items()}
    lead: dict[str, bool] = {}
    for better, worse in itertools.pairwise(order):
        paired = better in found and worse in found and found[better][0] is not None
        if paired and found[better][0] == found[worse][0]:
            low, high = percentile_interval(draws[better] - draws[worse])
            lead[better] = low <= 0.0 <= high
    return MetricUncertainty(intervals, lead, reasons, rules)
