"""The real images of a T2I split (``T2I_{split}.img.tsv``): decoded in file order for the
feature networks, or as a table of rows for the judge's encoder.

For the encoder, real images get the ids ``real/<img_id>``: a real image and the image
generated for its description are different images, and an adapter that looks embeddings
up by id (``random``, ``features``) must not give them the same vector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from muge_eval.encoding.images import TableImageRows
from muge_eval.io.image_tsv import iter_image_tsv, open_image
from muge_eval.t2i.gold import T2IGold

REAL_ID_PREFIX = "real/"


def iter_real_images(path: Path, ids: set[str] | None = None) -> Iterator[tuple[str, Image.Image]]:
    """Decoded real images, in file order (only ``ids`` when given)."""
    for item in iter_image_tsv(path, str):
        key = str(item.image_id)
        if ids is None or key in ids:
            yield key, open_image(item.data, f"{path}:{item.line}")


def real_image_rows(gold: T2IGold, cache_root: Path | None) -> TableImageRows:
    """The split's real images as a table (converted once into the datasets cache)."""
    from muge_eval.data.image_table import image_table_from_tsv

    assert gold.real_images is not None and gold.real_sha256 is not None
    table = image_table_from_tsv(gold.real_images, "str", gold.real_sha256, cache_root)
    ids = [f"{REAL_ID_PREFIX}{i}" for i in table["image_id"]]
    return TableImageRows(table, ids, str(gold.real_images))
