"""Text a board gives in English, Chinese or both (``title: {en: ..., zh: ...}``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from muge_eval.errors import ProblemList

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Text:
    """One string per language; a language without its own text shows the other's."""

    en: str = ""
    zh: str = ""

    def get(self, lang: str) -> str:
        first, second = (self.zh, self.en) if lang == "zh" else (self.en, self.zh)
        return first or second

    def __bool__(self) -> bool:
        return bool(self.en or self.zh)

    def __str__(self) -> str:
        return self.get("en")


def parse_text(value: Any, where: str, problems: ProblemList, required: bool = False) -> Text:
    """A string (the same in both languages) or a mapping with ``en`` and/or ``zh``."""
    if value is None or value == "":
        if required:
            problems.add("is required (a string, or {en: ..., zh: ...})", field_name=where)
        return Text()
    if isinstance(value, str):
        return Text(value.strip(), value.strip())
    if isinstance(value, dict):
        unknown = sorted(set(map(str, value)) - set(LANGUAGES))
        for key in unknown:
            problems.add("unknown language (known: en, zh)", field_name=f"{where}.{key}")
        texts = {}
        for lang in LANGUAGES:
            text = value.get(lang, "")
            if not isinstance(text, str):
                problems.add("must be a string", field_name=f"{where}.{lang}")
                text = ""
            texts[lang] = text.strip()
        if required and not any(texts.values()):
            problems.add("needs an en or zh text", field_name=where)
        return Text(texts["en"], texts["zh"])
    problems.add("must be a string, or {en: ..., zh: ...}", field_name=where)
    return Text()
