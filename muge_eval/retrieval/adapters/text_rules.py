"""Text preprocessing applied before tokenizing, per model family, as each family's own
evaluation code does it. The rule is recorded in the protocol of every run.

- ``chinese-clip``: Chinese-CLIP's evaluation (``cn_clip/eval/data.py: _preprocess_text``)
  lower-cases the text and replaces the Chinese quotation marks “ and ” by ``"``: they
  are not in its BERT vocabulary and would become ``[UNK]``. QA-CLIP's evaluation code
  is a copy of it.
- ``none``: the raw text (every other family's published code tokenizes it as given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from muge_eval.errors import UsageError

CHINESE_CLIP = "chinese-clip"
NONE = "none"


def _chinese_clip(text: str) -> str:
    return text.lower().replace("“", '"').replace("”", '"')


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True)
class TextRule:
    """One named preprocessing rule and what it does, in words."""

    name: str
    description: str
    apply: Callable[[str], str]

    def __call__(self, texts: list[str]) -> list[str]:
        return [self.apply(t) for t in texts]

    def describe(self) -> dict[str, str]:
        return {"text_preprocess": self.name, "text_preprocess_rule": self.description}


RULES = {
    CHINESE_CLIP: TextRule(
        CHINESE_CLIP, 'lower-case, then “ and ” replaced by " (cn_clip eval _preprocess_text)', _chinese_clip
    ),
    NONE: TextRule(NONE, "raw text, as given", _unchanged),
}


def text_rule(name: str) -> TextRule:
    """The rule called ``name``, or a usage error listing the known ones."""
    try:
        return RULES[name]
    except KeyError:
        raise UsageError(f"text_preprocess must be one of {', '.join(RULES)}, not {name!r}") from None
