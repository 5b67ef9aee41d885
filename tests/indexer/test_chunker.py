"""Chunking fixtures per language, and the coverage invariant under hypothesis."""

from __future__ import annotations

import io
import sysconfig
import textwrap
import tokenize
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.chunker import chunk_file
from indexer.types import Chunk


def assert_invariant(text: str, chunks: list[Chunk]) -> None:
    """Every non-blank line is in exactly one chunk; chunk text equals those lines."""
    lines = text.split("\n")
    owner: dict[int, str] = {}
    for chunk in chunks:
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        assert chunk.text == "\n".join(lines[chunk.start_line - 1:chunk.end_line])
        for line in range(chunk.start_line, chunk.end_line + 1):
            assert line not in owner, f"line {line} in two chunks"
            owner[line] = chunk.id
    for number, line in enumerate(lines, start=1):
        if line.strip():
            assert number in owner, f"line {number} not covered: {line!r}"
    raw = text.encode()
    for chunk in chunks:
        assert raw[chunk.start_byte:chunk.end_byte].decode() == chunk.text


def spans(chunks: list[Chunk]) -> dict[str, tuple[str, int, int]]:
    return {c.symbol: (c.kind, c.start_line, c.end_line) for c in chunks if c.symbol}


PYTHON = textwrap.dedent('''\
    """Orders."""
    from decimal import Decimal
    from shopcore.pricing import tax as vat

    RATE = Decimal("0.2")


    # Lines of an order.
    class Order(Base):
        """An order."""

        def total(self) -> Decimal:
            return sum(line.amount for line in self.lines)

        @property
        def count(self) -> int:
            return len(self.lines)


    def helper(a, b):
        return vat.apply(a + b)
''')

CASES = {
    "python": ("m.py", PYTHON, {"Order": ("class", 8, 17), "helper": ("function", 20, 21)}),
    "javascript": ("m.js", textwrap.dedent('''\
        import { x } from "./x.js";
        export function add(a, b) {
          return a + b;
        }
        const mul = (a, b) => a * b;
        class Cart {
          total() { return 1; }
        }
        '''), {"add": ("function", 2, 4), "mul": ("function", 5, 5), "Cart": ("class", 6, 8)}),
    "typescript": ("m.ts", textwrap.dedent('''\
        import { Order } from "./order";
        export interface Client { get(id: string): Promise<Order>; }
        export type Id = string;
        export class HttpClient implements Client {
          async get(id: string): Promise<Order> {
            return fetch(id) as any;
          }
        }
        enum Color { Red, Green }
        '''), {"Client": ("interface", 2, 2), "Id": ("type", 3, 3), "HttpClient": ("class", 4, 8),
               "Color": ("enum", 9, 9)}),
    "tsx": ("m.tsx", textwrap.dedent('''\
        import React from "react";
        export function Button(props: { label: string }) {
          return <button>{props.label}</button>;
        }
        '''), {"Button": ("function", 2, 4)}),
    "go": ("m.go", textwrap.dedent('''\
        package shop

        import "fmt"

        type Order struct {
        \tTotal int
        }

        func (o *Order) String() string {
        \treturn fmt.Sprint(o.Total)
        }

        func New() *Order { return &Order{} }
        '''), {"Order": ("struct", 5, 7), "Order.String": ("method", 9, 11), "New": ("function", 13, 13)}),
    "rust": ("m.rs", textwrap.dedent('''\
        use std::fmt;

        pub struct Order { total: u32 }

        impl Order {
            pub fn total(&self) -> u32 { self.total }
        }

        fn main() {
            println!("hi");
        }
        '''), {"Order": ("impl", 5, 7), "main": ("function", 9, 11)}),
    "java": ("M.java", textwrap.dedent('''\
        package shop;
        import java.util.List;

        public class Order {
            private int total;
            public int getTotal() { return total; }
        }
        '''), {"Order": ("class", 4, 7)}),
    "c": ("m.c", textwrap.dedent('''\
        #include <stdio.h>

        struct order { int total; };

        int add(int a, int b) {
            return a + b;
        }
        '''), {"add": ("function", 5, 7)}),
    "cpp": ("m.cpp", textwrap.dedent('''\
        #include <vector>
        namespace shop {
        class Order {
         public:
          int total() const { return 1; }
        };
        }
        int Order::count() const { return 0; }
        '''), {"shop": ("namespace", 2, 7), "Order.count": ("function", 8, 8)}),
    "ruby": ("m.rb", textwrap.dedent('''\
        require "json"

        module Shop
          class Order
            def total
              1
            end
          end
        end
        '''), {"Shop": ("module", 3, 9)}),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_definitions_are_chunks_with_qualified_names(language: str) -> None:
    path, source, expected = CASES[language]
    result = chunk_file(path, source, language, max_tokens=400)
    assert_invariant(source, result.chunks)
    found = spans(result.chunks)
    for symbol, span in expected.items():
        assert found.get(symbol) == span, (symbol, found)
    assert result.symbols.definitions, "symbol table is empty"
    assert result.symbols.imports, "imports not found"


def test_nested_definitions_get_qualified_names_and_headers_when_split() -> None:
    result = chunk_file("m.py", PYTHON, "python", max_tokens=20)
    assert_invariant(PYTHON, result.chunks)
    by_symbol: dict[str, Chunk] = {}
    for chunk in result.chunks:
        by_symbol.setdefault(chunk.symbol, chunk)  # the first piece of each definition
    assert by_symbol["Order.total"].kind == "method"
    assert by_symbol["Order.total"].header == "class Order(Base):"
    assert "@property" in by_symbol["Order.count"].text
    assert by_symbol["Order.count"].start_line == 15
    names = {d.qualified_name for d in result.symbols.definitions}
    assert {"Order", "Order.total", "Order.count", "helper"} <= names
    assert "shopcore.pricing.tax" in result.symbols.imports
    assert "Decimal" in result.symbols.references and "helper" not in result.symbols.references


def test_oversized_function_is_split_at_statements_under_the_limit() -> None:
    body = "\n".join(f"    value_{i} = compute_something(value_{i - 1}, {i})" for i in range(1, 120))
    source = f"def big(value_0):\n{body}\n    return value_119\n"
    result = chunk_file("big.py", source, "python", max_tokens=200)
    assert_invariant(source, result.chunks)
    assert len(result.chunks) > 5
    assert all(c.symbol == "big" for c in result.chunks)
    assert all(len(c.text) <= 200 * 4 + 100 for c in result.chunks)
    assert result.chunks[1].header.startswith("def big(value_0):")


def test_markdown_by_headings_and_text_windows() -> None:
    md = "# Title\nintro\n\n## Install\nrun it\n\n```\n# not a heading\n```\n## Use\ncall it\n"
    result = chunk_file("README.md", md, "markdown")
    assert_invariant(md, result.chunks)
    assert [c.symbol for c in result.chunks] == ["Title", "Install", "Use"]
    assert result.chunks[1].header == "# Title"
    text = "\n".join(f"line {i} " + "x" * 60 for i in range(200))
    windows = chunk_file("notes.txt", text, "text", max_tokens=100).chunks
    assert_invariant(text, windows)
    assert len(windows) > 10 and windows[1].header  # overlap with the previous window travels in the header


def test_broken_syntax_never_drops_lines() -> None:
    source = "def ok():\n    return 1\n\ndef broken(:\n    x = = 2\n  y\nclass\n"
    result = chunk_file("bad.py", source, "python")
    assert_invariant(source, result.chunks)


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.glob("*.py"))[:60]


