"""Completion post-processing, cursor splitting and syntax checks (pure logic, no model)."""

from __future__ import annotations

import pytest

from assistant.completion import (
    _unheal,
    _window,
    check_syntax,
    is_finished,
    opens_block,
    postprocess,
    split_at,
)
from base.errors import UsageError


def test_mid_line_completion_keeps_one_line() -> None:
    text, why = postprocess("total + tax\n    return x\n", "def f():\n    y = ", "\n", "python")
    assert text == "total + tax"
    assert why == "line-end"


def test_block_opener_continues_into_the_body_and_stops_at_dedent() -> None:
    prefix = "def area(r):\n"
    raw = "    return 3.14 * r * r\n\ndef other():\n    pass\n"
    text, why = postprocess(raw, prefix, "", "python")
    assert text == "    return 3.14 * r * r"
    assert why == "block-end"


def test_opener_on_the_cursor_line() -> None:
    raw = "\n    for item in items:\n        total += item\n    return total\nprint(1)\n"
    text, why = postprocess(raw, "def f(items):", "\n", "python")
    assert text == "\n    for item in items:\n        total += item\n    return total"
    assert why == "block-end"


def test_statements_at_the_cursor_indent_continue_until_dedent() -> None:
    prefix = "def f(a):\n    "
    raw = "x = a + 1\n    y = x * 2\n    return y\nclass B:\n"
    text, why = postprocess(raw, prefix, "\n", "python")
    assert text == "x = a + 1\n    y = x * 2\n    return y"
    assert why == "block-end"


def test_stops_where_output_repeats_the_suffix() -> None:
    prefix = "def f(a):\n    "
    suffix = "\n    return result\n"
    raw = "result = a * 2\n    return result\n"
    text, why = postprocess(raw, prefix, suffix, "python")
    assert text == "result = a * 2"
    assert why == "suffix-overlap"


def test_trims_the_rest_of_the_line_it_would_duplicate() -> None:
    text, why = postprocess("a, b)\n", "x = compute(", ")\n", "python")
    assert text == "a, b"
    assert why == "suffix-overlap"
    # Brackets the completion opens itself are kept.
    text, _ = postprocess("f(a))", "x = g(", ")\n", "python")
    assert text == "f(a)"
    text, _ = postprocess("f(a)", "x = g(", ")\n", "python")
    assert text == "f(a)"


def test_brace_language_includes_the_closing_brace_it_opened() -> None:
    prefix = "function f(a) {"
    raw = "\n  return a + 1;\n}\nfunction g() {}\n"
    text, why = postprocess(raw, prefix, "\n", "javascript")
    assert text == "\n  return a + 1;\n}"
    assert why == "block-end"


def test_closing_brace_already_in_the_suffix_is_not_repeated() -> None:
    text, why = postprocess("\n  return a;\n}\n", "function f(a) {", "\n}\n", "javascript")
    assert text == "\n  return a;"
    assert why == "suffix-overlap"


def test_leading_blank_lines_are_dropped_on_an_empty_cursor_line() -> None:
    text, _ = postprocess("\n\n    return x\n", "def f(x):\n    ", "\n", "python")
    assert text == "return x"


def test_indentation_follows_the_file_style() -> None:
    prefix = "def f(a):\n    if a:\n        pass\n    "
    raw = "for i in a:\n\t\tprint(i)\n"
    text, _ = postprocess(raw, prefix, "\n", "python")
    assert text == "for i in a:\n        print(i)"


def test_top_level_stops_after_a_blank_line() -> None:
    text, why = postprocess("x = 1\ny = 2\n\nz = 3\n", "", "", "python")
    assert text == "x = 1\ny = 2"
    assert why == "block-end"


def test_empty_and_whitespace_outputs() -> None:
    assert postprocess("", "a", "b", "python") == ("", "empty")
    assert postprocess("  \n ", "a", "b", "python") == ("", "empty")


def test_is_finished_only_when_decided() -> None:
    assert not is_finished("total", "x = ", "\n", "python")
    assert is_finished("total\nmore", "x = ", "\n", "python")
    assert not is_finished("\n    return 1", "def f():", "\n", "python")


def test_opens_block() -> None:
    assert opens_block("def f(x):", "python")
    assert opens_block("if (a) {", "javascript")
    assert opens_block("x = [", "python")
    assert not opens_block("x = 1  # comment:", "python")
    assert not opens_block("return x", "python")


def test_split_at_cursor() -> None:
    text = "ab\ncd\n"
    assert split_at(text, 2, 1) == ("ab\nc", "d\n")
    assert split_at(text, 1, None) == ("ab", "\ncd\n")
    assert split_at(text, 3, 0) == (text, "")
    with pytest.raises(UsageError):
        split_at(text, 9, 0)
    with pytest.raises(UsageError):
        split_at(text, 1, 7)


def test_window_keeps_the_lines_nearest_the_cursor() -> None:
    prefix = "".join(f"line{i}\n" for i in range(100)) + "cur"
    suffix = "rest\n" + "".join(f"after{i}\n" for i in range(100))
    count = len  # one "token" per character keeps the arithmetic obvious
    p, s = _window(prefix, suffix, 200, count, use_suffix=True)
    assert p.endswith("line99\ncur") and "line0\n" not in p
    assert s.startswith("rest\nafter0\n")
    assert len(p) + len(s) <= 200
    p2, s2 = _window(prefix, suffix, 200, count, use_suffix=False)
    assert s2 == "rest" and len(p2) > len(p)
    p3, _ = _window(prefix, suffix, 10_000, count, use_suffix=False, max_before=3)
    assert p3 == "line97\nline98\nline99\ncur"


def test_unheal_removes_the_indentation_left_out_of_the_prompt() -> None:
    assert _unheal("    return x", "    ") == "return x"
    assert _unheal("  return x", "    ") == "return x"
    assert _unheal("\n    return x", "    ") == "\n    return x"
    assert _unheal("abc", "") == "abc"


def test_python_syntax_check() -> None:
    assert check_syntax("a.py", "def f():\n    return 1\n") == (True, "")
    ok, message = check_syntax("a.py", "def f(:\n")
    assert ok is False and message.startswith("line 1")


def test_tree_sitter_syntax_check() -> None:
    assert check_syntax("a.js", "function f() { return 1; }\n")[0] is True
    ok, message = check_syntax("a.js", "function f() { return 1; \n")
    assert ok is False and "line" in message
    assert check_syntax("a.go", "package main\nfunc main() {}\n")[0] is True
    assert check_syntax("notes.txt", "anything")[0] is None
