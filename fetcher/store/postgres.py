"""A PostgreSQL store: `PostgresDatabase`, the same methods as SQLite's `Database` over psycopg 3, and the
run lock as an advisory lock.

The store lives in the URL's database, in its current schema (the first of search_path). Writes are
serialised as SQLite serialises them (one writer at a time, waiting its turn): each write transaction
takes a transaction-level advisory lock first, so a write that reads and then writes (a fetch
checking its links still hold) sees what it writes over. A server that cannot be reached, a lock held
past `lock_timeout`, a full disk or a read-only server is StoreUnavailable (exit 75); a bad URL, a
refused login, a missing database or a missing `fetcher[postgres]` extra is StoreError (exit 2); one
line naming the store by its URL, which holds no password.
"""

import contextlib
import functools
import hashlib
import os
import socket
import time
from datetime import datetime, timezone
from typing import Iterable, Iterator

from fetcher.errors import FetcherError, StoreBusy, StoreError, StoreUnavailable
from fetcher.store.dialect import POSTGRES
from fetcher.location import PostgresURL
from fetcher.store.sql import READ_ONLY, Database

LOCK_TIMEOUT = "30s"  # how long a write waits for another's: SQLite's busy timeout
CONNECT_TIMEOUT = 10
POLL_SECONDS = 0.2
STREAM_ROWS = 500  # rows a streamed walk fetches at a time
# The tables whose `id` the store numbers (schema.sql's `id INTEGER PRIMARY KEY`): an insert returns it.
IDENTITY_TABLES = ("package", "sync_run", "worker")


def driver():
    """psycopg, or StoreError naming the extra that brings it."""
    try:
        import psycopg
    except ImportError:
        raise StoreError("a PostgreSQL store (store.url) needs psycopg: pip install 'fetcher[postgres]'") from None
    return psycopg


@functools.lru_cache(maxsize=1024)
def _placeholders(sql: str) -> str:
    """fetcher's `?` parameters as psycopg's `%s` (a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _storable(value):
    """A value as PostgreSQL can hold it: its text cannot hold NUL, which SQLite's can and a hostile answer may send;
    each becomes U+FFFD, the replacement character, so the package is written and the run goes on."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


class PostgresDatabase(Database):
    dialect = POSTGRES

    def __init__(self, conn, location: PostgresURL):
        super().__init__(conn, location)
        self.location = location
        self._cursors = 0  # server-side cursors opened, to name each anew
        name = self._one_row("SELECT current_database() || '.' || coalesce(current_schema(), '')")
        # One advisory lock key for the store's writes, another for its run lock: this database and schema's own.
        self.name = name
        self.write_key = _key(f"fetcher write {name}")
        self.run_key = _key(f"fetcher run {name}")

    def _one_row(self, sql: str):
        with self.guarded():
            return self.conn.execute(sql).fetchone()[0]

    def _run(self, sql: str, params: Iterable = ()):
        params = [_storable(value) for value in params]
        if not params:
            return self.conn.execute(sql)
        return self.conn.execute(_placeholders(sql), params)

    def rows(self, sql: str, params: Iterable = ()) -> Iterator[dict]:
        with self.guarded():
            cursor = self._run(sql, params)
        names = [column.name for column in cursor.description]
        return self._each(cursor, names)

    def stream(self, sql: str, params: Iterable = ()) -> Iterator[dict]:
        """Inside a transaction, a server-side cursor fetched STREAM_ROWS at a time: an export of any size stays
        small (psycopg's ordinary cursor holds every row of the answer at once)."""
        if not self.in_transaction:
            return self.rows(sql, params)
        self._cursors += 1
        with self.guarded():
            cursor = self.conn.cursor(name=f"fetcher_stream_{self._cursors}")
            cursor.itersize = STREAM_ROWS
            params = list(params)
            cursor.execute(_placeholders(sql) if params else sql, params or None)
        names = [column.name for column in cursor.description]
        return self._streamed(cursor, names)

    def _streamed(self, cursor, names: list[str]) -> Iterator[dict]:
        try:
            yield from self._each(cursor, names)
        finally:
            if self.in_transaction and not cursor.closed:
                with self.guarded():
                    cursor.close()

    def one(self, sql: str, params: Iterable = ()):
        with self.guarded():
            return self._run(sql, params).fetchone()[0]

    def execute(self, sql: str, params: Iterable = ()):
        with self.guarded():
            return self._run(sql, params)

    def insert(self, table: str, values: dict) -> int | None:
        names = ", ".join(values)
        returning = " RETURNING id" if table in IDENTITY_TABLES else ""
        cursor = self.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(values))}){returning}",
                              values.values())
        if not returning:
            return None
        if "id" in values:  # an id given: the identity goes on past it, as SQLite's rowid would
            self.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        return cursor.fetchone()[0]

    def has_table(self, name: str) -> bool:
        return self.first("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                          "AND table_type = 'BASE TABLE' AND table_name = ?", [name]) is not None

    def has_index(self, name: str) -> bool:
        return self.first("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?",
                          [name]) is not None

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != driver().pq.TransactionStatus.IDLE

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction, taken at its start: the store's write lock first, waited for up to lock_timeout."""
        with self._transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [self.write_key])
            yield

    @contextlib.contextmanager
    def claiming(self) -> Iterator[None]:
        """A transaction without the store's write lock: a claimer locks the rows it takes (FOR NO KEY UPDATE SKIP
        LOCKED), and skips those another holds, so claimers never wait behind each other or behind a write."""
        with self._transaction():
            yield

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN, then COMMIT, or ROLLBACK on anything raised inside or by the COMMIT itself."""
        with self.guarded():
            self.conn.execute("BEGIN")
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction on one snapshot; it waits for no writer and holds none up."""
        with self.guarded():
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            if self.in_transaction:
                self._rollback()

    def _rollback(self) -> None:
        with contextlib.suppress(driver().Error):  # a lost connection has rolled back already
            self.conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def unavailable_as_error(self) -> Iterator[None]:
        yield

    @contextlib.contextmanager
    def guarded(self) -> Iterator[None]:
        psycopg = driver()
        try:
            yield
        except psycopg.Error as exc:
            raise failure(self.location, exc) from None

    @contextlib.contextmanager
    def tolerant(self) -> Iterator[None]:
        """PostgreSQL keeps no text that is not valid in its encoding: there is nothing to tolerate."""
        yield

    def where(self) -> str:
        return str(self.location)

    def size(self) -> int:
        """What the store's tables and indexes take on the server."""
        return self.one("SELECT coalesce(sum(pg_total_relation_size(format('%I.%I', table_schema, table_name))), 0)"
                        "::bigint FROM information_schema.tables WHERE table_schema = current_schema() "
                        "AND table_type = 'BASE TABLE'")

    def close(self) -> None:
        with contextlib.suppress(driver().Error):
            self.conn.close()


