"""Append-only JSONL caches, so an interrupted run resumes where it stopped: captions a
model wrote, and answers of judge models.

One file per (identity, settings): its first line records both, every other line is one
record (``{"image_id": ..., "text": ...}`` for captions). Lines are flushed and fsynced
after each batch. A run killed mid-write leaves at most one partial last line, which is cut
off when the cache is opened again. A damaged file (a header that is not this cache's,
lines that do not parse) is treated as absent where it is damaged: its sound records are
kept and the rest is computed again.

Under ``torchrun`` every rank appends to its own shard file beside the caption cache (no
two processes write one file); rank 0 merges the shards into the cache once all ranks are
done. Reading the cache reads the shards too, so a run interrupted before the merge, with
any number of processes, resumes from every rank's work.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from muge_eval.errors import OutputError
from muge_eval.io.atomic import atomic_write_text, describe_os_error, output_errors
from muge_eval.io.safe_json import JsonProblem, json_decoder, parse_json

CACHE_KIND = "muge-eval caption cache"
CACHE_VERSION = 1

Record = dict[str, Any]


def cache_key(identity: str, settings: Mapping[str, Any]) -> str:
    text = json.dumps({"identity": identity, "settings": settings, "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class JsonlCache:
    """Records keyed by their ``key_field`` (a string), in a file whose header (with its
    ``key``) names what made them. ``check`` says whether a record is sound."""

    def __init__(
        self, path: Path, header: Mapping[str, Any], key_field: str, check: Callable[[Record], bool] | None = None
    ):
        self.path = path
        self.header = dict(header)
        self.key_field = key_field
        self.check = check or (lambda record: True)

    def _header_line(self) -> str:
        return json.dumps(self.header, ensure_ascii=False) + "\n"

    def _parse(self, text: str) -> tuple[dict[str, Record], bool]:
        """Records by key and whether every line was sound. A damaged header makes the
        whole file count as absent; a damaged record is dropped."""
        lines = text.splitlines()
        decoder = json_decoder()
        try:
            header = parse_json(lines[0], decoder=decoder) if lines else None
        except JsonProblem:
            header = None
        if not isinstance(header, dict) or header.get("key") != self.header.get("key"):
            return {}, False
        records: dict[str, Record] = {}
        sound = True
        for raw in lines[1:]:
            try:
                entry = parse_json(raw, decoder=decoder)
            except JsonProblem:
                entry = None
            if isinstance(entry, dict) and isinstance(entry.get(self.key_field), str) and self.check(entry):
                records[entry[self.key_field]] = entry
            else:
                sound = False
        return records, sound

    def load(self) -> dict[str, Record]:
        """Cached records by key (creating the file with its header if needed).

        A partial last line (a killed run) is cut off; a file that is damaged otherwise is
        rewritten with what could be read.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise OutputError(f"cannot read the cache {self.path}: {describe_os_error(exc)}") from exc
        complete = data.rfind(b"\n") + 1  # a partial last line from a killed run is dropped
        records, sound = self._parse(data[:complete].decode("utf-8", errors="replace"))
        if not sound or complete < len(data):
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records.values())
            atomic_write_text(self.path, self._header_line() + body)
        return records

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        with output_errors(self.path), self.path.open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(dict(record), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _is_caption(record: Record) -> bool:
    return isinstance(record.get("text"), str)


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
        self._file = self._at(self.path)
        self._shard: JsonlCache | None = None

    def _at(self, path: Path) -> JsonlCache:
        return JsonlCache(path, self.header, "image_id", _is_caption)

    def _shard_paths(self) -> list[Path]:
        return sorted(self.directory.glob(f"{self.key[:32]}.rank*.jsonl"))

    @staticmethod
    def _captions(records: Mapping[str, Record]) -> dict[str, str]:
        return {image_id: str(record["text"]) for image_id, record in records.items()}

    def load(self) -> dict[str, str]:
        """Cached captions by image id: the cache's and any rank's shard's."""
        captions = self._captions(self._file.load())
        for path in self._shard_paths():
            captions.update(self._captions(self._at(path).load()))
        return captions

    def use_shard(self, rank: int) -> None:
        """Append to this rank's own shard file from now on (several processes)."""
        self._shard = self._at(self.directory / f"{self.key[:32]}.rank{rank}.jsonl")
        self._shard.load()

    def append(self, captions: Mapping[str, str]) -> None:
        target = self._shard or self._file
        target.append([{"image_id": image_id, "text": text} for image_id, text in captions.items()])

    def merge_shards(self) -> None:
        """Move every shard's captions into the cache file (rank 0, once all are done)."""
        merged = self._captions(self._file.load())
        for path in self._shard_paths():
            extra = {i: t for i, t in self._captions(self._at(path).load()).items() if i not in merged}
            if extra:
                self._file.append([{"image_id": i, "text": t} for i, t in extra.items()])
                merged.update(extra)
            path.unlink()
        self._shard = None
