"""End-to-end retrieval throughput of `muge-eval run` against the model's own ceiling.

Builds, on the fly, a MUGE-valid-size split (default 29,806 JPEG images of 224x224 in a
base64 TSV, 5,008 queries) and a real-size random Chinese-CLIP (ViT-B/16 image tower,
RoBERTa-base text tower, saved with save_pretrained: no download). Then, in one run:

1. ceiling: the image tower's forward throughput on random tensors already on the device
   (same batch size and dtype), images/s;
2. end to end: `python -m muge_eval run --model hf-chinese-clip ...` in a subprocess (no
   embedding cache), images/s = images / image-encoding wall time from results.json;
   plus the share of that time the decoding workers spent decoding (CPU seconds);
   with --decode torchvision (or both) the JPEGs are decoded on the model's device
   (`decode=torchvision`) and the main process's decode time is printed too;
3. with --baseline, the Chinese-CLIP eval scripts' way: PIL decode in the main process,
   float tensors, batch 64 (on at most 2,048 images).

Each measure is the best of ``--repeats`` (default 3), the repeats interleaved; the header
names the CPU, the load average and the BLAS kernels.

Usage: python benchmarks/retrieval_e2e.py [--quick] [--images N] [--queries N]
           [--device auto|cpu|cuda] [--dtype float32|float16|bfloat16] [--autocast float16|bfloat16]
           [--batch-size N]
           [--num-workers N] [--model-size base|tiny] [--baseline] [--ceiling-batches N]
           [--decode cpu|torchvision|both]
           [--workdir DIR] [--repeats N]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from bench_env import MIN_REPEATS, load_average, print_machine

ROOT = Path(__file__).resolve().parents[1]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB_SIZE = 21128  # Chinese-CLIP's RoBERTa vocabulary size
WORDS = "新款黄色双肩包白的抱枕台灯红蓝绿黑灰粉紫男女童鞋帽衣裤裙子手机壳杯碗盘高级感托特斜挎小大短长袖"


def _jpeg(seed: int) -> str:
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    image = Image.fromarray(base).resize((224, 224), Image.Resampling.BICUBIC)
    noise = rng.integers(-12, 13, size=(224, 224, 3))
    pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def build_split(directory: Path, images: int, queries: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with Pool(max(1, (os.cpu_count() or 2) - 1)) as pool, (directory / "MR_valid_imgs.tsv").open("w") as out:
        for item, encoded in enumerate(pool.imap(_jpeg, range(images), chunksize=64)):
            out.write(f"{100000 + item}\t{encoded}\n")
    rng = np.random.default_rng(1)
    with (directory / "MR_valid_queries.jsonl").open("w", encoding="utf-8") as out:
        for query in range(queries):
            text = "".join(rng.choice(list(WORDS), size=int(rng.integers(3, 12))))
            relevant = sorted({100000 + int(i) for i in rng.choice(images, size=min(6, images), replace=False)})
            out.write(json.dumps({"query_id": query, "query_text": text, "item_ids": relevant}, ensure_ascii=False))
            out.write("\n")


def build_model(directory: Path, size: str) -> None:
    import torch
    from transformers import (
        BertTokenizer,
        ChineseCLIPConfig,
        ChineseCLIPImageProcessor,
        ChineseCLIPModel,
        ChineseCLIPProcessor,
    )

    directory.mkdir(parents=True, exist_ok=True)
    chars = [chr(c) for c in range(0x4E00, 0x9FA6)]
    tokens = SPECIAL + chars[: VOCAB_SIZE - len(SPECIAL)]
    vocab = directory / "vocab_src.txt"
    vocab.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab))
    if size == "base":  # ViT-B/16 and RoBERTa-wwm-ext-base, as Chinese-CLIP ViT-B/16
        width, layers, heads, ffn, projection = 768, 12, 12, 3072, 512
    else:
        width, layers, heads, ffn, projection = 64, 2, 2, 128, 32
    text = {"vocab_size": len(tokens), "hidden_size": width, "num_hidden_layers": layers}
    text.update({"num_attention_heads": heads, "intermediate_size": ffn, "max_position_embeddings": 512})
    vision = {"hidden_size": width, "num_hidden_layers": layers, "num_attention_heads": heads}
    vision.update({"intermediate_size": ffn, "image_size": 224, "patch_size": 16})
    torch.manual_seed(0)
    config = ChineseCLIPConfig(text_config=text, vision_config=vision, projection_dim=projection)
    ChineseCLIPModel(config).save_pretrained(directory)
    ChineseCLIPProcessor(image_processor=ChineseCLIPImageProcessor(), tokenizer=tokenizer).save_pretrained(directory)
    vocab.unlink()


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def ceiling(model_dir: Path, device: str, dtype: str, autocast: str | None, batch_size: int, batches: int) -> float:
    """Image-tower forwards per second on normalised tensors already on the device."""
    import torch

    from muge_eval.retrieval.adapters.hf_chinese_clip import HFChineseCLIP

    adapter = HFChineseCLIP(model=str(model_dir), device=device, dtype=dtype, autocast=autocast)
    pixels = torch.randn(batch_size, 3, 224, 224, device=adapter.device).to(adapter.dtype)
    with adapter._inference():
        adapter._image_features(pixels)  # warm-up
        _sync(adapter.device)
        started = time.perf_counter()
        for _ in range(batches):
            adapter._image_features(pixels)
        _sync(adapter.device)
    rate = batches * batch_size / (time.perf_counter() - started)
    del adapter, pixels
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return rate


def main_process_baseline(data: Path, model_dir: Path, device: str, dtype: str, limit: int) -> float:
    """Chinese-CLIP eval scripts' pipeline: PIL decode in the main process, float tensors, batch 64."""
    import torch

    from muge_eval.data.image_transform import ImageTransform
    from muge_eval.io.image_tsv import iter_image_tsv
    from muge_eval.retrieval.adapters.hf_chinese_clip import HFChineseCLIP

    adapter = HFChineseCLIP(model=str(model_dir), device=device, dtype=dtype)
    transform = ImageTransform(224, draft=False)
    mean = torch.tensor(transform.mean).view(3, 1, 1)
    std = torch.tensor(transform.std).view(3, 1, 1)
    items = [item.data for _, item in zip(range(limit), iter_image_tsv(data / "MR_valid_imgs.tsv", int), strict=False)]
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(items), 64):
            tensors = [
                (torch.from_numpy(transform(d)).permute(2, 0, 1).float() / 255 - mean) / std
                for d in items[start : start + 64]
            ]
            batch = torch.stack(tensors).to(adapter.device, adapter.dtype)
            adapter._image_features(batch).float().cpu()
    return len(items) / (time.perf_counter() - started)


