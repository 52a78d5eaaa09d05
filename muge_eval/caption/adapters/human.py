"""``human``: the human-agreement baseline. For each image one reference is held out as
the hypothesis and scored against the others. Which one is a deterministic function of
the seed and the image id (sha256), so the figure is reproducible and does not favour the
first reference of every image."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from muge_eval.caption.adapters.base import ReferenceBaseline


class HumanBaseline(ReferenceBaseline):
    def __init__(self, seed: int = 1234):
        self.seed = seed

    def held_out_index(self, image_id: str, count: int) -> int:
        digest = hashlib.sha256(f"{self.seed}\0{image_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % count

    def hold_out(self, image_id: str, references: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        index = self.held_out_index(image_id, len(references))
        rest = tuple(r for i, r in enumerate(references) if i != index)
        return references[index], rest

    def protocol(self) -> dict[str, Any]:
        return {"held_out": "reference number sha256(seed, image_id) mod count", "seed": self.seed}
