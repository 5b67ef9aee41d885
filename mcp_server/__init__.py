"""The Model Context Protocol front end: the repository's index served to other coding agents.

A thin driver of the feature service (:mod:`assistant.session`), like the CLI and the TUI.
"""
