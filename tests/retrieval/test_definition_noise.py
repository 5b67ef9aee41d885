"""Definitions at the cursor are the code's, not every definition whose name appears nearby.

Seen in the TUI on a stdlib copy: a question about ``json/decoder.py`` brought the definitions
of ``index`` and ``escape`` (words of its docstrings), ``count`` (``doc.count(…)``, resolved to
``ShareableList.count``), ``__reduce__`` and ``__class__`` (every class has them) and ``json``
(a module name, resolved to a property of importlib.metadata).  Symbols here come from the real
chunker, so "the names the code uses" are the syntax tree's identifiers.
"""

from __future__ import annotations

import textwrap

from indexer.chunker import chunk_file
from indexer.types import FileSymbols
from retrieval.definitions import definitions_at

ACTIVE = textwrap.dedent('''\
    """Decode documents: the start index of doc where parsing failed is kept."""
    from json import scanner
    from pkg.util import helper, Tally


    class DecodeError(ValueError):
        # the exception escape hatch
        def __reduce__(self):
            return self.__class__, (self.msg,)


    def decode(doc, pos):
        tally = Tally()
        lineno = doc.count("\\n", 0, pos) + 1
        tally.count(lineno)
        return helper(doc, lineno)
    ''')

FILES = {
    "pkg/decoder.py": ACTIVE,
    "pkg/util.py": textwrap.dedent('''\
        def helper(doc, lineno):
            return doc, lineno


        class Tally:
            def count(self, value):
                return value
        '''),
    "other/shared_memory.py": textwrap.dedent('''\
        class ShareableList:
            def count(self, value):
                return 0

            def index(self, value):
                return 0

            def __reduce__(self):
                return ShareableList, ()
        '''),
    "other/text.py": "def escape(s):\n    return s\n\n\ndef index(s):\n    return 0\n",
    "other/adapters.py": "class Message:\n    @property\n    def json(self):\n        return {}\n",
}


def _symbols() -> dict[str, FileSymbols]:
    return {path: chunk_file(path, text, "python").symbols for path, text in FILES.items()}


def _found(line: int) -> list[tuple[str, str]]:
    found = definitions_at(_symbols(), "pkg/decoder.py", ACTIVE.splitlines(keepends=True), line)
    return [(c.definition.path, c.definition.qualified_name) for c in found]


def test_the_code_near_the_cursor_finds_its_own_definitions_only() -> None:
    found = _found(15)  # tally.count(lineno)
    assert ("pkg/util.py", "helper") in found
    assert ("pkg/util.py", "Tally.count") in found  # an attribute, defined in an imported file
    assert ("pkg/util.py", "Tally") in found
    paths = {path for path, _ in found}
    assert "other/shared_memory.py" not in paths, found  # doc.count, __reduce__, index: not these
    assert "other/text.py" not in paths, found  # "index", "escape": words of a docstring and a comment
    assert "other/adapters.py" not in paths, found  # json: the module the file imports from


def test_a_word_on_the_cursor_line_counts_even_if_the_index_has_not_seen_it() -> None:
    lines = ACTIVE.splitlines(keepends=True)
    lines[14] = "    escape(doc)\n"  # typed since the file was indexed
    found = definitions_at(_symbols(), "pkg/decoder.py", lines, 15)
    assert ("other/text.py", "escape") in [(c.definition.path, c.definition.qualified_name) for c in found]


def test_a_bare_python_name_is_not_some_class_method() -> None:
    """``end += 1`` is a local: ``TreeBuilder.end`` elsewhere is not it (a bare call can be a function)."""
    symbols = _symbols()
    symbols["other/tree.py"] = chunk_file("other/tree.py", "class TreeBuilder:\n    def end(self, tag):\n"
                                          "        return tag\n\n\ndef end(tag):\n    return tag\n",
                                          "python").symbols
    lines = [*ACTIVE.splitlines(keepends=True), "    end = pos + 1\n", "    return end\n"]
    symbols["pkg/decoder.py"] = chunk_file("pkg/decoder.py", "".join(lines), "python").symbols
    found = [(c.definition.path, c.definition.qualified_name)
             for c in definitions_at(symbols, "pkg/decoder.py", lines, len(lines))]
    assert ("other/tree.py", "TreeBuilder.end") not in found
    assert ("other/tree.py", "end") in found
