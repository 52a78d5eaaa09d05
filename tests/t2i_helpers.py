"""Shared helpers of the t2i tests: tiny data sets, PNG bytes, random Inception weights."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from muge_eval.t2i.adapters.diffusers_pipeline import DiffusersGenerator


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


def tiny_pipeline(directory: Path) -> Path:
    """A tiny random Stable Diffusion pipeline saved with ``save_pretrained``."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import BertTokenizer, CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8,),
        norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",),
        sample_size=16,
    )
    vocab = directory / "vocab.txt"
    directory.mkdir(parents=True)
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"红色蓝帽子连衣裙"]), encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab), model_max_length=8)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=16,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=8,
            bos_token_id=2,
            eos_token_id=3,
            pad_token_id=0,
        )
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    target = directory / "pipe"
    pipe.save_pretrained(str(target))
    return target


class LoggingDiffusers(DiffusersGenerator):
    """The diffusers adapter, appending "<rank> <img_id>..." per batch to ``log``."""

    def __init__(self, pipeline: str, log: str, steps: int = 2, height: int = 16, width: int = 16, device: str = "cpu"):
        super().__init__(pipeline, steps=steps, height=height, width=width, device=device)
        self.log = log

    def generate_items(self, ids: Sequence[str], prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.write(f"{os.environ.get('RANK', '0')} {' '.join(ids)}\n")
        return super().generate_items(ids, prompts, seeds)
