"""Entry point of the ``repo-assistant`` console script.

Parses the command line, resolves the repository (``--repo``, a command's PATH
argument, else the git root above the current directory, else the current
directory), loads the layered settings, sends logging to the repository's log
file and runs the command.  Every :class:`AssistantError` becomes one line on
stderr and a non-zero exit code; ``--debug`` shows tracebacks instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant import __version__
from base.config import load_settings, parse_assignment
from base.errors import AssistantError, UsageError
from base.logsetup import configure_logging, current_log_file
from base.paths import find_repo_root
from cli.registry import CliContext, Command, discover_commands

DEFAULT_COMMAND = "tui"
log = logging.getLogger(__name__)


# Global options that take a value: ``_normalise_argv`` must skip their values when it
# looks for the command name (``--repo ~/src/x search q``).
VALUE_OPTIONS = ("--repo", "--set")


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an unknown argument is reported with *this* command's usage.

    argparse hands a subparser's leftovers up to the top-level parser, which would
    print ``usage: repo-assistant [-h] ... COMMAND`` and leave the user guessing.
    """

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def,override]
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def _add_global_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """``--repo``, ``--set`` and ``--debug``, accepted before and after the command name.

    The top-level copies store into their own ``global_*`` names and the
    subcommand copies default to SUPPRESS, so a value given on one side is never
    overwritten by the other side's default; :func:`_global` merges them.
    """
    prefix = "global_" if top_level else ""
    parser.add_argument(
        "--repo",
        dest=f"{prefix}repo",
        metavar="PATH",
        default=None if top_level else argparse.SUPPRESS,
        help="repository to work on (default: the git root above the current directory, else the current directory)",
    )
    parser.add_argument(
        "--set",
        dest=f"{prefix}set_values",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[] if top_level else argparse.SUPPRESS,
        help="override one setting (repeatable); see `repo-assistant config`",
    )
    parser.add_argument("--debug", dest=f"{prefix}debug", action="store_true",
                        default=False if top_level else argparse.SUPPRESS,
                        help="show tracebacks instead of one-line errors")


def _common_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    _add_global_options(parent, top_level=False)
    return parent


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    """The full parser: global flags plus one subparser per discovered command."""
    parser = argparse.ArgumentParser(
        prog="repo-assistant",
        description=(
            "A repository-aware code assistant: index a repository, search it, and drive a code model "
            "to complete, explain and patch its code. Run without a command to open the terminal UI."
        ),
    )
    parser.add_argument("--version", action="version", version=f"repo-assistant {__version__}")
    _add_global_options(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_SubcommandParser)
    parent = _common_parent()
    for command in commands:
        sp = sub.add_parser(command.name, help=command.help, description=command.help, parents=[parent],
                            aliases=list(command.aliases))
        command.add_arguments(sp)
        sp.set_defaults(_command=command)
    return parser


def _global(args: argparse.Namespace, name: str) -> Any:
    """A global option's value, wherever it was given (after the command wins; ``--set`` adds up)."""
    before = getattr(args, f"global_{name}", None)
    after = getattr(args, name, None)
    if name == "set_values":
        return [*(before or []), *(after or [])]
    if name == "debug":
        return bool(before or after)
    return after if after is not None else before


def _normalise_argv(argv: list[str], names: set[str]) -> list[str]:
    """``repo-assistant`` and ``repo-assistant PATH`` mean ``repo-assistant tui [PATH]``."""
    if DEFAULT_COMMAND not in names:
        return argv
    first: int | None = None
    skip_value = False
    for index, token in enumerate(argv):
        if skip_value:
            skip_value = False
            continue
        if token.startswith("-"):
            skip_value = token in VALUE_OPTIONS
            continue
        first = index
        break
    if first is None:
        if any(flag in argv for flag in ("-h", "--help", "--version")):
            return argv
        return [*argv, DEFAULT_COMMAND]
    if argv[first] not in names:
        return [*argv[:first], DEFAULT_COMMAND, *argv[first:]]
    return argv


def _resolve_repo(args: argparse.Namespace, command: Command) -> Path:
    chosen = _global(args, "repo")
    if command.path_argument and getattr(args, command.path_argument, None):
        chosen = getattr(args, command.path_argument)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.exists():
            raise UsageError(f"repository path does not exist: {path}")
        if not path.is_dir():
            raise UsageError(f"repository path is not a directory: {path}")
        return path.resolve()
    return find_repo_root()


def _cli_overrides(args: argparse.Namespace, command: Command) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for assignment in _global(args, "set_values"):
        section, key, value = parse_assignment(assignment)
        overrides.setdefault(section, {})[key] = value
    for section, values in command.overrides(args).items():
        for key, value in values.items():
            if value is not None:
                overrides.setdefault(section, {})[key] = value
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns (and, as a console script, exits with) the exit code."""
    raw = list(sys.argv[1:] if argv is None else argv)
    commands = discover_commands()
    parser = build_parser(commands)
    args = parser.parse_args(_normalise_argv(raw, {c.name for c in commands}))
    debug = _global(args, "debug")
    command: Command | None = getattr(args, "_command", None)
    if command is None:
        parser.print_help()
        return 0
    console = Console()
    err_console = Console(stderr=True)
    repo: Path | None = None
    try:
        repo = _resolve_repo(args, command)
        configure_logging(repo, debug=debug)
        loaded = load_settings(repo, _cli_overrides(args, command))
        log.info("command %s on %s", command.name, repo)
        return command.run(args, CliContext(repo=repo, loaded=loaded, console=console,
                                            err_console=err_console, debug=debug))
    except AssistantError as exc:
        log.info("error: %s", exc.one_line(), exc_info=True)
        if debug:
            traceback.print_exc()
        print(f"repo-assistant: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("repo-assistant: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line, keep the traceback in the log
        log.exception("unexpected error")
        if debug:
            traceback.print_exc()
        log_file = current_log_file()
        where = f"; details in {log_file}" if log_file and not log_file.startswith("<") else ""
        print(
            f"repo-assistant: unexpected error: {type(exc).__name__}: {exc} (run with --debug for the traceback{where})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
