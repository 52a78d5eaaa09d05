"""``altclip``: BAAI's AltCLIP (``AltCLIPModel``, an XLM-R text tower on CLIP's ViT-L) from a
local directory or a hub id (``BAAI/AltCLIP``, ``BAAI/AltCLIP-m9``...).

Its published preprocessing is its processor's: CLIP's resize of the shortest side and
centre crop (``preprocess=processor``), CLIP mean/std, the raw text (no text rule) cut at
77 tokens, as AltCLIP's own inference and evaluation code (FlagAI) tokenizes it.
"""

from __future__ import annotations

from typing import ClassVar

from muge_eval.data.image_transform import PROCESSOR
from muge_eval.retrieval.adapters.hf_dual import HFDualEncoder
from muge_eval.retrieval.adapters.text_rules import NONE

CONTEXT_LENGTH = 77


class HFAltCLIP(HFDualEncoder):
    """AltCLIP through transformers."""

    model_class: ClassVar[str] = "AltCLIPModel"
    processor_class: ClassVar[str] = "AltCLIPProcessor"
    family: ClassVar[str] = "altclip"

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int | None = None,
        preprocess: str = PROCESSOR,
        jpeg_draft: bool = False,
        autocast: str | None = None,
        decode: str = "cpu",
        text_preprocess: str = NONE,
        context_length: int = CONTEXT_LENGTH,
    ):
        super().__init__(
            model, revision, context_length, device, dtype, batch_size, preprocess, jpeg_draft, autocast, decode,
            text_preprocess,
        )  # fmt: skip
