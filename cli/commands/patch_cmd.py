"""``repo-assistant patch``: propose a validated patch for an issue, and apply it only on an explicit yes.

The default output is the review: which files were chosen and why, every
candidate's verdict with its reasons, the best diff and the model's short
explanation.  ``--apply`` shows the same and asks before writing (``--yes``
skips the question); applying is atomic and recorded for ``repo-assistant undo``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from base.errors import PatchError, UsageError
from cli.commands._model_args import add_model_arguments, model_overrides, progress_to_stderr
from cli.registry import CliContext, Command

if TYPE_CHECKING:
    from assistant.patch.report import PatchReport


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--issue", required=True, metavar="FILE",
                        help="the issue text: a file, or - to read it from stdin")
    parser.add_argument("--files", nargs="+", default=[], metavar="PATH",
                        help="files to put in the context first (works without an index)")
    parser.add_argument("--samples", type=int, metavar="N", help="candidates to sample (default: patch.samples)")
    parser.add_argument("--test-cmd", metavar="CMD",
                        help="shell command run in a sandboxed scratch copy for each candidate (e.g. 'pytest -q')")
    parser.add_argument("--no-tests", action="store_true",
                        help="do not discover and run the repository's tests (--test-cmd still runs)")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="repair rounds: failed candidates go back to the model with the validators' "
                             "feedback (default: patch.rounds)")
    parser.add_argument("--edit-format", choices=["auto", "search-replace", "udiff", "whole-file"],
                        help="ask the model for this edit format (default: patch.edit_format)")
    parser.add_argument("--reply", action="append", metavar="FILE",
                        help="validate an edit reply written elsewhere (search/replace blocks, a diff or "
                             "whole files) instead of sampling the model; repeatable")
    parser.add_argument("--seed", type=int, help="sampling seed (reproducible candidates)")
    parser.add_argument("--apply", action="store_true", help="apply the best candidate after confirmation")
    parser.add_argument("--yes", "-y", action="store_true", help="with --apply: do not ask for confirmation")
    parser.add_argument("--force", action="store_true",
                        help="with --apply: apply even if a touched file has uncommitted changes")
    parser.add_argument("--no-explain", action="store_true", help="skip the model's explanation of the best patch")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_model_arguments(parser)


def _read_issue(spec: str) -> str:
    if spec == "-":
        text = sys.stdin.read()
    else:
        path = Path(spec).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise UsageError(f"--issue {spec}: no such file") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--issue {spec}: cannot read it as text ({exc})") from exc
    if not text.strip():
        raise UsageError("the issue text is empty")
    return text


def _read_replies(paths: list[str]) -> list[str]:
    replies = []
    for spec in paths:
        try:
            replies.append(Path(spec).expanduser().read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--reply {spec}: cannot read it ({exc})") from exc
    return replies


def _confirm(args: argparse.Namespace, count: int) -> bool:
    if args.yes:
        return True
    sys.stderr.write(f"Apply this patch to {count} file(s)? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in {"y", "yes"}


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.patch.generate import PatchRequest
    from assistant.session import Session

    if (args.yes or args.force) and not args.apply:
        raise UsageError("--yes and --force only make sense with --apply")
    if args.samples is not None and args.samples < 1:
        raise UsageError("--samples must be at least 1")
    if args.rounds is not None and args.rounds < 0:
        raise UsageError("--rounds must be 0 or more")
    if args.apply and not args.yes and (args.issue == "-" or not sys.stdin.isatty()):
        raise UsageError("--apply asks for confirmation on a terminal", hint="pass --yes to apply without asking")
    issue = _read_issue(args.issue)
    replies = _read_replies(args.reply) if args.reply else None
    request = PatchRequest(issue=issue, files=list(args.files), samples=args.samples, test_cmd=args.test_cmd,
                           edit_format=args.edit_format, seed=args.seed, explain=not args.no_explain,
                           replies=replies, rounds=args.rounds, run_tests=not args.no_tests)

    def progress(message: str) -> None:
        ctx.err_console.print(f"[dim]{message}…[/dim]", highlight=False)

    session = Session(ctx.repo, ctx.settings, persist=False)
    report = session.propose_patch(request, progress=progress, model_progress=progress_to_stderr)
    best = report.best

    applied = None
    if args.apply:
        if best is None:
            _print_report(ctx, args, report, None)
            raise PatchError("no candidate applies; nothing was changed")
        try:
            session.check_patch(best, force=args.force)  # refuse before asking
        except PatchError:
            _print_report(ctx, args, report, None)
            raise
        if not args.json:
            _print_report(ctx, args, report, None)
        if _confirm(args, len(best.changes)):
            backup = session.apply_patch(best, force=args.force, title=report.issue_title)
            applied = {"id": backup.id, "files": [f.path for f in backup.files]}
        else:
            applied = {"id": None, "files": []}
        if args.json:
            _print_report(ctx, args, report, applied)
        elif applied["id"]:
            ctx.console.print(f"Applied patch {applied['id']} to {', '.join(applied['files'])}. "
                              f"Undo with: repo-assistant undo {applied['id']}", highlight=False, markup=False)
        else:
            ctx.console.print("Not applied.", highlight=False)
        return 0
    _print_report(ctx, args, report, None)
    return 0 if best is not None else 1


def _print_report(ctx: CliContext, args: argparse.Namespace, report: PatchReport,
                  applied: dict[str, object] | None) -> None:
    if args.json:
        payload = report.to_dict()
        if applied is not None:
            payload["applied"] = applied
        print(json.dumps(payload, indent=2))
        return
    out = ctx.console
    out.print(report.render_head().rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
    best = report.best
    if best is not None:
        out.print()
        if out.is_terminal:
            from rich.syntax import Syntax

            out.print(Syntax(best.diff.rstrip("\n"), "diff", theme="ansi_dark", background_color="default"))
        else:
            out.print(best.diff.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
    tail = report.render_tail()
    if tail:
        out.print()
        out.print(tail.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)


COMMAND = Command(
    name="patch",
    help="propose a validated patch for an issue (review first; --apply writes it after a yes)",
    add_arguments=_add_arguments,
    run=_run,
    overrides=model_overrides,
    order=40,
)
