"""base.forked: a function run in a forked child, its result or its error back in the caller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from base.forked import ForkedCall

ROOT = Path(__file__).resolve().parents[1]
needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")


def _in_fresh_process(body: str) -> dict:
    """Run ``body`` in a new single-threaded interpreter (pytest's may have threads) and return its JSON."""
    script = "import json, os, sys, time\nfrom base.forked import ForkedCall\n" + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@needs_fork
def test_the_function_runs_in_a_child_while_the_caller_goes_on() -> None:
    found = _in_fresh_process("""
        def slow_pid(seconds):
            time.sleep(seconds)
            return {"pid": os.getpid(), "cpu_count": 2}
        started = time.perf_counter()
        call = ForkedCall.start(slow_pid, 0.5)
        time.sleep(0.5)  # the caller's own work, at the same time
        result = call.result()
        print(json.dumps({"forked": call.forked, "child": result["pid"], "me": os.getpid(),
                          "elapsed": time.perf_counter() - started}))
    """)
    assert found["forked"] and found["child"] != found["me"]
    assert found["elapsed"] < 0.95  # both half-seconds overlapped (serially it is 1.0 s at least)


@needs_fork
def test_an_error_in_the_child_is_raised_by_the_caller_as_its_own() -> None:
    found = _in_fresh_process("""
        calls = []
        def fails(path):
            calls.append(os.getpid())
            open(path)
        call = ForkedCall.start(fails, "/nonexistent/file")
        try:
            call.result()
        except FileNotFoundError as exc:
            print(json.dumps({"raised": type(exc).__name__, "here": calls == [os.getpid()]}))
    """)
    assert found == {"raised": "FileNotFoundError", "here": True}  # run again here, where the error is raised


@needs_fork
def test_a_result_pickle_cannot_carry_is_computed_by_the_caller() -> None:
    found = _in_fresh_process("""
        def unpicklable():
            return (os.getpid(), lambda: None)
        call = ForkedCall.start(unpicklable)
        pid, _fn = call.result()
        print(json.dumps({"forked": call.forked, "here": pid == os.getpid()}))
    """)
    assert found == {"forked": True, "here": True}


@needs_fork
def test_cancel_kills_and_reaps_the_child() -> None:
    found = _in_fresh_process("""
        call = ForkedCall.start(time.sleep, 60)
        child = call._pid
        started = time.perf_counter()
        call.cancel()
        try:
            os.waitpid(child, os.WNOHANG)
            reaped = False
        except ChildProcessError:
            reaped = True
        print(json.dumps({"reaped": reaped, "quick": time.perf_counter() - started < 10}))
    """)
    assert found == {"reaped": True, "quick": True}


def test_with_another_thread_running_the_caller_computes_it_itself() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        call = ForkedCall.start(os.getpid)
        assert not call.forked  # a child of a threaded process could inherit a lock it never gets back
        assert call.result() == os.getpid()
    finally:
        stop.set()
        other.join()


def test_results_of_plain_data_come_back_equal() -> None:
    value = {"stale": [f"pkg/mod_{n}.py" for n in range(5000)], "n": 3, "nested": [(1, "a"), None]}
    call = ForkedCall.start(lambda: value)  # forked or not (pytest may have threads): the same value
    started = time.perf_counter()
    assert call.result() == value
    assert time.perf_counter() - started < 30
