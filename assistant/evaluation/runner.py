"""Run a model on a task suite: generate, execute every sample in the sandbox, record, report.

Generation is sequential (one model); execution of finished samples runs in
``workers`` threads, each driving one sandboxed subprocess, overlapping with
the generation of the next task.  With ``rounds`` > 0 (chat mode), a sample
that fails its tests is sent back to the model with the failure in the same
conversation, up to ``rounds`` times, and executed again (the repair loop of
``repo-assistant patch``, measurable on HumanEval); those samples are executed
at once, in the generating thread, since the next round needs the verdict.
Every finished sample is appended to
``samples.jsonl`` at once (see :mod:`assistant.evaluation.store`), so Ctrl+C or
a crash loses at most the samples in flight and a rerun continues where the
last one stopped.  On Ctrl+C the running sandboxes are allowed to finish (they
are bounded by their timeout), a report marked ``partial`` is written, and the
interrupt is re-raised for the CLI to exit with code 130.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.evaluation.execute import run_program
from assistant.evaluation.extract import COMPLETION_STOPS, build_program
from assistant.evaluation.generate import chat_messages, sample_answers
from assistant.evaluation.report import summarize_passk
from assistant.evaluation.store import REPORT_FILE, SampleStore, write_json_atomic
from assistant.evaluation.tasks import Task
from assistant.models.base import ChatMessage, GenerationParams
from assistant.sandbox import SandboxLimits

ProgressFn = Callable[[str], None]


@dataclass
class EvalConfig:
    """Everything that defines a run (the identity part must match to resume into the same directory)."""

    suite: str
    model: str
    mode: str  # chat | completion | reference
    n: int = 5
    ks: list[int] = field(default_factory=lambda: [1, 5])
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 512
    seed: int = 1234
    timeout_s: float = 10.0
    memory_mb: int = 1024
    workers: int = 2
    rounds: int = 0  # repair rounds: a failing sample gets its failure back (chat mode)

    def identity(self) -> dict[str, Any]:
        ident = {"suite": self.suite, "model": self.model, "mode": self.mode, "temperature": self.temperature,
                 "top_p": self.top_p, "max_new_tokens": self.max_new_tokens, "seed": self.seed}
        if self.rounds:  # runs without rounds keep the identity they always had (and stay resumable)
            ident["rounds"] = self.rounds
        return ident

    def limits(self) -> SandboxLimits:
        return SandboxLimits(timeout_s=self.timeout_s, memory_mb=self.memory_mb, max_processes=32,
                             max_file_mb=16, max_output_bytes=200_000)


RESPONSE_PREFIX = "```python\n"
REPAIR_DETAIL_CHARS = 1500


def chat_request(task: Task) -> str:
    """What an instruct model is asked for a task."""
    if task.kind == "function":
        return ("Complete the following Python function. Reply with the complete function, including the "
                "signature, in a single ```python code block.\n\n```python\n" + task.prompt.rstrip() + "\n```")
    return task.prompt.rstrip() + "\n\nReply with the Python code in a single ```python code block."


def completion_prompt(task: Task) -> tuple[str, list[str]]:
    """What a base model continues, and where it must stop."""
    if task.kind == "function":
        return task.prompt, list(COMPLETION_STOPS)
    return f'"""\n{task.prompt.rstrip()}\n"""\n\n', ["\nif __name__", "\nassert ", '\n"""']


def repair_request(verdict: str, detail: str) -> str:
    """What a failing sample's conversation is told before the next round."""
    detail = detail.strip()[-REPAIR_DETAIL_CHARS:] or "(no output)"
    return (f"Your code does not pass the tests ({verdict.replace('_', ' ')}):\n{detail}\n\n"
            "Fix it. Reply with the complete corrected function in a single ```python code block.")


