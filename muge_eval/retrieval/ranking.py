"""Exact top-k by inner product, in blocks, with a fixed tie rule.

The order is (score descending, pool position ascending), always. Scores are the float64
inner products of the float32 vectors: candidates are found on float32 (numpy matmul, or
faiss when installed) with a margin, then rescored in float64 and ordered, so both
backends give identical ids (the float32 pass only has to keep the true top-k among its
top k + margin).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
IndexMatrix = npt.NDArray[np.int64]

# Extra float32 candidates kept per query before float64 rescoring.
CANDIDATE_MARGIN = 8
# Upper bound on one query-block x pool-block score matrix (float32 elements).
DEFAULT_BLOCK_ELEMENTS = 1 << 25  # 128 MiB of float32
BACKENDS = ("numpy", "faiss", "torch")


@dataclass(frozen=True)
class TopK:
    """Per query: ``indices`` into the pool (best first) and their float64 ``scores``."""

    indices: IndexMatrix
    scores: npt.NDArray[np.float64]


def l2_normalize(vectors: npt.NDArray[np.floating]) -> FloatMatrix:
    """Unit-length rows in float32; an all-zero row stays zero."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (array / norms).astype(np.float32, copy=False)


def _topk_rows_tie_exact(scores: FloatMatrix, k: int) -> IndexMatrix:
    """Column indices of the k best per row: higher score first, lower column on ties.

    The returned columns are in ascending column order (selection only, not ranking).
    """
    n_rows, n_cols = scores.shape
    if k >= n_cols:
        return np.broadcast_to(np.arange(n_cols, dtype=np.int64), (n_rows, n_cols)).copy()
    # kth largest value per row; everything strictly above it is in, then the earliest ties.
    kth = np.partition(scores, n_cols - k, axis=1)[:, n_cols - k]
    chosen = scores > kth[:, None]
    need = k - chosen.sum(axis=1)
    equal = scores == kth[:, None]
    # Rows with more boundary ties than places keep the earliest ones; the running count
    # is computed only for those rows (rare on real embeddings).
    crowded = np.nonzero(equal.sum(axis=1) > need)[0]
    if len(crowded):
        earliest = np.cumsum(equal[crowded], axis=1, dtype=np.int32) <= need[crowded, None]
        equal[crowded] &= earliest
    chosen |= equal
    _, cols = np.nonzero(chosen)
    return cols.reshape(n_rows, k).astype(np.int64)


def _merge(
    best_idx: IndexMatrix, best_scores: FloatMatrix, idx: IndexMatrix, scores: FloatMatrix, keep: int
) -> tuple[IndexMatrix, FloatMatrix]:
    all_idx = np.concatenate([best_idx, idx], axis=1)
    all_scores = np.concatenate([best_scores, scores], axis=1)
    order = np.lexsort((all_idx, -all_scores), axis=1)[:, :keep]
    return np.take_along_axis(all_idx, order, 1), np.take_along_axis(all_scores, order, 1)


