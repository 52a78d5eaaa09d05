"""An adapter used by the CLI tests: takes a secret-looking argument."""

from __future__ import annotations

from muge_eval.retrieval.adapters.random_baseline import RandomRetrieval


class KeyedRandom(RandomRetrieval):
    def __init__(self, api_key: str, dim: int = 8, seed: int = 1234):
        super().__init__(dim=dim, seed=seed)
        self.api_key = api_key


class CaptionOnly:
    """A duck-typed captioning model with no retrieval methods."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def caption(self, images: list[object]) -> list[str]:
        return ["一件衣服" for _ in images]
