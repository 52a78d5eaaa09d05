"""Text-image agreement judged by a retrieval model: CLIP score and R-precision.

Both take L2-normalised embeddings: row i of ``images`` is the image generated for row i
of ``texts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

R_PRECISION_CANDIDATES = 100
R_PRECISION_SEED = 0

Matrix = npt.NDArray[np.float32] | npt.NDArray[np.float64]


def l2_rows(matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)


def clip_scores(texts: Matrix, images: Matrix) -> npt.NDArray[np.float64]:
    """Per item: 100 x max(cosine(text_i, image_i), 0)."""
    cosine = (l2_rows(texts) * l2_rows(images)).sum(axis=1)
    return 100.0 * np.clip(cosine, 0.0, None)


@dataclass(frozen=True)
class RPrecision:
    hits: npt.NDArray[np.bool_]
    candidates: int

    @property
    def value(self) -> float:
        return 100.0 * float(self.hits.mean()) if len(self.hits) else 0.0


def draw_distractors(
    descriptions: Sequence[str], count: int, seed: int = R_PRECISION_SEED
) -> list[npt.NDArray[np.int64]]:
    """For each item, ``count`` other rows drawn without replacement with a fixed seed.

    Rows whose description is the same text as the item's are never drawn (they are not
    wrong descriptions). With fewer eligible rows than ``count``, all of them are used.
    """
    rng = np.random.default_rng(seed)
    by_text: dict[str, list[int]] = {}
    for row, text in enumerate(descriptions):
        by_text.setdefault(text, []).append(row)
    n = len(descriptions)
    out = []
    for row, text in enumerate(descriptions):
        same = by_text[text]
        eligible = np.setdiff1d(np.arange(n), np.asarray(same)) if len(same) > 1 else np.delete(np.arange(n), row)
        take = min(count, len(eligible))
        out.append(np.sort(rng.choice(eligible, size=take, replace=False)).astype(np.int64))
    return out


def r_precision(
    texts: Matrix,
    images: Matrix,
    descriptions: Sequence[str],
    candidates: int = R_PRECISION_CANDIDATES,
    seed: int = R_PRECISION_SEED,
) -> RPrecision:
    """An image hits when its own description scores strictly above each of the
    ``candidates - 1`` distractors (a tie is a miss)."""
    t, im = l2_rows(texts), l2_rows(images)
    distractors = draw_distractors(descriptions, candidates - 1, seed)
    hits = np.zeros(len(t), dtype=bool)
    used = 1
    for row, others in enumerate(distractors):
        own = float(t[row] @ im[row])
        other = t[others] @ im[row]
        hits[row] = bool(others.size == 0 or own > float(other.max()))
        used = max(used, 1 + int(others.size))
    return RPrecision(hits, used)
