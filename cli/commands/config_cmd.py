"""``repo-assistant config``: print the effective settings and where each value came from."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from base.config import settings_rows
from base.paths import PROJECT_CONFIG_NAME, user_config_file
from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--docs", action="store_true", help="add a column describing each setting")


def _files_line(ctx: CliContext) -> str:
    """The configuration files actually read, and where the missing ones would be looked for."""
    user, project = user_config_file(), ctx.repo / PROJECT_CONFIG_NAME
    read = [f"{path} ({'user' if path == user else 'project'})" for path in ctx.loaded.files_read]
    missing = [str(path) for path in (user, project) if path not in ctx.loaded.files_read]
    text = f"Files read: {', '.join(read)}" if read else "Files read: none"
    return text + (f" (not present: {', '.join(missing)})" if missing else "")


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    rows = settings_rows(ctx.loaded)
    if args.json:
        payload = {key: {"value": value, "source": source} for key, value, source, _doc in rows}
        ctx.console.print_json(json.dumps(payload))
        return 0
    table = Table(title=f"Effective settings for {ctx.repo}", title_justify="left")
    table.add_column("setting", style="bold")
    table.add_column("value")
    table.add_column("source", style="dim")
    if args.docs:
        table.add_column("meaning")
    for key, value, source, doc in rows:
        table.add_row(key, value, source, *([doc] if args.docs else []))
    ctx.console.print(table)
    ctx.console.print(f"[dim]{_files_line(ctx)}; environment: REPO_ASSISTANT_<SECTION>_<KEY>; "
                      "flags: --set section.key=value[/dim]", highlight=False)
    return 0


COMMAND = Command(
    name="config",
    help="show the effective settings and where each value came from",
    add_arguments=_add_arguments,
    run=_run,
    order=90,
)
