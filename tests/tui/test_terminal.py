"""End to end in a real terminal: the installed ``repo-assistant`` in tmux, a typed question, the answer.

Skipped when tmux is missing (``make test`` installs it where it can: ``make system-deps``).
Polling the terminal is the only way to watch another process's screen, so this
test waits on ``capture-pane`` output with a deadline instead of on workers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None,
                       reason="tmux is not installed (apt-get install tmux, or `make system-deps`)"),
]

QUESTION = "where is the price of an order computed?"


class Terminal:
    """A private tmux server running one command in a fixed-size window."""

    def __init__(self, name: str) -> None:
        self.socket = name

    def tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, "-f", os.devnull, *args],
                                capture_output=True, text=True, timeout=30, check=False)
        return result.stdout

    def start(self, command: list[str], env: dict[str, str], width: int = 140, height: int = 48) -> None:
        exports = " ".join(f"{key}={_quote(value)}" for key, value in env.items())
        # env -i: nothing leaks from the test process (COLUMNS/LINES would pin the app's size).
        line = f"env -i {exports} {' '.join(_quote(c) for c in command)}; sleep 30"
        # Without a client attached tmux sizes new windows by ``default-size`` (80x24): set it first.
        self.tmux("start-server", ";", "set-option", "-g", "default-size", f"{width}x{height}", ";",
                  "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height), line)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "main")

    def wait_for(self, predicate: object, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):  # type: ignore[operator]
                return screen
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{screen}")

    def close(self) -> None:
        self.tmux("kill-server")


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal(f"repo-assistant-test-{os.getpid()}")
    yield term
    term.close()


def test_question_in_a_real_terminal(repo: Path, terminal: Terminal) -> None:
    exe = Path(sys.executable).with_name("repo-assistant")
    env = {
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"],
        "XDG_DATA_HOME": os.environ["XDG_DATA_HOME"],
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "REPO_ASSISTANT_MODEL_MAX_NEW_TOKENS": "24",
        "REPO_ASSISTANT_MODEL_THREADS": "1",
    }
    if "REPO_ASSISTANT_CACHE_DIR" in os.environ:
        env["REPO_ASSISTANT_CACHE_DIR"] = os.environ["REPO_ASSISTANT_CACHE_DIR"]
    terminal.start([str(exe), str(repo)], env)
    terminal.wait_for(lambda s: "index fresh" in s and "· cpu" in s, 180, "the index check and the model")
    terminal.tmux("send-keys", "-t", "main", "-l", QUESTION)
    terminal.tmux("send-keys", "-t", "main", "Enter")
    screen = terminal.wait_for(lambda s: ("cited " in s or "source " in s) and "– tok/s" not in s, 180,
                               "the streamed answer, its sources and its speed")
    assert "tok/s" in screen
    saved = list((repo / ".repo-assistant" / "sessions").glob("*.json"))
    assert saved, "the conversation is saved"
    turns = json.loads(saved[0].read_text(encoding="utf-8"))["turns"]
    assert turns[0]["content"] == QUESTION and turns[1]["role"] == "assistant"
    # What the terminal shows is the answer that was saved (its first words are on screen).
    first_words = " ".join(turns[1]["content"].split()[:2])
    assert first_words and first_words in " ".join(screen.split())
    terminal.tmux("send-keys", "-t", "main", "C-q")
