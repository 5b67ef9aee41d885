"""The ``repo-assistant`` command line.

``main.py`` parses flags, resolves the repository and settings and turns errors
into one-line messages; each subcommand lives in ``commands/<name>.py`` and
exposes a module-level ``COMMAND`` (see :class:`cli.registry.Command`).
Command modules import heavy libraries (torch, transformers, textual) inside
their ``run`` function so that ``--help`` stays instant.
"""
