"""Small torch helpers every torch adapter shares: the extra a module needs, the device
(``auto``, ``cuda`` under torchrun), the dtype, and a checkpoint's fingerprint."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from muge_eval.errors import UsageError
from muge_eval.fingerprint import directory_fingerprint, files_fingerprint

DTYPES = ("float32", "float16", "bfloat16")


def require(module: str, extra: str) -> None:
    """Import ``module`` or tell the user which extra to install."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(f"this model needs {module!r}: pip install 'muge-eval[{extra}]' ({exc})") from exc


def resolve_device(device: str | None) -> str:
    """``auto`` -> cuda when available; plain ``cuda`` under torchrun -> ``cuda:LOCAL_RANK``."""
    import torch

    chosen = device or "auto"
    if chosen == "auto":
        chosen = "cuda" if torch.cuda.is_available() else "cpu"
    if chosen == "cuda" and "LOCAL_RANK" in os.environ:
        chosen = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    if chosen.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device={chosen}: CUDA is not available here (use device=cpu)")
    try:
        torch.device(chosen)
    except RuntimeError as exc:
        raise UsageError(f"device={chosen!r} is not a torch device: {exc}") from exc
    return chosen


def torch_dtype(name: str) -> Any:
    import torch

    if name not in DTYPES:
        raise UsageError(f"dtype must be one of {', '.join(DTYPES)}, not {name!r}")
    return getattr(torch, name)


def path_fingerprint(path: Path) -> str:
    """Content hash of a checkpoint file or directory."""
    if path.is_dir():
        return directory_fingerprint(path)
    return files_fingerprint([path])
