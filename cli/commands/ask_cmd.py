"""``repo-assistant ask "QUESTION"``: stream a Markdown answer from retrieved context, with its sources.

The same question in the TUI (same target, same pins, no history) sends the
byte-identical prompt: both call :meth:`assistant.session.Session.ask`.
"""

from __future__ import annotations

import argparse

from cli.commands._answer_output import print_answer
from cli.commands._model_args import add_model_arguments, model_overrides, progress_to_stderr
from cli.commands._paths import repo_path
from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", metavar="QUESTION", help="the question, in quotes")
    parser.add_argument("--file", metavar="PATH", help="the file the question is about (its context comes first)")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="most tokens in the answer")
    parser.add_argument("--json", action="store_true", help="print the answer and its citations as JSON")
    add_model_arguments(parser)


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.session import Session

    session = Session(ctx.repo, ctx.settings, persist=False)
    target = repo_path(ctx.repo, args.file) if args.file else None
    session.load_model(progress=progress_to_stderr)
    events = session.ask(args.question, target_path=target, max_new_tokens=args.max_tokens)
    return print_answer(events, args.json)


COMMAND = Command(
    name="ask",
    help="ask a question about the repository; the answer cites the files and lines it used",
    add_arguments=_add_arguments,
    run=_run,
    overrides=model_overrides,
    order=32,
)
