"""``features``: precomputed embeddings, looked up by id.

Accepted files: Chinese-CLIP's ``*.img_feat.jsonl`` / ``*.txt_feat.jsonl`` (lines
``{"image_id": 1, "feature": [...]}`` / ``{"text_id": 1, "feature": [...]}``), or a ``.npy``
matrix with its ids in a ``.npy`` integer vector or a text file of one id per line.
Loaded without pickle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from muge_eval.errors import InputError, Problem, ProblemList, UsageError, brief
from muge_eval.fingerprint import files_fingerprint
from muge_eval.io.jsonl import is_json_int, iter_json_lines, open_text
from muge_eval.io.npz import read_npy_array
from muge_eval.models.base import ImageBatch, RetrievalAdapter, TextBatch

FeatureTable = tuple[dict[int, int], npt.NDArray[np.float32]]


def _read_jsonl_features(path: Path, id_keys: tuple[str, ...]) -> FeatureTable:
    problems = ProblemList(str(path))
    rows: dict[int, int] = {}
    vectors: list[list[float]] = []
    dim: int | None = None
    for line in iter_json_lines(path, "feature file"):
        if line.error:
            problems.add(line.error, line.number)
            continue
        obj = line.value
        key = next((k for k in id_keys if isinstance(obj, dict) and k in obj), None)
        if key is None:
            problems.add("missing", line.number, id_keys[0])
            continue
        item_id, feature = obj[key], obj.get("feature")
        if not is_json_int(item_id):
            problems.add(f"must be an integer, got {brief(item_id)}", line.number, key)
            continue
        if not isinstance(feature, list) or not feature or not all(isinstance(v, (int, float)) for v in feature):
            problems.add("must be a non-empty list of numbers", line.number, "feature")
            continue
        if dim is not None and len(feature) != dim:
            problems.add(f"has {len(feature)} dimensions, earlier lines have {dim}", line.number, "feature")
            continue
        if item_id in rows:
            problems.add(f"id {item_id} repeats", line.number, key)
            continue
        dim = len(feature)
        rows[item_id] = len(vectors)
        vectors.append(feature)
    problems.raise_if_any(f"invalid feature file {path.name}")
    return rows, np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dim or 0)


def _read_ids(path: Path) -> list[int]:
    if path.suffix == ".npy":
        ids = read_npy_array(path, "id file")
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise InputError([Problem(str(path), "must be a 1-d integer array of ids")])
        return [int(i) for i in ids]
    problems = ProblemList(str(path))
    out: list[int] = []
    for number, raw in enumerate(open_text(path, "id file").splitlines(), start=1):
        try:
            out.append(int(raw.strip()))
        except ValueError:
            problems.add(f"not an integer id: {raw[:40]!r}", number)
    problems.raise_if_any(f"invalid id file {path.name}")
    return out


def _read_npy_features(path: Path, ids_path: Path | None) -> FeatureTable:
    if ids_path is None:
        raise UsageError(f"{path.name}: a .npy feature matrix needs its ids file (image_ids=... / text_ids=...)")
    for p in (path, ids_path):
        if not p.is_file():
            raise InputError([Problem(str(p), "file not found")], "missing file")
    matrix = read_npy_array(path, "feature file")
    if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(matrix.dtype, np.complexfloating):
        raise InputError([Problem(str(path), f"must hold real numbers, not {matrix.dtype}")], "invalid feature file")
    ids = _read_ids(ids_path)
    if matrix.ndim != 2 or len(matrix) != len(ids):
        raise InputError([Problem(str(path), f"shape {matrix.shape} does not match {len(ids)} ids in {ids_path}")])
    if len(set(ids)) != len(ids):
        raise InputError([Problem(str(ids_path), "ids repeat")])
    return {item: row for row, item in enumerate(ids)}, matrix.astype(np.float32)


def load_feature_table(path: Path, ids_path: Path | None, id_keys: tuple[str, ...]) -> FeatureTable:
    if not path.is_file():
        raise InputError([Problem(str(path), "feature file not found")], "missing file")
    if path.suffix == ".npy":
        return _read_npy_features(path, ids_path)
    return _read_jsonl_features(path, id_keys)


def locate(path: Path, data_dir: Path | None, option: str) -> Path:
    """A user's file: as given (relative to the current directory), else relative to the
    task's data directory; when neither exists, the problem says where it looked."""
    if path.is_absolute() or path.exists() or data_dir is None:
        if not path.exists():
            raise InputError([Problem(str(path), f"{option}: file not found (looked in {Path.cwd()})")], "missing file")
        return path
    beside_data = data_dir / path
    if beside_data.exists():
        return beside_data
    raise InputError(
        [Problem(str(path), f"{option}: file not found (looked in {Path.cwd()} and in {data_dir})")], "missing file"
    )


class PrecomputedFeatures(RetrievalAdapter):
    """Embeddings computed elsewhere (for example by Chinese-CLIP's extract_features.py).

    Relative paths are looked up in the current directory, then in the task's data
    directory (``--data-dir``, or the card's), which the run passes as ``data_dir``."""

    def __init__(
        self,
        image_features: Path,
        text_features: Path,
        image_ids: Path | None = None,
        text_ids: Path | None = None,
        data_dir: Path | None = None,
    ):
        image_features = locate(image_features, data_dir, "image_features")
        text_features = locate(text_features, data_dir, "text_features")
        image_ids = locate(image_ids, data_dir, "image_ids") if image_ids is not None else None
        text_ids = locate(text_ids, data_dir, "text_ids") if text_ids is not None else None
        self.paths = [p for p in (image_features, text_features, image_ids, text_ids) if p is not None]
        self.images = load_feature_table(image_features, image_ids, ("image_id", "item_id"))
        self.texts = load_feature_table(text_features, text_ids, ("text_id", "query_id"))
        if self.images[1].shape[1] != self.texts[1].shape[1]:
            raise InputError(
                [
                    Problem(
                        str(text_features),
                        f"dimension {self.texts[1].shape[1]} differs from images' {self.images[1].shape[1]}",
                    )
                ]
            )

    def fingerprint(self) -> str | None:
        return files_fingerprint(self.paths)

    @staticmethod
    def _lookup(table: FeatureTable, ids: list[int | str], kind: str, source: str) -> npt.NDArray[np.float32]:
        rows, matrix = table
        missing = [i for i in ids if i not in rows]
        if missing:
            shown = ", ".join(map(str, missing[:20]))
            raise InputError([Problem(source, f"no feature for {len(missing)} {kind} id(s): {shown}")])
        return matrix[[rows[i] for i in ids]]  # type: ignore[index]

    def encode_texts(self, texts: list[str]) -> npt.NDArray[np.float32]:
        raise UsageError("the features adapter looks texts up by id; it cannot embed new text")

    def encode_images(self, images: list[Image.Image]) -> npt.NDArray[np.float32]:
        raise UsageError("the features adapter looks images up by id; it cannot embed new images")

    def encode_text_batch(self, batch: TextBatch) -> npt.NDArray[np.float32]:
        return self._lookup(self.texts, list(batch.ids), "text", str(self.paths[1]))

    def encode_image_batch(self, batch: ImageBatch) -> npt.NDArray[np.float32]:
        return self._lookup(self.images, list(batch.ids), "image", str(self.paths[0]))
