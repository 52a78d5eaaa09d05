"""What a metric is: a registered, frozen spec.

Every number in a results file has a spec: its name, whether higher is better, its unit,
what it means, how it aggregates over items and which per-item field it reads. The
results' ``metric_info``, the leaderboard's intervals and ``regress`` all read the spec, so
they agree with each other and with the task type that computed the number.

Aggregations:

- ``mean``: the metric is ``scale`` x the mean over items of one number per item (the mean
  of ``item_fields`` when there are several). It gets a bootstrap interval from the
  per-item records.
- ``corpus``: computed over the whole set from per-item sufficient statistics (BLEU) or
  with set-wide weights. No plain per-item mean; when the spec names a ``recompute``
  rule (``muge_eval.metrics.recompute``), the ``item_fields`` hold each item's sufficient
  statistics and a bootstrap recomputes the metric from their resampled sums.
- ``set``: a property of the whole set (FID, IS); no per-item value at all.

Built-in metrics are computed by their task type's scorer (with the official arithmetic);
their specs describe the numbers. A third-party metric (entry-point group
``muge_eval.metrics``) brings its computation: ``item_fn`` maps one per-item record of a
task type to a number (aggregated as ``mean``), or ``set_fn`` maps all records to one
number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

AGGREGATIONS = ("mean", "corpus", "set")
UNITS = ("percent", "score", "score_x100", "count", "seconds")

ItemFn = Callable[[Mapping[str, Any]], float]
SetFn = Callable[[Sequence[Mapping[str, Any]]], float]


@dataclass(frozen=True)
class MetricSpec:
    """One metric. ``task_types`` lists the task types whose per-item records a plugin
    metric reads; a task type's own metrics leave it empty."""

    name: str
    description: str
    higher_is_better: bool = True
    unit: str = "percent"
    aggregation: str = "mean"
    item_fields: tuple[str, ...] = ()
    scale: float = 1.0
    # Only the items whose field has this value count (e.g. one ranking direction).
    item_filter: tuple[tuple[str, str], ...] = ()
    task_types: tuple[str, ...] = ()
    item_fn: ItemFn | None = None
    set_fn: SetFn | None = None
    # Why no interval, for corpus and set metrics.
    no_interval: str = ""
    # For a corpus metric: the registered rule that recomputes it from the summed per-item
    # statistics in ``item_fields``, and the rule's arguments.
    recompute: str = ""
    recompute_args: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"metric name {self.name!r} must be letters, digits, '_' or '-'")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"metric {self.name}: aggregation must be one of {', '.join(AGGREGATIONS)}")
        if self.item_fn is not None and self.set_fn is not None:
            raise ValueError(f"metric {self.name}: give item_fn or set_fn, not both")
        if self.item_fn is not None and self.aggregation != "mean":
            raise ValueError(f"metric {self.name}: item_fn metrics aggregate as the mean")
        if self.aggregation == "mean" and not self.item_fields and self.item_fn is None:
            raise ValueError(f"metric {self.name}: a mean metric names the per-item field(s) it averages")
        if self.recompute and (self.aggregation != "corpus" or not self.item_fields):
            raise ValueError(f"metric {self.name}: a recompute rule is for a corpus metric with item_fields")

    @property
    def is_plugin(self) -> bool:
        """Computed here from per-item records rather than by the task type's scorer."""
        return self.item_fn is not None or self.set_fn is not None

    @property
    def fields(self) -> tuple[str, ...]:
        """The per-item fields behind the value (a plugin item metric stores its own)."""
        return self.item_fields or ((self.name,) if self.item_fn is not None else ())

    def applies_to(self, task_type: str) -> bool:
        return not self.task_types or task_type in self.task_types

    def recorded(self) -> dict[str, Any]:
        """The ``metric_info`` entry of a results file."""
        info: dict[str, Any] = {
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
            "description": self.description,
            "aggregation": self.aggregation,
        }
        if self.aggregation == "mean":
            info["item_fields"] = list(self.fields)
            info["scale"] = self.scale
        if self.recompute:
            info["item_fields"] = list(self.item_fields)
            info["scale"] = self.scale
            info["recompute"] = {"rule": self.recompute, "args": dict(self.recompute_args)}
        if self.item_filter:
            info["item_filter"] = dict(self.item_filter)
        if self.no_interval:
            info["no_interval"] = self.no_interval
        return info


def item_values(spec: MetricSpec, samples: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The per-item records a metric reads: those passing its ``item_filter``."""
    if not spec.item_filter:
        return list(samples)
    wanted = dict(spec.item_filter)
    return [s for s in samples if all(s.get(k, _DEFAULT_FILTER.get(k)) == v for k, v in wanted.items())]


# A record without the filter's field takes this value (retrieval records of the first
# direction did not always carry one).
_DEFAULT_FILTER = {"direction": "text_to_image"}
