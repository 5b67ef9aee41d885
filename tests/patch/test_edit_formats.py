"""Parsers on the kinds of replies models really write: good, sloppy, fenced or not, several files, garbage."""

from __future__ import annotations

import pytest

from assistant.patch.edit_formats import (
    SEARCH_REPLACE,
    UDIFF,
    WHOLE_FILE,
    Edit,
    MalformedReply,
    PromptFile,
    choose_edit_format,
    detect_format,
    model_size_b,
    parse_format_setting,
    parse_reply,
    parse_search_replace,
    parse_udiff,
    parse_whole_file,
    path_from_line,
    system_prompt,
    user_prompt,
)
from base.errors import ConfigError

KNOWN = ["shopcore/pricing/tax.py", "shopcore/pricing/calculator.py", "shopcore/reports.py"]

# --------------------------------------------------------------------------- search/replace

GOOD_SR = """I will round the tax with the shared helper.

shopcore/pricing/tax.py
```python
<<<<<<< SEARCH
    return (net * rate).quantize(CENT)
=======
    return quantize_money(net * rate)
>>>>>>> REPLACE
```
"""


def test_search_replace_good_reply() -> None:
    edits = parse_search_replace(GOOD_SR, KNOWN)
    assert edits == [Edit("shopcore/pricing/tax.py", "    return (net * rate).quantize(CENT)\n",
                          "    return quantize_money(net * rate)\n")]


def test_search_replace_without_fences_and_two_files() -> None:
    reply = """shopcore/pricing/tax.py
<<<<<<< SEARCH
a = 1
=======
a = 2
>>>>>>> REPLACE

shopcore/reports.py
<<<<<<< SEARCH
b = 1
=======
b = 2
>>>>>>> REPLACE
"""
    edits = parse_search_replace(reply, KNOWN)
    assert [(e.path, e.search, e.replace) for e in edits] == [
        ("shopcore/pricing/tax.py", "a = 1\n", "a = 2\n"),
        ("shopcore/reports.py", "b = 1\n", "b = 2\n"),
    ]


@pytest.mark.parametrize("label", [
    "**shopcore/pricing/tax.py**", "`shopcore/pricing/tax.py`", "File: shopcore/pricing/tax.py",
    "### shopcore/pricing/tax.py", "shopcore/pricing/tax.py:", "tax.py", "./shopcore/pricing/tax.py",
    "In `shopcore/pricing/tax.py`:",
])
def test_search_replace_path_spellings(label: str) -> None:
    reply = f"{label}\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n"
    assert parse_search_replace(reply, KNOWN)[0].path == "shopcore/pricing/tax.py"


def test_search_replace_path_in_fence_info_string() -> None:
    reply = "```python shopcore/reports.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n"
    assert parse_search_replace(reply, KNOWN)[0].path == "shopcore/reports.py"


def test_search_replace_second_block_reuses_previous_path() -> None:
    reply = ("shopcore/reports.py\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
             "```\n\n```python\n<<<<<<< SEARCH\ny = 1\n=======\ny = 2\n>>>>>>> REPLACE\n```\n")
    edits = parse_search_replace(reply, KNOWN)
    assert [e.path for e in edits] == ["shopcore/reports.py", "shopcore/reports.py"]


def test_search_replace_no_path_with_a_single_file_shown() -> None:
    reply = "Here is the fix:\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```"
    assert parse_search_replace(reply, ["shopcore/reports.py"])[0].path == "shopcore/reports.py"
    with pytest.raises(MalformedReply, match="without a file path"):
        parse_search_replace(reply, KNOWN)


def test_search_replace_crlf_and_marker_variants() -> None:
    reply = ("shopcore/reports.py\r\n<<<<<<<< SEARCH\r\nx = 1\r\n========\r\nx = 2\r\n"
             ">>>>>>>> REPLACE\r\n")
    edits = parse_search_replace(reply, KNOWN)
    assert edits[0].search == "x = 1\n" and edits[0].replace == "x = 2\n"


def test_search_replace_empty_replace_deletes_lines() -> None:
    reply = "shopcore/reports.py\n<<<<<<< SEARCH\nimport os\n=======\n>>>>>>> REPLACE\n"
    assert parse_search_replace(reply, KNOWN)[0].replace == ""


@pytest.mark.parametrize(("reply", "reason"), [
    ("shopcore/reports.py\n<<<<<<< SEARCH\nx = 1\n", "missing '======='"),
    ("shopcore/reports.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n", "missing '>>>>>>> REPLACE'"),
    ("shopcore/reports.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n<<<<<<< SEARCH\n", "before"),
    ("=======\nx = 2\n>>>>>>> REPLACE\n", "without a preceding"),
    ("I think the bug is in the tax module. You should round half up.", "no SEARCH/REPLACE blocks"),
    ("", "no SEARCH/REPLACE blocks"),
    ("<|im_end|><|im_start|>assistant\n\n\n", "no SEARCH/REPLACE blocks"),
])
def test_search_replace_malformed(reply: str, reason: str) -> None:
    with pytest.raises(MalformedReply, match=reason):
        parse_search_replace(reply, KNOWN)


