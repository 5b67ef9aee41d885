"""``repo-assistant undo``: restore the files of an applied patch exactly as they were."""

from __future__ import annotations

import argparse
import json

from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", metavar="ID", help="the patch to undo (default: the latest applied one)")
    parser.add_argument("--list", action="store_true", help="list recorded patches instead of undoing one")
    parser.add_argument("--force", action="store_true",
                        help="restore even if a file was edited after the patch was applied")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.patch.apply import list_backups, undo

    if args.list:
        backups = list_backups(ctx.repo)
        if args.json:
            print(json.dumps([{"id": b.id, "created": b.created, "status": b.status, "title": b.title,
                               "files": [f.path for f in b.files]} for b in backups], indent=2))
            return 0
        if not backups:
            ctx.console.print("No patches have been applied in this repository.")
            return 0
        from rich.table import Table

        table = Table(title="Applied patches (newest first)", title_justify="left")
        # the id is what `undo ID` needs: never wrapped or cut, whatever the terminal width
        table.add_column("id", no_wrap=True, min_width=max(len(b.id) for b in backups))
        for column in ("applied", "status", "files", "issue"):
            table.add_column(column, overflow="fold")
        for b in backups:
            table.add_row(b.id, b.created, b.status, ", ".join(f.path for f in b.files), b.title)
        ctx.console.print(table)
        return 0
    backup = undo(ctx.repo, args.id, force=args.force)
    restored = [f.path for f in backup.files if f.existed]
    removed = [f.path for f in backup.files if not f.existed]
    if args.json:
        print(json.dumps({"id": backup.id, "status": backup.status, "restored": restored, "removed": removed},
                         indent=2))
        return 0
    parts = []
    if restored:
        parts.append(f"restored {', '.join(restored)}")
    if removed:
        parts.append(f"removed {', '.join(removed)} (created by the patch)")
    ctx.console.print(f"Undid patch {backup.id}: {'; '.join(parts)}", markup=False, highlight=False,
                      soft_wrap=True)
    return 0


COMMAND = Command(
    name="undo",
    help="restore the files changed by an applied patch (--list shows them)",
    add_arguments=_add_arguments,
    run=_run,
    order=41,
)