@pytest.mark.parametrize("max_tokens", [40, 400])
def test_invariant_on_real_stdlib_files(max_tokens: int) -> None:
    for path in _stdlib_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        assert_invariant(text, chunk_file(path.name, text, "python", max_tokens=max_tokens).chunks)


_PY_LINES = st.sampled_from([
    "import os", "x = 1", "", "   ", "# comment", "def f(a):", "    return a", "class C:", "    def m(self):",
    "        pass", "    y = [1,", "         2]", "@decorator", "if x:", "    x += 1", "else:", "'''doc", "'''",
    "async def g():", "    await h()", "def broken(:", "    z = (", ")",
])
_TS_LINES = st.sampled_from([
    "import x from 'y';", "export function f(a: number) {", "  return a;", "}", "class K {", "  m() {",
    "  }", "", "const g = () => 1;", "interface I { a: string }", "// note", "/* block", "*/", "}}", "{",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_PY_LINES, max_size=60), limit=st.integers(min_value=16, max_value=200))
def test_invariant_holds_for_generated_python(lines: list[str], limit: int) -> None:
    text = "\n".join(lines)
    assert_invariant(text, chunk_file("gen.py", text, "python", max_tokens=limit).chunks)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_TS_LINES, max_size=60), limit=st.integers(min_value=16, max_value=200),
       language=st.sampled_from(["typescript", "tsx", "javascript", "markdown", "text"]))
def test_invariant_holds_for_generated_other_languages(lines: list[str], limit: int, language: str) -> None:
    text = "\n".join(lines)
    assert_invariant(text, chunk_file("gen.x", text, language, max_tokens=limit).chunks)


def test_references_are_in_first_use_order_every_time() -> None:
    """The same file gives the same symbols: the query's captures come in no fixed order."""
    root = Path(__file__).resolve().parents[2]
    text = (root / "retrieval/context.py").read_text()
    first = chunk_file("context.py", text, "python").symbols.references
    chunk_file("other.py", (root / "retrieval/repo_map.py").read_text(), "python")
    assert chunk_file("context.py", text, "python").symbols.references == first
    # Code without comments or strings, where the first use of each name is plain to see.
    names = [f"name_{(i * 37) % 211}" for i in range(211)]
    source = "".join(f"def use_{i}():\n    return {a}({b}, {c}.attr_{i})\n"
                     for i, (a, b, c) in enumerate(zip(names[::3], names[1::3], names[2::3], strict=False)))
    expected: dict[str, None] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string not in ("def", "return") and \
                not token.string.startswith("use_"):
            expected.setdefault(token.string)
    assert list(chunk_file("gen.py", source, "python").symbols.references) == list(expected)
