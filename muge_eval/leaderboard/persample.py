"""How a results file's per-sample records map to each of its metrics, for the bootstrap.

A metric gets a bootstrap interval only when it is the mean of one number per item and
the stored samples reproduce the reported value; every other metric says why it has none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# Retrieval metrics are means over queries of numbers each sample carries, times 100.
RETRIEVAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "r1": ("hit1",),
    "r5": ("hit5",),
    "r10": ("hit10",),
    "mean_recall": ("hit1", "hit5", "hit10"),
    "map10": ("ap10",),
    "ndcg10": ("ndcg10",),
}
# Metric-name prefixes of a second ranking direction, and the samples' "direction" value.
DIRECTION_PREFIXES: Mapping[str, str] = {"i2t_": "image_to_text"}
DEFAULT_DIRECTION = "text_to_image"
# Set-level metrics: no per-item number averages to them, so they get no interval.
SET_LEVEL: Mapping[str, str] = {
    **{
        f"bleu{n}": "BLEU is corpus-level (n-gram counts and brevity penalty pooled over all images)"
        for n in range(1, 5)
    },
    "cider_d": "CIDEr-D weights n-grams by document frequencies of the whole reference set",
    "fid": "FID compares two feature distributions; it has no per-image value",
    "is_mean": "IS is computed over splits of the whole image set",
    "is_std": "IS is computed over splits of the whole image set",
}
# Fields that identify an item, tried in order, to pair two models' samples.
KEY_FIELDS = ("query_id", "image_id", "img_id", "text_id", "id")
SCALES = (100.0, 1.0)
# Objects inside a sample that may hold its per-item scores.
NESTED_GROUPS = ("scores", "metrics")


@dataclass(frozen=True)
class SampleValues:
    """One number per item whose mean (times ``scale``) is the metric."""

    values: npt.NDArray[np.float64]
    keys: tuple[Any, ...] | None
    scale: float
    rule: str


@dataclass(frozen=True)
class NoSamples:
    reason: str


def _direction(metric: str) -> tuple[str, str]:
    for prefix, direction in DIRECTION_PREFIXES.items():
        if metric.startswith(prefix):
            return direction, metric[len(prefix) :]
    return DEFAULT_DIRECTION, metric


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _keys(samples: Sequence[Mapping[str, Any]]) -> tuple[Any, ...] | None:
    for field in KEY_FIELDS:
        keys = [s.get(field) for s in samples]
        if all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in keys) and len(set(keys)) == len(keys):
            return tuple(keys)
    return None


def _field(sample: Mapping[str, Any], field: str) -> Any:
    """A sample's value for ``field``: at the top level, or in a nested scores/metrics object."""
    if field in sample:
        return sample[field]
    for group in NESTED_GROUPS:
        nested = sample.get(group)
        if isinstance(nested, Mapping) and field in nested:
            return nested[field]
    return None


def _columns(samples: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> npt.NDArray[np.float64] | None:
    rows = []
    for sample in samples:
        row = [_number(_field(sample, field)) for field in fields]
        if any(v is None for v in row):
            return None
        rows.append(sum(v for v in row if v is not None) / len(row))
    return np.asarray(rows, dtype=np.float64)


def _reproduces(values: npt.NDArray[np.float64], scale: float, reported: float) -> bool:
    return bool(values.size) and math.isclose(float(values.mean()) * scale, reported, rel_tol=1e-6, abs_tol=1e-6)


def sample_values(
    task_type: str, metric: str, reported: float, samples: Sequence[Mapping[str, Any]] | None
) -> SampleValues | NoSamples:
    """The per-item numbers behind ``metric``, or why there are none."""
    direction, base = _direction(metric)
    if base in SET_LEVEL:
        return NoSamples(SET_LEVEL[base])
    if not samples:
        return NoSamples("the results were submitted without per-sample scores")
    chosen = [s for s in samples if s.get("direction", DEFAULT_DIRECTION) == direction]
    if task_type == "retrieval" and base in RETRIEVAL_FIELDS:
        fields = RETRIEVAL_FIELDS[base]
        scales: Sequence[float] = (100.0,)
        joined = f"({' + '.join(fields)}) / {len(fields)}" if len(fields) > 1 else fields[0]
        rule = f"mean over queries of {joined}"
    else:
        fields = (base,)
        scales = SCALES
        rule = f"mean over items of the samples' {base!r}"
    values = _columns(chosen, fields)
    if values is None or not values.size:
        return NoSamples(f"the samples do not carry {', '.join(fields)} for every item")
    for scale in scales:
        if _reproduces(values, scale, reported):
            return SampleValues(values, _keys(chosen), scale, rule + (", x 100" if scale == 100.0 else ""))
    return NoSamples("the stored samples do not reproduce the reported value")
