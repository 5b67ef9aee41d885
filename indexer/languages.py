"""Which language a file is, and what a definition looks like in each tree-sitter grammar.

Grammars come from the per-language wheels (``tree_sitter_python.language()`` …),
loaded lazily and cached per process.  A :class:`LangSpec` lists, per grammar, the
node types that are definitions (and their kind), the *containers* whose members
are chunked one by one (classes, impls, namespaces), the *wrappers* that carry a
definition inside them (decorators, ``export``, C++ templates) and a query for the
identifiers a file references and the modules it imports.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath
from typing import Any

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp", ".ipp": "cpp",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby",
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".rst": "text", ".txt": "text",
    ".sql": "sql", ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".ini": "ini", ".cfg": "ini",
    ".html": "html", ".htm": "html", ".css": "css", ".scss": "css", ".xml": "xml",
    ".kt": "kotlin", ".swift": "swift", ".scala": "scala", ".php": "php", ".cs": "csharp", ".lua": "lua",
}
FILENAMES: dict[str, str] = {
    "Makefile": "make", "Dockerfile": "dockerfile", "Rakefile": "ruby", "Gemfile": "ruby",
    "CMakeLists.txt": "cmake",
}


# C++ that a ``.h`` file can hold and C cannot, at the start of a line: a namespace block, a template,
# a class definition (an export macro may precede the name), an access specifier alone on its line,
# ``using namespace``, or a C++ library header (C's all end in ``.h``).  On this machine's
# /usr/include: none of the 763 kernel headers, and of the C library's only its C++ sections; on
# the project's site-packages 9,167 of 9,478 headers (torch's, mostly).
_CPP_IN_HEADER = re.compile(
    r"^[ \t]*(?:namespace(?:[ \t]+[\w:]+)?[ \t]*\{"
    r"|template[ \t]*<"
    r"|class[ \t]+(?:[A-Z_][A-Z0-9_]*[ \t]+)?\w+[ \t]*(?:final[ \t]*)?(?:\{|:(?!:)|$)"
    r"|(?:public|private|protected)[ \t]*:[ \t]*$"
    r"|using[ \t]+namespace[ \t]+\w"
    r"|#[ \t]*include[ \t]*<[a-z_]+>)",
    re.MULTILINE)


def detect_language(path: str, text: str | None = None) -> str:
    """Language name for a repository path (``text`` when unknown).

    ``.h`` is both C's and C++'s header: given the file's ``text``, a header that uses C++ is
    ``cpp``.  Parsed with the C grammar, a C++ header was error recovery from end to end: about
    20 times slower to parse (a quarter of a cold index's CPU on a tree with torch's headers) and
    no class, method or namespace found.  Without ``text`` a ``.h`` file is C.
    """
    pure = PurePosixPath(path)
    if pure.name in FILENAMES:
        return FILENAMES[pure.name]
    suffix = pure.suffix.lower()
    language = EXTENSIONS.get(suffix, "text")
    if suffix == ".h" and text is not None and _CPP_IN_HEADER.search(text):
        return "cpp"
    return language


@dataclass(frozen=True)
class LangSpec:
    """How one tree-sitter grammar expresses definitions, references and imports."""

    name: str
    module: str
    function: str
    defs: dict[str, str]
    containers: frozenset[str] = frozenset()
    wrappers: frozenset[str] = frozenset()
    ref_types: tuple[str, ...] = ("identifier",)
    import_types: frozenset[str] = frozenset()
    comment_types: frozenset[str] = frozenset({"comment"})
    # blocks whose children count as siblings of the block: preprocessor conditionals, of which an
    # include guard wraps a whole header (else one giant statement, chunked as line windows)
    transparent: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)


_PREPROC_BLOCKS = frozenset({"preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef"})

_JS_DEFS = {
    "function_declaration": "function", "generator_function_declaration": "function",
    "class_declaration": "class", "method_definition": "method", "lexical_declaration": "function",
    "variable_declaration": "function",
}
_TS_DEFS = {
    **_JS_DEFS, "abstract_class_declaration": "class", "interface_declaration": "interface",
    "type_alias_declaration": "type", "enum_declaration": "enum", "internal_module": "namespace",
    "function_signature": "function",
}

SPECS: dict[str, LangSpec] = {
    "python": LangSpec(
        "python", "tree_sitter_python", "language",
        defs={"function_definition": "function", "class_definition": "class"},
        containers=frozenset({"class_definition"}), wrappers=frozenset({"decorated_definition"}),
        ref_types=("identifier",), import_types=frozenset({"import_statement", "import_from_statement"}),
    ),
    "javascript": LangSpec(
        "javascript", "tree_sitter_javascript", "language", defs=_JS_DEFS,
        containers=frozenset({"class_declaration"}), wrappers=frozenset({"export_statement"}),
        ref_types=("identifier", "property_identifier"), import_types=frozenset({"import_statement"}),
    ),
    "typescript": LangSpec(
        "typescript", "tree_sitter_typescript", "language_typescript", defs=_TS_DEFS,
        containers=frozenset({"class_declaration", "abstract_class_declaration", "internal_module"}),
        wrappers=frozenset({"export_statement"}),
        ref_types=("identifier", "property_identifier", "type_identifier"),
        import_types=frozenset({"import_statement"}),
    ),
    "tsx": LangSpec(
        "tsx", "tree_sitter_typescript", "language_tsx", defs=_TS_DEFS,
        containers=frozenset({"class_declaration", "abstract_class_declaration", "internal_module"}),
        wrappers=frozenset({"export_statement"}),
        ref_types=("identifier", "property_identifier", "type_identifier"),
        import_types=frozenset({"import_statement"}),
    ),
    "go": LangSpec(
        "go", "tree_sitter_go", "language",
        defs={"function_declaration": "function", "method_declaration": "method", "type_declaration": "type"},
        ref_types=("identifier", "field_identifier", "type_identifier"),
        import_types=frozenset({"import_spec"}),
    ),
    "rust": LangSpec(
        "rust", "tree_sitter_rust", "language",
        defs={"function_item": "function", "impl_item": "impl", "struct_item": "struct", "enum_item": "enum",
              "trait_item": "trait", "mod_item": "module", "macro_definition": "macro", "union_item": "struct",
              "type_item": "type", "function_signature_item": "function"},
        containers=frozenset({"impl_item", "trait_item", "mod_item"}),
        ref_types=("identifier", "type_identifier", "field_identifier"),
        import_types=frozenset({"use_declaration"}),
        comment_types=frozenset({"line_comment", "block_comment"}),
    ),
    "java": LangSpec(
        "java", "tree_sitter_java", "language",
        defs={"class_declaration": "class", "interface_declaration": "interface", "enum_declaration": "enum",
              "record_declaration": "class", "method_declaration": "method", "constructor_declaration": "method",
              "annotation_type_declaration": "interface"},
        containers=frozenset({"class_declaration", "interface_declaration", "enum_declaration",
                              "record_declaration"}),
        ref_types=("identifier", "type_identifier"),
        import_types=frozenset({"import_declaration"}),
        comment_types=frozenset({"line_comment", "block_comment"}),
    ),
    "c": LangSpec(
        "c", "tree_sitter_c", "language",
        defs={"function_definition": "function", "struct_specifier": "struct", "enum_specifier": "enum",
              "union_specifier": "struct"},
        ref_types=("identifier", "type_identifier", "field_identifier"),
        import_types=frozenset({"preproc_include"}),
        transparent=_PREPROC_BLOCKS,
    ),
    "cpp": LangSpec(
        "cpp", "tree_sitter_cpp", "language",
        defs={"function_definition": "function", "class_specifier": "class", "struct_specifier": "struct",
              "enum_specifier": "enum", "namespace_definition": "namespace", "union_specifier": "struct"},
        containers=frozenset({"class_specifier", "struct_specifier", "namespace_definition"}),
        wrappers=frozenset({"template_declaration"}),
        ref_types=("identifier", "type_identifier", "field_identifier", "namespace_identifier"),
        import_types=frozenset({"preproc_include"}),
        transparent=_PREPROC_BLOCKS,
    ),
    "ruby": LangSpec(
        "ruby", "tree_sitter_ruby", "language",
        defs={"method": "method", "singleton_method": "method", "class": "class", "module": "module"},
        containers=frozenset({"class", "module"}),
        ref_types=("identifier", "constant"),
        import_types=frozenset({"call"}),
    ),
}


@cache
def parser_for(language: str) -> Any:
    """A tree-sitter ``Parser`` for a language with a grammar, else ``None`` (cached per process)."""
    spec = SPECS.get(language)
    if spec is None:
        return None
    import tree_sitter

    module = importlib.import_module(spec.module)
    lang = tree_sitter.Language(getattr(module, spec.function)())
    return tree_sitter.Parser(lang)


@cache
def symbol_query(language: str) -> Any:
    """A ``QueryCursor`` capturing identifier-like nodes (``@ref``) and import nodes (``@imp``).

    One query, one traversal of the tree (in C): with separate reference and import queries
    the second traversal cost ~6% of a cold index's CPU on a kernel-sized tree.  Ruby's
    imports are calls, found by a shallow walk instead (``@imp`` left out).
    """
    import tree_sitter

    spec = SPECS[language]
    pattern = "[" + " ".join(f"({t})" for t in spec.ref_types) + "] @ref"
    if spec.import_types and language != "ruby":
        pattern += " [" + " ".join(f"({t})" for t in sorted(spec.import_types)) + "] @imp"
    return tree_sitter.QueryCursor(tree_sitter.Query(parser_for(language).language, pattern))
