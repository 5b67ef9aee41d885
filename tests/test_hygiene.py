"""Architecture and lint rules, checked mechanically."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", ["base", "assistant", "indexer", "retrieval", "cli.main"])
def test_core_never_imports_textual(package: str) -> None:
    code = (
        f"import importlib, sys; importlib.import_module({package!r}); "
        "bad = [m for m in ('textual', 'tui', 'torch', 'transformers') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"{package} imports {out.stdout.strip()} at import time"


def test_import_contracts() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("import-linter not installed")
    result = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    ruff_cmd = str(ruff) if ruff.exists() else shutil.which("ruff")
    if not ruff_cmd:
        pytest.skip("ruff not installed")
    result = subprocess.run([ruff_cmd, "check", "--output-format", "concise", "."],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout
