"""Logging goes to a file in the repository's data dir, never into command output.

The handler creates ``<repo>/.repo-assistant/logs/assistant.log`` only when the
first record is written, so read-only commands on a clean checkout leave no
trace.  Library chatter (transformers, httpx, qdrant) is kept at WARNING.
"""

from __future__ import annotations

import logging
from pathlib import Path

from base.paths import repo_data_dir

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY_LOGGERS = ("httpx", "httpcore", "urllib3", "transformers", "sentence_transformers", "filelock", "markdown_it")


class _LazyDirFileHandler(logging.FileHandler):
    """A FileHandler that creates its directory at the first write."""

    def _open(self):  # type: ignore[override]
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def log_file_for(repo: Path) -> Path:
    """Where this repository's log lives."""
    return repo_data_dir(repo) / "logs" / "assistant.log"


def configure_logging(repo: Path | None, *, debug: bool = False) -> Path | None:
    """Send the root logger to the repository's log file; return its path."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LazyDirFileHandler):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if repo is None:
        return None
    path = log_file_for(repo)
    handler = _LazyDirFileHandler(path, delay=True, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    return path
