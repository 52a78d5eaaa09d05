"""The FID Inception network (pytorch-fid 0.3.0's architecture) loaded from a local file.

The network is assembled from pytorch-fid's own blocks (torchvision's Inception-v3 with
1008 classes and the FID-patched Mixed blocks), as ``pytorch_fid.inception.fid_inception_v3``
does, but the state dict comes from the user's file (``torch.load(weights_only=True)``)
instead of a download. Features are pytorch-fid's: the 2048-d final average pool; the
logits for IS are that pool times the fc weight, without the bias.

Preprocessing ``resize``:
- ``pytorch-fid`` (default): RGB, ``ToTensor`` (0..1), bilinear ``F.interpolate`` to
  299x299 (align_corners=False, no antialias), then 2x - 1: exactly pytorch-fid 0.3.0.
- ``pil-bicubic``: RGB, PIL bicubic resize to 299x299 first, then as above (no-op interpolate).
- ``clean-fid``: clean-fid's ``clean`` resize (Parmar et al. 2022): each channel of the
  uint8 RGB image as a float32 PIL image, bicubic (antialiased) resize to 299x299, clipped
  to [0, 255] and not rounded; then divided by 255 and scaled to [-1, 1] as above. The
  network stays the FID Inception of pytorch-fid (clean-fid's own FID runs the TF graph as
  TorchScript, so its values are close to these but not the same).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.errors import InputError, Problem
from muge_eval.t2i.weights import InceptionWeights

RESOLUTION = 299
FEATURE_DIM = 2048
NUM_LOGITS = 1008
RESIZE_MODES = {
    "pytorch-fid": "torch bilinear interpolate to 299x299 (align_corners=False, no antialias), as pytorch-fid 0.3.0",
    "pil-bicubic": "PIL bicubic resize to 299x299 before the network",
    "clean-fid": "clean-fid's clean resize: per channel float32 PIL bicubic (antialiased) to 299x299, clipped, "
    "not quantised",
}


@dataclass(frozen=True)
class InceptionOutputs:
    pool: npt.NDArray[np.float64]
    logits: npt.NDArray[np.float64]


def build_fid_inception() -> Any:
    """pytorch-fid's FID Inception architecture with uninitialised weights (no download)."""
    from pytorch_fid import inception as pf

    net = pf._inception_v3(num_classes=NUM_LOGITS, aux_logits=False, weights=None)
    net.Mixed_5b = pf.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pf.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pf.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pf.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pf.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pf.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pf.FIDInceptionE_1(1280)
    net.Mixed_7c = pf.FIDInceptionE_2(2048)
    return net


def load_fid_inception(weights: InceptionWeights, device: str = "cpu") -> Any:
    import torch

    net = build_fid_inception()
    try:
        state = torch.load(str(weights.path), map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or one that needs pickle
        raise InputError([Problem(str(weights.path), f"cannot load as a weights-only state dict: {exc}")]) from exc
    if not isinstance(state, dict):
        raise InputError([Problem(str(weights.path), "is not a state dict")])
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise InputError(
            [
                Problem(
                    str(weights.path),
                    "does not fit the FID Inception network (torchvision's own Inception "
                    f"weights do not): {' '.join(first)}",
                )
            ],
            "wrong Inception weights",
        ) from exc
    net.requires_grad_(False)
    return net.eval().to(device)


def _pool(net: Any, x: Any) -> Any:
    """The layers pytorch-fid's InceptionV3 blocks 0-3 run, in the same order."""
    import torch.nn.functional as F

    for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"):
        x = getattr(net, name)(x)
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    x = net.Conv2d_3b_1x1(x)
    x = net.Conv2d_4a_3x3(x)
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
        x = getattr(net, name)(x)
    for name in ("Mixed_7a", "Mixed_7b", "Mixed_7c"):
        x = getattr(net, name)(x)
    return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def clean_resize(pixels: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.float32]:
    """clean-fid's ``clean`` resize of (h, w, 3) uint8 pixels: (size, size, 3) float32 in
    [0, 255]. Each channel is resized on its own as a float image (PIL mode F), so no
    rounding happens between the filter and the network."""
    channels = [
        np.asarray(Image.fromarray(pixels[:, :, c].astype(np.float32)).resize((size, size), Image.Resampling.BICUBIC))
        for c in range(3)
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 255.0).astype(np.float32)


def image_tensor(image: Image.Image, resize: str) -> Any:
    """One image as a (3, 299, 299) tensor in [0, 1] after the chosen resize."""
    import torch
    import torch.nn.functional as F
    from torchvision.transforms.functional import pil_to_tensor

    rgb = image.convert("RGB")
    if resize == "clean-fid":
        return torch.from_numpy(clean_resize(np.asarray(rgb), RESOLUTION)).permute(2, 0, 1).div(255.0)
    if resize == "pil-bicubic":
        rgb = rgb.resize((RESOLUTION, RESOLUTION), Image.Resampling.BICUBIC)
    tensor = pil_to_tensor(rgb).float().div(255.0).unsqueeze(0)
    if tensor.shape[-2:] != (RESOLUTION, RESOLUTION):
        tensor = F.interpolate(tensor, size=(RESOLUTION, RESOLUTION), mode="bilinear", align_corners=False)
    return tensor[0]


class InceptionExtractor:
    """Pool features and unbiased logits of PIL images, batch by batch."""

    def __init__(self, weights: InceptionWeights, resize: str = "pytorch-fid", device: str = "auto"):
        import torch

        if resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize {resize!r}")
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        self.resize = resize
        self.weights = weights
        self.net = load_fid_inception(weights, self.device)

    def __call__(self, images: list[Image.Image]) -> InceptionOutputs:
        import torch

        batch = torch.stack([image_tensor(im, self.resize) for im in images]).to(self.device)
        with torch.no_grad():
            pool = _pool(self.net, 2 * batch - 1)
            logits = pool @ self.net.fc.weight.T
        return InceptionOutputs(pool.double().cpu().numpy(), logits.double().cpu().numpy())

    def run(self, batches: Iterable[list[Image.Image]]) -> InceptionOutputs:
        pools: list[npt.NDArray[np.float64]] = []
        logits: list[npt.NDArray[np.float64]] = []
        for images in batches:
            out = self(images)
            pools.append(out.pool)
            logits.append(out.logits)
        if not pools:
            return InceptionOutputs(np.zeros((0, FEATURE_DIM)), np.zeros((0, NUM_LOGITS)))
        return InceptionOutputs(np.concatenate(pools), np.concatenate(logits))
