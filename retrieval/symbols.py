"""Looking definitions up by name: the one symbol lookup every feature and front end uses.

``/explain Order.total`` in the TUI, ``repo-assistant explain FILE:SYMBOL`` on the
command line and the MCP ``definition`` tool must find the same definition for the
same name, so the ranking lives here once: an exact qualified name first
(``Order.total``), then an exact simple name (``total``), then a qualified name that
ends with the text (``models.Order.total`` for ``Order.total``).  The other
navigation questions an agent asks of the symbol table, a file's outline and the
references to a name, are answered here too, as plain functions over it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from indexer.store import name_key
from indexer.types import Chunk, FileSymbols, SymbolDef

EXACT_QUALIFIED, EXACT_NAME, QUALIFIED_SUFFIX = 0, 1, 2
HEADER_LINES = 5  # lines from a definition's start that count as its header, not as references


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


class DefinitionSource(Protocol):
    """Where definitions are looked up by name: the index reader (by SQL) or a :class:`SymbolTable`."""

    def definitions_named(self, names: Iterable[str]) -> list[SymbolDef]: ...


class SymbolTable:
    """A symbol table already in memory as a :class:`DefinitionSource` (what the reader does by SQL).

    For callers holding the whole table anyway (references, test fakes): the candidates are
    the same as :meth:`indexer.reader.IndexReader.definitions_named`'s, in table order.
    """

    def __init__(self, symbols: Mapping[str, FileSymbols]) -> None:
        self.symbols = symbols

    def definitions_named(self, names: Iterable[str]) -> list[SymbolDef]:
        keys = {name_key(n) for n in names}
        return [d for fs in self.symbols.values() for d in fs.definitions
                if name_key(d.name) in keys or name_key(d.qualified_name) in keys]


def find_definitions(source: DefinitionSource, name: str, *, path: str | None = None) -> list[SymbolDef]:
    """Every definition matching ``name``, best match first (then by path and line).

    ``path`` restricts the search to one file (``explain FILE:SYMBOL``).  One indexed lookup
    of the name's candidates, whatever the size of the repository.
    """
    wanted = clean_symbol_name(name)
    if not wanted:
        return []
    ranked: list[tuple[int, str, int, SymbolDef]] = []
    for d in source.definitions_named([wanted]):
        rank = match_rank(d, wanted)
        if rank is not None and (path is None or d.path == path):
            ranked.append((rank, d.path, d.start_line, d))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked]


# --------------------------------------------------------------------------- navigation


@dataclass(frozen=True)
class Reference:
    """One line that uses a name: where it is, the line's text, and the definition it sits in."""

    path: str
    line: int
    text: str
    enclosing: str  # qualified name of the chunk holding the line ("" at module level)


def outline(symbols: Mapping[str, FileSymbols], path: str) -> list[SymbolDef]:
    """The definitions of one file in source order (outer before inner at the same line).

    Raises ``KeyError`` when the index holds no symbols for ``path``, so a caller can
    tell an unknown file from a file that defines nothing.
    """
    file_symbols = symbols[path]
    return sorted(file_symbols.definitions, key=lambda d: (d.start_line, -d.end_line, d.qualified_name))


