"""Inception Score from the FID network's 1008 logits (without the fc bias).

IS = exp(E_x KL(p(y|x) || p(y))), computed on ``splits`` chunks of a permutation drawn
with a fixed seed; the mean and the (population) standard deviation over chunks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IS_SPLITS = 10
IS_SHUFFLE_SEED = 2020


def inception_score(
    logits: npt.ArrayLike, splits: int = IS_SPLITS, seed: int | None = IS_SHUFFLE_SEED
) -> tuple[float, float]:
    matrix = np.asarray(logits, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"logits must be (n, classes), got shape {matrix.shape}")
    n = matrix.shape[0]
    if splits < 1 or n < splits:
        raise ValueError(f"the Inception Score needs at least {splits} images (got {n})")
    if seed is not None:
        matrix = matrix[np.random.RandomState(seed).permutation(n)]
    shifted = matrix - matrix.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        chunk_p, chunk_log_p = p[lo:hi], log_p[lo:hi]
        q = chunk_p.mean(axis=0, keepdims=True)
        # q = 0 only where every p of the chunk is 0: those terms are 0 * finite = 0.
        log_q = np.log(np.where(q > 0, q, 1.0))
        kl = (chunk_p * (chunk_log_p - log_q)).sum(axis=1).mean()
        scores.append(float(np.exp(kl)))
    return float(np.mean(scores)), float(np.std(scores))