def candidates_numpy(queries: FloatMatrix, pool: FloatMatrix, keep: int, block_elements: int) -> IndexMatrix:
    """Top-``keep`` pool indices per query on float32 scores, in bounded-memory blocks."""
    n_queries, n_pool = len(queries), len(pool)
    keep = min(keep, n_pool)
    pool_block = max(keep, min(n_pool, block_elements // 256))
    query_block = max(1, block_elements // pool_block)
    result = np.empty((n_queries, keep), dtype=np.int64)
    for q_start in range(0, n_queries, query_block):
        q = queries[q_start : q_start + query_block]
        best_idx = np.empty((len(q), 0), dtype=np.int64)
        best_scores = np.empty((len(q), 0), dtype=np.float32)
        for p_start in range(0, n_pool, pool_block):
            block_scores = q @ pool[p_start : p_start + pool_block].T
            local = _topk_rows_tie_exact(block_scores, min(keep, block_scores.shape[1]))
            block_best = np.take_along_axis(block_scores, local, 1)
            best_idx, best_scores = _merge(best_idx, best_scores, local + p_start, block_best, keep)
        result[q_start : q_start + len(q)] = best_idx
    return result


def candidates_faiss(queries: FloatMatrix, pool: FloatMatrix, keep: int, block_elements: int) -> IndexMatrix:
    """Top-``keep`` candidates from faiss ``IndexFlatIP``; rows whose boundary is tied are
    recomputed with the numpy path, because faiss does not order ties by position."""
    import faiss  # optional dependency, imported only when used

    n_pool = len(pool)
    keep = min(keep, n_pool)
    fetch = min(keep + 1, n_pool)
    index = faiss.IndexFlatIP(pool.shape[1])
    index.add(np.ascontiguousarray(pool))
    scores, idx = index.search(np.ascontiguousarray(queries), fetch)
    idx = idx[:, :keep].astype(np.int64)
    if fetch > keep:
        tied = np.nonzero(scores[:, keep - 1] == scores[:, keep])[0]
        if len(tied):
            idx[tied] = candidates_numpy(queries[tied], pool, keep, block_elements)
    return idx


def available_backend() -> str:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return "numpy"
    return "faiss"


def choose_backend(requested: str, topk_device: str = "cpu") -> tuple[str, str]:
    """(backend, device): ``auto`` is torch on the model's GPU when it has one, else faiss
    when installed, else numpy. A backend asked for by name must be installed."""
    from muge_eval.errors import UsageError

    if requested == "auto":
        if topk_device.startswith("cuda"):
            return "torch", topk_device
        return available_backend(), "cpu"
    if requested not in BACKENDS:
        raise UsageError(f"unknown top-k backend {requested!r} (known: auto, {', '.join(BACKENDS)})")
    extra = {"faiss": ("faiss", "faiss"), "torch": ("torch", "torch")}.get(requested)
    if extra is not None:
        import importlib.util

        if importlib.util.find_spec(extra[0]) is None:
            raise UsageError(f"backend={requested} needs {extra[0]}: pip install 'muge-eval[{extra[1]}]'")
    return requested, topk_device if requested == "torch" else "cpu"


def exact_topk(
    queries: npt.ArrayLike,
    pool: npt.ArrayLike,
    k: int,
    backend: str = "auto",
    block_elements: int = DEFAULT_BLOCK_ELEMENTS,
    device: str = "cpu",
) -> TopK:
    """Exact top-``k`` pool items per query by inner product, ties to the earlier pool item."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    p = np.ascontiguousarray(pool, dtype=np.float32)
    if q.ndim != 2 or p.ndim != 2 or q.shape[1] != p.shape[1]:
        raise ValueError(f"shape mismatch: queries {q.shape}, pool {p.shape}")
    if k < 1:
        raise ValueError("k must be at least 1")
    if len(p) == 0 or len(q) == 0:
        return TopK(np.empty((len(q), 0), dtype=np.int64), np.empty((len(q), 0)))
    chosen = available_backend() if backend == "auto" else backend
    finder: Callable[[FloatMatrix, FloatMatrix, int, int], IndexMatrix]
    if chosen == "torch":
        from muge_eval.retrieval.torch_topk import candidates_torch

        finder = functools.partial(candidates_torch, device=device, fallback=candidates_numpy)
    else:
        finder = candidates_faiss if chosen == "faiss" else candidates_numpy
    candidates = finder(q, p, k + CANDIDATE_MARGIN, block_elements)
    keep = min(k, candidates.shape[1])
    indices = np.empty((len(q), keep), dtype=np.int64)
    scores = np.empty((len(q), keep), dtype=np.float64)
    # Rescore candidates in float64 and order by (score desc, pool position asc), in
    # query chunks so the gathered candidate vectors stay small.
    chunk = max(1, block_elements // max(1, candidates.shape[1] * q.shape[1] * 2))
    for start in range(0, len(q), chunk):
        cand = candidates[start : start + chunk]
        vectors = p[cand].astype(np.float64)  # (queries, candidates, dim)
        exact = np.matmul(vectors, q[start : start + chunk].astype(np.float64)[:, :, None])[..., 0]
        order = np.lexsort((cand, -exact), axis=1)[:, :keep]
        indices[start : start + chunk] = np.take_along_axis(cand, order, 1)
        scores[start : start + chunk] = np.take_along_axis(exact, order, 1)
    return TopK(indices, scores)
