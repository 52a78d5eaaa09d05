"""Light retrieval adapters for the multi-process tests (no transformers, quick to start).

``PixelHash``: an image's vector depends only on its decoded pixels, so identical images
tie exactly wherever they sit in the pool; it decodes through the workers' pixel path, so
a corrupt image is a bad row (``--skip-bad-images``).

``Faulty``: the ``random`` baseline (cacheable) that fails on chosen ranks after some image
batches: raises a usage error or a bug, kills itself, or hangs.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.data.image_transform import ImageTransform
from muge_eval.errors import UsageError
from muge_eval.retrieval.adapters.random_baseline import RandomRetrieval, _item_vector


class PixelHash(RandomRetrieval):
    cacheable = True

    def fingerprint(self) -> str:
        return "pixel-hash-test-adapter"

    def image_transform(self) -> ImageTransform:
        return ImageTransform(8)

    def encode_pixels(self, pixels: Any) -> npt.NDArray[np.float32]:
        array = np.asarray(pixels, dtype=np.uint8)
        keys = [hashlib.sha256(row.tobytes()).hexdigest() for row in array]
        return np.stack([_item_vector(self.seed, "pixels", key, self.dim) for key in keys])


class Faulty(RandomRetrieval):
    cacheable = True

    def __init__(self, fail_rank: str = "", mode: str = "usage", after: int = 0, dim: int = 8, seed: int = 1234):
        super().__init__(dim=dim, seed=seed)
        self.fail_rank = fail_rank
        self.mode = mode
        self.after = after
        self.batches = 0

    def fingerprint(self) -> str:
        return "faulty-test-adapter"

    def encode_image_batch(self, batch: Any) -> npt.NDArray[np.float32]:
        rank = os.environ.get("RANK", "0")
        self.batches += 1
        if self.batches > self.after and self.fail_rank in ("all", rank):
            if self.mode == "usage":
                raise UsageError(f"injected failure on rank {rank}")
            if self.mode == "bug":
                raise ZeroDivisionError(f"injected bug on rank {rank}")
            if self.mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.mode == "hang":
                time.sleep(600)
            if self.mode == "slow":  # busy, not at a collective: only the watcher can stop it
                time.sleep(60)
        return super().encode_image_batch(batch)
