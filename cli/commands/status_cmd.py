"""``repo-assistant status [PATH]``: what is indexed, how stale it is, and where the data lives."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="repository (default: the current repository)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _size(path: Path) -> int:
    """Bytes on disk, as ``du`` counts them: the vector store's preallocated files are sparse."""
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _ago(timestamp: float | None) -> str:
    if not timestamp:
        return "never"
    seconds = max(0, time.time() - timestamp)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _run_state(last_run: dict[str, Any], chunks: int, lock_state: str) -> str:
    """running, interrupted, cancelled, finished or never: how the last index run ended.

    The lock file knows about runs that were killed or crashed (see ``indexer.lock``);
    an index with chunks but no finished run was interrupted too (whatever wrote the lock).
    """
    if lock_state in ("running", "interrupted"):
        return lock_state
    if last_run.get("cancelled"):
        return "cancelled"
    if not last_run.get("finished_at"):
        return "interrupted" if chunks else "never"
    return "finished"


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    import contextlib

    from indexer import store
    from indexer.lock import run_state
    from indexer.reader import IndexReader

    with IndexReader.open(ctx.repo, ctx.settings.index) as reader:
        last_run: dict[str, Any] = reader.meta("last_run") or {}
        vectors: dict[str, Any] = reader.meta("vector_state") or {}
        keywords = reader.keyword_copy()
        stale = reader.stale_files()
        data_dir = store.index_dir(ctx.repo)
        languages = reader.chunks_by_language()
        chunks = reader.chunk_count()
        with contextlib.closing(store.connect(store.db_path(ctx.repo))) as conn:
            published, cached = store.vector_progress(conn)
        lock = run_state(ctx.repo)
        state = _run_state(last_run, chunks, lock.state)
        info: dict[str, Any] = {
            "repo": str(ctx.repo),
            "index_dir": str(data_dir),
            "index_bytes": _size(data_dir),
            "files": reader.file_count(),
            "chunks": chunks,
            "chunks_by_language": languages,
            "skipped": reader.skipped(),
            "stale_files": stale,
            "last_run_state": state,
            "last_run_finished_at": last_run.get("finished_at"),
            "last_run_seconds": last_run.get("seconds_by_phase", {}),
            "vectors": {k: vectors.get(k) for k in ("store", "collection", "model", "flavour", "dim", "points",
                                                    "url", "snapshot") if vectors.get(k) is not None},
            "vectors_pending": chunks - published,
            "keywords": None if keywords is None else {k: keywords.get(k) for k in (
                "url", "collection", "points", "avgdl", "caught_up")},
            "generation": reader.generation,
        }
    if args.json:
        ctx.console.print_json(json.dumps(info))
        return 0
    incomplete = state in ("interrupted", "cancelled")
    resume = "run `repo-assistant index` to resume it"
    table = Table(title=f"Index status of {ctx.repo}", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("indexed", f"{info['files']} files, {info['chunks']} chunks "
                             f"({', '.join(f'{k} {v}' for k, v in sorted(languages.items(), key=lambda kv: -kv[1]))})")
    if info["skipped"]:
        table.add_row("skipped", ", ".join(f"{n} {reason}" for reason, n in info["skipped"].items()))
    if state == "running":
        table.add_row("last run", f"[cyan]running now[/cyan] (pid {lock.pid}, started {_ago(lock.since)})")
    elif state == "interrupted":
        table.add_row("last run", f"[yellow]interrupted[/yellow] (it started {_ago(lock.since)} and did not finish; "
                                  f"{resume}; BM25 search covers what was committed)")
    elif state == "cancelled":
        table.add_row("last run", f"[yellow]cancelled[/yellow] {_ago(info['last_run_finished_at'])}; {resume}")
    else:
        table.add_row("last run", _ago(info["last_run_finished_at"]))
    if stale:
        shown = ", ".join(stale[:8]) + (f" … (+{len(stale) - 8})" if len(stale) > 8 else "")
        table.add_row("stale", f"[yellow]{len(stale)} files changed since[/yellow]: {shown} "
                               "(run `repo-assistant index`)")
    elif incomplete:
        table.add_row("stale", f"[yellow]incomplete[/yellow] ({resume})")
    else:
        table.add_row("stale", "[green]up to date[/green]")
    pending = info["vectors_pending"]
    if vectors.get("points"):
        where = vectors.get("url") or f"embedded Qdrant Edge ({vectors.get('snapshot')})"
        more = f"; [yellow]{pending} chunks still to embed[/yellow]" if incomplete and pending else ""
        table.add_row("vectors", f"{vectors['points']} points, {vectors.get('model')} ({vectors.get('flavour')}, "
                                 f"dim {vectors.get('dim')}), collection {vectors.get('collection')} in {where}{more}")
    elif incomplete or state == "running":
        table.add_row("vectors", f"[yellow]not published yet[/yellow]: {published} of {chunks} chunks "
                                 f"({cached} vectors computed so far are kept and reused); "
                                 + ("the running `repo-assistant index` is computing them" if state == "running"
                                    else resume))
    else:
        table.add_row("vectors", "none (BM25 only; run `repo-assistant index` with embeddings enabled)")
    if keywords is not None:
        searched = "searched there" if ctx.settings.index.qdrant_keywords else \
            "not searched: index.qdrant_keywords is off"
        table.add_row("keywords", f"{keywords.get('points')} BM25 points, collection {keywords.get('collection')} in "
                                  f"{keywords.get('url')}; " + (searched if keywords["caught_up"] else
                                  "[yellow]behind the local index[/yellow] (searched locally until "
                                  "`repo-assistant index --qdrant-keywords` catches it up)"))
    table.add_row("data", f"{info['index_dir']} ({_human(info['index_bytes'])})")
    ctx.console.print(table)
    return 0


COMMAND = Command(
    name="status",
    help="show what is indexed, how stale it is, and where the index lives",
    add_arguments=_add_arguments,
    run=_run,
    order=12,
    path_argument="path",
)
