"""Drawing the images a run still needs into the resumable store, shared across ranks.

The images still missing are listed (by every rank, before any rank writes: a barrier
follows the listing) and cut into batches exactly as a single process cuts them; batch
``b`` goes to rank ``b % world_size``. Each image's seed depends only on (run seed,
img_id), and each batch holds the same prompts as in a single process, so the images are
the single process's. A second barrier makes every image visible before rank 0 scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image

from muge_eval.distributed import barrier, context
from muge_eval.errors import UsageError
from muge_eval.progress import Progress
from muge_eval.t2i.adapters.base import GeneratorAdapter
from muge_eval.t2i.cache import GenerationStore


@dataclass(frozen=True)
class GenerationPlan:
    """The missing images, in batches, and which of them this rank draws."""

    batches: tuple[tuple[str, ...], ...]
    rank: int
    world_size: int

    @property
    def mine(self) -> tuple[tuple[str, ...], ...]:
        return tuple(b for i, b in enumerate(self.batches) if i % self.world_size == self.rank)

    @property
    def missing(self) -> int:
        return sum(len(b) for b in self.batches)


def plan_generation(
    store: GenerationStore, ids: Sequence[str], texts: Mapping[str, str], seeds: Mapping[str, int], batch_size: int
) -> GenerationPlan:
    ctx = context()
    todo = [i for i in ids if not store.has(texts[i], seeds[i])]
    barrier(ctx)  # every rank has listed the same missing images before any is written
    batches = tuple(tuple(todo[s : s + batch_size]) for s in range(0, len(todo), batch_size))
    return GenerationPlan(batches, ctx.rank, ctx.world_size)


def generate_missing(
    model: GeneratorAdapter,
    store: GenerationStore,
    plan: GenerationPlan,
    texts: Mapping[str, str],
    seeds: Mapping[str, int],
    progress: Progress,
) -> None:
    """Draw this rank's batches and store each image as soon as its batch is done; then
    wait for the other ranks."""
    mine = plan.mine
    quiet = progress if context().is_main else Progress(quiet=True)
    bar = quiet.bar(sum(len(b) for b in mine), "generate" if plan.world_size == 1 else "generate (rank 0)", "image")
    for chunk in mine:
        prompts = [texts[i] for i in chunk]
        images = model.generate_items(list(chunk), prompts, [seeds[i] for i in chunk])
        if len(images) != len(chunk) or not all(isinstance(im, Image.Image) for im in images):
            raise UsageError(f"generator returned {len(images)} objects for {len(chunk)} prompts (want PIL images)")
        for image_id, image in zip(chunk, images, strict=True):
            store.put(texts[image_id], seeds[image_id], image)
        bar.update(len(chunk))
    bar.close()
    barrier(context())  # every image is on disk before rank 0 reads them
