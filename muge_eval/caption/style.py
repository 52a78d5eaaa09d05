"""Style diagnostics of a set of captions: how long and how varied they are, beside the
references. A chat-style captioner writing three sentences where the references have
fifteen characters gets a collapsed CIDEr-D; these numbers say so at a glance.

Lengths are in characters after Unicode NFKC with whitespace removed; vocabularies are
distinct tokens of the task's tokenizer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A note is written when this share of captions is over twice the references' length.
LONG_SHARE_NOTE = 0.5


def char_length(text: str) -> int:
    return len("".join(unicodedata.normalize("NFKC", text).split()))


@dataclass(frozen=True)
class StyleDiagnostics:
    summary: Mapping[str, Any]
    # Per image (same order as given): caption length, mean reference length.
    per_image: tuple[tuple[int, float], ...]
    notes: tuple[str, ...]


def style_diagnostics(
    captions: Sequence[str],
    references: Sequence[Sequence[str]],
    caption_tokens: Sequence[Sequence[str]],
    reference_tokens: Sequence[Sequence[Sequence[str]]],
) -> StyleDiagnostics:
    """Mean caption and reference lengths, the share of captions over twice their image's
    mean reference length, and both vocabulary sizes."""
    lengths = [char_length(c) for c in captions]
    ref_means = [sum(char_length(r) for r in refs) / len(refs) if refs else 0.0 for refs in references]
    count = len(lengths)
    long = sum(1 for length, ref in zip(lengths, ref_means, strict=True) if length > 2 * ref)
    mean_caption = sum(lengths) / count if count else 0.0
    mean_reference = sum(ref_means) / count if count else 0.0
    summary = {
        "mean_caption_chars": mean_caption,
        "mean_reference_chars": mean_reference,
        "length_ratio": mean_caption / mean_reference if mean_reference else None,
        "over_twice_reference_share": long / count if count else 0.0,
        "caption_vocabulary": len({t for tokens in caption_tokens for t in tokens}),
        "reference_vocabulary": len({t for refs in reference_tokens for tokens in refs for t in tokens}),
        "definition": "characters after NFKC without whitespace; over twice: caption longer than twice its "
        "image's mean reference length; vocabulary: distinct tokens of the task's tokenizer",
    }
    notes = []
    if count and long / count >= LONG_SHARE_NOTE:
        notes.append(
            f"{100 * long / count:.0f}% of captions are over twice their references' length (mean "
            f"{mean_caption:.1f} vs {mean_reference:.1f} characters): n-gram metrics (BLEU, CIDEr-D) penalise "
            "long, chat-style captions; a model-based metric (clip_s, llm_judge) judges them fairly"
        )
    return StyleDiagnostics(summary, tuple(zip(lengths, ref_means, strict=True)), tuple(notes))
