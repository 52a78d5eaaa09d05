"""What names a classification split's cached embeddings. The encoder adds the model, the
set's kind, its ids and chunking; here: the data (images' bytes, classes, split) and, for
the prompts, the exact prompt texts (ids alone are positions, the same for any templates)."""

from __future__ import annotations

from typing import Any

from muge_eval.classification.prompts import Prompts
from muge_eval.specs import DatasetInfo

PROMPTS = "prompts"
IMAGES = "images"


def embedding_identity(info: DatasetInfo) -> dict[str, Any]:
    """The data half of the embedding-cache key of one split."""
    return {"dataset_fingerprint": info.fingerprint, "split": info.split}


def prompt_identity(prompts: Prompts) -> dict[str, Any]:
    """What else names the prompt set: its texts."""
    return {"prompts_fingerprint": prompts.digest(), "classes": prompts.n_classes, "templates": prompts.n_templates}
