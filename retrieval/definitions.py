"""Definitions at the cursor: the declarations a completion or an explanation needs.

A model completing ``total = calculator.subtotal(order.lines)`` needs to see
``subtotal`` and ``Order.lines`` even when they live in other modules.  The names
used around the cursor (weighted by how close to the cursor they are) and the
names the active file imports are looked up in the index's symbol table; each
candidate definition is scored by that proximity, by how its file relates to the
active file (imported > same package > elsewhere) and by how ambiguous the name
is (a name defined in ten places says less about any one of them).
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from indexer.languages import detect_language
from indexer.types import FileSymbols, SymbolDef

# Names too common to resolve usefully, across the languages we index.
_KEYWORD_TEXT = """False None True and as assert async await break class continue def del elif else except finally
    for from global if import in is lambda nonlocal not or pass raise return try while with yield self cls
    print len str int float bool list dict set tuple object type super isinstance range enumerate zip
    function var let const new this null undefined typeof instanceof export default extends interface
    implements public private protected static void return func package struct impl fn pub mut use mod
    match enum trait where string number boolean any unknown never require module exports"""
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JS_EXTS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")

BEFORE_LINES = 60  # how far above the cursor names are collected
AFTER_LINES = 20  # and below it (code after the cursor matters less for what comes next)
IMPORT_WEIGHT = 0.35  # weight of a name imported by the file but not used near the cursor
PER_NAME = 3  # at most this many definitions for one name


@dataclass(frozen=True)
class DefinitionCandidate:
    """A definition the code around the cursor refers to, and why it was chosen."""

    definition: SymbolDef
    name: str
    score: float
    via: str  # "used at line N" or "imported"


def names_near(lines: Sequence[str], line: int, before: int = BEFORE_LINES, after: int = AFTER_LINES) -> dict[str, float]:
    """Identifiers around 1-based ``line`` with a proximity weight in (0, 1] (1 on the cursor line)."""
    return _scan_near(lines, line, before, after)[0]


def _scan_near(lines: Sequence[str], line: int, before: int = BEFORE_LINES,
               after: int = AFTER_LINES) -> tuple[dict[str, float], set[str]]:
    """:func:`names_near`'s weights, and the names that occur there as names, not only as attributes
    (``x.name``, ``x->name``)."""
    weights: dict[str, float] = {}
    bare: set[str] = set()
    first = max(1, line - before)
    last = min(len(lines), line + after)
    for number in range(first, last + 1):
        distance = abs(number - line)
        # Lines above the cursor are what the code being written builds on: they decay slower.
        scale = 8.0 if number <= line else 4.0
        weight = 1.0 / (1.0 + distance / scale)
        text = lines[number - 1]
        for match in _IDENT.finditer(text):
            name = match.group()
            if len(name) < 2 or name in _KEYWORDS:
                continue
            if weight > weights.get(name, 0.0):
                weights[name] = weight
            start = match.start()
            if not (text[start - 1:start] == "." or text[max(0, start - 2):start] == "->"):
                bare.add(name)
    return weights, bare  # only names that passed the filters above are ever added to ``bare``


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


class ModuleFiles:
    """The repository's files as import resolution asks about them: membership, and path suffixes.

    The last-resort rule of :func:`resolve_module` (a file whose path ends with the dotted
    name) once scanned every file for every unresolved import — on a 24K-file tree, a third-party
    import cost ~10 ms and a file's context ~1 s.  The files are grouped once by the last
    component of their stem (``__init__`` files also under their package's name), which is
    what the rule's suffix must end with, in the files' own order.
    """

    def __init__(self, files: Mapping[str, object] | set[str]) -> None:
        self.files = files
        self._by_last: dict[str, list[str]] | None = None

    def __contains__(self, path: object) -> bool:
        return path in self.files

    def ending_with(self, last: str) -> list[str]:
        """Files whose stem ends in ``last`` or ``last/__init__``, in the files' order."""
        if self._by_last is None:
            self._by_last = {}
            for path in self.files:
                stem = path.rsplit(".", 1)[0]
                head, _, name = stem.rpartition("/")
                self._by_last.setdefault(name, []).append(path)
                if name == "__init__" and head:
                    self._by_last.setdefault(head.rsplit("/", 1)[-1], []).append(path)
        return self._by_last.get(last, [])


def resolve_module(spec: str, from_path: str, files: Mapping[str, object] | set[str] | ModuleFiles) -> str | None:
    """The repository file an import names, or None (third-party or unknown).

    Handles Python absolute (``shopcore.pricing.tax``) and relative (``..models``) modules,
    JavaScript/TypeScript relative specifiers (``./client``), and as a last resort any file
    whose path ends with the dotted name turned into a path (Java, Go packages, src/ layouts).
    Pass one :class:`ModuleFiles` when resolving several imports against the same files.
    """
    if not isinstance(files, ModuleFiles):
        files = ModuleFiles(files)
    spec = spec.strip()
    if not spec:
        return None
    here = posixpath.dirname(from_path)
    candidates: list[str] = []
    if spec.startswith(("./", "../")):
        base = posixpath.normpath(posixpath.join(here, spec))
        candidates += [base, *(base + e for e in _JS_EXTS), *(f"{base}/index{e}" for e in _JS_EXTS)]
    elif spec.startswith("."):
        dots = len(spec) - len(spec.lstrip("."))
        base = here
        for _ in range(dots - 1):
            base = posixpath.dirname(base)
        rest = spec[dots:].replace(".", "/")
        module = posixpath.join(base, rest) if rest else base
        candidates += [f"{module}.py", f"{module}/__init__.py"]
    else:
        module = spec.replace(".", "/")
        candidates += [f"{module}.py", f"{module}/__init__.py", f"src/{module}.py", f"src/{module}/__init__.py"]
    for candidate in candidates:
        if candidate in files:
            return candidate
    if not spec.startswith("."):
        tail = "/" + spec.replace(".", "/")
        for path in files.ending_with(tail.rsplit("/", 1)[-1]):
            stem = path.rsplit(".", 1)[0]
            if stem.endswith(tail) or stem.endswith(tail + "/__init__"):
                return path
    return None


def imported_files(active: FileSymbols, files: Mapping[str, object]) -> dict[str, set[str]]:
    """Files the active file imports → the names it imports from them (empty set: the module itself).

    An import recorded as ``pkg.module.Name`` that does not resolve as a module is read as
    ``Name`` imported from ``pkg.module``.
    """
    result: dict[str, set[str]] = {}
    modules = ModuleFiles(files)
    for spec in active.imports:
        path = resolve_module(spec, active.path, modules)
        if path is not None:
            result.setdefault(path, set())
            continue
        if "." in spec.strip("."):
            module, _, name = spec.rpartition(".")
            path = resolve_module(module, active.path, modules)
            if path is not None:
                result.setdefault(path, set()).add(name)
    return result


def _definitions_by_name(symbols: Mapping[str, FileSymbols]) -> dict[str, list[SymbolDef]]:
    index: dict[str, list[SymbolDef]] = {}
    for fs in symbols.values():
        for d in fs.definitions:
            index.setdefault(d.name, []).append(d)
    return index


def definitions_at(
    symbols: Mapping[str, FileSymbols],
    active_path: str,
    lines: Sequence[str],
    line: int | None,
    *,
    visible: tuple[int, int] | None = None,
    limit: int = 20,
    defined: Callable[[str], Sequence[SymbolDef]] | None = None,
) -> list[DefinitionCandidate]:
    """Definitions of the names used around ``line`` of the active file, best first.

    ``visible`` is the active-file span already in the context: definitions inside it are
    skipped.  ``defined`` may look a name's definitions up in the index (a name → definitions
    dict of ``symbols`` is built otherwise).
    """
    lookup = defined if defined is not None else _definitions_by_name(symbols).get
    active = symbols.get(active_path) or FileSymbols(path=active_path, language="")
    python = (active.language or detect_language(active_path)) == "python"
    imports = imported_files(active, symbols)
    imported_names = {name for names in imports.values() for name in names}
    if line is None:
        weights, bare = _scan_near(lines, 1, before=0, after=len(lines))
    else:
        weights, bare = _scan_near(lines, min(max(1, line), max(1, len(lines))))
    # ``from json import scanner`` uses ``json`` as a module: a function or property named ``json``
    # somewhere else is not what it means (the imported files themselves are added below).
    modules = {part for module in active.imports for part in re.split(r"[./\\:]+", module) if part}
    # The index knows which names the file's code uses (its syntax tree's identifiers): a word found
    # only in its comments, docstrings and strings ("the start index of doc") is prose.  The cursor
    # line is kept whole: it may be code written since the file was indexed.
    code_names = {*active.references, *(d.name for d in active.definitions)}
    weights = {name: w for name, w in weights.items()
               if (name not in modules or name in imported_names)
               and (not code_names or name in code_names or w >= 1.0)}
    sources = {name: f"used near line {line}" if line else "used in the file" for name in weights}
    for name in imported_names:
        if name not in weights:
            weights[name] = IMPORT_WEIGHT
            sources[name] = "imported"
    active_dir = posixpath.dirname(active_path)
    found: list[DefinitionCandidate] = []
    for name, weight in weights.items():
        if _is_dunder(name):
            continue  # __init__, __reduce__, __class__: every class has them, any match is noise
        defs = lookup(name)
        if not defs:
            continue
        if name not in bare:
            # ``doc.count(…)``: the name alone does not say whose ``count`` it is; a definition in this
            # file or in one it imports may be it, one elsewhere (``ShareableList.count``) rarely is
            defs = [d for d in defs if d.path == active_path or d.path in imports]
        elif python:
            # a bare ``end`` in Python is a local, a global or an import, never some class's method
            defs = [d for d in defs if d.kind != "method" or d.path == active_path or d.path in imports]
        if not defs:
            continue
        ambiguity = math.sqrt(len(defs))
        scored: list[tuple[float, SymbolDef]] = []
        for d in defs:
            if d.path == active_path and visible and d.start_line >= visible[0] and d.end_line <= visible[1]:
                continue
            if d.path == active_path and line is not None and d.start_line <= line <= d.end_line:
                continue  # the definition the cursor is inside is the window itself
            if d.path in imports and (name in imports[d.path] or not imports[d.path]):
                affinity = 2.0 if name in imports[d.path] else 1.6
            elif d.path == active_path:
                affinity = 1.4
            elif posixpath.dirname(d.path) == active_dir:
                affinity = 1.2
            else:
                affinity = 1.0
            top_level = 1.0 if "." not in d.qualified_name else 0.8
            scored.append((weight * affinity * top_level / ambiguity, d))
        scored.sort(key=lambda item: (-item[0], item[1].path, item[1].start_line))
        for score, d in scored[:PER_NAME]:
            found.append(DefinitionCandidate(definition=d, name=name, score=score, via=sources[name]))
    found.sort(key=lambda c: (-c.score, c.definition.path, c.definition.start_line))
    unique: list[DefinitionCandidate] = []
    seen: set[tuple[str, int, int]] = set()
    for c in found:
        key = (c.definition.path, c.definition.start_line, c.definition.end_line)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique[:limit]
