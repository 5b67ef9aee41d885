"""Logging goes to a file, never into command output.

The log is ``<repo>/.repo-assistant/logs/assistant.log``, created only when the
first record is written, so read-only commands on a clean checkout leave no
trace.  When the repository cannot be written (a read-only checkout or mount) the
log moves to the user cache dir (``<cache>/logs/<repo name>-<hash>.log``), and if
that fails too, warnings go to stderr: a log must never break a command that only
reads.  Library chatter (transformers, httpx, qdrant) is kept at WARNING.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path
from typing import IO

from base.paths import ensure_data_dir, repo_data_dir, user_cache_dir

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY_LOGGERS = ("httpx", "httpcore", "urllib3", "transformers", "sentence_transformers", "filelock", "markdown_it")
LOG_NAME = "assistant.log"


class _FallbackFileHandler(logging.FileHandler):
    """A FileHandler that opens its file at the first record, trying each candidate in turn.

    ``repo`` (when given) means the first candidate lies in that repository's data dir,
    which is created with its ``.gitignore``.  ``baseFilename`` ends up naming the file
    really written, or ``"<stderr>"`` when no file could be opened.
    """

    def __init__(self, candidates: list[Path], repo: Path | None) -> None:
        super().__init__(candidates[0], delay=True, encoding="utf-8")
        self.candidates = candidates
        self.repo = repo

    def _open(self) -> IO[str]:  # type: ignore[override]
        for index, candidate in enumerate(self.candidates):
            try:
                if index == 0 and self.repo is not None:
                    ensure_data_dir(self.repo, "logs")
                else:
                    candidate.parent.mkdir(parents=True, exist_ok=True)
                stream = open(candidate, self.mode, encoding=self.encoding)  # noqa: SIM115 (the handler owns it)
            except OSError:
                continue
            self.baseFilename = str(candidate)
            return stream
        # nowhere to write: keep warnings visible on stderr (a duplicate descriptor, so close() is harmless)
        self.setLevel(logging.WARNING)
        self.baseFilename = "<stderr>"
        return open(os.dup(sys.stderr.fileno()), "w", encoding="utf-8", closefd=True)


def log_file_for(repo: Path) -> Path:
    """Where this repository's log lives when the repository is writable."""
    return repo_data_dir(repo) / "logs" / LOG_NAME


def fallback_log_file(repo: Path) -> Path:
    """Where this repository's log goes when the repository itself is read-only."""
    digest = hashlib.sha1(str(repo).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return user_cache_dir() / "logs" / f"{repo.name or 'root'}-{digest}.log"


def current_log_file() -> str | None:
    """The file the log is really written to (after a fallback), or ``None`` before any record."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _FallbackFileHandler):
            return handler.baseFilename if handler.stream is not None else str(handler.candidates[0])
    return None


def configure_logging(repo: Path | None, *, debug: bool = False) -> Path | None:
    """Send the root logger to the repository's log file (with fallbacks); return its preferred path."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _FallbackFileHandler):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if repo is None:
        return None
    path = log_file_for(repo)
    handler = _FallbackFileHandler([path, fallback_log_file(repo)], repo)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    return path