def test_hostile_paths_are_passed_through_for_the_safety_check() -> None:
    for path in ("../../etc/passwd", "/etc/passwd", ".git/hooks/pre-commit"):
        reply = f"{path}\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n"
        assert parse_search_replace(reply, KNOWN)[0].path == path


# --------------------------------------------------------------------------- unified diff

GOOD_DIFF = """```diff
--- a/shopcore/pricing/tax.py
+++ b/shopcore/pricing/tax.py
@@ -78,7 +78,7 @@ def compute_tax(net: Decimal, rate: Decimal) -> Decimal:
     \"\"\"VAT due on a net amount, rounded to whole cents.\"\"\"
     if net <= 0 or rate == 0:
         return ZERO
-    return (net * rate).quantize(CENT)
+    return quantize_money(net * rate)

 def gross_price(net: Decimal, rate: Decimal) -> Decimal:
```
"""


def test_udiff_good_reply_ignores_line_numbers_and_keeps_blank_context() -> None:
    edits = parse_udiff(GOOD_DIFF, KNOWN)
    assert len(edits) == 1
    assert edits[0].path == "shopcore/pricing/tax.py"
    assert edits[0].search.endswith("    return (net * rate).quantize(CENT)\n\ndef gross_price(net: Decimal, "
                                    "rate: Decimal) -> Decimal:\n")
    assert "quantize_money(net * rate)" in edits[0].replace and "quantize(CENT)" not in edits[0].replace


def test_udiff_several_hunks_and_files_without_fence() -> None:
    reply = """--- shopcore/reports.py
+++ shopcore/reports.py
@@ -1,2 +1,2 @@
 a = 1
-b = 2
+b = 3
@@ -10,2 +10,2 @@
 c = 1
-d = 2
+d = 4
--- a/shopcore/pricing/tax.py\t2024-01-01
+++ b/shopcore/pricing/tax.py\t2024-01-02
@@
 e = 1
+f = 2
"""
    edits = parse_udiff(reply, KNOWN)
    assert [(e.path, e.search, e.replace) for e in edits] == [
        ("shopcore/reports.py", "a = 1\nb = 2\n", "a = 1\nb = 3\n"),
        ("shopcore/reports.py", "c = 1\nd = 2\n", "c = 1\nd = 4\n"),
        ("shopcore/pricing/tax.py", "e = 1\n", "e = 1\nf = 2\n"),
    ]


def test_udiff_addition_without_context_is_left_to_the_matcher() -> None:
    reply = "--- a/shopcore/reports.py\n+++ b/shopcore/reports.py\n@@\n+y\n"
    assert parse_udiff(reply, KNOWN) == [Edit("shopcore/reports.py", "", "y\n")]


def test_udiff_new_file() -> None:
    reply = "--- /dev/null\n+++ b/shopcore/new_module.py\n@@ -0,0 +1,2 @@\n+X = 1\n+Y = 2\n"
    assert parse_udiff(reply, KNOWN) == [Edit("shopcore/new_module.py", "", "X = 1\nY = 2\n")]


@pytest.mark.parametrize(("reply", "reason"), [
    ("--- a/shopcore/reports.py\n+++ /dev/null\n@@\n-x\n", "deleting files"),
    ("--- a/shopcore/reports.py\n+++ b/shopcore/other.py\n@@\n-x\n+y\n", "renaming"),
    ("--- a/shopcore/reports.py\n+++ b/shopcore/reports.py\n@@\n x\n", "no added or removed"),
    ("Just change the rounding.", "no unified diff"),
])
def test_udiff_malformed(reply: str, reason: str) -> None:
    with pytest.raises(MalformedReply, match=reason):
        parse_udiff(reply, KNOWN)


# --------------------------------------------------------------------------- whole file


def test_whole_file_good_reply_two_files_and_prose_blocks() -> None:
    reply = """Here are the updated files.

shopcore/pricing/tax.py
```python
RATE = 1
```

shopcore/reports.py
```python
def report():
    return 1
```

Run the tests with:
```bash
pytest -q
```
"""
    edits = parse_whole_file(reply, KNOWN)
    assert edits == [
        Edit("shopcore/pricing/tax.py", "", "RATE = 1\n", whole_file=True),
        Edit("shopcore/reports.py", "", "def report():\n    return 1\n", whole_file=True),
    ]


def test_whole_file_single_block_without_path_goes_to_the_only_file() -> None:
    edits = parse_whole_file("```python\nx = 1\n```", ["shopcore/reports.py"])
    assert edits[0].path == "shopcore/reports.py"
    with pytest.raises(MalformedReply, match="no file path"):
        parse_whole_file("```python\nx = 1\n```", KNOWN)


@pytest.mark.parametrize(("reply", "reason"), [
    ("shopcore/reports.py\n```python\nx = 1\ny = 2\n", "not closed"),
    ("shopcore/reports.py\n```python\n```\n", "empty"),
    ("The fix is to round half up.", "no fenced code block"),
])
def test_whole_file_malformed(reply: str, reason: str) -> None:
    with pytest.raises(MalformedReply, match=reason):
        parse_whole_file(reply, KNOWN)


