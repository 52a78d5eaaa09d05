"""Image preprocessing shared by the torch adapters, run in decoding worker processes.

A transform turns encoded image bytes into a ``(r, r, 3)`` uint8 array; scaling to [0, 1]
and the mean/std normalisation happen on the model's device (``normalize_pixels``), so
workers and host-to-device copies move bytes, not float tensors.

Modes:
- ``squash`` (the published Chinese-CLIP protocol): ``Resize((r, r), BICUBIC)``, no crop.
- ``processor`` (transformers' ``ChineseCLIPProcessor`` and open_clip's default): resize the
  shortest side to ``r`` (bicubic), then centre-crop ``r x r``.

With ``draft`` on (opt-in), a JPEG at least twice the model resolution is decoded at a
reduced DCT scale (PIL ``Image.draft``) before resizing; this is faster and changes pixels
slightly (so top-10 lists differ from the reference pipelines, which decode at full size),
so it is off by default and recorded in the protocol.

With ``decode="torchvision"`` the workers only check each image's format: a JPEG travels
as its raw bytes and is decoded and resized on the model's device (``muge_eval.data.
device_decode``); any other format (PNG, ...) is still decoded here with PIL.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

SQUASH = "squash"
PROCESSOR = "processor"
MODES = (SQUASH, PROCESSOR)
CPU_DECODE = "cpu"
TORCHVISION_DECODE = "torchvision"
DECODE_MODES = (CPU_DECODE, TORCHVISION_DECODE)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MODE_DESCRIPTIONS = {
    SQUASH: "Resize((r, r), BICUBIC), no centre crop (Chinese-CLIP eval scripts)",
    PROCESSOR: "resize shortest side to r (BICUBIC), centre crop r x r (transformers processor)",
}


@dataclass(frozen=True)
class ImageTransform:
    """Picklable: it is sent to DataLoader worker processes."""

    resolution: int
    mode: str = SQUASH
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    draft: bool = False
    decode: str = CPU_DECODE

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"preprocess must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.decode not in DECODE_MODES:
            raise ValueError(f"decode must be one of {', '.join(DECODE_MODES)}, not {self.decode!r}")
        if self.resolution < 1:
            raise ValueError("resolution must be positive")

    def describe(self) -> dict[str, Any]:
        return {
            "preprocess": self.mode,
            "resize": MODE_DESCRIPTIONS[self.mode],
            "resolution": self.resolution,
            "mean": list(self.mean),
            "std": list(self.std),
            "jpeg_draft": self.draft,
            "color": "RGB",
            "decode": self.decode,
        }

    def open(self, data: bytes) -> Image.Image:
        image = Image.open(io.BytesIO(data))
        if self.draft and image.format == "JPEG":
            image.draft("RGB", (self.resolution, self.resolution))
        image.load()
        return image

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """``(width, height)`` an image is resized to before the centre crop (none for squash)."""
        r = self.resolution
        if self.mode == SQUASH:
            return r, r
        if width <= height:
            return r, max(r, int(r * height / width))
        return max(r, int(r * width / height)), r

    def pixels(self, image: Image.Image) -> npt.NDArray[np.uint8]:
        """``(r, r, 3)`` uint8 of an opened image."""
        r = self.resolution
        if self.mode == SQUASH:
            resized = image.resize((r, r), Image.Resampling.BICUBIC)
        else:
            image = image.convert("RGB")
            size = self.resized_size(*image.size)
            resized = image.resize(size, Image.Resampling.BICUBIC)
            left, top = (size[0] - r) // 2, (size[1] - r) // 2
            resized = resized.crop((left, top, left + r, top + r))
        array = np.array(resized.convert("RGB"), dtype=np.uint8)
        return array

    def __call__(self, data: bytes) -> npt.NDArray[np.uint8]:
        return self.pixels(self.open(data))


def normalize_pixels(batch: Any, transform: ImageTransform, device: Any, dtype: Any) -> Any:
    """uint8 ``(n, r, r, 3)`` (numpy or torch) -> normalised ``(n, 3, r, r)`` on ``device``."""
    import torch

    tensor = torch.as_tensor(batch).to(device, non_blocking=True)
    tensor = tensor.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    mean = torch.tensor(transform.mean, device=tensor.device, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(transform.std, device=tensor.device, dtype=torch.float32).view(1, 3, 1, 1)
    return tensor.sub_(mean).div_(std).to(dtype)
