"""The caption metrics computed by pycocoevalcap's own scorers, called directly.

``scorer=pycocoevalcap`` uses this path: ``Bleu(4)``, ``Rouge()`` and ``Cider()`` on the
space-joined tokens, one after the other, as the plain pipeline does (never
``COCOEvalCap.evaluate()``, which builds SPICE and downloads CoreNLP; never the PTB
tokenizer, which does not segment Chinese). The default ``fast`` scorer
(`muge_eval.caption.scorers`) repeats this arithmetic operation for operation, shares the
n-gram counts between BLEU and CIDEr-D, and is pinned to this path by the tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from muge_eval.caption.metrics import BLEU_KEYS, MetricValues, check_metric_names, meteor


def score_sentences_pycocoevalcap(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], metrics: Sequence[str]
) -> MetricValues:
    """The chosen metrics from pycocoevalcap's scorers (0-1 scale, CIDEr-D x10 as there)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    chosen = check_metric_names(metrics)
    gts = {index: list(refs) for index, refs in enumerate(references)}
    res = {index: [hypothesis] for index, hypothesis in enumerate(hypotheses)}
    corpus: dict[str, float] = {}
    per_image: dict[str, tuple[float, ...]] = {}
    if any(m in chosen for m in BLEU_KEYS):
        bleu_corpus, bleu_images = Bleu(4).compute_score(gts, res, verbose=0)
        for n, key in enumerate(BLEU_KEYS):
            corpus[key] = float(bleu_corpus[n])
            per_image[key] = tuple(float(v) for v in bleu_images[n])
    if "rouge_l" in chosen:
        rouge_corpus, rouge_images = Rouge().compute_score(gts, res)
        corpus["rouge_l"], per_image["rouge_l"] = float(rouge_corpus), tuple(float(v) for v in rouge_images)
    if "cider_d" in chosen:
        cider_corpus, cider_images = Cider().compute_score(gts, res)
        corpus["cider_d"], per_image["cider_d"] = float(cider_corpus), tuple(float(v) for v in cider_images)
    if "meteor" in chosen:
        part = meteor(hypotheses, references)
        corpus.update(part.corpus)
        per_image.update(part.per_image)
    return MetricValues({k: corpus[k] for k in chosen}, {k: per_image[k] for k in chosen})
