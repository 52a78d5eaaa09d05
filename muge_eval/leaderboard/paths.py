"""Absolute paths of the machine that made a run stay off boards and sites.

Results files record where the data, caches and checkpoints were (``local:/home/me/data``,
a note naming ``/root/.cache/...``). A board stores and a site publishes copies with each
absolute path cut to ``…/`` and its last component, which is all a reader needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ELLIPSIS = "…/"
# An absolute POSIX path (``/a/b`` at the start or after a space, quote, ``=``, ``:``, ``(``,
# ``[`` or ``,``; not the ``//`` of a URL, not ``x/y``, not ``f(x)/g``, not `` / ``), a
# Windows drive path (``C:\a\b``), a UNC path (``\\host\share``) or the path of a
# ``file://`` URL: the folders before the last component.
_POSIX = r"(?<![^\s\"'=:(\[,])/(?!/)(?:[^\s/\"'<>|]+/)+"
_WINDOWS = r"(?<![\w])[A-Za-z]:\\(?:[^\s\\\"'<>|]+\\)+"
_UNC = r"(?<![\w\\])\\\\(?:[^\s\\\"'<>|]+\\)+"
_FILE_URL = r"(?<=file://)/(?:[^\s/\"'<>|]+/)+"
ABSOLUTE_DIRS = re.compile(f"{_POSIX}|{_WINDOWS}|{_UNC}|{_FILE_URL}")


def scrub_text(text: str) -> str:
    """``text`` with the folders of every absolute path replaced by ``…/``."""
    return ABSOLUTE_DIRS.sub(ELLIPSIS, text)


def has_absolute_path(text: str) -> bool:
    return ABSOLUTE_DIRS.search(text) is not None


def scrub(value: Any) -> Any:
    """A JSON value with every string (and mapping key) scrubbed."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {scrub_text(str(k)): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def scrubbed_lines(path: Path) -> Iterator[str]:
    """The lines of a JSONL file (without their newline), each with its absolute paths
    scrubbed; a line without one is passed on as it is."""
    with path.open(encoding="utf-8", newline="") as handle:
        for raw in handle:
            line = raw.removesuffix("\n")
            # Most lines hold no slash at all: skip the regular expression for them.
            if ("/" not in line and "\\" not in line) or not has_absolute_path(line):
                yield line
                continue
            try:
                value = json.loads(line)
            except ValueError:
                yield scrub_text(line)
                continue
            yield json.dumps(scrub(value), ensure_ascii=False)
