"""``--model-args k=v,k2=v2``: parsing, type conversion, redaction and construction."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from muge_eval.errors import UsageError

SECRET_PATTERN = re.compile(r"(key|token|secret|password|passwd|auth|credential)", re.IGNORECASE)
REDACTED = "<redacted>"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def parse_key_values(text: str | None, option: str = "--model-args") -> dict[str, str]:
    """``"a=1,b=x"`` -> ``{"a": "1", "b": "x"}``; a value may contain ``=`` but not ``,``."""
    if not text:
        return {}
    result: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UsageError(f"{option}: expected key=value, got {part!r}")
        if key in result:
            raise UsageError(f"{option}: {key!r} given twice")
        result[key] = value.strip()
    return result


def redact(args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments safe to write down: anything secret-looking replaced."""
    return {k: (REDACTED if SECRET_PATTERN.search(k) else v) for k, v in args.items()}


def _convert(value: str, annotation: Any, name: str, owner: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value.lower() in ("none", "null") and len(options) < len(typing.get_args(annotation)):
            return None
        annotation = options[0] if len(options) == 1 else str
    try:
        if annotation is bool:
            lowered = value.lower()
            if lowered in TRUE_WORDS:
                return True
            if lowered in FALSE_WORDS:
                return False
            raise ValueError(value)
        if annotation is int:
            return int(value)
        if annotation is float:
            return float(value)
        if annotation is Path:
            return Path(value).expanduser()
    except ValueError as exc:
        type_name = getattr(annotation, "__name__", str(annotation))
        raise UsageError(f"{owner}: option {name}={value!r} is not a valid {type_name}") from exc
    return value


def construct(factory: Any, args: Mapping[str, str], owner: str, defaults: Mapping[str, Any] | None = None) -> Any:
    """Call ``factory(**converted_args)``, refusing names its signature does not take.

    ``defaults`` (such as the run's seed) are passed only where the signature takes them
    and the user did not set them.
    """
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return factory(**args)
    try:
        hints = typing.get_type_hints(factory.__init__ if inspect.isclass(factory) else factory)
    except Exception:  # unresolvable annotations: pass strings through
        hints = {}
    params = signature.parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in args if k not in params and not takes_kwargs]
    if unknown:
        raise UsageError(
            f"{owner} does not take option(s) {', '.join(unknown)} (accepted: {', '.join(accepted) or 'none'})"
        )
    kwargs: dict[str, Any] = {k: _convert(v, hints.get(k, str), k, owner) for k, v in args.items()}
    for key, value in (defaults or {}).items():
        if key in params and key not in kwargs:
            kwargs[key] = value
    missing = [
        n for n, p in params.items() if p.default is inspect.Parameter.empty and n in accepted and n not in kwargs
    ]
    if missing:
        raise UsageError(f"{owner} needs option(s) {', '.join(missing)} (pass --model-args {missing[0]}=...)")
    return factory(**kwargs)
