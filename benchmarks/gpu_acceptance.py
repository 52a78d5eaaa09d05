"""The GPU acceptance figures in one run, each as a ratio to the model's own ceiling.

Run through ``benchmarks/gpu_acceptance.sh`` (which installs what is missing). Everything
is built here, nothing is downloaded: a MUGE-valid-size retrieval split (29,806 JPEGs of
224x224, 5,008 queries), a random-weight Chinese-CLIP ViT-B/16 (RoBERTa-base text tower),
random FID Inception weights and a small random captioner. Then:

1. retrieval: `muge-eval run --model hf-chinese-clip` (subprocess, no embedding cache) with
   ``decode=cpu`` and ``decode=torchvision``, in float16 and bfloat16; images/s over the
   image-encoding wall time, against the image tower's forward rate on device tensors of
   the same dtype and batch (the ceiling). Target: at least 80% of the ceiling.
2. FID Inception features: ``InceptionExtractor`` on decoded PIL images (resize, tensors,
   transfer, forward), against the network's forward on device tensors.
3. captioning: `muge-eval run --task muge-caption --model hf-captioner` tokens/s over the
   captioning wall time, against ``generate`` on device tensors. The captioner never ends
   a caption early (no end token), so every image gets exactly ``max_new_tokens`` tokens.

``--scale smoke`` (or ``SCALE=smoke``) runs the same code at toy sizes on the CPU in well
under a minute (the test suite does). The figures go to ``$OUT/gpu_acceptance.json`` when
``OUT`` is set (or to ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

TARGET_SHARE = 0.80
CAPTION_CHARS = "红色蓝黑白绿黄粉连衣裙恤手提包保温杯帽子台灯抱枕雨伞条纹波点格简约时尚款"


@dataclass(frozen=True)
class Scale:
    images: int
    queries: int
    clip_size: str  # retrieval_e2e.build_model: "base" (ViT-B/16) or "tiny"
    batch_size: int
    ceiling_batches: int
    inception_images: int
    inception_batch: int
    caption_images: int
    caption_tokens: int
    caption_width: int
    caption_image_size: int


SCALES = {
    "full": Scale(29806, 5008, "base", 256, 30, 2048, 64, 512, 32, 256, 224),
    "smoke": Scale(32, 8, "tiny", 16, 2, 2, 2, 4, 4, 32, 32),
}


@dataclass(frozen=True)
class Figure:
    """One measured rate against its ceiling."""

    name: str
    unit: str
    rate: float
    ceiling: float
    detail: str = ""

    @property
    def share(self) -> float:
        return self.rate / self.ceiling if self.ceiling else 0.0

    def show(self) -> None:
        print(f"  {self.name}: {self.rate:.1f} {self.unit} ({100 * self.share:.0f}% of {self.ceiling:.1f})", flush=True)


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


# --- retrieval -------------------------------------------------------------------------
def retrieval_figures(work: Path, scale: Scale, device: str, dtypes: list[str], workers: int | None) -> list[Figure]:
    import retrieval_e2e

    data, model_dir = work / "retrieval-data", work / "clip"
    started = time.perf_counter()
    retrieval_e2e.build_split(data, scale.images, scale.queries)
    retrieval_e2e.build_model(model_dir, scale.clip_size)
    print(f"retrieval data and model built in {time.perf_counter() - started:.0f} s", flush=True)
    figures = []
    for dtype in dtypes:
        limit = retrieval_e2e.ceiling(model_dir, device, dtype, None, scale.batch_size, scale.ceiling_batches)
        for decode in ("cpu", "torchvision"):
            args = argparse.Namespace(
                device=device, dtype=dtype, autocast=None, batch_size=scale.batch_size, num_workers=workers
            )
            results, wall = retrieval_e2e.end_to_end(data, model_dir, work / f"run-{dtype}-{decode}", args, decode)
            timings = results["timings"]
            rate = scale.images / timings["encode_images_s"]
            detail = f"command wall {wall:.1f} s; model calls {timings.get('model_images_s', 0.0):.1f} s"
            figures.append(Figure(f"muge-eval run images, {dtype}, decode={decode}", "images/s", rate, limit, detail))
            figures[-1].show()
    return figures


# --- FID Inception -----------------------------------------------------------------------
def inception_figure(work: Path, scale: Scale, device: str) -> Figure:
    import io

    import numpy as np
    import torch
    from PIL import Image
    from t2i_helpers import save_random_weights

    from muge_eval.t2i.inception import InceptionExtractor, _pool
    from muge_eval.t2i.weights import check_weights

    weights = check_weights(save_random_weights(work / "random_inception.pth"), True)
    extractor = InceptionExtractor(weights, "pytorch-fid", device)
    batch = scale.inception_batch
    rng = np.random.default_rng(0)
    pngs = []
    for _ in range(scale.inception_images):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    tensors = torch.rand(batch, 3, 299, 299, device=extractor.device)
    with torch.no_grad():
        _pool(extractor.net, 2 * tensors - 1)  # warm-up
        sync(extractor.device)
        started = time.perf_counter()
        rounds = max(1, scale.inception_images // batch)
        for _ in range(rounds):
            _pool(extractor.net, 2 * tensors - 1)
        sync(extractor.device)
    limit = rounds * batch / (time.perf_counter() - started)
    extractor([Image.open(io.BytesIO(pngs[0]))])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(pngs), batch):
        extractor([Image.open(io.BytesIO(p)) for p in pngs[start : start + batch]])
    sync(extractor.device)
    rate = len(pngs) / (time.perf_counter() - started)
    figure = Figure("FID Inception features (PNG decode + resize + forward)", "images/s", rate, limit)
    figure.show()
    return figure


# --- captioning -----------------------------------------------------------------------
def build_captioner(directory: Path, scale: Scale) -> Path:
    """A random ViT encoder + BERT decoder captioner whose captions never end early."""
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
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join([*special, *CAPTION_CHARS]) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab_file))
    width, size = scale.caption_width, scale.caption_image_size
    layers, heads = (4, 4) if width >= 128 else (1, 2)
    encoder = ViTConfig(
        image_size=size, patch_size=16 if size >= 128 else 8, hidden_size=width, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=4 * width,
    )  # fmt: skip
    decoder = BertConfig(
        vocab_size=len(special) + len(CAPTION_CHARS), hidden_size=width, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=4 * width, is_decoder=True, add_cross_attention=True,
    )  # fmt: skip
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.cls_token_id
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(0)
    model = VisionEncoderDecoderModel(config)
    generation = model.generation_config
    generation.decoder_start_token_id = tokenizer.cls_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    generation.eos_token_id = None  # no end token: every caption is max_new_tokens long
    generation.suppress_tokens = list(range(len(special)))  # only characters, each one token
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    ViTImageProcessor(size={"height": size, "width": size}).save_pretrained(directory)
    return directory


def caption_split(directory: Path, count: int) -> None:
    import base64
    import io

    import numpy as np
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    lines, refs = [], []
    for i in range(count):
        buffer = io.BytesIO()
        small = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        small.resize((224, 224), Image.Resampling.BICUBIC).save(buffer, format="JPEG", quality=90)
        image_id = f"{i:032x}"
        lines.append(f"{image_id}\t{base64.b64encode(buffer.getvalue()).decode()}\n")
        text = "".join(rng.choice(list(CAPTION_CHARS), size=8))
        refs.append(json.dumps({"image_id": image_id, "text": [text, text[::-1]]}, ensure_ascii=False) + "\n")
    (directory / "IC_valid.tsv").write_text("".join(lines), encoding="utf-8")
    (directory / "IC_valid.jsonl").write_text("".join(refs), encoding="utf-8")


def caption_figure(work: Path, scale: Scale, device: str) -> Figure:
    import subprocess

    import torch

    from muge_eval.caption.adapters.hf_captioner import HFCaptioner

    model_dir = build_captioner(work / "captioner", scale)
    data = work / "caption-data"
    caption_split(data, scale.caption_images)
    tokens, batch = scale.caption_tokens, min(scale.caption_images, 64)
    adapter = HFCaptioner(model=str(model_dir), device=device, max_new_tokens=tokens)
    size = scale.caption_image_size
    pixels = torch.rand(batch, 3, size, size, device=adapter.device)
    with torch.inference_mode():
        adapter.model.generate(pixel_values=pixels, max_new_tokens=tokens, do_sample=False)  # warm-up
        sync(adapter.device)
        started = time.perf_counter()
        rounds = max(1, scale.caption_images // batch)
        for _ in range(rounds):
            out = adapter.model.generate(pixel_values=pixels, max_new_tokens=tokens, do_sample=False)
        sync(adapter.device)
    limit = rounds * batch * (out.shape[1] - 1) / (time.perf_counter() - started)
    del adapter
    out_dir = work / "caption-run"
    command = [
        *(sys.executable, "-m", "muge_eval", "--quiet", "run", "--task", "muge-caption", "--data-dir", str(data)),
        *("--model", "hf-captioner", "--model-args", f"model={model_dir},device={device},max_new_tokens={tokens}"),
        *("--batch-size", str(batch), "--output-dir", str(out_dir), "--cache-dir", str(work / "caption-cache")),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    results = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    captions = [json.loads(line)["text"] for line in (out_dir / "predictions.jsonl").read_text().splitlines()]
    generated = sum(len(c) for c in captions)  # one character per token
    if generated != tokens * scale.caption_images:
        raise SystemExit(f"captioner made {generated} tokens, expected {tokens * scale.caption_images}")
    rate = generated / results["timings"]["caption_s"]
    figure = Figure(f"muge-eval run captions ({tokens} tokens each)", "tokens/s", rate, limit)
    figure.show()
    return figure


# --- report -----------------------------------------------------------------------------
def hardware(device: str) -> dict[str, Any]:
    import torch
    from bench_env import cpu_model, load_average, usable_cores

    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    return {"device": device, "gpu": gpu, "cpu_cores": usable_cores(), "cpu": cpu_model(),
            "load_average": load_average(), "torch": torch.__version__,
            "python": platform.python_version()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("SCALE", "full"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtypes", default="float16,bfloat16")
    parser.add_argument("--num-workers", type=int, default=None, help="decoding workers (default: muge-eval's)")
    parser.add_argument("--json", type=Path, default=None, help="default: $OUT/gpu_acceptance.json when OUT is set")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    scale = SCALES[args.scale]
    machine = hardware(device)
    from bench_env import print_machine

    print_machine(f"gpu acceptance, scale {args.scale}: {json.dumps(machine, ensure_ascii=False)}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        figures = retrieval_figures(work, scale, device, args.dtypes.split(","), args.num_workers)
        figures.append(inception_figure(work, scale, device))
        figures.append(caption_figure(work, scale, device))
    total = time.perf_counter() - started
    print(f"\n{'measure':62s} {'rate':>12s} {'ceiling':>12s} {'share':>7s}")
    for f in figures:
        print(f"{f.name:62s} {f.rate:12.1f} {f.ceiling:12.1f} {100 * f.share:6.0f}%  {f.unit}")
    retrieval = [f for f in figures if f.name.startswith("muge-eval run images")]
    met = all(f.share >= TARGET_SHARE for f in retrieval)
    worst = 100 * min(f.share for f in retrieval)
    verdict = f"{'met' if met else 'NOT met'} (worst {worst:.0f}%); {total:.0f} s in all"
    print(f"target: end-to-end retrieval encoding >= {100 * TARGET_SHARE:.0f}% of the ceiling: {verdict}")
    out = args.json or (Path(os.environ["OUT"]) / "gpu_acceptance.json" if os.environ.get("OUT") else None)
    if out is not None:
        document = {
            "scale": args.scale,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "hardware": machine,
            "scale_settings": asdict(scale),
            "target_share": TARGET_SHARE,
            "target_met": met,
            "seconds": total,
            "figures": [{**asdict(f), "share": f.share} for f in figures],
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"figures written to {out}")


if __name__ == "__main__":
    main()
