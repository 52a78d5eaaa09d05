"""Metrics of one set of generated images against a T2I gold split.

FID and IS need the FID Inception weights; without them they are skipped with a note
that says where to get the file, and the judge metrics still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from muge_eval.cache import cache_dir
from muge_eval.encoding.encoder import Encoder, EncodeSettings, check_judge_embeddings
from muge_eval.encoding.images import ReaderImageRows
from muge_eval.fingerprint import text_fingerprint
from muge_eval.io.image_tsv import open_image
from muge_eval.models.factory import build_retrieval_judge
from muge_eval.progress import Progress
from muge_eval.t2i.agreement import R_PRECISION_CANDIDATES, R_PRECISION_SEED, clip_scores, r_precision
from muge_eval.t2i.data import iter_real_images
from muge_eval.t2i.fid import GaussianStats, feature_statistics, fid_from_features, load_stats, save_stats
from muge_eval.t2i.gold import T2IGold
from muge_eval.t2i.inception import RESIZE_MODES, RESOLUTION, InceptionExtractor, chunked
from muge_eval.t2i.inception_score import IS_SHUFFLE_SEED, IS_SPLITS, inception_score
from muge_eval.t2i.weights import check_weights, find_weights, missing_weights_message

if TYPE_CHECKING:
    from muge_eval.plugins import Registries


@dataclass(frozen=True)
class GeneratedImages:
    """The images being scored, read by img_id: a submission's or a generator's."""

    read: Callable[[str], bytes]
    # Names the image set (for the judge's embedding cache).
    fingerprint: str
    source: str

    def iter_images(self, ids: Sequence[str]) -> Iterator[tuple[str, Image.Image]]:
        """(id, decoded image) in the order of ``ids``."""
        for image_id in ids:
            yield image_id, open_image(self.read(image_id), f"{self.source} (img_id {image_id})")


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


def _batched_images(source: GeneratedImages, ids: Sequence[str], size: int) -> Iterator[list[Image.Image]]:
    for start in range(0, len(ids), size):
        yield [image for _, image in source.iter_images(ids[start : start + size])]


def real_statistics(
    gold: T2IGold, extractor: InceptionExtractor, settings: ScoringSettings, progress: Progress
) -> tuple[GaussianStats, bool]:
    """Real-image statistics, from the npz cache when this dataset, weights and resize were
    seen before. Returns (stats, whether they came from the cache)."""
    assert gold.real_images is not None
    key = text_fingerprint(gold.fingerprint, extractor.weights.sha256, extractor.resize, str(RESOLUTION))
    directory = settings.stats_dir or cache_dir("fid-stats", settings.cache_root)
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
    gold: T2IGold, source: GeneratedImages, settings: ScoringSettings, progress: Progress, parts: ScoreParts
) -> None:
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


def judge_metrics(
    gold: T2IGold,
    source: GeneratedImages,
    settings: ScoringSettings,
    progress: Progress,
    parts: ScoreParts,
    registries: Registries,
) -> None:
    """CLIP score and R-precision judged by a retrieval model, encoded by the shared encoder
    (batches, decoding workers, embedding cache, torchrun shards)."""
    if not settings.judge:
        parts.notes.append("clip_score and r_precision need a retrieval model: pass --judge MODEL")
        return
    judge, record = build_retrieval_judge(registries, settings.judge, settings.judge_args, settings.seed)
    started = time.perf_counter()
    ids = list(gold.ids)
    encode = EncodeSettings(
        settings.batch_size,
        settings.chunk_rows,
        settings.num_workers,
        cache_dir("embeddings", settings.cache_root) if settings.use_embedding_cache else None,
    )
    encoder = Encoder(judge, encode, progress, {"dataset_fingerprint": gold.fingerprint})
    texts = encoder.texts("t2i-descriptions", ids, [gold.texts[i] for i in ids])
    rows = ReaderImageRows(ids, source.read, source.source)
    images = encoder.images("t2i-images", rows, {"images_fingerprint": source.fingerprint})
    if texts is None or images is None:  # a worker rank: rank 0 scores
        return
    check_judge_embeddings(texts, images, rows, judge.image_transform())
    scores = clip_scores(texts.embeddings, images.embeddings)
    rp = r_precision(
        texts.embeddings, images.embeddings, [gold.texts[i] for i in ids], R_PRECISION_CANDIDATES, R_PRECISION_SEED
    )
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


def score_images(
    gold: T2IGold, source: GeneratedImages, settings: ScoringSettings, progress: Progress, registries: Registries
) -> ScoreParts:
    parts = ScoreParts()
    inception_metrics(gold, source, settings, progress, parts)
    judge_metrics(gold, source, settings, progress, parts, registries)
    return parts
