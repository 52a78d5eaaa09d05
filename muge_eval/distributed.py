"""Several processes (``torchrun``, ``accelerate launch``): who am I, and gathering rows.

The launcher sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``. Work is split into chunks,
chunk ``i`` belonging to rank ``i % world_size``; every rank encodes its chunks and rank 0
gathers them in chunk order, so its matrices are those of a single-process run. The
process group is gloo on the CPU and NCCL when CUDA is available (override with
``MUGE_EVAL_DIST_BACKEND``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

BACKEND_ENV = "MUGE_EVAL_DIST_BACKEND"


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def owns(self, chunk: int) -> bool:
        return chunk % self.world_size == self.rank


def context() -> DistContext:
    """The launcher's view of this process; a plain run is rank 0 of 1."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistContext()
    return DistContext(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def _ensure_group(ctx: DistContext) -> Any:
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = os.environ.get(BACKEND_ENV) or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group(backend=backend)
    return dist


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if not context().active:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def _device(dist: Any) -> Any:
    import torch

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_max(ctx: DistContext, value: int) -> int:
    if not ctx.active:
        return value
    import torch

    dist = _ensure_group(ctx)
    tensor = torch.tensor([value], dtype=torch.int64, device=_device(dist))
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


def barrier(ctx: DistContext) -> None:
    """Wait until every rank gets here (nothing to do in a single process)."""
    if not ctx.active:
        return
    dist = _ensure_group(ctx)
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[ctx.local_rank])
    else:
        dist.barrier()


def gather_rows(
    ctx: DistContext, local: npt.NDArray[np.float32], rows_per_rank: Sequence[int]
) -> list[npt.NDArray[np.float32]] | None:
    """Every rank's ``local`` (``rows_per_rank[r]`` rows, same width) on rank 0, else None."""
    if not ctx.active:
        return [local]
    import torch

    dist = _ensure_group(ctx)
    width = local.shape[1]
    longest = max(max(rows_per_rank), 1)
    padded = np.zeros((longest, width), dtype=np.float32)
    padded[: len(local)] = local
    device = _device(dist)
    parts = [torch.empty((longest, width), dtype=torch.float32, device=device) for _ in range(ctx.world_size)]
    dist.all_gather(parts, torch.from_numpy(padded).to(device))
    if not ctx.is_main:
        return None
    return [parts[r][: rows_per_rank[r]].cpu().numpy() for r in range(ctx.world_size)]
