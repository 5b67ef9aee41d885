"""``repo-assistant serve``: one loaded model behind an OpenAI-compatible HTTP API.

Standard library only (``http.server.ThreadingHTTPServer``): ``GET /v1/models``,
``POST /v1/completions`` and ``POST /v1/chat/completions``, streaming (server-sent
events over chunked HTTP/1.1) or not.  Generations share the one model and are
serialised by the backend's lock, so several TUI sessions can use one server.
A client that disconnects cancels its generation: a watcher notices the closed
socket even while the model is still reading the prompt, and the broken pipe is
logged, never printed.  Errors follow OpenAI and vLLM: 404 ``model_not_found``
for a model other than the loaded one (its name, preset name or Hub id), 413 for
a body over :data:`MAX_BODY_BYTES`, 400 for a prompt that does not fit the
context window with its completion (never silently cut), and JSON (not HTML)
for unsupported methods.  Ctrl-C cancels the running generations and waits for
them (see :class:`ModelServer`).

``/v1/models`` also describes the model family (FIM template, repository tokens,
context window) under ``repo_assistant``, so :class:`OpenAIBackend` sends FIM
tokens only to a model whose tokenizer really has them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from assistant.models.base import Backend, ChatMessage, GenerationParams
from base.errors import AssistantError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024


class BadRequest(Exception):
    """The request is not what the OpenAI API accepts: answered with ``status`` and an OpenAI-style error.

    ``code`` is OpenAI's machine-readable code (``model_not_found``...), ``None`` where it has none.
    """

    def __init__(self, message: str, status: int = 400, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.kind = kind


def model_aliases(backend: Backend, model_id: str) -> frozenset[str]:
    """Names a request may use for the loaded model: its id, its name, and its preset's name and Hub id."""
    from assistant.models.presets import get_preset

    names = {model_id, backend.model_name}
    for name in list(names):
        preset = get_preset(name)
        if preset is not None:
            names |= {preset.name, preset.source}
    return frozenset(n.lower() for n in names if n)


def _check_model(body: dict[str, Any], aliases: frozenset[str], model_id: str) -> None:
    """404 ``model_not_found`` (as OpenAI and vLLM answer) for a model this server does not serve.

    A request without ``model`` gets the loaded one, as from a single-model server.
    """
    requested = body.get("model")
    if requested is None or (isinstance(requested, str) and requested.strip().lower() in aliases):
        return
    raise BadRequest(f"The model `{requested}` does not exist; this server serves `{model_id}`.",
                     status=404, code="model_not_found")


def _check_window(prompt_tokens: int, params: GenerationParams, window: int, chat: bool) -> None:
    """400 for a prompt that does not fit the window with its completion (vLLM's rule and wording).

    The backend would otherwise keep only the prompt's tail: an answer to a question nobody asked.
    """
    wanted = prompt_tokens + params.max_new_tokens
    if window > 0 and wanted > window:
        where = "messages" if chat else "prompt"
        raise BadRequest(
            f"This model's maximum context length is {window} tokens. However, you requested {wanted} tokens "
            f"({prompt_tokens} in the {where}, {params.max_new_tokens} in the completion). "
            f"Please reduce the length of the {where} or completion.")


