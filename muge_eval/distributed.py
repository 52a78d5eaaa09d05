"""Several processes (``torchrun``, ``accelerate launch``): who am I, and gathering rows.

The launcher sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``. Work is split into chunks,
chunk ``i`` belonging to rank ``i % world_size``; every rank encodes its chunks and rank 0
gathers them in chunk order, so its matrices are those of a single-process run. The
process group is gloo on the CPU and NCCL when CUDA is available (override with
``MUGE_EVAL_DIST_BACKEND``). A rank waits at most ``MUGE_EVAL_DIST_TIMEOUT`` seconds (default
1800) for the others at a collective; ``muge_eval.rank_guard`` turns a timeout, or any
rank's failure, into every rank stopping.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.errors import UsageError

BACKEND_ENV = "MUGE_EVAL_DIST_BACKEND"
TIMEOUT_ENV = "MUGE_EVAL_DIST_TIMEOUT"
# torch's own default for gloo: ranks arrive at a collective within a chunk's work of each
# other, so a longer wait means a rank hung or died.
DEFAULT_TIMEOUT_S = 1800.0


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


def collective_timeout() -> float:
    """Seconds a rank waits for the others at a collective: ``MUGE_EVAL_DIST_TIMEOUT``."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(f"{TIMEOUT_ENV}={raw!r}: expected a positive number of seconds")
    return seconds


def ensure_group(ctx: DistContext) -> Any:
    """``torch.distributed``, its default process group joined (with the collective timeout)."""
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = os.environ.get(BACKEND_ENV) or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=collective_timeout()))
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

    dist = ensure_group(ctx)
    tensor = torch.tensor([value], dtype=torch.int64, device=_device(dist))
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


def barrier(ctx: DistContext) -> None:
    """Wait until every rank gets here (nothing to do in a single process)."""
    if not ctx.active:
        return
    dist = ensure_group(ctx)
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[ctx.local_rank])
    else:
        dist.barrier()


def gather_arrays(ctx: DistContext, local: npt.NDArray[Any], everywhere: bool = False) -> list[npt.NDArray[Any]] | None:
    """Every rank's ``local`` in rank order: on rank 0, or on every rank with ``everywhere``
    (None on the others). Ranks may hold different numbers of rows; the trailing shape and
    the dtype must be the same everywhere."""
    if not ctx.active:
        return [local]
    import torch

    dist = ensure_group(ctx)
    device = _device(dist)
    count = torch.tensor([len(local)], dtype=torch.int64, device=device)
    counts = [torch.empty_like(count) for _ in range(ctx.world_size)]
    dist.all_gather(counts, count)
    rows = [int(c.item()) for c in counts]
    # gloo has no bool collectives: booleans travel as bytes.
    sent = local.view(np.uint8) if local.dtype == np.bool_ else local
    padded = np.zeros((max(max(rows), 1), *local.shape[1:]), dtype=sent.dtype)
    padded[: len(sent)] = sent
    tensor = torch.from_numpy(padded).to(device)
    parts = [torch.empty_like(tensor) for _ in range(ctx.world_size)]
    dist.all_gather(parts, tensor)
    if not (everywhere or ctx.is_main):
        return None
    gathered = [parts[r][: rows[r]].cpu().numpy() for r in range(ctx.world_size)]
    return [g.view(np.bool_) if local.dtype == np.bool_ else g for g in gathered]
