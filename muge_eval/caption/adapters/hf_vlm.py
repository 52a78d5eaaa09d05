"""``hf-vlm``: a multimodal LLM captioner through transformers (Qwen2.5-VL, InternVL,
LLaVA style): ``AutoModelForImageTextToText`` with its processor's chat template.

Each image becomes one chat: an optional system message, then a user message with the
image and the instruction. The instruction is the ``prompt`` model argument when given,
else the task card's (``caption_prompt``: MUGE asks for a short Chinese e-commerce
caption), else a generic Chinese one. A batch is generated at once, left-padded, greedy or
beam search (never sampled), so outputs are deterministic; the prompt is cut off the
output, a thinking block (``<think>...</think>``) is dropped, whitespace is collapsed and
spaces beside Chinese characters removed. Every setting that changes the captions is
recorded and keys the caption cache, the chat template included (by its sha256).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from PIL import Image

from muge_eval.caption.adapters.base import CaptionAdapter
from muge_eval.caption.adapters.hf_common import HFCheckpoint, check_generation, join_cjk, resolve_device
from muge_eval.errors import UsageError

DEFAULT_INSTRUCTION = "请用一句简洁的中文描述这张图片。"
THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)


def clean_caption(text: str) -> str:
    """One line: no thinking block, whitespace collapsed, no spaces beside CJK text."""
    return join_cjk(" ".join(THINKING.sub("", text).split()))


class HFVisionLanguageCaptioner(CaptionAdapter):
    def __init__(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        max_new_tokens: int = 64,
        num_beams: int = 1,
        prompt: str = "",
        instruction: str = "",
        system_prompt: str = "",
        revision: str = "",
        trust_remote_code: bool = False,
    ):
        check_generation("hf-vlm", dtype, max_new_tokens, num_beams)
        import transformers

        self.checkpoint = HFCheckpoint("hf-vlm", model, revision, trust_remote_code)
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.prompt = prompt or instruction or DEFAULT_INSTRUCTION
        self.prompt_source = "model argument" if prompt else ("task card" if instruction else "default")
        self.system_prompt = system_prompt
        self.device = resolve_device(device)
        self.model = self.checkpoint.load_model(transformers.AutoModelForImageTextToText, dtype)
        self.model.to(self.device).eval()
        self.dtype = str(next(self.model.parameters()).dtype).replace("torch.", "")
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(model, **self.checkpoint.kwargs)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise UsageError(f"hf-vlm: no processor in {model!r}: {exc}") from exc
        template = getattr(self.processor, "chat_template", None)
        if not template or not hasattr(self.processor, "tokenizer"):
            raise UsageError(f"hf-vlm: the processor of {model!r} has no chat template and tokenizer")
        self.template_sha256 = hashlib.sha256(str(template).encode("utf-8")).hexdigest()
        # Decoder-only generation continues the prompt: pad on the left.
        self.processor.tokenizer.padding_side = "left"

    def messages(self) -> list[dict[str, Any]]:
        """The chat of one image (the image itself is passed beside the text)."""
        chat: list[dict[str, Any]] = []
        if self.system_prompt:
            chat.append({"role": "system", "content": [{"type": "text", "text": self.system_prompt}]})
        chat.append({"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.prompt}]})
        return chat

    def caption(self, images: list[Image.Image]) -> list[str]:
        import torch

        rgb = [image.convert("RGB") for image in images]
        text = self.processor.apply_chat_template(self.messages(), add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=[text] * len(rgb), images=[[im] for im in rgb], return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(next(self.model.parameters()).dtype)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams, do_sample=False
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return [clean_caption(t) for t in self.processor.batch_decode(new_tokens, skip_special_tokens=True)]

    def fingerprint(self) -> str | None:
        return self.checkpoint.fingerprint()

    def cache_identity(self) -> str | None:
        return self.checkpoint.cache_identity()

    def generation_settings(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "system_prompt": self.system_prompt,
            "chat_template_sha256": self.template_sha256,
            "max_new_tokens": self.max_new_tokens,
            "num_beams": self.num_beams,
            "do_sample": False,
            "padding": "left",
            "dtype": self.dtype,
            "postprocess": "thinking block dropped, whitespace collapsed, spaces beside CJK removed",
        }

    def protocol(self) -> dict[str, Any]:
        return {
            "generation": self.generation_settings(),
            "prompt_from": self.prompt_source,
            "device": self.device,
            "model_class": type(self.model).__name__,
        }
