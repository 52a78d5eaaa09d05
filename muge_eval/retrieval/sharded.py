"""Exact top-k over a pool spread across ranks, with the single-process answer.

Under ``torchrun`` each rank holds a shard of the pool: the embeddings of the chunks it
encoded, with their positions in the whole pool. Every rank finds the exact top-k of every
query in its own shard (``exact_topk``, on its GPU when the model is there), and rank 0
merges the candidate lists by (score descending, pool position ascending), the order
``exact_topk`` gives over the whole pool. The answer is the single-process one: a pair's
float64 score does not depend on which other items share its shard, and an item of the
global top-k is in the top-k of its own shard. Memory per rank is its shard plus
``world_size x k`` candidates per query.

The other direction (image to text) shards the queries instead: each rank ranks the query
images it holds against every text, and rank 0 collects the rankings.

In a single process the shard is the whole pool and the merge has one part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from muge_eval.distributed import DistContext, gather_arrays
from muge_eval.retrieval.ranking import TopK, exact_topk

FloatMatrix = npt.NDArray[np.float32]
Positions = npt.NDArray[np.int64]

# Queries ranked and merged at a time: bounds the gathered candidates (rows x world x k).
QUERY_BLOCK = 1 << 16
# A shard smaller than k fills its candidate list with these.
NO_ITEM = -1


@dataclass(frozen=True)
class PoolShard:
    """This rank's part of the pool: L2-normalised rows and their pool positions (ascending)."""

    embeddings: FloatMatrix
    positions: Positions

    @classmethod
    def whole(cls, embeddings: FloatMatrix) -> PoolShard:
        """The whole pool as one shard (a single process)."""
        return cls(embeddings, np.arange(len(embeddings), dtype=np.int64))


def shard_topk(
    queries: FloatMatrix,
    shard: PoolShard,
    k: int,
    backend: str,
    device: str = "cpu",
    block_elements: int | None = None,
) -> TopK:
    """The top-``k`` of each query within ``shard``, as pool positions; a shard of fewer
    than ``k`` rows pads its lists with ``NO_ITEM`` at score -inf."""
    indices = np.full((len(queries), k), NO_ITEM, dtype=np.int64)
    scores = np.full((len(queries), k), -np.inf, dtype=np.float64)
    if len(shard.positions) and len(queries):
        # Only the public exact_topk API: its own block size unless one is asked for.
        sizing = {} if block_elements is None else {"block_elements": block_elements}
        local = exact_topk(queries, shard.embeddings, k, backend, device=device, **sizing)
        width = local.indices.shape[1]
        indices[:, :width] = shard.positions[local.indices]
        scores[:, :width] = local.scores
    return TopK(indices, scores)


def merge_topk(parts: Sequence[TopK], k: int) -> TopK:
    """The ``k`` best candidates per query among every shard's, by (score descending, pool
    position ascending); padding never comes before a real item."""
    indices = np.concatenate([p.indices for p in parts], axis=1)
    scores = np.concatenate([p.scores for p in parts], axis=1)
    order = np.lexsort((indices, -scores), axis=1)[:, :k]
    best = TopK(np.take_along_axis(indices, order, 1), np.take_along_axis(scores, order, 1))
    real = int((best.indices[0] != NO_ITEM).sum()) if len(best.indices) else k
    return TopK(np.ascontiguousarray(best.indices[:, :real]), np.ascontiguousarray(best.scores[:, :real]))


def sharded_topk(
    ctx: DistContext,
    queries: FloatMatrix,
    shard: PoolShard,
    k: int,
    backend: str,
    device: str = "cpu",
    block_elements: int | None = None,
) -> TopK | None:
    """The exact top-``k`` pool positions of every query over the shards of all ranks, on
    rank 0 (None on the others). Every rank passes the same queries."""
    merged: list[TopK] = []
    for start in range(0, max(len(queries), 1), QUERY_BLOCK):
        block = queries[start : start + QUERY_BLOCK]
        local = shard_topk(block, shard, k, backend, device, block_elements)
        index_parts = gather_arrays(ctx, local.indices)
        score_parts = gather_arrays(ctx, local.scores)
        if index_parts is None or score_parts is None:
            continue
        merged.append(merge_topk([TopK(i, s) for i, s in zip(index_parts, score_parts, strict=True)], k))
    if not ctx.is_main:
        return None
    return TopK(np.concatenate([m.indices for m in merged]), np.concatenate([m.scores for m in merged]))


def query_sharded_topk(
    ctx: DistContext,
    queries: FloatMatrix,
    query_positions: Positions,
    pool: FloatMatrix,
    k: int,
    backend: str,
    device: str = "cpu",
) -> tuple[Positions, TopK] | None:
    """Each rank ranks its own ``queries`` (named by ``query_positions``) against the whole
    ``pool``; rank 0 gets every query's position and top-``k`` (None on the others)."""
    width = min(k, len(pool))
    if len(queries):
        local = exact_topk(queries, pool, k, backend, device=device)
    else:
        local = TopK(np.zeros((0, width), dtype=np.int64), np.zeros((0, width), dtype=np.float64))
    positions = gather_arrays(ctx, np.asarray(query_positions, dtype=np.int64))
    indices = gather_arrays(ctx, local.indices)
    scores = gather_arrays(ctx, local.scores)
    if positions is None or indices is None or scores is None:
        return None
    return np.concatenate(positions), TopK(np.concatenate(indices), np.concatenate(scores))
