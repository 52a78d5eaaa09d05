"""Reading the ``.npz`` files muge-eval caches: a damaged file reads as absent, never a traceback.

A cache file is written atomically, but a disk can still hand back a truncated, empty or
bit-flipped file (a full disk at the wrong moment, a copied cache, a failing drive). Each
way ``numpy.load`` fails on one -- ``zipfile.BadZipFile`` for a cut or CRC-damaged archive,
``EOFError`` for an empty file, ``ValueError`` for a bad header or a pickled array, and
``zlib.error`` for a damaged compressed member -- means the same here: compute it again.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

NPZ_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    KeyError,
    EOFError,
    MemoryError,  # a header that claims an impossible shape
    zipfile.BadZipFile,
    zlib.error,
)


def read_npy_array(path: Path, what: str = "array file") -> npt.NDArray[np.generic]:
    """A user's plain ``.npy`` array, read whole; any fault is one ``InputError`` naming it.

    The file is first mapped, not read: a header that claims more data than the file holds
    is refused there, before anything is allocated.
    """
    from muge_eval.errors import InputError, Problem

    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        if not isinstance(mapped, np.ndarray):
            raise ValueError("an .npz archive, expected one .npy array")
        return np.array(mapped)
    except NPZ_READ_ERRORS as exc:
        reason = str(exc) or type(exc).__name__
        raise InputError([Problem(str(path), f"not a readable .npy array: {reason}")], f"invalid {what}") from None


def read_npz_arrays(path: Path, names: Sequence[str]) -> dict[str, npt.NDArray[np.generic]] | None:
    """The arrays ``names`` of ``path``, fully read; None when the file is absent or damaged."""
    if not path.is_file():
        return None
    try:
        stored = np.load(path, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            return None  # a plain .npy under an .npz name
        with stored:
            return {name: np.asarray(stored[name]) for name in names}
    except NPZ_READ_ERRORS:
        return None
