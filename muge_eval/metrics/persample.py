"""The per-item numbers behind a metric, read from a results file's samples by its spec.

A metric gets a bootstrap interval when its spec says it is a mean of one number per item
(``aggregation: mean``, the ``item_fields`` it reads, its ``scale`` and ``item_filter``),
or a corpus metric recomputed from per-item sufficient statistics (``recompute``: a rule
of ``muge_eval.metrics.recompute``, the statistics in ``item_fields``), and the stored
samples reproduce the reported value; every other metric says why it has none. The spec
comes from the results file's ``metric_info`` (written from the registered spec), so a
board needs no plugin installed to give intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.metrics.recompute import RecomputeRule, find_rule

# Fields that identify an item, tried in order after the task type's own, to pair two
# models' samples.
KEY_FIELDS = ("query_id", "image_id", "img_id", "text_id", "id")
# Objects inside a sample that may hold its per-item scores.
NESTED_GROUPS = ("scores", "metrics")
# A sample without the filter's field takes this value (first-direction retrieval records
# of muge-eval 0.1 carried none).
DEFAULT_FILTER_VALUES = {"direction": "text_to_image"}


@dataclass(frozen=True)
class SampleValues:
    """One number per item whose mean (times ``scale``) is the metric."""

    values: npt.NDArray[np.float64]
    keys: tuple[Any, ...] | None
    scale: float
    rule: str


@dataclass(frozen=True)
class SampleStatistics:
    """Per-item sufficient statistics (one row per item) of a recomputed corpus metric:
    the metric is ``scale`` x ``rule(statistics summed over items)``."""

    statistics: npt.NDArray[np.float64]
    keys: tuple[Any, ...] | None
    scale: float
    rule: RecomputeRule
    args: Mapping[str, Any]
    description: str

    def values_of(self, sums: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The metric (times ``scale``) of summed statistics, shape (..., width) -> (...)."""
        return self.rule.function(sums, self.args) * self.scale


@dataclass(frozen=True)
class NoSamples:
    reason: str


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _keys(samples: Sequence[Mapping[str, Any]], item_key: str | None) -> tuple[Any, ...] | None:
    for field in (item_key, *KEY_FIELDS) if item_key else KEY_FIELDS:
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


def item_value(sample: Mapping[str, Any], fields: Sequence[str]) -> float | None:
    """The mean of a sample's ``fields`` (top level or in a nested scores/metrics object),
    None when one is missing or not a finite number."""
    row = [_number(_field(sample, field)) for field in fields]
    if any(v is None for v in row):
        return None
    return sum(v for v in row if v is not None) / len(row)


def passes_filter(sample: Mapping[str, Any], item_filter: Mapping[str, Any]) -> bool:
    """Whether a sample is one of the items a metric's ``item_filter`` selects."""
    return all(sample.get(k, DEFAULT_FILTER_VALUES.get(k)) == v for k, v in item_filter.items())


