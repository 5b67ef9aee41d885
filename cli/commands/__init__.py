"""Subcommands of ``repo-assistant``, one module each (discovered automatically)."""
