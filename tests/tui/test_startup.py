"""The UI starts without the heavy libraries, and the CLI routes to it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT, run_cli


def test_tui_import_loads_no_model_library() -> None:
    code = ("import sys, tui.app, cli.commands.tui_cmd; "
            "print(','.join(m for m in ('torch', 'transformers', 'sentence_transformers', 'onnxruntime', 'qdrant_client')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert out.stdout.strip() == ""


def test_cli_command_is_registered_and_documented() -> None:
    result = run_cli("tui", "--help")
    assert result.returncode == 0
    assert "--resume" in result.stdout and "PATH" in result.stdout


def test_bad_path_is_a_one_line_error(tmp_path: object) -> None:
    result = run_cli("/nonexistent/repo/path")
    assert result.returncode == 2
    assert result.stderr.strip() == "repo-assistant: error: repository path does not exist: /nonexistent/repo/path"
