"""Query analysis: the code a developer writes into a question or an issue is recognised."""

from __future__ import annotations

from indexer.tokenize import code_tokens
from retrieval.query import analyze_query, boosted_tokens, is_code_identifier


def test_identifier_styles_are_recognised() -> None:
    a = analyze_query("getOrderTotal returns None when PriceCalculator uses parse_header or MAX_RETRIES")
    assert {"getOrderTotal", "PriceCalculator", "parse_header", "MAX_RETRIES"} <= set(a.identifiers)
    assert "returns" not in a.identifiers and "None" not in a.identifiers


def test_prose_is_not_code() -> None:
    a = analyze_query("Where is the price of an order computed? It fails on GitHub, e.g. in JavaScript.")
    assert a.identifiers == []
    assert a.dotted == []
    assert a.paths == []


def test_dotted_paths_and_files() -> None:
    a = analyze_query("`requests.models.Response` breaks; see requests/models.py and utils.py.")
    assert "requests.models.Response" in a.dotted
    assert "Response" in a.names
    assert a.paths == ["requests/models.py", "utils.py"]


def test_backticked_names_count_even_when_plain() -> None:
    a = analyze_query("calling `total` twice doubles the `discount`")
    assert {"total", "discount"} <= set(a.identifiers)


def test_call_syntax_marks_an_identifier() -> None:
    assert "separability_matrix" in analyze_query("separability_matrix(cm) is wrong").identifiers
    assert "render" in analyze_query("then render() crashes").identifiers


def test_python_traceback_frames() -> None:
    text = '''Traceback (most recent call last):
  File "/home/me/src/shopcore/pricing/calculator.py", line 42, in total
    return self._sum()
  File "shopcore/models/order.py", line 7, in <module>
'''
    a = analyze_query(text)
    assert [(f.path, f.line, f.function) for f in a.frames] == [
        ("/home/me/src/shopcore/pricing/calculator.py", 42, "total"),
        ("shopcore/models/order.py", 7, "<module>"),
    ]
    assert a.frame_names == ["total"]  # innermost frame first; <module> is no name
    assert "total" not in a.identifiers  # frames are a signal of their own, not prose identifiers
    assert "Traceback" not in a.identifiers


def test_javascript_and_compiler_frames() -> None:
    a = analyze_query("    at getUser (src/api/client.ts:10:5)\nmain.go:12: panic: boom")
    assert ("src/api/client.ts", 10, "getUser") in [(f.path, f.line, f.function) for f in a.frames]
    assert ("main.go", 12) in [(f.path, f.line) for f in a.frames]


def test_is_code_identifier() -> None:
    for word in ("snake_case", "camelCase", "PascalCase", "__init__", "_private", "HTTP_PORT"):
        assert is_code_identifier(word), word
    for word in ("Hello", "the", "HTTP", "x", "GitHub", "1abc"):
        assert not is_code_identifier(word), word


def test_boosted_tokens_repeat_identifiers() -> None:
    a = analyze_query("the parse_header function is slow")
    tokens = boosted_tokens(a, boost=3)
    assert tokens.count("parse_header") == 4  # three boosts + the text itself
    assert tokens.count("slow") == 1
    assert set(code_tokens(a.text)) <= set(tokens)


def test_long_texts_are_capped_but_keep_identifiers() -> None:
    a = analyze_query("word " * 5000 + " parse_header")
    tokens = boosted_tokens(a, max_tokens=100)
    assert len(tokens) <= 100
    assert "parse_header" in tokens


def test_backticked_command_lines_only_yield_code_words() -> None:
    a = analyze_query("run `shopcore --db shop.db order place --item POT-001:4` and see `OrderService.place_order`")
    assert "OrderService.place_order" in a.dotted and "place_order" in a.identifiers
    assert not {"order", "place", "item", "POT", "db"} & set(a.identifiers)


def test_file_names_and_domains_are_not_dotted_modules() -> None:
    a = analyze_query("see docs/pricing.md, write to shop.db, mail a.meyer@example.org about shopcore.pricing.tax")
    assert "shopcore.pricing.tax" in a.dotted
    assert "pricing.md" not in a.dotted


def test_quoted_messages_are_recognised() -> None:
    text = ("Checkout warns:\n\n`WARNING: no number is assigned for table:`\n\n"
            "```\nTraceback (most recent call last):\nValueError: could not convert the thing\n"
            "E   AssertionError: assert b'' == b'42'\n```\n"
            "Use `foo` and `bar` (single names are identifiers, not messages).")
    messages = analyze_query(text).messages
    assert "could not convert the thing" in messages
    assert "assert b'' == b'42'" in messages
    assert "WARNING: no number is assigned for table:" in messages
    assert not any(m in ("foo", "bar") or "Use" in m for m in messages)
    assert analyze_query("prices are wrong for coupons").messages == []
