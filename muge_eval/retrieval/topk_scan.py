"""The pieces of exact top-k shared by every backend: error bounds, candidate sets, rescoring.

The selection runs on float32 scores (or float64 on a torch device); the answer is ranked
on float64 scores. Proven error bounds connect the two: a float32 inner product of length
``d`` is within ``gamma_d * |q| * |p|`` of the exact one whatever the summation order
(Higham, *Accuracy and Stability of Numerical Algorithms*, section 3.1), so an item whose
float32 score is more than twice the bound below the k-th best float32 score can never
be in the float64 top-k. Each backend keeps every item above that limit as a candidate,
and only those are rescored in float64.

``scan_blocks`` is the numpy backend: per block of scores one matrix multiply, one
segmented maximum (cheap, in cache), and work proportional to the few items above the
running per-query limit.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
IndexMatrix = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]

# Unit roundoff of float32 and float64 (round to nearest).
FLOAT32_ROUNDOFF = 2.0**-24
FLOAT64_ROUNDOFF = 2.0**-53
# Pool rows per segment: a segment's maximum decides whether its scores are looked at.
SEGMENT_ROWS = 32
# Pool rows per block of scores; with the default block size the block stays in cache.
POOL_BLOCK_ROWS = 1024
# New hits per query (on average) gathered before they are merged into the candidates.
MERGE_HITS_PER_QUERY = 4
# Candidate pairs rescored at once (bounds the float64 gather buffers to 32 MiB at d=512).
RESCORE_PAIRS = 4096
# Extra items fetched per query by faiss and torch, so that near-ties at the k-th score
# are usually settled without rescanning the row.
CANDIDATE_MARGIN = 8
# Marks an empty candidate slot.
NO_CANDIDATE = -1


def score_error_bound(query_norms: Float64Array, pool_max_norm: float, dim: int, unit_roundoff: float) -> Float64Array:
    """Per query, a bound on |approximate score - float64 score| for every pool item.

    ``gamma_d = d*u / (1 - d*u)`` bounds a length-``d`` dot product computed in precision
    ``u`` in any order, with or without fused multiply-adds, relative to ``sum |q_i p_i|
    <= |q| |p|``; the float64 rescoring has its own (tiny) bound added. The last term
    covers float32 products that underflow into subnormals.
    """

    def gamma(u: float) -> float:
        return dim * u / (1.0 - dim * u)

    relative = (gamma(unit_roundoff) + gamma(FLOAT64_ROUNDOFF)) * (1.0 + 2.0**-20)
    return relative * query_norms * pool_max_norm + dim * 2.0**-148


def round_down_float32(values: Float64Array) -> FloatMatrix:
    """The largest float32 not above each value (so a float32 ``>=`` test keeps a superset)."""
    rounded = values.astype(np.float32)
    too_high = rounded.astype(np.float64) > values
    rounded[too_high] = np.nextafter(rounded[too_high], np.float32(-np.inf))
    return rounded


def descending_key(scores: FloatMatrix) -> IndexMatrix:
    """Non-negative int64 keys (below 2**32) that sort float32 scores in descending order."""
    bits = scores.view(np.int32).astype(np.int64)
    # Order-preserving map of IEEE floats to unsigned integers, then reversed.
    ascending = np.where(bits < 0, ~bits & 0xFFFFFFFF, bits | 0x80000000)
    return 0xFFFFFFFF - ascending


def rescore(queries: FloatMatrix, pool: FloatMatrix, rows: IndexMatrix, cols: IndexMatrix) -> Float64Array:
    """float64 inner products of the pairs ``(queries[rows], pool[cols])``.

    The products of float32 values are exact in float64 and each pair is summed in the
    same fixed (pairwise) order, so a pair's score does not depend on which other pairs
    are rescored with it: every backend gives bit-identical scores.
    """
    out = np.empty(len(rows), dtype=np.float64)
    dim = queries.shape[1]
    left = np.empty((min(RESCORE_PAIRS, len(rows)), dim), dtype=np.float64)
    right = np.empty_like(left)
    for start in range(0, len(rows), RESCORE_PAIRS):
        r, c = rows[start : start + RESCORE_PAIRS], cols[start : start + RESCORE_PAIRS]
        a, b = left[: len(r)], right[: len(r)]
        a[...] = queries[r]
        b[...] = pool[c]
        np.multiply(a, b, out=a)
        out[start : start + len(r)] = a.sum(axis=1)
    return out


def rank_candidates(
    queries: FloatMatrix, pool: FloatMatrix, candidates: IndexMatrix, k: int
) -> tuple[IndexMatrix, Float64Array]:
    """The top ``k`` of each row's candidates (``NO_CANDIDATE`` marks empty slots) by
    (float64 score descending, pool position ascending), with their scores."""
    n_rows = len(candidates)
    present = candidates != NO_CANDIDATE
    rows, slots = np.nonzero(present)
    scores = np.full(candidates.shape, -np.inf)
    scores[rows, slots] = rescore(queries, pool, rows.astype(np.int64), candidates[rows, slots])
    positions = np.where(present, candidates, len(pool))
    order = np.lexsort((positions, -scores), axis=1)[:, :k]
    indices = np.take_along_axis(candidates, order, 1)
    if n_rows and (indices == NO_CANDIDATE).any():
        raise AssertionError("fewer candidates than k: a backend broke its contract")
    return indices, np.take_along_axis(scores, order, 1)


def certify_candidates(
    scores: npt.NDArray[np.floating], ids: IndexMatrix, k: int, error: Float64Array, complete: bool
) -> tuple[IndexMatrix, npt.NDArray[np.bool_]]:
    """Candidates from a backend's own top ``m`` (scores sorted descending, ``m > k``).

    A row is certified when its last fetched score is below the k-th score minus twice
    the error bound: every item not fetched scores lower still, so none can be in the
    top-k. Returned candidates are the fetched items at or above that limit; rows not
    certified must be recomputed (ties and near-ties beyond the fetched margin).
    """
    limit = scores[:, k - 1].astype(np.float64) - 2.0 * error
    certified = np.full(len(scores), True) if complete else scores[:, -1].astype(np.float64) < limit
    near = (scores.astype(np.float64) >= limit[:, None]) & (ids >= 0)
    return np.where(near, ids, NO_CANDIDATE), certified


class _RunningCandidates:
    """Per query of one block: every pool item seen so far that may still be in the top-k.

    Kept: items whose float32 score is at least the k-th best float32 score seen minus
    twice the error bound. When near-ties (duplicates) exceed the capacity, the row is
    pruned exactly instead: rescored in float64, only its top-k by the tie rule stay.
    """

    def __init__(self, queries: FloatMatrix, pool: FloatMatrix, k: int, error: Float64Array, capacity: int):
        n = len(queries)
        self.queries, self.pool, self.k, self.error, self.capacity = queries, pool, k, error, capacity
        self.ids = np.full((n, capacity), NO_CANDIDATE, dtype=np.int64)
        self.scores = np.full((n, capacity), -np.inf, dtype=np.float32)
        # float32 limit per query: scores below it cannot reach the top-k.
        self.limit = np.full(n, -np.inf, dtype=np.float32)

    def raise_limit(self, lower_bound_of_kth: Float64Array) -> None:
        """``lower_bound_of_kth``: a value at least k items already seen score at or above."""
        self.limit = np.maximum(self.limit, round_down_float32(lower_bound_of_kth - 2.0 * self.error))

    def add(self, rows: IndexMatrix, ids: IndexMatrix, scores: FloatMatrix) -> None:
        """Merge new hits ``(query row, pool id, float32 score)`` into the kept items."""
        touched_mask = np.zeros(len(self.ids), dtype=np.bool_)
        touched_mask[rows] = True
        touched = np.flatnonzero(touched_mask)
        local_row = np.cumsum(touched_mask) - 1  # row -> its index in ``touched``
        old_ids = self.ids[touched]
        present = old_ids != NO_CANDIDATE
        all_rows = np.concatenate([np.nonzero(present)[0], local_row[rows]])
        all_ids = np.concatenate([old_ids[present], ids])
        all_scores = np.concatenate([self.scores[touched][present], scores])
        # One integer sort by (row, score descending); the order among equal scores does
        # not matter here (ties are all kept or all dropped together).
        order = np.argsort((all_rows << 32) | descending_key(all_scores))
        all_rows, all_ids, all_scores = all_rows[order], all_ids[order], all_scores[order]
        counts = np.bincount(all_rows, minlength=len(touched))
        starts = np.cumsum(counts) - counts
        kth = np.full(len(touched), -np.inf)
        full = counts >= self.k
        kth[full] = all_scores[starts[full] + self.k - 1]
        limit = kth - 2.0 * self.error[touched]
        keep = all_scores >= limit[all_rows]  # a prefix of each row's run (sorted descending)
        kept = np.bincount(all_rows[keep], minlength=len(touched))
        self.limit[touched] = np.maximum(self.limit[touched], round_down_float32(limit))
        self.ids[touched] = NO_CANDIDATE
        self.scores[touched] = -np.inf
        overflow = kept > self.capacity
        fits = keep & ~overflow[all_rows]
        slot = np.arange(len(all_rows)) - starts[all_rows]
        self.ids[touched[all_rows[fits]], slot[fits]] = all_ids[fits]
        self.scores[touched[all_rows[fits]], slot[fits]] = all_scores[fits]
        if overflow.any():
            spill = keep & overflow[all_rows]
            self._prune_exactly(touched[all_rows[spill]], all_ids[spill], all_scores[spill])

    def _prune_exactly(self, rows: IndexMatrix, ids: IndexMatrix, scores: FloatMatrix) -> None:
        """Keep each row's top-k by (float64 score desc, position asc): nothing else can win."""
        exact = rescore(self.queries, self.pool, rows, ids)
        order = np.lexsort((ids, -exact, rows))
        rows, ids, scores = rows[order], ids[order], scores[order]
        first = np.searchsorted(rows, rows, side="left")
        slot = np.arange(len(rows)) - first
        best = slot < self.k
        self.ids[rows[best], slot[best]] = ids[best]
        self.scores[rows[best], slot[best]] = scores[best]


