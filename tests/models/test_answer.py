"""explain / ask: targets, symbols, retrieved context with citations, streaming with the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer import ask, explain, find_symbol_span, parse_target
from base.config import IndexSettings, Settings
from base.errors import UsageError
from tests.conftest import run_cli


def test_parse_target() -> None:
    assert parse_target("a/b.py") == ("a/b.py", None, None, None)
    assert parse_target("a/b.py:Order.total") == ("a/b.py", "Order.total", None, None)
    assert parse_target("a/b.py:10-20") == ("a/b.py", None, 10, 20)
    assert parse_target("a/b.py:7") == ("a/b.py", None, 7, 7)
    with pytest.raises(UsageError):
        parse_target("a/b.py:20-10")


def test_find_symbol_without_an_index() -> None:
    py = "import x\n\nclass A:\n    @property\n    def total(self):\n        return 1\n\ndef f():\n    pass\n"
    assert find_symbol_span(py, "m.py", "A.total") == (4, 6)
    assert find_symbol_span(py, "m.py", "f") == (8, 9)
    ts = "export class Client {\n  get(x) {\n    return x;\n  }\n}\nfunction other() {}\n"
    assert find_symbol_span(ts, "c.ts", "Client") == (1, 5)
    with pytest.raises(UsageError, match="no definition"):
        find_symbol_span(py, "m.py", "missing")


@pytest.mark.slow
def test_explain_streams_and_cites_the_target(sample_repo_copy: Path, embedded_backend) -> None:
    answer = explain(sample_repo_copy, "shopcore/pricing/money.py:quantize_money", settings=Settings(),
                     backend=embedded_backend, max_new_tokens=12)
    first = answer.citations[0]
    assert first.path == "shopcore/pricing/money.py"
    source = (sample_repo_copy / first.path).read_text().splitlines()
    assert source[first.start_line - 1].lstrip().startswith("def quantize_money")
    assert "def quantize_money" in answer.messages[-1].content
    deltas = list(answer)
    assert deltas and answer.text == "".join(deltas)
    assert answer.stats is not None and answer.stats.completion_tokens <= 12
    assert any("index" in n for n in answer.notes)


@pytest.mark.slow
def test_ask_uses_retrieved_context_and_returns_citations(sample_repo_copy: Path, embedded_backend) -> None:
    from indexer.pipeline import index_repository

    index_repository(sample_repo_copy, IndexSettings(embeddings=False))
    settings = Settings()
    settings.retrieval.budget = 2_400  # ~1.2K of context after the answer reserve: quick on a shared CPU
    answer = ask(sample_repo_copy, "How is the order total computed with a coupon?", settings=settings,
                 backend=embedded_backend, max_new_tokens=8)
    assert answer.citations, "no context was retrieved"
    prompt = answer.messages[-1].content
    for citation in answer.citations:
        assert (sample_repo_copy / citation.path).is_file()
        assert f"### {citation.label}" in prompt
    assert any("pricing" in c.path for c in answer.citations)
    assert "".join(answer) == answer.text
    assert answer.context_tokens <= 1200


@pytest.mark.slow
def test_ask_command_streams_and_lists_sources(sample_repo_copy: Path) -> None:
    run_cli("index", "--set", "index.embeddings=false", cwd=sample_repo_copy, timeout=120)
    result = run_cli("ask", "Where are prices rounded?", "--max-tokens", "8", cwd=sample_repo_copy,
                     env={"REPO_ASSISTANT_MODEL_THREADS": "1", "REPO_ASSISTANT_RETRIEVAL_BUDGET": "1000"})
    assert result.returncode == 0, result.stderr
    assert "\nSources:\n- " in result.stdout
    assert "tok/s" in result.stderr
