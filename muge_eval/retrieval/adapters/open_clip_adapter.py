"""``open-clip``: open_clip models that handle Chinese (multilingual ones, such as
``xlm-roberta-base-ViT-B-32`` with ``laion5b_s13b_b90k``), by model name and pretrained tag
or checkpoint path. ``model_config=`` registers a local model config JSON first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muge_eval.data.image_transform import PROCESSOR, ImageTransform
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.models.torch_utils import require
from muge_eval.retrieval.adapters.torch_base import TorchRetrievalAdapter

# open_clip's names for whole-model casts ("fp16" there means OpenAI-style mixed weights).
OPEN_CLIP_PRECISION = {"float32": "fp32", "float16": "pure_fp16", "bfloat16": "pure_bf16"}


class OpenCLIP(TorchRetrievalAdapter):
    """An open_clip model. Its own preprocessing is resize + centre crop, the default here."""

    def __init__(
        self,
        model: str,
        pretrained: str | None = None,
        model_config: Path | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int | None = None,
        preprocess: str = PROCESSOR,
        jpeg_draft: bool = True,
        autocast: str | None = None,
        decode: str = "cpu",
    ):
        super().__init__(device, dtype, batch_size, preprocess, jpeg_draft, autocast, decode)
        require("open_clip", "open-clip")
        import open_clip

        if model_config is not None:
            if not model_config.is_file():
                raise InputError([Problem(str(model_config), "model config not found")], "missing file")
            open_clip.add_model_config(model_config)
        if model not in open_clip.list_models():
            raise UsageError(f"open-clip: unknown model {model!r} (pass model_config= for a local config)")
        self.model_name = model
        self.pretrained = pretrained
        self._path = Path(pretrained).expanduser() if pretrained and Path(pretrained).expanduser().is_file() else None
        try:
            # open_clip loads a checkpoint file with weights_only=True.
            created = open_clip.create_model(
                model,
                pretrained=pretrained,
                device=self.device,
                precision=OPEN_CLIP_PRECISION[self.dtype_name],
                require_pretrained=pretrained is not None,
            )
        except (RuntimeError, OSError, ValueError) as exc:
            raise InputError([Problem(pretrained or model, f"cannot load open_clip model: {exc}")]) from exc
        self.model = created.eval()
        self.tokenizer = open_clip.get_tokenizer(model)
        visual = self.model.visual
        size = visual.image_size
        resolution = int(size[0] if isinstance(size, (tuple, list)) else size)
        mean = tuple(float(v) for v in getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN)
        std = tuple(float(v) for v in getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD)
        self._transform = ImageTransform(resolution, self.preprocess, mean, std, self.jpeg_draft, self.decode)  # type: ignore[arg-type]

    def image_transform(self) -> ImageTransform:
        return self._transform

    def _local_path(self) -> Path | None:
        return self._path

    def _identity(self) -> str:
        return f"open_clip:{self.model_name}:{self.pretrained}"

    def _model_protocol(self) -> dict[str, Any]:
        return {"library": "open_clip", "architecture": self.model_name}

    def _image_features(self, pixels: Any) -> Any:
        return self.model.encode_image(pixels)

    def _text_features(self, texts: list[str]) -> Any:
        return self.model.encode_text(self.tokenizer(texts).to(self.device))
