"""``repo-assistant explain FILE[:SYMBOL|:START-END]``: stream a Markdown explanation with its sources.

The same target in the TUI (``/explain``) sends the same prompt: both call
:meth:`assistant.session.Session.explain`.
"""

from __future__ import annotations

import argparse
import re

from base.errors import UsageError
from cli.commands._answer_output import print_answer
from cli.commands._model_args import add_model_arguments, model_overrides, progress_to_stderr
from cli.commands._paths import check_line, repo_path
from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="FILE[:SYMBOL|:START-END]",
                        help="a file, a definition in it (Class.method) or a line range")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="most tokens in the answer")
    parser.add_argument("--json", action="store_true", help="print the answer and its citations as JSON")
    add_model_arguments(parser)


def parse_target(spec: str) -> tuple[str, str, int | None, int | None]:
    """``FILE``, ``FILE:SYMBOL``, ``FILE:LINE`` or ``FILE:START-END`` → (file, symbol, start, end)."""
    path, sep, rest = spec.rpartition(":") if ":" in spec else (spec, "", "")
    if not sep or not rest:
        return spec, "", None, None
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", rest)
    if match:
        start = int(match.group(1))
        end = int(match.group(2) or start)
        if end < start:
            raise UsageError(f"bad line range {rest}: the end is before the start")
        return path, "", start, end
    return path, rest, None, None


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.session import Session

    file, symbol, start, end = parse_target(args.target)
    path = repo_path(ctx.repo, file)
    check_line(ctx.repo, path, start, end)
    session = Session(ctx.repo, ctx.settings, persist=False)
    session.load_model(progress=progress_to_stderr)
    events = session.explain(symbol, target_path=path, line=start, end_line=end if end != start else None,
                             max_new_tokens=args.max_tokens)
    return print_answer(events, args.json)


COMMAND = Command(
    name="explain",
    help="explain a file, a symbol or a line range, citing the code used",
    add_arguments=_add_arguments,
    run=_run,
    overrides=model_overrides,
    order=31,
)
