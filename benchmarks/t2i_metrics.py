"""T2I metric benchmarks, each a comparison measured in one run.

1. FID of n vs n d-dimensional features (default 5,000 vs 5,000, d = 2048): our
   eigenvalue trace against scipy's ``sqrtm`` formula (as pytorch-fid computes it):
   same value, time ratio.
2. FID Inception feature extraction, images/s, on the CPU and on a GPU when available
   (random weights of the right shapes: the speed does not depend on their values),
   against pytorch-fid's own InceptionV3 on the same images and weights.
3. End to end against pytorch-fid 0.3.0 (its loader, network, statistics and sqrtm) on
   the same PNGs and the same state dict: relative difference of the FID.
4. The cost of each metric's arithmetic at 5,000 generated vs 5,000 real images beside
   FID's: KID (100 subsets of 1,000), precision/recall/density/coverage (k = 5) on 2048-d
   Inception and 1024-d DINOv2 features, FD-DINOv2, CMMD on 768-d embeddings. The features
   are random arrays of each metric's dimension (the arithmetic does not depend on their
   values); feature extraction is not included (section 2 measures Inception's).
   Best of 3 wall times, with the load average and the CPU model.

Every timing is the best of ``--repeat`` (at least 3) interleaved runs; the header names
the CPU, the load average and the BLAS kernel.

    python benchmarks/t2i_metrics.py            # full size
    python benchmarks/t2i_metrics.py --quick    # small, for CI
    python benchmarks/t2i_metrics.py --skip fid,extraction,e2e   # only the metric costs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_env import MIN_REPEATS, best_of, load_average, print_machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def synthetic_features(n: int, d: int, seed: int, shift: float) -> np.ndarray:
    """Non-negative, correlated features like an average pool after ReLU."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return np.abs(rng.standard_normal((n, d)) @ mixing + shift)


def bench_fid(n: int, d: int, repeats: int) -> None:
    from muge_eval.t2i.fid import feature_statistics, fid_from_stats, frechet_distance_sqrtm

    a = feature_statistics(synthetic_features(n, d, 0, 0.0))
    b = feature_statistics(synthetic_features(n, d, 1, 0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timings = best_of(
            repeats,
            {
                "scipy sqrtm": lambda: frechet_distance_sqrtm(a.mu, a.sigma, b.mu, b.sigma),
                "eigenvalue trace": lambda: fid_from_stats(a, b),
            },
        )
    ours, ours_s = timings["eigenvalue trace"].value, timings["eigenvalue trace"].wall_s
    reference, scipy_s = timings["scipy sqrtm"].value, timings["scipy sqrtm"].wall_s
    repeats = timings["scipy sqrtm"].repeats
    print(f"[fid] {n} vs {n} features, d={d}, best of {repeats}")
    print(f"  eigenvalue trace : {ours:.10f}  {ours_s:8.2f} s")
    print(f"  scipy sqrtm      : {reference:.10f}  {scipy_s:8.2f} s")
    print(f"  relative diff    : {abs(ours - reference) / abs(reference):.2e}   speed-up x{scipy_s / ours_s:.1f}")


def bench_metric_costs(n: int, repeats: int) -> None:
    """Each metric's arithmetic on random features of its dimension, n generated vs n real
    (the real statistics precomputed, as the cache holds them)."""
    from muge_eval.t2i.cmmd import cmmd
    from muge_eval.t2i.fid import feature_statistics, fid_from_features
    from muge_eval.t2i.kid import kid
    from muge_eval.t2i.prdc import prdc

    inception_gen, inception_real = synthetic_features(n, 2048, 0, 0.0), synthetic_features(n, 2048, 1, 0.1)
    dinov2_gen, dinov2_real = synthetic_features(n, 1024, 2, 0.0), synthetic_features(n, 1024, 3, 0.1)
    clip_gen, clip_real = synthetic_features(n, 768, 4, 0.0), synthetic_features(n, 768, 5, 0.1)
    inception_stats, dinov2_stats = feature_statistics(inception_real), feature_statistics(dinov2_real)
    cases: list[tuple[str, Callable[[], float]]] = [
        ("FID (2048-d Inception)", lambda: fid_from_features(inception_gen, inception_stats)),
        ("KID (2048-d, 100 subsets of 1,000)", lambda: kid(inception_gen, inception_real).mean),
        (
            "KID, one subset at a time",
            lambda: kid(inception_gen, inception_real, precompute=False).mean,
        ),
        ("precision/recall/density/coverage (2048-d, k=5)", lambda: prdc(inception_real, inception_gen).precision),
        ("FD-DINOv2 (1024-d)", lambda: fid_from_features(dinov2_gen, dinov2_stats)),
        ("precision/recall/density/coverage (1024-d DINOv2)", lambda: prdc(dinov2_real, dinov2_gen).precision),
        ("CMMD (768-d judge embeddings)", lambda: cmmd(clip_gen, clip_real)),
    ]
    print(f"[metric costs] {n} generated vs {n} real, random features, best of {repeats}")
    fid_s = 0.0
    for name, func in cases:
        seconds = best_of(repeats, {name: func})[name].wall_s
        fid_s = fid_s or seconds
        print(f"  {name:52s} {seconds:8.2f} s   x{seconds / fid_s:5.1f} FID")
    print(f"  load average at end: {load_average()}")


def pytorch_fid_network(weights_path: Path, device: str) -> Any:
    """pytorch-fid 0.3.0's InceptionV3 (pool3 block) with the given state dict."""
    import pytorch_fid.inception as pfi
    import torch

    pfi.load_state_dict_from_url = lambda *a, **k: torch.load(weights_path, weights_only=True)
    return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).to(device).eval()


def extraction_rates(images: list[Any], batch: int, device: str, weights_path: Path, repeats: int) -> dict[str, float]:
    """Images/s of muge-eval's extractor and of pytorch-fid's network (ToTensor per image)."""
    import torch
    import torchvision.transforms.functional as tf

    from muge_eval.t2i.inception import InceptionExtractor
    from muge_eval.t2i.weights import check_weights

    extractor = InceptionExtractor(check_weights(weights_path, True), "pytorch-fid", device)
    reference = pytorch_fid_network(weights_path, device)

    def ours() -> None:
        for start in range(0, len(images), batch):
            extractor(images[start : start + batch])
        if device == "cuda":
            torch.cuda.synchronize()

    def theirs() -> None:
        with torch.no_grad():
            for start in range(0, len(images), batch):
                tensors = torch.stack([tf.to_tensor(im) for im in images[start : start + batch]])
                reference(tensors.to(device))[0].squeeze(3).squeeze(2).cpu()
        if device == "cuda":
            torch.cuda.synchronize()

    extractor(images[:2])  # warm-up
    timings = best_of(repeats, {"pytorch-fid": theirs, "muge-eval": ours})
    return {name: len(images) / timing.wall_s for name, timing in timings.items()}


def bench_extraction(count: int, batch: int, devices: list[str], weights_path: Path, repeats: int) -> None:
    import torch
    from PIL import Image

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)) for _ in range(count)]
    print(f"[extraction] {count} images of 256x256, batch {batch}, torch threads {torch.get_num_threads()}")
    for device in devices:
        rates = extraction_rates(images, batch, device, weights_path, repeats)
        name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
        print(
            f"  {device:5s} ({name}): muge-eval {rates['muge-eval']:8.1f} images/s, "
            f"pytorch-fid {rates['pytorch-fid']:8.1f} images/s ({rates['muge-eval'] / rates['pytorch-fid']:.2f}x)"
        )


