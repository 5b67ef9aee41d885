"""``repo-assistant context [FILE[:LINE[:COL]]] [--query TEXT]``: exactly what the model would see, and why.

With ``--query`` it shows what ``repo-assistant ask`` sends for that question (with
``FILE``: what ``ask --file FILE`` sends), built by the same call of the feature
service; ``--prompt`` prints the whole prompt, instructions included.  Without a
query it shows the context at the cursor (what a question about that place builds
on).  A table lists the context's items (kind, location, reason, score, tokens),
then the rendered text, then the candidates left out for the budget, so a user can
see why a snippet is, or is not, in the prompt.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from base.errors import UsageError
from cli.commands._model_args import add_model_arguments, model_overrides
from cli.commands._paths import check_line, repo_path
from cli.commands.search_cmd import answer_fresh
from cli.registry import CliContext, Command


def parse_location(spec: str, repo: Path) -> tuple[str, int | None, int | None, int | None]:
    """``FILE[:LINE[:COL]]`` or ``FILE:START-END`` → (repo-relative path, line, col, end_line)."""
    parts = spec.rsplit(":", 2)
    numbers: list[str] = []
    while len(parts) > 1 and (parts[-1].isdigit() or (not numbers and _is_range(parts[-1]))):
        numbers.insert(0, parts.pop())
    path_text = ":".join(parts)
    line = col = end = None
    if numbers:
        if "-" in numbers[0]:
            first, last = numbers[0].split("-", 1)
            line, end = int(first), int(last)
            if end < line:
                raise UsageError(f"{spec}: the selection ends before it starts")
        else:
            line = int(numbers[0])
        if len(numbers) > 1:
            col = max(0, int(numbers[1]) - 1)  # columns are 1-based on the command line, like editors
        if line is not None and line < 1:
            raise UsageError(f"{spec}: lines start at 1")
    path = repo_path(repo, path_text)
    check_line(repo, path, line, end)
    return path, line, col, end


def _is_range(text: str) -> bool:
    first, dash, last = text.partition("-")
    return bool(dash) and first.isdigit() and last.isdigit()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("location", metavar="FILE[:LINE[:COL]]", nargs="?",
                        help="the active file, optionally the cursor (1-based line and column) or LINE-END")
    parser.add_argument("--query", default="", metavar="TEXT",
                        help="the question: show exactly what `ask` sends for it")
    parser.add_argument("--budget", type=int, default=None, metavar="N",
                        help="context budget in tokens before the answer reserve (default: retrieval.budget)")
    parser.add_argument("--pin", action="append", default=[], metavar="PATH", help="always include this file")
    parser.add_argument("--prompt", action="store_true", help="also print the whole prompt (every message)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_model_arguments(parser)  # the model decides the tokenizer, the window and so the budget


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from retrieval.types import Target

    if args.budget is not None and args.budget < 1:
        raise UsageError("--budget must be a positive number of tokens")
    if not args.location and not args.query.strip():
        raise UsageError("give a FILE[:LINE[:COL]], a --query, or both")
    location = parse_location(args.location, ctx.repo) if args.location else None

    def answer(session: Any) -> tuple[Any, Any, list[Any], list[str]]:
        for pin in args.pin:
            session.add_pin(repo_path(ctx.repo, pin))
        if args.query.strip():
            path, line, _col, end = location if location is not None else (None, None, None, None)
            prepared = session.prepare_ask(args.query, target_path=path, line=line, end_line=end,
                                           requested_budget=args.budget)
            return prepared.context, prepared.budget, prepared.messages, prepared.notes
        assert location is not None
        path, line, col, end = location
        budget = session.budget("chat", requested=args.budget)
        return session.context(Target(path, line, col, end), "", budget=budget.tokens), budget, [], []

    (built, budget, messages, notes), session, refresh = answer_fresh(ctx, answer)
    # Stale only when the refresh left files out (too many, or the index was busy): walk again only then.
    stale = sorted(session.reader().stale_files()) if refresh.refreshed < refresh.stale else []
    if args.json:
        payload = asdict(built)
        payload["budget_explained"] = budget.explain()
        payload["stale_files"] = stale
        payload["messages"] = [{"role": m.role, "content": m.content} for m in messages]
        payload["notes"] = notes
        print(json.dumps(payload, indent=2))
        return 0
    _print_report(ctx, args, built, budget, stale, messages, notes)
    return 0


def _print_report(ctx: CliContext, args: argparse.Namespace, built: Any, budget: Any, stale: list[str],
                  messages: list[Any], notes: list[str]) -> None:
    console = ctx.console
    where = args.location or "the best code hit for the query"
    console.print(f"[bold]Context for {where}[/bold]" + (f" — query: {args.query!r}" if args.query else ""))
    console.print(f"Budget: {budget.explain()}; used {built.tokens_used}. Tokens counted with: {built.counter}.")
    for note in notes:
        console.print(f"[yellow]note: {note}[/yellow]")
    if stale:
        shown = ", ".join(stale[:3]) + (" ..." if len(stale) > 3 else "")
        console.print(f"[yellow]{len(stale)} file(s) changed since indexing ({shown}): run `repo-assistant "
                      "index` to refresh.[/yellow]")
    console.print(_items_table("Items in the context", built.items, numbered=True))
    console.rule("What the model sees")
    console.print(built.text, markup=False, highlight=False, soft_wrap=True)
    console.rule()
    if messages and args.prompt:
        for message in messages:
            console.rule(f"message: {message.role}")
            console.print(message.content, markup=False, highlight=False, soft_wrap=True)
        console.rule()
    if built.dropped:
        console.print(_items_table(f"Left out for the budget ({len(built.dropped)})", built.dropped))
    else:
        console.print("Nothing was left out.")


def _items_table(title: str, items: list[Any], *, numbered: bool = False) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    if numbered:
        table.add_column("#", justify="right")
    table.add_column("kind", no_wrap=True)
    table.add_column("location", overflow="fold")
    table.add_column("reason", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("tokens", justify="right")
    for number, item in enumerate(items, start=1):
        row = [item.kind, item.label or "(repository)", item.reason, f"{item.score:.4f}", str(item.tokens)]
        table.add_row(*([str(number)] if numbered else []), *row)
    return table


COMMAND = Command(
    name="context",
    help="show the context (and with --query the prompt) the model would get, with reasons and token counts",
    add_arguments=_add_arguments,
    run=_run,
    overrides=model_overrides,
    order=30,
)
