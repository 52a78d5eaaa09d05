"""The top-k classes of each image: inner products of L2-normalised image embeddings with
the class embeddings, ranked by score descending, then class index ascending on ties."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from muge_eval.classification.prompts import l2_normalize

TIE_RULE = "score descending, then class index ascending"
SIMILARITY = (
    "inner product of the L2-normalised image embedding with each class embedding, in float64"
    " (Chinese-CLIP ranks the same logits; its softmax does not change the order)"
)
# Images scored at once: bounds the (rows x classes) float64 score matrix.
CHUNK_ROWS = 4096

IndexMatrix = npt.NDArray[np.int64]


def topk_classes(
    image_embeddings: npt.NDArray[np.floating], classifier: npt.NDArray[np.floating], k: int
) -> IndexMatrix:
    """(n, k) class indices, best first. A stable sort of the negated scores keeps tied
    classes in index order, so the ranking is exact and independent of chunking."""
    classes = np.asarray(classifier, dtype=np.float64)
    k = min(k, len(classes))
    out = np.empty((len(image_embeddings), k), dtype=np.int64)
    for start in range(0, len(image_embeddings), CHUNK_ROWS):
        images = l2_normalize(image_embeddings[start : start + CHUNK_ROWS])
        scores = images @ classes.T
        out[start : start + len(images)] = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return out