def scan_blocks(
    queries: FloatMatrix, pool: FloatMatrix, k: int, block_elements: int, error: Float64Array
) -> IndexMatrix:
    """Candidates (``NO_CANDIDATE``-padded rows) that contain each query's exact top-``k``.

    Scores are computed one (pool block x query block) matrix at a time, at most
    ``block_elements`` float32 values, laid out pool-major so that the maximum over each
    segment of ``SEGMENT_ROWS`` pool items is a fast vectorised reduction. Only segments
    whose maximum reaches a query's running limit are looked at element by element, and
    their hits are merged into the running candidates once they number about
    ``MERGE_HITS_PER_QUERY`` per query (the limit rises at each merge).
    """
    n_queries, n_pool = len(queries), len(pool)
    pool_rows = max(1, min(n_pool, POOL_BLOCK_ROWS, block_elements))
    segment = min(SEGMENT_ROWS, pool_rows)
    pool_rows -= pool_rows % segment
    query_rows = max(1, block_elements // pool_rows)
    buffer = np.empty(pool_rows * min(query_rows, n_queries), dtype=np.float32)
    capacity = 2 * k + 16
    result = np.full((n_queries, capacity), NO_CANDIDATE, dtype=np.int64)
    for q_start in range(0, n_queries, query_rows):
        block_q = queries[q_start : q_start + query_rows]
        running = _RunningCandidates(block_q, pool, k, error[q_start : q_start + len(block_q)], capacity)
        pending: list[tuple[IndexMatrix, IndexMatrix, FloatMatrix]] = []
        pending_hits = 0
        for p_start in range(0, n_pool, pool_rows):
            hits = _block_hits(block_q, pool[p_start : p_start + pool_rows], segment, buffer, running, p_start == 0)
            pending.append((hits[0], hits[1] + p_start, hits[2]))
            pending_hits += len(hits[0])
            if pending_hits >= MERGE_HITS_PER_QUERY * len(block_q) or p_start + pool_rows >= n_pool:
                rows, ids, scores = (np.concatenate(parts) for parts in zip(*pending, strict=True))
                if len(rows):
                    running.add(rows, ids, scores)
                pending, pending_hits = [], 0
        result[q_start : q_start + len(block_q)] = running.ids
    return result


def _block_hits(
    block_q: FloatMatrix,
    block_p: FloatMatrix,
    segment: int,
    buffer: FloatMatrix,
    running: _RunningCandidates,
    first: bool,
) -> tuple[IndexMatrix, IndexMatrix, FloatMatrix]:
    """(query row, pool row in the block, float32 score) of the scores at or above the
    running limit, from one matrix multiply into ``buffer``."""
    n, width = len(block_q), len(block_p)
    height = -(-width // segment) * segment
    scores = buffer[: height * n].reshape(height, n)
    np.matmul(block_p, block_q.T, out=scores[:width])
    scores[width:] = -np.inf  # pads the last segment of the last block
    segments = scores.reshape(height // segment, segment, n)
    segment_max = segments.max(axis=1)
    if first and len(segment_max) >= running.k:
        # A cheap first limit: k different segments reach their k-th largest maximum.
        kth_max = np.partition(segment_max, len(segment_max) - running.k, axis=0)[len(segment_max) - running.k]
        running.raise_limit(kth_max.astype(np.float64))
    # Queries with any score at or above their limit, then their segments that have one.
    queries = np.flatnonzero(segment_max.max(axis=0) >= running.limit)
    hot_segment, hot = np.nonzero(segment_max[:, queries] >= running.limit[queries][None, :])
    hot_query = queries[hot]
    values = segments[hot_segment, :, hot_query]  # (hot pairs, segment)
    hit, offset = np.nonzero(values >= running.limit[hot_query][:, None])
    local = hot_segment[hit] * segment + offset
    inside = local < width
    return (
        hot_query[hit[inside]].astype(np.int64),
        local[inside].astype(np.int64),
        values[hit[inside], offset[inside]],
    )
