"""``mllm-embedder``: multimodal-LLM embedding models through transformers, GME-Qwen2-VL
style (``Alibaba-NLP/gme-Qwen2-VL-2B-Instruct`` and models with the same recipe).

As GME's published inference code (``gme_inference.py``) embeds: every input is one chat
turn, ``<|im_start|>system\\n{instruction}<|im_end|>\\n<|im_start|>user\\n{content}
<|im_end|>\\n<|im_start|>assistant\\n<|endoftext|>``, an image's content being
``<|vision_start|><|image_pad|><|vision_end|>``; sequences are padded on the left and the
embedding is the last position's final hidden state. Queries (texts) get
``query_instruction``, documents (images) the default ``document_instruction``. Images
are converted to RGB and resized so both sides are multiples of the patch size times
the merge size (28 for Qwen2-VL), between ``min_pixels`` and ``max_pixels`` (GME's
``fetch_image``), then the processor applies its own token budget
(``min_image_tokens``/``max_image_tokens``). ``positions=text`` reproduces GME's forward,
which runs the language model on the merged embeddings with plain 1-D positions;
``positions=model`` uses the model's own forward (multimodal rotary positions), as
Qwen3-VL-style embedders do. Everything that chooses the numbers is recorded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.errors import UsageError
from muge_eval.models.base import RetrievalAdapter
from muge_eval.retrieval.adapters.hf_dual import hub_fingerprint, load_pretrained
from muge_eval.retrieval.adapters.torch_base import require, resolve_device, torch_dtype

TEMPLATE = (
    "<|im_start|>system\n{instruction}<|im_end|>\n<|im_start|>user\n{content}<|im_end|>\n"
    "<|im_start|>assistant\n<|endoftext|>"
)
IMAGE_CONTENT = "<|vision_start|><|image_pad|><|vision_end|>"
DEFAULT_INSTRUCTION = "You are a helpful assistant."
QUERY_INSTRUCTION = "Find an image that matches the given text."
POSITIONS = ("text", "model")
MAX_RATIO = 200


def fit_to_grid(width: int, height: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """``(width, height)`` rounded to multiples of ``factor``, scaled into
    ``[min_pixels, max_pixels]`` keeping the aspect ratio (Qwen-VL's smart resize); a
    side more than 200 times the other is cut to 200 times it, as GME's code does."""
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        scale = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / scale / factor) * factor)
        w = max(factor, math.floor(width / scale / factor) * factor)
    elif h * w < min_pixels:
        scale = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * scale / factor) * factor
        w = math.ceil(width * scale / factor) * factor
    if max(h, w) / min(h, w) > MAX_RATIO:
        h, w = (w * MAX_RATIO, w) if h > w else (h, h * MAX_RATIO)
    return w, h


class MLLMEmbedder(RetrievalAdapter):
    """A multimodal LLM used as an embedder (last-token pooling of an instruction prompt)."""

    cacheable = True

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int | None = None,
        query_instruction: str = QUERY_INSTRUCTION,
        document_instruction: str = DEFAULT_INSTRUCTION,
        positions: str = "text",
        max_length: int = 1800,
        min_image_tokens: int = 256,
        max_image_tokens: int = 1280,
        min_pixels: int = 4 * 28 * 28,
        max_pixels: int = 16384 * 28 * 28,
    ):
        require("transformers", "mllm")
        if positions not in POSITIONS:
            raise UsageError(f"positions must be one of {', '.join(POSITIONS)}, not {positions!r}")
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = resolve_device(device)
        self.dtype_name, self.dtype = dtype, torch_dtype(dtype)
        self.batch_size = batch_size
        self.model_id, self.revision = model, revision
        self.query_instruction, self.document_instruction = query_instruction, document_instruction
        self.positions, self.max_length = positions, max_length
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        # The processor's own token budget (GME: 256 to 1280 image tokens of 28 x 28 pixels).
        budget = {"shortest_edge": min_image_tokens * 28 * 28, "longest_edge": max_image_tokens * 28 * 28}
        self.processor = load_pretrained(AutoProcessor, model, revision, "mllm-embedder", size=budget)
        self.processor.tokenizer.padding_side = "left"
        loaded = load_pretrained(AutoModelForImageTextToText, model, revision, "mllm-embedder", dtype=self.dtype)
        self.model = loaded.to(self.device).eval()
        image_processor = self.processor.image_processor
        self.factor = int(image_processor.patch_size) * int(image_processor.merge_size)
        self.image_tokens = (min_image_tokens, max_image_tokens)
        self._fingerprint: str | None = None

    @property
    def topk_device(self) -> str:
        return self.device

    def fingerprint(self) -> str | None:
        if self._fingerprint is None:
            self._fingerprint = hub_fingerprint(self.model_id, self.revision)
        return self._fingerprint

    def protocol(self) -> dict[str, Any]:
        return {
            "library": "transformers",
            "family": "mllm-embedder",
            "prompt_format": "gme (system instruction, user content, assistant <|endoftext|>)",
            "query_instruction": self.query_instruction,
            "document_instruction": self.document_instruction,
            "pooling": "last token (left padding), final hidden state",
            "positions": self.positions,
            "max_length": self.max_length,
            "image_resize": f"RGB, bicubic, sides multiples of {self.factor}",
            "image_pixels": [self.min_pixels, self.max_pixels],
            "image_tokens": list(self.image_tokens),
            "dtype": self.dtype_name,
            "normalisation": "L2",
        }

    def _embed(self, prompts: list[str], images: list[Image.Image] | None) -> npt.NDArray[np.float32]:
        import torch

        inputs = self.processor(
            text=prompts, images=images, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        attention = inputs["attention_mask"]
        base = self.model.model
        with torch.inference_mode():
            if self.positions == "model":
                hidden = base(**inputs).last_hidden_state
            else:
                embeds = base.get_input_embeddings()(inputs["input_ids"])
                if images:
                    visual = base.visual(inputs["pixel_values"].to(self.dtype), grid_thw=inputs["image_grid_thw"])
                    vectors = visual if hasattr(visual, "shape") else visual.pooler_output
                    mask = inputs["input_ids"] == self.model.config.image_token_id
                    embeds[mask] = vectors.to(embeds.dtype)
                hidden = base.language_model(inputs_embeds=embeds, attention_mask=attention).last_hidden_state
        return np.asarray(hidden[:, -1].float().cpu().numpy(), dtype=np.float32)

    def encode_texts(self, texts: list[str]) -> npt.NDArray[np.float32]:
        prompts = [TEMPLATE.format(instruction=self.query_instruction, content=t) for t in texts]
        return self._embed(prompts, None)

    def encode_images(self, images: list[Image.Image]) -> npt.NDArray[np.float32]:
        fitted = []
        for image in images:
            rgb = image.convert("RGB")
            size = fit_to_grid(rgb.width, rgb.height, self.factor, self.min_pixels, self.max_pixels)
            fitted.append(rgb.resize(size, Image.Resampling.BICUBIC))
        prompt = TEMPLATE.format(instruction=self.document_instruction, content=IMAGE_CONTENT)
        return self._embed([prompt] * len(fitted), fitted)
