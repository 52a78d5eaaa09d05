"""What names a retrieval split's cached embeddings: the data set and split, with the
encoder adding the model, the set's kind ("texts" or "images"), its ids and chunking."""

from __future__ import annotations

from typing import Any

from muge_eval.specs import DatasetInfo

TEXTS = "texts"
IMAGES = "images"
# Distractor images (--pool-extra), cached under their own content.
POOL_EXTRA = "pool_extra"


def embedding_identity(info: DatasetInfo) -> dict[str, Any]:
    """The data half of the embedding-cache key of one split."""
    return {"dataset_fingerprint": info.fingerprint, "split": info.split}
