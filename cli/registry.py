"""How subcommands declare themselves.

A command module defines ``COMMAND = Command(...)``; ``discover_commands`` finds
every module in ``cli.commands`` so adding a command never edits a
shared file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from base.config import LoadedSettings, Settings


@dataclass
class CliContext:
    """What every command receives besides its parsed arguments."""

    repo: Path
    loaded: LoadedSettings
    console: Console
    err_console: Console
    debug: bool = False

    @property
    def settings(self) -> Settings:
        return self.loaded.settings


@dataclass
class Command:
    """One subcommand: its name, help, arguments and behaviour.

    ``overrides`` maps parsed arguments to ``{section: {key: value}}`` settings
    (the command-line layer of the configuration).  ``path_argument`` names a
    positional argument that, when given, is the repository (``index PATH``).
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, CliContext], int]
    overrides: Callable[[argparse.Namespace], dict[str, dict[str, Any]]] = field(default=lambda args: {})
    order: int = 50
    path_argument: str | None = None
    aliases: tuple[str, ...] = ()


def discover_commands() -> list[Command]:
    """Every ``COMMAND`` in ``cli.commands``, sorted by ``order`` then name."""
    from cli import commands as package

    found: list[Command] = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        command = getattr(module, "COMMAND", None)
        if isinstance(command, Command):
            found.append(command)
    return sorted(found, key=lambda c: (c.order, c.name))
