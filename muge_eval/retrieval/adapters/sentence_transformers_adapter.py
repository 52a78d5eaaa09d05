"""``sentence-transformers``: image-text models of the sentence-transformers library.

One model that embeds both (``clip-ViT-B-32``, jina-clip style models), or a text model
distilled into an image model's space with the image model beside it (multilingual CLIP:
``model=sentence-transformers/clip-ViT-B-32-multilingual-v1``,
``image_model=sentence-transformers/clip-ViT-B-32``). Images reach the model as decoded
PIL images and get the model's own preprocessing (its processor), as the library's
``encode`` gives them; ``text_prompt`` / ``image_prompt`` are passed as ``prompt`` (models
trained with task prompts). Models whose code lives on the hub (jina-clip) need
``trust_remote_code=true``, which runs that code: it is off unless asked for, and recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.fingerprint import text_fingerprint
from muge_eval.models.base import RetrievalAdapter
from muge_eval.retrieval.adapters.hf_dual import hub_fingerprint
from muge_eval.retrieval.adapters.torch_base import require, resolve_device


def _load(model_id: str, device: str, trust_remote_code: bool) -> Any:
    from sentence_transformers import SentenceTransformer

    from muge_eval.errors import InputError, Problem, UsageError
    from muge_eval.hub import cache_only, not_cached_message

    offline = cache_only(model_id)
    try:
        return SentenceTransformer(
            model_id, device=device, trust_remote_code=trust_remote_code, local_files_only=offline
        )
    except (OSError, ValueError) as exc:
        if offline:
            raise UsageError(f"sentence-transformers: {not_cached_message(model_id)}") from exc
        raise InputError([Problem(model_id, f"cannot load a sentence-transformers model: {exc}")]) from exc


class SentenceTransformersAdapter(RetrievalAdapter):
    """Texts and images embedded by sentence-transformers models' ``encode``."""

    cacheable = True

    def __init__(
        self,
        model: str,
        image_model: str | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        text_prompt: str | None = None,
        image_prompt: str | None = None,
        trust_remote_code: bool = False,
    ):
        require("sentence_transformers", "sentence-transformers")
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.model_id, self.image_model_id = model, image_model
        self.text_prompt, self.image_prompt = text_prompt, image_prompt
        self.trust_remote_code = trust_remote_code
        self.text_model = _load(model, self.device, trust_remote_code)
        self.image_model = _load(image_model, self.device, trust_remote_code) if image_model else self.text_model
        self._fingerprint: str | None = None

    @property
    def topk_device(self) -> str:
        return self.device

    def fingerprint(self) -> str | None:
        if self._fingerprint is None:
            models = [m for m in (self.model_id, self.image_model_id) if m]
            self._fingerprint = text_fingerprint(*(hub_fingerprint(m, None) for m in models))
        return self._fingerprint

    def protocol(self) -> dict[str, Any]:
        import sentence_transformers

        return {
            "library": f"sentence-transformers {sentence_transformers.__version__}",
            "family": "sentence-transformers",
            "model": self.model_id,
            "image_model": self.image_model_id or self.model_id,
            "preprocess": "the model's own (sentence-transformers encode)",
            "text_prompt": self.text_prompt,
            "image_prompt": self.image_prompt,
            "trust_remote_code": self.trust_remote_code,
            "dtype": "float32",
            "normalisation": "L2",
        }

    def _encode(self, model: Any, items: list[Any], prompt: str | None) -> npt.NDArray[np.float32]:
        extra = {"prompt": prompt} if prompt else {}
        vectors = model.encode(
            items, batch_size=max(1, len(items)), convert_to_numpy=True, show_progress_bar=False, **extra
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_texts(self, texts: list[str]) -> npt.NDArray[np.float32]:
        return self._encode(self.text_model, texts, self.text_prompt)

    def encode_images(self, images: list[Image.Image]) -> npt.NDArray[np.float32]:
        return self._encode(self.image_model, [im.convert("RGB") for im in images], self.image_prompt)
