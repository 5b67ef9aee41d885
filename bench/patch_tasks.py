"""Patch generation end to end on the sample repository's five planted bugs.

For each task in ``tests/sample_tasks/tasks.json`` this runs the same code as
``repo-assistant patch`` (localize with the index, prompt, best-of-n sampling,
validation in scratch copies, ranking) with the configured model, and with the
task's own failing test as ``--test-cmd`` (run in the sandbox against the
patched scratch copy through ``$SAMPLE_REPO_ROOT``).  Reported per task and edit
format: whether a gold file is in localization's top 3, samples and distinct
candidates, how many replies were well-formed in the requested format, how many
apply, are lint-clean and pass the test, and the wall time.  A summary gives
the well-formed rate per edit format.

    .venv/bin/python bench/patch_tasks.py                          # configured model, 2 samples
    .venv/bin/python bench/patch_tasks.py --tasks 002 --samples 3 --edit-format search-replace \\
        --edit-format udiff --edit-format whole-file               # compare formats
    .venv/bin/python bench/patch_tasks.py --model qwen2.5-coder-7b-instruct --device cuda
    .venv/bin/python bench/patch_tasks.py --base-url http://127.0.0.1:8000/v1 --model NAME

With the embedded 135M model few or no fixes pass; the point is that every
stage runs and judges candidates truthfully.  A stronger model measures real
fix rates with the same script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TASKS_DIR = ROOT / "tests" / "sample_tasks"


def _prepare_repo(workdir: Path, embeddings: bool) -> Path:
    """A git copy of sample_repo with a fresh index."""
    from base.config import load_settings
    from indexer.pipeline import index_repository

    repo = workdir / "sample_repo"
    shutil.copytree(ROOT / "sample_repo", repo, ignore=shutil.ignore_patterns(".repo-assistant", "__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm",
                    "sample"], cwd=repo, check=True)
    settings = load_settings(repo).settings
    index_repository(repo, settings.index, embeddings=embeddings)
    return repo


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    model: dict[str, Any] = {}
    if args.model:
        model["name"] = args.model
    if args.device:
        model["device"] = args.device
    if args.base_url:
        model.update(base_url=args.base_url, backend="openai")
    if args.max_new_tokens:
        model["max_new_tokens"] = args.max_new_tokens
    if args.threads:
        model["threads"] = args.threads
    out: dict[str, dict[str, Any]] = {"patch": {"samples": args.samples}}
    if model:
        out["model"] = model
    if not args.vectors:
        out["index"] = {"embeddings": False}
    return out


def _test_command(task: dict[str, Any]) -> str:
    test = TASKS_DIR / task["test"]
    return f'SAMPLE_REPO_ROOT="$PWD" {sys.executable} -m pytest -q -p no:cacheprovider {test}'


def _row(task: dict[str, Any], fmt: str, report: Any, seconds: float) -> dict[str, Any]:
    from assistant.patch.candidate import LINT_CLEAN, REJECTED, TESTS_PASS

    top3 = [f.path for f in report.localization[:3]]
    samples = report.samples_requested

    def count(predicate: Any) -> int:
        return sum(len(c.samples) for c in report.candidates if predicate(c))

    return {
        "task": task["id"],
        "format": report.edit_format,
        "requested_format": fmt,
        "localized": any(g in top3 for g in task["gold_files"]),
        "top3": top3,
        "samples": samples,
        "distinct": len(report.candidates),
        "well_formed": count(lambda c: c.well_formed),
        "applies": count(lambda c: c.verdict != REJECTED),
        "lint_clean": count(lambda c: c.verdict in (LINT_CLEAN, TESTS_PASS)),
        "test_pass": count(lambda c: c.verdict == TESTS_PASS),
        "best_verdict": report.candidates[0].verdict if report.candidates else "-",
        "rejections": sorted({c.rejection_kind or "" for c in report.candidates if c.rejection_kind}),
        "seconds": round(seconds, 1),
        "timings": {k: round(v, 1) for k, v in report.timings.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", help="comma-separated task ids (default: all)")
    parser.add_argument("--samples", type=int, default=2, help="candidates per task (default 2)")
    parser.add_argument("--edit-format", action="append", dest="formats",
                        choices=["auto", "search-replace", "udiff", "whole-file"],
                        help="edit format(s) to run (repeatable; default: patch.edit_format)")
    parser.add_argument("--model", help="model preset, Hugging Face id, directory or .gguf")
    parser.add_argument("--device")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint")
    parser.add_argument("--max-new-tokens", type=int, default=0, help="override model.max_new_tokens")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for generation (0: automatic)")
    parser.add_argument("--vectors", action="store_true", help="index with embeddings (default: BM25 only)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from assistant.models import load_backend
    from assistant.patch.generate import PatchRequest, run_patch
    from base.config import load_settings
    from base.errors import AssistantError

    tasks = json.loads((TASKS_DIR / "tasks.json").read_text())["tasks"]
    if args.tasks:
        wanted = {t.strip() for t in args.tasks.split(",")}
        tasks = [t for t in tasks if t["id"] in wanted]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="patch-bench-") as tmp:
        started = time.monotonic()
        repo = _prepare_repo(Path(tmp), args.vectors)
        index_s = time.monotonic() - started
        settings = load_settings(repo, _overrides(args)).settings
        t0 = time.monotonic()
        backend = load_backend(settings.model)
        load_s = time.monotonic() - t0
        print(f"model {backend.model_name} on {backend.device}; index {index_s:.1f}s, model load {load_s:.1f}s; "
              f"samples {args.samples}, max_new_tokens {settings.model.max_new_tokens}", file=sys.stderr)
        for task in tasks:
            issue = (repo / task["issue"]).read_text(encoding="utf-8")
            for fmt in args.formats or [settings.patch.edit_format]:
                t0 = time.monotonic()
                request = PatchRequest(issue=issue, test_cmd=_test_command(task), edit_format=fmt,
                                       seed=args.seed)
                try:
                    report = run_patch(repo, settings, backend, request)
                except AssistantError as exc:
                    rows.append({"task": task["id"], "format": fmt, "error": exc.one_line(),
                                 "seconds": round(time.monotonic() - t0, 1)})
                    print(f"task {task['id']} ({fmt}): error: {exc.one_line()}", file=sys.stderr)
                    continue
                row = _row(task, fmt, report, time.monotonic() - t0)
                rows.append(row)
                print(f"task {task['id']} ({row['format']}): best {row['best_verdict']}, well-formed "
                      f"{row['well_formed']}/{row['samples']}, applies {row['applies']}, test-pass "
                      f"{row['test_pass']}, in {row['seconds']}s", file=sys.stderr)
                if args.json:  # written after every task, so an interrupted run keeps its rows
                    _write_json(Path(args.json), backend.model_name, args.samples, rows)
    _print_table(rows, backend.model_name, args.samples)
    if args.json:
        _write_json(Path(args.json), backend.model_name, args.samples, rows)
    return 0


def _write_json(path: Path, model: str, samples: int, rows: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"model": model, "samples": samples, "rows": rows}, indent=2))


def _print_table(rows: list[dict[str, Any]], model: str, samples: int) -> None:
    print(f"\nPatch tasks on sample_repo: model {model}, {samples} samples per task\n")
    header = (f"{'task':<5} {'format':<15} {'loc@3':<6} {'cand':>5} {'distinct':>8} {'well-formed':>11} "
              f"{'applies':>7} {'lint-clean':>10} {'test-pass':>9} {'time s':>7}  notes")
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r:
            print(f"{r['task']:<5} {r['format']:<15} error: {r['error']}")
            continue
        notes = ", ".join(r["rejections"])
        print(f"{r['task']:<5} {r['format']:<15} {'yes' if r['localized'] else 'no':<6} {r['samples']:>5} "
              f"{r['distinct']:>8} {r['well_formed']:>11} {r['applies']:>7} {r['lint_clean']:>10} "
              f"{r['test_pass']:>9} {r['seconds']:>7.1f}  {notes}")
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return
    print()
    by_format: dict[str, list[int]] = {}
    for r in ok:
        totals = by_format.setdefault(r["format"], [0, 0, 0, 0])
        totals[0] += r["samples"]
        totals[1] += r["well_formed"]
        totals[2] += r["applies"]
        totals[3] += r["test_pass"]
    for fmt, (n, wf, ap, tp) in by_format.items():
        print(f"{fmt:<15} well-formed {wf}/{n} ({100 * wf / n:.0f}%), applies {ap}/{n}, test-pass {tp}/{n}")
    localized = sum(1 for r in ok if r["localized"])
    print(f"localized (gold file in top 3): {localized}/{len(ok)}")


if __name__ == "__main__":
    sys.exit(main())
