"""The text-to-image metrics as specs.

FID, IS, KID, FD-DINOv2, CMMD, recall and coverage are set-level (they compare or split
whole image sets, or average over the real images). CLIP score and R-precision are means
of per-image numbers the samples carry (``clip_score``, ``r_precision_hit``), and so are
precision and density: each generated image records whether any real image's
k-neighbourhood contains it (``prdc_in_real``) and how many do (``prdc_real_balls``).
"""

from __future__ import annotations

from muge_eval.metrics.spec import MetricSpec
from muge_eval.t2i.prdc import PRDC_K

_SET = "computed over the whole image set; it has no per-image value"
_REAL = "an average over the real images, not over the generated ones"


def t2i_metric_specs() -> tuple[MetricSpec, ...]:
    return (
        MetricSpec(
            "fid",
            "Fréchet Inception Distance to the real images (lower is better)",
            False,
            "score",
            "set",
            no_interval="FID compares two feature distributions; it has no per-image value",
        ),
        MetricSpec("is_mean", "Inception Score, mean over 10 splits", True, "score", "set", no_interval=_SET),
        MetricSpec(
            "is_std", "Inception Score, standard deviation over 10 splits", False, "score", "set", no_interval=_SET
        ),
        MetricSpec(
            "clip_score",
            "100 x max(cosine, 0) between description and image, judged",
            True,
            "score",
            "mean",
            item_fields=("clip_score",),
        ),
        MetricSpec(
            "r_precision",
            "own description ranked first among 100, judged (%)",
            True,
            "percent",
            "mean",
            item_fields=("r_precision_hit",),
            scale=100.0,
        ),
        MetricSpec(
            "kid",
            "Kernel Inception Distance: unbiased MMD^2, cubic kernel, mean over 100 subsets (torch-fidelity)",
            False,
            "score",
            "set",
            no_interval=_SET,
        ),
        MetricSpec("kid_std", "KID, standard deviation over the subsets", False, "score", "set", no_interval=_SET),
        MetricSpec(
            "fd_dinov2",
            "Fréchet distance on DINOv2 ViT-L/14 CLS features to the real images",
            False,
            "score",
            "set",
            no_interval=_SET,
        ),
        MetricSpec(
            "cmmd",
            "CMMD: MMD x 1000, RBF kernel sigma 10, on the judge's image embeddings of generated vs real images",
            False,
            "score",
            "set",
            no_interval=_SET,
        ),
        MetricSpec(
            "precision",
            f"share of generated images inside some real image's {PRDC_K}-NN ball (Kynkäänniemi et al.)",
            True,
            "score",
            "mean",
            item_fields=("prdc_in_real",),
        ),
        MetricSpec(
            "recall",
            f"share of real images inside some generated image's {PRDC_K}-NN ball (Kynkäänniemi et al.)",
            True,
            "score",
            "set",
            no_interval=_REAL,
        ),
        MetricSpec(
            "density",
            f"real {PRDC_K}-NN balls containing a generated image, / {PRDC_K}, averaged (Naeem et al.)",
            True,
            "score",
            "mean",
            item_fields=("prdc_real_balls",),
            scale=1.0 / PRDC_K,
        ),
        MetricSpec(
            "coverage",
            f"share of real images whose {PRDC_K}-NN ball holds a generated image (Naeem et al.)",
            True,
            "score",
            "set",
            no_interval=_REAL,
        ),
    )
