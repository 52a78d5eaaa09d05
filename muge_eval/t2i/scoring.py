"""Metrics of one set of generated images against a T2I gold split.

What runs is decided before any image is generated (``readiness.plan_metrics``): each
selected metric runs when its inputs (Inception or DINOv2 weights, a judge, real images)
are there, and is skipped with a note otherwise. ``prepare`` then loads what the plan
needs -- the feature networks and the judge -- so a wrong file fails before generation
too. Under ``torchrun`` every rank prepares the judge (its encoding is shared across
ranks), and rank 0 alone loads the feature networks and scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from muge_eval.distributed import context
from muge_eval.io.image_tsv import open_image
from muge_eval.models.base import RETRIEVAL, RetrievalAdapter
from muge_eval.models.factory import ModelRequest, build_adapter
from muge_eval.models.torch_utils import resolve_device
from muge_eval.progress import Progress
from muge_eval.t2i.dinov2 import DinoV2Extractor
from muge_eval.t2i.feature_metrics import dinov2_network, feature_metrics, inception_network
from muge_eval.t2i.features import FeatureNetwork
from muge_eval.t2i.gold import T2IGold
from muge_eval.t2i.inception import InceptionExtractor
from muge_eval.t2i.judged import Judge, judge_metrics
from muge_eval.t2i.readiness import DINOV2, INCEPTION, JUDGE, MetricPlan

if TYPE_CHECKING:
    from muge_eval.plugins import Registries


@dataclass(frozen=True)
class GeneratedImages:
    """The images being scored, read by img_id: a submission's or a generator's."""

    read: Callable[[str], bytes]
    # Names the image set (for the judge's embedding cache).
    fingerprint: str
    source: str

    def iter_images(self, ids: Sequence[str]) -> Iterator[Image.Image]:
        """Decoded images in the order of ``ids``."""
        for image_id in ids:
            yield open_image(self.read(image_id), f"{self.source} (img_id {image_id})")


@dataclass(frozen=True)
class ScoringSettings:
    resize: str = "pytorch-fid"
    device: str = "auto"
    judge_args: Mapping[str, str] = field(default_factory=dict)
    cmmd_estimator: str = "reference"
    stats_dir: Path | None = None
    batch_size: int = 32
    seed: int = 1234
    # The cache root (muge_eval.cache); the judge's embeddings go below it unless off.
    cache_root: Path | None = None
    use_embedding_cache: bool = True
    num_workers: int | None = None
    chunk_rows: int = 2048


@dataclass
class ScoreParts:
    metrics: dict[str, float] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    per_item: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """The plan and what it needs, loaded: feature networks (rank 0) and the judge."""

    plan: MetricPlan
    networks: Mapping[str, FeatureNetwork] = field(default_factory=dict)
    judge: Judge | None = None


def prepare(plan: MetricPlan, settings: ScoringSettings, registries: Registries, progress: Progress) -> Prepared:
    """Load the networks and build the judge the plan needs (before any generation)."""
    started = time.perf_counter()
    networks: dict[str, FeatureNetwork] = {}
    if context().is_main:
        device = resolve_device(settings.device) if plan.uses(INCEPTION) or plan.uses(DINOV2) else "cpu"
        if plan.uses(INCEPTION):
            assert plan.inception is not None
            networks[INCEPTION] = inception_network(InceptionExtractor(plan.inception, settings.resize, device))
        if plan.uses(DINOV2):
            assert plan.dinov2 is not None
            networks[DINOV2] = dinov2_network(DinoV2Extractor(plan.dinov2, device))
    judge = None
    if plan.uses(JUDGE):
        assert plan.judge is not None
        model, record = build_adapter(
            registries,
            ModelRequest(plan.judge, dict(settings.judge_args)),
            RETRIEVAL,
            (RetrievalAdapter,),
            {"seed": settings.seed},
            role="judge",
        )
        assert isinstance(model, RetrievalAdapter)
        judge = Judge(model, record)
    if networks or judge:
        progress.message(f"scoring inputs ready in {time.perf_counter() - started:.1f} s: {', '.join(plan.compute)}")
    return Prepared(plan, networks, judge)


def score_images(
    gold: T2IGold, source: GeneratedImages, prepared: Prepared, settings: ScoringSettings, progress: Progress
) -> ScoreParts:
    """Every planned metric of ``source``; a worker rank only helps the judge encode."""
    parts = ScoreParts()
    plan = prepared.plan
    if prepared.judge is not None:
        judged = [m for m in plan.compute if m in ("clip_score", "r_precision", "cmmd")]
        judge_metrics(gold, source, prepared.judge, judged, settings, progress, parts)
    if not context().is_main:
        return parts
    if prepared.networks:
        feature_metrics(gold, source, prepared.networks, plan, settings, progress, parts)
    parts.notes.extend(plan.notes)
    return parts
