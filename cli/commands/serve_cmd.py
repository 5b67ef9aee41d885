"""``repo-assistant serve``: serve the local model as an OpenAI-compatible API (loopback by default)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from base.errors import UsageError
from cli.commands._model_args import progress_to_stderr
from cli.registry import CliContext, Command

if TYPE_CHECKING:
    from assistant.models.server import ModelServer


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--model", metavar="NAME",
                        help="model: preset (`repo-assistant models`), Hugging Face id, local directory or .gguf")
    parser.add_argument("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps")


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"model": {"name": args.model, "device": args.device}}


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.models.local import load_local_backend
    from assistant.models.server import make_server

    if not 0 <= args.port <= 65535:
        raise UsageError(f"bad port {args.port}")
    if ctx.settings.model.backend.strip().lower() != "local":
        raise UsageError("serve runs a local model; model.backend is set to "
                         f"'{ctx.settings.model.backend}'", hint="use --set model.backend=local")
    backend = load_local_backend(ctx.settings.model, progress=progress_to_stderr)
    try:
        server = make_server(backend, args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                         hint="pick another --port") from exc
    host, port = server.server_address[:2]
    _take_ctrl_c()  # before "Serving": whoever waits for that line may signal at once
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print(f"warning: listening on {args.host} without authentication", file=sys.stderr)
    print(f"Serving {backend.model_name} ({backend.device}, {backend.family.completion_mode}) "
          f"on http://{host}:{port}/v1  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        code = _stop(server)
        server.server_close()
        _leave(code)
    finally:
        server.server_close()
    return 0


def _take_ctrl_c() -> None:
    """Make SIGINT raise KeyboardInterrupt here even if this process inherited it ignored.

    A process started in the background by a non-interactive shell (``cmd &`` in a script,
    a CI step, a test run launched that way) inherits SIGINT *ignored*, and Python keeps an
    inherited SIG_IGN: ``kill -INT`` / Ctrl-C then did nothing, the generation ran to its
    last token and the server never stopped.  ``serve`` promises "Ctrl-C to stop", so it
    takes the signal back, as uvicorn and gunicorn do.  Main thread only (signal's rule).
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


STOP_DEADLINE_S = 20.0  # Ctrl-C always ends the process within this many seconds


def _stop(server: ModelServer) -> int:
    """Ctrl-C: cancel the running generations and wait for their requests to end; the exit code.

    A second Ctrl-C while waiting leaves at once (130).
    """
    # Whatever blocks from here on (a stuck write to a full stderr pipe, a log lock held by a
    # thread that will never run again), Ctrl-C ends the process within STOP_DEADLINE_S.
    watchdog = threading.Timer(STOP_DEADLINE_S, os._exit, args=(130,))
    watchdog.daemon = True
    watchdog.start()
    print("stopping: cancelling running generations…", file=sys.stderr, flush=True)
    try:
        finished = server.stop_generations(timeout=STOP_DEADLINE_S - 5)
    except KeyboardInterrupt:
        return 130
    if not finished:
        print("some generations did not stop in time; leaving anyway", file=sys.stderr, flush=True)
        return 130
    print("stopped", file=sys.stderr, flush=True)
    return 0


def _leave(code: int) -> None:
    """Exit without interpreter teardown once every request has ended.

    A cancelled generation's thread may still be inside one forward pass of the model
    (seconds on a loaded CPU); tearing the interpreter down around it aborts the process
    (exit 134) or waits for it.  The server keeps no state to save, so the log is flushed
    and the process leaves at once.
    """
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


COMMAND = Command(
    name="serve",
    help="serve the local model as an OpenAI-compatible API (/v1/completions, /v1/chat/completions)",
    add_arguments=_add_arguments,
    run=_run,
    overrides=_overrides,
    order=60,
)
