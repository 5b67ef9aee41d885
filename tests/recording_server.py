"""A scripted OpenAI-compatible server that records every request it is sent.

Front ends are compared by what reaches the model: run the CLI and the TUI against
one of these and compare the recorded ``messages`` byte for byte.  It speaks the
subset the HTTP backend uses (``GET /v1/models``, streamed ``POST
/v1/chat/completions`` and ``/v1/completions``) and answers every request with
``reply``.  Loopback only; it stops when the ``with`` block ends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    """What the server saw, in order."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def chats(self) -> list[list[dict[str, str]]]:
        return [r["messages"] for r in self.requests if "messages" in r]


@contextmanager
def recording_server(reply: str = "See `shopcore/pricing/calculator.py:1-5`.", *,
                     model: str = "scripted", window: int = 8192, piece: int = 0) -> Iterator[Recorded]:
    """Serve ``reply`` to every generation request on 127.0.0.1; yields the record (with ``url``).

    The reply streams in two halves, or in ``piece``-character pieces (a model's tokens).
    """
    record = Recorded()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet test output
            return

        def _json(self, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._json({"object": "list", "data": [{"id": model, "object": "model", "max_model_len": window}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                record.requests.append(request)
            chat = self.path.endswith("chat/completions")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            size = piece or max(1, (len(reply) + 1) // 2)
            for start in range(0, len(reply), size):
                part = reply[start:start + size]
                choice = {"index": 0, "delta": {"content": part}} if chat else {"index": 0, "text": part}
                try:
                    self.wfile.write(f"data: {json.dumps({'choices': [choice]})}\n\n".encode())
                    self.wfile.flush()
                except OSError:  # the client stopped reading (a cancel, a loop the core cut)
                    return
            done = {"index": 0, "delta": {}, "finish_reason": "stop"} if chat else \
                {"index": 0, "text": "", "finish_reason": "stop"}
            try:
                self.wfile.write(f"data: {json.dumps({'choices': [done]})}\n\ndata: [DONE]\n\n".encode())
            except OSError:
                return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    record.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
