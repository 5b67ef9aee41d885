"""No import cycles inside ``indexer`` (embedder, onnx_export and pipeline used to import each other)."""

from __future__ import annotations

import grimp


def test_indexer_has_no_import_cycles() -> None:
    graph = grimp.build_graph("indexer")
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == []
