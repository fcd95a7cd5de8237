"""The one way fetcher writes SQL: plain statements with `?` parameters on one connection, rows as dicts.

Every room of the store goes through a `Database`; it is the seam a second backend plugs into
(the same methods over another driver). Writes happen inside `write()`, one short transaction
taken at its start; a full disk, a quota or file-size limit, a read-only file or a lock held
too long becomes StoreUnavailable naming the store (exit 75), and nothing of the transaction is
kept. A damaged page met by any statement, read or write, becomes StoreDamaged (exit 2), and
from then on the Database writes nothing more.
"""

import contextlib
import sqlite3
from pathlib import Path
from typing import Callable, Iterable, Iterator

from fetcher.errors import StoreDamaged, StoreError, StoreUnavailable
from fetcher.store.dialect import SQLITE

READ_ONLY = "the store is read-only"
# SQLite's messages for a store that cannot be written now but can be later: what each means.
_UNAVAILABLE = {
    "database or disk is full": "the disk is full",
    # SQLITE_IOERR: a write refused with EFBIG (a file-size limit) or EDQUOT (a quota) is one, as is a failing disk.
    "disk i/o error": "the disk refused a write (disk I/O error: a file-size limit, a disk quota or a failing disk)",
    "attempt to write a readonly database": READ_ONLY,
    "database is locked": "another program held the store's write lock past the busy timeout",
}


# What reading a store can fail with: a PostgreSQL store's failures are all typed (postgres.failure), SQLite's not all.
STORE_ERRORS = (sqlite3.Error, StoreError, StoreUnavailable)

# SQLite's primary result codes for a store whose pages are not what SQLite wrote.
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26


class Database:
    """SQLite's; fetcher.store.postgres.PostgresDatabase is the same methods over psycopg."""

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection, path: Path, on_close: Callable[[], None] | None = None):
        self.conn = conn
        self.path = path
        self.damage: StoreDamaged | None = None  # once met, nothing more is written
        self._on_close = on_close  # what closing it leaves to do (schema.py: tidy what a reader made)

    def select(self, sql: str, params: Iterable = ()) -> list[dict]:
        return list(self.rows(sql, params))

    def rows(self, sql: str, params: Iterable = ()) -> Iterator[dict]:
        """The rows a query answers, one at a time: a walk over any number of them stays small."""
        with self.guarded():
            cursor = self.conn.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        return self._each(cursor, names)

    def _each(self, cursor: sqlite3.Cursor, names: list[str]) -> Iterator[dict]:
        with self.guarded():  # a damaged page may be met at any row
            for row in cursor:
                yield dict(zip(names, row))

    def stream(self, sql: str, params: Iterable = ()) -> Iterator[dict]:
        """The rows of a query that may answer any number of them (an export), one at a time; SQLite's rows()
        already steps through them as they are taken."""
        return self.rows(sql, params)

    def first(self, sql: str, params: Iterable = ()) -> dict | None:
        return next(self.rows(sql, params), None)

    def one(self, sql: str, params: Iterable = ()):
        """The single value a query answers."""
        with self.guarded():
            return self.conn.execute(sql, list(params)).fetchone()[0]

    def one_or_none(self, sql: str, params: Iterable = ()):
        """The first column of the first row a query answers, None when it answers none."""
        row = self.first(sql, params)
        return None if row is None else next(iter(row.values()))

    def execute(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        """A statement; a write belongs inside `write()`, which makes SQLite's refusals StoreUnavailable."""
        with self.guarded():
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
        """Whether the store itself (not a TEMP view standing in for a table it lacks) has the table."""
        return self.first("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]) is not None

    def has_index(self, name: str) -> bool:
        return self.first("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", [name]) is not None

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def where(self) -> str:
        """The store as a person names it: the file's full path."""
        return str(self.path.resolve())

    def size(self) -> int:
        """The database with its write-ahead log: what the store takes on disk."""
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(path.stat().st_size for path in files if path.exists())

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One short write transaction, taken at its start (BEGIN IMMEDIATE).

        A deferred transaction that reads and then writes fails at once, without the busy
        wait, when another connection wrote in between; taking the write lock first waits
        its turn instead.
        """
        if self.damage is not None:
            raise self.damage  # a store with a damaged page is written no more, the run's own row included
        with self.unavailable_as_error(), self.guarded():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                if self.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def claiming(self) -> Iterator[None]:
        """A transaction that writes only rows it locked itself (store/claims.py). SQLite has no row locks: its
        write lock, as every write; PostgreSQL's takes no store-wide lock, so claimers never wait for each other."""
        with self.write():
            yield

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: every read inside sees the same snapshot of the store.

        In WAL mode it neither waits for a writer nor holds one up; it writes nothing, so it ends
        the same way however it ends.
        """
        self.execute("BEGIN")
        try:
            yield
        finally:
            if self.in_transaction:
                self.execute("COMMIT")

    @contextlib.contextmanager
    def unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise unavailable(self.path, exc) or exc from None

    @contextlib.contextmanager
    def guarded(self) -> Iterator[None]:
        """A damaged page becomes StoreDamaged, and the Database writes no more; text another program stored
        that is not UTF-8 becomes StoreError naming it."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            problem = damaged(self.path, exc) or undecodable(self.path, exc)
            if problem is None:
                raise
            if isinstance(problem, StoreDamaged):
                self.damage = problem
            raise problem from None

    @contextlib.contextmanager
    def tolerant(self) -> Iterator[None]:
        """Text another program stored that is not UTF-8 read as a str whose bad bytes are lone surrogates, which
        store/stored.py names as a value that is not text, rather than failing the whole query (and every row
        it reads). Only for queries read whole inside it: a row fetched later is decoded strictly again."""
        self.conn.text_factory = _surrogate_escaped
        try:
            yield
        finally:
            self.conn.text_factory = str

    def close(self) -> None:
        self.conn.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()


def _surrogate_escaped(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


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
            return cannot_write(path, meaning)
    return None


def cannot_write(path: Path, meaning: str) -> StoreUnavailable:
    return StoreUnavailable(f"{path}: cannot write the store: {meaning}; nothing was lost, re-run when it can")


def damaged(path: Path, exc: sqlite3.DatabaseError) -> StoreDamaged | None:
    """The StoreDamaged an SQLite error means (a page that is not what SQLite wrote), or None."""
    code = getattr(exc, "sqlite_errorcode", None)
    if (code is None or code & 0xFF not in (SQLITE_CORRUPT, SQLITE_NOTADB)) and "malformed" not in str(exc):
        return None
    return StoreDamaged(
        f"{path}: the store is damaged ({exc}); fetcher writes nothing more to it: restore it from a backup, or "
        f"recover what is readable with `sqlite3 {path} .recover`"
    )


def undecodable(path: Path, exc: sqlite3.DatabaseError) -> StoreError | None:
    """Text another program stored that is not UTF-8 (sqlite3 cannot decode it), named; None for other errors."""
    if not str(exc).startswith("Could not decode to UTF-8"):
        return None
    return StoreError(f"{path}: {exc}: another program stored text that is not UTF-8")
