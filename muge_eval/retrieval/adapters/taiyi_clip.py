"""``taiyi-clip``: IDEA-CCNL's Taiyi-CLIP, a Chinese BERT text tower trained against a
frozen OpenAI CLIP vision tower.

Texts: ``BertForSequenceClassification`` from ``text_model`` (``IDEA-CCNL/Taiyi-CLIP-
Roberta-102M-Chinese`` or ``-large-326M-``); its logits are the text embedding. Images:
``CLIPModel.get_image_features`` from ``vision_model`` (``openai/clip-vit-base-patch32``
for the 102M model, ``openai/clip-vit-large-patch14`` for the 326M one), preprocessed as
its ``CLIPProcessor`` does (resize the shortest side, centre crop: ``preprocess=processor``).

Taiyi's published usage tokenizes the raw text with padding and no length limit (BERT's
512 positions are the limit here). It passes only ``input_ids``, so padded positions are
attended and a text's embedding depends on the longest text in its batch; this adapter
passes the attention mask (as FlagEval's CLIPEval does) so results do not depend on
batching, and records it as ``attention_mask`` in the protocol.
"""

from __future__ import annotations

from typing import Any

from muge_eval.data.image_transform import PROCESSOR, ImageTransform
from muge_eval.fingerprint import text_fingerprint
from muge_eval.retrieval.adapters.hf_dual import hub_fingerprint, load_pretrained, pooled, processor_transform
from muge_eval.retrieval.adapters.text_rules import NONE
from muge_eval.retrieval.adapters.torch_base import TorchRetrievalAdapter, require

CONTEXT_LENGTH = 512


class TaiyiCLIP(TorchRetrievalAdapter):
    """Taiyi-CLIP: a BERT text tower and an OpenAI CLIP vision tower, loaded separately."""

    def __init__(
        self,
        text_model: str,
        vision_model: str = "openai/clip-vit-base-patch32",
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
        super().__init__(device, dtype, batch_size, preprocess, jpeg_draft, autocast, decode, text_preprocess)
        require("transformers", "torch")
        from transformers import BertForSequenceClassification, BertTokenizer, CLIPImageProcessor, CLIPModel

        self.text_model_id, self.vision_model_id, self.revision = text_model, vision_model, revision
        self.context_length = context_length
        self.tokenizer = load_pretrained(BertTokenizer, text_model, revision, "taiyi-clip text tower")
        what = "taiyi-clip text tower"
        text = load_pretrained(BertForSequenceClassification, text_model, revision, what, dtype=self.dtype)
        self.text_encoder = text.to(self.device).eval()
        image_processor = load_pretrained(CLIPImageProcessor, vision_model, None, "taiyi-clip vision tower")
        vision = load_pretrained(CLIPModel, vision_model, None, "taiyi-clip vision tower", dtype=self.dtype)
        self.vision_encoder = vision.to(self.device).eval()
        self._transform = processor_transform(self, image_processor, int(vision.config.vision_config.image_size))

    def image_transform(self) -> ImageTransform:
        return self._transform

    def fingerprint(self) -> str | None:
        if self._fingerprint is None:
            text, vision = (
                hub_fingerprint(self.text_model_id, self.revision),
                hub_fingerprint(self.vision_model_id, None),
            )
            self._fingerprint = text_fingerprint(text, vision)
        return self._fingerprint

    def _identity(self) -> str:
        return f"taiyi:{self.text_model_id}+{self.vision_model_id}"

    def _model_protocol(self) -> dict[str, Any]:
        return {
            "library": "transformers",
            "family": "taiyi-clip",
            "context_length": self.context_length,
            "text_padding": "longest",
            "attention_mask": True,
            "text_embedding": "BertForSequenceClassification logits",
        }

    def _image_features(self, pixels: Any) -> Any:
        return pooled(self.vision_encoder.get_image_features(pixel_values=pixels))

    def _text_features(self, texts: list[str]) -> Any:
        tokens = self.tokenizer(
            texts, padding="longest", truncation=True, max_length=self.context_length, return_tensors="pt"
        ).to(self.device)
        return self.text_encoder(**tokens).logits
