"""Exact top-10 against the float32 matrix multiply it needs, measured in one run.

Q queries x P pool items x D dims (default 30,000 x 200,000 x 512, seeded unit vectors).
Each method lives in its own worker process (so its peak memory, ru_maxrss, is its own);
the parent runs them interleaved, one repeat of each at a time, best of ``--repeats``:

- anchor: the float32 matrix multiply of all Q x P scores with numpy (blocks of 4,096
  queries x 8,192 pool items written into a reused buffer, nothing else);
- faiss ``IndexFlatIP`` (add + search, k=10): the usual library answer, for reference;
- muge-eval ``exact_topk`` with the numpy backend and with the faiss backend.

Prints wall and CPU seconds, each method's ratio to the anchor (target: at most 1.2 for
both exact_topk paths), peak RSS and RSS over the inputs (target: peak under 1 GiB), and
checks the ids: both exact_topk paths must agree, and agree with a float64 brute force on
sampled rows; faiss's own ids may differ on float32 near-ties (checked in float64).

Usage: python benchmarks/retrieval_topk.py [--quick] [--queries N --pool N --dim N] [--repeats N]
(For the BLAS kernel: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...`` lets
OpenBLAS pick its own; the header names the kernel each library runs.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_env import MIN_REPEATS, load_average, print_machine

SEED = 0
K = 10
ANCHOR_BLOCK = (4096, 8192)
METHODS = {
    "matmul": "anchor: float32 matmul (numpy)",
    "faiss-index": "faiss IndexFlatIP (k=10)",
    "numpy": "exact_topk, numpy backend",
    "faiss": "exact_topk, faiss backend",
}
BRUTE_FORCE_ROWS = 64


def make_vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    """Unit float32 vectors, generated in chunks so no float64 copy of the whole matrix exists."""
    rng = np.random.default_rng(seed)
    out = np.empty((rows, dim), dtype=np.float32)
    for start in range(0, rows, 16384):
        block = rng.standard_normal((min(16384, rows - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block
    return out


def matmul_anchor(queries: np.ndarray, pool: np.ndarray) -> None:
    """Every score, block by block, into contiguous reused buffers (a strided ``out`` would
    make numpy leave BLAS)."""
    q_rows, p_rows = ANCHOR_BLOCK
    buffer = np.empty(q_rows * p_rows, dtype=np.float32)
    for q_start in range(0, len(queries), q_rows):
        q = queries[q_start : q_start + q_rows]
        for p_start in range(0, len(pool), p_rows):
            p = pool[p_start : p_start + p_rows]
            np.matmul(q, p.T, out=buffer[: len(q) * len(p)].reshape(len(q), len(p)))


def method_runner(method: str, queries: np.ndarray, pool: np.ndarray) -> Any:
    if method == "matmul":
        return lambda: matmul_anchor(queries, pool)
    if method == "faiss-index":
        import faiss

        def search() -> np.ndarray:
            index = faiss.IndexFlatIP(pool.shape[1])
            index.add(pool)
            return index.search(queries, K)[1]

        return search
    from muge_eval.retrieval.ranking import exact_topk

    return lambda: exact_topk(queries, pool, K, backend=method).indices


def worker(method: str, queries: int, pool: int, dim: int, ids_path: str) -> None:
    """Serve timed runs of one method: a line 'run' on stdin -> one JSON line on stdout."""
    q, p = make_vectors(queries, dim, SEED), make_vectors(pool, dim, SEED + 1)
    run = method_runner(method, q, p)
    method_runner(method, q[:100], p[:2000])()  # warm-up: threads, imports
    inputs_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        cpu_before, started = time.process_time(), time.perf_counter()
        ids = run()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_before
        if ids is not None and not Path(ids_path).exists():
            np.save(ids_path, np.asarray(ids, dtype=np.int64))
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"wall": wall, "cpu": cpu, "peak_kib": peak_kib, "inputs_kib": inputs_kib}), flush=True)


class Worker:
    def __init__(self, method: str, args: argparse.Namespace, tmp: Path):
        self.method, self.ids_path = method, tmp / f"{method}.npy"
        command = [sys.executable, __file__, "--worker", method, "--out", str(self.ids_path)]
        command += ["--queries", str(args.queries), "--pool", str(args.pool), "--dim", str(args.dim)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.method} died (exit code {self.process.wait()})")
        return dict(json.loads(line))

    def run(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def check_ids(results: dict[str, dict[str, Any]], args: argparse.Namespace, tmp: Path) -> dict[str, str]:
    q, p = make_vectors(args.queries, args.dim, SEED), make_vectors(args.pool, args.dim, SEED + 1)
    ids = {m: np.load(tmp / f"{m}.npy") for m in results if (tmp / f"{m}.npy").exists()}
    rows = np.linspace(0, len(q) - 1, min(BRUTE_FORCE_ROWS, len(q))).astype(np.int64)
    exact = q[rows].astype(np.float64) @ p.astype(np.float64).T
    positions = np.arange(len(p))
    brute = np.array([np.lexsort((positions, -s))[:K] for s in exact])  # score desc, position asc
    notes = {}
    for method, found in ids.items():
        if method == "faiss-index":
            differing = np.nonzero((found != ids["numpy"]).any(axis=1))[0]
            real = sum(
                not np.allclose(
                    np.sort(q[r].astype(np.float64) @ p[found[r]].astype(np.float64).T),
                    np.sort(q[r].astype(np.float64) @ p[ids["numpy"][r]].astype(np.float64).T),
                    rtol=0,
                    atol=1e-6,
                )
                for r in differing
            )
            notes[method] = f"{len(differing)} rows differ from exact_topk ({real} beyond float32 near-ties)"
        elif method != "matmul":
            agrees = "same ids as numpy" if np.array_equal(found, ids["numpy"]) else "ids DIFFER from numpy"
            brute_ok = "equal" if np.array_equal(found[rows], brute) else "DIFFERENT"
            notes[method] = f"{agrees}; float64 brute force on {len(rows)} rows: {brute_ok}"
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3,000 x 20,000 x 128 (seconds, not minutes)")
    parser.add_argument("--queries", type=int, default=30000)
    parser.add_argument("--pool", type=int, default=200000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ", ".join(METHODS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.queries, args.pool, args.dim, args.out)
        return
    if args.quick:
        args.queries, args.pool, args.dim = 3000, 20000, 128
    methods = [m for m in args.methods.split(",") if m]
    import faiss  # noqa: F401  (loaded so the header names its BLAS)

    from muge_eval.retrieval.ranking import choose_backend

    print_machine(f"exact top-{K}: {args.queries:,} queries x {args.pool:,} pool x {args.dim} dims (float32)")
    print(f"   exact_topk backend=auto picks on the CPU: {choose_backend('auto')[0]}")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workers = {m: Worker(m, args, Path(tmp)) for m in methods}
        for _ in range(max(MIN_REPEATS, args.repeats)):
            for method, w in workers.items():
                r = w.run()
                best = results.setdefault(method, r)
                best["wall"], best["cpu"] = min(best["wall"], r["wall"]), min(best["cpu"], r["cpu"])
                best["peak_kib"] = max(best["peak_kib"], r["peak_kib"])
        for w in workers.values():
            w.close()
        notes = check_ids(results, args, Path(tmp)) if "numpy" in results else {}
    anchor = results.get("matmul")
    header = f"{'method':34s} {'wall s':>8s} {'CPU s':>8s} {'/ anchor':>9s} {'(CPU)':>6s}"
    print(f"{header} {'peak RSS':>9s} {'over inputs':>12s}  ids")
    for method in methods:
        r = results[method]
        ratio = f"{r['wall'] / anchor['wall']:8.2f}x {r['cpu'] / anchor['cpu']:5.2f}x" if anchor else f"{'-':>15s}"
        peak, extra = r["peak_kib"] / 2**20, (r["peak_kib"] - r["inputs_kib"]) / 2**20
        row = f"{METHODS[method]:34s} {r['wall']:8.2f} {r['cpu']:8.2f} {ratio} {peak:7.2f}GiB {extra:10.2f}GiB"
        print(f"{row}  {notes.get(method, '-')}")
    print(f"best of {max(MIN_REPEATS, args.repeats)} interleaved repeats; load average at the end {load_average()}")
    print("targets: exact_topk (numpy and faiss) at most 1.2x the anchor; peak RSS under 1 GiB")


if __name__ == "__main__":
    main()
