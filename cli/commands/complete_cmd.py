"""``repo-assistant complete FILE:LINE[:COL]``: complete the code at a position.

LINE and COL are 1-based, as editors and compilers print them; without COL the
cursor is at the end of the line.  stdout gets the completion alone (pipe it
into an editor); a summary line goes to stderr, or everything as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from base.errors import UsageError
from cli.commands._model_args import add_model_arguments, model_overrides, progress_to_stderr
from cli.commands._paths import repo_path
from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("position", metavar="FILE:LINE[:COL]", help="where to complete (1-based line and column)")
    parser.add_argument("--context", choices=("repo", "file", "none"), default="repo",
                        help="repo: retrieved definitions + active file (default); file: the active file only; "
                             "none: the prefix/suffix alone")
    parser.add_argument("--json", action="store_true", help="print the result, timings included, as JSON")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="most tokens to generate")
    parser.add_argument("--seed", type=int, metavar="N", help="sampling seed (reproducible completions)")
    add_model_arguments(parser)


def parse_position(text: str) -> tuple[str, int, int | None]:
    """``FILE:LINE[:COL]`` → (file, line, 0-based col or None)."""
    match = re.fullmatch(r"(.+?):(\d+)(?::(\d+))?", text)
    if not match:
        raise UsageError(f"bad position {text!r}", hint="use FILE:LINE or FILE:LINE:COL (1-based)")
    line = int(match.group(2))
    col = int(match.group(3)) - 1 if match.group(3) else None
    if line < 1 or (col is not None and col < 0):
        raise UsageError(f"bad position {text!r}: line and column start at 1")
    return match.group(1), line, col


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.completion import split_at
    from assistant.session import Session

    file, line, col = parse_position(args.position)
    rel = repo_path(ctx.repo, file)
    try:
        split_at((ctx.repo / rel).read_text(encoding="utf-8"), line, col)  # a bad position fails before loading
    except UnicodeDecodeError as exc:
        raise UsageError(f"{file} is not UTF-8 text") from exc
    session = Session(ctx.repo, ctx.settings, persist=False)
    session.load_model(progress=progress_to_stderr)
    result = session.complete_full(rel, line, col, context=args.context, seed=args.seed,
                                   max_new_tokens=args.max_tokens)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    sys.stdout.write(result.text + ("\n" if result.text and not result.text.endswith("\n") else ""))
    sys.stdout.flush()
    syntax = {True: "parses", False: "BREAKS SYNTAX" if result.breaks_syntax else "does not parse (nor did the file)",
              None: "syntax not checked"}[result.parses]
    detail = f": {result.syntax_error}" if result.parses is False and result.syntax_error else ""
    print(f"[{result.model} | mode: {result.mode} | context: {result.context}, {len(result.sources)} snippet(s), "
          f"{result.prompt_tokens} tokens | stop: {result.stopped_by} | {syntax}{detail} | "
          f"{result.timings.get('total_s', 0):.2f} s]", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


COMMAND = Command(
    name="complete",
    help="complete the code at FILE:LINE[:COL] (fill-in-the-middle where the model supports it)",
    add_arguments=_add_arguments,
    run=_run,
    overrides=model_overrides,
    order=30,
)
