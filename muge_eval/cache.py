"""One cache root for everything muge-eval keeps between runs, a folder per kind.

The root is ``--cache-dir`` when given, else ``$MUGE_EVAL_CACHE``, else
``$XDG_CACHE_HOME/muge-eval`` (``~/.cache/muge-eval``). Each kind of cached thing has its
own folder below it, so one variable moves (or one ``rm -r`` clears) all of them.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_CACHE = "MUGE_EVAL_CACHE"

# The kinds of cached things and what each holds (the folder name is the kind).
KINDS = {
    "datasets": "Arrow tables converted from the base64 TSV files, keyed by the files' sha256",
    "embeddings": "embedding chunks of a model on a data set (resumable encoding)",
    "captions": "captions a model wrote (resumable captioning)",
    "t2i-generations": "images a generator drew (resumable generation)",
    "fid-stats": "features and statistics of real image sets (FID Inception, DINOv2)",
    "jieba": "jieba's prefix dictionary cache",
    "weights": "weight files the user put there (never downloaded)",
}


def cache_root(override: Path | None = None) -> Path:
    """The root folder: ``override``, else ``$MUGE_EVAL_CACHE``, else the XDG cache folder."""
    if override is not None:
        return override.expanduser()
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "muge-eval"


def cache_dir(kind: str, override: Path | None = None) -> Path:
    """The folder of one kind of cached thing below the root."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache kind {kind!r} (known: {', '.join(KINDS)})")
    return cache_root(override) / kind