def _peer_closed(sock: socket.socket) -> bool:
    """True when the client has closed its end (readable with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class _DisconnectWatcher:
    """Sets ``cancel`` when the client goes away, checking every 0.2 s while a request runs."""

    def __init__(self, sock: socket.socket, cancel: threading.Event) -> None:
        self.sock = sock
        self.cancel = cancel
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="disconnect-watch", daemon=True)

    def __enter__(self) -> _DisconnectWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=1)

    def _watch(self) -> None:
        while not self.done.wait(0.2):
            if _peer_closed(self.sock):
                log.info("client disconnected: cancelling its generation")
                self.cancel.set()
                return


def _params(body: dict[str, Any]) -> tuple[GenerationParams, int]:
    try:
        stop = body.get("stop") or []
        if isinstance(stop, str):
            stop = [stop]
        max_tokens = body.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = body.get("max_tokens")
        if max_tokens is None:
            max_tokens = 16
        params = GenerationParams(
            max_new_tokens=int(max_tokens),
            temperature=float(body.get("temperature", 1.0) if body.get("temperature") is not None else 1.0),
            top_p=float(body.get("top_p", 1.0) if body.get("top_p") is not None else 1.0),
            stop=[str(s) for s in stop],
            seed=int(body["seed"]) if body.get("seed") is not None else None,
            ignore_eos=bool(body.get("ignore_eos", False)),
        )
        n = int(body.get("n") or 1)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"invalid sampling parameter: {exc}") from exc
    if params.max_new_tokens < 1:
        raise BadRequest("max_tokens must be at least 1")
    if not 1 <= n <= 16:
        raise BadRequest("n must be between 1 and 16")
    if n > 1 and params.temperature <= 0:
        raise BadRequest("n > 1 needs temperature > 0")
    return params, n


def _prompt_tokens(backend: Backend, prompt: str | list[ChatMessage]) -> int:
    """Tokens the backend will feed the model for this prompt (chat: rendered with its template)."""
    if isinstance(prompt, str):
        return backend.count_tokens(prompt)
    render = getattr(backend, "chat_prompt", None)
    text = render(prompt) if render is not None else "\n".join(m.content for m in prompt)
    return backend.count_tokens(text)


def make_handler(backend: Backend, model_id: str) -> type[BaseHTTPRequestHandler]:
    """The request handler class bound to one loaded backend."""

    family = getattr(backend, "family", None)
    aliases = model_aliases(backend, model_id)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "repo-assistant"

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

        # plumbing -------------------------------------------------------------------------

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str = "invalid_request_error",
                   code: str | int | None = None) -> None:
            self._send_json(status, {"error": {"message": message, "type": kind, "param": None,
                                               "code": status if code is None else code}})

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """Errors raised by http.server itself (bad request line, unsupported method) in JSON, not HTML."""
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._error(code, message or explain or self.responses.get(code, ("error",))[0])

        def _not_allowed(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path in _POST_ROUTES | _GET_ROUTES:
                self.send_response(405)
                allowed = "POST" if path in _POST_ROUTES else "GET"
                data = json.dumps({"error": {"message": f"method {self.command} not allowed on {path}; use "
                                             f"{allowed}", "type": "invalid_request_error", "param": None,
                                             "code": 405}}).encode()
                self.send_header("Allow", allowed)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            else:
                self._error(404, f"no route {self.path}")

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _event(self, payload: dict[str, Any] | str) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            self._chunk(f"data: {text}\n\n".encode())

        def _body(self) -> dict[str, Any]:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length > MAX_BODY_BYTES:
                self.close_connection = True  # the body stays unread: this connection cannot be reused
                raise BadRequest(f"the request body is {length} bytes; the limit is {MAX_BODY_BYTES}",
                                 status=413, code="request_too_large")
            if length <= 0:
                raise BadRequest("a JSON body is required")
            try:
                body = json.loads(self.rfile.read(length))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise BadRequest(f"the body is not JSON: {exc}") from exc
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            return body

        # routes ---------------------------------------------------------------------------

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path in _POST_ROUTES:
                self._not_allowed()
            elif path in {"/v1/models", "/models"}:
                entry: dict[str, Any] = {
                    "id": model_id, "object": "model", "created": int(time.time()), "owned_by": "repo-assistant",
                    "max_model_len": backend.context_window,
                }
                if family is not None:
                    entry["repo_assistant"] = {"family": family.to_dict(), "device": backend.device,
                                               "completion_mode": family.completion_mode}
                self._send_json(200, {"object": "list", "data": [entry]})
            elif path in {"/health", "/v1/health"}:
                self._send_json(200, {"status": "ok", "model": model_id})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path not in _POST_ROUTES:
                self._not_allowed()
                return
            chat = path.endswith("chat/completions")
            try:
                body = self._body()
                _check_model(body, aliases, model_id)
                params, n = _params(body)
                if chat:
                    messages = body.get("messages")
                    if not isinstance(messages, list) or not messages:
                        raise BadRequest("'messages' must be a non-empty list")
                    conversation = [ChatMessage(str(m.get("role", "user")), str(m.get("content") or ""))
                                    for m in messages if isinstance(m, dict)]
                    prompt: str | list[ChatMessage] = conversation
                else:
                    raw = body.get("prompt")
                    if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], str):
                        raw = raw[0]
                    if not isinstance(raw, str):
                        raise BadRequest("'prompt' must be a string")
                    prompt = raw
                _check_window(_prompt_tokens(backend, prompt), params, backend.context_window, chat)
            except BadRequest as exc:
                with contextlib.suppress(OSError):
                    self._error(exc.status, str(exc), exc.kind, exc.code)
                return
            cancel = threading.Event()
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            server: ModelServer = self.server  # type: ignore[assignment]
            with server.in_flight(cancel), _DisconnectWatcher(self.connection, cancel):
                if body.get("stream"):
                    self._stream(prompt, params, n, cancel, chat, include_usage)
                else:
                    self._complete(prompt, params, n, cancel, chat)

        # generation -----------------------------------------------------------------------

        def _events(self, prompt: str | list[ChatMessage], params: GenerationParams, n: int,
                    cancel: threading.Event) -> Iterator[tuple[int, str]]:
            batched = hasattr(backend, "stream_n")
            if isinstance(prompt, str):
                if n == 1 or not batched:
                    return ((0, d) for d in backend.stream(prompt, params, cancel))
                return backend.stream_n(prompt, params, n, cancel)  # type: ignore[attr-defined]
            if n == 1 or not batched:
                return ((0, d) for d in backend.stream_chat(prompt, params, cancel))
            return backend.stream_chat_n(prompt, params, n, cancel)  # type: ignore[attr-defined]

        def _finish_reason(self) -> str:
            reason = backend.last_stats.finish_reason
            return reason if reason in {"stop", "length"} else "stop"

        def _usage(self) -> dict[str, int]:
            stats = backend.last_stats
            return {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
                    "total_tokens": stats.prompt_tokens + stats.completion_tokens}

        def _stream(self, prompt: str | list[ChatMessage], params: GenerationParams, n: int,
                    cancel: threading.Event, chat: bool, include_usage: bool) -> None:
            ident = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}"
            created = int(time.time())
            kind = "chat.completion.chunk" if chat else "text_completion"

            def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
                return {"id": ident, "object": kind, "created": created, "model": model_id,
                        "choices": choices, **extra}

            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                if chat:
                    self._event(chunk([{"index": i, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None} for i in range(n)]))
                for index, delta in self._events(prompt, params, n, cancel):
                    choice = ({"index": index, "delta": {"content": delta}, "finish_reason": None} if chat
                              else {"index": index, "text": delta, "finish_reason": None, "logprobs": None})
                    self._event(chunk([choice]))
                reason = self._finish_reason()
                self._event(chunk([({"index": i, "delta": {}, "finish_reason": reason} if chat
                                    else {"index": i, "text": "", "finish_reason": reason, "logprobs": None})
                                   for i in range(n)]))
                if include_usage:
                    self._event(chunk([], usage=self._usage()))
                self._event("[DONE]")
                self._chunk(b"")
            except (BrokenPipeError, ConnectionResetError):
                cancel.set()
                self.close_connection = True
            except AssistantError as exc:
                # Headers are sent: report in-band, then end the stream without [DONE].
                log.warning("generation failed: %s", exc.one_line())
                with contextlib.suppress(OSError):
                    self._event({"error": {"message": exc.one_line(), "type": "server_error"}})
                self.close_connection = True

        def _complete(self, prompt: str | list[ChatMessage], params: GenerationParams, n: int,
                      cancel: threading.Event, chat: bool) -> None:
            texts = [""] * n
            try:
                for index, delta in self._events(prompt, params, n, cancel):
                    texts[index] += delta
            except AssistantError as exc:
                with contextlib.suppress(OSError):
                    self._error(500, exc.one_line(), "server_error")
                return
            if cancel.is_set():
                self.close_connection = True
                return
            reason = self._finish_reason()
            ident = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}"
            if chat:
                choices = [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": reason}
                           for i, t in enumerate(texts)]
            else:
                choices = [{"index": i, "text": t, "finish_reason": reason, "logprobs": None}
                           for i, t in enumerate(texts)]
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send_json(200, {"id": ident, "object": "chat.completion" if chat else "text_completion",
                                      "created": int(time.time()), "model": model_id, "choices": choices,
                                      "usage": self._usage()})

    return Handler


class ModelServer(ThreadingHTTPServer):
    """A threading HTTP server that can stop cleanly while requests are generating.

    Worker threads are daemons (an idle keep-alive connection must not keep the process
    alive), but a thread *generating* must not outlive the interpreter: torch's threads
    would then abort the process ("terminate called without an active exception").  So
    every generation registers its cancel event, and :meth:`stop_generations` cancels
    them all and waits until each has returned.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flight_lock = threading.Lock()
        self._flights: dict[threading.Event, threading.Thread] = {}
        self._idle = threading.Condition(self._flight_lock)
        self._stopping = False

    @contextlib.contextmanager
    def in_flight(self, cancel: threading.Event) -> Iterator[None]:
        """Register one generation (cancelled at once if the server is already stopping)."""
        with self._flight_lock:
            self._flights[cancel] = threading.current_thread()
            if self._stopping:
                cancel.set()
        try:
            yield
        finally:
            with self._flight_lock:
                self._flights.pop(cancel, None)
                self._idle.notify_all()

    def stop_generations(self, timeout: float = 30.0) -> bool:
        """Cancel every running generation and wait for them to return; False if some did not in time."""
        with self._flight_lock:
            self._stopping = True
            for cancel in self._flights:
                cancel.set()
            return self._idle.wait_for(lambda: not self._flights, timeout=timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is routine (logged quietly); anything else goes to the log, not the console."""
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)):
            log.info("client %s went away: %s", client_address, error)
        else:
            log.exception("error while handling a request from %s", client_address)


_POST_ROUTES = frozenset({"/v1/completions", "/v1/chat/completions", "/completions", "/chat/completions"})
_GET_ROUTES = frozenset({"/v1/models", "/models", "/health", "/v1/health"})


def make_server(backend: Backend, host: str = "127.0.0.1", port: int = 8000,
                model_id: str | None = None) -> ModelServer:
    """Bind the server (port 0 picks a free port; read it from ``server.server_address``)."""
    return ModelServer((host, port), make_handler(backend, model_id or backend.model_name))
