"""Computing third-party metrics from a task type's per-item records."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from muge_eval.errors import UsageError
from muge_eval.metrics.spec import MetricSpec, item_values


def _finite(value: Any, spec: MetricSpec) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"metric {spec.name!r} returned {value!r}, not a finite number")
    return float(value)


def _call(spec: MetricSpec, function: Any, argument: Any) -> Any:
    try:
        return function(argument)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise UsageError(f"metric {spec.name!r} failed on this task's records: {type(exc).__name__}: {exc}") from exc


def compute_plugin_metric(spec: MetricSpec, samples: Sequence[Mapping[str, Any]]) -> tuple[float, dict[int, float]]:
    """The metric's value, and for an item metric each record's own number (by position in
    ``samples``) so that it can be stored beside the record and resampled."""
    chosen = item_values(spec, samples)
    if spec.set_fn is not None:
        return _finite(_call(spec, spec.set_fn, chosen), spec), {}
    assert spec.item_fn is not None
    if not chosen:
        raise UsageError(f"metric {spec.name!r}: no per-item records to average")
    positions = {id(s): i for i, s in enumerate(samples)}
    per_item = {positions[id(s)]: _finite(_call(spec, spec.item_fn, s), spec) for s in chosen}
    return math.fsum(per_item.values()) / len(per_item) * spec.scale, per_item
