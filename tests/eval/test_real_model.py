"""The embedded model (SmolLM2-135M-Instruct) through the whole harness: generation, sandbox, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

# One torch thread (tests share two cores); the sandbox workers run alongside.
CPU = ("--set", "model.device=cpu", "--set", "model.threads=1")


@pytest.mark.slow
def test_embedded_model_on_first_20_humaneval_tasks(tmp_path: Path) -> None:
    out = tmp_path / "he"
    r = run_cli("eval", "humaneval", "--limit", "20", "--n", "2", "--k", "1,2", "--max-new-tokens", "64",
                "--workers", "2", "--out", str(out), "--json", *CPU, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["status"] == "complete"
    assert report["tasks_total"] == 20 and report["samples"] == 40
    assert sum(report["verdicts"].values()) == 40
    assert report["config"]["mode"] == "chat" and report["config"]["model"] == "smollm2-135m"
    for name in ("pass@1", "pass@2"):
        item = report["pass_at_k"][name]
        assert 0.0 <= item["ci95"][0] <= item["value"] <= item["ci95"][1] <= 1.0
    assert report["pass_at_k"]["pass@2"]["value"] >= report["pass_at_k"]["pass@1"]["value"]
    latency = report["latency"]
    assert latency["ttft_s"]["median"] > 0 and latency["sample_s"]["median"] >= latency["ttft_s"]["median"]
    assert latency["tokens_per_s"]["median"] > 0 and latency["generated_tokens"] > 0
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 40 and len({(s["task_id"], s["index"]) for s in samples}) == 40
    assert all(s["completion"].startswith("```python") for s in samples)
    # The two samples of a task differ (sampling at 0.8), and every program was judged.
    by_task: dict[str, list[str]] = {}
    for s in samples:
        by_task.setdefault(s["task_id"], []).append(s["completion"])
    assert sum(1 for texts in by_task.values() if texts[0] != texts[1]) >= 10


@pytest.mark.slow
def test_embedded_model_math_run(tmp_path: Path) -> None:
    out = tmp_path / "math"
    r = run_cli("eval", "math", "--limit", "2", "--max-new-tokens", "48", "--out", str(out), "--json", *CPU,
                cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["kind"] == "math" and report["status"] == "complete" and report["tasks_total"] == 2
    assert 0.0 <= report["accuracy"]["value"] <= 1.0
    lo, hi = report["accuracy"]["ci95"]
    assert lo <= report["accuracy"]["value"] <= hi
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 and all(s["completion"] for s in samples)
    assert all(s["reference"] in {"21", "\\frac{11}{12}"} for s in samples)
