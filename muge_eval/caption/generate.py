"""Captioning a split with a model: batches, the resumable caption cache, and
data-parallel generation under ``torchrun``.

The images still to caption are cut into batches of the run's batch size, in gold order,
exactly as one process would; batch k belongs to rank ``k % world_size``. Each rank
appends its captions to its own shard of the caption cache; once every rank is done, rank
0 merges the shards into the cache and every rank reads the complete set. The batches, and
so the captions, are those of a single-process run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import muge_eval.distributed as distributed
from muge_eval.caption.cache import CaptionCache
from muge_eval.errors import UsageError
from muge_eval.progress import Progress


def check_captions(output: Any, expected: int, model: object) -> list[str]:
    if not isinstance(output, (list, tuple)) or len(output) != expected:
        size = len(output) if isinstance(output, (list, tuple)) else type(output).__name__
        raise UsageError(f"{type(model).__name__}.caption returned {size} captions for {expected} images")
    bad = [type(c).__name__ for c in output if not isinstance(c, str)]
    if bad:
        raise UsageError(f"{type(model).__name__}.caption returned non-string captions ({bad[0]})")
    return list(output)


def generate_captions(
    model: Any,
    ids: Sequence[str],
    load: Callable[[Sequence[str]], list[Any]],
    cache: CaptionCache | None,
    batch_size: int,
    progress: Progress,
    notes: list[str],
) -> dict[str, str]:
    """A caption for every id, from the cache or the model (this rank's batches)."""
    ctx = distributed.context()
    if ctx.active and cache is None:
        raise UsageError(
            "captioning with several processes (torchrun) goes through the caption cache: use a model with a "
            "cache identity (a local checkpoint, or a hub id with revision=...) and keep caption_cache on"
        )
    if ctx.active and not ctx.is_main:
        distributed.all_max(ctx, 0)  # rank 0 has opened (or created) the cache file
    done: dict[str, str] = cache.load() if cache is not None else {}
    if ctx.active and ctx.is_main:
        distributed.all_max(ctx, 0)
    todo = [i for i in ids if i not in done]
    if cache is not None and len(todo) < len(ids) and ctx.is_main:
        notes.append(f"{len(ids) - len(todo)} captions reused from the cache {cache.path}")
    batches = [todo[start : start + batch_size] for start in range(0, len(todo), batch_size)]
    mine = [batch for number, batch in enumerate(batches) if ctx.owns(number)]
    if ctx.active:
        assert cache is not None
        cache.use_shard(ctx.rank)
    bar = (progress if ctx.is_main else Progress(quiet=True)).bar(sum(map(len, mine)), "caption", "img")
    for batch in mine:
        new = dict(zip(batch, check_captions(model.caption(load(batch)), len(batch), model), strict=True))
        if cache is not None:
            cache.append(new)
        done.update(new)
        bar.update(len(batch))
    bar.close()
    if ctx.active:
        assert cache is not None
        distributed.all_max(ctx, 0)  # every rank has written its shard
        if ctx.is_main:
            cache.merge_shards()
        distributed.all_max(ctx, 0)  # the merged cache is complete
        done = cache.load()
    return {i: done[i] for i in ids}