def summarize_rounds(records: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """How the repair rounds changed the outcome: passes per round and what the repairs cost."""
    samples = [s for rows in records.values() for s in rows if "rounds" in s]
    first_pass = sum(1 for s in samples if s["rounds"][0]["verdict"] == "passed")
    final_pass = sum(1 for s in samples if s["verdict"] == "passed")
    repair = [h for s in samples for h in s["rounds"][1:]]
    return {"samples": len(samples), "passed_first_try": first_pass, "passed_after_rounds": final_pass,
            "repair_replies": len(repair), "repeated_replies": sum(1 for h in repair if h.get("stopped")),
            "repair_tokens": sum(int(h["tokens"]) for h in repair),
            "repair_gen_s": round(sum(float(h["gen_s"]) for h in repair), 2)}


def _task_seed(base: int, task_id: str, first_index: int) -> int:
    return base + (zlib.crc32(task_id.encode()) % 1_000_000) * 1000 + first_index


class EvalRun:
    """One run of a suite into ``out_dir`` (resumable)."""

    def __init__(self, tasks: list[Task], config: EvalConfig, out_dir: Path,
                 backend_factory: Callable[[], object] | None = None,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> None:
        self.tasks = tasks
        self.config = config
        self.out_dir = out_dir
        self.backend_factory = backend_factory
        self.progress = progress or (lambda _msg: None)
        self.cancel = cancel or threading.Event()
        self.store = SampleStore(out_dir, config.identity())
        self._backend: object | None = None
        self.model_info: dict[str, Any] = {}
        self.started = time.monotonic()

    # -- planning ---------------------------------------------------------
    def missing(self, task: Task) -> list[int]:
        done = self.store.done_indices(task.task_id)
        return [i for i in range(self.config.n) if i not in done]

    def _backend_once(self) -> object:
        if self._backend is None:
            if self.backend_factory is None:
                raise RuntimeError("this run needs a model but none was given")
            self._backend = self.backend_factory()
            self.model_info = {
                "model_name": getattr(self._backend, "model_name", self.config.model),
                "device": getattr(self._backend, "device", ""),
                "batched": hasattr(self._backend, "stream_n"),
                "response_prefix": callable(getattr(self._backend, "chat_prompt", None)),
            }
        return self._backend

    # -- one task ---------------------------------------------------------
    def _generate(self, task: Task, indices: list[int]) -> list[tuple[int, str, dict[str, Any]]]:
        """Replies for ``indices`` of ``task`` with their timings (reference mode: the canonical solution)."""
        if self.config.mode == "reference":
            return [(i, task.canonical_solution or "", {}) for i in indices]
        backend = self._backend_once()
        prompt: str | list[ChatMessage]
        prefix = ""
        if self.config.mode == "chat":
            prompt, stops, prefix = self._chat_prompt(backend, chat_messages(chat_request(task)))
        else:
            prompt, stops = completion_prompt(task)
        params = GenerationParams(max_new_tokens=self.config.max_new_tokens,
                                  temperature=self.config.temperature, top_p=self.config.top_p, stop=stops,
                                  seed=_task_seed(self.config.seed, task.task_id, indices[0]))
        samples = sample_answers(backend, prompt, params, len(indices), self.cancel)
        if self.cancel.is_set():
            return []  # a half-generated batch is not a sample
        suffix = "\n```\n" if prefix else ""
        return [(i, prefix + s.text + suffix,
                 {"ttft_s": s.ttft_s, "gen_s": s.total_s, "tokens": s.tokens,
                  "tokens_per_s": round(s.tokens_per_s, 2)})
                for i, s in zip(indices, samples, strict=False)]

    @staticmethod
    def _chat_prompt(backend: object, messages: list[ChatMessage]) -> tuple[str | list[ChatMessage], list[str], str]:
        """(prompt, stop sequences, response prefix) for a chat conversation."""
        render = getattr(backend, "chat_prompt", None)
        if callable(render):
            # Start the answer with the code fence and stop at its end: the model writes code, not
            # an essay, and a sample costs a fraction of the tokens (the approach of EvalPlus).
            return render(messages) + RESPONSE_PREFIX, ["\n```"], RESPONSE_PREFIX
        return messages, [], ""

    def _repair_and_record(self, task: Task, index: int, reply: str, timing: dict[str, Any]) -> None:
        """Execute; while it fails and rounds are left, send the failure back in the same conversation."""
        backend = self._backend_once()
        messages = chat_messages(chat_request(task))
        program = self._program(task, reply)
        result = run_program(task, program, self.config.limits())
        history = [{"round": 0, "verdict": result.verdict, "tokens": timing.get("tokens", 0),
                    "gen_s": timing.get("gen_s", 0.0), "exec_s": result.duration_s}]
        seen = {" ".join(reply.split())}
        for number in range(1, self.config.rounds + 1):
            if result.verdict == "passed" or self.cancel.is_set():
                break
            messages = [*messages, ChatMessage("assistant", reply.strip()),
                        ChatMessage("user", repair_request(result.verdict, result.detail))]
            prompt, stops, prefix = self._chat_prompt(backend, messages)
            params = GenerationParams(max_new_tokens=self.config.max_new_tokens,
                                      temperature=self.config.temperature, top_p=self.config.top_p, stop=stops,
                                      seed=_task_seed(self.config.seed, task.task_id, index) + 7919 * number)
            sample = sample_answers(backend, prompt, params, 1, self.cancel)[0]
            new_reply = prefix + sample.text + ("\n```\n" if prefix else "")
            entry: dict[str, Any] = {"round": number, "tokens": sample.tokens, "gen_s": sample.total_s}
            key = " ".join(new_reply.split())
            if key in seen:  # the same answer again: executing it again would only repeat the verdict
                entry.update(verdict=result.verdict, exec_s=0.0, stopped="repeated an earlier reply")
                history.append(entry)
                break
            seen.add(key)
            reply = new_reply
            program = self._program(task, reply)
            result = run_program(task, program, self.config.limits())
            entry.update(verdict=result.verdict, exec_s=result.duration_s)
            history.append(entry)
        timing = {**timing, "tokens": sum(int(h["tokens"]) for h in history),
                  "gen_s": round(sum(float(h["gen_s"]) for h in history), 4)}
        self.store.append({
            "task_id": task.task_id, "index": index, "verdict": result.verdict, "detail": result.detail,
            "stage": result.stage, "exec_s": result.duration_s, "network_isolated": result.network_isolated,
            **timing, "rounds": history, "completion": reply, "program": program,
        })

    def _program(self, task: Task, reply: str) -> str:
        if self.config.mode == "reference":
            return task.reference_program() or ""
        return build_program(task, reply, self.config.mode)

    def _execute_and_record(self, task: Task, index: int, reply: str, timing: dict[str, Any]) -> None:
        program = self._program(task, reply)
        result = run_program(task, program, self.config.limits())
        self.store.append({
            "task_id": task.task_id, "index": index, "verdict": result.verdict, "detail": result.detail,
            "stage": result.stage, "exec_s": result.duration_s, "network_isolated": result.network_isolated,
            **timing, "completion": reply, "program": program,
        })

    # -- the whole run ----------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Produce every missing sample, then write and return the report."""
        todo = [(task, self.missing(task)) for task in self.tasks]
        todo = [(task, idx) for task, idx in todo if idx]
        total = sum(len(idx) for _t, idx in todo)
        already = len(self.tasks) * self.config.n - total
        if already:
            self.progress(f"resuming: {already} samples already done, {total} to go")
        pending: list[Future[None]] = []
        executor = ThreadPoolExecutor(max_workers=max(1, self.config.workers), thread_name_prefix="eval-exec")
        interrupted = False
        try:
            for number, (task, indices) in enumerate(todo, start=1):
                if self.cancel.is_set():
                    break
                replies = self._generate(task, indices)
                for index, reply, timing in replies:
                    if self.config.rounds > 0 and self.config.mode == "chat":
                        self._repair_and_record(task, index, reply, timing)
                    else:
                        pending.append(executor.submit(self._execute_and_record, task, index, reply, timing))
                if self.config.mode == "reference":
                    continue
                done, passed = self.store.counts("verdict", "passed")
                self.progress(f"[{number}/{len(todo)}] {task.task_id}: {len(replies)} samples generated "
                              f"({done} executed, {passed} passed)")
            for future in pending:
                future.result()
        except KeyboardInterrupt:
            interrupted = True
            self.cancel.set()
            running = sum(1 for f in pending if not f.done())
            self.progress(f"interrupted: finishing {running} running samples, then writing a partial report")
        except BaseException:
            self.cancel.set()
            executor.shutdown(wait=True, cancel_futures=True)
            self.write_report()  # whatever finished stays usable
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        report = self.write_report()
        if interrupted:
            raise KeyboardInterrupt
        return report

    def write_report(self) -> dict[str, Any]:
        records = {task.task_id: self.store.for_task(task.task_id) for task in self.tasks}
        report = summarize_passk(records, self.config.n, self.config.ks)
        report["config"] = asdict(self.config)
        if self.config.rounds:
            report["rounds"] = summarize_rounds(records)
        report["model_info"] = self.model_info
        report["wall_s"] = round(time.monotonic() - self.started, 2)
        write_json_atomic(self.out_dir / REPORT_FILE, report)
        return report
