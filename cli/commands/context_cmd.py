"""``repo-assistant context FILE[:LINE[:COL]]``: exactly what the model would see, and why.

Prints a table of the context's items (kind, location, reason, score, tokens), the
rendered text, and the candidates that were left out for the budget, so a user can
see why a snippet is, or is not, in the prompt.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from base.config import Settings
from base.errors import UsageError
from cli.commands.search_cmd import open_reader
from cli.registry import CliContext, Command

log = logging.getLogger(__name__)
DEFAULT_WINDOW = 8192


def model_token_counter(settings: Settings) -> tuple[Callable[[str], int], str]:
    """The model's own token counter and its name, else the conservative estimate (and why)."""
    from retrieval.budget import ESTIMATE_NAME, estimate_tokens

    try:
        from assistant.models import token_counter

        counter = token_counter(settings.model)
        counter("probe")
        return counter, f"{settings.model.name} tokenizer"
    except Exception as exc:  # no tokenizer offline, unknown model...: over-count instead
        log.info("token counter unavailable for %s: %s", settings.model.name, exc)
        return estimate_tokens, f"{ESTIMATE_NAME}; the {settings.model.name} tokenizer is unavailable"


def model_window(settings: Settings) -> tuple[int, str]:
    """The model's context window and where it came from."""
    if settings.model.context_window > 0:
        return settings.model.context_window, "model.context_window"
    try:
        from assistant.models import context_window

        return int(context_window(settings.model)), f"{settings.model.name}"
    except Exception as exc:
        log.info("context window unknown for %s: %s", settings.model.name, exc)
        return DEFAULT_WINDOW, "default"


def context_budget(ctx: CliContext, requested: int | None) -> tuple[Any, Callable[[str], int], str]:
    """``(Budget, counter, counter name)``: the budget ``ask`` and the TUI would use (before history)."""
    from assistant.budget import context_budget as budget_rule
    from assistant.budget import expected_device

    counter, counter_name = model_token_counter(ctx.settings)
    window, _source = model_window(ctx.settings)
    budget = budget_rule(ctx.settings, window=window, device=expected_device(ctx.settings), requested=requested)
    return budget, counter, counter_name


def parse_location(spec: str, repo: Path) -> tuple[str, int | None, int | None, int | None]:
    """``FILE[:LINE[:COL]]`` or ``FILE:START-END`` → (repo-relative path, line, col, end_line)."""
    path_text, line, col, end = spec, None, None, None
    parts = spec.rsplit(":", 2)
    numbers: list[str] = []
    while len(parts) > 1 and (parts[-1].isdigit() or (not numbers and _is_range(parts[-1]))):
        numbers.insert(0, parts.pop())
    path_text = ":".join(parts)
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
    candidate = Path(path_text).expanduser()
    options = [candidate] if candidate.is_absolute() else [Path.cwd() / candidate, repo / candidate]
    existing = [p for p in options if p.is_file()]
    if not existing:
        raise UsageError(f"file not found: {path_text}")
    full = existing[0].resolve()
    if not full.is_relative_to(repo.resolve()):
        raise UsageError(f"{path_text} is not inside the repository {repo}")
    return full.relative_to(repo.resolve()).as_posix(), line, col, end


def _is_range(text: str) -> bool:
    first, dash, last = text.partition("-")
    return bool(dash) and first.isdigit() and last.isdigit()


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("location", metavar="FILE[:LINE[:COL]]",
                        help="the active file, optionally the cursor (1-based line and column) or LINE-END")
    parser.add_argument("--query", default="", metavar="TEXT", help="the question or task (adds search hits)")
    parser.add_argument("--budget", type=int, default=None, metavar="N",
                        help="context budget in tokens before the answer reserve (default: retrieval.budget)")
    parser.add_argument("--pin", action="append", default=[], metavar="PATH", help="always include this file")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from rich.table import Table

    from retrieval.context import build_context
    from retrieval.types import Target

    if args.budget is not None and args.budget < 0:
        raise UsageError("--budget must be positive")
    path, line, col, end = parse_location(args.location, ctx.repo)
    pinned = [parse_location(p, ctx.repo)[0] for p in args.pin]
    budget, counter, counter_name = context_budget(ctx, args.budget)
    reader = open_reader(ctx)
    try:
        stale = set(reader.stale_files())
        built = build_context(reader, Target(path, line, col, end), args.query, budget.tokens, counter,
                              repo=ctx.repo, settings=ctx.settings.retrieval, pinned=pinned,
                              counter_name=counter_name)
    finally:
        reader.close()
    if args.json:
        payload = asdict(built)
        payload["budget_explained"] = budget.explain()
        payload["stale_files"] = sorted(stale)
        print(json.dumps(payload, indent=2))
        return 0
    console = ctx.console
    where = path + (f":{line}" if line else "") + (f":{col + 1}" if col is not None else "")
    console.print(f"[bold]Context for {where}[/bold]" + (f" — query: {args.query!r}" if args.query else ""))
    console.print(f"Budget: {budget.explain()}; used {built.tokens_used}. Tokens counted with: {counter_name}.")
    if stale:
        shown = ", ".join(sorted(stale)[:3]) + (" ..." if len(stale) > 3 else "")
        console.print(f"[yellow]{len(stale)} file(s) changed since indexing ({shown}): run `repo-assistant "
                      "index` to refresh.[/yellow]")
    table = Table(title="Items in the context", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("kind", no_wrap=True)
    table.add_column("location", overflow="fold")
    table.add_column("reason", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("tokens", justify="right")
    for number, item in enumerate(built.items, start=1):
        loc = f"{item.path}:{item.start_line}-{item.end_line}" if item.path else "(repository)"
        table.add_row(str(number), item.kind, loc, item.reason, f"{item.score:.4f}", str(item.tokens))
    console.print(table)
    console.rule("What the model sees")
    console.print(built.text, markup=False, highlight=False, soft_wrap=True)
    console.rule()
    if built.dropped:
        dropped = Table(title=f"Left out for the budget ({len(built.dropped)})", title_justify="left")
        dropped.add_column("kind", no_wrap=True)
        dropped.add_column("location", overflow="fold")
        dropped.add_column("reason", overflow="fold")
        dropped.add_column("score", justify="right")
        dropped.add_column("tokens", justify="right")
        for item in built.dropped:
            loc = f"{item.path}:{item.start_line}-{item.end_line}" if item.path else "(repository)"
            dropped.add_row(item.kind, loc, item.reason, f"{item.score:.4f}", str(item.tokens))
        console.print(dropped)
    else:
        console.print("Nothing was left out.")
    return 0


COMMAND = Command(
    name="context",
    help="show the context the model would get at FILE[:LINE[:COL]], with reasons and token counts",
    add_arguments=_add_arguments,
    run=_run,
    order=30,
)
