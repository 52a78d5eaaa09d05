"""Metrics of one set of generated images against a T2I gold split.

FID and IS need the FID Inception weights; without them they are skipped with a note
that says where to get the file, and the judge metrics still run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.errors import UsageError
from muge_eval.fingerprint import text_fingerprint
from muge_eval.progress import Progress
from muge_eval.t2i.agreement import R_PRECISION_CANDIDATES, R_PRECISION_SEED, clip_scores, r_precision
from muge_eval.t2i.data import T2IGold, iter_real_images
from muge_eval.t2i.fid import GaussianStats, feature_statistics, fid_from_features, load_stats, save_stats
from muge_eval.t2i.inception import RESIZE_MODES, RESOLUTION, InceptionExtractor, chunked
from muge_eval.t2i.inception_score import IS_SHUFFLE_SEED, IS_SPLITS, inception_score
from muge_eval.t2i.weights import check_weights, find_weights, missing_weights_message, muge_cache_root

# Reads the generated images of the given ids, in that order.
ImageSource = Callable[[Sequence[str]], Iterator[tuple[str, Image.Image]]]


@dataclass(frozen=True)
class ScoringSettings:
    inception_weights: str | None = None
    allow_nonstandard_weights: bool = False
    resize: str = "pytorch-fid"
    device: str = "auto"
    judge: str | None = None
    judge_args: Mapping[str, str] = field(default_factory=dict)
    stats_dir: Path | None = None
    batch_size: int = 32
    seed: int = 1234


@dataclass
class ScoreParts:
    metrics: dict[str, float] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    per_item: dict[str, dict[str, Any]] = field(default_factory=dict)


def _batched_images(source: ImageSource, ids: Sequence[str], size: int) -> Iterator[list[Image.Image]]:
    for start in range(0, len(ids), size):
        yield [image for _, image in source(ids[start : start + size])]


def real_statistics(
    gold: T2IGold, extractor: InceptionExtractor, settings: ScoringSettings, progress: Progress
) -> tuple[GaussianStats, bool]:
    """Real-image statistics, from the npz cache when this dataset, weights and resize were
    seen before. Returns (stats, whether they came from the cache)."""
    assert gold.real_images is not None
    key = text_fingerprint(gold.fingerprint, extractor.weights.sha256, extractor.resize, str(RESOLUTION))
    directory = settings.stats_dir or muge_cache_root() / "fid-stats"
    path = directory / f"{key.split(':')[1][:32]}.npz"
    cached = load_stats(path)  # a damaged file counts as absent and is computed again
    if cached is not None:
        return cached, True
    images = (image for _, image in iter_real_images(gold.real_images))
    batches = progress.iterate(chunked(images, settings.batch_size), None, "inception: real images", "batch")
    stats = feature_statistics(extractor.run(batches).pool)
    save_stats(path, stats)
    return stats, False


def inception_metrics(
    gold: T2IGold, source: ImageSource, settings: ScoringSettings, progress: Progress, parts: ScoreParts
) -> None:
    if settings.resize not in RESIZE_MODES:
        raise UsageError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {settings.resize!r}")
    path = find_weights(settings.inception_weights)
    if path is None:
        parts.notes.append(missing_weights_message())
        return
    weights = check_weights(path, settings.allow_nonstandard_weights)
    started = time.perf_counter()
    extractor = InceptionExtractor(weights, settings.resize, settings.device)
    batches = progress.iterate(
        _batched_images(source, gold.ids, settings.batch_size), None, "inception: generated images", "batch"
    )
    generated = extractor.run(batches)
    parts.timings["inception_generated_s"] = time.perf_counter() - started
    parts.protocol["inception"] = {
        "network": "FID Inception (TF 2015-12-05 graph ported to PyTorch), pytorch-fid 0.3.0 architecture",
        "weights_file": weights.path.name,
        "weights_sha256": weights.sha256,
        "standard_weights": weights.standard,
        "resize": settings.resize,
        "resize_method": RESIZE_MODES[settings.resize],
        "resolution": RESOLUTION,
        "features": "2048-d final average pool",
        "device": extractor.device,
    }
    if not weights.standard:
        parts.notes.append(f"Inception weights {weights.path.name} are not the published file: FID/IS not comparable")
    if len(gold.ids) >= IS_SPLITS:
        mean, std = inception_score(generated.logits, IS_SPLITS, IS_SHUFFLE_SEED)
        parts.metrics.update(is_mean=mean, is_std=std)
        parts.protocol["inception_score"] = {
            "logits": "1008 logits without the fc bias",
            "splits": IS_SPLITS,
            "shuffle_seed": IS_SHUFFLE_SEED,
            "std": "population standard deviation over splits",
        }
    else:
        parts.notes.append(f"IS needs at least {IS_SPLITS} images; skipped")
    if gold.real_images is None:
        parts.notes.append("no real images (T2I_{split}.img.tsv) for this split: FID not computed")
        return
    started = time.perf_counter()
    real, cached = real_statistics(gold, extractor, settings, progress)
    parts.timings["inception_real_s"] = time.perf_counter() - started
    if len(gold.ids) < 2:
        parts.notes.append("FID needs at least 2 generated images; skipped")
        return
    parts.metrics["fid"] = fid_from_features(generated.pool, real)
    parts.protocol["fid"] = {
        "statistics": "float64, covariance over n - 1",
        "trace_sqrt": "eigenvalues of L^T S2 L (S1 = L L^T), sqrt(S1) S2 sqrt(S1) if singular, X S2 X^T/(n-1) if n < d",
        "real_images": real.count,
        "generated_images": len(gold.ids),
        "real_stats_cached": cached,
    }


def _load_images(source: ImageSource, ids: Sequence[str]) -> list[Image.Image]:
    return [image for _, image in source(ids)]


def _embeddings(array: Any, rows: int, what: str) -> npt.NDArray[np.float32]:
    matrix = np.asarray(array, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != rows or not np.isfinite(matrix).all():
        raise UsageError(f"judge returned bad {what} embeddings of shape {matrix.shape} (expected {rows} finite rows)")
    return matrix


def judge_metrics(
    gold: T2IGold, source: ImageSource, settings: ScoringSettings, progress: Progress, parts: ScoreParts
) -> None:
    if not settings.judge:
        parts.notes.append("clip_score and r_precision need a retrieval model: pass --judge MODEL")
        return
    from muge_eval.models.base import RETRIEVAL, ImageBatch, RetrievalAdapter, TextBatch
    from muge_eval.plugins import build_registries
    from muge_eval.runner import ModelRequest, build_model

    judge, record = build_model(
        build_registries(), ModelRequest(settings.judge, dict(settings.judge_args)), settings.seed, RETRIEVAL
    )
    if not isinstance(judge, RetrievalAdapter):
        raise UsageError(f"judge {settings.judge!r} does not implement the retrieval protocol")
    started = time.perf_counter()
    ids = list(gold.ids)
    text_parts, image_parts = [], []
    for start in progress.iterate(range(0, len(ids), settings.batch_size), None, "judge: descriptions", "batch"):
        chunk = ids[start : start + settings.batch_size]
        batch = TextBatch(chunk, [gold.texts[i] for i in chunk])
        text_parts.append(_embeddings(judge.encode_text_batch(batch), len(chunk), "text"))
    for start in progress.iterate(range(0, len(ids), settings.batch_size), None, "judge: images", "batch"):
        chunk = ids[start : start + settings.batch_size]
        lazy = ImageBatch(chunk, functools.partial(_load_images, source, chunk))  # decoded only if asked
        image_parts.append(_embeddings(judge.encode_image_batch(lazy), len(chunk), "image"))
    texts, images_emb = np.concatenate(text_parts), np.concatenate(image_parts)
    if texts.shape[1] != images_emb.shape[1]:
        raise UsageError(
            f"judge text and image embeddings differ in dimension: {texts.shape[1]} vs {images_emb.shape[1]}"
        )
    scores = clip_scores(texts, images_emb)
    rp = r_precision(texts, images_emb, [gold.texts[i] for i in ids], R_PRECISION_CANDIDATES, R_PRECISION_SEED)
    parts.metrics["clip_score"] = float(scores.mean())
    parts.metrics["r_precision"] = rp.value
    parts.timings["judge_s"] = time.perf_counter() - started
    parts.protocol["judge"] = {
        "model": record,
        "clip_score": "100 x max(cosine(description, image), 0), averaged",
        "r_precision": "share of images whose own description scores strictly above every distractor (%)",
        "r_precision_candidates": rp.candidates,
        "r_precision_seed": R_PRECISION_SEED,
        "distractors": "other descriptions drawn without replacement; identical texts excluded",
    }
    if rp.candidates < R_PRECISION_CANDIDATES:
        parts.notes.append(f"only {rp.candidates} candidate descriptions per image (fewer than 100 items)")
    for row, image_id in enumerate(ids):
        parts.per_item.setdefault(image_id, {}).update(
            clip_score=float(scores[row]), r_precision_hit=bool(rp.hits[row])
        )


def score_images(gold: T2IGold, source: ImageSource, settings: ScoringSettings, progress: Progress) -> ScoreParts:
    parts = ScoreParts()
    inception_metrics(gold, source, settings, progress, parts)
    judge_metrics(gold, source, settings, progress, parts)
    return parts
