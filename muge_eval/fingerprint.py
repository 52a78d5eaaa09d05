"""Content fingerprints, so a results file says exactly which bytes were evaluated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over (file name, file sha256) pairs in name order: independent of directory."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


def directory_fingerprint(directory: Path, patterns: tuple[str, ...] = ("*",)) -> str:
    """Fingerprint of every regular file under ``directory`` matching ``patterns`` (recursive)."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in patterns for p in directory.rglob(pattern) if p.is_file()})
    for path in files:
        digest.update(f"{path.relative_to(directory).as_posix()}\0{file_sha256(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


def text_fingerprint(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()
