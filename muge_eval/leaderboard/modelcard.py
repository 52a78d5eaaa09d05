"""Model cards: what a submission says about its model (name, organisation, size,
openness, licence, link, release date, zero-shot or fine-tuned).

The results schema checks the shape of ``model.card``; this module adds the checks a
schema cannot express (a real calendar date, an http(s) link) and reads a card for the
site, from a results file or from a published reference record.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem, shorten
from muge_eval.leaderboard.links import is_http_url

WEIGHTS = ("open", "closed")
SETTINGS = ("zero-shot", "fine-tuned")
CARD_FIELDS = ("display_name", "organisation", "parameters", "weights", "licence", "link", "release_date", "setting")
# Spellings a published record may use for a card field.
ALIASES = {
    "organization": "organisation",
    "org": "organisation",
    "license": "licence",
    "url": "link",
    "params": "parameters",
}


@dataclass(frozen=True)
class ModelCard:
    display_name: str = ""
    organisation: str = ""
    parameters: float | None = None
    weights: str = ""
    licence: str = ""
    link: str = ""
    release_date: str = ""
    setting: str = ""

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) not in ("", None) for f in fields(self))

    @property
    def parameters_text(self) -> str:
        """``86M``, ``1.5B``: parameter counts as people say them."""
        if self.parameters is None:
            return ""
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if self.parameters >= size:
                return f"{self.parameters / size:.3g}{suffix}"
        return f"{self.parameters:g}"

    @property
    def parameters_exact(self) -> str:
        """``150,000,000``: the count as given."""
        if self.parameters is None:
            return ""
        return f"{int(self.parameters):,}" if self.parameters.is_integer() else f"{self.parameters:,}"

    @property
    def release_year(self) -> float | None:
        """The release date as a fractional year (for plotting), None when unknown."""
        date = parse_release_date(self.release_date)
        if date is None:
            return None
        start = dt.date(date.year, 1, 1)
        days = 366 if calendar.isleap(date.year) else 365  # 9999-12-31 has no next year in datetime
        return date.year + (date - start).days / days

    def recorded(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in ("", None)}


def parse_release_date(text: str) -> dt.date | None:
    """``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` (the first day of the month or year)."""
    parts = text.split("-") if text else []
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    numbers = [int(p) for p in parts] + [1] * (3 - len(parts))
    try:
        return dt.date(numbers[0], numbers[1], numbers[2])
    except ValueError:
        return None


def _field(prefix: str, *names: str) -> str:
    return "/".join(n for n in (prefix, *names) if n)


def card_problems(card: Mapping[str, Any], file: str, prefix: str = "model/card") -> list[Problem]:
    """What the schema cannot check: a link that is http(s), a date that exists, a size > 0."""
    problems: list[Problem] = []
    link = card.get("link")
    if link is not None and not is_http_url(link):
        problems.append(Problem(file, "must be an http(s) URL", field=_field(prefix, "link")))
    date = card.get("release_date")
    if isinstance(date, str) and parse_release_date(date) is None:
        message = f"{shorten(date)!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)"
        problems.append(Problem(file, message, field=_field(prefix, "release_date")))
    size = card.get("parameters")
    if isinstance(size, (int, float)) and not isinstance(size, bool) and not (math.isfinite(size) and size > 0):
        problems.append(Problem(file, "must be a positive number of parameters", field=_field(prefix, "parameters")))
    return problems


def card_schema_problems(card: Any, file: str, prefix: str = "model/card") -> list[Problem]:
    """``card`` checked against the results schema's ``model.card``."""
    import jsonschema

    from muge_eval.results import load_schema

    schema = load_schema()["properties"]["model"]["properties"]["card"]
    validator = jsonschema.Draft202012Validator(schema)
    return [
        Problem(file, shorten(error.message, 200), field=_field(prefix, *map(str, error.absolute_path)))
        for error in sorted(validator.iter_errors(card), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _get(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def card_from(source: Any) -> ModelCard:
    """A card from a mapping or an object with card attributes; what does not fit is left out
    (the schema and ``card_problems`` have already refused bad submissions)."""
    if source is None:
        return ModelCard()
    values: dict[str, Any] = {}
    names = list(CARD_FIELDS) + list(ALIASES)
    for name in names:
        value = _get(source, name)
        if value is None:
            continue
        values.setdefault(ALIASES.get(name, name), value)
    size = values.get("parameters")
    if not isinstance(size, (int, float)) or isinstance(size, bool) or not math.isfinite(size) or size <= 0:
        size = None
    text: dict[str, str] = {}
    for key in CARD_FIELDS:
        value = values.get(key)
        if key != "parameters":
            text[key] = value.strip() if isinstance(value, str) else ""
    if text["weights"] not in WEIGHTS:
        text["weights"] = ""
    if text["setting"] not in SETTINGS:
        text["setting"] = ""
    if not is_http_url(text["link"]):
        text["link"] = ""
    if parse_release_date(text["release_date"]) is None:
        text["release_date"] = ""
    return ModelCard(parameters=None if size is None else float(size), **text)


def read_card_file(path: Path) -> dict[str, Any]:
    """A model card given to ``submit --card`` (YAML or JSON, a mapping of card fields),
    read with bounded cost and checked on its own, so that a problem names the card."""
    from muge_eval.io.safe_yaml import read_yaml_file

    doc, _ = read_yaml_file(path, "model card")
    if not isinstance(doc, dict):
        raise InputError([Problem(str(path), "a model card must be a mapping of card fields")], "invalid model card")
    if isinstance(doc.get("release_date"), dt.date):  # YAML reads 2022-11-02 as a date
        doc["release_date"] = doc["release_date"].isoformat()
    problems = card_schema_problems(doc, str(path), "") or card_problems(doc, str(path), "")
    if problems:
        raise InputError(problems, "invalid model card")
    return doc
