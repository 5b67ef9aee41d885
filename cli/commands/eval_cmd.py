"""``repo-assistant eval``: measure a model on a task suite, HumanEval, math answers or localization.

Subcommands::

    eval tasks FILE        pass@k on your own JSONL task suite (sandboxed execution)
    eval humaneval         the same on HumanEval (bundled, 164 problems)
    eval math [FILE]       greedy math answers, exact match after normalisation
    eval localization FILE how well the retriever finds the files a fix changed
    eval compare A B       two runs side by side, with a paired test against the noise

Runs write ``run.json``, ``samples.jsonl`` (appended as samples finish) and
``report.json`` into ``--out`` (default ``<repo>/.repo-assistant/eval/<name>``);
running the same command again resumes.
"""

from __future__ import annotations

import argparse
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from base.errors import UsageError
from base.paths import repo_data_dir
from cli.registry import CliContext, Command

_SUBCOMMANDS = ("tasks", "humaneval", "math", "localization", "compare")


def _common(parser: argparse.ArgumentParser) -> None:
    """The global flags again, so they also work after the subcommand (``eval humaneval --set ...``)."""
    parser.add_argument("--repo", metavar="PATH", default=argparse.SUPPRESS, help="repository to work on")
    parser.add_argument("--set", dest="set_values", metavar="SECTION.KEY=VALUE", action="append",
                        default=argparse.SUPPRESS, help="override one setting (repeatable)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")


def _model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="M", help="model to evaluate (sets model.name)")
    parser.add_argument("--out", metavar="DIR", help="run directory (default: <repo>/.repo-assistant/eval/<name>)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N problems")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _code_flags(parser: argparse.ArgumentParser) -> None:
    _model_flags(parser)
    parser.add_argument("--n", type=int, default=5, help="samples per task (default 5)")
    parser.add_argument("--k", default="1,5", help="comma-separated k values for pass@k (default 1,5)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default model.sample_temperature)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling mass (default model.top_p)")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="tokens per sample (default 512)")
    parser.add_argument("--mode", choices=("auto", "chat", "completion"), default="auto",
                        help="chat template (instruct models) or plain completion (base models); auto: detect")
    parser.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                        help="samples executed in parallel (default: up to 4)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per sample execution (default 10)")
    parser.add_argument("--memory-mb", type=int, default=1024, help="address-space limit per sample (default 1024)")
    parser.add_argument("--seed", type=int, default=1234, help="sampling seed")
    parser.add_argument("--rounds", type=int, default=0, metavar="N",
                        help="repair rounds: a sample that fails its tests gets the failure back (chat mode; "
                             "default 0)")
    parser.add_argument("--reference", action="store_true",
                        help="run the tasks' canonical solutions instead of a model (checks the suite itself)")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="eval_command", metavar="SUBCOMMAND")
    tasks = sub.add_parser("tasks", help="pass@k on a JSONL task suite")
    tasks.add_argument("file", metavar="FILE", help="JSONL: task_id, prompt, test, entry_point?, language?")
    _code_flags(tasks)
    humaneval = sub.add_parser("humaneval", help="pass@k on HumanEval (bundled)")
    humaneval.add_argument("--data", metavar="FILE", help="a HumanEval-format file instead of the bundled one")
    _code_flags(humaneval)
    math = sub.add_parser("math", help="greedy math answers (bundled 20-problem set by default)")
    math.add_argument("file", metavar="FILE", nargs="?", help="JSONL: question, answer, id?")
    math.add_argument("--max-new-tokens", type=int, default=384, help="tokens per answer (default 384)")
    _model_flags(math)
    loc = sub.add_parser("localization", help="file localization of the retriever against gold files")
    loc.add_argument("file", metavar="FILE", help="JSONL: instance_id, problem_statement, gold_files")
    loc.add_argument("--k", type=int, default=10, help="files ranked per issue (default 10)")
    loc.add_argument("--repos-dir", metavar="DIR", help="directory holding one indexed checkout per row")
    loc.add_argument("--out", metavar="DIR", help="run directory")
    loc.add_argument("--limit", type=int, metavar="N", help="only the first N rows")
    loc.add_argument("--json", action="store_true", help="print the report as JSON")
    compare = sub.add_parser("compare", help="compare two runs (directories or report.json files)")
    compare.add_argument("report_a", metavar="A")
    compare.add_argument("report_b", metavar="B")
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
    for child in (tasks, humaneval, math, loc, compare):
        _common(child)


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    model = getattr(args, "model", None)
    return {"model": {"name": model}} if model else {}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "run"


