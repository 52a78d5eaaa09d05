"""Sharded exact top-10 across ranks (gloo processes here): per-rank memory and time.

Q queries x P pool items x D dims (default 30,000 x 1,000,000 x 512, unit float32
vectors). The pool is split into chunks of 65,536 rows, chunk ``i`` on rank
``i % ranks`` (as muge-eval's encoder shares chunks); each rank generates only its own
chunks (seeded by chunk, so the pool is the same for any number of ranks), finds every
query's exact top-10 in its shard (``muge_eval.retrieval.sharded.sharded_topk``: the
public ``exact_topk`` on the shard, then rank 0 merges by score descending, pool position
ascending). Each rank reports its peak RSS (``ru_maxrss``) and the RSS before its shard
existed, the time of its own search, and rank 0 the time to gather and merge.

The anchor, unless ``--no-check``: the whole pool ranked in this one process with the
same ``exact_topk`` (as a run without ranks does), its time and peak RSS printed beside
the ranks' and its ids and scores compared with theirs. Prints the arithmetic for 8 GPUs
at the end. One run (a full-size run takes minutes); the header names the machine.

Usage: python benchmarks/retrieval_topk_sharded.py [--quick] [--ranks N] [--backend auto|numpy|faiss]
           [--queries N --pool N --dim N] [--no-check]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_env import load_average, print_machine

ROOT = Path(__file__).resolve().parents[1]
CHUNK_ROWS = 1 << 16
K = 10
SEED = 0


def unit_rows(rows: int, dim: int, seed: list[int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    block = rng.standard_normal((rows, dim), dtype=np.float32)
    block /= np.linalg.norm(block, axis=1, keepdims=True)
    return block


def rss_mib() -> float:
    """Resident memory now (from /proc, Linux), MiB."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def owned_chunks(pool: int, rank: int, ranks: int) -> list[tuple[int, int, int]]:
    starts = range(0, pool, CHUNK_ROWS)
    return [(i, s, min(s + CHUNK_ROWS, pool)) for i, s in enumerate(starts) if i % ranks == rank]


def worker(args: argparse.Namespace) -> None:
    """One rank (under torchrun): build its shard, search, report."""
    from muge_eval.distributed import barrier, context, shutdown
    from muge_eval.retrieval.ranking import choose_backend
    from muge_eval.retrieval.sharded import PoolShard, sharded_topk

    ctx = context()
    barrier(ctx)  # joins the process group: torch and gloo are in the baseline
    queries = unit_rows(args.queries, args.dim, [SEED, 1])
    before_shard = rss_mib()
    chunks = owned_chunks(args.pool, ctx.rank, ctx.world_size)
    embeddings = np.empty((sum(b - a for _, a, b in chunks), args.dim), dtype=np.float32)
    positions = np.empty(len(embeddings), dtype=np.int64)
    row = 0
    for index, start, stop in chunks:
        embeddings[row : row + stop - start] = unit_rows(stop - start, args.dim, [SEED, 2, index])
        positions[row : row + stop - start] = np.arange(start, stop)
        row += stop - start
    shard = PoolShard(embeddings, positions)
    backend, device = choose_backend(args.backend, "cpu")
    barrier(ctx)
    started = time.perf_counter()
    result = sharded_topk(ctx, queries, shard, K, backend, device)
    seconds = time.perf_counter() - started
    stats = {
        "rank": ctx.rank,
        "shard_rows": len(positions),
        "backend": backend,
        "seconds": seconds,
        "rss_before_shard_mib": before_shard,
        "peak_rss_mib": peak_rss_mib(),
    }
    Path(args.stats_dir, f"rank{ctx.rank}.json").write_text(json.dumps(stats), encoding="utf-8")
    if result is not None:
        np.save(Path(args.stats_dir, "indices.npy"), result.indices)
        np.save(Path(args.stats_dir, "scores.npy"), result.scores)
    shutdown()


