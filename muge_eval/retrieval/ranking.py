"""Exact top-k by inner product, in blocks, with a fixed tie rule.

The order is (score descending, pool position ascending), always. Scores are the float64
inner products of the float32 vectors, each pair summed in one fixed order. Candidates are
selected on float32 scores (numpy in fused blocks, or faiss) or float64 ones (torch), and
only those within a proven error bound of the k-th score are rescored in float64 and
ordered, so every backend gives identical ids and scores (see ``topk_scan``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from muge_eval.retrieval.topk_scan import (
    CANDIDATE_MARGIN,
    FLOAT32_ROUNDOFF,
    FLOAT64_ROUNDOFF,
    NO_CANDIDATE,
    certify_candidates,
    rank_candidates,
    scan_blocks,
    score_error_bound,
)

FloatMatrix = npt.NDArray[np.float32]
IndexMatrix = npt.NDArray[np.int64]

# Upper bound on one query-block x pool-block score matrix (float32 elements): 4 MiB,
# small enough to stay in cache while it is scanned.
DEFAULT_BLOCK_ELEMENTS = 1 << 20
BACKENDS = ("numpy", "faiss", "torch")
# Rows whose norms are checked at once (float32 squares; bounds the temporaries).
NORM_CHUNK_ROWS = 16384
# Largest product of norms scored: float32 partial sums stay far from overflow.
MAX_NORM_PRODUCT = 1e36


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


def checked_norms(vectors: FloatMatrix, name: str) -> npt.NDArray[np.float64]:
    """Upper bounds of the row norms; a NaN or infinite value is a ``ValueError``.

    The sums of squares are computed in float32 (one fast pass): each is within
    ``gamma_d`` relative, plus ``d * 2**-150`` for squares that fall into subnormals, of
    the exact one, and both are added back before the square root.
    """
    dim = vectors.shape[1]
    slack = 1.0 + 2.0 * dim * FLOAT32_ROUNDOFF / (1.0 - dim * FLOAT32_ROUNDOFF)
    norms = np.empty(len(vectors), dtype=np.float64)
    for start in range(0, len(vectors), NORM_CHUNK_ROWS):
        chunk = vectors[start : start + NORM_CHUNK_ROWS]
        with np.errstate(over="ignore", invalid="ignore"):
            squares = np.einsum("ij,ij->i", chunk, chunk)
        bad = np.nonzero(~np.isfinite(squares))[0]
        if len(bad):
            row = start + int(bad[0])
            if not np.isfinite(vectors[row]).all():
                raise ValueError(f"{name} row {row} is not finite (NaN or infinity): exact top-k needs finite vectors")
            raise ValueError(f"{name} row {row} is too large to score in float32: normalise the vectors first")
        norms[start : start + len(chunk)] = np.sqrt((squares.astype(np.float64) + dim * 2.0**-149) * slack)
    return norms


def candidates_faiss(
    queries: FloatMatrix, pool: FloatMatrix, k: int, error: npt.NDArray[np.float64]
) -> tuple[IndexMatrix, npt.NDArray[np.bool_]]:
    """faiss's top ``k + CANDIDATE_MARGIN`` per query (on float32 scores, read from the
    caller's pool without copying it), certified as in ``certify_candidates``."""
    import faiss  # optional dependency, imported only when used

    fetch = min(k + CANDIDATE_MARGIN, len(pool))
    scores, ids = faiss.knn(queries, pool, fetch, metric=faiss.METRIC_INNER_PRODUCT)
    return certify_candidates(scores, ids, k, error, complete=fetch == len(pool))


def choose_backend(requested: str, topk_device: str = "cpu") -> tuple[str, str]:
    """(backend, device): ``auto`` is torch on the model's GPU when it has one, else numpy.
    A backend asked for by name must be installed.

    Not faiss: measured on the CPU (benchmarks/README.md), the numpy path costs 1.16-1.22x
    the float32 matrix multiply with numpy's own BLAS, within a few percent of faiss, which is no
    faster when its bundled OpenBLAS picks a good kernel and about 5x slower when that
    OpenBLAS (0.3.15 in faiss-cpu 1.15) does not know the CPU: on an AMD EPYC (Zen 5) it
    runs its "Barcelona" kernel unless OPENBLAS_CORETYPE is set.
    """
    if requested == "auto":
        return ("torch", topk_device) if topk_device.startswith("cuda") else ("numpy", "cpu")
    from muge_eval.errors import UsageError

    if requested not in BACKENDS:
        raise UsageError(f"unknown top-k backend {requested!r} (known: auto, {', '.join(BACKENDS)})")
    # faiss and torch are optional extras of the same names.
    if requested != "numpy" and importlib.util.find_spec(requested) is None:
        raise UsageError(f"backend={requested} needs {requested!r}: pip install 'muge-eval[{requested}]'")
    return requested, topk_device if requested == "torch" else "cpu"


def exact_topk(
    queries: npt.ArrayLike,
    pool: npt.ArrayLike,
    k: int,
    backend: str = "auto",
    block_elements: int = DEFAULT_BLOCK_ELEMENTS,
    device: str = "cpu",
) -> TopK:
    """Exact top-``k`` pool items per query by inner product, ties to the earlier pool item.

    Raises ``ValueError`` on mismatched shapes, ``k < 1``, or a vector that is not finite.
    """
    q = np.ascontiguousarray(queries, dtype=np.float32)
    p = np.ascontiguousarray(pool, dtype=np.float32)
    if q.ndim != 2 or p.ndim != 2 or q.shape[1] != p.shape[1]:
        raise ValueError(f"shape mismatch: queries {q.shape}, pool {p.shape}")
    if k < 1:
        raise ValueError("k must be at least 1")
    if len(p) == 0 or len(q) == 0:
        return TopK(np.empty((len(q), 0), dtype=np.int64), np.empty((len(q), 0)))
    query_norms = checked_norms(q, "queries")
    pool_max_norm = float(checked_norms(p, "pool").max())
    if float(query_norms.max()) * pool_max_norm > MAX_NORM_PRODUCT:
        raise ValueError("vectors too large to score in float32: normalise them first")
    keep = min(k, len(p))
    error32 = score_error_bound(query_norms, pool_max_norm, q.shape[1], FLOAT32_ROUNDOFF)
    chosen = "numpy" if backend == "auto" else backend
    if chosen == "numpy":
        candidates = scan_blocks(q, p, keep, block_elements, error32)
    else:
        if chosen == "torch":
            from muge_eval.retrieval.torch_topk import candidates_torch

            error64 = score_error_bound(query_norms, pool_max_norm, q.shape[1], FLOAT64_ROUNDOFF)
            candidates, certified = candidates_torch(q, p, keep, block_elements, error64, device)
        else:
            candidates, certified = candidates_faiss(q, p, keep, error32)
        # Rows whose near-ties go past the fetched margin are rescanned exhaustively.
        redo = np.nonzero(~certified)[0]
        if len(redo):
            rescanned = scan_blocks(q[redo], p, keep, block_elements, error32[redo])
            width = max(candidates.shape[1], rescanned.shape[1])
            candidates = _pad(candidates, width)
            candidates[redo] = _pad(rescanned, width)
    indices, scores = rank_candidates(q, p, candidates, keep)
    return TopK(indices, scores)


def _pad(candidates: IndexMatrix, width: int) -> IndexMatrix:
    if candidates.shape[1] == width:
        return candidates
    padded = np.full((len(candidates), width), NO_CANDIDATE, dtype=np.int64)
    padded[:, : candidates.shape[1]] = candidates
    return padded
