"""The MCP server: the repository's index as read-only tools for any coding agent.

Built on the official SDK (``mcp``: :class:`MCPServer`), over stdio (what agents launch)
or streamable HTTP.  Tools are plain synchronous functions; the SDK runs each call in
a worker thread, and the index reader is thread-safe, so a slow call never blocks the
protocol.  While the server runs an :class:`assistant.freshness.IndexWatcher` keeps the
index fresh, so an agent that edits a file finds the new text in its next search.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import Field, ValidationError

from mcp_server.schemas import (
    ContextOut,
    DefinitionsOut,
    LocalizeOut,
    OutlineOut,
    ReferencesOut,
    RepoMapOut,
    SearchOut,
)
from mcp_server.tools import DEFAULT_MAP_BUDGET, RepoTools

if TYPE_CHECKING:
    from assistant.freshness import EventCallback
    from base.config import Settings

log = logging.getLogger(__name__)

SERVER_NAME = "repo-assistant"
INSTRUCTIONS = (
    "Read-only tools over a local index of this repository (BM25 + embeddings + a symbol table), kept "
    "fresh while files change. Start with `localize` for an issue or `search` for a question; open what "
    "they return with `context` (path:line or path:start-end) instead of reading whole files; use "
    "`definition`, `references` and `outline` to navigate symbols and `repo_map` for an overview. "
    "Paths are relative to the repository root."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class RepoMCPServer(MCPServer[Any]):
    """:class:`MCPServer` whose argument-validation errors are one line, like every other tool error.

    pydantic's message spans several lines and repeats the input; an agent needs
    ``k: Input should be a valid integer`` and nothing else.
    """

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Context[Any, Any] | None = None) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                                     for err in cause.errors())
                raise ToolError(f"Error executing tool {name}: bad arguments: {problems}") from cause
            raise


def make_server(tools: RepoTools) -> RepoMCPServer:
    """An MCP server exposing ``tools`` (one repository); run it with ``.run(transport)``."""
    server = RepoMCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(annotations=READ_ONLY)
    def search(
        query: Annotated[str, Field(description="words, an identifier (Order.total) or an error message")],
        k: Annotated[int, Field(description="number of results, 1-100")] = 10,
        mode: Annotated[str | None, Field(description="hybrid (default), bm25 or vector")] = None,
        path_glob: Annotated[str | None, Field(description="only paths under a prefix or matching a glob")] = None,
        language: Annotated[str | None, Field(description="only chunks in this language (python...)")] = None,
    ) -> Annotated[CallToolResult, SearchOut]:
        """Ranked code chunks for a query: path:start-end, symbol, score and the first line of each."""
        return tools.search(query, k, mode, path_glob, language)

    @server.tool(annotations=READ_ONLY)
    def localize(
        issue_text: Annotated[str, Field(description="the issue's title and body, tracebacks included")],
        k: Annotated[int, Field(description="number of files, 1-100")] = 10,
    ) -> Annotated[CallToolResult, LocalizeOut]:
        """The files an issue is most likely about, best first, each with its best chunks and the signals that found them."""
        return tools.localize(issue_text, k)

    @server.tool(annotations=READ_ONLY)
    def context(
        target: Annotated[str, Field(description="path, path:line (a cursor) or path:start-end (a selection)")],
        query: Annotated[str, Field(description="the question or task; adds matching code")] = "",
        budget: Annotated[int | None, Field(description="token budget (default: the configured one)")] = None,
    ) -> Annotated[CallToolResult, ContextOut]:
        """The budgeted context around a location: the window, definitions it uses, related hits; every item with its reason, and what was left out."""
        return tools.context(target, query, budget)

    @server.tool(annotations=READ_ONLY)
    def definition(
        symbol: Annotated[str, Field(description="a name, qualified names accepted: total, Order.total")],
    ) -> Annotated[CallToolResult, DefinitionsOut]:
        """Where a symbol is defined (best match first), with the source of the best definition."""
        return tools.definition(symbol)

    @server.tool(annotations=READ_ONLY)
    def references(
        symbol: Annotated[str, Field(description="a name, qualified names accepted: total, Order.total")],
        limit: Annotated[int, Field(description="most lines to return, 1-100")] = 50,
    ) -> Annotated[CallToolResult, ReferencesOut]:
        """Lines that use a symbol, grouped by file, each with the definition it sits in."""
        return tools.references(symbol, limit)

    @server.tool(annotations=READ_ONLY)
    def outline(
        path: Annotated[str, Field(description="a file path relative to the repository root")],
    ) -> Annotated[CallToolResult, OutlineOut]:
        """A file's definitions in order, with their kinds, signatures and line spans."""
        return tools.outline(path)

    @server.tool(annotations=READ_ONLY)
    def repo_map(
        budget: Annotated[int, Field(description="token budget for the map")] = DEFAULT_MAP_BUDGET,
        focus_files: Annotated[list[str] | None, Field(description="files in play: the map ranks toward them")] = None,
        focus_symbols: Annotated[list[str] | None, Field(description="names in play")] = None,
    ) -> Annotated[CallToolResult, RepoMapOut]:
        """A PageRank-ranked map of the repository: the most referenced files and definitions with signatures."""
        return tools.repo_map(budget, focus_files or (), focus_symbols or ())

    return server


def serve(repo: Path, settings: Settings, *, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8765,
          watch: bool = True, on_event: EventCallback | None = None) -> None:
    """Serve ``repo``'s index until the client hangs up (stdio) or the process is stopped (HTTP).

    The watcher starts first and catches up with what changed while nothing was
    watching; a missing index is not fatal (every tool then answers how to create it).
    """
    from assistant.session import Session

    session = Session(repo, settings, persist=False)
    if watch:  # the repo map follows each refresh in the background, so `context` and `repo_map` never build it
        session.start_watching(on_event, catch_up=True, warm_map=True)
    server = make_server(RepoTools(session))
    try:
        if transport == "stdio":
            server.run("stdio")
        else:
            server.run("streamable-http", host=host, port=port)
    finally:
        session.stop_watching()
        session.close_reader()
