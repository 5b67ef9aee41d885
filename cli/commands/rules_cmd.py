"""``repo-assistant rules``: which project rule files (AGENTS.md, CLAUDE.md, ...) apply where.

Without a path it lists every rules file in the repository and the folder it
applies to; with a path it shows exactly what a prompt about that file gets:
the files in order (nearer ones later, so they win), their sizes, and any file
skipped (over ``retrieval.rules_max_bytes``, binary, not UTF-8, a link out of
the repository).  ``--show`` prints the rendered block itself.
"""

from __future__ import annotations

import argparse
import json

from base.errors import UsageError
from cli.registry import CliContext, Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", metavar="FILE", help="show the rules a prompt about FILE gets")
    parser.add_argument("--show", action="store_true", help="with FILE: print the rendered rules block")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from retrieval.rules import RULE_FILES, all_rule_files, project_rules

    cap = ctx.settings.retrieval.rules_max_bytes
    if args.show and not args.path:
        raise UsageError("--show needs a FILE", hint="e.g. repo-assistant rules src/app.py --show")
    if args.path is None:
        found = all_rule_files(ctx.repo)
        if args.json:
            print(json.dumps({"cap_bytes": cap, "files": [vars(f) for f in found]}, indent=2))
            return 0
        if not found:
            ctx.console.print(f"No project rules files ({', '.join(RULE_FILES)}) in this repository.",
                              markup=False, highlight=False)
            return 0
        for rule in found:
            scope = f"{rule.applies_to}/ and below" if rule.applies_to else "the whole repository"
            ctx.console.print(f"{rule.path}  ({rule.size} bytes) applies to {scope}", markup=False, highlight=False)
        ctx.console.print(f"Prompts take at most {cap} bytes of rules (retrieval.rules_max_bytes); "
                          "see `repo-assistant rules FILE` for one file.", markup=False, highlight=False)
        return 0
    rel = args.path
    target = (ctx.repo / rel).resolve()
    if ctx.repo.resolve() not in target.parents:
        raise UsageError(f"{rel} is not inside the repository {ctx.repo}")
    rules = project_rules(ctx.repo, target.relative_to(ctx.repo.resolve()).as_posix(), cap)
    if args.json:
        print(json.dumps({"path": rel, "cap_bytes": cap, "files": [vars(f) for f in rules.files],
                          "notes": rules.notes, "text": rules.text}, indent=2))
        return 0
    if not rules.files:
        ctx.console.print(f"No project rules apply to {rel}.", markup=False, highlight=False)
    for number, rule in enumerate(rules.files, 1):
        scope = f"{rule.applies_to}/" if rule.applies_to else "the whole repository"
        ctx.console.print(f"{number}. {rule.path}  ({rule.size} bytes, from {scope})", markup=False, highlight=False)
    for note in rules.notes:
        ctx.console.print(f"Note: {note}", markup=False, highlight=False)
    if args.show and rules.text:
        ctx.console.print()
        ctx.console.print(rules.text, markup=False, highlight=False, soft_wrap=True)
    return 0


COMMAND = Command(
    name="rules",
    help="list the project rules files (AGENTS.md, CLAUDE.md, ...) and which apply to a file",
    add_arguments=_add_arguments,
    run=_run,
    order=45,
)
