"""Greedy math evaluation: ask, extract the final answer, check it against the reference.

Input: JSONL rows with ``question`` and ``answer`` (and optionally ``id``).
Each problem is one greedy generation (temperature 0), recorded in the same
resumable ``samples.jsonl`` as code runs; the report gives exact-match accuracy
(after normalisation and SymPy equivalence) with a Wilson 95% interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.evaluation.generate import chat_messages, sample_answers
from assistant.evaluation.math_answers import answers_equivalent, extract_answer, normalize_answer
from assistant.evaluation.passk import bootstrap_ci, wilson_ci
from assistant.evaluation.report import REPORT_VERSION, _dist
from assistant.evaluation.store import REPORT_FILE, SampleStore, write_json_atomic
from assistant.evaluation.tasks import BUNDLED_DIR, read_jsonl
from assistant.models.base import GenerationParams
from base.errors import UsageError

MATH_SMALL = BUNDLED_DIR / "math_small.jsonl"
MATH_SYSTEM = ("You are a careful mathematician. Solve the problem step by step, then give the final answer "
               "on its own line as \\boxed{ANSWER}.")


@dataclass
class MathProblem:
    problem_id: str
    question: str
    answer: str


@dataclass
class MathConfig:
    suite: str
    model: str
    max_new_tokens: int = 384

    def identity(self) -> dict[str, Any]:
        return {"suite": self.suite, "model": self.model, "max_new_tokens": self.max_new_tokens, "kind": "math"}


def load_math(path: Path, limit: int | None = None) -> list[MathProblem]:
    """Problems from a JSONL file of ``{"id"?, "question", "answer"}`` rows."""
    problems = []
    for number, row in enumerate(read_jsonl(path), start=1):
        if "question" not in row or "answer" not in row:
            raise UsageError(f"{path}: row {number} needs 'question' and 'answer'")
        problems.append(MathProblem(str(row.get("id", number)), str(row["question"]), str(row["answer"])))
        if limit is not None and len(problems) >= limit:
            break
    return problems


def summarize_math(problems: list[MathProblem], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    done = [records[p.problem_id] for p in problems if p.problem_id in records]
    correct = sum(1 for r in done if r["correct"])
    values = [1.0 if r["correct"] else 0.0 for r in done]
    lo, hi = wilson_ci(correct, len(done))
    blo, bhi = bootstrap_ci(values)
    return {
        "kind": "math",
        "version": REPORT_VERSION,
        "status": "complete" if len(done) == len(problems) else "partial",
        "tasks_total": len(problems),
        "tasks_complete": len(done),
        "metric_names": ["accuracy"],
        "accuracy": {"value": round(correct / len(done), 6) if done else 0.0, "correct": correct,
                     "ci95": [round(lo, 6), round(hi, 6)], "bootstrap95": [round(blo, 6), round(bhi, 6)],
                     "ci_method": "Wilson score interval"},
        "no_answer": sum(1 for r in done if r["extracted"] is None),
        "latency": {"ttft_s": _dist([r["ttft_s"] for r in done if "ttft_s" in r]),
                    "sample_s": _dist([r["gen_s"] for r in done if "gen_s" in r]),
                    "tokens_per_s": _dist([r["tokens_per_s"] for r in done if r.get("tokens_per_s")])},
        "tasks": {r["task_id"]: {"accuracy": 1.0 if r["correct"] else 0.0, "extracted": r["extracted"],
                                 "reference": r["reference"]} for r in done},
    }


def run_math(problems: list[MathProblem], config: MathConfig, out_dir: Path,
             backend_factory: Callable[[], object], progress: Callable[[str], None] | None = None,
             cancel: threading.Event | None = None) -> dict[str, Any]:
    """Answer every problem not yet in ``out_dir`` greedily, then write and return the report."""
    say = progress or (lambda _m: None)
    cancel = cancel or threading.Event()
    store = SampleStore(out_dir, config.identity())
    started = time.monotonic()
    backend: object | None = None
    interrupted = False
    todo = [p for p in problems if not store.done_indices(p.problem_id)]
    try:
        for number, problem in enumerate(todo, start=1):
            if backend is None:
                backend = backend_factory()
            params = GenerationParams(max_new_tokens=config.max_new_tokens, temperature=0.0, seed=0)
            sample = sample_answers(backend, chat_messages(problem.question, MATH_SYSTEM), params, 1, cancel)[0]
            if cancel.is_set():
                break
            extracted = extract_answer(sample.text)
            correct = answers_equivalent(extracted, problem.answer)
            store.append({"task_id": problem.problem_id, "index": 0, "correct": correct, "extracted": extracted,
                          "normalized": normalize_answer(extracted) if extracted is not None else None,
                          "reference": problem.answer, "ttft_s": sample.ttft_s, "gen_s": sample.total_s,
                          "tokens": sample.tokens, "tokens_per_s": round(sample.tokens_per_s, 2),
                          "completion": sample.text})
            say(f"[{number}/{len(todo)}] {problem.problem_id}: {'correct' if correct else 'wrong'} "
                f"(answer {extracted!r}, reference {problem.answer!r})")
    except KeyboardInterrupt:
        interrupted = True
        cancel.set()
    records = {tid: r for (tid, _i), r in store.records.items()}
    report = summarize_math(problems, records)
    report["config"] = asdict(config)
    report["wall_s"] = round(time.monotonic() - started, 2)
    write_json_atomic(out_dir / REPORT_FILE, report)
    if interrupted:
        raise KeyboardInterrupt
    return report
