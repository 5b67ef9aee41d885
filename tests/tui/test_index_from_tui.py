"""Indexing from the TUI, above the size where the indexer chunks in worker processes.

Textual replaces ``sys.stderr`` while the app runs; starting a process pool from a
worker thread then used to fail (``ValueError: bad value(s) in fds_to_keep``) and
the status stayed "no index".  These tests index a generated repository larger
than ``indexer.pipeline.PARALLEL_MIN_FILES`` through the app, as a user would.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from indexer.pipeline import PARALLEL_MIN_FILES
from tests.tui.conftest import tui_settings
from tests.tui.fakes import ScriptedBackend
from tests.tui.helpers import settle
from tui import messages as m
from tui.app import make_app
from tui.screens.confirm import ConfirmScreen
from tui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.anyio

FILES = PARALLEL_MIN_FILES + 50


def _big_repo(root: Path) -> Path:
    """``FILES`` small Python modules, one function each: above the parallel chunking threshold."""
    for i in range(FILES):
        package = root / f"pkg{i // 50}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"mod_{i:03d}.py").write_text(
            f'"""Module {i}."""\n\n\ndef compute_{i}(value: int) -> int:\n'
            f'    """Add {i} to value."""\n    return value + {i}\n',
            encoding="utf-8",
        )
    return root


async def test_index_now_indexes_a_repository_above_the_parallel_threshold(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    repo = _big_repo(tmp_path / "big")
    settings = tui_settings()
    settings.index.embeddings = False
    seen: list[object] = []
    app = make_app(repo, settings, backend=ScriptedBackend(), preload_model=False, cursor_blink=False)
    caplog.set_level(logging.INFO, logger="indexer.pipeline")
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the Index now? dialog")
        await pilot.press("y")
        status = app.query_one(StatusBar)
        await settle(pilot, lambda: not isinstance(app.screen, ConfirmScreen) and not app._indexing
                     and not status.index_label.startswith(("indexing", "index: checking")),
                     "the index run and the state check after it")
        assert not [n.message for n in app._notifications if n.severity == "error"]
        finished = [s for s in seen if isinstance(s, m.IndexFinished)]
        assert finished and finished[0].stats.files_indexed == FILES
        assert status.index_label == "index fresh"
    if (os.cpu_count() or 1) > 1:
        # The fix keeps the parallel path: chunking ran in worker processes, not in the app's thread.
        assert "worker processes" in caplog.text
        assert "chunking in this process" not in caplog.text
