"""``hf-captioner``: a transformers image-to-text model from a local directory or a hub id.

Vision encoder-decoder checkpoints (ViT + GPT-2/BERT style, e.g. OFA-style Chinese
captioners exported that way) and the ``AutoModelForImageTextToText`` /
``AutoModelForVision2Seq`` family (BLIP, GIT, Qwen-VL style) are loaded through the auto
classes; an optional text ``prompt`` is passed to models that take one. Generation is
greedy or beam search (``num_beams``), never sampled, so outputs are deterministic.
torch and transformers are imported only when the adapter is built.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PIL import Image

from muge_eval.caption.adapters.base import CaptionAdapter
from muge_eval.errors import UsageError
from muge_eval.fingerprint import directory_fingerprint
from muge_eval.hub import cache_only, not_cached_message

DTYPES = ("auto", "float32", "float16", "bfloat16")
CHECKPOINT_PATTERNS = ("*.json", "*.safetensors", "*.bin", "*.txt", "*.model", "*.tiktoken")
# A BERT-style Chinese tokenizer decodes "红 色 连 衣 裙": drop spaces next to CJK text.
CJK_SPACE = re.compile(r"(?<=[\u3000-\u9fff\uf900-\ufaff])\s+|\s+(?=[\u3000-\u9fff\uf900-\ufaff])")


def join_cjk(text: str) -> str:
    return CJK_SPACE.sub("", text).strip()


def _auto_model_class() -> Any:
    import transformers

    for name in ("AutoModelForImageTextToText", "AutoModelForVision2Seq"):
        if hasattr(transformers, name):
            return getattr(transformers, name)
    raise UsageError("this transformers version has no image-to-text auto class")


class HFCaptioner(CaptionAdapter):
    def __init__(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        max_new_tokens: int = 32,
        num_beams: int = 1,
        prompt: str = "",
        revision: str = "",
        trust_remote_code: bool = False,
        join_cjk_spaces: bool = True,
    ):
        if dtype not in DTYPES:
            raise UsageError(f"hf-captioner: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if max_new_tokens < 1 or num_beams < 1:
            raise UsageError("hf-captioner: max_new_tokens and num_beams must be at least 1")
        import torch
        import transformers

        from muge_eval.models.torch_utils import resolve_device

        self.device = resolve_device(device)  # device=cuda without a GPU fails here, before loading
        self.source = model
        self.revision = revision or None
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.prompt = prompt
        self.join_cjk_spaces = join_cjk_spaces
        torch_dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}.get(dtype)
        kwargs: dict[str, Any] = {"revision": self.revision, "trust_remote_code": trust_remote_code}
        offline = cache_only(model)
        if offline:
            kwargs["local_files_only"] = True
        try:
            self.model = _auto_model_class().from_pretrained(
                model, **kwargs, **({"dtype": torch_dtype} if torch_dtype else {})
            )
        except (OSError, ValueError) as exc:
            if offline:
                raise UsageError(f"hf-captioner: {not_cached_message(model)}") from exc
            raise UsageError(f"hf-captioner: cannot load model {model!r}: {exc}") from exc
        self.model.to(self.device).eval()
        self.dtype = str(next(self.model.parameters()).dtype).replace("torch.", "")
        self.processor = self._load_processor(transformers, model, kwargs)
        self._local_dir = Path(model).expanduser() if Path(model).expanduser().is_dir() else None
        self._fingerprint: str | None = None

    @staticmethod
    def _load_processor(transformers: Any, model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The image processor and tokenizer (a multimodal processor when there is one)."""
        try:
            processor = transformers.AutoProcessor.from_pretrained(model, **kwargs)
        except (OSError, ValueError, TypeError, KeyError):
            processor = None
        if processor is not None and hasattr(processor, "image_processor") and hasattr(processor, "tokenizer"):
            return {"processor": processor, "tokenizer": processor.tokenizer}
        try:
            image_processor = transformers.AutoImageProcessor.from_pretrained(model, **kwargs)
            tokenizer = transformers.AutoTokenizer.from_pretrained(model, **kwargs)
        except (OSError, ValueError) as exc:
            raise UsageError(f"hf-captioner: no image processor and tokenizer in {model!r}: {exc}") from exc
        return {"image_processor": image_processor, "tokenizer": tokenizer}

    def _inputs(self, images: list[Image.Image]) -> dict[str, Any]:
        rgb = [image.convert("RGB") for image in images]
        if "processor" in self.processor:
            texts = [self.prompt] * len(rgb) if self.prompt else None
            inputs = self.processor["processor"](images=rgb, text=texts, return_tensors="pt", padding=bool(texts))
        else:
            inputs = self.processor["image_processor"](images=rgb, return_tensors="pt")
            if self.prompt:
                inputs.update(self.processor["tokenizer"]([self.prompt] * len(rgb), return_tensors="pt"))
        return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}

    def caption(self, images: list[Image.Image]) -> list[str]:
        import torch

        inputs = self._inputs(images)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(next(self.model.parameters()).dtype)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams, do_sample=False
            )
        if not getattr(self.model.config, "is_encoder_decoder", False) and "input_ids" in inputs:
            output = output[:, inputs["input_ids"].shape[1] :]  # decoder-only: drop the prompt
        texts = self.processor["tokenizer"].batch_decode(output, skip_special_tokens=True)
        return [join_cjk(t) if self.join_cjk_spaces else t.strip() for t in texts]

    def fingerprint(self) -> str | None:
        if self._fingerprint is None and self._local_dir is not None:
            self._fingerprint = directory_fingerprint(self._local_dir, CHECKPOINT_PATTERNS)
        return self._fingerprint

    def cache_identity(self) -> str | None:
        if self._local_dir is not None:
            return self.fingerprint()
        return f"hub:{self.source}@{self.revision}" if self.revision else None

    def generation_settings(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "num_beams": self.num_beams,
            "do_sample": False,
            "prompt": self.prompt,
            "join_cjk_spaces": self.join_cjk_spaces,
            "dtype": self.dtype,
        }

    def protocol(self) -> dict[str, Any]:
        return {
            "generation": self.generation_settings(),
            "device": self.device,
            "model_class": type(self.model).__name__,
        }
