"""Helpers for driving ``repo-assistant mcp`` with the MCP SDK's own client over stdio."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from base.config import Settings

BM25_ONLY = {"REPO_ASSISTANT_INDEX_EMBEDDINGS": "false"}


def bm25_settings() -> Settings:
    settings = Settings()
    settings.index.embeddings = False
    return settings


def server_command() -> tuple[str, list[str]]:
    exe = Path(sys.executable).with_name("repo-assistant")
    return (str(exe), ["mcp"]) if exe.exists() else (sys.executable, ["-m", "cli.main", "mcp"])


@asynccontextmanager
async def mcp_client(repo: Path, errlog: Path, *extra: str) -> AsyncIterator[ClientSession]:
    """An initialised client session with ``repo-assistant mcp REPO`` (stderr goes to ``errlog``)."""
    command, args = server_command()
    params = StdioServerParameters(command=command, args=[*args, str(repo), *extra],
                                   env={**os.environ, **BM25_ONLY}, cwd=str(repo))
    with errlog.open("a", encoding="utf-8") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


@pytest.fixture
def indexed_repo(sample_repo_copy: Path) -> Path:
    """The sample repository copied to tmp_path and indexed there (BM25 only: no model needed)."""
    from indexer.pipeline import index_repository

    index_repository(sample_repo_copy, bm25_settings().index)
    return sample_repo_copy
