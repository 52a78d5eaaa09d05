"""A registry of published Chinese retrieval results (YAML data in ``data/``), with the
source of every number, and the comparison of a run with them.

``load_published()`` returns every entry as a frozen ``PublishedResult`` (model metadata,
task card, split, direction, setting, metrics, source, protocol); the leaderboard, the
``published`` and ``compare`` commands and ``regress --expected published:ID`` read it.
"""

from muge_eval.published.loader import find_published, load_published
from muge_eval.published.records import ModelInfo, PublishedResult, Source

__all__ = ["ModelInfo", "PublishedResult", "Source", "find_published", "load_published"]
