"""Completion end to end: prompts per context mode, the real embedded model, the CLI, syntax reports."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.completion import complete, prepare_prompt
from assistant.models.base import GenerationParams, GenerationStats
from assistant.models.families import detect_family
from base.config import IndexSettings, Settings
from tests.conftest import run_cli

TARGET = "shopcore/pricing/calculator.py"


def _cursor(repo: Path) -> tuple[int, int]:
    """The position right after ``return `` in ``compute_order_total`` (1-based line, 0-based col)."""
    lines = (repo / TARGET).read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if "return compute_lines_total(" in line:
            return number, line.index("return ") + len("return ")
    raise AssertionError("sample_repo changed: no call to compute_lines_total")


@pytest.fixture
def indexed_repo(sample_repo_copy: Path) -> Path:
    from indexer.pipeline import index_repository

    index_repository(sample_repo_copy, IndexSettings(embeddings=False))
    return sample_repo_copy


def test_prompts_per_context_mode(indexed_repo: Path, embedded_tokenizer) -> None:
    family = detect_family(embedded_tokenizer)
    text = (indexed_repo / TARGET).read_text()
    line, col = _cursor(indexed_repo)

    def count(s: str) -> int:
        return len(embedded_tokenizer.encode(s, add_special_tokens=False))

    prompts = {mode: prepare_prompt(indexed_repo, TARGET, text, line, col, family=family, count=count,
                                    budget=1536, context=mode, settings=Settings())
               for mode in ("repo", "file", "none")}
    repo, file, none = prompts["repo"], prompts["file"], prompts["none"]
    assert repo.context == "repo" and repo.sources, "repository context found nothing"
    assert all(":" in s and not s.startswith(TARGET) for s in repo.sources)
    first_source = repo.sources[0].split(":")[0]
    assert f"<file_sep>{first_source}\n" in repo.prompt
    assert repo.prompt.startswith(f"<repo_name>{indexed_repo.name}")
    # Prefix-only: the prompt ends at the cursor, the suffix is nowhere in it.
    for prepared in (repo, file, none):
        assert prepared.prompt.endswith("    return ")
        assert "compute_lines_total(order.lines" not in prepared.prompt
        assert prepared.prompt_tokens <= 1536
    assert none.prompt_tokens < file.prompt_tokens
    assert not file.sources and not none.sources


def test_repo_context_without_index_falls_back_to_the_file(sample_repo_copy: Path, embedded_tokenizer) -> None:
    family = detect_family(embedded_tokenizer)
    text = (sample_repo_copy / TARGET).read_text()
    line, col = _cursor(sample_repo_copy)
    prepared = prepare_prompt(sample_repo_copy, TARGET, text, line, col, family=family,
                              count=lambda s: len(s) // 3, budget=800, context="repo", settings=Settings())
    assert prepared.context == "file"
    assert any("repo-assistant index" in n for n in prepared.notes)


class _Scripted:
    """A backend that replays fixed text: for the reporting logic only (the real model is tested below)."""

    model_name = "scripted"
    context_window = 4096
    device = "cpu"

    def __init__(self, text: str) -> None:
        self.text = text
        self.last_stats = GenerationStats()

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1

    def stream(self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None) -> Iterator[str]:
        yield from self.text
        self.last_stats = GenerationStats(completion_tokens=len(self.text), finish_reason="stop")

    def stream_chat(self, messages, params, cancel=None):  # pragma: no cover - not used here
        yield from ()


def test_a_completion_that_breaks_the_syntax_is_reported_not_hidden(sample_repo_copy: Path) -> None:
    line, col = _cursor(sample_repo_copy)
    result = complete(sample_repo_copy, TARGET, line, col, settings=Settings(), backend=_Scripted("0.0"),
                      context="file")
    assert result.text == "0.0"
    assert result.parses is False and result.parsed_before is True and result.breaks_syntax
    assert result.syntax_error.startswith(f"line {line}")
    good = complete(sample_repo_copy, TARGET, line, col, settings=Settings(), backend=_Scripted("None or "),
                    context="none")
    assert good.parses is True and not good.breaks_syntax


@pytest.mark.slow
def test_real_model_completion_with_repo_context(indexed_repo: Path, embedded_backend) -> None:
    line, col = _cursor(indexed_repo)
    settings = Settings()
    settings.retrieval.completion_budget = 768  # a short prompt keeps the test quick on a shared CPU
    result = complete(indexed_repo, TARGET, line, col, settings=settings, backend=embedded_backend,
                      context="repo", seed=1, max_new_tokens=12)
    assert result.mode == "prefix-only" and result.context == "repo" and result.sources
    assert result.model == "smollm2-135m"
    assert result.raw, "the model produced nothing"
    assert "\n" not in result.text  # mid-line cursor: one line
    assert result.parses in (True, False)
    assert result.stats is not None and result.stats.completion_tokens <= 12
    assert set(result.timings) >= {"context_s", "generate_s", "time_to_first_token_s", "total_s"}
    assert result.prompt_tokens <= result.budget


@pytest.mark.slow
def test_complete_command_json(sample_repo_copy: Path) -> None:
    line, col = _cursor(sample_repo_copy)
    result = run_cli("complete", f"{TARGET}:{line}:{col + 1}", "--json", "--max-tokens", "8", "--seed", "1",
                     cwd=sample_repo_copy, env={"REPO_ASSISTANT_MODEL_THREADS": "1",
                                                "REPO_ASSISTANT_RETRIEVAL_COMPLETION_BUDGET": "400"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "prefix-only"
    assert data["context"] == "file" and data["notes"]  # no index: the fallback is said
    assert data["col"] == col and data["line"] == line
    assert data["timings"]["total_s"] > 0 and "breaks_syntax" in data


def test_complete_command_rejects_bad_positions_before_loading(sample_repo_copy: Path) -> None:
    result = run_cli("complete", f"{TARGET}:9999", cwd=sample_repo_copy, timeout=60)
    assert result.returncode == 2
    assert "outside the file" in result.stderr and "Loading" not in result.stderr
    result = run_cli("complete", "nope.py:1", cwd=sample_repo_copy, timeout=60)
    assert result.returncode == 2 and "file not found: nope.py" in result.stderr
