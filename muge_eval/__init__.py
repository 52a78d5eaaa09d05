"""muge-eval: evaluation toolkit for the MUGE Chinese multimodal benchmark.

``muge_eval.evaluate(task, model, **options)`` and ``muge_eval.score(task, predictions,
gold=None, **options)`` return the results document (see ``muge_eval.api``). They are
imported on first use, so ``import muge_eval`` stays light.
"""

from __future__ import annotations

from typing import Any

from muge_eval.version import __version__

__all__ = ["__version__", "evaluate", "score"]


def __getattr__(name: str) -> Any:
    if name in ("evaluate", "score"):
        from muge_eval import api

        return getattr(api, name)
    raise AttributeError(f"module 'muge_eval' has no attribute {name!r}")