def bench_end_to_end(count: int, weights_path: Path, work: Path, repeats: int) -> None:
    import pytorch_fid.inception as pfi
    import torch
    from pytorch_fid.fid_score import calculate_fid_given_paths
    from t2i_helpers import write_dataset, write_submission

    from muge_eval.plugins import build_registries
    from muge_eval.tasktypes.loading import load_task

    data = work / "data"
    ids = write_dataset(data, count, size=64)
    submission = write_submission(work / "sub.tsv", ids, size=64)

    def muge_task(stats: Path) -> Any:
        options = {"inception_weights": str(weights_path), "allow_nonstandard_weights": "true"}
        options.update(stats_dir=str(stats), image_size="any", device="cpu")
        return load_task(build_registries(), "muge-t2i", options)

    task = muge_task(work / "stats-0")
    gold = task.load_gold("valid", data, None, None)
    sub = task.read_submission(gold, submission, None)
    real_dir, fake_dir = work / "real", work / "fake"
    real_dir.mkdir()
    fake_dir.mkdir()
    from muge_eval.t2i.data import iter_real_images

    for image_id, image in iter_real_images(data / "T2I_valid.img.tsv"):
        image.save(real_dir / f"{image_id}.png")
    for image_id in ids:
        (fake_dir / f"{image_id}.png").write_bytes(sub.raw_bytes(image_id))
    pfi.load_state_dict_from_url = lambda *a, **k: torch.load(weights_path, weights_only=True)
    runs = iter(range(1, 1000))

    def ours() -> float:  # a fresh statistics cache each time: the real images are read again
        fresh = muge_task(work / f"stats-{next(runs)}")
        return float(fresh.score(gold, fresh.read_submission(gold, submission, None)).metrics["fid"])

    def theirs() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(calculate_fid_given_paths([str(real_dir), str(fake_dir)], 50, "cpu", 2048, num_workers=0))

    timings = best_of(repeats, {"pytorch-fid": theirs, "muge-eval": ours})
    ours_value, ours_s = timings["muge-eval"].value, timings["muge-eval"].wall_s
    reference, ref_s = timings["pytorch-fid"].value, timings["pytorch-fid"].wall_s
    print(f"[end to end] {count} generated vs {count} real PNGs, same random state dict")
    print(f"  muge-eval   : {ours_value:.8f}  {ours_s:7.2f} s")
    print(f"  pytorch-fid : {reference:.8f}  {ref_s:7.2f} s")
    print(f"  relative diff: {abs(ours_value - reference) / abs(reference):.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, for CI)")
    parser.add_argument("--n", type=int, default=None, help="features per side for the FID timing")
    parser.add_argument("--repeat", type=int, default=MIN_REPEATS, help="timing repeats (the fastest is reported)")
    parser.add_argument("--skip", default="", help="comma list of sections to skip: fid,extraction,e2e,costs")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    import scipy.linalg  # noqa: F401  (loaded so the header names the BLAS it runs)
    import torch

    print_machine("t2i metrics: FID trace, Inception extraction, end to end against pytorch-fid")
    n, d = (args.n or (1000 if args.quick else 5000)), (256 if args.quick else 2048)
    if "fid" not in skip:
        bench_fid(n, d, args.repeat)
    if "costs" not in skip:
        bench_metric_costs(args.n or (1000 if args.quick else 5000), args.repeat)
    if skip >= {"extraction", "e2e"}:
        return
    from t2i_helpers import save_random_weights

    with tempfile.TemporaryDirectory() as tmp:
        weights = save_random_weights(Path(tmp) / "random_inception.pth")
        if "extraction" not in skip:
            devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
            bench_extraction(8 if args.quick else 64, 8 if args.quick else 32, devices, weights, args.repeat)
        if "e2e" not in skip:
            bench_end_to_end(12 if args.quick else 100, weights, Path(tmp), args.repeat)
    print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()
