"""``repo-assistant index [PATH]``: build or update the repository's index.

Progress bars go to stderr (only when it is a terminal), the summary table to
stdout, so ``repo-assistant index > summary.txt`` stays clean.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="repository to index (default: the current repository)")
    parser.add_argument("--rebuild", action="store_true", help="discard the existing index and start over")
    parser.add_argument("--no-embeddings", action="store_true", help="BM25 only: skip computing vectors")
    parser.add_argument("--qdrant-url", metavar="URL",
                        help="store vectors in a Qdrant server (http://host:6333) instead of the embedded store")
    parser.add_argument("--qdrant-api-key", metavar="KEY", help="API key for --qdrant-url (or QDRANT_API_KEY)")
    parser.add_argument("--qdrant-keywords", action="store_true",
                        help="also keep BM25 in that server as sparse vectors and search it there "
                             "(index.qdrant_keywords)")
    parser.add_argument("--wait", action="store_true", help="wait for a concurrent index run instead of exiting")


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    return {"index": {"qdrant_url": args.qdrant_url, "qdrant_api_key": args.qdrant_api_key,
                      "qdrant_keywords": True if args.qdrant_keywords else None,
                      "embeddings": False if args.no_embeddings else None}}


_LABELS = {"discovering": "Discovering files", "chunking": "Chunking", "bm25": "BM25 index",
           "keywords": "Keywords to Qdrant", "model": "Embedding model", "embedding": "Embedding"}


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from assistant.session import Session
    from indexer.progress import ProgressEvent

    settings = ctx.settings.index
    bars = Progress(TextColumn("{task.description:<17}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    TextColumn("[dim]{task.fields[note]}"), console=ctx.err_console, transient=False,
                    disable=not ctx.err_console.is_terminal)
    tasks: dict[str, Any] = {}

    def on_progress(event: ProgressEvent) -> None:
        if event.phase == "done":
            return
        note = event.message if event.phase != "chunking" else ""
        width = 34
        if event.phase == "embedding":
            note = "BM25 search is already usable"
        elif event.phase == "model":  # the one-time ONNX export: say what it is, step by step
            note = f"one-time setup: {event.message}"
            width = 80
        if event.phase == "embedding" and "model" in tasks:  # the export is over: show its bar complete
            bars.update(tasks.pop("model"), total=1, completed=1)
        if event.phase not in tasks:
            tasks[event.phase] = bars.add_task(_LABELS.get(event.phase, event.phase), total=event.total or None,
                                               note=note[:width])
        bars.update(tasks[event.phase], completed=event.done, total=event.total or None, note=note[:width])

    with bars:
        stats = Session(ctx.repo, ctx.settings, persist=False).run_index(on_progress, rebuild=args.rebuild,
                                                                         wait=args.wait)

    table = Table(title=f"Index of {ctx.repo}", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("files indexed", f"{stats.files_indexed} new/changed, {stats.files_unchanged} unchanged, "
                                   f"{stats.files_deleted} deleted")
    if stats.skipped:
        table.add_row("files skipped", ", ".join(f"{n} {reason}" for reason, n in sorted(stats.skipped.items())))
    by_language = ", ".join(f"{lang} {n}" for lang, n in sorted(stats.chunks_by_language.items(),
                                                              key=lambda kv: -kv[1]))
    table.add_row("chunks", f"{stats.chunks_total} ({by_language})" if by_language else "0")
    if settings.embeddings and not args.no_embeddings:
        table.add_row("vectors", f"{stats.vector_points} points; {stats.chunks_embedded} embedded, "
                                 f"{stats.vectors_reused} reused from cache")
    else:
        table.add_row("vectors", "skipped (--no-embeddings)")
    if settings.qdrant_keywords:
        table.add_row("keywords", f"{stats.keyword_points} BM25 points in Qdrant ({settings.qdrant_url})")
    if stats.redacted_lines:
        table.add_row("secrets", f"{stats.redacted_lines} token-like lines redacted")
    if stats.replaced_characters:
        table.add_row("encoding", f"{stats.replaced_characters} files decoded with replacement characters")
    phases = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in stats.seconds_by_phase.items())
    table.add_row("time", phases)
    if stats.message:
        table.add_row("note", stats.message)
    if stats.cancelled:
        table.add_row("note", "cancelled: run `repo-assistant index` again to finish")
    ctx.console.print(table)
    return 130 if stats.cancelled else 0


COMMAND = Command(
    name="index",
    help="build or update the search index of a repository (incremental)",
    add_arguments=_add_arguments,
    run=_run,
    overrides=_overrides,
    order=10,
    path_argument="path",
)
