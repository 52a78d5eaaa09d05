"""Generated images on disk, one PNG per (model fingerprint, prompt, seed, settings).

Each image is written atomically as soon as it is generated, so a killed run loses at most
the batch in flight and the next run with the same key skips what is already there (an
image file that no longer decodes, say truncated by a failing disk, is generated again).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from muge_eval.io.atomic import atomic_write_bytes
from muge_eval.io.pixels import image_problem


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class GenerationStore:
    root: Path
    model_key: str
    settings: Mapping[str, Any]

    def key(self, prompt: str, seed: int) -> str:
        document = {"model": self.model_key, "settings": dict(self.settings), "prompt": prompt, "seed": seed}
        return hashlib.sha256(
            json.dumps(document, sort_keys=True, ensure_ascii=False, default=str).encode()
        ).hexdigest()

    def path(self, prompt: str, seed: int) -> Path:
        key = self.key(prompt, seed)
        return self.root / key[:2] / f"{key}.png"

    def has(self, prompt: str, seed: int) -> bool:
        """A stored PNG that decodes to the last pixel; a damaged file counts as absent."""
        try:
            data = self.path(prompt, seed).read_bytes()
        except OSError:
            return False
        return image_problem(data, "PNG") is None

    def put(self, prompt: str, seed: int, image: Image.Image) -> Path:
        path = self.path(prompt, seed)
        atomic_write_bytes(path, png_bytes(image))
        return path
