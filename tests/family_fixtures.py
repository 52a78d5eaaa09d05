"""Tiny random checkpoints of the added model families, saved as a user's would be (with
``save_pretrained`` / ``SentenceTransformer.save``), and a local embeddings server."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from models_fixtures import CHARS, write_vocab
from PIL import Image

VISION = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
          "image_size": 32, "patch_size": 8}  # fmt: skip


def _clip_image_processor(size: int = 32) -> Any:
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def build_altclip(directory: Path, seed: int = 0) -> Path:
    """A 2-layer random AltCLIPModel with an XLM-R style (unigram) tokenizer."""
    import torch
    from transformers import AltCLIPConfig, AltCLIPModel, AltCLIPProcessor, XLMRobertaTokenizer

    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(c, -1.0) for c in sorted(set(CHARS))] + [(chr(c), -1.5) for c in range(ord("a"), ord("z") + 1)]
    pieces += [("▁", -2.0), ("<mask>", 0.0)]
    tokenizer = XLMRobertaTokenizer(vocab=pieces)
    text = {"vocab_size": len(pieces), "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 96, "project_dim": 16, "pad_token_id": 1}  # fmt: skip
    torch.manual_seed(seed)
    model = AltCLIPModel(AltCLIPConfig(text_config=text, vision_config=VISION, projection_dim=16)).eval()
    model.save_pretrained(directory)
    AltCLIPProcessor(image_processor=_clip_image_processor(), tokenizer=tokenizer).save_pretrained(directory)
    return directory


def build_taiyi(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """(text tower, vision tower): a BertForSequenceClassification whose 16 logits are the
    text embedding, and an OpenAI-style CLIPModel with its image processor."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer, CLIPConfig, CLIPModel

    text_dir, vision_dir = directory / "taiyi-text", directory / "clip-vision"
    text_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizer(str(write_vocab(directory / "vocab.txt")))
    torch.manual_seed(seed)
    bert = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128, num_labels=16)  # fmt: skip
    BertForSequenceClassification(bert).eval().save_pretrained(text_dir)
    tokenizer.save_pretrained(text_dir)
    clip_text = {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "intermediate_size": 64, "max_position_embeddings": 16}  # fmt: skip
    CLIPModel(CLIPConfig(text_config=clip_text, vision_config=VISION, projection_dim=16)).eval().save_pretrained(
        vision_dir
    )
    _clip_image_processor().save_pretrained(vision_dir)
    return text_dir, vision_dir


def build_sentence_transformers(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """Multilingual-CLIP style: (a BERT text model distilled to 16 dims, a CLIP image model)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertConfig, BertModel, BertTokenizer, CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer

    torch.manual_seed(seed)
    bert_dir = directory / "bert"
    bert_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizer(str(write_vocab(directory / "vocab.txt")))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)  # fmt: skip
    BertModel(config).save_pretrained(bert_dir)
    tokenizer.save_pretrained(bert_dir)
    word = models.Transformer(str(bert_dir))
    text_model = SentenceTransformer(
        modules=[word, models.Pooling(32, "mean"), models.Dense(32, 16, activation_function=torch.nn.Identity())],
        device="cpu",
    )
    text_path = directory / "text-st"
    text_model.save(str(text_path))
    clip_dir = directory / "clip"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in "abcdefghijklmnopqrstuvwxyz":
        vocab[char], vocab[char + "</w>"] = len(vocab), len(vocab) + 1
    clip_text = {"vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                 "intermediate_size": 64, "max_position_embeddings": 16, "bos_token_id": 0, "eos_token_id": 1,
                 "pad_token_id": 1}  # fmt: skip
    CLIPModel(CLIPConfig(text_config=clip_text, vision_config=VISION, projection_dim=16)).save_pretrained(clip_dir)
    CLIPProcessor(
        image_processor=_clip_image_processor(), tokenizer=CLIPTokenizer(vocab=vocab, merges=[])
    ).save_pretrained(clip_dir)
    image_model = SentenceTransformer(modules=[models.CLIPModel(str(clip_dir))], device="cpu")
    image_path = directory / "image-st"
    image_model.save(str(image_path))
    return text_path, image_path


def build_qwen2_vl_embedder(directory: Path, seed: int = 0) -> Path:
    """A 2-layer random Qwen2-VL with a byte-level tokenizer and Qwen's special tokens."""
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (
        Qwen2Tokenizer,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    vocab = {char: i for i, char in enumerate(sorted(set(ByteLevel.alphabet())))}
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|image_pad|>", "<|video_pad|>"]  # fmt: skip
    for token in specials:
        vocab[token] = len(vocab)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    text = {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 1024,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|endoftext|>"]}  # fmt: skip
    vision = {"depth": 1, "embed_dim": 32, "hidden_size": 32, "num_heads": 2, "mlp_ratio": 2, "patch_size": 14,
              "spatial_merge_size": 2, "temporal_patch_size": 2}  # fmt: skip
    config = Qwen2VLConfig(
        text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(seed)
    Qwen2VLForConditionalGeneration(config).eval().save_pretrained(directory)
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(), tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor()
    )
    processor.save_pretrained(directory)
    return directory


# --- a local OpenAI-compatible embeddings server ---------------------------------------
def text_vector(text: str, dim: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [b / 255.0 - 0.5 for b in digest[:dim]]


def image_vector(data_url: str, dim: int = 8) -> list[float]:
    """Mean colour of the PNG in a data URL, then zeros: what the fake server embeds."""
    header, _, payload = data_url.partition(",")
    assert header == "data:image/png;base64"
    array = np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB"), dtype=np.float64)
    mean = (array.reshape(-1, 3).mean(axis=0) / 255.0 - 0.5).tolist()
    return mean + [0.25] * (dim - 3)


@contextmanager
def embeddings_server(behaviour: Callable[[int, dict[str, Any]], Any] | None = None) -> Iterator[dict[str, Any]]:
    """``/v1/embeddings`` on 127.0.0.1: ``input`` strings, or ``messages`` with a text or
    an image part. ``behaviour(n, payload)`` may return an HTTP status to fail with."""
    state: dict[str, Any] = {"requests": 0, "payloads": [], "headers": []}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                number = state["requests"]
                state["requests"] += 1
                state["payloads"].append(payload)
                state["headers"].append(dict(self.headers))
            status = behaviour(number, payload) if behaviour else None
            if isinstance(status, int):
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"error": "busy"}')
                return
            if "input" in payload:
                vectors = [text_vector(t) for t in payload["input"]]
            else:
                content = payload["messages"][-1]["content"]
                image = next((c for c in content if c["type"] == "image_url"), None)
                text = next((c["text"] for c in content if c["type"] == "text"), "")
                vectors = [image_vector(image["image_url"]["url"]) if image else text_vector(text)]
            body = {
                "object": "list",
                "data": [{"index": i, "embedding": v} for i, v in reversed(list(enumerate(vectors)))],
            }
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {**state, "url": f"http://127.0.0.1:{server.server_address[1]}/v1", "state": state}
    finally:
        server.shutdown()
        server.server_close()
