"""Metrics on feature-network features: FID, IS, KID and precision/recall/density/coverage
on the FID Inception network; FD-DINOv2 (and precision/recall, by choice) on DINOv2.

The generated images are decoded once and fed to every network the plan uses; the real
images' features come from the cache (``features.RealFeatureCache``) or one pass over the
real image file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from muge_eval.cache import cache_dir
from muge_eval.t2i.data import iter_real_images
from muge_eval.t2i.dinov2 import PREPROCESSING, DinoV2Extractor
from muge_eval.t2i.dinov2 import RESOLUTION as DINOV2_RESOLUTION
from muge_eval.t2i.features import Array, FeatureNetwork, RealFeatureCache, RealFeatures, extract, real_features
from muge_eval.t2i.fid import fid_from_features
from muge_eval.t2i.gold import T2IGold
from muge_eval.t2i.inception import RESIZE_MODES, RESOLUTION, InceptionExtractor
from muge_eval.t2i.inception_score import IS_SHUFFLE_SEED, IS_SPLITS, inception_score
from muge_eval.t2i.kid import KID_COEF0, KID_DEGREE, KID_SEED, KID_SUBSET_SIZE, KID_SUBSETS, kid
from muge_eval.t2i.prdc import PRDC_K, prdc
from muge_eval.t2i.readiness import DINOV2, INCEPTION, PRDC_METRICS, MetricPlan

if TYPE_CHECKING:
    from muge_eval.progress import Progress
    from muge_eval.t2i.scoring import GeneratedImages, ScoreParts, ScoringSettings

FID_METHOD = "eigenvalues of L^T S2 L (S1 = L L^T), sqrt(S1) S2 sqrt(S1) if singular, X S2 X^T/(n-1) if n < d"


def inception_network(extractor: InceptionExtractor) -> FeatureNetwork:
    def run(images: list[Any]) -> dict[str, Array]:
        out = extractor(images)
        return {"features": out.pool, "logits": out.logits}

    weights = extractor.weights
    protocol = {
        "network": "FID Inception (TF 2015-12-05 graph ported to PyTorch), pytorch-fid 0.3.0 architecture",
        "weights_file": weights.path.name,
        "weights_sha256": weights.sha256,
        "standard_weights": weights.standard,
        "resize": extractor.resize,
        "resize_method": RESIZE_MODES[extractor.resize],
        "resolution": RESOLUTION,
        "features": "2048-d final average pool",
        "device": extractor.device,
    }
    # The cache key of the real features is the one FID statistics always had.
    return FeatureNetwork(INCEPTION, run, (weights.sha256, extractor.resize, str(RESOLUTION)), protocol)


def dinov2_network(extractor: DinoV2Extractor) -> FeatureNetwork:
    return FeatureNetwork(
        DINOV2,
        lambda images: {"features": extractor(images)},
        (DINOV2, extractor.weights.sha256, PREPROCESSING, str(DINOV2_RESOLUTION)),
        extractor.protocol(),
    )


def _inception_score(logits: Array, parts: ScoreParts) -> None:
    if len(logits) < IS_SPLITS:
        parts.notes.append(f"IS needs at least {IS_SPLITS} images; skipped")
        return
    mean, std = inception_score(logits, IS_SPLITS, IS_SHUFFLE_SEED)
    parts.metrics.update(is_mean=mean, is_std=std)
    parts.protocol["inception_score"] = {
        "logits": "1008 logits without the fc bias",
        "splits": IS_SPLITS,
        "shuffle_seed": IS_SHUFFLE_SEED,
        "std": "population standard deviation over splits",
    }


def _frechet(name: str, generated: Array, real: RealFeatures, parts: ScoreParts) -> None:
    if len(generated) < 2:
        parts.notes.append(f"{name} needs at least 2 generated images; skipped")
        return
    parts.metrics[name] = fid_from_features(generated, real.stats)
    parts.protocol[name] = {
        "statistics": "float64, covariance over n - 1",
        "trace_sqrt": FID_METHOD,
        "real_images": real.stats.count,
        "generated_images": len(generated),
        "real_stats_cached": real.cached,
    }


def _kid(generated: Array, real: RealFeatures, parts: ScoreParts) -> None:
    assert real.features is not None
    if min(len(generated), len(real.features)) < 2:
        parts.notes.append("KID needs at least 2 generated and 2 real images; skipped")
        return
    result = kid(generated, real.features, KID_SUBSETS, KID_SUBSET_SIZE, KID_SEED)
    parts.metrics.update(kid=result.mean, kid_std=result.std)
    parts.protocol["kid"] = {
        "kernel": f"polynomial (x.y/d + {KID_COEF0:g})^{KID_DEGREE}",
        "estimator": "unbiased MMD^2 (diagonals of K_XX, K_YY dropped), as torch-fidelity",
        "subsets": result.subsets,
        "subset_size": result.subset_size,
        "seed": KID_SEED,
        "draws": "numpy RandomState(seed): generated then real rows per subset (torch-fidelity, input1=generated)",
        "std": "population standard deviation over subsets",
        "real_features_cached": real.cached,
    }
    if result.subset_size < KID_SUBSET_SIZE:
        parts.notes.append(f"KID subsets of {result.subset_size} images (fewer than {KID_SUBSET_SIZE} per side)")


def _prdc(kind: str, generated: Array, real: RealFeatures, ids: tuple[str, ...], parts: ScoreParts) -> None:
    assert real.features is not None
    if min(len(generated), len(real.features)) <= PRDC_K:
        parts.notes.append(f"precision/recall/density/coverage need more than {PRDC_K} images per side; skipped")
        return
    result = prdc(real.features, generated, PRDC_K)
    parts.metrics.update(
        precision=result.precision, recall=result.recall, density=result.density, coverage=result.coverage
    )
    parts.protocol["prdc"] = {
        "features": kind,
        "k": PRDC_K,
        "distance": "Euclidean, float64",
        "definitions": "Kynkaanniemi et al. 2019 (precision, recall), Naeem et al. 2020 (density, coverage); "
        "clovaai prdc",
        "real_images": len(real.features),
        "generated_images": len(generated),
    }
    for row, image_id in enumerate(ids):
        parts.per_item.setdefault(image_id, {}).update(
            prdc_in_real=bool(result.in_real[row]), prdc_real_balls=int(result.real_balls[row])
        )


def feature_metrics(
    gold: T2IGold,
    source: GeneratedImages,
    networks: Mapping[str, FeatureNetwork],
    plan: MetricPlan,
    settings: ScoringSettings,
    progress: Progress,
    parts: ScoreParts,
) -> None:
    started = time.perf_counter()
    ordered = list(networks.values())
    generated = extract(
        source.iter_images(gold.ids),
        ordered,
        settings.batch_size,
        progress,
        f"{', '.join(networks)}: generated images",
        len(gold.ids),
    )
    parts.timings["features_generated_s"] = time.perf_counter() - started
    for kind, network in networks.items():
        parts.protocol[kind] = dict(network.protocol)
        if not network.protocol.get("standard_weights", True):
            name = network.protocol.get("weights_file") or network.protocol.get("weights")
            parts.notes.append(f"{kind} weights {name} are not the published file: {kind} metrics are not comparable")
    if plan.computes("is_mean", "is_std"):
        _inception_score(generated[INCEPTION]["logits"], parts)
    wanted = {kind: plan.real_matrix(kind) for kind in networks if _needs_real(kind, plan)}
    if not wanted:
        return
    real_path = gold.real_images
    assert real_path is not None
    started = time.perf_counter()
    directory = settings.stats_dir or cache_dir("fid-stats", settings.cache_root)
    real = real_features(
        gold.fingerprint,
        lambda: (image for _, image in iter_real_images(real_path)),
        wanted,
        ordered,
        RealFeatureCache(directory),
        settings.batch_size,
        progress,
        str(gold.real_images),
    )
    parts.timings["features_real_s"] = time.perf_counter() - started
    if plan.computes("fid"):
        _frechet("fid", generated[INCEPTION]["features"], real[INCEPTION], parts)
    if plan.computes("kid", "kid_std"):
        _kid(generated[INCEPTION]["features"], real[INCEPTION], parts)
    if plan.computes("fd_dinov2"):
        _frechet("fd_dinov2", generated[DINOV2]["features"], real[DINOV2], parts)
    if plan.computes(*PRDC_METRICS):
        kind = plan.prdc_features
        _prdc(kind, generated[kind]["features"], real[kind], gold.ids, parts)


def _needs_real(kind: str, plan: MetricPlan) -> bool:
    if kind == INCEPTION and plan.computes("fid", "kid", "kid_std"):
        return True
    if kind == DINOV2 and plan.computes("fd_dinov2"):
        return True
    return plan.prdc_features == kind and plan.computes(*PRDC_METRICS)
