"""The one way fetcher writes SQL: plain statements with `?` parameters on one connection, rows as dicts.

Every room of the store goes through a `Database`; it is the seam a second backend plugs into
(the same methods over another driver). Writes happen inside `write()`, one short transaction
taken at its start; a full disk, a read-only file or a lock held too long becomes
StoreUnavailable naming the store (exit 75), and nothing of the transaction is kept.
"""

import contextlib
import sqlite3
from pathlib import Path
from typing import Callable, Iterable, Iterator

from fetcher.errors import StoreUnavailable

# SQLite's messages for a store that cannot be written now but can be later: what each means.
_UNAVAILABLE = {
    "database or disk is full": "the disk is full",
    "attempt to write a readonly database": "the store is read-only",
    "database is locked": "another program held the store's write lock past the busy timeout",
}


class Database:
    def __init__(self, conn: sqlite3.Connection, path: Path, on_close: Callable[[], None] | None = None):
        self.conn = conn
        self.path = path
        self._on_close = on_close  # what closing it leaves to do (schema.py: tidy what a reader made)

    def select(self, sql: str, params: Iterable = ()) -> list[dict]:
        return list(self.rows(sql, params))

    def rows(self, sql: str, params: Iterable = ()) -> Iterator[dict]:
        """The rows a query answers, one at a time: a walk over any number of them stays small."""
        cursor = self.conn.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        return (dict(zip(names, row)) for row in cursor)

    def first(self, sql: str, params: Iterable = ()) -> dict | None:
        return next(self.rows(sql, params), None)

    def one(self, sql: str, params: Iterable = ()):
        """The single value a query answers."""
        return self.conn.execute(sql, list(params)).fetchone()[0]

    def execute(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        """A statement; a write belongs inside `write()`, which makes SQLite's refusals StoreUnavailable."""
        return self.conn.execute(sql, list(params))

    def insert(self, table: str, values: dict) -> int:
        names = ", ".join(values)
        cursor = self.execute(f"INSERT INTO {table} ({names}) VALUES ({marks(len(values))})", values.values())
        return cursor.lastrowid

    def update(self, table: str, key: dict, values: dict) -> None:
        assignments = ", ".join(f"{name} = ?" for name in values)
        where = " AND ".join(f"{name} = ?" for name in key)
        self.execute(f"UPDATE {table} SET {assignments} WHERE {where}", [*values.values(), *key.values()])

    def upsert(self, table: str, key: tuple[str, ...], values: dict) -> None:
        """Insert `values`, or set every column of them but the key on the row the key already names."""
        names = ", ".join(values)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in values if name not in key)
        self.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks(len(values))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assignments}",
            values.values(),
        )

    def has_table(self, name: str) -> bool:
        """A store opened read-only is not shaped: one from before a table existed lacks it, and reads as empty."""
        return self.first("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]) is not None

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One short write transaction, taken at its start (BEGIN IMMEDIATE).

        A deferred transaction that reads and then writes fails at once, without the busy
        wait, when another connection wrote in between; taking the write lock first waits
        its turn instead.
        """
        with self.unavailable_as_error():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise unavailable(self.path, exc) or exc from None

    def close(self) -> None:
        self.conn.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()


def marks(count: int) -> str:
    return ", ".join("?" * count)


def in_chunks(values: list, size: int = 500) -> Iterator[list]:
    """`values` a chunk at a time: SQLite takes at most so many parameters in one statement."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def unavailable(path: Path, exc: sqlite3.OperationalError) -> StoreUnavailable | None:
    """The StoreUnavailable an SQLite error means, or None when it means something else."""
    for message, meaning in _UNAVAILABLE.items():
        if message in str(exc).lower():
            return StoreUnavailable(f"{path}: cannot write the store: {meaning}; nothing was lost, re-run when it can")
    return None
