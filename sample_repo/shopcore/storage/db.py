"""SQLite connection handling and schema management."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

SCHEMA_RESOURCE = "schema.sql"
DEMO_DATA_RESOURCE = "demo_data.sql"


def connect(path: str | Path = ":memory:") -> sqlite3.Connection:
    """Open a database with the settings every shopcore component expects.

    Rows are returned as :class:`sqlite3.Row` (accessible by column name) and
    foreign keys are enforced.  The connection is in autocommit mode; use
    :func:`transaction` to group statements.
    """
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _read_sql(resource: str) -> str:
    return resources.files("shopcore.storage").joinpath(resource).read_text(encoding="utf-8")


def init_schema(conn: sqlite3.Connection) -> None:
    """Create all tables (idempotent)."""
    conn.executescript(_read_sql(SCHEMA_RESOURCE))


def load_demo_data(conn: sqlite3.Connection) -> None:
    """Insert the demo catalogue, stock and coupons."""
    with transaction(conn):
        for statement in _read_sql(DEMO_DATA_RESOURCE).split(";"):
            if statement.strip():
                conn.execute(statement)


def open_database(path: str | Path, *, create: bool = False) -> sqlite3.Connection:
    """Connect to an existing shopcore database (or create one)."""
    if str(path) != ":memory:" and not create and not Path(path).exists():
        raise FileNotFoundError(f"database {path} does not exist; run `shopcore init` first")
    conn = connect(path)
    if create:
        init_schema(conn)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block atomically; nested use creates savepoints.

    >>> with transaction(conn):
    ...     conn.execute("INSERT ...")
    """
    if conn.in_transaction:
        name = f"sp_{id(conn)}_{_next_savepoint()}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_savepoint_counter = 0


def _next_savepoint() -> int:
    global _savepoint_counter
    _savepoint_counter += 1
    return _savepoint_counter
