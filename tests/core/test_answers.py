"""Questions and explanations through the feature service: targets, symbols, context, citations.

The prompt-building half is checked without a model (a scripted backend); the
streaming half with the real embedded model, as a user runs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.events import AnswerDelta, AnswerFinished, ContextReady
from assistant.session import Session
from base.config import IndexSettings, Settings
from base.errors import UsageError
from cli.commands.explain_cmd import parse_target
from retrieval.symbols import find_definition_in_text
from tests.conftest import run_cli


def test_parse_target() -> None:
    assert parse_target("a/b.py") == ("a/b.py", "", None, None)
    assert parse_target("a/b.py:Order.total") == ("a/b.py", "Order.total", None, None)
    assert parse_target("a/b.py:10-20") == ("a/b.py", "", 10, 20)
    assert parse_target("a/b.py:7") == ("a/b.py", "", 7, 7)
    with pytest.raises(UsageError):
        parse_target("a/b.py:20-10")


def test_find_symbol_without_an_index() -> None:
    py = "import x\n\nclass A:\n    @property\n    def total(self):\n        return 1\n\ndef f():\n    pass\n"
    assert find_definition_in_text(py, "m.py", "A.total") == (4, 6)
    assert find_definition_in_text(py, "m.py", "f") == (8, 9)
    ts = "export class Client {\n  get(x) {\n    return x;\n  }\n}\nfunction other() {}\n"
    assert find_definition_in_text(ts, "c.ts", "Client") == (1, 5)
    assert find_definition_in_text(py, "m.py", "missing") is None


@pytest.fixture
def indexed(sample_repo_copy: Path) -> Path:
    from indexer.pipeline import index_repository

    index_repository(sample_repo_copy, IndexSettings(embeddings=False))
    return sample_repo_copy


def test_explain_targets_symbol_selection_cursor_and_file(indexed: Path) -> None:
    session = Session(indexed, Settings(), persist=False)
    by_name = session.explain_target("compute_tax", None, None, None)
    assert (by_name.path, by_name.start, by_name.label) == ("shopcore/pricing/tax.py", 74, "compute_tax")
    # A symbol with a file: that file first (FILE:SYMBOL); the open file in the TUI.
    assert session.explain_target("compute_tax", "shopcore/pricing/tax.py", None, None) == by_name
    selection = session.explain_target("", "shopcore/pricing/tax.py", 10, 20)
    assert (selection.start, selection.end, selection.label) == (10, 20, "shopcore/pricing/tax.py:10-20")
    cursor = session.explain_target("", "shopcore/pricing/tax.py", 76, None)
    assert cursor.start == 74 and cursor.label == "compute_tax"  # the definition the cursor is in
    whole = session.explain_target("", "shopcore/pricing/tax.py", None, None)
    assert whole.start == 1 and whole.label == "shopcore/pricing/tax.py"
    with pytest.raises(UsageError, match="no definition named"):
        session.explain_target("no_such_function_here", None, None, None)
    with pytest.raises(UsageError, match="outside"):
        session.explain_target("", "shopcore/pricing/tax.py", 9999, None)


def test_prepared_prompts_cite_in_the_form_their_headings_show(indexed: Path) -> None:
    session = Session(indexed, Settings(), persist=False)
    asked = session.prepare_ask("How is the order total computed with a coupon?")
    user = asked.messages[-1].content
    assert asked.context.items and asked.context.tokens_used <= asked.budget.tokens
    for item in asked.context.items:
        if item.path:
            assert f"### {item.label}" in user
            assert item.raw and item.raw.splitlines()[0] in (indexed / item.path).read_text()
    assert any("pricing" in item.path for item in asked.context.items)
    explained = session.prepare_explain("compute_tax")
    assert explained.focus is not None and explained.focus.label.startswith("shopcore/pricing/tax.py:74-")
    assert f"`{explained.focus.label}`" in explained.messages[-1].content


def test_without_an_index_a_question_says_so_and_an_explanation_uses_the_file(sample_repo_copy: Path) -> None:
    from base.errors import IndexMissingError

    session = Session(sample_repo_copy, Settings(), persist=False)
    with pytest.raises(IndexMissingError) as missing:
        session.prepare_ask("where are prices rounded?")
    assert "repo-assistant index" in missing.value.one_line()
    about_a_file = session.prepare_ask("what does this do?", target_path="shopcore/pricing/money.py")
    assert about_a_file.context.items and any("no index" in note for note in about_a_file.notes)
    explained = session.prepare_explain("quantize_money", target_path="shopcore/pricing/money.py")
    assert explained.context.items[0].kind == "active-file"
    assert "def quantize_money" in explained.context.text
    with pytest.raises(UsageError, match="without an index"):
        session.prepare_explain("quantize_money")


@pytest.mark.slow
def test_explain_streams_with_the_real_model_and_cites_the_target(indexed: Path, embedded_backend) -> None:
    settings = Settings()
    settings.retrieval.budget = 2_400  # ~1.2K of context after the answer reserve: quick on a shared CPU
    session = Session(indexed, settings, backend=embedded_backend, persist=False)
    events = list(session.explain("quantize_money", max_new_tokens=12))
    ready, *deltas, done = events
    assert isinstance(ready, ContextReady) and isinstance(done, AnswerFinished)
    assert all(isinstance(d, AnswerDelta) for d in deltas) and deltas
    assert done.turn.content == "".join(d.text for d in deltas)
    assert done.stats is not None and done.stats.completion_tokens <= 12
    first = done.turn.citations[0]
    source = (indexed / first.path).read_text().splitlines()
    assert source[first.start_line - 1].lstrip().startswith("def quantize_money")


@pytest.mark.slow
def test_ask_command_streams_and_lists_sources(sample_repo_copy: Path) -> None:
    run_cli("index", "--set", "index.embeddings=false", cwd=sample_repo_copy, timeout=120)
    result = run_cli("ask", "Where are prices rounded?", "--max-tokens", "8", cwd=sample_repo_copy,
                     env={"REPO_ASSISTANT_MODEL_THREADS": "1", "REPO_ASSISTANT_RETRIEVAL_BUDGET": "1000"})
    assert result.returncode == 0, result.stderr
    assert "\nSources:\n- " in result.stdout
    assert "tok/s" in result.stderr
    assert not (sample_repo_copy / ".repo-assistant" / "sessions").exists()  # a one-shot command saves no chat


def test_context_read_from_disk_redacts_secrets_as_the_index_does(indexed: Path) -> None:
    """An edit after indexing (or an unsaved buffer) must not leak a token the index would have hidden."""
    money = indexed / "shopcore" / "pricing" / "money.py"
    token = "ghp_" + "a1B2" * 9
    money.write_text(money.read_text() + f'\nDEPLOY_TOKEN = "{token}"\n', encoding="utf-8")
    session = Session(indexed, Settings(), persist=False)
    lines = len(money.read_text().splitlines())
    built = session.prepare_explain("", target_path="shopcore/pricing/money.py", line=lines, end_line=lines)
    assert token not in built.context.text and "[redacted github token]" in built.context.text
    assert token not in "".join(m.content for m in built.messages)


def test_project_rules_go_into_questions_and_explanations_as_a_context_item(indexed: Path) -> None:
    """AGENTS.md at the root and a nearer CLAUDE.md both apply, nearer last; counted in the budget; not in MCP."""
    (indexed / "AGENTS.md").write_text("Money is always Decimal, never float.\n", encoding="utf-8")
    (indexed / "shopcore" / "pricing" / "CLAUDE.md").write_text("Round with quantize_money only.\n",
                                                               encoding="utf-8")
    (indexed / "shopcore" / "GEMINI.md").write_bytes(b"\x00\x01binary")
    session = Session(indexed, Settings(), persist=False)
    explained = session.prepare_explain("compute_tax")
    rules = [item for item in explained.context.items if item.kind == "rules"]
    assert len(rules) == 1 and rules[0].reason == "project rules: AGENTS.md, shopcore/pricing/CLAUDE.md"
    text = explained.context.text
    assert text.startswith("### Project rules")  # first in the prompt
    assert text.index("Money is always Decimal") < text.index("Round with quantize_money only")
    assert rules[0].tokens > 0 and explained.context.tokens_used <= explained.budget.tokens
    assert any("GEMINI.md: skipped, binary" in note for note in explained.notes)
    asked = session.prepare_ask("How is VAT rounded?", target_path="shopcore/pricing/tax.py")
    assert any(item.kind == "rules" for item in asked.context.items)
    from retrieval.types import Target

    for_an_agent = session.context(Target("shopcore/pricing/tax.py", 10), budget=2_000, rules=False)
    assert not any(item.kind == "rules" for item in for_an_agent.items)
    settings = Settings()
    settings.retrieval.rules_max_bytes = 0  # turned off
    off = Session(indexed, settings, persist=False).prepare_explain("compute_tax")
    assert not any(item.kind == "rules" for item in off.context.items)
