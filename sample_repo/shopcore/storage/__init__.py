"""Persistence: SQLite schema, connections and repositories."""

from shopcore.storage.db import connect, init_schema, open_database, transaction

__all__ = ["connect", "init_schema", "open_database", "transaction"]
