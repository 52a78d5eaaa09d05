"""``hf-captioner``: a transformers image-to-text model from a local directory or a hub id.

Vision encoder-decoder checkpoints (ViT + GPT-2/BERT style, e.g. OFA-style Chinese
captioners exported that way) and the ``AutoModelForImageTextToText`` /
``AutoModelForVision2Seq`` family (BLIP, GIT, Qwen-VL style) are loaded through the auto
classes; an optional text ``prompt`` is passed to models that take one. Generation is
greedy or beam search (``num_beams``), never sampled, so outputs are deterministic.
torch and transformers are imported only when the adapter is built.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from muge_eval.caption.adapters.base import CaptionAdapter
from muge_eval.caption.adapters.hf_common import HFCheckpoint, check_generation, join_cjk, resolve_device
from muge_eval.errors import UsageError


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
        check_generation("hf-captioner", dtype, max_new_tokens, num_beams)
        import transformers

        self.device = resolve_device(device)  # device=cuda without a GPU fails here, before loading
        self.checkpoint = HFCheckpoint("hf-captioner", model, revision, trust_remote_code)
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.prompt = prompt
        self.join_cjk_spaces = join_cjk_spaces
        self.model = self.checkpoint.load_model(_auto_model_class(), dtype)
        self.model.to(self.device).eval()
        self.dtype = str(next(self.model.parameters()).dtype).replace("torch.", "")
        self.processor = self._load_processor(transformers, model, self.checkpoint.kwargs)

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
        return self.checkpoint.fingerprint()

    def cache_identity(self) -> str | None:
        return self.checkpoint.cache_identity()

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
