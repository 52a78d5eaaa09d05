"""JPEG decoding on the model's device (``decode=torchvision``), in the main process.

The DataLoader workers hand over raw JPEG bytes (``PixelBatch.raw``); here they are
decoded as one batch with ``torchvision.io.decode_jpeg`` (nvJPEG on CUDA, libjpeg on the
CPU), resized on the same device with the CPU path's rule (bicubic, antialiased: squash to
``r x r``, or shortest side to ``r`` and a centre crop) and rounded back to uint8, so the
adapter's usual normalisation follows. A JPEG torchvision cannot decode is retried with
PIL (the CPU path's decoder), so an image counts as bad exactly when the CPU path would
call it bad.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from muge_eval.data.image_transform import ImageTransform
from muge_eval.data.loader import DECODE_ERRORS, PixelBatch
from muge_eval.io.pixels import jpeg_within_limit

# torchvision 0.29 deprecates its image codecs in favour of torchcodec; only this warning
# is silenced, around the decode calls.
DEPRECATION_MESSAGE = r"The image decoding and encoding capabilities of TorchVision are deprecated"


def _decode_jpegs(raw: Sequence[Any], device: Any) -> list[Any]:
    """(3, h, w) uint8 tensors on ``device``; raises when any of ``raw`` fails.

    torchvision allocates what a JPEG's header claims before it decodes: a header over the
    pixel limit, or one whose size cannot be found, is refused here (``RuntimeError``, so
    that image goes to Pillow, which refuses a bomb before allocating).
    """
    from torchvision.io import ImageReadMode, decode_jpeg

    if not all(jpeg_within_limit(np.asarray(data)) for data in raw):
        raise RuntimeError("a JPEG header is over the pixel limit or has no readable size")

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=DEPRECATION_MESSAGE)
        decoded = decode_jpeg(list(raw), device=device, mode=ImageReadMode.RGB)
    return list(decoded)


def resize_on_device(images: Sequence[Any], transform: ImageTransform) -> Any:
    """(3, h, w) uint8 tensors -> (n, r, r, 3) uint8, images of one size resized together."""
    import torch
    import torch.nn.functional as F

    r = transform.resolution
    out = torch.empty((len(images), r, r, 3), dtype=torch.uint8, device=images[0].device)
    by_shape: dict[tuple[int, int], list[int]] = {}
    for index, image in enumerate(images):
        by_shape.setdefault((int(image.shape[1]), int(image.shape[2])), []).append(index)
    for (height, width), indices in by_shape.items():
        stacked = torch.stack([images[i] for i in indices]).to(torch.float32)
        new_width, new_height = transform.resized_size(width, height)
        resized = F.interpolate(stacked, size=(new_height, new_width), mode="bicubic", antialias=True)
        left, top = (new_width - r) // 2, (new_height - r) // 2
        cropped = resized[:, :, top : top + r, left : left + r]
        pixels = cropped.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        out[torch.as_tensor(indices, device=out.device)] = pixels
    return out


def _decode_each(raw: Sequence[Any], transform: ImageTransform, device: Any) -> list[Any]:
    """One at a time after a batch failed (``raw``: uint8 tensors on the CPU): torchvision,
    then PIL; None where both fail."""
    import torch

    images: list[Any] = []
    for data in raw:
        try:
            images.append(resize_on_device(_decode_jpegs([data], device), transform)[0])
            continue
        except RuntimeError:
            pass
        try:
            array = transform(bytes(data.cpu().numpy()))
        except DECODE_ERRORS:
            images.append(None)
            continue
        images.append(torch.from_numpy(array).to(device))
    return images


def decode_on_device(batch: PixelBatch, transform: ImageTransform, device: Any) -> tuple[Any, npt.NDArray[np.bool_]]:
    """The batch's uint8 ``(n, r, r, 3)`` pixels on ``device`` (zeros where bad) and ``ok``."""
    import torch

    ok = batch.ok.copy()
    if batch.pixel_rows is None:  # decoded by the workers already
        return torch.as_tensor(batch.pixels).to(device, non_blocking=True), ok
    r = transform.resolution
    pixels = torch.zeros((len(ok), r, r, 3), dtype=torch.uint8, device=device)
    if len(batch.pixel_rows):
        rows = torch.as_tensor(batch.pixel_rows, device=device)
        pixels[rows] = torch.as_tensor(batch.pixels).to(device, non_blocking=True)
    if not batch.raw:
        return pixels, ok
    raw = [torch.as_tensor(data) for data in batch.raw]
    raw_rows = batch.raw_rows if batch.raw_rows is not None else np.zeros(0, dtype=np.int64)
    try:
        resized = resize_on_device(_decode_jpegs(raw, device), transform)
    except RuntimeError:  # at least one JPEG torchvision cannot decode: find which
        for row, image in zip(raw_rows.tolist(), _decode_each(raw, transform, device), strict=True):
            if image is not None:
                pixels[row] = image
                ok[row] = True
        return pixels, ok
    pixels[torch.as_tensor(raw_rows, device=device)] = resized
    ok[raw_rows] = True
    return pixels, ok
