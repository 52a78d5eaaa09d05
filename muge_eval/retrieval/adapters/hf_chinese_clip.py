"""``hf-chinese-clip``: transformers' ``ChineseCLIPModel`` from a local directory or a hub id
(``OFA-Sys/chinese-clip-vit-base-patch16`` and its siblings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muge_eval.data.image_transform import SQUASH, ImageTransform
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.hub import cache_only, not_cached_message
from muge_eval.models.torch_utils import require
from muge_eval.retrieval.adapters.torch_base import TorchRetrievalAdapter

CONTEXT_LENGTH = 52


def _features(output: Any) -> Any:
    """transformers >= 5 returns a model output whose pooler_output is the projection."""
    return output if hasattr(output, "shape") else output.pooler_output


class HFChineseCLIP(TorchRetrievalAdapter):
    """Chinese-CLIP through transformers; texts truncated to 52 tokens as published."""

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int | None = None,
        preprocess: str = SQUASH,
        jpeg_draft: bool = True,
        autocast: str | None = None,
        decode: str = "cpu",
        context_length: int = CONTEXT_LENGTH,
    ):
        super().__init__(device, dtype, batch_size, preprocess, jpeg_draft, autocast, decode)
        require("transformers", "torch")
        from transformers import ChineseCLIPModel, ChineseCLIPProcessor

        self.model_id = model
        self.revision = revision
        self.context_length = context_length
        extra: dict[str, Any] = {"revision": revision} if revision else {}
        offline = cache_only(model)
        if offline:
            extra["local_files_only"] = True
        processor_class: Any = ChineseCLIPProcessor
        model_class: Any = ChineseCLIPModel
        try:
            self.processor = processor_class.from_pretrained(model, **extra)
            self.model = model_class.from_pretrained(model, dtype=self.dtype, **extra)
        except (OSError, ValueError) as exc:
            if offline:
                raise UsageError(f"hf-chinese-clip: {not_cached_message(model)}") from exc
            raise InputError([Problem(model, f"cannot load a Chinese-CLIP model: {exc}")], "cannot load model") from exc
        self.model.to(self.device).eval()
        image_processor = self.processor.image_processor
        resolution = int(self.model.config.vision_config.image_size)
        self._transform = ImageTransform(
            resolution=resolution,
            mode=self.preprocess,
            mean=tuple(float(v) for v in image_processor.image_mean),  # type: ignore[arg-type]
            std=tuple(float(v) for v in image_processor.image_std),  # type: ignore[arg-type]
            draft=self.jpeg_draft,
            decode=self.decode,
        )

    def image_transform(self) -> ImageTransform:
        return self._transform

    def _local_path(self) -> Path | None:
        """The directory, or the hub cache snapshot the weights were read from."""
        path = Path(self.model_id).expanduser()
        if path.is_dir():
            return path
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(self.model_id, revision=self.revision, local_files_only=True))
        except Exception:  # not in the local hub cache: fall back to the id and revision
            return None

    def _identity(self) -> str:
        return f"hf:{self.model_id}@{self.revision or 'main'}"

    def _model_protocol(self) -> dict[str, Any]:
        return {"library": "transformers", "context_length": self.context_length, "text_padding": "longest"}

    def _image_features(self, pixels: Any) -> Any:
        return _features(self.model.get_image_features(pixel_values=pixels))

    def _text_features(self, texts: list[str]) -> Any:
        tokens = self.processor.tokenizer(
            texts, padding="longest", truncation=True, max_length=self.context_length, return_tensors="pt"
        ).to(self.device)
        return _features(self.model.get_text_features(**tokens))
