"""CLIP-S and RefCLIP-S (Hessel et al. 2021, "CLIPScore") judged by any retrieval adapter.

CLIP-S(c, v) = w x max(cos(c, v), 0) with w = 2.5; RefCLIP-S(c, R, v) = the harmonic mean
of CLIP-S(c, v) and max(max over r in R of cos(c, r), 0). Both are reported x100 and
averaged over images. Captions, references and images are embedded by the shared encoder
(batches, decoding workers, embedding cache, torchrun shards); the judge's identity and
preprocessing are recorded. Hessel et al. prepend "A photo depicts" to English captions;
for Chinese there is no such convention and nothing is prepended (our choice, recorded).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from muge_eval.cache import cache_dir
from muge_eval.encoding.encoder import Encoder, EncodeSettings, check_judge_embeddings
from muge_eval.encoding.images import ImageRows
from muge_eval.fingerprint import text_fingerprint
from muge_eval.models.factory import build_retrieval_judge
from muge_eval.progress import Progress

if TYPE_CHECKING:
    from muge_eval.plugins import Registries

CLIP_S_WEIGHT = 2.5
SCALE = 100.0
FloatArray = npt.NDArray[np.float64]


def _unit_rows(matrix: Any) -> FloatArray:
    array = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: FloatArray = array / np.where(norms == 0, 1.0, norms)
    return result


def clip_s(captions: Any, images: Any) -> FloatArray:
    """Per image: w x max(cos(caption, image), 0) (0-2.5 scale)."""
    cosine = (_unit_rows(captions) * _unit_rows(images)).sum(axis=1)
    result: FloatArray = CLIP_S_WEIGHT * np.clip(cosine, 0.0, None)
    return result


def harmonic_mean(a: FloatArray, b: FloatArray) -> FloatArray:
    """2ab / (a + b), 0 where both are 0."""
    total = a + b
    result: FloatArray = np.where(total > 0, 2 * a * b / np.where(total > 0, total, 1.0), 0.0)
    return result


def ref_clip_s(clip: FloatArray, captions: Any, references: Any, owner: Sequence[int]) -> FloatArray:
    """Per image: harmonic mean of its CLIP-S and max(max cosine to its references, 0).
    ``owner[k]`` is the image (row of ``captions``) of reference row k."""
    caps, refs = _unit_rows(captions), _unit_rows(references)
    owners = np.asarray(owner, dtype=np.int64)
    cosine = (caps[owners] * refs).sum(axis=1)
    best = np.full(len(caps), -np.inf)
    np.maximum.at(best, owners, cosine)
    return harmonic_mean(clip, np.clip(best, 0.0, None))


@dataclass(frozen=True)
class ClipJudgeSettings:
    judge: str
    judge_args: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = 32
    chunk_rows: int = 2048
    num_workers: int | None = None
    # The cache root; None with use_embedding_cache false: no embedding cache.
    cache_root: Path | None = None
    use_embedding_cache: bool = True
    seed: int = 1234


@dataclass(frozen=True)
class ClipJudged:
    metrics: Mapping[str, float]
    per_item: Mapping[str, Mapping[str, float]]
    protocol: Mapping[str, Any]
    timings: Mapping[str, float]


def judge_with_clip(
    ids: Sequence[str],
    captions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    rows: ImageRows,
    dataset_fingerprint: str,
    settings: ClipJudgeSettings,
    progress: Progress,
    registries: Registries,
) -> ClipJudged | None:
    """CLIP-S and RefCLIP-S of every image on rank 0 (None on the other ranks of a
    torchrun, which encode their share)."""
    judge, record = build_retrieval_judge(registries, settings.judge, settings.judge_args, settings.seed)
    started = time.perf_counter()
    encode = EncodeSettings(
        settings.batch_size,
        settings.chunk_rows,
        settings.num_workers,
        cache_dir("embeddings", settings.cache_root) if settings.use_embedding_cache else None,
    )
    encoder = Encoder(judge, encode, progress, {"dataset_fingerprint": dataset_fingerprint})
    caption_texts = [captions[i] for i in ids]
    owner = [row for row, image_id in enumerate(ids) for _ in references[image_id]]
    reference_ids = [f"reference:{i}:{k}" for i in ids for k in range(len(references[i]))]
    reference_texts = [r for i in ids for r in references[i]]
    # The cache key names the texts: the same ids hold other captions in another run.
    caption_key = {"texts": text_fingerprint(json.dumps(caption_texts, ensure_ascii=False))}
    reference_key = {"texts": text_fingerprint(json.dumps(reference_texts, ensure_ascii=False))}
    caps = encoder.texts("caption-hypotheses", [f"caption:{i}" for i in ids], caption_texts, caption_key)
    refs = encoder.texts("caption-references", reference_ids, reference_texts, reference_key)
    images = encoder.images("caption-images", rows)
    if caps is None or refs is None or images is None:
        return None
    check_judge_embeddings(caps, images, rows, judge.image_transform())
    clip = clip_s(caps.embeddings, images.embeddings)
    ref = ref_clip_s(clip, caps.embeddings, refs.embeddings, owner)
    per_item = {
        image_id: {"clip_s": float(clip[row] * SCALE), "ref_clip_s": float(ref[row] * SCALE)}
        for row, image_id in enumerate(ids)
    }
    protocol = {
        "model": record,
        "clip_s": f"100 x {CLIP_S_WEIGHT} x max(cos(caption, image), 0), mean over images (Hessel et al. 2021)",
        "ref_clip_s": "100 x harmonic mean of CLIP-S and max(max over references of cos(caption, reference), 0), "
        "mean over images",
        "text_prefix": "none (Hessel et al. prepend 'A photo depicts' to English captions)",
        "embeddings": "the judge's, L2-normalised in float64",
    }
    return ClipJudged(
        {"clip_s": float(clip.mean() * SCALE), "ref_clip_s": float(ref.mean() * SCALE)},
        per_item,
        protocol,
        {"clip_judge_s": time.perf_counter() - started},
    )
