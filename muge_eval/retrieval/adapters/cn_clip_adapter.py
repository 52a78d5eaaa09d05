"""``cn-clip``: models of the ``cn_clip`` package (Chinese-CLIP's own code).

The architecture comes from a model name (``ViT-B-16``, ``ViT-L-14``, ``ViT-L-14-336``,
``ViT-H-14``, ``RN50``: cn_clip's bundled configs) or from two config JSON files in
cn_clip's format (``vision_config=``, ``text_config=``). The weights come from
``checkpoint=``: a released ``clip_cn_*.pt`` or a fine-tuned ``epoch_latest.pt`` written by
Chinese-CLIP's training scripts, loaded with ``torch.load(weights_only=True)`` so no pickled
code runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muge_eval.data.image_transform import SQUASH, ImageTransform
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.io.jsonl import read_json_document
from muge_eval.io.safe_json import JsonProblem, parse_json
from muge_eval.models.torch_utils import require
from muge_eval.retrieval.adapters.torch_base import TorchRetrievalAdapter

CONTEXT_LENGTH = 52
# name -> (vision config, text config) among cn_clip's bundled model_configs.
NAMED_MODELS = {
    "ViT-B-16": ("ViT-B-16", "RoBERTa-wwm-ext-base-chinese"),
    "ViT-L-14": ("ViT-L-14", "RoBERTa-wwm-ext-base-chinese"),
    "ViT-L-14-336": ("ViT-L-14-336", "RoBERTa-wwm-ext-base-chinese"),
    "ViT-H-14": ("ViT-H-14", "RoBERTa-wwm-ext-large-chinese"),
    "RN50": ("RN50", "RBT3-chinese"),
}


def _read_config(path: Path) -> dict[str, Any]:
    value = read_json_document(path, "config file")
    if not isinstance(value, dict):
        raise InputError([Problem(str(path), "must be a JSON object")], "invalid config")
    layers = value.get("vision_layers")
    if isinstance(layers, str):  # cn_clip writes ResNet stages as a string "[3,4,6,3]"
        try:
            value["vision_layers"] = parse_json(layers)
        except JsonProblem as problem:
            raise InputError([Problem(str(path), problem.message, field="vision_layers")], "invalid config") from None
    return value


def _bundled_config(name: str) -> Path:
    import cn_clip.clip

    return Path(cn_clip.clip.__file__).parent / "model_configs" / f"{name}.json"


def load_state_dict(path: Path) -> dict[str, Any]:
    """The model weights of a cn_clip checkpoint, without executing pickled code."""
    import pickle

    import torch

    if not path.is_file():
        raise InputError([Problem(str(path), "checkpoint not found")], "missing file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise InputError(
            [Problem(str(path), f"not a weights-only torch checkpoint (refusing to run pickled code): {exc}")],
            "cannot load checkpoint",
        ) from exc
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise InputError([Problem(str(path), "no state_dict in the checkpoint")], "cannot load checkpoint")
    # DDP-trained checkpoints prefix every key with "module."; cn_clip drops the unused pooler.
    return {k.removeprefix("module."): v for k, v in state.items() if "bert.pooler" not in k}


def cast_like_cn_clip(model: Any, dtype: Any) -> None:
    """Reduced precision the way cn_clip's own half-precision conversion does it: convolution,
    linear, attention and projection weights and the whole BERT in ``dtype``; the vision
    LayerNorms stay float32 (cn_clip's LayerNorm computes in float32)."""
    import torch
    from cn_clip.clip.modeling_bert import BertModel

    if dtype == torch.float32:
        model.float()
        return

    def cast(module: Any) -> None:
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)):
            module.weight.data = module.weight.data.to(dtype)
            if module.bias is not None:
                module.bias.data = module.bias.data.to(dtype)
        if isinstance(module, torch.nn.MultiheadAttention):
            names = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias")
            for name in (*names, "bias_k", "bias_v"):
                tensor = getattr(module, name, None)
                if tensor is not None:
                    tensor.data = tensor.data.to(dtype)
        if isinstance(module, BertModel):
            module.to(dtype)
        for name in ("text_projection", "proj"):
            tensor = getattr(module, name, None)
            if isinstance(tensor, torch.Tensor):
                tensor.data = tensor.data.to(dtype)

    model.apply(cast)


