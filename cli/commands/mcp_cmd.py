"""``repo-assistant mcp [PATH]``: serve the repository's index to coding agents over MCP.

Stdio by default (the agent launches the command and talks over stdin/stdout, so
nothing but the protocol may reach stdout: notes go to stderr); ``--http`` serves
streamable HTTP on ``--host``/``--port`` instead.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from base.errors import UsageError
from cli.registry import CliContext, Command

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=None, metavar="PATH",
                        help="the repository (default: --repo or the current directory)")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="address for --http (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port for --http (default 8765)")
    parser.add_argument("--no-watch", action="store_true",
                        help="do not re-index changed files in the background")


def _note(event: object) -> None:
    print(f"repo-assistant mcp: {getattr(event, 'phase', '')}: {getattr(event, 'message', '')}",
          file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from mcp_server.server import serve

    if not 1 <= args.port <= 65535:
        raise UsageError(f"bad port {args.port}", hint="pick one between 1 and 65535")
    if args.http and args.host not in LOOPBACK:
        print(f"repo-assistant mcp: warning: serving {ctx.repo} on {args.host} without authentication",
              file=sys.stderr)
    if args.http:
        print(f"repo-assistant mcp: serving {ctx.repo} on http://{args.host}:{args.port}/mcp", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends an HTTP server: not an error
        serve(ctx.repo, ctx.settings, transport="streamable-http" if args.http else "stdio", host=args.host,
              port=args.port, watch=not args.no_watch, on_event=_note)
    return 0


COMMAND = Command(
    name="mcp",
    help="serve search, localization, context and symbols to coding agents (Model Context Protocol)",
    add_arguments=_add_arguments,
    run=_run,
    order=65,
    path_argument="path",
)
