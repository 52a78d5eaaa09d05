"""``qa-clip``: Tencent's QA-CLIP, whose released checkpoints are Chinese-CLIP-compatible
(same architectures, same ``state_dict`` layout, same evaluation scripts, copied from
Chinese-CLIP's). Everything is ``cn-clip``'s except the released file names
(``QA-CLIP-RN50.pt``, ``QA-CLIP-base.pt``, ``QA-CLIP-large.pt``, ``QA-CLIP-large-336.pt``,
from huggingface.co/TencentARC/QA-CLIP) and the family recorded in the protocol.
Its transformers conversions (``TencentARC/QA-CLIP-ViT-B-16``...) load with
``hf-chinese-clip``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from muge_eval.retrieval.adapters.cn_clip_adapter import CNCLIP

QA_CLIP_FILES = {
    "RN50": "QA-CLIP-RN50.pt",
    "ViT-B-16": "QA-CLIP-base.pt",
    "ViT-L-14": "QA-CLIP-large.pt",
    "ViT-L-14-336": "QA-CLIP-large-336.pt",
}


class QACLIP(CNCLIP):
    """QA-CLIP through the cn_clip package (its published evaluation protocol is Chinese-CLIP's)."""

    label: ClassVar[str] = "qa-clip"
    family: ClassVar[str] = "qa-clip"

    def released_files(self) -> Mapping[str, str]:
        return QA_CLIP_FILES
