"""``predictions``: score images that already exist (a submission TSV or a directory of
``<img_id>.png``), looked up by img_id."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from muge_eval.errors import InputError, Problem
from muge_eval.fingerprint import directory_fingerprint, files_fingerprint
from muge_eval.t2i.adapters.base import GeneratorAdapter
from muge_eval.t2i.submission import T2ISubmission, read_submission


class PredictionsGenerator(GeneratorAdapter):
    def __init__(self, path: Path):
        if not path.exists():
            raise InputError([Problem(str(path), "predictions not found")], "missing file")
        self.path = path
        self._submission: T2ISubmission | None = None

    def fingerprint(self) -> str | None:
        if self.path.is_dir():
            return directory_fingerprint(self.path, ("*.png",))
        return files_fingerprint([self.path])

    def protocol(self) -> dict[str, object]:
        return {"source": "existing images"}

    def attach(self, gold_ids: tuple[str, ...]) -> T2ISubmission:
        """Check the files against the gold ids (every id present, every image readable)."""
        self._submission = read_submission(self.path, gold_ids, None)
        return self._submission

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        raise InputError([Problem(str(self.path), "the predictions adapter looks images up by img_id")])

    def generate_items(self, ids: Sequence[str], prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        if self._submission is None:
            raise InputError([Problem(str(self.path), "predictions were not checked against the gold ids")])
        return [image for _, image in self._submission.iter_images(ids)]
