"""Retrieval scoring against the official scorer's loop, in process and as commands, in one run.

A 5,008-query submission against a 29,806-image pool (6.1 relevant images per query on
average, as MUGE MR valid), written to disk. Timed interleaved, best of ``--repeats``:

- in process: the official loop (``official_mr_scorer.score``, an independent plain
  re-implementation) against muge-eval's reading, checking and scoring (the library calls
  behind ``muge-eval score``);
- as commands: ``python official_mr_scorer.py GOLD SUB OUT`` against ``muge-eval score
  --task muge-retrieval --gold GOLD --predictions SUB --format tianchi --output OUT``,
  start-up included (target: within 0.2 s of the official script).

Checks that every number is identical (in process and in the two output files).

Usage: python benchmarks/retrieval_scoring.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_env import MIN_REPEATS, best_of, load_average, print_machine
from official_mr_scorer import score as official_score

SEED = 0
HERE = Path(__file__).resolve().parent


def write_files(directory: Path, queries: int, pool_size: int) -> tuple[Path, Path]:
    rng = random.Random(SEED)
    pool = list(range(1, pool_size + 1))
    gold_lines, sub_lines = [], []
    for qid in range(queries):
        relevant = rng.sample(pool, max(1, round(rng.gauss(6.1, 2))))
        ranked = rng.sample(pool, 10)
        if rng.random() < 0.6 and relevant[0] not in ranked:
            ranked[rng.randrange(10)] = relevant[0]
        gold_lines.append(json.dumps({"query_id": qid, "query_text": "商品", "item_ids": relevant}))
        sub_lines.append(json.dumps({"query_id": qid, "item_ids": ranked}))
    gold_path, sub_path = directory / "gold.jsonl", directory / "sub.jsonl"
    gold_path.write_text("\n".join(gold_lines) + "\n", encoding="utf-8")
    sub_path.write_text("\n".join(sub_lines) + "\n", encoding="utf-8")
    return gold_path, sub_path


def muge_score(gold_path: Path, sub_path: Path) -> dict[str, float]:
    from muge_eval.retrieval.gold import read_gold_queries
    from muge_eval.retrieval.schema import TEXT_TO_IMAGE
    from muge_eval.retrieval.scoring import score_rankings
    from muge_eval.retrieval.submission import read_submission

    gold = read_gold_queries(gold_path)
    return dict(score_rankings(gold, read_submission(sub_path, gold, TEXT_TO_IMAGE)).metrics)


def muge_command() -> list[str]:
    installed = shutil.which("muge-eval", path=str(Path(sys.executable).parent))
    return [installed] if installed else [sys.executable, "-m", "muge_eval"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 queries")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    queries = 1000 if args.quick else 5008
    repeats = max(MIN_REPEATS, args.repeats)
    print_machine(f"retrieval scoring: {queries:,} queries over a pool of 29,806 images")
    with tempfile.TemporaryDirectory() as tmp:
        gold, sub = write_files(Path(tmp), queries, 29806)
        official_out, muge_out = Path(tmp) / "official.json", Path(tmp) / "muge.json"
        official_cmd = [sys.executable, str(HERE / "official_mr_scorer.py"), str(gold), str(sub), str(official_out)]
        muge_cmd = [*muge_command(), "--quiet", "score", "--task", "muge-retrieval", "--gold", str(gold)]
        muge_cmd += ["--predictions", str(sub), "--format", "tianchi", "--output", str(muge_out)]
        in_process = best_of(
            repeats,
            {"official loop": lambda: official_score(str(gold), str(sub)), "muge-eval": lambda: muge_score(gold, sub)},
        )
        commands = best_of(
            repeats,
            {
                "official script": lambda: subprocess.run(official_cmd, check=True),
                "muge-eval score": lambda: subprocess.run(muge_cmd, check=True, stdout=subprocess.DEVNULL),
            },
        )
        official_json = json.loads(official_out.read_text(encoding="utf-8"))
        muge_json = json.loads(muge_out.read_text(encoding="utf-8"))
    ours, theirs = in_process["muge-eval"].value, in_process["official loop"].value
    same_in_process = all(ours[k] == v for k, v in theirs.items())
    same_files = all(muge_json["scoreJson"][k] == v for k, v in official_json["scoreJson"].items())
    print(f"{'':24s} {'wall ms':>9s} {'CPU ms':>8s}   (best of {repeats}, interleaved)")
    for label, group in (("in process", in_process), ("as a command", commands)):
        for name, timing in group.items():
            print(f"{label + ': ' + name:38s} {timing.wall_s * 1000:9.1f} {timing.cpu_s * 1000:8.1f}")
    ratio = in_process["muge-eval"].wall_s / in_process["official loop"].wall_s
    gap = commands["muge-eval score"].wall_s - commands["official script"].wall_s
    print(
        f"in process: muge-eval / official loop = {ratio:.2f}x; numbers {'identical' if same_in_process else 'DIFFER'}"
    )
    print(
        f"as commands: muge-eval score - official script = {gap:+.3f} s "
        f"({commands['muge-eval score'].wall_s / commands['official script'].wall_s:.1f}x); "
        f"output files {'identical numbers' if same_files else 'DIFFER'}: mean recall {official_json['score']:.4f}"
    )
    print(f"load average at the end {load_average()}; target: the command within 0.2 s of the official script")
    print("note: muge-eval also checks every rule, reports every problem and computes mAP@10 and nDCG@10")


if __name__ == "__main__":
    main()
