"""``repo-assistant localize ISSUE_FILE|-``: the files an issue is most likely about, with their best chunks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from base.errors import UsageError
from cli.commands.search_cmd import answer_fresh, snippet
from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("issue", metavar="ISSUE_FILE", help="a file with the issue text, or - for stdin")
    parser.add_argument("--k", type=int, default=10, metavar="N", help="number of files (default 10)")
    parser.add_argument("--json", action="store_true", help='print JSON: {"files": [{"path", "score", "chunks"}]}')


def read_issue(spec: str) -> str:
    """The issue text from a file or stdin ('-'); empty or unreadable input is a usage error."""
    if spec == "-":
        text = sys.stdin.read()
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise UsageError(f"issue file not found: {spec}")
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {spec}: {exc.strerror or exc}") from exc
    if not text.strip():
        raise UsageError("the issue text is empty")
    return text


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from retrieval.search import effective_mode

    if args.k <= 0:
        raise UsageError("--k must be at least 1")
    text = read_issue(args.issue)
    (note, result), session, _report = answer_fresh(
        ctx, lambda session: (effective_mode(session.reader(), "hybrid")[1], session.localize(text, args.k)))
    session.close_reader()
    if args.json:
        payload = {"files": [
            {"path": f.path, "score": f.score,
             "chunks": [{"path": h.path, "start_line": h.start_line, "end_line": h.end_line, "symbol": h.symbol,
                         "kind": h.chunk.kind, "score": h.score, "text": h.chunk.text} for h in f.chunks]}
            for f in result.files]}
        print(json.dumps(payload, indent=2))
        return 0
    if note:
        ctx.err_console.print(f"[yellow]note:[/yellow] {note}")
    if not result.files:
        ctx.console.print("No file matches this issue.")
        return 0
    console = ctx.console
    console.print(f"[bold]Files most likely involved ({len(result.files)})[/bold]")
    for rank, f in enumerate(result.files, start=1):
        console.print(f"{rank:>3}. [bold]{f.path}[/bold]  [dim]score {f.score:.4f}[/dim]", highlight=False)
        for h in f.chunks:
            symbol = h.symbol or f"({h.chunk.kind})"
            console.print(f"       {h.start_line}-{h.end_line} {symbol}: {snippet(h.chunk.text, 70)}",
                          markup=False, highlight=False)
    return 0


COMMAND = Command(
    name="localize",
    help="rank the files (and chunks) an issue is most likely about, for patching",
    add_arguments=_add_arguments,
    run=_run,
    order=25,
)
