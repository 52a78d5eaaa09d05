"""Append-only JSONL cache of model captions, so an interrupted run resumes where it stopped.

One file per (model identity, generation settings): its first line records both, every
other line is ``{"image_id": ..., "text": ...}``. Lines are flushed and fsynced after each
batch. A run killed mid-write leaves at most one partial last line, which is cut off when
the cache is opened again. A damaged file (a header that is not this cache's, lines that
do not parse) is treated as absent where it is damaged: its sound entries are kept and the
rest is captioned again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from muge_eval.errors import OutputError
from muge_eval.io.atomic import atomic_write_text, describe_os_error, output_errors
from muge_eval.io.safe_json import JsonProblem, json_decoder, parse_json

CACHE_KIND = "muge-eval caption cache"
CACHE_VERSION = 1


def cache_key(identity: str, settings: Mapping[str, Any]) -> str:
    text = json.dumps({"identity": identity, "settings": settings, "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class CaptionCache:
    """Captions already produced by one model with one set of generation settings."""

    def __init__(self, directory: Path, identity: str, settings: Mapping[str, Any]):
        self.key = cache_key(identity, settings)
        self.path = directory / f"{self.key[:32]}.jsonl"
        self.header = {
            "kind": CACHE_KIND,
            "version": CACHE_VERSION,
            "key": self.key,
            "identity": identity,
            "settings": dict(settings),
        }

    def _header_line(self) -> str:
        return json.dumps(self.header, ensure_ascii=False) + "\n"

    def _parse(self, text: str) -> tuple[dict[str, str], bool]:
        """Cached captions and whether every line was sound.

        A damaged header makes the whole file count as absent; a damaged entry is dropped,
        so that image is captioned again.
        """
        lines = text.splitlines()
        decoder = json_decoder()
        try:
            header = parse_json(lines[0], decoder=decoder) if lines else None
        except JsonProblem:
            header = None
        if not isinstance(header, dict) or header.get("key") != self.key:
            return {}, False
        captions: dict[str, str] = {}
        sound = True
        for raw in lines[1:]:
            try:
                entry = parse_json(raw, decoder=decoder)
            except JsonProblem:
                entry = None
            image_id, caption = (entry.get("image_id"), entry.get("text")) if isinstance(entry, dict) else (None, None)
            if isinstance(image_id, str) and isinstance(caption, str):
                captions[image_id] = caption
            else:
                sound = False
        return captions, sound

    def load(self) -> dict[str, str]:
        """Cached captions by image id (creating the file with its header if needed).

        A partial last line (a killed run) is cut off; a file that is damaged otherwise is
        rewritten with what could be read, and the rest is captioned again.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise OutputError(f"cannot read the caption cache {self.path}: {describe_os_error(exc)}") from exc
        complete = data.rfind(b"\n") + 1  # a partial last line from a killed run is dropped
        captions, sound = self._parse(data[:complete].decode("utf-8", errors="replace"))
        if not sound or complete < len(data):
            body = "".join(
                json.dumps({"image_id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in captions.items()
            )
            atomic_write_text(self.path, self._header_line() + body)
        return captions

    def append(self, captions: Mapping[str, str]) -> None:
        with output_errors(self.path), self.path.open("a", encoding="utf-8") as handle:
            for image_id, text in captions.items():
                handle.write(json.dumps({"image_id": image_id, "text": text}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