def _out_dir(args: argparse.Namespace, ctx: CliContext, name: str) -> Path:
    if getattr(args, "out", None):
        return Path(args.out).expanduser().resolve()
    return repo_data_dir(ctx.repo) / "eval" / _slug(name)


def _parse_ks(text: str, n: int, ctx: CliContext) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise UsageError(f"--k {text}: expected comma-separated integers, e.g. 1,5") from exc
    if not ks or ks[0] < 1:
        raise UsageError("--k values must be positive")
    dropped = [k for k in ks if k > n]
    if dropped:
        ctx.err_console.print(f"[yellow]pass@{','.join(map(str, dropped))} needs n ≥ k; skipped (n={n})[/yellow]")
    kept = [k for k in ks if k <= n]
    if not kept:
        raise UsageError(f"no k ≤ n={n}", hint="raise --n or lower --k")
    return kept


def _progress(ctx: CliContext) -> Callable[[str], None]:
    return lambda message: ctx.err_console.print(f"[dim]{message}[/dim]", highlight=False)


def _backend_factory(ctx: CliContext) -> Callable[[], object]:
    def load() -> object:
        from assistant.models import load_backend

        ctx.err_console.print(f"[dim]loading {ctx.settings.model.name} ...[/dim]")
        return load_backend(ctx.settings.model, progress=_progress(ctx))

    return load


