"""Chunks are embedded source first, then tests, docs and vendored code; recently edited files first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from base.config import IndexSettings
from indexer.pipeline import embed_priority, index_repository


def test_embed_priority_classes() -> None:
    assert [embed_priority(p) for p in ("pkg/core.py", "src/app.ts", "tests/test_core.py", "pkg/core_test.go",
                                        "docs/guide.md", "README.rst", "examples/demo.py",
                                        "vendor/lib.py", "pkg/_vendor/tests/test_x.py")] == [0, 0, 1, 1, 2, 2, 2, 3, 3]


def test_pipeline_embeds_in_priority_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import indexer.embedder as embedder_module

    repo = tmp_path / "repo"
    files = {
        "vendor/lib.py": "def vendored_helper():\n    return 1\n",
        "docs/guide.md": "# Guide\n\nHow the pricing works.\n",
        "tests/test_core.py": "def test_price():\n    assert price(1) == 1\n",
        "pkg/old.py": "def old_code():\n    return 2\n",
        "pkg/core.py": "def price(x):\n    return x\n",
    }
    for i, (path, text) in enumerate(files.items()):
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        os.utime(target, ns=(10**18 + i * 10**9,) * 2)  # pkg/core.py is the most recently edited
    seen: list[str] = []
    real_load = embedder_module.load_embedder

    def recording_load(*args: Any, **kwargs: Any) -> Any:
        embedder = real_load(*args, **kwargs)
        real_embed = embedder.embed

        def embed(texts: list[str], *a: Any, **k: Any) -> Any:
            seen.extend(t.split()[0] for t in texts)
            return real_embed(texts, *a, **k)

        embedder.embed = embed
        return embedder

    monkeypatch.setattr(embedder_module, "load_embedder", recording_load)
    index_repository(repo, IndexSettings(threads=1, shared_vector_cache_mb=0))
    order = list(dict.fromkeys(seen))
    assert order == ["pkg/core.py", "pkg/old.py", "tests/test_core.py", "docs/guide.md", "vendor/lib.py"]
