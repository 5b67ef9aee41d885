"""``repo-assistant tui [PATH]`` (also plain ``repo-assistant [PATH]``): open the terminal UI."""

from __future__ import annotations

import argparse

from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", metavar="PATH", help="repository to open (default: --repo or the git root)")
    parser.add_argument("--resume", action="store_true", help="continue the most recent saved chat of the repository")
    parser.add_argument("--model", metavar="NAME", help="model to use (preset, Hugging Face id, path or .gguf)")
    parser.add_argument("--no-preload", action="store_true",
                        help="load the model at the first question instead of at start-up")


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"model": {"name": args.model}}


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from tui.app import make_app  # Textual is imported only when the UI really starts

    app = make_app(ctx.repo, ctx.settings, resume=args.resume, preload_model=not args.no_preload)
    app.run()
    return app.return_code or 0


COMMAND = Command(
    name="tui",
    help="open the terminal UI on a repository (the default command)",
    add_arguments=_add_arguments,
    run=_run,
    overrides=_overrides,
    order=1,
    path_argument="path",
)
