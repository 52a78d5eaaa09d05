"""The text-to-image metrics as specs. FID and IS are set-level (they compare or split
whole image sets); CLIP score and R-precision are means of per-image numbers that the
samples carry (``clip_score``, ``r_precision_hit``)."""

from __future__ import annotations

from muge_eval.metrics.spec import MetricSpec

_SET = "computed over the whole image set; it has no per-image value"


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
    )
