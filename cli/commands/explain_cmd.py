"""``repo-assistant explain FILE[:SYMBOL|:START-END]``: stream a Markdown explanation with its sources."""

from __future__ import annotations

import argparse

from cli.commands._answer_output import print_answer
from cli.commands._model_args import add_model_arguments, model_overrides, progress_to_stderr
from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="FILE[:SYMBOL|:START-END]",
                        help="a file, a definition in it (Class.method) or a line range")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="most tokens in the answer")
    parser.add_argument("--json", action="store_true", help="print the answer and its citations as JSON")
    add_model_arguments(parser)


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from pathlib import Path

    from assistant.answer import explain
    from assistant.models import load_backend

    target = args.target
    file, sep, rest = target.partition(":")
    full = Path(file).resolve()
    if full.is_file() and full.is_relative_to(ctx.repo):
        target = full.relative_to(ctx.repo).as_posix() + (sep + rest if sep else "")
    backend = load_backend(ctx.settings.model, progress=progress_to_stderr)
    answer = explain(ctx.repo, target, settings=ctx.settings, backend=backend, max_new_tokens=args.max_tokens)
    return print_answer(answer, args.json)


COMMAND = Command(
    name="explain",
    help="explain a file, a symbol or a line range, citing the code used",
    add_arguments=_add_arguments,
    run=_run,
    overrides=model_overrides,
    order=31,
)
