"""Atomic writes: a results or submission file is either complete or absent, never partial.

The temporary file is created with mode 0666 and the umask applied by the kernel, as a
plain ``open(path, "w")`` would (``tempfile.mkstemp`` makes 0600 files, whatever the
umask); replacing an existing file keeps that file's mode. An ``OSError`` while writing
(a full disk, a read-only folder) becomes one ``OutputError`` naming the file, and the
temporary file is removed.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from muge_eval.errors import OutputError

# A temporary name must stay under the usual 255-byte limit of one path component.
MAX_PREFIX = 200


def describe_os_error(exc: OSError) -> str:
    """``strerror`` (and the other file, when the error names one), without a traceback."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        reason += f" ({exc.filename})"
    return reason


@contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``path`` into one ``OutputError`` naming it."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {describe_os_error(exc)}") from exc


def _random_sibling(path: Path, suffix: str) -> Path:
    return path.parent / f".{path.name[:MAX_PREFIX]}.{secrets.token_hex(6)}{suffix}"


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new file beside ``path``, mode 0666 less the umask (the kernel applies it)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        candidate = _random_sibling(path, ".tmp")
        try:
            return os.open(candidate, flags, 0o666), candidate
        except FileExistsError:
            continue


def make_sibling_dir(path: Path, tag: str) -> Path:
    """A new directory beside ``path`` (mode 0777 less the umask), for building ``path`` in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        candidate = _random_sibling(path, tag)
        try:
            candidate.mkdir(0o777)
            return candidate
        except FileExistsError:
            continue


@contextmanager
def atomic_open(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` and rename it over ``path`` on success."""
    tmp: Path | None = None
    try:
        with output_errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = _create_temporary(path)
            with suppress(FileNotFoundError):
                os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))  # keep the replaced file's mode
            kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": "\n"}
            with os.fdopen(fd, mode, **kwargs) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb", encoding=None) as handle:
        handle.write(data)


def atomic_write_json(path: Path, document: Any) -> None:
    atomic_write_text(path, json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def atomic_write_lines(path: Path, lines: Callable[[], Iterator[str]]) -> None:
    """Write lines produced by ``lines()``, each followed by a newline."""
    with atomic_open(path) as handle:
        for line in lines():
            handle.write(line)
            handle.write("\n")
