"""The generator protocol and the per-item seed rule."""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Sequence

from PIL import Image

from muge_eval.models.base import GENERATION, ModelAdapter


def item_seed(run_seed: int, image_id: str) -> int:
    """The seed of one item: depends only on (run seed, img_id), not on batch or order."""
    digest = hashlib.sha256(f"{run_seed}\0{image_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class GeneratorAdapter(ModelAdapter):
    """Draws one image per prompt; ``seeds[i]`` seeds ``prompts[i]``."""

    capabilities = frozenset({GENERATION})
    required_methods = ("generate",)
    optional_hooks = (*ModelAdapter.optional_hooks, "generate_items")

    @abstractmethod
    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """One image per prompt."""

    def generate_items(self, ids: Sequence[str], prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """Batch hook: adapters that look images up by id (``predictions``) override it."""
        del ids
        return self.generate(prompts, seeds)
