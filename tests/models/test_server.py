"""``repo-assistant serve`` in a subprocess, driven by the real OpenAI-compatible HTTP backend."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.models.base import ChatMessage, GenerationParams
from assistant.models.openai_http import OpenAIBackend
from base.config import ModelSettings
from base.errors import ModelError, ModelUnavailableError

pytestmark = pytest.mark.slow

_LINE = re.compile(r"on (http://127\.0\.0\.1:\d+/v1)")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_server(tmp_path: Path, *, sigint_ignored: bool = False) -> tuple[subprocess.Popen[str], str]:
    """Start ``repo-assistant serve --port 0`` and return it with its base URL.

    ``sigint_ignored`` starts it as a background job of a non-interactive shell would be
    (SIGINT inherited ignored), whatever way this test run itself was started.
    """
    exe = Path(sys.executable).with_name("repo-assistant")
    env = {**os.environ, "REPO_ASSISTANT_MODEL_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([str(exe), "serve", "--port", "0", "--repo", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                            preexec_fn=_ignore_sigint if sigint_ignored else None)
    deadline = time.time() + 240
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = _LINE.search(line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stderr.read() if proc.stderr else ''}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_server(tmp_path_factory.mktemp("serve"))
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def client(url: str, **kwargs: object) -> OpenAIBackend:
    settings = ModelSettings(backend="openai", base_url=url, retries=1, timeout_s=120, **kwargs)  # type: ignore[arg-type]
    return OpenAIBackend.from_settings(settings)


def test_models_endpoint_describes_the_family(server: str) -> None:
    backend = client(server)
    assert backend.model_name == "smollm2-135m"
    assert backend.family.name == "smollm"
    assert backend.family.completion_mode == "prefix-only"
    assert backend.context_window == 8192
    # The embedded tokenizer is local, so token counts are exact.
    assert backend.count_tokens("<file_sep>") == 1


def test_streams_a_completion_and_a_chat(server: str) -> None:
    backend = client(server)
    params = GenerationParams(max_new_tokens=12, temperature=0)
    deltas = list(backend.stream("def add(a, b):\n", params))
    assert len(deltas) > 1 and "".join(deltas).strip()
    stats = backend.last_stats
    assert stats.completion_tokens >= 1 and stats.prompt_tokens > 0
    assert 0 < stats.time_to_first_token_s <= stats.total_s
    chat = "".join(backend.stream_chat([ChatMessage("user", "Say hi")], params))
    assert chat.strip()
    with_stop = "".join(backend.stream("def f():\n    return 1\n\ndef g",
                                       GenerationParams(max_new_tokens=24, temperature=0, stop=["\n"])))
    assert with_stop and "\n" not in with_stop


def test_non_streaming_and_batched_sampling(server: str) -> None:
    response = httpx.post(f"{server}/completions", json={"prompt": "x = ", "max_tokens": 4, "temperature": 0},
                          timeout=120)
    body = response.json()
    assert response.status_code == 200, body
    assert body["object"] == "text_completion" and body["usage"]["completion_tokens"] >= 1
    backend = client(server)
    events = list(backend.stream_n("import ", GenerationParams(max_new_tokens=6, temperature=0.9, seed=3), 2))
    assert {i for i, _ in events} == {0, 1}


def test_bad_requests_are_clear_errors(server: str) -> None:
    response = httpx.post(f"{server}/completions", json={"prompt": 5}, timeout=30)
    assert response.status_code == 400
    assert "prompt" in response.json()["error"]["message"]
    backend = client(server)
    with pytest.raises(ModelError, match="400"):
        list(backend.stream("x", GenerationParams(max_new_tokens=0)))


def test_cancel_frees_the_server_for_the_next_request(server: str) -> None:
    backend = client(server)
    cancel = threading.Event()
    long = GenerationParams(max_new_tokens=400, temperature=0, ignore_eos=True)
    got = []
    for delta in backend.stream("Once upon a time", long, cancel):
        got.append(delta)
        if len(got) == 2:
            cancel.set()
    assert backend.last_stats.finish_reason == "cancelled"
    started = time.perf_counter()
    text = "".join(client(server).stream("y = ", GenerationParams(max_new_tokens=3, temperature=0)))
    assert text
    # Had the first generation kept running, this would wait for ~400 tokens.
    assert time.perf_counter() - started < 25


def test_server_killed_mid_stream_is_a_quick_error(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path)
    try:
        backend = client(url)
        stream = backend.stream("Once upon a time", GenerationParams(max_new_tokens=400, temperature=0,
                                                                      ignore_eos=True))
        next(stream)
        os.killpg(proc.pid, signal.SIGKILL)
        started = time.perf_counter()
        with pytest.raises(ModelError, match=r"closed the connection|ended the stream"):
            for _ in stream:
                pass
        assert time.perf_counter() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_no_server_is_a_quick_unavailable_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="cannot connect"):
        client(f"http://127.0.0.1:{port}/v1")
    assert time.perf_counter() - started < 10


def test_concurrent_requests_share_the_model(server: str) -> None:
    results: dict[int, str] = {}

    def one(i: int) -> None:
        results[i] = "".join(client(server).stream(f"x{i} = ", GenerationParams(max_new_tokens=4, temperature=0)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == [0, 1, 2] and all(results.values())


def test_api_key_is_read_from_the_variable_named_in_the_settings(server: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVER_KEY", "sekret")
    backend = client(server, api_key_env="MY_SERVER_KEY")
    assert backend._client.headers["Authorization"] == "Bearer sekret"
    assert "".join(backend.stream("a", GenerationParams(max_new_tokens=2, temperature=0)))
