"""One exception hierarchy for every layer.

Each error carries a one-line, user-facing message and, where we know it, the
fix (``hint``).  The CLI prints ``message`` (plus the hint) on one line of stderr
with a non-zero exit code; the TUI shows the same text as a notification.  Code
that catches errors from libraries wraps them in one of these so that users
never see a traceback unless they ask for it with ``--debug``.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error a user may see.  ``exit_code`` is what the CLI returns."""

    exit_code: int = 1
    title: str = "Error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and the hint joined on a single line, as the CLI prints it."""
        text = " ".join(self.message.split())
        if self.hint:
            text = f"{text} ({' '.join(self.hint.split())})"
        return text


class ConfigError(AssistantError):
    """A configuration file, variable or flag is wrong."""

    exit_code = 2
    title = "Configuration error"


class UsageError(AssistantError):
    """The command line asks for something impossible (bad path, bad range...)."""

    exit_code = 2
    title = "Usage error"


class IndexingError(AssistantError):
    """The index is missing, outdated, locked or could not be written."""

    title = "Index error"


class IndexMissingError(IndexingError):
    """No usable index exists yet for the repository."""

    title = "No index"


class IndexLockedError(IndexingError):
    """Another process is writing the index right now."""

    exit_code = 3
    title = "Index busy"


class RetrievalError(AssistantError):
    """A search or context request could not be answered."""

    title = "Retrieval error"


class ModelError(AssistantError):
    """A model could not be loaded or failed while generating."""

    title = "Model error"


class ModelUnavailableError(ModelError):
    """The model id/path/endpoint cannot be reached or found."""

    title = "Model unavailable"


class GenerationCancelled(ModelError):
    """The user cancelled a generation; callers treat it as a normal stop."""

    title = "Cancelled"


class PatchError(AssistantError):
    """A patch could not be parsed, validated, applied or undone."""

    title = "Patch error"


class SandboxError(AssistantError):
    """Sandboxed execution could not be set up."""

    title = "Sandbox error"
