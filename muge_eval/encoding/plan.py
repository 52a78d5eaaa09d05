"""How a set of rows is cut into batches and chunks (the unit of caching and sharding)."""

from __future__ import annotations

from dataclasses import dataclass

from muge_eval.distributed import DistContext


@dataclass(frozen=True)
class ChunkPlan:
    """``count`` rows in chunks of ``chunk_rows`` (a multiple of ``batch_size``)."""

    count: int
    batch_size: int
    chunk_rows: int

    @classmethod
    def build(cls, count: int, batch_size: int, chunk_size: int) -> ChunkPlan:
        batches = max(1, -(-chunk_size // batch_size))
        return cls(count, batch_size, batches * batch_size)

    def chunks(self) -> list[tuple[int, int]]:
        return [(s, min(self.count, s + self.chunk_rows)) for s in range(0, self.count, self.chunk_rows)]

    def batches(self, start: int, stop: int) -> list[tuple[int, int]]:
        return [(s, min(stop, s + self.batch_size)) for s in range(start, stop, self.batch_size)]

    def rows_of_rank(self, ctx: DistContext, rank: int) -> int:
        return sum(b - a for i, (a, b) in enumerate(self.chunks()) if i % ctx.world_size == rank)
