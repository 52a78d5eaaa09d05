"""The JSON Schemas shipped in the package (``muge_eval/schemas``) and checking a document
against one, every violation as a problem naming its field."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from muge_eval.errors import Problem, shorten

# Longest schema message kept (a message may quote a huge value).
MESSAGE_CHARS = 300


def packaged_schema(name: str) -> dict[str, Any]:
    text = resources.files("muge_eval").joinpath(f"schemas/{name}").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def violations(schema: dict[str, Any], document: Any, file: str) -> list[Problem]:
    """Every violation of ``schema`` by ``document``, ordered by field."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [
        Problem(
            file, shorten(error.message, MESSAGE_CHARS), field="/".join(str(p) for p in error.absolute_path) or None
        )
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]
