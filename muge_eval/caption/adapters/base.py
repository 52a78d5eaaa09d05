"""The captioning adapter protocol: ``caption(list[PIL.Image]) -> list[str]``.

The toolkit batches the images, caches the outputs and scores them. An adapter reports
its generation settings (max tokens, beams, prompt...), which are recorded in the results
and are part of the cache key, and a ``cache_identity`` naming the model (the checkpoint
fingerprint, or the served model's address and name); without one nothing is cached.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from PIL import Image

from muge_eval.models.base import CAPTION, ModelAdapter


class CaptionAdapter(ModelAdapter):
    capabilities: ClassVar[frozenset[str]] = frozenset({CAPTION})
    required_methods = ("caption",)
    optional_hooks = (*ModelAdapter.optional_hooks, "generation_settings", "cache_identity")

    @abstractmethod
    def caption(self, images: list[Image.Image]) -> list[str]:
        """One caption per image, in order."""

    def generation_settings(self) -> dict[str, Any]:
        """Settings that change the captions; recorded and part of the cache key."""
        return {}

    def cache_identity(self) -> str | None:
        """What names the model for the output cache; None disables caching."""
        return self.fingerprint()

    def protocol(self) -> dict[str, Any]:
        return {"generation": self.generation_settings()}


class ReferenceBaseline(ModelAdapter):
    """An adapter that captions from the references themselves (the human baseline):
    the task hands it each image's references and scores its pick against the rest."""

    capabilities: ClassVar[frozenset[str]] = frozenset({CAPTION})
    required_methods = ("hold_out",)

    @abstractmethod
    def hold_out(self, image_id: str, references: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """(hypothesis, remaining references) for one image with at least two references."""
