"""Class prompts and the zero-shot classifier built from them (Chinese-CLIP's protocol).

Every class name fills every template (``一张{}的照片。``), the filled prompt goes through
Chinese-CLIP's text preprocessing (``cn_clip.eval.data._preprocess_text``: lower-case,
the Chinese quotation marks “ ” become ``"``), and a class's embedding is the prompt
ensemble of ``zero_shot_classifier``: each prompt's embedding L2-normalised, the mean of
those, L2-normalised again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.fingerprint import text_fingerprint

PLACEHOLDER = "{}"
CHINESE_CLIP = "chinese-clip"
NO_PREPROCESSING = "none"
PREPROCESSING = {
    CHINESE_CLIP: "lower-cased, “ and ” replaced by \" (Chinese-CLIP's _preprocess_text)",
    NO_PREPROCESSING: "prompts as filled",
}
ENSEMBLE_RULE = (
    "per class: every prompt embedded, each L2-normalised, averaged, L2-normalised again"
    " (Chinese-CLIP's zero_shot_classifier)"
)

FloatMatrix = npt.NDArray[np.float64]


def parse_templates(value: Any) -> tuple[str, ...]:
    """Templates from a card (a YAML list or one string) or the command line (comma-
    separated); each must hold ``{}`` where the class name goes. Order and repeats are
    kept: a repeated template weighs twice in the ensemble, as in Chinese-CLIP."""
    if isinstance(value, (list, tuple)):
        items = [item for item in value if not isinstance(item, (list, tuple, dict))]
        if len(items) != len(value):
            raise ValueError("must be a list of template strings")
    elif isinstance(value, dict):
        raise ValueError("must be a list of template strings")
    else:
        items = str(value).split(",")
    templates = tuple(str(item) for item in items if str(item).strip())
    if not templates:
        raise ValueError("must list at least one template")
    bad = [t for t in templates if PLACEHOLDER not in t]
    if bad:
        shown = ", ".join(repr(t) for t in bad[:5])
        raise ValueError(f"every template needs {{}} where the class name goes: {shown}")
    return templates


def fill(template: str, class_name: str) -> str:
    """The prompt of one class (every ``{}`` replaced, nothing else interpreted)."""
    return template.replace(PLACEHOLDER, class_name)


def chinese_clip_text(text: str) -> str:
    """Chinese-CLIP's ``_preprocess_text``: its vocabulary has no “ ” and is lower-case."""
    return text.lower().replace("“", '"').replace("”", '"')


@dataclass(frozen=True)
class Prompts:
    """Every class x template prompt, class-major: prompt ``c * n_templates + t``."""

    ids: tuple[int, ...]
    texts: tuple[str, ...]
    n_classes: int
    n_templates: int

    def digest(self) -> str:
        """What names this prompt set in the embedding cache."""
        return text_fingerprint(*self.texts)


def build_prompts(class_names: Sequence[str], templates: Sequence[str], preprocessing: str) -> Prompts:
    texts = []
    for name in class_names:
        for template in templates:
            prompt = fill(template, name)
            texts.append(chinese_clip_text(prompt) if preprocessing == CHINESE_CLIP else prompt)
    return Prompts(tuple(range(len(texts))), tuple(texts), len(class_names), len(templates))


def l2_normalize(vectors: npt.NDArray[np.floating]) -> FloatMatrix:
    """Unit-length rows in float64; an all-zero row stays zero."""
    array = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return array / norms


def ensemble_classifier(prompt_embeddings: npt.NDArray[np.floating], prompts: Prompts) -> FloatMatrix:
    """(n_classes, d): the normalised mean of each class's normalised prompt embeddings."""
    per_prompt = l2_normalize(prompt_embeddings)
    grouped = per_prompt.reshape(prompts.n_classes, prompts.n_templates, -1)
    return l2_normalize(grouped.mean(axis=1))
