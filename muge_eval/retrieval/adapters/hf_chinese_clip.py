"""``hf-chinese-clip``: transformers' ``ChineseCLIPModel`` from a local directory or a hub id
(``OFA-Sys/chinese-clip-vit-base-patch16`` and its siblings, and other Chinese-CLIP-compatible
checkpoints such as ``TencentARC/QA-CLIP-ViT-B-16``). Defaults: the published Chinese-CLIP
protocol (squash resize, Chinese-CLIP's text rule, 52 tokens)."""

from __future__ import annotations

from typing import ClassVar

from muge_eval.data.image_transform import SQUASH
from muge_eval.retrieval.adapters.hf_dual import HFDualEncoder
from muge_eval.retrieval.adapters.text_rules import CHINESE_CLIP

CONTEXT_LENGTH = 52


class HFChineseCLIP(HFDualEncoder):
    """Chinese-CLIP through transformers; texts truncated to 52 tokens as published."""

    model_class: ClassVar[str] = "ChineseCLIPModel"
    processor_class: ClassVar[str] = "ChineseCLIPProcessor"
    family: ClassVar[str] = "chinese-clip"

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int | None = None,
        preprocess: str = SQUASH,
        jpeg_draft: bool = False,
        autocast: str | None = None,
        decode: str = "cpu",
        text_preprocess: str = CHINESE_CLIP,
        context_length: int = CONTEXT_LENGTH,
    ):
        super().__init__(
            model, revision, context_length, device, dtype, batch_size, preprocess, jpeg_draft, autocast, decode,
            text_preprocess,
        )  # fmt: skip
