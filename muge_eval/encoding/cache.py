"""On-disk embedding cache, written chunk by chunk so that a killed run resumes.

One directory per key (model fingerprint and protocol, the data's identity, the set's kind,
batch and chunk sizes, the ids encoded), below the cache root's ``embeddings`` folder.
``manifest.json`` records the key; each finished
chunk is one ``chunk-00000.npz`` (``embeddings`` float32, ``ok`` bool), written to a
temporary file and renamed, so a chunk file is either complete or absent. Loaded with
``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.io.atomic import atomic_write_bytes, atomic_write_json
from muge_eval.io.npz import read_npz_arrays

CACHE_VERSION = 1


def key_digest(key: Mapping[str, Any]) -> str:
    text = json.dumps({"cache_version": CACHE_VERSION, **key}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Chunk:
    embeddings: npt.NDArray[np.float32]
    ok: npt.NDArray[np.bool_]


class EmbeddingCache:
    """Chunks of one (model, data, kind) encoding."""

    def __init__(self, root: Path, key: Mapping[str, Any]):
        self.key = dict(key)
        self.directory = root / key_digest(key)[:32]
        manifest = self.directory / "manifest.json"
        if not manifest.is_file():
            atomic_write_json(manifest, {"cache_version": CACHE_VERSION, **self.key})

    def _path(self, index: int) -> Path:
        return self.directory / f"chunk-{index:05d}.npz"

    def load(self, index: int, rows: int) -> Chunk | None:
        """Chunk ``index`` if it is stored with ``rows`` rows; a damaged file counts as absent."""
        stored = read_npz_arrays(self._path(index), ("embeddings", "ok"))
        if stored is None or stored["embeddings"].dtype.kind not in "fiu" or stored["ok"].dtype != np.bool_:
            return None
        embeddings = np.asarray(stored["embeddings"], dtype=np.float32)
        ok = np.asarray(stored["ok"], dtype=np.bool_)
        if embeddings.ndim != 2 or len(embeddings) != rows or ok.shape != (rows,):
            return None
        return Chunk(embeddings, ok)

    def save(self, index: int, chunk: Chunk) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, embeddings=chunk.embeddings.astype(np.float32), ok=chunk.ok.astype(np.bool_))
        atomic_write_bytes(self._path(index), buffer.getvalue())
