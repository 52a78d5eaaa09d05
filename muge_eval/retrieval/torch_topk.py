"""Top-k candidates with torch, on the GPU that holds the model (or on the CPU).

Scores are computed in float64 on the device (exact for float32 inputs up to summation
order, and free of TF32), the top ``keep`` + 1 are taken per query, and rows whose
boundary is tied are recomputed by the numpy path, because ``torch.topk`` does not order
ties by position. ``exact_topk`` then rescores the candidates in float64 on the host and
orders them by (score descending, position ascending), exactly as for the other backends.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
IndexMatrix = npt.NDArray[np.int64]


def candidates_torch(
    queries: FloatMatrix,
    pool: FloatMatrix,
    keep: int,
    block_elements: int,
    device: str = "cpu",
    fallback: Callable[[FloatMatrix, FloatMatrix, int, int], IndexMatrix] | None = None,
) -> IndexMatrix:
    import torch

    n_pool = len(pool)
    keep = min(keep, n_pool)
    fetch = min(keep + 1, n_pool)
    pool_t = torch.from_numpy(np.ascontiguousarray(pool)).to(device).double()
    query_block = max(1, block_elements // max(1, n_pool))
    result = np.empty((len(queries), keep), dtype=np.int64)
    tied_rows: list[npt.NDArray[np.int64]] = []
    for start in range(0, len(queries), query_block):
        q = torch.from_numpy(np.ascontiguousarray(queries[start : start + query_block])).to(device).double()
        scores, idx = torch.topk(q @ pool_t.T, fetch, dim=1, largest=True, sorted=True)
        result[start : start + len(q)] = idx[:, :keep].cpu().numpy()
        if fetch > keep:
            tied = torch.nonzero(scores[:, keep - 1] == scores[:, keep]).flatten().cpu().numpy()
            tied_rows.append(tied + start)
    tied_all = np.concatenate(tied_rows) if tied_rows else np.empty(0, dtype=np.int64)
    if len(tied_all):
        if fallback is None:
            from muge_eval.retrieval.ranking import candidates_numpy

            fallback = candidates_numpy
        result[tied_all] = fallback(queries[tied_all], pool, keep, block_elements)
    return result
