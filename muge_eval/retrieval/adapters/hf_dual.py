"""Common base of transformers dual encoders loaded from one directory or hub id: a model
with ``get_image_features`` / ``get_text_features`` and its processor (image processor
and tokenizer). ``hf-chinese-clip`` and ``altclip`` are subclasses that name the classes
and their family's published preprocessing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from muge_eval.data.image_transform import ImageTransform
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.hub import cache_only, not_cached_message
from muge_eval.retrieval.adapters.torch_base import TorchRetrievalAdapter, path_fingerprint, require


def pooled(output: Any) -> Any:
    """transformers >= 5 returns a model output whose pooler_output is the projection."""
    return output if hasattr(output, "shape") else output.pooler_output


def hub_local_path(model_id: str, revision: str | None) -> Path | None:
    """The directory, or the hub cache snapshot, weights were read from (None: not local)."""
    path = Path(model_id).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, revision=revision, local_files_only=True))
    except Exception:  # not in the local hub cache: fall back to the id and revision
        return None


def hub_fingerprint(model_id: str, revision: str | None) -> str:
    """The content hash of a model's files when they are local, else its id and revision."""
    local = hub_local_path(model_id, revision)
    return path_fingerprint(local) if local is not None else f"hf:{model_id}@{revision or 'main'}"


def processor_transform(adapter: TorchRetrievalAdapter, image_processor: Any, resolution: int) -> ImageTransform:
    """The adapter's image transform at ``resolution`` with the processor's mean and std."""
    return ImageTransform(
        resolution=resolution,
        mode=adapter.preprocess,
        mean=tuple(float(v) for v in image_processor.image_mean),  # type: ignore[arg-type]
        std=tuple(float(v) for v in image_processor.image_std),  # type: ignore[arg-type]
        draft=adapter.jpeg_draft,
        decode=adapter.decode,
    )


def load_pretrained(factory: Any, model_id: str, revision: str | None, what: str, **kwargs: Any) -> Any:
    """``factory.from_pretrained`` from a directory or the hub, offline-aware, with a clear error."""
    extra: dict[str, Any] = {"revision": revision} if revision else {}
    offline = cache_only(model_id)
    if offline:
        extra["local_files_only"] = True
    try:
        return factory.from_pretrained(model_id, **extra, **kwargs)
    except (OSError, ValueError) as exc:
        if offline:
            raise UsageError(f"{what}: {not_cached_message(model_id)}") from exc
        raise InputError([Problem(model_id, f"cannot load {what}: {exc}")], "cannot load model") from exc


class HFDualEncoder(TorchRetrievalAdapter):
    """A transformers dual encoder; subclasses set the classes and the published defaults."""

    model_class: ClassVar[str]
    processor_class: ClassVar[str]
    family: ClassVar[str]
    padding: ClassVar[str] = "longest"

    def __init__(
        self,
        model: str,
        revision: str | None,
        context_length: int,
        device: str,
        dtype: str,
        batch_size: int | None,
        preprocess: str,
        jpeg_draft: bool,
        autocast: str | None,
        decode: str,
        text_preprocess: str,
    ):
        super().__init__(device, dtype, batch_size, preprocess, jpeg_draft, autocast, decode, text_preprocess)
        require("transformers", "torch")
        import transformers

        self.model_id = model
        self.revision = revision
        self.context_length = context_length
        processor_class = getattr(transformers, self.processor_class)
        self.processor = load_pretrained(processor_class, model, revision, self.family)
        model_class = getattr(transformers, self.model_class)
        loaded = load_pretrained(model_class, model, revision, self.family, dtype=self.dtype)
        self.model = loaded.to(self.device).eval()
        resolution = int(self.model.config.vision_config.image_size)
        self._transform = processor_transform(self, self.processor.image_processor, resolution)

    def image_transform(self) -> ImageTransform:
        return self._transform

    def _local_path(self) -> Path | None:
        return hub_local_path(self.model_id, self.revision)

    def _identity(self) -> str:
        return f"hf:{self.model_id}@{self.revision or 'main'}"

    def _model_protocol(self) -> dict[str, Any]:
        return {
            "library": "transformers",
            "family": self.family,
            "context_length": self.context_length,
            "text_padding": self.padding,
        }

    def _image_features(self, pixels: Any) -> Any:
        return pooled(self.model.get_image_features(pixel_values=pixels))

    def _text_features(self, texts: list[str]) -> Any:
        tokens = self.processor.tokenizer(
            texts, padding=self.padding, truncation=True, max_length=self.context_length, return_tensors="pt"
        ).to(self.device)
        return pooled(self.model.get_text_features(**tokens))
