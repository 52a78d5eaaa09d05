"""Tiny random checkpoints of each supported model family, saved the way a user's would be."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from muge_eval.retrieval.adapters.hf_chinese_clip import HFChineseCLIP

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Characters of the bundled sample queries and then some common ones.
CHARS = "新款黄色双肩包白的抱枕台灯红蓝绿黑灰粉紫男女童鞋帽衣裤裙子手机壳杯碗盘高级感托特斜挎小大短长袖"


def write_vocab(path: Path) -> Path:
    # '"' is in Chinese BERT vocabularies, the curly quotes are not (they become [UNK]).
    tokens = SPECIAL + ['"'] + sorted(set(CHARS)) + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return path


def build_hf_chinese_clip(directory: Path, image_size: int = 32, seed: int = 0) -> Path:
    """A 2-layer random ChineseCLIPModel + processor, saved with save_pretrained."""
    import torch
    from transformers import (
        BertTokenizer,
        ChineseCLIPConfig,
        ChineseCLIPImageProcessor,
        ChineseCLIPModel,
        ChineseCLIPProcessor,
    )

    directory.mkdir(parents=True, exist_ok=True)
    vocab = write_vocab(directory / "vocab_src.txt")
    tokenizer = BertTokenizer(str(vocab))
    text = {
        "vocab_size": tokenizer.vocab_size,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    }
    vision = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "image_size": image_size,
        "patch_size": 8,
    }
    torch.manual_seed(seed)
    config = ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    model = ChineseCLIPModel(config).eval()
    model.save_pretrained(directory)
    size = {"shortest_edge": image_size}
    crop = {"height": image_size, "width": image_size}
    processor = ChineseCLIPProcessor(
        image_processor=ChineseCLIPImageProcessor(size=size, crop_size=crop), tokenizer=tokenizer
    )
    processor.save_pretrained(directory)
    vocab.unlink()
    return directory


def build_cn_clip(directory: Path, seed: int = 0) -> tuple[Path, Path, Path]:
    """A tiny cn_clip CLIP: (vision config, text config, epoch_latest.pt-style checkpoint)."""
    import torch
    from cn_clip.clip.model import CLIP

    directory.mkdir(parents=True, exist_ok=True)
    vision = {
        "embed_dim": 16,
        "image_resolution": 32,
        "vision_layers": 2,
        "vision_width": 64,
        "vision_patch_size": 8,
        "vision_head_width": 32,
    }
    text = {
        "vocab_size": 21128,
        "text_attention_probs_dropout_prob": 0.1,
        "text_hidden_act": "gelu",
        "text_hidden_dropout_prob": 0.1,
        "text_hidden_size": 32,
        "text_initializer_range": 0.02,
        "text_intermediate_size": 64,
        "text_max_position_embeddings": 64,
        "text_num_attention_heads": 2,
        "text_num_hidden_layers": 2,
        "text_type_vocab_size": 2,
    }
    vision_path, text_path = directory / "tiny-vit.json", directory / "tiny-bert.json"
    vision_path.write_text(json.dumps(vision), encoding="utf-8")
    text_path.write_text(json.dumps(text), encoding="utf-8")
    torch.manual_seed(seed)
    model = CLIP(**vision, **text)
    # Chinese-CLIP's training script saves DDP weights under "module." with these keys.
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    checkpoint = directory / "epoch_latest.pt"
    torch.save({"epoch": 3, "step": 120, "name": "tiny", "state_dict": state, "optimizer": {"state": {}}}, checkpoint)
    return vision_path, text_path, checkpoint


def build_open_clip(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """A tiny open_clip model: (model config JSON, checkpoint state dict)."""
    import open_clip
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
    }
    config_path = directory / "tiny-clip.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    open_clip.add_model_config(config_path)
    torch.manual_seed(seed)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    checkpoint = directory / "tiny-clip.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    return config_path, checkpoint


class SlowHFChineseCLIP(HFChineseCLIP):
    """hf-chinese-clip that sleeps after each image batch, so a test can kill it mid-run."""

    def encode_pixels(self, batch: Any) -> Any:
        out = super().encode_pixels(batch)
        time.sleep(0.1)
        return out


def random_jpeg(rng: Any, width: int, height: int) -> bytes:
    """A smooth random picture (noise would defeat JPEG), as JPEG bytes."""
    import io

    import numpy as np
    from PIL import Image

    small = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def make_retrieval_split(
    directory: Path, n_images: int = 48, n_queries: int = 24, bad_rows: tuple[int, ...] = (), seed: int = 0
) -> Path:
    """MR_valid_imgs.tsv + MR_valid_queries.jsonl; rows in ``bad_rows`` hold broken JPEGs."""
    import base64

    import numpy as np

    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in range(n_images):
        data = random_jpeg(rng, int(rng.integers(40, 80)), int(rng.integers(40, 80)))
        if row in bad_rows:
            data = data[: len(data) // 3]
        lines.append(f"{1000 + row}\t{base64.b64encode(data).decode()}\n")
    (directory / "MR_valid_imgs.tsv").write_text("".join(lines), encoding="utf-8")
    queries = []
    for q in range(n_queries):
        text = "".join(rng.choice(list(CHARS), size=int(rng.integers(2, 8))))
        relevant = sorted({1000 + int(i) for i in rng.choice(n_images, size=3, replace=False)})
        queries.append(json.dumps({"query_id": q, "query_text": text, "item_ids": relevant}, ensure_ascii=False))
    (directory / "MR_valid_queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    return directory


class CrashingHFChineseCLIP(HFChineseCLIP):
    """hf-chinese-clip that fails after ``crash_after`` image batches (a crash mid-run)."""

    def __init__(self, crash_after: int = 2, **kwargs: Any):
        super().__init__(**kwargs)
        self.crash_after = crash_after

    def encode_pixels(self, batch: Any) -> Any:
        if self.crash_after <= 0:
            raise RuntimeError("simulated crash")
        self.crash_after -= 1
        return super().encode_pixels(batch)


def chunk_files(cache_root: Path, kind: str) -> list[Path]:
    """Finished chunk files of one kind (texts or images) under an embedding cache root."""
    found: list[Path] = []
    for manifest in cache_root.glob("*/manifest.json"):
        try:
            if json.loads(manifest.read_text(encoding="utf-8")).get("kind") == kind:
                found.extend(sorted(manifest.parent.glob("chunk-*.npz")))
        except (OSError, ValueError):
            continue
    return found