def _columns(samples: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> npt.NDArray[np.float64] | None:
    rows = []
    for sample in samples:
        value = item_value(sample, fields)
        if value is None:
            return None
        rows.append(value)
    return np.asarray(rows, dtype=np.float64)


def _reproduces(values: npt.NDArray[np.float64], scale: float, reported: float) -> bool:
    return bool(values.size) and math.isclose(float(values.mean()) * scale, reported, rel_tol=1e-6, abs_tol=1e-6)


def _chosen(samples: Sequence[Mapping[str, Any]], item_filter: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in samples if passes_filter(s, item_filter)]


def _vector(value: Any) -> list[float] | None:
    """A field holding one number or a list of numbers, as a list (None when not)."""
    if isinstance(value, list):
        numbers = [_number(v) for v in value]
        return None if not numbers or any(v is None for v in numbers) else [v for v in numbers if v is not None]
    number = _number(value)
    return None if number is None else [number]


def _statistics(samples: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> npt.NDArray[np.float64] | None:
    rows: list[list[float]] = []
    for sample in samples:
        row: list[float] = []
        for field in fields:
            part = _vector(_field(sample, field))
            if part is None:
                return None
            row.extend(part)
        if rows and len(row) != len(rows[0]):
            return None
        rows.append(row)
    return np.asarray(rows, dtype=np.float64) if rows else None


def _recomputed(
    info: Mapping[str, Any], reported: float, samples: Sequence[Mapping[str, Any]] | None, item_key: str | None
) -> SampleStatistics | NoSamples:
    recompute = info.get("recompute")
    fields = info.get("item_fields")
    scale = info.get("scale", 1.0)
    if (
        not isinstance(recompute, Mapping)
        or not isinstance(recompute.get("rule"), str)
        or not isinstance(recompute.get("args", {}), Mapping)
        or not isinstance(fields, list)
        or not fields
        or not all(isinstance(f, str) for f in fields)
        or _number(scale) is None
    ):
        return NoSamples("the metric's description in the results file is malformed")
    rule = find_rule(recompute["rule"])
    if rule is None:
        return NoSamples(f"this muge-eval does not know the recompute rule {recompute['rule']!r}")
    if not samples:
        return NoSamples("the results were submitted without per-sample scores")
    chosen = _chosen(samples, info.get("item_filter") or {})
    statistics = _statistics(chosen, fields)
    if statistics is None:
        return NoSamples(f"the samples do not carry {', '.join(fields)} for every item")
    args = dict(recompute.get("args", {}))
    problem = rule.check(statistics.shape[1], args)
    if problem:
        return NoSamples(problem)
    found = SampleStatistics(statistics, _keys(chosen, item_key), float(scale), rule, args, "")
    value = float(found.values_of(statistics.sum(axis=0)))
    if not math.isclose(value, reported, rel_tol=1e-6, abs_tol=1e-6):
        return NoSamples("the stored samples do not reproduce the reported value")
    shown = ", ".join(f"{k}={v}" for k, v in args.items())
    description = f"{rule.description} ({rule.name}{', ' + shown if shown else ''}) over resampled items"
    return SampleStatistics(statistics, found.keys, found.scale, rule, args, description)


def sample_values(
    info: Mapping[str, Any],
    reported: float,
    samples: Sequence[Mapping[str, Any]] | None,
    item_key: str | None = None,
) -> SampleValues | SampleStatistics | NoSamples:
    """The per-item numbers behind a metric described by ``info`` (its ``metric_info``
    entry): values whose mean is the metric, statistics it is recomputed from, or why
    there are none."""
    aggregation = info.get("aggregation")
    if aggregation is None:
        return NoSamples("the results file does not say how this metric aggregates")
    if aggregation == "corpus" and "recompute" in info:
        return _recomputed(info, reported, samples, item_key)
    if aggregation != "mean":
        return NoSamples(str(info.get("no_interval") or f"a {aggregation}-level metric has no per-item mean"))
    fields = info.get("item_fields")
    scale = info.get("scale", 1.0)
    item_filter = info.get("item_filter") or {}
    if (
        not isinstance(fields, list)
        or not fields
        or not all(isinstance(f, str) for f in fields)
        or _number(scale) is None
        or not isinstance(item_filter, Mapping)
    ):
        return NoSamples("the metric's description in the results file is malformed")
    if not samples:
        return NoSamples("the results were submitted without per-sample scores")
    chosen = _chosen(samples, item_filter)
    values = _columns(chosen, fields)
    if values is None or not values.size:
        return NoSamples(f"the samples do not carry {', '.join(fields)} for every item")
    if not _reproduces(values, float(scale), reported):
        return NoSamples("the stored samples do not reproduce the reported value")
    joined = f"({' + '.join(fields)}) / {len(fields)}" if len(fields) > 1 else fields[0]
    rule = f"mean over items of {joined}" + (f", x {float(scale):g}" if float(scale) != 1.0 else "")
    return SampleValues(values, _keys(chosen, item_key), float(scale), rule)
