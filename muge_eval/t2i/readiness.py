"""What each selected metric needs, checked before any image is generated.

Every metric needs some of: the FID Inception weights, DINOv2 weights, a judge (a
retrieval model) and the split's real images. Before generation (and before scoring a
submission) the plan finds each input and checks what can be checked cheaply: weights
files exist and are the published ones (or consent was given), the judge is a registered
model, the real image file exists. An input that is given but wrong is an error at once.
A missing input skips the metrics that need it, with a note -- unless the user asked for
one of those metrics by name (``--metrics``), which is then an error before any work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from muge_eval.errors import UsageError
from muge_eval.t2i.dinov2 import DINOV2_SEARCH, DinoV2Weights, check_dinov2_weights, missing_dinov2_message
from muge_eval.t2i.weights import InceptionWeights, check_weights, find_weights, missing_weights_message

if TYPE_CHECKING:
    from muge_eval.plugins import Registries

INCEPTION, DINOV2, JUDGE, REAL = "inception", "dinov2", "judge", "real"
PRDC_METRICS = ("precision", "recall", "density", "coverage")
# Inputs of each metric; the precision/recall family reads the features chosen by the
# ``prdc_features`` option.
NEEDS: Mapping[str, tuple[str, ...]] = {
    "fid": (INCEPTION, REAL),
    "is_mean": (INCEPTION,),
    "is_std": (INCEPTION,),
    "kid": (INCEPTION, REAL),
    "kid_std": (INCEPTION, REAL),
    "fd_dinov2": (DINOV2, REAL),
    "clip_score": (JUDGE,),
    "r_precision": (JUDGE,),
    "cmmd": (JUDGE, REAL),
}
PRDC_FEATURES = (INCEPTION, DINOV2)


def metric_needs(metric: str, prdc_features: str) -> tuple[str, ...]:
    if metric in PRDC_METRICS:
        return (prdc_features, REAL)
    return NEEDS.get(metric, ())


@dataclass(frozen=True)
class PlanRequest:
    """What the plan is made from: the selected metrics, those the user named, and the
    inputs as configured."""

    selected: tuple[str, ...]
    explicit: tuple[str, ...] = ()
    inception_weights: str | None = None
    dinov2_weights: str | None = None
    allow_nonstandard_weights: bool = False
    judge: str | None = None
    real_images: Path | None = None
    prdc_features: str = INCEPTION


@dataclass(frozen=True)
class MetricPlan:
    """The metrics a run computes, and for each skipped one why."""

    compute: tuple[str, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)
    inception: InceptionWeights | None = None
    dinov2: DinoV2Weights | None = None
    judge: str | None = None
    real_images: Path | None = None
    prdc_features: str = INCEPTION
    notes: tuple[str, ...] = ()

    def computes(self, *metrics: str) -> bool:
        return any(m in self.compute for m in metrics)

    def uses(self, need: str) -> bool:
        """Whether a computed metric needs ``need``."""
        return any(need in metric_needs(m, self.prdc_features) for m in self.compute)

    def real_matrix(self, kind: str) -> bool:
        """Whether the real images' feature matrix of ``kind`` is needed (KID and
        precision/recall), not only its mean and covariance (FID, FD-DINOv2)."""
        if kind == INCEPTION and self.computes("kid", "kid_std"):
            return True
        return self.prdc_features == kind and self.computes(*PRDC_METRICS)


def _missing_message(need: str, metrics: Sequence[str]) -> str:
    listed = ", ".join(metrics)
    verb = "needs" if len(metrics) == 1 else "need"
    if need == INCEPTION:
        return missing_weights_message(metrics)
    if need == DINOV2:
        return missing_dinov2_message(metrics)
    if need == JUDGE:
        return f"{listed} {verb} a retrieval model as the judge: pass --judge MODEL"
    return f"no real images (T2I_{{split}}.img.tsv) for this split: {listed} not computed"


def plan_metrics(request: PlanRequest, registries: Registries) -> MetricPlan:
    """Find and check every input the selected metrics need; decide what runs."""
    wanted = {need for m in request.selected for need in metric_needs(m, request.prdc_features)}
    available: dict[str, bool] = {}
    inception = dinov2 = None
    if INCEPTION in wanted:
        path = find_weights(request.inception_weights)
        inception = check_weights(path, request.allow_nonstandard_weights) if path else None
        available[INCEPTION] = inception is not None
    if DINOV2 in wanted:
        path = DINOV2_SEARCH.find(request.dinov2_weights)
        dinov2 = check_dinov2_weights(path, request.allow_nonstandard_weights) if path else None
        available[DINOV2] = dinov2 is not None
    if JUDGE in wanted:
        if request.judge:
            registries.models.get(request.judge)  # an unknown name fails here, with suggestions
        available[JUDGE] = bool(request.judge)
    available[REAL] = request.real_images is not None
    compute: list[str] = []
    skipped: dict[str, str] = {}
    by_need: dict[str, list[str]] = {}
    for metric in request.selected:
        missing = [n for n in metric_needs(metric, request.prdc_features) if not available.get(n, True)]
        if missing:
            skipped[metric] = missing[0]
            by_need.setdefault(missing[0], []).append(metric)
        else:
            compute.append(metric)
    asked = [m for m in request.explicit if m in skipped]
    if asked:
        needs = dict.fromkeys(skipped[m] for m in asked)
        messages = [_missing_message(n, [m for m in asked if skipped[m] == n]) for n in needs]
        raise UsageError("cannot compute the metrics asked for: " + " ".join(messages))
    notes = tuple(_missing_message(need, metrics) for need, metrics in by_need.items())
    return MetricPlan(
        tuple(compute),
        skipped,
        inception,
        dinov2,
        request.judge if available.get(JUDGE) else None,
        request.real_images,
        request.prdc_features,
        notes,
    )
