"""The sandbox really stops what model-written code may do: loop, allocate, fork, connect, leak env."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.sandbox import SandboxLimits, run_sandboxed, sandbox_capabilities
from base.errors import SandboxError


def _run(code: str, cwd: Path, **limits: object) -> object:
    return run_sandboxed([sys.executable, "-c", code], cwd, SandboxLimits(**limits))  # type: ignore[arg-type]


def _pids_with_env(marker: str) -> list[int]:
    """Processes (other than us) whose environment carries ``marker``: what the sandbox left alive."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


def test_plain_run_reports_output_and_exit_code(tmp_path: Path) -> None:
    result = _run("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)", tmp_path)
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert not result.timed_out and result.killed_reason is None


def test_infinite_loop_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    result = _run("while True:\n    pass", tmp_path, timeout_s=1.0)
    elapsed = time.monotonic() - start
    assert result.timed_out
    assert result.killed_reason == "timeout"
    assert result.returncode != 0
    assert elapsed < 4.0


def test_cpu_limit_stops_a_busy_loop(tmp_path: Path) -> None:
    result = _run("while True:\n    pass", tmp_path, timeout_s=10.0, cpu_s=1)
    assert result.killed_reason == "cpu"
    assert not result.timed_out
    assert result.duration_s < 5.0


def test_ten_gigabyte_allocation_is_stopped_by_the_memory_limit(tmp_path: Path) -> None:
    result = _run("data = bytearray(10 * 1024 ** 3)\nprint('allocated')", tmp_path, memory_mb=512)
    assert result.killed_reason == "memory"
    assert "allocated" not in result.stdout
    assert result.duration_s < 5.0


def test_fork_bomb_is_bounded_and_cleaned_up(tmp_path: Path) -> None:
    marker = f"FORKBOMB_MARK_{os.getpid()}_{time.monotonic_ns()}"
    bomb = (
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        time.sleep(0.01)\n"
    )
    before = len([p for p in os.listdir("/proc") if p.isdigit()])
    result = run_sandboxed([sys.executable, "-c", bomb], tmp_path,
                           SandboxLimits(timeout_s=2.0, max_processes=16), env={"MARK": marker})
    assert result.timed_out
    assert _pids_with_env(marker) == []
    after = len([p for p in os.listdir("/proc") if p.isdigit()])
    assert after < before + 50  # nothing piled up on the machine (other users come and go)
    # The machine still works: the next sandboxed run starts and finishes normally.
    assert _run("print('alive')", tmp_path).stdout == "alive\n"


def test_process_limit_caps_the_number_of_children(tmp_path: Path) -> None:
    code = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(60):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(3)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print(n)\n"
    )
    result = _run(code, tmp_path, max_processes=16, timeout_s=10.0)
    forked = int(result.stdout.strip())
    assert 1 <= forked < 16


def test_children_are_killed_with_the_group_even_after_setsid(tmp_path: Path) -> None:
    marker = f"CHILD_MARK_{os.getpid()}_{time.monotonic_ns()}"
    code = (
        "import os, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(0.3)\n"
        "print('leader done')\n"
    )
    result = run_sandboxed([sys.executable, "-c", code], tmp_path, SandboxLimits(timeout_s=10.0),
                           env={"MARK": marker})
    assert result.stdout == "leader done\n"
    assert result.duration_s < 5.0
    assert _pids_with_env(marker) == []


@pytest.fixture
def local_server() -> object:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"hello")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    server.close()


_CONNECT = (
    "import socket, sys\n"
    "s = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
    "print(s.recv(5).decode())\n"
)


def test_network_is_unreachable_inside_the_sandbox(tmp_path: Path, local_server: int) -> None:
    if not sandbox_capabilities()["network_isolation"]:
        pytest.skip("this kernel/container does not allow a new network namespace: isolation unavailable")
    blocked = _run(_CONNECT.format(port=local_server), tmp_path)
    assert blocked.network_isolated
    assert blocked.returncode != 0
    assert "hello" not in blocked.stdout
    assert "OSError" in blocked.stderr or "Error" in blocked.stderr
    # Control: the same program reaches the server when the network is allowed.
    allowed = _run(_CONNECT.format(port=local_server), tmp_path, network=True)
    assert not allowed.network_isolated
    assert allowed.stdout.strip() == "hello", allowed.stderr


def test_environment_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    result = run_sandboxed([sys.executable, "-c", code], tmp_path, SandboxLimits(), env={"EXTRA": "1"})
    import json

    env = json.loads(result.stdout)
    assert "OPENAI_API_KEY" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert "sk-very-secret" not in result.stdout
    assert env["EXTRA"] == "1"
    assert env["PYTHONHASHSEED"] == "0"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] != os.environ.get("HOME")
    assert "PATH" in env and "LANG" in env


def test_output_is_capped_keeping_head_and_tail(tmp_path: Path) -> None:
    code = "print('START'); print('x' * 3_000_000); print('END')"
    result = _run(code, tmp_path, max_output_bytes=10_000)
    assert result.output_truncated
    assert len(result.stdout) < 11_000
    assert result.stdout.startswith("START")
    assert result.stdout.rstrip().endswith("END")
    assert result.returncode == 0


def test_files_written_in_cwd_stay_with_the_cwd_owner(tmp_path: Path) -> None:
    (tmp_path / "input.txt").write_text("data")
    result = _run("open('out.txt', 'w').write(open('input.txt').read() * 2)", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.txt").read_text() == "datadata"
    owner = tmp_path.stat().st_uid
    assert (tmp_path / "out.txt").stat().st_uid == owner
    assert (tmp_path / "input.txt").stat().st_uid == owner


def test_file_size_limit(tmp_path: Path) -> None:
    code = "f = open('big.bin', 'wb')\nfor _ in range(40):\n    f.write(b'0' * 1024 * 1024)\n    f.flush()"
    result = _run(code, tmp_path, max_file_mb=4)
    assert result.returncode != 0
    assert result.killed_reason == "file_size"
    assert (tmp_path / "big.bin").stat().st_size <= 4 * 1024 * 1024


def test_stdin_is_passed(tmp_path: Path) -> None:
    result = run_sandboxed([sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"], tmp_path,
                           SandboxLimits(), stdin="abc")
    assert result.stdout.strip() == "ABC"


def test_setup_errors_are_sandbox_errors(tmp_path: Path) -> None:
    with pytest.raises(SandboxError):
        run_sandboxed([sys.executable, "-c", "pass"], tmp_path / "missing", SandboxLimits())
    with pytest.raises(SandboxError):
        run_sandboxed(["/nonexistent/program"], tmp_path, SandboxLimits())
