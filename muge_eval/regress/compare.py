"""Compare a run's results with golden results, metric by metric, direction-aware.

Comparing different things (another task, split or dataset, a partial run against a full
one, or a difference in a protocol key that the task type declares identity-defining, such
as caption's tokenizer) is an error, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from muge_eval.errors import UsageError
from muge_eval.regress.tolerance import Tolerances

# Float noise allowed on top of a tolerance, so a change of exactly the tolerance passes.
EPSILON = 1e-9
OK, IMPROVED, REGRESSED, MISSING, NEW = "ok", "improved", "REGRESSED", "MISSING", "new"
FAILING = {REGRESSED, MISSING}
# (label, path in the results file) of what must be equal for two runs to be compared.
IDENTITY_FIELDS = (
    ("task", ("task", "name")),
    ("task version", ("task", "version")),
    ("task type", ("task", "type")),
    ("split", ("dataset", "split")),
    ("dataset fingerprint", ("dataset", "fingerprint")),
    ("--limit", ("run_config", "limit")),
    ("--skip-bad-images", ("run_config", "skip_bad_images")),
)


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    expected: float | None
    actual: float | None
    tolerance: float
    higher_is_better: bool
    verdict: str

    @property
    def delta(self) -> float | None:
        if self.expected is None or self.actual is None:
            return None
        return self.actual - self.expected


@dataclass(frozen=True)
class Comparison:
    rows: tuple[MetricComparison, ...]
    mismatches: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def regressions(self) -> tuple[MetricComparison, ...]:
        return tuple(r for r in self.rows if r.verdict in FAILING)

    @property
    def passed(self) -> bool:
        return not self.mismatches and not self.regressions


def _get(document: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _identity_key(key: str, identity_keys: tuple[str, ...]) -> bool:
    return any(key == k or key.startswith(k + ".") for k in identity_keys)


def identity_mismatches(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    identity_keys: tuple[str, ...] = (),
    identity_fields: Sequence[tuple[str, tuple[str, ...]]] = IDENTITY_FIELDS,
) -> list[str]:
    """What makes the two runs incomparable: task, split, dataset, partial runs, and the
    protocol keys the task type declares (``identity_keys``, dotted prefixes).
    ``identity_fields`` narrows the fields for a golden file that states fewer (a
    published entry)."""
    problems = []
    for label, path in identity_fields:
        want, got = _get(expected, path), _get(actual, path)
        if want != got:
            problems.append(f"{label} differs: expected {want!r}, actual {got!r}")
    want_protocol = dict(_flatten(expected.get("protocol", {})))
    got_protocol = dict(_flatten(actual.get("protocol", {})))
    for key in sorted(set(want_protocol) | set(got_protocol)):
        if _identity_key(key, identity_keys) and want_protocol.get(key) != got_protocol.get(key):
            problems.append(
                f"protocol {key} differs: expected {want_protocol.get(key)!r}, actual {got_protocol.get(key)!r}"
            )
    return problems


def protocol_warnings(
    expected: Mapping[str, Any], actual: Mapping[str, Any], identity_keys: tuple[str, ...] = ()
) -> list[str]:
    want = dict(_flatten(expected.get("protocol", {})))
    got = dict(_flatten(actual.get("protocol", {})))
    return [
        f"protocol {key} differs: expected {want.get(key)!r}, actual {got.get(key)!r}"
        for key in sorted(set(want) | set(got))
        if not _identity_key(key, identity_keys) and want.get(key) != got.get(key)
    ]


def _verdict(expected: float, actual: float, tolerance: float, higher_is_better: bool, two_sided: bool) -> str:
    change = actual - expected if higher_is_better else expected - actual
    if change < -(tolerance + EPSILON):
        return REGRESSED
    if change > tolerance + EPSILON:
        return REGRESSED if two_sided else IMPROVED
    return OK


def compare_results(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    tolerances: Tolerances,
    two_sided: bool = False,
    identity_keys: tuple[str, ...] = (),
    identity_fields: Sequence[tuple[str, tuple[str, ...]]] = IDENTITY_FIELDS,
    report_new: bool = True,
) -> Comparison:
    """Every metric of the golden file against the run; a worse value beyond tolerance fails.
    ``identity_keys`` are the task type's incomparable protocol keys; ``report_new`` lists
    the run's metrics the golden file does not have."""
    unknown = sorted(set(tolerances.per_metric) - set(expected["metrics"]))
    if unknown:
        raise UsageError(
            f"--tolerance names {', '.join(unknown)}, not metrics of the golden file ({', '.join(expected['metrics'])})"
        )
    mismatches = identity_mismatches(expected, actual, identity_keys, identity_fields)
    rows = []
    for name, want in expected["metrics"].items():
        info = expected["metric_info"].get(name, {})
        higher = bool(info.get("higher_is_better", True))
        other_info = actual["metric_info"].get(name)
        if other_info is not None and bool(other_info.get("higher_is_better", True)) != higher:
            mismatches.append(f"{name}: higher_is_better differs between the files")
        got = actual["metrics"].get(name)
        tolerance = tolerances.for_metric(name)
        verdict = MISSING if got is None else _verdict(float(want), float(got), tolerance, higher, two_sided)
        value = None if got is None else float(got)
        rows.append(MetricComparison(name, float(want), value, tolerance, higher, verdict))
    for name, got in actual["metrics"].items() if report_new else ():
        if name not in expected["metrics"]:
            info = actual["metric_info"].get(name, {})
            rows.append(MetricComparison(name, None, float(got), 0.0, bool(info.get("higher_is_better", True)), NEW))
    return Comparison(tuple(rows), tuple(mismatches), tuple(protocol_warnings(expected, actual, identity_keys)))
