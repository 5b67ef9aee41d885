"""The structured content of each MCP tool: what a client program (not the model) parses.

Every tool returns compact text for the model and one of these objects as
``structuredContent``; the SDK publishes them as each tool's ``outputSchema``.
Paths are repository-relative POSIX strings, lines 1-based and inclusive.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Freshness(BaseModel):
    """How current the index was when the tool answered."""

    watching: bool = Field(description="a file watcher keeps the index fresh while the server runs")
    refreshes: int = Field(0, description="background refreshes finished since the server started")


class SearchHitOut(BaseModel):
    path: str
    start_line: int
    end_line: int
    symbol: str = Field(description="qualified name of the chunk's definition; empty for module-level code")
    kind: str
    language: str
    score: float
    found_by: dict[str, int] = Field(description="each ranked list that found the chunk, with its rank there")
    snippet: str


class SearchOut(BaseModel):
    query: str
    mode: str
    note: str = ""
    hits: list[SearchHitOut]
    freshness: Freshness


class LocalizedFileOut(BaseModel):
    path: str
    score: float
    why: list[str] = Field(description="the signals that ranked the file's chunks (bm25, symbol, vector...)")
    chunks: list[SearchHitOut]


class LocalizeOut(BaseModel):
    files: list[LocalizedFileOut]
    freshness: Freshness


class ContextItemOut(BaseModel):
    path: str = Field(description="empty for the repository map")
    start_line: int
    end_line: int
    kind: str = Field(description="active-file, pinned, definition, search-hit or repo-map")
    reason: str
    score: float
    tokens: int


class ContextOut(BaseModel):
    target: str
    query: str
    budget: int
    tokens_used: int
    counter: str
    items: list[ContextItemOut]
    dropped: list[ContextItemOut] = Field(description="candidates left out for the budget")
    text: str = Field(description="the rendered context: file headers, line numbers, the target window last")


class DefinitionOut(BaseModel):
    name: str
    qualified_name: str
    kind: str
    path: str
    start_line: int
    end_line: int
    signature: str


class DefinitionsOut(BaseModel):
    symbol: str
    definitions: list[DefinitionOut]
    source: str = Field("", description="the indexed source of the best definition (secrets redacted)")


class ReferenceOut(BaseModel):
    path: str
    line: int
    text: str
    enclosing: str = Field(description="the definition the line sits in; empty at module level")


class ReferencesOut(BaseModel):
    symbol: str
    references: list[ReferenceOut]
    truncated: bool


class OutlineOut(BaseModel):
    path: str
    language: str
    definitions: list[DefinitionOut]


class RepoMapOut(BaseModel):
    budget: int
    tokens: int
    map: str
