"""Run under ``torchrun``: every rank holds the chunks it owns of seeded pools with exact
ties across shard boundaries; rank 0 checks the merged top-k against one process's
``exact_topk`` and writes what it found to the JSON file named by argv[1]."""

from __future__ import annotations

import json
import sys

import numpy as np

from muge_eval.distributed import context, shutdown
from muge_eval.encoding.plan import ChunkPlan
from muge_eval.retrieval.ranking import exact_topk, l2_normalize
from muge_eval.retrieval.sharded import PoolShard, query_sharded_topk, sharded_topk

K = 10


def tied_pool(rows: int, distinct: int, dim: int, seed: int) -> np.ndarray:
    """``rows`` vectors drawn from ``distinct`` ones: every vector has copies elsewhere."""
    rng = np.random.default_rng(seed)
    base = l2_normalize(rng.standard_normal((distinct, dim)))
    return base[rng.integers(0, distinct, size=rows)]


def owned_rows(count: int, chunk: int) -> np.ndarray:
    plan = ChunkPlan.build(count, 1, chunk)
    ctx = context()
    chunks = plan.chunks()
    mine = [np.arange(*chunks[i]) for i in range(len(chunks)) if ctx.owns(i)]
    return np.concatenate(mine) if mine else np.zeros(0, dtype=np.int64)


def main() -> None:
    ctx = context()
    report: dict[str, object] = {}
    cases = {"ties": (70, 9, 4, 8), "small shards": (12, 12, 8, 4), "more ranks than chunks": (11, 5, 3, 8)}
    for name, (rows, distinct, dim, chunk) in cases.items():
        pool = tied_pool(rows, distinct, dim, seed=rows)
        queries = np.concatenate([pool[:5], tied_pool(20, 20, dim, seed=7)])
        mine = owned_rows(rows, chunk)
        shard = PoolShard(pool[mine], mine.astype(np.int64))
        merged = sharded_topk(ctx, queries, shard, K, "numpy")
        # image -> text direction: the queries sharded, the pool whole on every rank.
        by_query = query_sharded_topk(ctx, pool[mine], mine.astype(np.int64), queries, K, "numpy")
        if not ctx.is_main:
            continue
        assert merged is not None and by_query is not None
        single = exact_topk(queries, pool, K, "numpy")
        positions, ranked = by_query
        order = np.argsort(positions)
        single_images = exact_topk(pool, queries, K, "numpy")
        # Ties that cross shards: a query whose top-k holds two equal scores from different ranks.
        owner = {int(r): (r // chunk) % ctx.world_size for r in range(rows)}
        crossing = sum(
            any(
                row_scores[a] == row_scores[b] and owner[int(row_idx[a])] != owner[int(row_idx[b])]
                for a in range(len(row_idx))
                for b in range(a + 1, len(row_idx))
            )
            for row_idx, row_scores in zip(single.indices, single.scores, strict=True)
        )
        report[name] = {
            "same_indices": bool(np.array_equal(merged.indices, single.indices)),
            "same_scores": bool(np.array_equal(merged.scores, single.scores)),
            "same_image_queries": bool(
                np.array_equal(positions[order], np.arange(rows))
                and np.array_equal(ranked.indices[order], single_images.indices)
                and np.array_equal(ranked.scores[order], single_images.scores)
            ),
            "queries_with_ties_across_shards": int(crossing),
            "width": int(merged.indices.shape[1]),
        }
    if ctx.is_main:
        with open(sys.argv[1], "w", encoding="utf-8") as out:
            json.dump({"world_size": ctx.world_size, "cases": report}, out)
    shutdown()


if __name__ == "__main__":
    main()
