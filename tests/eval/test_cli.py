"""``repo-assistant eval`` end to end in a subprocess: reports, resume, Ctrl+C, compare, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli


def _suite(path: Path, count: int, sleep_s: float = 0.0, broken: set[int] = frozenset()) -> Path:
    """A small JSONL suite in our own format, with canonical solutions (some deliberately wrong)."""
    lines = []
    for i in range(count):
        solution = "    return x * 2\n" if i not in broken else "    return x * 3\n"
        if sleep_s:
            solution = f"    import time\n    time.sleep({sleep_s})\n" + solution
        lines.append(json.dumps({
            "task_id": f"double/{i}", "prompt": f"def double_{i}(x):\n    \"\"\"Twice x.\"\"\"\n",
            "test": f"def check(f):\n    assert f({i}) == {2 * i}\n    assert f(-1) == -2\n",
            "entry_point": f"double_{i}", "canonical_solution": solution,
        }))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reference_run_report_resume_and_compare(tmp_path: Path) -> None:
    good = _suite(tmp_path / "good.jsonl", 6)
    bad = _suite(tmp_path / "bad.jsonl", 6, broken={1, 3, 4})
    out_good, out_bad = tmp_path / "run-good", tmp_path / "run-bad"
    first = run_cli("eval", "tasks", str(good), "--reference", "--n", "1", "--k", "1", "--out", str(out_good),
                    "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["status"] == "complete" and report["pass_at_k"]["pass@1"]["value"] == 1.0
    assert (out_good / "samples.jsonl").read_text().count("\n") == 6

    # A rerun finds everything done and produces the same report without executing anything.
    again = run_cli("eval", "tasks", str(good), "--reference", "--n", "1", "--k", "1", "--out", str(out_good),
                    cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (out_good / "samples.jsonl").read_text().count("\n") == 6
    assert "pass@1" in again.stdout and "100.0%" in again.stdout

    r = run_cli("eval", "tasks", str(bad), "--reference", "--n", "1", "--k", "1", "--out", str(out_bad), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((out_bad / "report.json").read_text())["pass_at_k"]["pass@1"]["value"] == pytest.approx(0.5)

    compare = run_cli("eval", "compare", str(out_bad), str(out_good), cwd=tmp_path)
    assert compare.returncode == 0, compare.stderr
    assert "pass@1" in compare.stdout and "double/1" in compare.stdout
    assert "within the noise" in compare.stdout  # 3 of 6 tasks differ: p = 0.25
    data = json.loads(run_cli("eval", "compare", str(out_bad), str(out_good), "--json", cwd=tmp_path).stdout)
    assert data["metrics"]["pass@1"]["diff"] == pytest.approx(0.5)
    assert data["metrics"]["pass@1"]["p_value"] == pytest.approx(0.25)
    assert {row["task_id"] for row in data["per_task"]} == {"double/1", "double/3", "double/4"}


def test_half_written_line_is_redone(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "s.jsonl", 4)
    out = tmp_path / "run"
    assert run_cli("eval", "tasks", str(suite), "--reference", "--n", "1", "--k", "1", "--out", str(out)).returncode == 0
    lines = (out / "samples.jsonl").read_text().splitlines()
    (out / "samples.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:30])  # crash mid-write
    r = run_cli("eval", "tasks", str(suite), "--reference", "--n", "1", "--k", "1", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["status"] == "complete" and report["samples"] == 4


def test_ctrl_c_leaves_a_valid_partial_report_and_rerun_finishes(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "slow.jsonl", 8, sleep_s=0.6)
    out = tmp_path / "run"
    exe = Path(sys.executable).with_name("repo-assistant")
    # A test run started in the background by a non-interactive shell inherits SIGINT ignored,
    # and Python keeps an ignored SIGINT ignored: give the child the default disposition back.
    proc = subprocess.Popen([str(exe), "eval", "tasks", str(suite), "--reference", "--n", "1", "--k", "1",
                             "--workers", "1", "--out", str(out)], cwd=tmp_path, env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        samples = out / "samples.jsonl"
        if samples.is_file() and samples.read_text().count("\n") >= 2:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "partial"
    done = report["samples"]
    assert 2 <= done < 8
    r = run_cli("eval", "tasks", str(suite), "--reference", "--n", "1", "--k", "1", "--workers", "2",
                "--out", str(out), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"resuming: {done} samples already done" in r.stderr
    final = json.loads(r.stdout)
    assert final["status"] == "complete" and final["samples"] == 8


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "a", "prompt": "x"}\n')
    r = run_cli("eval", "tasks", str(bad), "--reference", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "missing field(s) test" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("eval", "tasks", str(tmp_path / "nope.jsonl"))
    assert r.returncode == 2 and "task file not found" in r.stderr
    r = run_cli("eval", "compare", str(tmp_path / "x"), str(tmp_path / "y"))
    assert r.returncode == 2 and "no report" in r.stderr
    r = run_cli("eval")
    assert r.returncode == 2 and "subcommand" in r.stderr


def test_out_dir_of_another_configuration_is_refused(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "s.jsonl", 2)
    out = tmp_path / "run"
    assert run_cli("eval", "tasks", str(suite), "--reference", "--n", "1", "--k", "1", "--out", str(out)).returncode == 0
    other = _suite(tmp_path / "other.jsonl", 2)
    r = run_cli("eval", "tasks", str(other), "--reference", "--n", "1", "--k", "1", "--out", str(out))
    assert r.returncode == 2 and "different suite" in r.stderr
