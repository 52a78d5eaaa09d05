"""Caption scoring at MUGE scale: muge-eval against plain sequential pycocoevalcap, in one run.

Two sizes by default: 30,000 images x 5 references and 5,000 x 10. Captions are drawn from
a realistic vocabulary (a fixed seed): about 3,600 distinct Chinese characters with a
Zipf-like frequency, grouped into 1-4 character words, each image's references sharing a
topic of words, a sprinkling of Latin tokens ("iphone", "usb", "2021"), 22 characters on
average. They are tokenized by the ``char`` tokenizer once, before any timing; both
pipelines then score the same space-joined tokens:

* pycocoevalcap: ``Bleu(4).compute_score(verbose=0)``, ``Rouge().compute_score``,
  ``Cider().compute_score`` one after the other, as a plain script would call them;
* muge-eval: ``muge_eval.caption.metrics.score_sentences`` (the code behind
  ``muge-eval score``): BLEU and CIDEr-D vectorised, ROUGE-L in worker processes.

Each pipeline runs in its own subprocess, ``--repeats`` times (best of 3 by default,
alternating the two), so its peak memory (ru_maxrss) is its own. The script prints the
CPU model, the number of cores and the load average, wall-clock and CPU times (muge-eval's
CPU time includes its worker processes), the speed-up of the best wall times, and whether
every corpus score and every per-image score is bit-identical.

Usage: python benchmarks/caption_scoring.py [--quick] [--sizes 30000x5,5000x10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import itertools
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
VOCABULARY = 3600
LEXICON = 30000
LATIN = ["iphone", "12", "xl", "2021", "led", "usb", "pro", "3d"]


def make_corpus(images: int, refs: int, seed: int = SEED) -> tuple[list[str], list[list[str]]]:
    """Hypotheses and references from a Zipf-like vocabulary of VOCABULARY characters."""
    rng = random.Random(seed)
    chars = [chr(0x4E00 + 5 * i) for i in range(VOCABULARY)]
    char_weights = list(itertools.accumulate(1.0 / (rank + 1) ** 1.05 for rank in range(VOCABULARY)))

    def char() -> str:
        return chars[bisect.bisect(char_weights, rng.random() * char_weights[-1])]

    lexicon = ["".join(char() for _ in range(rng.choice((1, 2, 2, 2, 3, 4)))) for _ in range(LEXICON)]
    word_weights = list(itertools.accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(LEXICON)))

    def word() -> str:
        return lexicon[bisect.bisect(word_weights, rng.random() * word_weights[-1])]

    def sentence(topic: list[str], share: float) -> str:
        words: list[str] = []
        target = max(4, int(rng.gauss(22, 7)))
        while sum(map(len, words)) < target:
            if rng.random() < 0.03:
                words.append(rng.choice(LATIN))
            else:
                words.append(rng.choice(topic) if rng.random() < share else word())
        return "".join(words)

    hyps, references = [], []
    for _ in range(images):
        topic = [word() for _ in range(10)]
        references.append([sentence(topic, 0.6) for _ in range(refs)])
        hyps.append(sentence(topic, 0.5))
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


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the scoring workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker(method: str, images: int, refs: int, out_path: str) -> None:
    hyps, references = tokenized(images, refs)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    cpu_started = cpu_seconds()
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
        "cpu_seconds": cpu_seconds() - cpu_started,
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


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (3000x5, 1000x10), one repeat")
    parser.add_argument("--sizes", default="30000x5,5000x10", help="IMAGESxREFS,... (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help="runs per pipeline, best kept")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--images", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--refs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.images, args.refs, args.out)
        return
    sizes = "3000x5,1000x10" if args.quick else args.sizes
    repeats = 1 if args.quick else max(1, args.repeats)
    print_machine(f"caption scoring: pycocoevalcap against muge-eval, best of {repeats} interleaved runs")
    all_identical = True
    for size in sizes.split(","):
        images, refs = (int(x) for x in size.lower().split("x"))
        hyps, _ = tokenized(min(images, 2000), refs)
        print(f"== {images} images x {refs} references (char tokens; {VOCABULARY} characters drawn)")
        runs: dict[str, list[dict]] = {"pycocoevalcap": [], "muge-eval": []}
        for _ in range(repeats):
            for method in runs:
                runs[method].append(run_method(method, images, refs))
        base, ours = best(runs["pycocoevalcap"]), best(runs["muge-eval"])
        for name, method_runs in runs.items():
            result = best(method_runs)
            walls = ", ".join(f"{r['seconds']:.2f}" for r in method_runs)
            print(
                f"  {name:14s} {result['seconds']:8.2f} s wall {result['cpu_seconds']:8.2f} s CPU   "
                f"peak RSS {result['peak_rss_mb']:7.1f} MiB (before scoring {result['rss_before_mb']:.1f} MiB)"
                f"   runs: {walls} s"
            )
        identical = all(
            r["corpus"] == base["corpus"] and r["per_image"] == base["per_image"]
            for r in runs["pycocoevalcap"] + runs["muge-eval"]
        )
        all_identical &= identical
        print(
            f"  speed-up       {base['seconds'] / ours['seconds']:8.2f}x wall (best against best), "
            f"{base['cpu_seconds'] / ours['cpu_seconds']:.2f}x CPU"
        )
        print(f"  identical      {identical} (corpus and per-image scores, bit for bit, every run)")
        print("  scores x100    " + ", ".join(f"{k} {v * 100:.4f}" for k, v in ours["corpus_values"].items()))
        print(f"  sample caption {hyps[0].replace(' ', '')[:40]}")
    print(f"load average after: {load_average()}")
    if not all_identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
