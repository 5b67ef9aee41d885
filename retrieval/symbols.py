"""Looking definitions up by name: the one symbol lookup every feature and front end uses.

``/explain Order.total`` in the TUI, ``repo-assistant explain FILE:SYMBOL`` on the
command line and the MCP ``definition`` tool must find the same definition for the
same name, so the ranking lives here once: an exact qualified name first
(``Order.total``), then an exact simple name (``total``), then a qualified name that
ends with the text (``models.Order.total`` for ``Order.total``).
"""

from __future__ import annotations

from collections.abc import Mapping

from indexer.types import FileSymbols, SymbolDef

EXACT_QUALIFIED, EXACT_NAME, QUALIFIED_SUFFIX = 0, 1, 2


def clean_symbol_name(name: str) -> str:
    """``name`` as typed by a person: backticks, a trailing ``()`` and blanks removed."""
    return name.strip().strip("`").strip().removesuffix("()")


def match_rank(definition: SymbolDef, wanted: str) -> int | None:
    """How well ``definition`` matches the cleaned name ``wanted`` (lower is better; ``None``: no match)."""
    if definition.qualified_name == wanted:
        return EXACT_QUALIFIED
    if definition.name == wanted:
        return EXACT_NAME
    if definition.qualified_name.endswith("." + wanted):
        return QUALIFIED_SUFFIX
    return None


def find_definitions(symbols: Mapping[str, FileSymbols], name: str, *, path: str | None = None) -> list[SymbolDef]:
    """Every definition matching ``name``, best match first (then by path and line).

    ``path`` restricts the search to one file (``explain FILE:SYMBOL``).
    """
    wanted = clean_symbol_name(name)
    if not wanted:
        return []
    files = [symbols[path]] if path is not None and path in symbols else [] if path is not None else symbols.values()
    ranked: list[tuple[int, str, int, SymbolDef]] = []
    for file_symbols in files:
        for d in file_symbols.definitions:
            rank = match_rank(d, wanted)
            if rank is not None:
                ranked.append((rank, d.path, d.start_line, d))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked]