def connect(location: PostgresURL, *, read_only: bool = False, purpose: str = "") -> PostgresDatabase:
    """A connection to the store's database, autocommit (fetcher opens each transaction itself)."""
    psycopg = driver()
    options = {"lock_timeout": LOCK_TIMEOUT, **({"default_transaction_read_only": "on"} if read_only else {})}
    try:
        conn = psycopg.connect(**location.conninfo(), autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                               application_name=f"fetcher{purpose} (pid {os.getpid()} on {socket.gethostname()})"[:63])
    except psycopg.Error as exc:
        raise failure(location, exc) from None
    try:
        for name, value in options.items():
            conn.execute("SELECT set_config(%s, %s, false)", [name, value])
        return PostgresDatabase(conn, location)
    except BaseException:
        conn.close()
        raise


def failure(location: PostgresURL, exc: Exception) -> FetcherError:
    """The typed failure a psycopg error means, one line naming the store."""
    state = getattr(exc, "sqlstate", None) or ""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if state.startswith("28") or state in ("3D000", "3F000") or type(exc).__name__ == "ProgrammingError" \
            or _refused_login(reason):
        return StoreError(f"{location}: cannot use the store: {reason}")
    if state == "25006":
        return StoreUnavailable(f"{location}: cannot write the store: {READ_ONLY}; nothing was lost, re-run when it can")
    if state == "55P03":
        return StoreUnavailable(f"{location}: cannot write the store: another program held the store's lock past "
                                f"lock_timeout ({LOCK_TIMEOUT}); nothing was lost, re-run when it can")
    if state.startswith(("53", "08", "57")) or (not state and type(exc).__name__ == "OperationalError"):
        return StoreUnavailable(f"{location}: cannot reach the store: {reason}; nothing was lost, re-run when it can")
    return StoreError(f"{location}: the store refused a statement: {reason}")


# What a server says when it refuses a connection for now, not for good.
_FOR_NOW = ("starting up", "shutting down", "too many", "connection slots", "in recovery", "not yet accepting")


def _refused_login(reason: str) -> bool:
    """A server that answered and refused the login for good (no such database or role, a wrong password, no
    pg_hba.conf line): libpq gives the server's FATAL as text, without its SQLSTATE."""
    return "FATAL:" in reason and not any(words in reason for words in _FOR_NOW)


def _key(text: str) -> int:
    """A signed 64-bit advisory lock key for a text."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


@contextlib.contextmanager
def run_lock(location: PostgresURL, command: str, wait_seconds: float = 0.0, kind: str = "") -> Iterator[None]:
    """The store's run lock (or the lock of `kind`, as the file locks have: "import", one directory walk at a
    time): a session advisory lock on a connection of its own, held while the run lasts. The server drops it when
    that connection ends, however the process ends (SIGKILL, a lost machine)."""
    db = connect(location, purpose=f" {command}")
    if kind:
        db.run_key = _key(f"fetcher {kind} {db.name}")
    try:
        deadline = time.monotonic() + wait_seconds
        while not db.one("SELECT pg_try_advisory_lock(?)", [db.run_key]):
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait_seconds:.0f}s" if wait_seconds else ""
                raise StoreBusy(f"{_holder(db)} holds the store's run lock ({location}){waited}; try again later")
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            with contextlib.suppress(FetcherError):
                db.one("SELECT pg_advisory_unlock(?)", [db.run_key])
    finally:
        db.close()


def _holder(db: PostgresDatabase) -> str:
    """Who holds the run lock, as the server knows the connection: fetcher's application_name and since when."""
    key = db.run_key & 0xFFFFFFFFFFFFFFFF
    row = db.first(
        """SELECT activity.application_name AS name, activity.backend_start AS since
           FROM pg_locks JOIN pg_stat_activity AS activity ON activity.pid = pg_locks.pid
           WHERE pg_locks.locktype = 'advisory' AND pg_locks.granted AND pg_locks.database = (
               SELECT oid FROM pg_database WHERE datname = current_database())
             AND pg_locks.classid = ? AND pg_locks.objid = ? AND pg_locks.objsubid = 1""",
        [key >> 32, key & 0xFFFFFFFF])
    if row is None or not row["name"]:
        return "another fetcher run"
    since = row["since"].astimezone(timezone.utc) if isinstance(row["since"], datetime) else row["since"]
    return f"{row['name']} since {since:%Y-%m-%d %H:%M:%S} UTC"
