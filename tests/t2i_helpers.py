"""Shared helpers of the t2i tests: tiny data sets, PNG bytes, random Inception weights."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image


def png(colour: tuple[int, int, int], size: int = 32, noise_seed: int | None = None) -> bytes:
    array = np.full((size, size, 3), colour, dtype=np.uint8)
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
        array = np.clip(array.astype(int) + rng.integers(-40, 40, array.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_dataset(directory: Path, count: int = 8, size: int = 32, text_suffix: str = ".text.tsv") -> list[str]:
    """T2I_valid descriptions and real images; returns the ids."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = [f"{1000 + i}" for i in range(count)]
    colours = ["红色", "蓝色", "绿色", "黄色"]
    products = ["连衣裙", "保温杯", "帽子"]
    (directory / f"T2I_valid{text_suffix}").write_text(
        "".join(f"{i}\t{colours[n % 4]}{products[n % 3]}{n}\n" for n, i in enumerate(ids)), encoding="utf-8"
    )
    (directory / "T2I_valid.img.tsv").write_text(
        "".join(f"{i}\t{b64(png((20 * n % 255, 100, 200), size, n))}\n" for n, i in enumerate(ids)),
        encoding="utf-8",
    )
    return ids


def write_submission(path: Path, ids: list[str], size: int = 32, offset: int = 50) -> Path:
    path.write_text(
        "".join(f"{i}\t{b64(png((offset + 10 * n, 80, 40), size, 100 + n))}\n" for n, i in enumerate(ids)),
        encoding="utf-8",
    )
    return path


def random_inception_state(seed: int = 0) -> dict:
    """A state dict of the FID Inception network's shapes with random weights (He init, so
    activations stay finite through the 90-odd layers)."""
    import torch

    from muge_eval.t2i.inception import build_fid_inception

    torch.manual_seed(seed)
    net = build_fid_inception()
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if getattr(module, "bias", None) is not None:
                torch.nn.init.normal_(module.bias, std=0.1)
        elif isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.ones_(module.weight)
            torch.nn.init.zeros_(module.bias)
    return net.state_dict()


def save_random_weights(path: Path, seed: int = 0) -> Path:
    import torch

    torch.save(random_inception_state(seed), path)
    return path
