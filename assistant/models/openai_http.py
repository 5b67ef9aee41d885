"""A backend for OpenAI-compatible servers: vLLM, llama.cpp server, TGI, Ollama, ``repo-assistant serve``.

Raw prompts (completion, FIM) go to ``/v1/completions``, conversations to
``/v1/chat/completions``; both stream server-sent events.  The response is read
on a worker thread so the caller can cancel at any moment (the connection is
closed, which tells the server to stop generating).  Connection failures and
"busy" answers are retried with exponential backoff before the first token; a
server that disappears mid-stream is a :class:`ModelError` at once, never a hang.

The FIM template comes from, in order: the server's own description
(``repo-assistant serve`` adds it to ``/v1/models``), the model's tokenizer when
it is available locally, the preset's documented family; otherwise
completion is prefix-only, which is always safe.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from assistant.models.base import ChatMessage, GenerationParams, GenerationStats
from assistant.models.families import DEFAULT_CONTEXT_WINDOW, ModelFamily, detect_family, documented_family
from assistant.models.stops import StopCutter
from base.config import ModelSettings
from base.errors import ConfigError, ModelError, ModelUnavailableError

log = logging.getLogger(__name__)

_RETRY_STATUS = {429, 502, 503, 504}
_END = object()
_POLL_S = 0.1


def normalise_base_url(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both become ``http://host:8000/v1``."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"model.base_url '{url}' is not an http(s) URL", hint="e.g. http://127.0.0.1:8000/v1")
    if parts.path in {"", "/"}:
        url += "/v1"
    return url


class OpenAIBackend:
    """Streams from an OpenAI-compatible HTTP endpoint."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 120.0,
                 retries: int = 2, family: ModelFamily | None = None,
                 count_tokens: Callable[[str], int] | None = None, context_window: int | None = None) -> None:
        self.base_url = normalise_base_url(base_url)
        self.model = model
        self.retries = max(0, retries)
        self.timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        headers = {"Accept": "text/event-stream, application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(timeout=self.timeout, headers=headers)
        self.family = family or ModelFamily(name="generic", context_window=context_window or DEFAULT_CONTEXT_WINDOW)
        if context_window:
            self.family = replace(self.family, context_window=context_window)
        self._count = count_tokens
        self._stats = GenerationStats()

    # construction from settings -------------------------------------------------------------

    @classmethod
    def from_settings(cls, settings: ModelSettings, *,
                      progress: Callable[[str], None] | None = None) -> OpenAIBackend:
        if not settings.base_url.strip():
            raise ConfigError("model.backend=openai needs model.base_url",
                              hint="e.g. --set model.base_url=http://127.0.0.1:8000/v1")
        api_key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        backend = cls(settings.base_url, settings.name, api_key=api_key, timeout_s=settings.timeout_s,
                      retries=settings.retries)
        if progress:
            progress(f"Connecting to {backend.base_url}...")
        backend.discover(settings)
        return backend

    def discover(self, settings: ModelSettings) -> None:
        """Pick the served model, its family and context window (see the module docstring)."""
        from assistant.models.presets import get_preset

        served: list[dict[str, Any]] = []
        try:
            served = self.list_models()
        except ModelUnavailableError:
            raise
        except ModelError as exc:
            log.info("GET /models failed (%s); using model.name as given", exc.one_line())
        entry = next((m for m in served if m.get("id") == self.model), None)
        if entry is None and len(served) == 1:
            entry = served[0]
            log.info("server serves %s; using it instead of %s", entry.get("id"), self.model)
            self.model = str(entry.get("id"))
        preset = get_preset(settings.name) or get_preset(self.model)
        window = settings.context_window or int((entry or {}).get("max_model_len") or 0) or (
            preset.context_window if preset else DEFAULT_CONTEXT_WINDOW)
        meta = (entry or {}).get("repo_assistant") or {}
        family: ModelFamily | None = None
        if isinstance(meta.get("family"), dict):
            family = ModelFamily.from_dict(meta["family"])
        if family is None:
            tokenizer = _local_tokenizer(settings.name) or _local_tokenizer(self.model)
            if tokenizer is not None:
                family = detect_family(tokenizer)
                self._count = lambda text: len(tokenizer.encode(text, add_special_tokens=False))
        if family is None and preset is not None:
            family = documented_family(preset.family, window)
            if not preset.fim:
                family = replace(family, fim=None)
        self.family = replace(family or self.family, context_window=window)
        if self._count is None and meta.get("family"):
            tokenizer = _local_tokenizer(settings.name)
            if tokenizer is not None:
                self._count = lambda text: len(tokenizer.encode(text, add_special_tokens=False))

    # Backend protocol --------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def context_window(self) -> int:
        return self.family.context_window

    @property
    def device(self) -> str:
        return self.base_url

    @property
    def last_stats(self) -> GenerationStats:
        return self._stats

    def count_tokens(self, text: str) -> int:
        if self._count is not None:
            return self._count(text)
        from base.tokens import estimate_tokens

        return estimate_tokens(text)

    def stream(self, prompt: str, params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[str]:
        for _i, delta in self._stream("completions", {"prompt": prompt}, params, 1, cancel):
            yield delta

    def stream_chat(self, messages: list[ChatMessage], params: GenerationParams,
                    cancel: threading.Event | None = None) -> Iterator[str]:
        body = {"messages": [m.as_dict() for m in messages]}
        for _i, delta in self._stream("chat/completions", body, params, 1, cancel):
            yield delta

    def stream_n(self, prompt: str, params: GenerationParams, n: int,
                 cancel: threading.Event | None = None) -> Iterator[tuple[int, str]]:
        return self._stream("completions", {"prompt": prompt}, params, n, cancel)

    def stream_chat_n(self, messages: list[ChatMessage], params: GenerationParams, n: int,
                      cancel: threading.Event | None = None) -> Iterator[tuple[int, str]]:
        return self._stream("chat/completions", {"messages": [m.as_dict() for m in messages]}, params, n, cancel)

    def close(self) -> None:
        self._client.close()

    # HTTP ----------------------------------------------------------------------------------------

    def list_models(self) -> list[dict[str, Any]]:
        """``GET /models`` (with retries on connection errors)."""
        response = self._with_retries(lambda: self._client.get(f"{self.base_url}/models"))
        try:
            self._raise_for_status(response)
            data = response.json().get("data", [])
        finally:
            response.close()
        return [m for m in data if isinstance(m, dict)]

    def _with_retries(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                response = send()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= self.retries:
                    raise ModelUnavailableError(
                        f"cannot connect to the model server at {self.base_url}",
                        hint="is it running? check model.base_url") from exc
            except httpx.TimeoutException as exc:
                raise ModelError(f"the model server at {self.base_url} did not answer in time",
                                 hint="raise model.timeout_s or check the server") from exc
            except httpx.HTTPError as exc:
                raise ModelError(f"request to {self.base_url} failed: {exc}") from exc
            else:
                if response.status_code not in _RETRY_STATUS or attempt >= self.retries:
                    return response
                response.read()
                response.close()
            log.info("retrying %s in %.1fs (attempt %d)", self.base_url, delay, attempt + 1)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            response.read()
            detail = response.json().get("error", {})
            message = detail.get("message") if isinstance(detail, dict) else str(detail)
        except (ValueError, httpx.HTTPError, AttributeError):
            message = response.text[:200] if response.is_stream_consumed else ""
        code = response.status_code
        if code in {401, 403}:
            raise ModelError(f"the model server refused the request ({code}): {message or 'unauthorised'}",
                             hint="set the API key in the variable named by model.api_key_env")
        if code == 404:
            raise ModelUnavailableError(f"the model server has no such model or endpoint ({code}): {message}",
                                        hint=f"check model.name ('{self.model}') and model.base_url")
        raise ModelError(f"the model server answered {code}: {message}")

    def _payload(self, body: dict[str, Any], params: GenerationParams, n: int) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            **body,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if n > 1:
            payload["n"] = n
        if params.stop:
            payload["stop"] = list(params.stop)[:4]  # the OpenAI API takes at most four
        if params.seed is not None:
            payload["seed"] = params.seed
        if params.ignore_eos:
            payload["ignore_eos"] = True  # vLLM and repo-assistant serve honour it
        return payload

    def _stream(self, endpoint: str, body: dict[str, Any], params: GenerationParams, n: int,
                cancel: threading.Event | None) -> Iterator[tuple[int, str]]:
        cancel = cancel or threading.Event()
        url = f"{self.base_url}/{endpoint}"
        payload = self._payload(body, params, n)
        chat = endpoint.startswith("chat")
        events: queue.Queue[Any] = queue.Queue()
        holder: dict[str, httpx.Response] = {}
        stats = GenerationStats()
        started = time.perf_counter()

        def read() -> None:
            try:
                request = self._client.build_request("POST", url, json=payload)
                response = self._with_retries(lambda: self._client.send(request, stream=True))
                holder["response"] = response
                if cancel.is_set():
                    return
                self._raise_for_status(response)
                done = False
                for line in response.iter_lines():
                    if cancel.is_set():
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        done = True
                        break
                    events.put(("chunk", json.loads(data)))
                if not done and not cancel.is_set():
                    raise ModelError("the model server ended the stream early",
                                     hint="the server may have stopped; check its log")
            except BaseException as exc:
                if not cancel.is_set():
                    events.put(("error", exc))
            finally:
                events.put(_END)

        worker = threading.Thread(target=read, name="http-stream", daemon=True)
        worker.start()
        cutters = [StopCutter(list(params.stop)) for _ in range(n)]
        finish = [""] * n
        produced = [""] * n
        completion_tokens = 0
        ended = False
        try:
            while not ended:
                if cancel.is_set():
                    break
                try:
                    item = events.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if item is _END:
                    ended = True
                    break
                kind, value = item
                if kind == "error":
                    raise _as_model_error(value, self.base_url)
                if isinstance(value.get("error"), dict):
                    raise ModelError(f"the model server failed: {value['error'].get('message', 'unknown error')}")
                usage = value.get("usage")
                if isinstance(usage, dict):
                    stats.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                    completion_tokens = int(usage.get("completion_tokens") or 0)
                for choice in value.get("choices") or []:
                    index = int(choice.get("index", 0))
                    if not 0 <= index < n:
                        continue
                    text = ((choice.get("delta") or {}).get("content") if chat else choice.get("text")) or ""
                    if choice.get("finish_reason"):
                        finish[index] = str(choice["finish_reason"])
                    if not text:
                        continue
                    if not stats.time_to_first_token_s:
                        stats.time_to_first_token_s = time.perf_counter() - started
                    safe = cutters[index].feed(text)
                    produced[index] += safe
                    if safe:
                        yield index, safe
            if ended:
                for index, cutter in enumerate(cutters):
                    rest = cutter.finish()
                    if rest:
                        produced[index] += rest
                        yield index, rest
        finally:
            if not ended:
                cancel.set()
                response = holder.get("response")
                if response is not None:
                    _abort(response)
            stats.total_s = time.perf_counter() - started
            stats.completion_tokens = completion_tokens or sum(self.count_tokens(t) for t in produced)
            if cancel.is_set() and not ended:
                stats.finish_reason = "cancelled"
            elif any(c.stopped for c in cutters) or all(f == "stop" for f in finish):
                stats.finish_reason = "stop"
            else:
                stats.finish_reason = next((f for f in finish if f), "stop")
            self._stats = stats


def _abort(response: httpx.Response) -> None:
    """Drop the connection now, so the server sees the disconnect and stops generating.

    Closing a socket while another thread is blocked reading it does not end the
    TCP connection on Linux (the read keeps it alive); ``shutdown`` does, at once.
    """
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


def _as_model_error(exc: BaseException, base_url: str) -> ModelError:
    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return ModelError(f"the model server at {base_url} stopped sending tokens (timeout)",
                          hint="raise model.timeout_s or check the server")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.StreamError):
        return ModelError(f"the model server at {base_url} closed the connection mid-stream",
                          hint="the server may have stopped or crashed; check its log")
    if isinstance(exc, json.JSONDecodeError):
        return ModelError(f"the model server at {base_url} sent an event that is not JSON")
    if isinstance(exc, httpx.HTTPError):
        return ModelError(f"request to {base_url} failed: {exc}")
    return ModelError(f"streaming from {base_url} failed: {type(exc).__name__}: {exc}")


def _local_tokenizer(name: str) -> Any | None:
    """The model's tokenizer if it is on this machine (a path, the embedded model, or the HF cache)."""
    from assistant.models import _tokenizer_for

    try:
        return _tokenizer_for(name.strip(), True)
    except Exception as exc:  # not local: fine, the server tokenizes
        log.debug("no local tokenizer for %s: %s", name, exc)
        return None
