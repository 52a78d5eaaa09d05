"""Common base of the torch retrieval adapters (hf-chinese-clip, cn-clip, open-clip).

Subclasses load a model and implement ``_image_features`` (normalised float pixels on the
device -> features) and ``_text_features`` (a list of strings -> features). This base
handles device and dtype choice, inference mode, the shared image preprocessing, and the
fingerprint and protocol recorded in results.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.data.image_transform import (
    CPU_DECODE,
    DECODE_MODES,
    MODES,
    SQUASH,
    TORCHVISION_DECODE,
    ImageTransform,
    normalize_pixels,
)
from muge_eval.errors import UsageError
from muge_eval.fingerprint import text_fingerprint
from muge_eval.models.base import RetrievalAdapter
from muge_eval.models.torch_utils import path_fingerprint, require, resolve_device, torch_dtype

# Where `--batch-size auto` starts halving on a GPU.
AUTO_BATCH_START = 1024


class TorchRetrievalAdapter(RetrievalAdapter):
    """A CLIP-style model in torch. Texts and images are embedded on ``device``."""

    # The encoding loop stores these models' embeddings in the on-disk cache.
    cacheable = True

    def __init__(
        self,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int | None = None,
        preprocess: str = SQUASH,
        jpeg_draft: bool = True,
        autocast: str | None = None,
        decode: str = CPU_DECODE,
    ):
        require("torch", "torch")
        if preprocess not in MODES:
            raise UsageError(f"preprocess must be one of {', '.join(MODES)}, not {preprocess!r}")
        if decode not in DECODE_MODES:
            raise UsageError(f"decode must be one of {', '.join(DECODE_MODES)}, not {decode!r}")
        if decode == TORCHVISION_DECODE:
            require("torchvision", "torch")
        if batch_size is not None and batch_size < 1:
            raise UsageError("batch_size must be positive")
        self.device = resolve_device(device)
        self.dtype_name = dtype
        self.dtype = torch_dtype(dtype)
        # Mixed precision on float32 weights (torch.autocast), e.g. autocast=float16 on CUDA.
        self.autocast = autocast
        self.autocast_dtype = torch_dtype(autocast) if autocast else None
        self.batch_size = batch_size
        self.preprocess = preprocess
        self.jpeg_draft = jpeg_draft
        # JPEGs decoded by the DataLoader workers (cpu) or by torchvision on ``device``.
        self.decode = decode
        self._fingerprint: str | None = None

    # --- what subclasses provide -------------------------------------------------
    @abstractmethod
    def image_transform(self) -> ImageTransform:
        """The preprocessing of this model's images (resolution, mean/std, mode)."""

    @abstractmethod
    def _image_features(self, pixels: Any) -> Any:
        """(n, 3, r, r) normalised pixels on the device -> (n, d) features."""

    @abstractmethod
    def _text_features(self, texts: list[str]) -> Any:
        """Texts -> (n, d) features on the device."""

    @abstractmethod
    def _identity(self) -> str:
        """What the fingerprint hashes when there is no local file (a hub id, a name)."""

    def _local_path(self) -> Path | None:
        """The checkpoint file or directory the weights came from, when local."""
        return None

    def _model_protocol(self) -> dict[str, Any]:
        return {}

    # --- shared behaviour --------------------------------------------------------
    @property
    def topk_device(self) -> str:
        return self.device

    def fingerprint(self) -> str | None:
        if self._fingerprint is None:
            local = self._local_path()
            self._fingerprint = path_fingerprint(local) if local is not None else text_fingerprint(self._identity())
        return self._fingerprint

    def protocol(self) -> dict[str, Any]:
        return {
            **self._model_protocol(),
            **self.image_transform().describe(),
            "dtype": self.dtype_name,
            "autocast": self.autocast,
            "normalisation": "L2",
        }

    def _to_numpy(self, features: Any) -> npt.NDArray[np.float32]:
        return np.asarray(features.detach().float().cpu().numpy(), dtype=np.float32)

    def _inference(self) -> Any:
        """Inference mode, under autocast when asked for."""
        import contextlib

        import torch

        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.autocast_dtype is not None:
            device_type = torch.device(self.device).type
            stack.enter_context(torch.autocast(device_type=device_type, dtype=self.autocast_dtype))
        return stack

    def encode_pixels(self, batch: Any) -> npt.NDArray[np.float32]:
        """uint8 (n, r, r, 3) pixels from the decoding workers -> (n, d) float32."""
        with self._inference():
            pixels = normalize_pixels(batch, self.image_transform(), self.device, self.dtype)
            return self._to_numpy(self._image_features(pixels))

    def encode_images(self, images: list[Image.Image]) -> npt.NDArray[np.float32]:
        transform = self.image_transform()
        return self.encode_pixels(np.stack([transform.pixels(im) for im in images]))

    def encode_texts(self, texts: list[str]) -> npt.NDArray[np.float32]:
        with self._inference():
            return self._to_numpy(self._text_features(texts))

    def auto_batch_size(self) -> int | None:
        """``--batch-size auto``: on a GPU, the largest power of two up to 1024 whose image
        batch fits (halving on out-of-memory, as lm-eval's auto does); elsewhere no
        preference (the run's default)."""
        import torch

        if not str(self.device).startswith("cuda"):
            return None
        resolution = self.image_transform().resolution
        size = AUTO_BATCH_START
        while size >= 1:
            try:
                self.encode_pixels(np.zeros((size, resolution, resolution, 3), dtype=np.uint8))
                self.encode_texts(["测试"] * size)
                return size
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                size //= 2
        raise UsageError("--batch-size auto: not even one image fits on the GPU")
