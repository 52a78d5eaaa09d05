"""What the transformers captioners share: devices and dtypes, loading a checkpoint from a
local directory or the hub cache (never downloading when offline), its fingerprint, and
tidying decoded text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from muge_eval.errors import UsageError
from muge_eval.fingerprint import directory_fingerprint
from muge_eval.hub import cache_only, not_cached_message

DTYPES = ("auto", "float32", "float16", "bfloat16")
CHECKPOINT_PATTERNS = ("*.json", "*.safetensors", "*.bin", "*.txt", "*.model", "*.tiktoken", "*.jinja")
# A BERT-style Chinese tokenizer decodes "红 色 连 衣 裙": drop spaces next to CJK text.
CJK_SPACE = re.compile(r"(?<=[\u3000-\u9fff\uf900-\ufaff])\s+|\s+(?=[\u3000-\u9fff\uf900-\ufaff])")


def join_cjk(text: str) -> str:
    return CJK_SPACE.sub("", text).strip()


def check_generation(owner: str, dtype: str, max_new_tokens: int, num_beams: int) -> None:
    if dtype not in DTYPES:
        raise UsageError(f"{owner}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if max_new_tokens < 1 or num_beams < 1:
        raise UsageError(f"{owner}: max_new_tokens and num_beams must be at least 1")


def resolve_device(device: str) -> str:
    """The torch device (``auto``: CUDA when there is one); a CUDA device without a GPU
    fails here, before any loading."""
    from muge_eval.models.torch_utils import resolve_device as resolve

    return resolve(device)


class HFCheckpoint:
    """A checkpoint by path or hub id, and how to load its parts."""

    def __init__(self, owner: str, source: str, revision: str, trust_remote_code: bool):
        self.owner = owner
        self.source = source
        self.revision = revision or None
        self.kwargs: dict[str, Any] = {"revision": self.revision, "trust_remote_code": trust_remote_code}
        self.offline = cache_only(source)
        if self.offline:
            self.kwargs["local_files_only"] = True
        path = Path(source).expanduser()
        self.local_dir = path if path.is_dir() else None
        self._fingerprint: str | None = None

    def load_model(self, auto_class: Any, dtype: str) -> Any:
        import torch

        torch_dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}.get(dtype)
        try:
            return auto_class.from_pretrained(
                self.source, **self.kwargs, **({"dtype": torch_dtype} if torch_dtype else {})
            )
        except (OSError, ValueError) as exc:
            if self.offline:
                raise UsageError(f"{self.owner}: {not_cached_message(self.source)}") from exc
            raise UsageError(f"{self.owner}: cannot load model {self.source!r}: {exc}") from exc

    def fingerprint(self) -> str | None:
        if self._fingerprint is None and self.local_dir is not None:
            self._fingerprint = directory_fingerprint(self.local_dir, CHECKPOINT_PATTERNS)
        return self._fingerprint

    def cache_identity(self) -> str | None:
        """The checkpoint's content hash, or the hub id at a pinned revision (None: do not cache)."""
        if self.local_dir is not None:
            return self.fingerprint()
        return f"hub:{self.source}@{self.revision}" if self.revision else None