def end_to_end(data: Path, model_dir: Path, out: Path, args: argparse.Namespace, decode: str) -> tuple[dict, float]:
    autocast = f",autocast={args.autocast}" if args.autocast else ""
    model_args = f"model={model_dir},device={args.device},dtype={args.dtype},decode={decode}{autocast}"
    command = [
        *(sys.executable, "-m", "muge_eval", "--quiet", "run", "--task", "muge-retrieval", "--data-dir", str(data)),
        *("--split", "valid", "--model", "hf-chinese-clip", "--output-dir", str(out), "--no-embedding-cache"),
        *("--model-args", model_args),
        *("--batch-size", str(args.batch_size), "--cache-dir", str(out.parent / "datasets-cache")),
    ]
    if args.num_workers is not None:
        command += ["--num-workers", str(args.num_workers)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return json.loads((out / "results.json").read_text(encoding="utf-8")), wall


def report_run(results: dict, wall: float, limit: float, images: int, decode: str) -> None:
    timings = results["timings"]
    e2e = images / timings["encode_images_s"]
    label = f"muge-eval run, decode={decode}"
    print(f"{label + ': image encoding':52s} {e2e:10.1f}   {100 * e2e / limit:5.1f}% of the ceiling")
    print(f"{label + ': whole command (wall)':52s} {images / wall:10.1f}   ({wall:.1f} s incl. start-up,")
    load_s, texts_s = timings["load_s"], timings["encode_texts_s"]
    print(f"{'':64s}    data conversion {load_s:.1f} s, texts {texts_s:.1f} s)")
    encode_s = timings["encode_images_s"]
    decode_s, model_s = timings.get("decode_images_cpu_s", 0.0), timings.get("model_images_s", 0.0)
    device_s = timings.get("decode_images_device_s")
    on_device = f"; decoding on the device {device_s:.1f} s in the main process" if device_s is not None else ""
    print(
        f"  decoding: {decode_s:.1f} CPU-s in workers = {100 * decode_s / encode_s:.0f}% of the "
        f"image-encoding wall time ({encode_s:.1f} s){on_device}; model calls {model_s:.1f} s"
    )


def describe_hardware(device: str) -> str:
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return f"{torch.cuda.get_device_name(0)}, {cores} CPU cores"
    return f"CPU only, {cores} cores ({os.uname().machine})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="256 images, 64 queries, fewer ceiling batches")
    parser.add_argument("--images", type=int, default=29806)
    parser.add_argument("--queries", type=int, default=5008)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--autocast", choices=["float16", "bfloat16"], default=None, help="mixed precision")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 256 on a GPU, 32 on the CPU")
    parser.add_argument("--num-workers", type=int, default=None, help="default: muge-eval's (cores - 1, at most 16)")
    parser.add_argument("--model-size", choices=["base", "tiny"], default="base")
    parser.add_argument("--baseline", action="store_true", help="also time the main-process PIL pipeline")
    parser.add_argument("--ceiling-batches", type=int, default=None, help="default: 30 on a GPU, 3 on the CPU")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated data and model here")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help="each measure's best of this many")
    parser.add_argument(
        "--decode",
        choices=["cpu", "torchvision", "both"],
        default="cpu",
        help="JPEG decoding in the workers (cpu), on the model's device (torchvision), or both, one after the other",
    )
    args = parser.parse_args()
    if args.quick:
        args.images, args.queries = min(args.images, 256), min(args.queries, 64)
    import torch

    on_gpu = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    args.device = ("cuda" if on_gpu else "cpu") if args.device == "auto" else args.device
    args.batch_size = args.batch_size or (256 if on_gpu else 32)
    ceiling_batches = args.ceiling_batches or (3 if args.quick or not on_gpu else 30)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        data, model_dir = work / "data", work / f"model-{args.model_size}"
        started = time.perf_counter()
        if not (data / "MR_valid_imgs.tsv").is_file():
            build_split(data, args.images, args.queries)
        if not (model_dir / "config.json").is_file():
            build_model(model_dir, args.model_size)
        print_machine(f"end-to-end retrieval: {describe_hardware(args.device)}; torch {torch.__version__}")
        setup_s = time.perf_counter() - started
        print(f"setup: {args.images} images, {args.queries} queries, model {args.model_size} ({setup_s:.0f} s)")
        repeats = max(MIN_REPEATS, args.repeats)
        decodes = ("cpu", "torchvision") if args.decode == "both" else (args.decode,)
        limit, rate = 0.0, 0.0
        runs: dict[str, tuple[dict, float]] = {}
        for _ in range(repeats):  # interleaved; each measure keeps its best
            tower = ceiling(model_dir, args.device, args.dtype, args.autocast, args.batch_size, ceiling_batches)
            limit = max(limit, tower)
            for decode in decodes:
                results, wall = end_to_end(data, model_dir, work / f"run-{decode}", args, decode)
                best = runs.get(decode)
                if best is None or results["timings"]["encode_images_s"] < best[0]["timings"]["encode_images_s"]:
                    runs[decode] = (results, wall)
            if args.baseline:
                count = min(args.images, 2048)
                rate = max(rate, main_process_baseline(data, model_dir, args.device, args.dtype, count))
        print(f"{'measure (best of ' + str(repeats) + ')':52s} {'images/s':>10s}")
        print(f"{'ceiling: image tower on device tensors':52s} {limit:10.1f}")
        for decode, (results, wall) in runs.items():
            report_run(results, wall, limit, args.images, decode)
        if args.baseline:
            print(f"{'baseline: PIL in main process, batch 64':52s} {rate:10.1f}")
        print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
