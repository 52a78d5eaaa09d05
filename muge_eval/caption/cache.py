"""Append-only JSONL cache of model captions, so an interrupted run resumes where it stopped.

One file per (model identity, generation settings): its first line records both, every
other line is ``{"image_id": ..., "text": ...}``. Lines are flushed and fsynced after each
batch. A run killed mid-write leaves at most one partial last line, which is cut off when
the cache is opened again; anything else that does not parse is an error.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem

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

    def load(self) -> dict[str, str]:
        """Cached captions by image id (creating the file with its header if needed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            with self.path.open("w", encoding="utf-8") as handle:
                handle.write(json.dumps(self.header, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            return {}
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):  # a partial last line from a killed run
            with self.path.open("r+b") as handle:
                handle.truncate(complete)
        captions: dict[str, str] = {}
        for number, raw in enumerate(data[:complete].decode("utf-8", errors="replace").splitlines(), start=1):
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputError(
                    [Problem(str(self.path), f"corrupt cache line ({exc.msg}); delete the file to start over", number)]
                ) from exc
            if number == 1:
                if not isinstance(entry, dict) or entry.get("key") != self.key:
                    raise InputError(
                        [Problem(str(self.path), "cache header does not match this model and settings", 1)]
                    )
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("image_id"), str):
                raise InputError(
                    [Problem(str(self.path), "corrupt cache entry; delete the file to start over", number)]
                )
            captions[entry["image_id"]] = str(entry.get("text", ""))
        if complete == 0:
            with self.path.open("w", encoding="utf-8") as handle:
                handle.write(json.dumps(self.header, ensure_ascii=False) + "\n")
        return captions

    def append(self, captions: Mapping[str, str]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            for image_id, text in captions.items():
                handle.write(json.dumps({"image_id": image_id, "text": text}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
