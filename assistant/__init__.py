"""repo-assistant: a repository-aware code assistant for the terminal.

This package holds the application core (configuration, errors, models, prompts,
completion/explanation/patch flows, evaluation, CLI).  It never imports `tui`:
the Textual app is a thin face over these modules.
"""

__version__ = "0.1.0"
