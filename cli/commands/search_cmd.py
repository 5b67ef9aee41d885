"""``repo-assistant search QUERY``: ranked chunks for a question, an identifier or an error message."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TypeVar

from base.errors import AssistantError, IndexMissingError, UsageError
from cli.registry import CliContext, Command

T = TypeVar("T")


def answer_fresh(ctx: CliContext, answer: Callable[[Any], T]) -> tuple[T, Any, Any]:
    """``answer(session)`` from an up-to-date index; the result, the session and the refresh's report.

    Nothing watches the files between two commands, so a query refreshes the few changed since
    the last run itself (:class:`assistant.freshness.FreshnessCheck`) and says how many it
    refreshed.  The check (a stat of every indexed file, ~0.1 s on a 24K-file tree) runs in a
    forked child while ``answer`` runs; ``answer`` runs again only when files were re-indexed.
    A missing or empty index is a one-line error naming the fix.  The caller closes the
    session's reader.
    """
    from assistant.freshness import FreshnessCheck
    from assistant.session import Session

    check = FreshnessCheck.start(ctx.repo, ctx.settings.index)
    session = Session(ctx.repo, ctx.settings, persist=False)

    def attempt() -> T:
        if not session.reader().file_count():  # a count, not 24K paths fetched to test for none
            raise IndexMissingError(f"the index for {ctx.repo} has no files",
                                    hint="add files, check index.exclude, then run `repo-assistant index`")
        return answer(session)

    failure: AssistantError | None = None
    try:
        result = attempt()
    except AssistantError as exc:  # perhaps for want of a file the refresh is about to index: wait for it
        failure = exc
    except BaseException:
        check.abandon()
        session.close_reader()
        raise
    report = check.refresh()
    if report.note:
        ctx.err_console.print(f"[dim]note: {report.note}[/dim]", highlight=False)
    if report.refreshed:
        result = attempt()  # the reader follows the new generation by itself
    elif failure is not None:
        session.close_reader()
        raise failure
    return result, session, report


def snippet(text: str, width: int = 90) -> str:
    """The first meaningful line of a chunk, shortened for a table cell."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "//", '"""', "'''", "@")):
            return stripped if len(stripped) <= width else stripped[: width - 1] + "…"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:width]


def found_by(sources: dict[str, int]) -> str:
    """``bm25 #1, vector #4`` for the table."""
    return ", ".join(f"{name} #{rank}" for name, rank in sorted(sources.items(), key=lambda kv: kv[1]))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="+", metavar="QUERY", help="question, identifier, error message...")
    parser.add_argument("--k", type=int, default=10, metavar="N", help="number of results (default 10)")
    parser.add_argument("--mode", choices=["bm25", "vector", "hybrid"], default=None,
                        help="ranking (default: retrieval.mode, hybrid)")
    parser.add_argument("--path", dest="path_glob", metavar="GLOB",
                        help="only paths matching GLOB (a directory prefix, or wildcards: '*.py', 'src/*')")
    parser.add_argument("--language", metavar="L", help="only chunks in language L (python, typescript...)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    return {"retrieval": {"mode": args.mode}}


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from retrieval.search import effective_mode

    if args.k <= 0:
        raise UsageError("--k must be at least 1")
    query = " ".join(args.query).strip()
    if not query:
        raise UsageError("the query is empty")
    def answer(session: Any) -> tuple[tuple[str, str], list[Any]]:
        return (effective_mode(session.reader(), ctx.settings.retrieval.mode),
                session.search(query, args.k, mode=ctx.settings.retrieval.mode, path_glob=args.path_glob,
                               language=args.language))

    ((mode, note), hits), session, _report = answer_fresh(ctx, answer)
    session.close_reader()
    if args.json:
        payload = {
            "query": query, "mode": mode, "note": note,
            "hits": [{"path": h.path, "start_line": h.start_line, "end_line": h.end_line, "symbol": h.symbol,
                      "kind": h.chunk.kind, "language": h.chunk.language, "score": h.score,
                      "sources": h.sources, "matched": list(h.matched), "text": h.chunk.text} for h in hits],
        }
        print(json.dumps(payload, indent=2))
        return 0
    if note:
        ctx.err_console.print(f"[yellow]note:[/yellow] {note}")
    if not hits:
        ctx.console.print(f"No results for {query!r}.")
        return 0
    console = ctx.console
    console.print(f"[bold]{len(hits)} results for {query!r}[/bold] ({mode})")
    for rank, h in enumerate(hits, start=1):
        symbol = h.symbol or f"({h.chunk.kind})"
        console.print(f"{rank:>3}. [bold]{h.path}:{h.start_line}-{h.end_line}[/bold]  {symbol}  "
                      f"[dim]score {h.score:.4f}; {found_by(h.sources)}[/dim]", highlight=False)
        console.print(f"     {snippet(h.chunk.text)}", markup=False, highlight=False)
    return 0


COMMAND = Command(
    name="search",
    help="search the indexed repository (BM25, vectors or both) and print ranked code locations",
    add_arguments=_add_arguments,
    run=_run,
    overrides=_overrides,
    order=20,
)
