"""``--tolerance 0.01`` or ``--tolerance cider_d=0.5,r1=0.1`` (absolute, in metric units)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from muge_eval.errors import UsageError

DEFAULT_TOLERANCE = 0.0


@dataclass(frozen=True)
class Tolerances:
    """An allowed absolute change per metric, and the default for the others."""

    default: float = DEFAULT_TOLERANCE
    per_metric: Mapping[str, float] = field(default_factory=dict)

    def for_metric(self, name: str) -> float:
        return self.per_metric.get(name, self.default)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--tolerance: {where} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--tolerance: {where} must be a finite number >= 0, got {text!r}")
    return value


def parse_tolerances(specs: Iterable[str]) -> Tolerances:
    """Items separated by commas (the option may also be repeated): a bare number sets the
    default, ``metric=number`` sets one metric."""
    default = DEFAULT_TOLERANCE
    per_metric: dict[str, float] = {}
    for spec in specs:
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            if "=" in item:
                name, _, value = item.partition("=")
                name = name.strip()
                if not name:
                    raise UsageError(f"--tolerance: {item!r} needs a metric name before '='")
                per_metric[name] = _number(value.strip(), name)
            else:
                default = _number(item, "the default")
    return Tolerances(default, per_metric)
