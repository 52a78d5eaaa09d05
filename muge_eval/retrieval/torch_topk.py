"""Top-k candidates with torch, on the GPU that holds the model (or on the CPU).

Scores are computed in float64 on the device (free of TF32; the products of float32
inputs are exact), the top ``k + CANDIDATE_MARGIN`` are taken per query and certified
against the float64 error bound (``topk_scan.certify_candidates``): rows whose near-ties
go past the margin are rescanned on the host, because ``torch.topk`` does not order ties
by position. ``exact_topk`` then rescores the candidates in float64 on the host and
orders them by (score descending, position ascending), exactly as for the other backends.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from muge_eval.retrieval.topk_scan import CANDIDATE_MARGIN, certify_candidates

FloatMatrix = npt.NDArray[np.float32]
IndexMatrix = npt.NDArray[np.int64]


def candidates_torch(
    queries: FloatMatrix,
    pool: FloatMatrix,
    k: int,
    block_elements: int,
    error: npt.NDArray[np.float64],
    device: str = "cpu",
) -> tuple[IndexMatrix, npt.NDArray[np.bool_]]:
    """(candidates, certified) per query, as ``certify_candidates`` returns them."""
    import torch

    n_pool = len(pool)
    fetch = min(k + CANDIDATE_MARGIN, n_pool)
    pool_t = torch.from_numpy(np.ascontiguousarray(pool)).to(device).double()
    query_block = max(1, block_elements // max(1, n_pool))
    scores = np.empty((len(queries), fetch), dtype=np.float64)
    ids = np.empty((len(queries), fetch), dtype=np.int64)
    for start in range(0, len(queries), query_block):
        q = torch.from_numpy(np.ascontiguousarray(queries[start : start + query_block])).to(device).double()
        top_scores, top_ids = torch.topk(q @ pool_t.T, fetch, dim=1, largest=True, sorted=True)
        scores[start : start + len(q)] = top_scores.cpu().numpy()
        ids[start : start + len(q)] = top_ids.cpu().numpy()
    return certify_candidates(scores, ids, k, error, complete=fetch == n_pool)
