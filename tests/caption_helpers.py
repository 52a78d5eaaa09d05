"""Shared helpers of the caption tests: a tiny captioning checkpoint, a local fake
OpenAI-compatible server, and small caption data sets."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image

CHARS = list("红色蓝黑白绿黄粉连衣裙恤手提包保温杯帽子台灯抱枕雨伞条纹波点格简约时尚款")


def make_tiny_captioner(directory: Path, seed: int = 0) -> Path:
    """A randomly initialised ViT + BERT-decoder VisionEncoderDecoder with a Chinese
    character vocabulary, saved like a user's checkpoint."""
    import torch
    from transformers import (
        BertConfig,
        BertTokenizer,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *CHARS]
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab_file))
    encoder = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37
    )
    decoder = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        is_decoder=True,
        add_cross_attention=True,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.cls_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.sep_token_id
    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(config)
    model.generation_config.decoder_start_token_id = tokenizer.cls_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.sep_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(directory)
    return directory


def jpeg(colour: tuple[int, int, int], size: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_muge_split(directory: Path, references: dict[str, list[str]] | None, count: int = 6) -> list[str]:
    """IC_valid.tsv/jsonl with ``count`` images (or the ids of ``references``)."""
    directory.mkdir(parents=True, exist_ok=True)
    if references is None:
        references = {
            hashlib.md5(str(i).encode()).hexdigest(): [f"红色连衣裙{i}", f"简约红色裙子{i}号", "时尚款"]
            for i in range(count)
        }
    ids = list(references)
    (directory / "IC_valid.tsv").write_text(
        "".join(f"{i}\t{base64.b64encode(jpeg((n * 40 % 256, 80, 120))).decode()}\n" for n, i in enumerate(ids)),
        encoding="utf-8",
    )
    (directory / "IC_valid.jsonl").write_text(
        "".join(json.dumps({"image_id": i, "text": refs}, ensure_ascii=False) + "\n" for i, refs in references.items()),
        encoding="utf-8",
    )
    return ids


@contextmanager
def fake_chat_server(behaviour: Callable[[int, dict[str, Any]], Any]) -> Iterator[dict[str, Any]]:
    """A local OpenAI-compatible server. ``behaviour(n, payload)`` for the n-th request
    (from 0) returns an int status (an error answer), ``"drop"`` (close the connection
    without answering), ``("slow", seconds, text)`` or the caption text."""
    state: dict[str, Any] = {"requests": 0, "headers": [], "payloads": [], "lock": threading.Lock()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            payload = json.loads(body)
            with state["lock"]:
                number = state["requests"]
                state["requests"] += 1
                state["headers"].append(dict(self.headers))
                state["payloads"].append(payload)
            action = behaviour(number, payload)
            if action == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if isinstance(action, int):
                data = json.dumps({"error": {"message": f"status {action}"}}).encode()
                self.send_response(action)
                if action == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if isinstance(action, tuple):
                time.sleep(action[1])
                action = action[2]
            data = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": action}}]}, ensure_ascii=False
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class ColourCaptioner:
    """A deterministic captioning adapter for tests: names the dominant colour. With
    ``die_after`` it SIGKILLs its own process after that many calls (a crashed run)."""

    capabilities = frozenset({"caption"})

    def __init__(self, die_after: int = 0, calls_file: str = ""):
        self.die_after = die_after
        self.calls_file = calls_file
        self.calls = 0

    def caption(self, images: list[Image.Image]) -> list[str]:
        import os
        import signal

        if self.die_after and self.calls >= self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)
        self.calls += 1
        if self.calls_file:
            with open(self.calls_file, "a", encoding="utf-8") as handle:
                handle.write(f"{len(images)}\n")
        out = []
        for image in images:
            r, _g, _b = image.convert("RGB").resize((1, 1)).getpixel((0, 0))
            out.append("红色连衣裙" if r > 100 else "简约裙子")
        return out

    def generation_settings(self) -> dict[str, Any]:
        return {"rule": "dominant colour"}

    def cache_identity(self) -> str:
        return "colour-captioner-v1"


def prompt_text(payload: dict[str, Any]) -> str:
    """The text of the first user message of a chat request (the rubric, filled)."""
    content = next(m for m in payload["messages"] if m["role"] == "user")["content"]
    return next(part["text"] for part in content if part.get("type") == "text")


def field_after(prompt: str, label: str) -> str:
    """The line after ``label`` in a filled rubric (the candidate caption)."""
    return prompt.split(label, 1)[1].lstrip("\n").split("\n", 1)[0]


VLM_CHARS = CHARS + list("请用一句简短的中文描述这张商品图片，。写成电商平台上文案突出外观卖点不超过个字只输出话")
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tiny_vlm(directory: Path, seed: int = 0) -> Path:
    """A randomly initialised Qwen2.5-VL (two text layers, one vision block) with a
    character-level tokenizer and a Qwen-style chat template, saved like a user's
    checkpoint (model, processor, template)."""
    import string

    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
               "<|video_pad|>"]  # fmt: skip
    plain = sorted(set(string.ascii_letters + string.digits + " \n:_-.,'\"/{}[]()") | set(VLM_CHARS))
    vocab = {token: number for number, token in enumerate(special + plain)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=special[1:],
    )
    images = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56, patch_size=14, merge_size=2)
    processor = Qwen2_5_VLProcessor(
        image_processor=images, tokenizer=fast, video_processor=Qwen2VLVideoProcessor(), chat_template=CHAT_TEMPLATE
    )
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(fast), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
            "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]},
            "bos_token_id": vocab["<|im_start|>"], "eos_token_id": vocab["<|im_end|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        vision_config={
            "depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
            "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 28,
            "fullatt_block_indexes": [0],
        },
        image_token_id=vocab["<|image_pad|>"], video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"], vision_end_token_id=vocab["<|vision_end|>"],
    )  # fmt: skip
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = vocab["<|im_end|>"]
    model.generation_config.pad_token_id = vocab["<|endoftext|>"]
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
