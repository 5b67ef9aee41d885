"""``serve``'s error answers (as OpenAI/vLLM give them), quiet disconnects and a clean Ctrl-C.

One server process for the module; the last test stops it with SIGINT while it
generates, and checks everything it printed during its whole life.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.models.test_server import start_server

pytestmark = pytest.mark.slow

LONG = {"prompt": "Once upon a time", "max_tokens": 4000, "temperature": 0, "ignore_eos": True, "stream": True}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[str], str]]:
    # SIGINT inherited ignored (a suite started in the background by a script): Ctrl-C must still stop it
    proc, url = start_server(tmp_path_factory.mktemp("serve-errors"), sigint_ignored=True)
    yield proc, url
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)


def _raw(url: str, request: bytes) -> bytes:
    """Send raw bytes to the server and return its whole answer (the server closes the connection)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b"Content-Length" in answer:
                head, _, body = answer.partition(b"\r\n\r\n")
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    return answer


def test_unknown_model_is_404_model_not_found(served: tuple[subprocess.Popen[str], str]) -> None:
    url = served[1]
    response = httpx.post(f"{url}/completions", json={"model": "gpt-4o", "prompt": "x", "max_tokens": 1},
                          timeout=60)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    for alias in ("smollm2-135m", "SmolLM2-135M"):
        ok = httpx.post(f"{url}/completions", json={"model": alias, "prompt": "x", "max_tokens": 1}, timeout=120)
        assert ok.status_code == 200, (alias, ok.text)


def test_huge_body_is_413(served: tuple[subprocess.Popen[str], str]) -> None:
    url = served[1]
    # the size is judged from Content-Length: the 50 MB never need to be sent
    answer = _raw(url, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 52428800\r\n\r\n{\"prompt\": \"")
    assert answer.startswith(b"HTTP/1.1 413")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_too_large"


def test_prompt_longer_than_the_window_is_400_not_cut(served: tuple[subprocess.Popen[str], str]) -> None:
    url = served[1]
    response = httpx.post(f"{url}/completions", json={"prompt": "word " * 9000, "max_tokens": 8}, timeout=120)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "maximum context length is 8192 tokens" in message and "in the prompt, 8 in the completion" in message
    chat = httpx.post(f"{url}/chat/completions", timeout=120,
                      json={"messages": [{"role": "user", "content": "word " * 9000}], "max_tokens": 8})
    assert chat.status_code == 400 and "in the messages" in chat.json()["error"]["message"]


def test_unsupported_methods_answer_json(served: tuple[subprocess.Popen[str], str]) -> None:
    url = served[1]
    put = httpx.put(f"{url}/completions", json={}, timeout=30)
    assert put.status_code == 405 and put.headers["Allow"] == "POST"
    assert put.headers["Content-Type"] == "application/json" and put.json()["error"]["code"] == 405
    get = httpx.get(f"{url}/completions", timeout=30)
    assert get.status_code == 405 and get.headers["Allow"] == "POST"
    brew = _raw(url, b"BREW /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    assert brew.startswith(b"HTTP/1.1 501")
    assert b"<html" not in brew.lower() and json.loads(brew.partition(b"\r\n\r\n")[2])["error"]["code"] == 501


def test_client_disconnect_mid_stream_then_server_still_answers(served: tuple[subprocess.Popen[str], str]) -> None:
    url = served[1]
    with httpx.stream("POST", f"{url}/completions", json=LONG, timeout=120) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data: "))
    # the generation was cancelled: the model is free again for a short request
    ok = httpx.post(f"{url}/completions", json={"prompt": "y = ", "max_tokens": 2, "temperature": 0}, timeout=120)
    assert ok.status_code == 200


def test_ctrl_c_while_generating_stops_cleanly(served: tuple[subprocess.Popen[str], str]) -> None:
    """Last in this module: it stops the server."""
    proc, url = served
    with httpx.stream("POST", f"{url}/completions", json=LONG, timeout=120) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data: "))
        proc.send_signal(signal.SIGINT)
        rest = list(lines)
    assert "data: [DONE]" in rest  # the stream was ended, not cut
    try:
        code = proc.wait(60)  # the server's own watchdog ends it within 20 s of the signal
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, stderr = proc.communicate(timeout=30)
        pytest.fail(f"the server did not exit within 60 s of SIGINT; it printed:\n{stderr[-3000:]}")
    assert code in (0, 130)  # 0 once every request ended; 130 when the stop deadline cut it short
    stderr = proc.stderr.read() if proc.stderr else ""
    assert "terminate called" not in stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception occurred" not in stderr
    assert "stopped" in stderr or code == 130
