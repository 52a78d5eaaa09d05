"""The typed registry: lazy entries, import paths, entry points, suggestions."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from muge_eval.errors import UsageError
from muge_eval.plugins import build_registries
from muge_eval.registry import Registry, import_object


def test_lazy_entries_are_imported_only_when_used() -> None:
    registry: Registry[object] = Registry("thing")
    registry.add("json-dumps", "json:dumps", "stdlib")
    registry.add("broken", "no_such_module_xyz:thing", "never imported unless asked")
    assert registry.names() == ["broken", "json-dumps"]
    import json

    assert registry.get("json-dumps") is json.dumps
    with pytest.raises(UsageError, match="cannot import module 'no_such_module_xyz'"):
        registry.get("broken")


def test_did_you_mean() -> None:
    registries = build_registries()
    with pytest.raises(UsageError, match="did you mean 'random'"):
        registries.models.get("randm")
    with pytest.raises(UsageError, match="did you mean 'muge-retrieval-sample'"):
        registries.tasks.get("muge-retrieval-sampel")


def test_import_path_for_unpackaged_code() -> None:
    registries = build_registries()
    found = registries.models.get("muge_eval.retrieval.adapters.random_baseline:RandomRetrieval")
    assert found.__name__ == "RandomRetrieval"
    with pytest.raises(UsageError, match="has no attribute"):
        import_object("muge_eval.retrieval.adapters.random_baseline:Nope")


def test_duplicate_registration_is_refused() -> None:
    registry: Registry[object] = Registry("thing")
    registry.add("a", "json:dumps")
    with pytest.raises(UsageError, match="registered twice"):
        registry.add("a", "json:loads")


def test_entry_point_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pip-installed package adds a model and a task through entry points."""
    site = tmp_path / "site"
    package = site / "my_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from muge_eval.retrieval.adapters.random_baseline import RandomRetrieval

            class MyAdapter(RandomRetrieval):
                pass

            CARD = Path(__file__).parent / "card.yaml"
            """
        )
    )
    (package / "card.yaml").write_text(
        "name: my-task\ntype: retrieval\ndata: {format: muge-mr}\nmetrics: [mean_recall]\nmain_metric: mean_recall\n"
    )
    dist = site / "my_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[muge_eval.models]\nmine = my_plugin:MyAdapter\n\n[muge_eval.tasks]\nmy-task = my_plugin:CARD\n"
    )
    monkeypatch.syspath_prepend(str(site))
    try:
        registries = build_registries()
        assert "mine" in registries.models.names()
        assert registries.models.get("mine").__name__ == "MyAdapter"
        from muge_eval.plugins import resolve_card

        assert resolve_card(registries, "my-task").name == "my-task"
    finally:
        sys.modules.pop("my_plugin", None)


def test_builtin_listing_does_not_import_heavy_modules() -> None:
    import subprocess

    code = (
        "import sys; from muge_eval.plugins import build_registries; r = build_registries(); "
        "list(r.models.summaries()); list(r.tasks.summaries()); "
        "print(any(m in sys.modules for m in ('torch', 'transformers', 'diffusers', 'faiss')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
