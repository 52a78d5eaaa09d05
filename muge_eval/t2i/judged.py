"""Metrics judged by a retrieval model: CLIP score and R-precision (description against
generated image) and CMMD (generated against real images, on the judge's image
embeddings). Everything is embedded by the shared encoder: batches, decoding workers, the
embedding cache (real-image embeddings are cached per dataset fingerprint and judge, so a
second generator reads no real image), and chunks shared across ``torchrun`` ranks.

Real images are encoded under the ids ``real/<img_id>``: a real image and the image
generated for its description are different images, and an adapter that looks
embeddings up by id (``random``, ``features``) must not give them the same vector.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from muge_eval.cache import cache_dir
from muge_eval.encoding.encoder import Encoded, Encoder, EncodeSettings, bad_image_problems
from muge_eval.encoding.images import ImageRows, ReaderImageRows
from muge_eval.errors import InputError
from muge_eval.models.base import RetrievalAdapter
from muge_eval.progress import Progress
from muge_eval.t2i.agreement import R_PRECISION_CANDIDATES, R_PRECISION_SEED, clip_scores, r_precision
from muge_eval.t2i.cmmd import CMMD_SCALE, CMMD_SIGMA, ESTIMATORS, cmmd
from muge_eval.t2i.data import REAL_ID_PREFIX, real_image_rows
from muge_eval.t2i.gold import T2IGold

if TYPE_CHECKING:
    from muge_eval.t2i.scoring import GeneratedImages, ScoreParts, ScoringSettings


@dataclass(frozen=True)
class Judge:
    model: RetrievalAdapter
    record: dict[str, Any]


def _checked(encoded: Encoded, rows: ImageRows, judge: RetrievalAdapter) -> Encoded:
    if not encoded.ok.all():
        bad = [int(r) for r in np.nonzero(~encoded.ok)[0]]
        raise InputError(bad_image_problems(rows, bad, judge.image_transform()), "the judge cannot read these images")
    return encoded


def judge_metrics(
    gold: T2IGold,
    source: GeneratedImages,
    judge: Judge,
    compute: Sequence[str],
    settings: ScoringSettings,
    progress: Progress,
    parts: ScoreParts,
) -> None:
    """The judged metrics among ``compute``. Every rank takes part in the encoding; rank 0
    alone gets the embeddings and scores."""
    started = time.perf_counter()
    ids = list(gold.ids)
    encode = EncodeSettings(
        settings.batch_size,
        settings.chunk_rows,
        settings.num_workers,
        cache_dir("embeddings", settings.cache_root) if settings.use_embedding_cache else None,
    )
    encoder = Encoder(judge.model, encode, progress, {"dataset_fingerprint": gold.fingerprint})
    agreement = "clip_score" in compute or "r_precision" in compute
    texts = encoder.texts("t2i-descriptions", ids, [gold.texts[i] for i in ids]) if agreement else None
    rows = ReaderImageRows(ids, source.read, source.source)
    images = encoder.images("t2i-images", rows, {"images_fingerprint": source.fingerprint})
    real = None
    if "cmmd" in compute:
        real_rows = real_image_rows(gold, settings.cache_root)
        real = encoder.images("t2i-real-images", real_rows)
        if real is not None:
            real = _checked(real, real_rows, judge.model)
    encoder.report()
    if images is None:  # a worker rank: rank 0 scores
        return
    images = _checked(images, rows, judge.model)
    parts.protocol["judge"] = {"model": judge.record}
    if texts is not None:
        agreement_metrics(gold, texts, images, parts)
    if real is not None:
        if images.embeddings.shape[1] != real.embeddings.shape[1]:
            raise InputError([], "the judge's embeddings of generated and real images differ in dimension")
        parts.metrics["cmmd"] = cmmd(images.embeddings, real.embeddings, settings.cmmd_estimator)
        parts.protocol["cmmd"] = {
            "embeddings": "the judge's image embeddings, L2-normalised",
            "kernel": f"Gaussian RBF, sigma {CMMD_SIGMA:g}",
            "scale": CMMD_SCALE,
            "estimator": settings.cmmd_estimator,
            "estimator_method": ESTIMATORS[settings.cmmd_estimator],
            "real_images": len(real.embeddings),
            "generated_images": len(images.embeddings),
            "real_ids": f"{REAL_ID_PREFIX}<img_id>",
        }
    parts.timings["judge_s"] = time.perf_counter() - started


def agreement_metrics(gold: T2IGold, texts: Encoded, images: Encoded, parts: ScoreParts) -> None:
    """CLIP score and R-precision of each generated image against its description."""
    if texts.embeddings.shape[1] != images.embeddings.shape[1]:
        raise InputError(
            [],
            f"judge text and image embeddings differ in dimension: "
            f"{texts.embeddings.shape[1]} vs {images.embeddings.shape[1]}",
        )
    ids = list(gold.ids)
    scores = clip_scores(texts.embeddings, images.embeddings)
    rp = r_precision(
        texts.embeddings, images.embeddings, [gold.texts[i] for i in ids], R_PRECISION_CANDIDATES, R_PRECISION_SEED
    )
    parts.metrics["clip_score"] = float(scores.mean())
    parts.metrics["r_precision"] = rp.value
    parts.protocol["judge"].update(
        {
            "clip_score": "100 x max(cosine(description, image), 0), averaged",
            "r_precision": "share of images whose own description scores strictly above every distractor (%)",
            "r_precision_candidates": rp.candidates,
            "r_precision_seed": R_PRECISION_SEED,
            "distractors": "other descriptions drawn without replacement; identical texts excluded",
        }
    )
    if rp.candidates < R_PRECISION_CANDIDATES:
        parts.notes.append(f"only {rp.candidates} candidate descriptions per image (fewer than 100 items)")
    for row, image_id in enumerate(ids):
        parts.per_item.setdefault(image_id, {}).update(
            clip_score=float(scores[row]), r_precision_hit=bool(rp.hits[row])
        )