def _released_checkpoint(name: str | None, download_root: Path | None) -> Path:
    """Where cn_clip's ``load_from_name`` keeps a released checkpoint (no download here)."""
    from cn_clip.clip.utils import _MODELS

    if name is None or name not in _MODELS:
        raise UsageError("cn-clip: pass checkpoint=FILE (the .pt to evaluate)")
    root = download_root or Path("~/.cache/clip").expanduser()
    path = root / _MODELS[name][1]
    if not path.is_file():
        raise UsageError(f"cn-clip: no checkpoint given and {path} does not exist (pass checkpoint=FILE)")
    return path


class CNCLIP(TorchRetrievalAdapter):
    """Chinese-CLIP through the cn_clip package."""

    def __init__(
        self,
        checkpoint: Path | None = None,
        name: str | None = None,
        download_root: Path | None = None,
        vision_config: Path | None = None,
        text_config: Path | None = None,
        device: str = "auto",
        dtype: str = "float32",
        batch_size: int | None = None,
        preprocess: str = SQUASH,
        jpeg_draft: bool = True,
        autocast: str | None = None,
        decode: str = "cpu",
        context_length: int = CONTEXT_LENGTH,
    ):
        super().__init__(device, dtype, batch_size, preprocess, jpeg_draft, autocast, decode)
        require("cn_clip", "cn-clip")
        if name is not None and (vision_config or text_config):
            raise UsageError("cn-clip: give either name=... or vision_config=/text_config=, not both")
        if name is None and not (vision_config and text_config):
            known = ", ".join(NAMED_MODELS)
            raise UsageError(f"cn-clip: pass name= (one of {known}) or vision_config= and text_config=")
        if name is not None:
            if name not in NAMED_MODELS:
                raise UsageError(f"cn-clip: unknown name {name!r} (known: {', '.join(NAMED_MODELS)})")
            vision_name, text_name = NAMED_MODELS[name]
            vision_config, text_config = _bundled_config(vision_name), _bundled_config(text_name)
        assert vision_config is not None and text_config is not None
        if checkpoint is None:
            checkpoint = _released_checkpoint(name, download_root)
        from cn_clip.clip.model import CLIP

        info = {**_read_config(vision_config), **_read_config(text_config)}
        self.name = name or f"{vision_config.stem}@{text_config.stem}"
        self.checkpoint = checkpoint
        self.context_length = context_length
        try:
            model = CLIP(**info)
        except TypeError as exc:
            raise InputError([Problem(str(vision_config), f"not a cn_clip model config: {exc}")]) from exc
        try:
            model.load_state_dict(load_state_dict(checkpoint))
        except RuntimeError as exc:
            raise InputError(
                [Problem(str(checkpoint), f"weights do not fit {self.name}: {str(exc)[:500]}")], "cannot load"
            ) from exc
        cast_like_cn_clip(model, self.dtype)
        self.model = model.to(self.device).eval()
        self._transform = ImageTransform(
            int(info["image_resolution"]), self.preprocess, draft=self.jpeg_draft, decode=self.decode
        )

    def image_transform(self) -> ImageTransform:
        return self._transform

    def _local_path(self) -> Path | None:
        return self.checkpoint

    def _identity(self) -> str:
        return f"cn_clip:{self.name}"

    def _model_protocol(self) -> dict[str, Any]:
        return {"library": "cn_clip", "architecture": self.name, "context_length": self.context_length}

    def _image_features(self, pixels: Any) -> Any:
        return self.model.encode_image(pixels)

    def _text_features(self, texts: list[str]) -> Any:
        from cn_clip.clip import tokenize

        return self.model.encode_text(tokenize(texts, context_length=self.context_length).to(self.device))