class _LazyBackend:
    """Loads the model once, on first use (a fully resumed run never loads it)."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self.factory = factory
        self.backend: object | None = None
        self.lock = threading.Lock()

    def __call__(self) -> object:
        with self.lock:
            if self.backend is None:
                self.backend = self.factory()
            return self.backend


def _resolve_mode(requested: str, ctx: CliContext, backend: _LazyBackend) -> str:
    """chat for instruct models, completion for base models (preset kind, else the tokenizer's chat template)."""
    if requested != "auto":
        return requested
    from assistant.models.presets import get_preset

    preset = get_preset(ctx.settings.model.name)
    if preset is not None:
        return "chat" if preset.kind == "instruct" else "completion"
    family = getattr(backend(), "family", None)
    if family is not None and hasattr(family, "has_chat_template"):
        return "chat" if family.has_chat_template else "completion"
    name = ctx.settings.model.name.lower()
    return "chat" if any(tag in name for tag in ("instruct", "chat", "-it")) else "completion"


def _print_rows(ctx: CliContext, title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    for label, value in rows:
        table.add_row(label, value)
    ctx.console.print(table)


def _finish(ctx: CliContext, args: argparse.Namespace, report: dict[str, Any], out: Path,
            rows: list[tuple[str, str]], title: str) -> int:
    if args.json:
        import json

        ctx.console.print_json(json.dumps(report))
    else:
        _print_rows(ctx, title, rows)
        ctx.console.print(f"[dim]report: {out / 'report.json'}  samples: {out / 'samples.jsonl'}[/dim]")
    return 0


def _run_code(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.evaluation.report import passk_rows
    from assistant.evaluation.runner import EvalConfig, EvalRun
    from assistant.evaluation.tasks import load_humaneval, load_tasks

    if args.n < 1:
        raise UsageError("--n must be at least 1")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.rounds < 0:
        raise UsageError("--rounds must be 0 or more")
    if args.eval_command == "humaneval":
        data = Path(args.data).expanduser() if args.data else None
        tasks = load_humaneval(data, limit=args.limit)
        suite = "humaneval" if data is None else str(data.resolve())
        suite_name = "humaneval" if data is None else data.stem
    else:
        path = Path(args.file).expanduser()
        tasks = load_tasks(path, limit=args.limit)
        suite, suite_name = str(path.resolve()), path.stem
    ks = _parse_ks(args.k, args.n, ctx)
    backend = _LazyBackend(_backend_factory(ctx))
    if args.reference:
        missing = [t.task_id for t in tasks if t.canonical_solution is None]
        if missing:
            raise UsageError(f"--reference: {len(missing)} task(s) have no canonical_solution (e.g. {missing[0]})")
        mode, model = "reference", "reference"
    else:
        mode, model = _resolve_mode(args.mode, ctx, backend), ctx.settings.model.name
    temperature = args.temperature if args.temperature is not None else ctx.settings.model.sample_temperature
    config = EvalConfig(suite=suite, model=model, mode=mode, n=args.n, ks=ks, temperature=temperature,
                        top_p=args.top_p if args.top_p is not None else ctx.settings.model.top_p,
                        max_new_tokens=args.max_new_tokens, seed=args.seed, timeout_s=args.timeout,
                        memory_mb=args.memory_mb, workers=max(1, args.workers), rounds=args.rounds)
    if args.rounds and mode != "chat":
        raise UsageError(f"--rounds needs chat mode (this run is {mode})",
                         hint="repair rounds send the failure back in a conversation; use --mode chat")
    rounds = f"-r{args.rounds}" if args.rounds else ""
    out = _out_dir(args, ctx, f"{suite_name}-{_slug(model.split('/')[-1])}-{mode}-t{temperature:g}{rounds}")
    ctx.err_console.print(f"[dim]{len(tasks)} tasks × {args.n} samples → {out}[/dim]")
    run = EvalRun(tasks, config, out, backend_factory=backend, progress=_progress(ctx))
    report = run.run()
    if report["network_isolated"] is False:
        ctx.err_console.print("[yellow]note: network isolation is unavailable here; samples could reach the "
                              "network[/yellow]")
    return _finish(ctx, args, report, out, passk_rows(report), f"pass@k on {suite_name}")


def _run_math(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.evaluation.math_eval import MATH_SMALL, MathConfig, load_math, run_math

    path = Path(args.file).expanduser() if args.file else MATH_SMALL
    problems = load_math(path, limit=args.limit)
    config = MathConfig(suite=str(path.resolve()), model=ctx.settings.model.name,
                        max_new_tokens=args.max_new_tokens)
    out = _out_dir(args, ctx, f"math-{path.stem}-{_slug(config.model.split('/')[-1])}")
    ctx.err_console.print(f"[dim]{len(problems)} problems → {out}[/dim]")
    report = run_math(problems, config, out, _LazyBackend(_backend_factory(ctx)), progress=_progress(ctx))
    acc = report["accuracy"]
    rows = [("model", config.model), ("suite", str(path)),
            ("status", f"{report['status']} ({report['tasks_complete']}/{report['tasks_total']} problems)"),
            ("accuracy", f"{100 * acc['value']:.1f}% ({acc['correct']}/{report['tasks_complete']})  "
                         f"95% CI [{100 * acc['ci95'][0]:.1f}, {100 * acc['ci95'][1]:.1f}] (Wilson)"),
            ("no answer found", str(report["no_answer"]))]
    latency = report["latency"]
    if latency.get("sample_s"):
        rows.append(("time per answer", f"{latency['sample_s']['median']:.2f}s (p90 {latency['sample_s']['p90']:.2f}s)"))
    return _finish(ctx, args, report, out, rows, "math answers")


def _run_localization(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.evaluation.localization import load_cases, run_localization

    path = Path(args.file).expanduser()
    repos_dir = Path(args.repos_dir).expanduser().resolve() if args.repos_dir else None
    if repos_dir is not None and not repos_dir.is_dir():
        raise UsageError(f"--repos-dir is not a directory: {repos_dir}")
    cases = load_cases(path, repos_dir, limit=args.limit)
    try:
        import retrieval.localize  # noqa: F401
        from indexer.reader import IndexReader
    except ImportError as exc:
        raise UsageError("file localization is not available in this build (retrieval.localize is missing)") from exc

    def open_reader(repo: Path) -> object:
        return IndexReader.open(repo, ctx.settings.index)

    out = _out_dir(args, ctx, f"localization-{path.stem}")
    report = run_localization(cases, out, default_repo=ctx.repo, k=args.k, open_reader=open_reader,
                              progress=_progress(ctx), suite=str(path.resolve()))
    rows = [("suite", str(path)),
            ("status", f"{report['status']} ({report['tasks_complete']}/{report['tasks_total']} issues)")]
    for name, item in report["metrics"].items():
        rows.append((name, f"{100 * item['value']:.1f}%  95% CI [{100 * item['ci95'][0]:.1f}, "
                           f"{100 * item['ci95'][1]:.1f}]" if name != "mrr" else
                     f"{item['value']:.3f}  95% CI [{item['ci95'][0]:.3f}, {item['ci95'][1]:.3f}]"))
    return _finish(ctx, args, report, out, rows, "file localization")


def _run_compare(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.evaluation.report import compare_reports, load_report, verdict_line

    a, b = load_report(Path(args.report_a).expanduser()), load_report(Path(args.report_b).expanduser())
    result = compare_reports(a, b, alpha=args.alpha)
    if args.json:
        import json

        ctx.console.print_json(json.dumps(result))
        return 0
    label_a = (a.get("config") or {}).get("model", "A")
    label_b = (b.get("config") or {}).get("model", "B")
    table = Table(title=f"A = {args.report_a} ({label_a})   B = {args.report_b} ({label_b})",
                  title_justify="left")
    for column in ("metric", "A", "B", "B − A", "95% CI of B − A", "p", "exceeds noise?"):
        table.add_column(column)
    for metric, entry in result["metrics"].items():
        p_text = f"{entry['p_value']:.3g}"
        if "mcnemar" in entry:
            p_text += f" (McNemar {entry['mcnemar']['p_value']:.3g})"
        table.add_row(metric, f"{100 * entry['a']:.1f}%", f"{100 * entry['b']:.1f}%",
                      f"{100 * entry['diff']:+.1f}", f"[{100 * entry['ci95'][0]:+.1f}, {100 * entry['ci95'][1]:+.1f}]",
                      p_text, "yes" if entry["significant"] else "no")
    ctx.console.print(table)
    lat_a, lat_b = result["latency"]["a"] or {}, result["latency"]["b"] or {}
    if lat_a.get("sample_s") or lat_b.get("sample_s"):
        lat = Table(title="latency (median / p90)", title_justify="left")
        for column in ("", "A", "B"):
            lat.add_column(column)
        for key, label in (("ttft_s", "time to first token"), ("sample_s", "time per sample"),
                           ("tokens_per_s", "tokens/s")):
            cells = []
            for side in (lat_a, lat_b):
                d = side.get(key)
                cells.append(f"{d['median']:.2f} / {d['p90']:.2f}" if d else "–")
            lat.add_row(label, *cells)
        ctx.console.print(lat)
    rows = result["per_task"]
    if rows:
        per = Table(title=f"tasks that differ ({len(rows)}, by {result['per_task_metric']}; largest first)",
                    title_justify="left")
        for column in ("task", "A", "B", "B − A"):
            per.add_column(column)
        for row in rows[:20]:
            per.add_row(row["task_id"], f"{row['a']:.2f}", f"{row['b']:.2f}", f"{row['diff']:+.2f}")
        ctx.console.print(per)
        if len(rows) > 20:
            ctx.console.print(f"[dim]... {len(rows) - 20} more (use --json for all)[/dim]")
    ctx.console.print(f"[dim]{result['tasks_common']} tasks in common; only in A: {result['only_a']}, "
                      f"only in B: {result['only_b']}[/dim]")
    for metric, entry in result["metrics"].items():
        ctx.console.print(verdict_line(metric, entry), highlight=False)
    return 0


def _run(args: argparse.Namespace, ctx: CliContext) -> int:
    command = getattr(args, "eval_command", None)
    if command in ("tasks", "humaneval"):
        return _run_code(args, ctx)
    if command == "math":
        return _run_math(args, ctx)
    if command == "localization":
        return _run_localization(args, ctx)
    if command == "compare":
        return _run_compare(args, ctx)
    raise UsageError(f"eval needs a subcommand: {', '.join(_SUBCOMMANDS)}",
                     hint="see `repo-assistant eval --help`")


COMMAND = Command(
    name="eval",
    help="measure models: pass@k on task suites and HumanEval (sandboxed), math answers, localization, compare",
    add_arguments=_add_arguments,
    run=_run,
    overrides=_overrides,
    order=70,
)
