"""Append-only JSONL caches, so an interrupted run resumes where it stopped: captions a
model wrote, and answers of judge models.

One file per (identity, settings): its first line records both, every other line is one
record (``{"image_id": ..., "text": ...}`` for captions). Lines are flushed and fsynced
after each batch. A run killed mid-write leaves at most one partial last line, which is cut
off when the cache is opened again; anything else that does not parse is an error.

Under ``torchrun`` every rank appends to its own shard file beside the cache (no two
processes write one file); rank 0 merges the shards into the cache once all ranks are
done. Reading the cache reads the shards too, so a run interrupted before the merge, with
any number of processes, resumes from every rank's work.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem

CACHE_KIND = "muge-eval caption cache"
CACHE_VERSION = 1


def cache_key(identity: str, settings: Mapping[str, Any]) -> str:
    text = json.dumps({"identity": identity, "settings": settings, "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class JsonlCache:
    """Records keyed by ``key_field``, in a file whose header names what made them."""

    def __init__(self, path: Path, header: Mapping[str, Any], key_field: str):
        self.path = path
        self.header = dict(header)
        self.key_field = key_field

    def _create(self) -> None:
        with self.path.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps(self.header, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def load(self) -> dict[str, dict[str, Any]]:
        """Cached records by key (creating the file with its header if needed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self._create()
            return {}
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):  # a partial last line from a killed run
            with self.path.open("r+b") as handle:
                handle.truncate(complete)
        records: dict[str, dict[str, Any]] = {}
        for number, raw in enumerate(data[:complete].decode("utf-8", errors="replace").splitlines(), start=1):
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputError(
                    [Problem(str(self.path), f"corrupt cache line ({exc.msg}); delete the file to start over", number)]
                ) from exc
            if number == 1:
                if not isinstance(entry, dict) or entry.get("key") != self.header.get("key"):
                    raise InputError(
                        [Problem(str(self.path), "cache header does not match this model and settings", 1)]
                    )
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get(self.key_field), str):
                raise InputError(
                    [Problem(str(self.path), "corrupt cache entry; delete the file to start over", number)]
                )
            records[entry[self.key_field]] = entry
        if complete == 0:
            self._create()
        return records

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(dict(record), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class CaptionCache:
    """Captions already produced by one model with one set of generation settings."""

    def __init__(self, directory: Path, identity: str, settings: Mapping[str, Any]):
        self.key = cache_key(identity, settings)
        self.directory = directory
        self.path = directory / f"{self.key[:32]}.jsonl"
        self.header = {
            "kind": CACHE_KIND,
            "version": CACHE_VERSION,
            "key": self.key,
            "identity": identity,
            "settings": dict(settings),
        }
        self._file = JsonlCache(self.path, self.header, "image_id")
        self._shard: JsonlCache | None = None

    def _shard_paths(self) -> list[Path]:
        return sorted(self.directory.glob(f"{self.key[:32]}.rank*.jsonl"))

    @staticmethod
    def _captions(records: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
        return {image_id: str(record.get("text", "")) for image_id, record in records.items()}

    def load(self) -> dict[str, str]:
        """Cached captions by image id: the cache's and any rank's shard's."""
        captions = self._captions(self._file.load())
        for path in self._shard_paths():
            captions.update(self._captions(JsonlCache(path, self.header, "image_id").load()))
        return captions

    def use_shard(self, rank: int) -> None:
        """Append to this rank's own shard file from now on (several processes)."""
        self._shard = JsonlCache(self.directory / f"{self.key[:32]}.rank{rank}.jsonl", self.header, "image_id")
        self._shard.load()

    def append(self, captions: Mapping[str, str]) -> None:
        target = self._shard or self._file
        target.append([{"image_id": image_id, "text": text} for image_id, text in captions.items()])

    def merge_shards(self) -> None:
        """Move every shard's captions into the cache file (rank 0, once all are done)."""
        merged = self._captions(self._file.load())
        for path in self._shard_paths():
            extra = {
                i: t
                for i, t in self._captions(JsonlCache(path, self.header, "image_id").load()).items()
                if i not in merged
            }
            if extra:
                self._file.append([{"image_id": i, "text": t} for i, t in extra.items()])
                merged.update(extra)
            path.unlink()
        self._shard = None
