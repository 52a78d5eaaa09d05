"""DINOv2 CLS features for FD-DINOv2 (Stein et al., NeurIPS 2023), from local weights only.

The network is transformers' ``Dinov2Model``, loaded from either

- a directory saved with ``save_pretrained`` (or a downloaded ``facebook/dinov2-large``
  snapshot): ``from_pretrained(dir, local_files_only=True)``; or
- the official torch.hub checkpoint file (``dinov2_vitl14_pretrain.pth``), read with
  ``torch.load(weights_only=True)``; its keys are renamed to transformers' (as
  transformers' own ``convert_dinov2_to_hf.py`` does) and the architecture is read from the
  tensor shapes (DINOv2 heads are 64 wide).

Nothing is downloaded. The file's sha256 (a directory's content fingerprint) is recorded.
The standard network is ViT-L/14 (1024-d features, 24 blocks); another size is refused
unless ``allow_nonstandard_weights`` is set, as its distances are not comparable.

Preprocessing is dgm-eval's (the paper's code): RGB, PIL bicubic resize to 224x224, pixels
/ 255, ImageNet mean and std. The feature is the CLS token after the final layer norm
(the hub model's output; transformers' ``pooler_output``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import directory_fingerprint, file_sha256
from muge_eval.t2i.weights import WeightsSearch

DINOV2_FILE = "dinov2_vitl14_pretrain.pth"
DINOV2_SEARCH = WeightsSearch("--dinov2-weights", "MUGE_EVAL_DINOV2_WEIGHTS", DINOV2_FILE, directory_ok=True)
RESOLUTION = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HEAD_WIDTH = 64
STANDARD = {"hidden_size": 1024, "num_hidden_layers": 24, "patch_size": 14}
PREPROCESSING = "RGB, PIL bicubic resize to 224x224, /255, ImageNet mean/std (dgm-eval)"


@dataclass(frozen=True)
class DinoV2Weights:
    path: Path
    sha256: str
    kind: str  # "transformers-dir" or "hub-file"
    architecture: Mapping[str, int]

    @property
    def standard(self) -> bool:
        return all(self.architecture.get(k) == v for k, v in STANDARD.items())

    def describe(self) -> str:
        a = self.architecture
        return f"ViT, {a.get('hidden_size')}-d, {a.get('num_hidden_layers')} blocks, patch {a.get('patch_size')}"


def missing_dinov2_message(metrics: Iterable[str]) -> str:
    listed = ", ".join(metrics)
    verb = "needs" if len(listed.split(", ")) == 1 else "need"
    places = ", ".join(str(p) for p in DINOV2_SEARCH.candidates())
    return (
        f"{listed} {verb} DINOv2 ViT-L/14 weights: a transformers directory (facebook/dinov2-large "
        f"saved locally) or torch.hub's {DINOV2_FILE}. Pass --dinov2-weights PATH, set {DINOV2_SEARCH.env}, "
        f"or put the file in one of: {places}. Nothing is downloaded."
    )


def _hub_architecture(state: Mapping[str, Any], path: Path) -> dict[str, int]:
    """ViT sizes read from a torch.hub DINOv2 state dict's shapes."""
    problems = []
    if any(k.startswith("register_tokens") for k in state):
        problems.append("has register tokens (DINOv2 with registers): not supported")
    if any(".mlp.w12." in k for k in state):
        problems.append("uses SwiGLU blocks (ViT-g): not supported")
    if any(re.match(r"blocks\.\d+\.\d+\.", k) for k in state):
        problems.append("has chunked blocks (blocks.C.I.*): save the model unchunked")
    missing = [k for k in ("cls_token", "pos_embed", "patch_embed.proj.weight", "norm.weight") if k not in state]
    if missing:
        problems.append(f"is not a DINOv2 torch.hub state dict (missing {', '.join(missing)})")
    if problems:
        raise InputError([Problem(str(path), p) for p in problems], "unexpected DINOv2 weights")
    hidden = int(state["cls_token"].shape[-1])
    patch = int(state["patch_embed.proj.weight"].shape[-1])
    grid = round((int(state["pos_embed"].shape[1]) - 1) ** 0.5)
    layers = len({int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.norm1\.weight$", k))})
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "patch_size": patch,
        "image_size": grid * patch,
        "intermediate_size": int(state["blocks.0.mlp.fc1.weight"].shape[0]),
        "num_attention_heads": max(1, hidden // HEAD_WIDTH),
    }


def _attention_names(model_keys: Iterable[str]) -> tuple[str, str, str, str]:
    """transformers' names of the query, key, value and output projections (they changed
    between versions)."""
    if any(k.endswith("attention.q_proj.weight") for k in model_keys):
        return "attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.o_proj"
    return "attention.attention.query", "attention.attention.key", "attention.attention.value", "attention.output.dense"


def hub_to_transformers(state: Mapping[str, Any], layers: int, model_state: Mapping[str, Any]) -> dict[str, Any]:
    """A torch.hub DINOv2 state dict under the names of transformers' ``Dinov2Model``
    (``model_state``: the target model's own state dict)."""
    query, key, value, output = _attention_names(model_state)
    out = {
        "embeddings.cls_token": state["cls_token"],
        # Unused at inference (it replaces masked patches in training); absent: the default.
        "embeddings.mask_token": state.get("mask_token", model_state["embeddings.mask_token"]),
        "embeddings.position_embeddings": state["pos_embed"],
        "embeddings.patch_embeddings.projection.weight": state["patch_embed.proj.weight"],
        "embeddings.patch_embeddings.projection.bias": state["patch_embed.proj.bias"],
        "layernorm.weight": state["norm.weight"],
        "layernorm.bias": state["norm.bias"],
    }
    renames = {
        "norm1": "norm1",
        "norm2": "norm2",
        "mlp.fc1": "mlp.fc1",
        "mlp.fc2": "mlp.fc2",
        "attn.proj": output,
    }
    for i in range(layers):
        src, dst = f"blocks.{i}.", f"encoder.layer.{i}."
        for old, new in renames.items():
            for leaf in ("weight", "bias"):
                out[f"{dst}{new}.{leaf}"] = state[f"{src}{old}.{leaf}"]
        out[f"{dst}layer_scale1.lambda1"] = state[f"{src}ls1.gamma"]
        out[f"{dst}layer_scale2.lambda1"] = state[f"{src}ls2.gamma"]
        qkv_weight, qkv_bias = state[f"{src}attn.qkv.weight"], state[f"{src}attn.qkv.bias"]
        width = qkv_weight.shape[0] // 3
        for part, name in enumerate((query, key, value)):
            out[f"{dst}{name}.weight"] = qkv_weight[part * width : (part + 1) * width]
            out[f"{dst}{name}.bias"] = qkv_bias[part * width : (part + 1) * width]
    return out


def _load_hub_file(path: Path) -> dict[str, Any]:
    import torch

    try:
        try:  # tensors read lazily: checking a 1.2 GB file costs little
            state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            state = torch.load(str(path), map_location="cpu", weights_only=True)  # an old, non-zip file
    except Exception as exc:  # not a torch file, or one that needs pickle
        raise InputError([Problem(str(path), f"cannot load as a weights-only state dict: {exc}")]) from exc
    if not isinstance(state, dict):
        raise InputError([Problem(str(path), "is not a state dict")])
    return state


def _transformers_architecture(path: Path) -> dict[str, int]:
    import json

    config_file = path / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError([Problem(str(config_file), f"cannot read a transformers config: {exc}")]) from exc
    if config.get("model_type") != "dinov2":
        raise InputError(
            [Problem(str(config_file), f"model_type is {config.get('model_type')!r}, not 'dinov2'", None, "model_type")]
        )
    keys = ("hidden_size", "num_hidden_layers", "patch_size", "image_size", "intermediate_size", "num_attention_heads")
    return {k: int(config[k]) for k in keys if k in config}


def check_dinov2_weights(path: Path, allow_nonstandard: bool) -> DinoV2Weights:
    """Identify and hash the weights (reading the hub file's tensors lazily); refuse a
    non-ViT-L/14 network unless allowed."""
    require_transformers()
    if path.is_dir():
        weights = DinoV2Weights(path, directory_fingerprint(path), "transformers-dir", _transformers_architecture(path))
    else:
        state = _load_hub_file(path)
        weights = DinoV2Weights(path, file_sha256(path), "hub-file", _hub_architecture(state, path))
    if not weights.standard and not allow_nonstandard:
        raise InputError(
            [
                Problem(
                    str(path),
                    f"is a {weights.describe()}, not DINOv2 ViT-L/14: its FD-DINOv2 would not be comparable with "
                    "published numbers (pass --task-args allow_nonstandard_weights=true to compute it anyway)",
                )
            ],
            "unexpected DINOv2 weights",
        )
    return weights


def load_dinov2(weights: DinoV2Weights, device: str) -> Any:
    """transformers' Dinov2Model with the user's weights, in eval mode on ``device``."""
    from transformers import Dinov2Config, Dinov2Model

    if weights.kind == "transformers-dir":
        try:
            model = Dinov2Model.from_pretrained(str(weights.path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InputError([Problem(str(weights.path), f"cannot load a Dinov2Model: {exc}")]) from exc
    else:
        arch = weights.architecture
        config = Dinov2Config(
            hidden_size=arch["hidden_size"],
            num_hidden_layers=arch["num_hidden_layers"],
            num_attention_heads=arch["num_attention_heads"],
            mlp_ratio=arch["intermediate_size"] // arch["hidden_size"],
            patch_size=arch["patch_size"],
            image_size=arch["image_size"],
        )
        model = Dinov2Model(config)
        state = hub_to_transformers(_load_hub_file(weights.path), arch["num_hidden_layers"], model.state_dict())
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = " ".join(str(exc).splitlines()[:3])
            raise InputError([Problem(str(weights.path), f"does not fit a DINOv2 ViT: {first}")]) from exc
    model.requires_grad_(False)
    return model.eval().to(device)


def dinov2_pixels(image: Image.Image) -> npt.NDArray[np.float32]:
    """One image as normalised (3, 224, 224) float32 pixels."""
    rgb = image.convert("RGB").resize((RESOLUTION, RESOLUTION), Image.Resampling.BICUBIC)
    pixels = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)
    mean, std = np.asarray(IMAGENET_MEAN, np.float32), np.asarray(IMAGENET_STD, np.float32)
    return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1))


class DinoV2Extractor:
    """CLS features of PIL images, batch by batch."""

    def __init__(self, weights: DinoV2Weights, device: str):
        self.weights = weights
        self.device = device
        self.model = load_dinov2(weights, device)

    def __call__(self, images: list[Image.Image]) -> npt.NDArray[np.float64]:
        import torch

        batch = torch.from_numpy(np.stack([dinov2_pixels(im) for im in images])).to(self.device)
        with torch.no_grad():
            cls = self.model(pixel_values=batch).pooler_output
        return np.asarray(cls.double().cpu().numpy())

    def protocol(self) -> dict[str, Any]:
        return {
            "network": "DINOv2 (transformers Dinov2Model), CLS token after the final layer norm",
            "weights": self.weights.path.name,
            "weights_kind": self.weights.kind,
            "weights_sha256": self.weights.sha256,
            "architecture": dict(self.weights.architecture),
            "standard_weights": self.weights.standard,
            "preprocessing": PREPROCESSING,
            "resolution": RESOLUTION,
            "device": self.device,
        }


def require_transformers() -> None:
    try:
        import transformers  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"DINOv2 features need transformers: pip install 'muge-eval[torch]' ({exc})") from exc
