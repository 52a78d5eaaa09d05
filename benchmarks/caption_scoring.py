"""Caption scoring at MUGE scale: muge-eval against plain sequential pycocoevalcap, in one run.

Two sizes: MUGE-IC test scale (10,000 images x 10 references) and 30,000 x 5. Captions are
synthetic e-commerce sentences built from a fixed phrase list (a fixed seed), tokenized by
the ``char`` tokenizer once, before any timing; both pipelines then score the same
space-joined tokens:

* pycocoevalcap: ``Bleu(4).compute_score(verbose=0)``, ``Rouge().compute_score``,
  ``Cider().compute_score`` one after the other, as a plain script would call them;
* muge-eval: ``muge_eval.caption.metrics.score_sentences`` (the code behind
  ``muge-eval score``).

Each pipeline runs in its own subprocess, so its peak memory (ru_maxrss) is its own; the
RSS before scoring (data and tokens) is printed beside it. The script prints wall-clock
and CPU times (CPU time is the fairer comparison on a machine shared with other work; both
pipelines are single-threaded), the speed-ups, and whether every corpus score and every
per-image score is bit-identical. Each pipeline runs ``--repeats`` times (default 3),
interleaved with the other, and its best run is kept; the header names the CPU, the load
average and the BLAS kernel.

Usage: python benchmarks/caption_scoring.py [--quick] [--sizes 10000x10,30000x5] [--repeats N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_env import MIN_REPEATS, load_average, print_machine

SEED = 2021
SUBJECTS = ["连衣裙", "T恤", "运动鞋", "双肩包", "保温杯", "帽子", "手提包", "台灯", "抱枕", "雨伞", "牛仔裤",
            "衬衫", "手机壳", "耳机", "口红", "面膜", "沙发", "茶具", "手表", "iPhone 12"]  # fmt: skip
COLOURS = ["红色", "蓝色", "黑色", "白色", "绿色", "黄色", "粉色", "灰色", "米色", "卡其色"]
PRAISE = ["简约百搭", "时尚大方", "品质优良", "舒适透气", "经典耐看", "精致小巧", "轻便实用", "高端大气",
          "性价比高", "做工精细", "彰显个性", "温柔气质", "显瘦显高", "柔软亲肤"]  # fmt: skip
SCENES = ["日常出行", "居家生活", "上班通勤", "约会聚会", "户外运动", "送礼自用", "春夏季节", "秋冬保暖"]
TEMPLATES = [
    "{c}{s}，{p}，{q}都适合",
    "这款{s}采用{c}设计，{p}",
    "{p}的{c}{s}，{q}的好选择",
    "{c}{s}{p}，{q}必备",
    "新款{s}，{c}配色，{p}，{p2}",
    "{q}就穿这款{c}{s}，{p}又{p2}",
    "一款{p}的{s}，{c}款式让你{q}更出彩",
]


def make_corpus(images: int, refs: int, seed: int = SEED) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)

    def sentence(subject: str, colour: str) -> str:
        if rng.random() < 0.3:  # some references describe the product differently
            subject, colour = rng.choice(SUBJECTS), rng.choice(COLOURS)
        p, p2 = rng.sample(PRAISE, 2)
        return rng.choice(TEMPLATES).format(c=colour, s=subject, p=p, p2=p2, q=rng.choice(SCENES))

    hyps, references = [], []
    for _ in range(images):
        subject, colour = rng.choice(SUBJECTS), rng.choice(COLOURS)
        references.append([sentence(subject, colour) for _ in range(refs)])
        hyps.append(sentence(subject, colour))
    return hyps, references


def tokenized(images: int, refs: int) -> tuple[list[str], list[list[str]]]:
    from muge_eval.caption.metrics import join_tokens
    from muge_eval.caption.tokenizers import CharTokenizer

    tokenizer = CharTokenizer()
    hyps, references = make_corpus(images, refs)
    return (
        [join_tokens(tokenizer.tokenize(h)) for h in hyps],
        [[join_tokens(tokenizer.tokenize(r)) for r in rs] for rs in references],
    )


def digest(values: list[float]) -> str:
    return hashlib.sha256(json.dumps([float(v).hex() for v in values]).encode()).hexdigest()


def worker(method: str, images: int, refs: int, out_path: str) -> None:
    hyps, references = tokenized(images, refs)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    cpu_started = time.process_time()
    if method == "pycocoevalcap":
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge

        gts = dict(enumerate(references))
        res = {i: [h] for i, h in enumerate(hyps)}
        bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
        rouge, rouge_per = Rouge().compute_score(gts, res)
        cider, cider_per = Cider().compute_score(gts, res)
        corpus = {f"bleu{k + 1}": float(bleu[k]) for k in range(4)}
        corpus.update(rouge_l=float(rouge), cider_d=float(cider))
        per_image = {f"bleu{k + 1}": list(bleu_per[k]) for k in range(4)}
        per_image.update(rouge_l=list(rouge_per), cider_d=list(cider_per))
    else:
        from muge_eval.caption.metrics import score_sentences

        values = score_sentences(hyps, references)
        corpus = dict(values.corpus)
        per_image = {k: list(v) for k, v in values.per_image.items()}
    elapsed = time.perf_counter() - started
    result = {
        "seconds": elapsed,
        "cpu_seconds": time.process_time() - cpu_started,
        "rss_before_mb": rss_before / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "corpus": {k: float(v).hex() for k, v in corpus.items()},
        "corpus_values": corpus,
        "per_image": {k: digest(v) for k, v in per_image.items()},
    }
    Path(out_path).write_text(json.dumps(result))


def run_method(method: str, images: int, refs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run(
            [sys.executable, __file__, "--worker", method, "--images", str(images), "--refs", str(refs),
             "--out", str(out)],
            check=True,
        )  # fmt: skip
        return dict(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (1000x10, 3000x5) for a smoke run")
    parser.add_argument("--sizes", default="10000x10,30000x5", help="IMAGESxREFS,... (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help="runs of each pipeline; the best is kept")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--images", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--refs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.images, args.refs, args.out)
        return
    sizes = "1000x10,3000x5" if args.quick else args.sizes
    repeats = max(MIN_REPEATS, args.repeats)
    import numpy  # noqa: F401  (loaded so the header names its BLAS)

    print_machine(f"caption scoring: pycocoevalcap against muge-eval, best of {repeats} interleaved runs")
    all_identical = True
    for size in sizes.split(","):
        images, refs = (int(x) for x in size.lower().split("x"))
        print(f"== {images} images x {refs} references (char tokens)")
        results: dict[str, dict] = {}
        for _ in range(repeats):
            for method in ("pycocoevalcap", "muge-eval"):
                run = run_method(method, images, refs)
                best = results.setdefault(method, run)
                best["seconds"], best["cpu_seconds"] = (
                    min(best["seconds"], run["seconds"]),
                    min(best["cpu_seconds"], run["cpu_seconds"]),
                )
                same = run["corpus"] == best["corpus"] and run["per_image"] == best["per_image"]
                best["repeatable"] = best.get("repeatable", True) and same
        base, ours = results["pycocoevalcap"], results["muge-eval"]
        for name, result in results.items():
            print(
                f"  {name:14s} {result['seconds']:8.2f} s wall {result['cpu_seconds']:8.2f} s CPU   "
                f"peak RSS {result['peak_rss_mb']:7.1f} MiB "
                f"(before scoring {result['rss_before_mb']:.1f} MiB)"
            )
        identical = base["corpus"] == ours["corpus"] and base["per_image"] == ours["per_image"]
        identical &= base["repeatable"] and ours["repeatable"]
        all_identical &= identical
        print(
            f"  speed-up       {base['seconds'] / ours['seconds']:8.2f}x wall, "
            f"{base['cpu_seconds'] / ours['cpu_seconds']:.2f}x CPU"
        )
        print(f"  identical      {identical} (corpus and per-image scores, bit for bit)")
        print("  scores x100    " + ", ".join(f"{k} {v * 100:.4f}" for k, v in ours["corpus_values"].items()))
    print(f"load average at the end {load_average()}")
    if not all_identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
