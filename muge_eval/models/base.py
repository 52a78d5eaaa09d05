"""Adapter protocols and the common base class.

An adapter declares what it can do in ``capabilities`` (``retrieval``, ``caption``,
``generation``); the toolkit batches inputs, calls it, and does everything else (L2
normalisation, ranking, scoring). Adapters are constructed from ``--model-args k=v``
strings, converted to the types of the constructor's annotations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from PIL import Image

RETRIEVAL = "retrieval"
CAPTION = "caption"
GENERATION = "generation"


class ModelAdapter(ABC):  # noqa: B024 - a marker base with shared behaviour, no abstract hook
    """Base of all adapters."""

    capabilities: ClassVar[frozenset[str]] = frozenset()

    def fingerprint(self) -> str | None:
        """A content hash of the checkpoint, when there is one (recorded in results)."""
        return None

    def protocol(self) -> dict[str, Any]:
        """Settings that change the numbers (preprocessing, generation options)."""
        return {}


@dataclass(frozen=True)
class TextBatch:
    ids: Sequence[int | str]
    texts: Sequence[str]


@dataclass(frozen=True)
class ImageBatch:
    """Images of one batch; pixels are decoded only if an adapter asks for them."""

    ids: Sequence[int | str]
    load: Callable[[], list[Image.Image]]

    def images(self) -> list[Image.Image]:
        return self.load()


class RetrievalAdapter(ModelAdapter):
    """Embeds texts and images into one space; the toolkit normalises and ranks."""

    capabilities = frozenset({RETRIEVAL})

    @abstractmethod
    def encode_texts(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """(n, d) float32 embeddings of ``texts``."""

    @abstractmethod
    def encode_images(self, images: list[Image.Image]) -> npt.NDArray[np.float32]:
        """(n, d) float32 embeddings of ``images``."""

    # Batch hooks: adapters that need ids (precomputed features) override these.
    def encode_text_batch(self, batch: TextBatch) -> npt.NDArray[np.float32]:
        return self.encode_texts(list(batch.texts))

    def encode_image_batch(self, batch: ImageBatch) -> npt.NDArray[np.float32]:
        return self.encode_images(batch.images())


def declared_capabilities(adapter: object) -> frozenset[str]:
    """Capabilities declared by an adapter, or inferred from its methods for duck-typed
    classes that do not subclass ModelAdapter."""
    declared = getattr(adapter, "capabilities", None)
    if declared:
        return frozenset(declared)
    inferred = set()
    if callable(getattr(adapter, "encode_texts", None)) and callable(getattr(adapter, "encode_images", None)):
        inferred.add(RETRIEVAL)
    if callable(getattr(adapter, "caption", None)):
        inferred.add(CAPTION)
    if callable(getattr(adapter, "generate", None)):
        inferred.add(GENERATION)
    return frozenset(inferred)
