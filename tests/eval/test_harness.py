"""The harness judged by known answers: HumanEval's canonical solutions pass, swapped ones fail."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from assistant.evaluation.report import compare_reports
from assistant.evaluation.runner import EvalConfig, EvalRun
from assistant.evaluation.tasks import load_humaneval

DATA = Path("/work/shared/data/humaneval.jsonl")


def _tasks() -> list:
    # The shared copy when present (the brief's file), else the bundled upstream file: the same 164 problems.
    return load_humaneval(DATA if DATA.is_file() else None)


def _reference_run(tasks: list, out: Path) -> dict:
    config = EvalConfig(suite="humaneval", model="reference", mode="reference", n=1, ks=[1], workers=4)
    return EvalRun(tasks, config, out).run()


def test_canonical_solutions_pass_and_swapped_solutions_fail(tmp_path: Path) -> None:
    tasks = _tasks()
    assert len(tasks) == 164
    start = time.monotonic()
    good = _reference_run(tasks, tmp_path / "canonical")
    elapsed = time.monotonic() - start
    assert good["status"] == "complete"
    assert good["verdicts"]["passed"] == 164, {t: v for t, v in good["tasks"].items() if v["c"] != 1}
    assert good["pass_at_k"]["pass@1"]["value"] == 1.0
    assert elapsed < 60

    # Give every task the canonical solution of the next one: the harness must now reject them.
    swapped = [dataclasses.replace(task, canonical_solution=tasks[(i + 1) % len(tasks)].canonical_solution)
               for i, task in enumerate(tasks)]
    bad = _reference_run(swapped, tmp_path / "swapped")
    assert bad["verdicts"]["passed"] == 0
    failing = sum(v for k, v in bad["verdicts"].items() if k != "passed")
    assert failing == 164
    assert bad["verdicts"]["assertion_failure"] > 0 and bad["verdicts"]["runtime_error"] > 0

    # And the comparison of the two says the difference is far beyond the noise.
    result = compare_reports(bad, good)
    metric = result["metrics"]["pass@1"]
    assert metric["diff"] == 1.0 and metric["significant"]
    assert metric["mcnemar"]["only_b"] == 164
    same = compare_reports(good, good)["metrics"]["pass@1"]
    assert same["diff"] == 0.0 and not same["significant"]

    samples = [json.loads(line) for line in (tmp_path / "swapped" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 164
    assert all(s["verdict"] != "passed" and s["program"] for s in samples)


def test_mbpp_rows_load_and_their_reference_passes(tmp_path: Path) -> None:
    # MBPP/56 defines a function called check itself: the driver must not mistake it for HumanEval's check().
    rows = [
        {"task_id": 56, "prompt": "Write a python function to check if a given number is one less than twice its "
         "reverse.", "code": "def rev(num):\n    r = 0\n    while num > 0:\n        r = r * 10 + num % 10\n"
         "        num //= 10\n    return r\ndef check(n):\n    return 2 * rev(n) == n + 1\n",
         "test_imports": [], "test_list": ["assert check(70) == False", "assert check(73) == True"]},
        {"task_id": 2, "prompt": "Write a function to find the shared elements from the given two lists.",
         "code": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n",
         "test_imports": ["import math"], "test_list": ["assert set(similar_elements((3, 4), (4, 5))) == {4}"]},
    ]
    path = tmp_path / "mbpp.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    from assistant.evaluation.tasks import load_tasks

    tasks = load_tasks(path)
    assert [t.task_id for t in tasks] == ["Mbpp/56", "Mbpp/2"]
    assert tasks[0].entry_point == "check" and tasks[1].entry_point == "similar_elements"
    assert all(t.kind == "program" for t in tasks)
    report = _reference_run(tasks, tmp_path / "run")
    assert report["verdicts"]["passed"] == 2
