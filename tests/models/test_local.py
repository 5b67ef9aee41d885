"""The local transformers backend with the real embedded model: streaming, stops, cancellation, sampling."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.models.base import BatchedBackend, ChatMessage, GenerationParams, sample_n

pytestmark = pytest.mark.slow

GREEDY = GenerationParams(max_new_tokens=16, temperature=0)


def test_loads_on_cpu_as_prefix_only_smollm(embedded_backend) -> None:
    assert embedded_backend.device == "cpu"
    assert embedded_backend.family.name == "smollm"
    assert embedded_backend.family.completion_mode == "prefix-only"
    assert embedded_backend.context_window == 8192
    assert isinstance(embedded_backend, BatchedBackend)
    assert embedded_backend.count_tokens("def f():\n    return 1\n") > 3


def test_streams_deltas_and_reports_timings(embedded_backend) -> None:
    deltas = list(embedded_backend.stream("def add(a, b):\n", GREEDY))
    assert len(deltas) > 1
    stats = embedded_backend.last_stats
    assert stats.prompt_tokens > 0
    assert 1 <= stats.completion_tokens <= 16
    assert 0 < stats.time_to_first_token_s <= stats.total_s
    assert stats.finish_reason in {"stop", "length"}
    # Greedy decoding is deterministic.
    assert "".join(deltas) == "".join(embedded_backend.stream("def add(a, b):\n", GREEDY))


def test_stop_strings_cut_the_text_and_stop_the_model(embedded_backend) -> None:
    params = GenerationParams(max_new_tokens=32, temperature=0, stop=["\n"])
    text = "".join(embedded_backend.stream("def f():\n    return 1\n\ndef g", params))
    assert text and "\n" not in text
    assert embedded_backend.last_stats.finish_reason == "stop"


def test_chat_uses_the_chat_template(embedded_backend) -> None:
    messages = [ChatMessage("user", "Say hello.")]
    assert "<|im_start|>user" in embedded_backend.chat_prompt(messages)
    text = "".join(embedded_backend.stream_chat(messages, GREEDY))
    assert text.strip()
    assert "<|im_end|>" not in text


def test_cancel_mid_stream_stops_quickly(embedded_backend) -> None:
    cancel = threading.Event()
    params = GenerationParams(max_new_tokens=200, temperature=0, ignore_eos=True)
    received = []
    started = time.perf_counter()
    for delta in embedded_backend.stream("Once upon a time", params, cancel):
        received.append(delta)
        if len(received) == 3:
            cancel.set()
    assert len(received) <= 5
    assert embedded_backend.last_stats.finish_reason == "cancelled"
    assert embedded_backend.last_stats.completion_tokens < 20
    assert time.perf_counter() - started < 30
    # The model is free again at once.
    assert "".join(embedded_backend.stream("x = ", GenerationParams(max_new_tokens=2, temperature=0)))


def test_cancel_before_start_generates_nothing(embedded_backend) -> None:
    cancel = threading.Event()
    cancel.set()
    assert list(embedded_backend.stream("hello", GREEDY, cancel)) == []
    assert embedded_backend.last_stats.finish_reason == "cancelled"


def test_abandoned_stream_frees_the_model(embedded_backend) -> None:
    stream = embedded_backend.stream("Once upon a time", GenerationParams(max_new_tokens=200, temperature=0))
    next(stream)
    stream.close()  # the caller stops reading
    assert embedded_backend.last_stats.finish_reason == "cancelled"
    done = threading.Event()

    def again() -> None:
        list(embedded_backend.stream("y = ", GenerationParams(max_new_tokens=2, temperature=0)))
        done.set()

    threading.Thread(target=again, daemon=True).start()
    assert done.wait(30), "the generation lock was not released"


def test_seeded_sampling_is_reproducible_and_batched(embedded_backend) -> None:
    params = GenerationParams(max_new_tokens=8, temperature=0.9, seed=7)
    first = sample_n(embedded_backend, "def parse(text):\n", params, 3)
    second = sample_n(embedded_backend, "def parse(text):\n", params, 3)
    assert first == second
    assert len(first) == 3 and all(first)
    assert len(set(first)) > 1, "three samples at temperature 0.9 should differ"
    events = list(embedded_backend.stream_n("import os\n", params, 2))
    assert {i for i, _ in events} == {0, 1}


def test_ignore_eos_generates_exactly_max_tokens(embedded_backend) -> None:
    params = GenerationParams(max_new_tokens=8, temperature=0, ignore_eos=True)
    list(embedded_backend.stream_chat([ChatMessage("user", "Hi")], params))
    assert embedded_backend.last_stats.completion_tokens == 8
    assert embedded_backend.last_stats.finish_reason == "length"
