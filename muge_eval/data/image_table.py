"""Image sets as `datasets.Dataset` tables with lazily decoded images.

A base64 TSV (or a folder of image files named by an annotation) is converted once into
an Arrow table in the `datasets` cache (keyed by the content's fingerprint), after which
rows decode to PIL images only when read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from muge_eval.cache import cache_dir as cache_folder
from muge_eval.errors import InputError, Problem

ID_KINDS = ("int", "str")


def _rows(path: str, id_kind: str, sha256: str) -> Iterator[dict[str, Any]]:
    # sha256 is unused here but is part of gen_kwargs, so the cache key follows the content.
    del sha256
    from muge_eval.io.image_tsv import iter_image_tsv  # PIL, only when a table is built

    items = iter_image_tsv(Path(path), int) if id_kind == "int" else iter_image_tsv(Path(path), str)
    for item in items:
        yield {"image_id": item.image_id, "image": {"bytes": item.data, "path": None}, "line": item.line}


def _unwrap_generation_error(exc: BaseException) -> BaseException:
    """`datasets` wraps errors raised by the generator; find our InputError inside."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, InputError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def _table(generator: Any, gen_kwargs: dict[str, Any], id_type: str, cache_dir: Path | None) -> Any:
    """A table of image_id, image (lazy), line from ``generator``, cached under its kwargs."""
    import datasets

    features = datasets.Features(
        {"image_id": datasets.Value(id_type), "image": datasets.Image(), "line": datasets.Value("int64")}
    )
    try:
        return datasets.Dataset.from_generator(
            generator, features=features, gen_kwargs=gen_kwargs, cache_dir=str(cache_folder("datasets", cache_dir))
        )
    except Exception as exc:  # datasets re-raises generator errors wrapped
        inner = _unwrap_generation_error(exc)
        if inner is not exc:
            raise inner from None
        raise


def image_table_from_tsv(path: Path, id_kind: str, sha256: str, cache_dir: Path | None = None) -> Any:
    """A `datasets.Dataset` with columns image_id, image (lazy), line (1-based TSV line),
    converted once into the cache root's ``datasets`` folder (``cache_dir`` overrides the root)."""
    if not path.is_file():
        raise InputError([Problem(str(path), "image file not found")], "missing file")
    kwargs = {"path": str(path.resolve()), "id_kind": id_kind, "sha256": sha256}
    return _table(_rows, kwargs, "int64" if id_kind == "int" else "string", cache_dir)


def check_columns(table: Any, required: tuple[str, ...], where: str) -> None:
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise InputError(
            [Problem(where, f"missing column(s) {', '.join(missing)}; has {', '.join(table.column_names)}")],
            "invalid dataset",
        )


def load_saved_table(location: Path, name: str, split: str) -> Any:
    """``location/name`` written by ``DatasetDict.save_to_disk`` (or a single Dataset)."""
    import datasets

    path = location / name
    if not path.exists():
        raise InputError([Problem(str(path), "saved dataset not found")], "missing dataset")
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise InputError(
                [Problem(str(path), f"no split {split!r}; has {', '.join(loaded.keys())}")], "missing split"
            )
        return loaded[split]
    return loaded


def load_hub_table(hub_id: str, config: str, split: str, revision: str | None) -> Any:
    """A table from a `datasets` hub repository (config ``images`` or ``texts``)."""
    import datasets

    from muge_eval.hub import hub_reachable, not_cached_message, offline_requested

    if not offline_requested() and not hub_reachable():
        raise InputError(
            [Problem(hub_id, not_cached_message(hub_id) + " (set HF_HUB_OFFLINE=1 to use a cached copy)")],
            "hub unreachable",
        )
    try:
        return datasets.load_dataset(hub_id, config, split=split, revision=revision)
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
        raise InputError([Problem(hub_id, f"cannot load {config}/{split} from the hub: {exc}")]) from exc


def _file_rows(ids: list[Any], paths: list[str], lines: list[int], fingerprint: str) -> Iterator[dict[str, Any]]:
    # fingerprint is unused here but is part of gen_kwargs, so the cache key follows the files.
    del fingerprint
    for image_id, path, line in zip(ids, paths, lines, strict=True):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputError([Problem(path, f"cannot read image file: {exc.strerror}")], "missing file") from exc
        yield {"image_id": image_id, "image": {"bytes": data, "path": None}, "line": line}


def image_table_from_files(
    ids: list[int], paths: list[Path], lines: list[int], fingerprint: str, cache_dir: Path | None = None
) -> Any:
    """Like ``image_table_from_tsv`` for images kept as files (one per image): the bytes
    are copied into an Arrow table once, keyed by ``fingerprint`` (the annotation and the
    files' names, sizes and times). ``line`` is where the annotation names each image."""
    kwargs = {"ids": ids, "paths": [str(p) for p in paths], "lines": lines, "fingerprint": fingerprint}
    return _table(_file_rows, kwargs, "int64", cache_dir)