def single_process(args: argparse.Namespace, stats_dir: Path) -> bool:
    """The whole pool in one process: does the sharded answer match?"""
    from muge_eval.retrieval.ranking import choose_backend, exact_topk

    queries = unit_rows(args.queries, args.dim, [SEED, 1])
    pool = np.concatenate([unit_rows(b - a, args.dim, [SEED, 2, i]) for i, a, b in owned_chunks(args.pool, 0, 1)])
    backend, device = choose_backend(args.backend, "cpu")
    started = time.perf_counter()
    whole = exact_topk(queries, pool, K, backend, device=device)
    seconds = time.perf_counter() - started
    print(f"anchor: one process, whole pool: search {seconds:.1f} s, peak RSS {peak_rss_mib():.0f} MiB")
    same = np.array_equal(whole.indices, np.load(stats_dir / "indices.npy")) and np.array_equal(
        whole.scores, np.load(stats_dir / "scores.npy")
    )
    print(f"sharded ids and scores identical to one process: {same}")
    return same


def eight_gpus(args: argparse.Namespace, shard_rate: float) -> None:
    """Memory per rank and time from the measured rate, for 8 ranks."""
    ranks = 8
    shard = args.pool / ranks
    shard_mib = shard * args.dim * 4 / 2**20
    query_mib = args.queries * args.dim * 4 / 2**20
    gathered_mib = args.queries * ranks * K * 16 / 2**20  # int64 ids + float64 scores
    flops = 2 * args.queries * shard * args.dim
    print(f"\n8 GPUs (one rank each) at {args.queries:,} x {args.pool:,} x {args.dim}:")
    print(f"  per rank: shard {shard:,.0f} rows = {shard_mib:.0f} MiB float32, queries {query_mib:.0f} MiB,")
    print(f"  candidates gathered on rank 0: {args.queries:,} x {ranks} x {K} x 16 B = {gathered_mib:.0f} MiB")
    print(f"  per rank {flops / 1e12:.2f} TFLOP of inner products: {flops / 50e12:.2f} s at 50 TFLOP/s (fp32)")
    cpu_rank_s = args.queries * shard / shard_rate
    print(f"  8 CPU ranks at this machine's measured per-rank rate: {cpu_rank_s:.0f} s each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3,000 x 100,000 x 128")
    parser.add_argument("--queries", type=int, default=30000)
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--backend", default="auto", choices=["auto", "numpy", "faiss", "torch"])
    parser.add_argument("--no-check", dest="check", action="store_false", help="skip the one-process anchor")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stats-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.queries, args.pool, args.dim = 3000, 100_000, 128
    with tempfile.TemporaryDirectory() as tmp:
        stats_dir = Path(tmp)
        command = [
            *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.ranks)),
            *(__file__, "--worker", "--stats-dir", str(stats_dir)),
            *("--queries", str(args.queries), "--pool", str(args.pool), "--dim", str(args.dim)),
            *("--backend", args.backend),
        ]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "MUGE_EVAL_DIST_BACKEND": "gloo",
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.ranks))),
        }
        print_machine(
            f"sharded top-{K}: {args.queries:,} queries x {args.pool:,} pool x {args.dim} dims, "
            f"{args.ranks} gloo ranks, {env['OMP_NUM_THREADS']} thread(s) per rank"
        )
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env)
        wall = time.perf_counter() - started
        ranks = [json.loads((stats_dir / f"rank{r}.json").read_text()) for r in range(args.ranks)]
        print(f"\n{'rank':>4s} {'shard rows':>11s} {'search s':>9s} {'RSS before shard':>17s} {'peak RSS':>10s}")
        for r in ranks:
            print(
                f"{r['rank']:4d} {r['shard_rows']:11,d} {r['seconds']:9.1f} "
                f"{r['rss_before_shard_mib']:12.0f} MiB {r['peak_rss_mib']:6.0f} MiB"
            )
        print(f"backend {ranks[0]['backend']}; whole launch (start-up, pool generation, search): {wall:.1f} s")
        whole_pool_mib = args.pool * args.dim * 4 / 2**20
        print(f"the whole pool would be {whole_pool_mib:.0f} MiB of float32 in one process")
        slowest = max(r["seconds"] for r in ranks)
        rate = args.queries * max(r["shard_rows"] for r in ranks) / slowest  # query x item pairs per second per rank
        ok = single_process(args, stats_dir) if args.check else True
        eight_gpus(argparse.Namespace(queries=30000, pool=1_000_000, dim=512), rate)
        print(f"load average at the end {load_average()}")
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
