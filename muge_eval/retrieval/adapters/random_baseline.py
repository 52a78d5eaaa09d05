"""``random``: the chance baseline. Each item's vector depends only on (seed, kind, id),
so results do not depend on batch size or order."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.models.base import ImageBatch, RetrievalAdapter, TextBatch


def _item_vector(seed: int, kind: str, key: str, dim: int) -> npt.NDArray[np.float32]:
    digest = hashlib.sha256(f"{kind}\0{key}".encode()).digest()
    rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
    return rng.standard_normal(dim).astype(np.float32)


class RandomRetrieval(RetrievalAdapter):
    """Random unit vectors: the chance level of a retrieval task."""

    def __init__(self, dim: int = 64, seed: int = 1234):
        if dim < 1:
            raise ValueError("dim must be positive")
        self.dim = dim
        self.seed = seed

    def protocol(self) -> dict[str, object]:
        return {"dim": self.dim, "seed": self.seed}

    def _vectors(self, kind: str, keys: list[str]) -> npt.NDArray[np.float32]:
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = _item_vector(self.seed, kind, key, self.dim)
        return out

    def encode_texts(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return self._vectors("text", texts)

    def encode_images(self, images: list[Image.Image]) -> npt.NDArray[np.float32]:
        return self._vectors("image-bytes", [hashlib.sha256(im.tobytes()).hexdigest() for im in images])

    def encode_text_batch(self, batch: TextBatch) -> npt.NDArray[np.float32]:
        return self._vectors("text-id", [str(i) for i in batch.ids])

    def encode_image_batch(self, batch: ImageBatch) -> npt.NDArray[np.float32]:
        # The chance baseline never needs pixels.
        return self._vectors("image-id", [str(i) for i in batch.ids])
