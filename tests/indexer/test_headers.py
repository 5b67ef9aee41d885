"""``.h`` files: C or C++ by what they contain, and definitions found inside include guards.

A C++ header parsed with the C grammar was error recovery from end to end (about 20 times
slower, no class or method found), and an include guard made every header one giant
``#ifndef`` statement, chunked as line windows with no definitions at all.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assistant.completion import check_syntax
from base.config import IndexSettings
from indexer import store
from indexer.chunker import chunk_file
from indexer.discover import Candidate
from indexer.languages import detect_language
from indexer.pipeline import _process
from tests.indexer.test_chunker import assert_invariant

CPP_HEADER = textwrap.dedent('''\
    #ifndef SHOP_ORDER_H
    #define SHOP_ORDER_H

    #include <vector>

    namespace shop {

    // An order and its lines.
    class Order {
     public:
      int total() const { return 1; }
      int count() const;
    };

    template <typename T>
    T twice(T value) { return value + value; }

    }  // namespace shop

    #endif  // SHOP_ORDER_H
    ''')

# Kernel style: C++ keywords as C identifiers, "class" in prose, an include guard.
C_HEADER = textwrap.dedent('''\
    #ifndef _LINUX_ORDER_H
    #define _LINUX_ORDER_H

    #include <linux/types.h>

    /* The device
     * class passed to the driver.  */
    struct order {
    \tint new;
    \tvoid *private;
    \tunsigned int template:1;
    };

    static inline int order_total(struct order *class)
    {
    \treturn class->new;
    }

    #ifdef CONFIG_ORDER_DEBUG
    int order_debug(const struct order *o)
    {
    \treturn 0;
    }
    #else
    static inline int order_debug(const struct order *o) { return 1; }
    #endif

    #endif /* _LINUX_ORDER_H */
    ''')


@pytest.mark.parametrize(("text", "language"), [
    (CPP_HEADER, "cpp"),
    (C_HEADER, "c"),
    ("#include <cstdint>\nint f(void);\n", "cpp"),
    ("#include <stdint.h>\nint f(void);\n", "c"),
    ("template<class T> struct Box { T value; };\n", "cpp"),
    ("#ifdef __cplusplus\nextern \"C\" {\n#endif\nint f(void);\n", "c"),
    ("using namespace std;\n", "cpp"),
    ("struct a {\n  private:\n  int x;\n};\n", "cpp"),
])
def test_a_header_is_cpp_when_it_uses_cpp(text: str, language: str) -> None:
    assert detect_language("include/order.h", text) == language
    assert detect_language("include/order.h") == "c"  # without the text: C, as before
    assert detect_language("src/order.c", CPP_HEADER) == "c"  # only .h is ambiguous


def test_definitions_of_a_cpp_header_inside_its_include_guard() -> None:
    result = chunk_file("order.h", CPP_HEADER, "cpp", max_tokens=400)
    assert_invariant(CPP_HEADER, result.chunks)
    names = {d.qualified_name: d.kind for d in result.symbols.definitions}
    assert names["shop"] == "namespace"
    assert names["shop.Order"] == "class"
    assert "shop.twice" in names
    assert not result.parse_fallback
    assert "vector" in " ".join(result.symbols.imports)


def test_definitions_of_a_c_header_in_every_branch_of_a_conditional() -> None:
    result = chunk_file("order.h", C_HEADER, "c", max_tokens=40)  # small: every definition its own chunk
    assert_invariant(C_HEADER, result.chunks)
    defs = [(d.qualified_name, d.kind, d.start_line) for d in result.symbols.definitions]
    assert ("order", "struct", 6) in defs  # with the comment above it
    assert ("order_total", "function", 14) in defs
    assert [d for d in defs if d[0] == "order_debug"] == [("order_debug", "function", 20),
                                                         ("order_debug", "function", 25)]
    chunk_of = {c.symbol: c for c in result.chunks}
    assert chunk_of["order_total"].kind == "function"
    assert chunk_of["order_total"].text.startswith("static inline int order_total")


def test_the_indexer_records_a_cpp_header_as_cpp(tmp_path: Path) -> None:
    (tmp_path / "order.h").write_text(CPP_HEADER, encoding="utf-8")
    (tmp_path / "legacy.h").write_text(C_HEADER, encoding="utf-8")
    settings = IndexSettings(embeddings=False)
    for name, language in (("order.h", "cpp"), ("legacy.h", "c")):
        path = tmp_path / name
        stat = path.stat()
        done = _process(Candidate(name, str(path), stat.st_size, stat.st_mtime_ns), None, settings)
        assert done.language == language
        assert done.chunks is not None and done.symbols is not None and done.symbols.definitions
        chunks = store.unpack_file_chunks(done.chunks.body, done.chunks.ids, name)
        assert {c.language for c in chunks if c is not None} == {language}


def test_a_completion_in_a_cpp_header_is_checked_as_cpp() -> None:
    ok, message = check_syntax("include/order.h", CPP_HEADER)
    assert ok is True, message


def test_a_class_behind_an_export_macro_is_a_class_not_a_function() -> None:
    """``class SHOP_API Order final : public Base {`` parses as a function named ``Order final : …``."""
    source = textwrap.dedent('''\
        #pragma once
        #include <string>
        namespace shop {
        class SHOP_API Order final : public Base {
         public:
          int total() const { return 1; }
        };
        }  // namespace shop
        ''')
    assert detect_language("order.h", source) == "cpp"
    result = chunk_file("order.h", source, "cpp", max_tokens=400)
    assert_invariant(source, result.chunks)
    defs = {d.qualified_name: d.kind for d in result.symbols.definitions}
    assert defs.get("shop.Order") == "class", defs
    source = "namespace shop {\nstruct SHOP_API Line : Base {\n  int count;\n};\n}\n"
    defs = {d.qualified_name: d.kind for d in chunk_file("line.h", source, "cpp").symbols.definitions}
    assert defs.get("shop.Line") == "struct", defs
    # a C function that returns a struct is still a function
    c_source = "struct order make_order(void) {\n  struct order o = {0};\n  return o;\n}\n"
    assert [(d.qualified_name, d.kind) for d in chunk_file("m.c", c_source, "c").symbols.definitions] == \
        [("make_order", "function")]