def find_references(
    symbols: Mapping[str, FileSymbols],
    name: str,
    chunks_for_file: Callable[[str], Sequence[Chunk]],
    *,
    limit: int = 200,
) -> list[Reference]:
    """Lines that use ``name`` (``total`` or ``Order.total``), best files first, definitions excluded.

    The symbol table says which files reference an identifier (``FileSymbols.references``);
    the lines come from those files' indexed chunks, so what is shown is what was indexed
    (secrets redacted).  For a qualified name the files that also mention its owner
    (``Order``) or define it come first: ``total`` alone is too common to trust.
    Definition lines of the symbol itself are not references and are left out.
    """
    wanted = clean_symbol_name(name)
    if not wanted:
        return []
    simple = wanted.rsplit(".", 1)[-1]
    owner = wanted.rsplit(".", 2)[-2] if "." in wanted else ""
    defined = find_definitions(SymbolTable(symbols), wanted)
    defining_files = {d.path for d in defined}
    # a definition's own header (decorators, a signature over several lines) is not a use of it
    definition_lines = {(d.path, line) for d in defined for line in range(d.start_line, d.start_line + HEADER_LINES)}
    languages = {symbols[d.path].language for d in defined if d.path in symbols}
    # ``Order.total`` is used as an attribute (``order.total``) outside its own file; ``total`` alone as a word.
    word = rf"{re.escape(simple)}(?![\w$])"
    pattern = re.compile(rf"\.{word}" if owner else rf"(?<![\w$.-]){word}")
    own_pattern = re.compile(rf"(?<![\w$-]){word}")

    def file_rank(path: str) -> tuple[int, int, str]:
        fs = symbols[path]
        mentions_owner = not owner or path in defining_files or owner in fs.references or \
            any(d.name == owner for d in fs.definitions)
        return (0 if mentions_owner else 1, 0 if not languages or fs.language in languages else 1, path)

    files = [p for p, fs in symbols.items() if simple in fs.references or p in defining_files]
    files.sort(key=file_rank)
    found: list[Reference] = []
    for path in files:
        by_line: dict[int, tuple[int, Reference]] = {}  # line -> (span of the chunk holding it, reference)
        for chunk in chunks_for_file(path):
            span = chunk.end_line - chunk.start_line
            for offset, text in enumerate(chunk.text.splitlines()):
                line = chunk.start_line + offset
                matcher = own_pattern if path in defining_files else pattern
                if (path, line) in definition_lines or not matcher.search(text):
                    continue
                if line not in by_line or span < by_line[line][0]:  # the innermost chunk names the enclosing def
                    by_line[line] = (span, Reference(path, line, text.strip(), chunk.symbol))
        found.extend(ref for _line, (_span, ref) in sorted(by_line.items()))
        if len(found) >= limit:
            return found[:limit]
    return found


# --- files the index does not cover (not indexed yet, or unsaved) ---------------------------------


def find_definition_in_text(text: str, path: str, name: str) -> tuple[int, int] | None:
    """``(start, end)`` lines of ``name``'s definition in a file's text, without the index.

    For a file indexed before it changed, or a language without a grammar: Python is
    parsed with :mod:`ast`; other languages are matched by a definition keyword before
    the name, to the closing brace or the end of the indented block.
    """
    wanted = clean_symbol_name(name)
    if path.endswith((".py", ".pyi")):
        span = _python_symbol(text, wanted)
        if span:
            return span
    return _generic_symbol(text, wanted.rsplit(".", 1)[-1])


def _python_symbol(text: str, wanted: str) -> tuple[int, int] | None:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None

    def visit(nodes: list[ast.stmt], scope: str) -> tuple[int, int] | None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{scope}.{node.name}" if scope else node.name
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if name == wanted or node.name == wanted:
                    return start, node.end_lineno or node.lineno
                if isinstance(node, ast.ClassDef):
                    found = visit(node.body, name)
                    if found:
                        return found
        return None

    return visit(tree.body, "")


def _generic_symbol(text: str, name: str) -> tuple[int, int] | None:
    """A definition line mentioning ``name`` after a keyword, to its closing brace or dedent."""
    pattern = re.compile(
        rf"^\s*(?:export\s+)?(?:pub\s+)?(?:async\s+)?(?:def|class|function|func|fn|struct|interface|enum|type|"
        rf"impl|trait|module|const|let|var)\b[^\n]*\b{re.escape(name)}\b")
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if pattern.match(line):
            return index + 1, _block_end(lines, index)
    return None


def _block_end(lines: list[str], start: int) -> int:
    depth = 0
    seen_brace = False
    indent = len(lines[start]) - len(lines[start].lstrip())
    for index in range(start, len(lines)):
        line = lines[index]
        depth += line.count("{") - line.count("}")
        seen_brace = seen_brace or "{" in line
        if seen_brace and depth <= 0:
            return index + 1
        if not seen_brace and index > start and line.strip() and len(line) - len(line.lstrip()) <= indent:
            return index
    return len(lines)