# --------------------------------------------------------------------------- dispatch and fallbacks


def test_parse_reply_falls_back_to_unmistakable_formats_but_says_so() -> None:
    parsed = parse_reply(GOOD_DIFF, SEARCH_REPLACE, KNOWN)
    assert parsed.parsed_as == UDIFF and not parsed.well_formed
    parsed = parse_reply(GOOD_SR, UDIFF, KNOWN)
    assert parsed.parsed_as == SEARCH_REPLACE and not parsed.well_formed
    parsed = parse_reply(GOOD_SR, SEARCH_REPLACE, KNOWN)
    assert parsed.well_formed


def test_parse_reply_never_falls_back_to_whole_file() -> None:
    with pytest.raises(MalformedReply, match="no SEARCH/REPLACE"):
        parse_reply("shopcore/reports.py\n```python\nx = 1\n```\n", SEARCH_REPLACE, KNOWN)


def test_detect_format() -> None:
    assert detect_format(GOOD_SR) == SEARCH_REPLACE
    assert detect_format(GOOD_DIFF) == UDIFF
    assert detect_format("a.py\n```python\nx=1\n```") == WHOLE_FILE


def test_path_from_line_ignores_prose() -> None:
    assert path_from_line("Here is the fix:", KNOWN) is None
    assert path_from_line("This is what I changed, e.g. rounding.", KNOWN) is None
    assert path_from_line("```python", KNOWN) is None
    assert path_from_line("The bug is in calculator.py:", KNOWN) == "shopcore/pricing/calculator.py"


# --------------------------------------------------------------------------- format choice and prompts


def test_model_size_from_names() -> None:
    assert model_size_b("SmolLM2-135M-Instruct") == pytest.approx(0.135)
    assert model_size_b("Qwen/Qwen2.5-Coder-7B-Instruct") == 7.0
    assert model_size_b("qwen2.5-coder-1.5b") == 1.5
    assert model_size_b("/models/my-model") is None


def test_choose_format_auto() -> None:
    small = choose_edit_format("auto", model_name="smollm2-135m", family="smollm", file_lines=[40],
                               file_tokens=[200], max_new_tokens=384)
    assert small[0] == WHOLE_FILE
    too_long = choose_edit_format("auto", model_name="smollm2-135m", family="smollm", file_lines=[150],
                                  file_tokens=[1500], max_new_tokens=384)
    assert too_long[0] == SEARCH_REPLACE
    big = choose_edit_format("auto", model_name="Qwen2.5-Coder-32B-Instruct", family="qwen2.5-coder",
                             file_lines=[40], file_tokens=[200], max_new_tokens=384)
    assert big[0] == SEARCH_REPLACE


def test_choose_format_per_family_setting() -> None:
    setting = "qwen2.5-coder=udiff, *=whole-file"
    assert choose_edit_format(setting, model_name="x-7b", family="qwen2.5-coder", file_lines=[10])[0] == UDIFF
    assert choose_edit_format(setting, model_name="x-7b", family="llama", file_lines=[10])[0] == WHOLE_FILE
    assert choose_edit_format("udiff", model_name="x", family=None, file_lines=[10])[0] == UDIFF
    with pytest.raises(ConfigError):
        parse_format_setting("diffy")
    with pytest.raises(ConfigError):
        parse_format_setting("qwen=diffy")


def test_prompts_carry_format_example_and_files() -> None:
    text = user_prompt(SEARCH_REPLACE, "Tax is wrong", [PromptFile("shopcore/pricing/tax.py", "x = 1"),
                                                      PromptFile("shopcore/reports.py", "y\n", excerpt=True)])
    assert "shopcore/pricing/tax.py\n```python\nx = 1\n```" in text
    assert "excerpt" in text and "Tax is wrong" in text
    for fmt in (SEARCH_REPLACE, UDIFF, WHOLE_FILE):
        example = system_prompt(fmt)
        assert parse_reply(example, fmt, ["path/to/file.py"]).well_formed, fmt


# --------------------------------------------------------------------------- properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_code_line = st.text(alphabet="abcxyz_ ()=:+-#'\"0123456789\t", max_size=30).filter(
    lambda s: not s.lstrip().startswith(("<<<<<", "=====", ">>>>>", "```")))
_block = st.lists(_code_line, min_size=1, max_size=8).map(lambda ls: "\n".join(ls) + "\n").filter(
    lambda s: s.strip() != "")


@settings(max_examples=150, deadline=None)
@given(search=_block, replace=st.one_of(st.just(""), _block), fenced=st.booleans())
def test_search_replace_round_trip(search: str, replace: str, fenced: bool) -> None:
    body = f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"
    reply = f"shopcore/reports.py\n```python\n{body}```\n" if fenced else f"shopcore/reports.py\n{body}"
    assert parse_search_replace(reply, KNOWN) == [Edit("shopcore/reports.py", search, replace)]
