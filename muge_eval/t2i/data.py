"""The real images of a T2I split (``T2I_{split}.img.tsv``), read for FID statistics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from muge_eval.io.image_tsv import iter_image_tsv, open_image


def iter_real_images(path: Path, ids: set[str] | None = None) -> Iterator[tuple[str, Image.Image]]:
    """Decoded real images, in file order (only ``ids`` when given)."""
    for item in iter_image_tsv(path, str):
        key = str(item.image_id)
        if ids is None or key in ids:
            yield key, open_image(item.data, f"{path}:{item.line}")
