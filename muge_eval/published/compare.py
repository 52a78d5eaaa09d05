"""A run's numbers next to a published entry's: per metric, the difference, a verdict
against a stated tolerance, and every protocol difference that could explain a gap.

Protocol facts come from the results file (``model.protocol``, ``protocol.split``) and
from the entry (``protocol``, the model's resolution). A fact the source does not state,
or the run does not record, is listed as such: it may explain a gap too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from muge_eval.published.records import PublishedResult

EPSILON = 1e-9
MATCH, BELOW, ABOVE, NOT_MEASURED = "match", "below", "above", "not measured"
REPRODUCED, MISSED, NOT_COMPARABLE = "REPRODUCED", "MISSED", "NOT COMPARABLE"
DIFFERS, NOT_STATED, NOT_RECORDED, UNCHECKED = "differs", "not stated by the source", "not recorded by the run", ""
# The protocol facts compared, in the order they are listed.
FACTS = ("preprocess", "resolution", "context_length", "text_preprocess", "precision", "jpeg_draft")


@dataclass(frozen=True)
class MetricRow:
    metric: str
    measured: float | None
    published: float
    tolerance: float

    @property
    def difference(self) -> float | None:
        return None if self.measured is None else self.measured - self.published

    @property
    def verdict(self) -> str:
        if self.difference is None:
            return NOT_MEASURED
        if abs(self.difference) <= self.tolerance + EPSILON:
            return MATCH
        return BELOW if self.difference < 0 else ABOVE


@dataclass(frozen=True)
class ProtocolDifference:
    """One fact that differs, or that one side does not state (``kind``)."""

    key: str
    measured: Any
    published: Any
    kind: str

    def describe(self) -> str:
        if self.kind == NOT_STATED:
            return f"{self.key}: {self.kind}; this run: {self.measured}"
        if self.kind == NOT_RECORDED:
            return f"{self.key}: {self.kind}; published: {self.published}"
        if self.kind == UNCHECKED:
            return f"{self.key}: published on {self.published}; this run: {self.measured}"
        return f"{self.key}: this run {self.measured}, published {self.published}"


@dataclass(frozen=True)
class PublishedComparison:
    entry: PublishedResult
    rows: tuple[MetricRow, ...]
    differences: tuple[ProtocolDifference, ...]
    # Why the run and the entry are not on the same data at all (task, split, --limit).
    mismatches: tuple[str, ...]

    @property
    def verdict(self) -> str:
        if self.mismatches:
            return NOT_COMPARABLE
        return REPRODUCED if all(r.verdict == MATCH for r in self.rows) else MISSED

    def summary(self) -> str:
        if self.mismatches:
            return f"{NOT_COMPARABLE}: " + "; ".join(self.mismatches)
        failing = [r for r in self.rows if r.verdict != MATCH]
        if not failing:
            return f"{REPRODUCED}: every published metric within its tolerance"
        names = ", ".join(f"{r.metric} ({r.verdict})" for r in failing)
        return f"{MISSED}: {len(failing)} of {len(self.rows)} published metric(s) beyond tolerance: {names}"


def measured_metrics(results: Mapping[str, Any]) -> dict[str, float]:
    """A results file's metrics, plus ``both_*``: the mean of the two directions' values
    (the figure sources give as one mean recall over both directions)."""
    metrics = {name: float(value) for name, value in results.get("metrics", {}).items()}
    for name in ("r1", "r5", "r10", "mean_recall"):
        if name in metrics and f"i2t_{name}" in metrics:
            metrics[f"both_{name}"] = (metrics[name] + metrics[f"i2t_{name}"]) / 2
    return metrics


def _mapping(value: Any) -> Mapping[str, Any]:
    """A free-form part of a results file (the schema leaves it open), or {} when it is not a mapping."""
    return value if isinstance(value, Mapping) else {}


def _measured_facts(results: Mapping[str, Any]) -> dict[str, Any]:
    model = _mapping(_mapping(results.get("model")).get("protocol"))
    facts = {key: model.get(key) for key in FACTS if key != "precision"}
    dtype, autocast = model.get("dtype"), model.get("autocast")
    facts["precision"] = None if dtype is None else (f"{dtype} weights, autocast {autocast}" if autocast else dtype)
    return facts


def _published_facts(entry: PublishedResult) -> dict[str, Any]:
    facts = {key: entry.protocol.get(key) for key in FACTS}
    if facts["resolution"] is None:
        facts["resolution"] = entry.model.resolution
    return facts


def _split_differences(results: Mapping[str, Any], entry: PublishedResult) -> list[ProtocolDifference]:
    published = entry.protocol.get("split") or {}
    loaded = _mapping(_mapping(results.get("protocol")).get("split"))
    if not published:
        return [ProtocolDifference("split", _describe_loaded(loaded), None, NOT_STATED)]
    out = []
    for key in ("images", "texts", "images_sha256"):
        want, got = published.get(key), loaded.get(key)
        if want is not None and got is not None and want != got:
            out.append(ProtocolDifference(f"split {key}", got, want, DIFFERS))
    checkable = any(published.get(k) is not None for k in ("images", "texts", "images_sha256"))
    if not checkable and published.get("definition"):
        out.append(ProtocolDifference("split", _describe_loaded(loaded), published["definition"], UNCHECKED))
    elif out and published.get("definition"):
        out.append(ProtocolDifference("split definition", _describe_loaded(loaded), published["definition"], UNCHECKED))
    return out


def _describe_loaded(loaded: Mapping[str, Any]) -> str:
    if not loaded:
        return "not recorded"
    digest = str(loaded.get("images_sha256") or "")[:12]
    return f"{loaded.get('images')} images, {loaded.get('texts')} texts, images sha256 {digest}..."


def protocol_differences(results: Mapping[str, Any], entry: PublishedResult) -> list[ProtocolDifference]:
    """Every protocol fact that differs or that one side leaves unstated, split first."""
    out = _split_differences(results, entry)
    measured, published = _measured_facts(results), _published_facts(entry)
    for key in FACTS:
        got, want = measured[key], published[key]
        if want is None:
            out.append(ProtocolDifference(key, got, want, NOT_STATED))
        elif got is None:
            out.append(ProtocolDifference(key, got, want, NOT_RECORDED))
        elif str(got) != str(want):
            out.append(ProtocolDifference(key, got, want, DIFFERS))
    return out


def dataset_mismatches(results: Mapping[str, Any], entry: PublishedResult) -> list[str]:
    """Why the run is not on the entry's data at all."""
    task = (results.get("task") or {}).get("name")
    split = (results.get("dataset") or {}).get("split")
    problems = []
    if task != entry.task or split != entry.split:
        problems.append(f"published on {entry.task} {entry.split}, this run is {task} {split}")
    limit = (results.get("run_config") or {}).get("limit")
    if limit is not None:
        problems.append(f"this run is partial (--limit {limit})")
    return problems


def compare_to_published(
    results: Mapping[str, Any],
    entry: PublishedResult,
    default_tolerance: float | None = None,
    tolerances: Mapping[str, float] | None = None,
) -> PublishedComparison:
    """``tolerances`` maps metric names (as the results file names them) to an allowed
    absolute difference; the others get ``default_tolerance``, or else the rounding of the
    published value (half a unit of its last digit)."""
    measured = measured_metrics(results)
    chosen = dict(tolerances or {})
    default = entry.tolerance if default_tolerance is None else default_tolerance
    rows = tuple(
        MetricRow(key, measured.get(key), value, chosen.get(key, default))
        for key, value in entry.results_metrics().items()
    )
    return PublishedComparison(
        entry, rows, tuple(protocol_differences(results, entry)), tuple(dataset_mismatches(results, entry))
    )


def candidates(results: Mapping[str, Any], entries: Sequence[PublishedResult]) -> list[PublishedResult]:
    """The entries on the same task card and split as the run."""
    task = (results.get("task") or {}).get("name")
    split = (results.get("dataset") or {}).get("split")
    return [e for e in entries if e.task == task and e.split == split]
