"""Opening the store and shaping it: schema.sql (idempotent) and the numbered migrations, in one place.

`open_database` applies schema.sql and the migrations at every start (unless opened read-only,
to read). A file that is not an SQLite database is refused untouched; a database that holds
other tables too is fine, but a table, index or view of fetcher's names that is not fetcher's
is refused before anything is written (shape.py says which are fetcher's).
"""

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from fetcher.errors import StoreError, StoreUnavailable
from fetcher.location import Location, PostgresURL, is_postgres
from fetcher.store.shape import make_views, read_as_current, refuse_foreign, shape, split
from fetcher.store.sql import READ_ONLY, Database, cannot_write, damaged, unavailable

SQLITE_HEADER = b"SQLite format 3\x00"
# How long a write waits for another connection's write to end; sync's own writes take milliseconds.
BUSY_TIMEOUT_MS = 30000

# Changes to tables that already exist, in order; PRAGMA user_version counts
# how many a store has had. Append, never edit, and change schema.sql to the
# shape they lead to: a new store is created from it directly.
MIGRATIONS: list[str] = [
    # 1: the time a run waited for rate limits; when a package's current run of failures began.
    """ALTER TABLE sync_run ADD COLUMN rate_limit_wait REAL NOT NULL DEFAULT 0;
       ALTER TABLE fetch_state ADD COLUMN failing_since TEXT;
       UPDATE fetch_state SET failing_since = last_error_at WHERE consecutive_failures > 0;""",
    # 2: the pool token whose answer a cached piece is: GitHub's ETags hold for that token only.
    "ALTER TABLE resource_cache ADD COLUMN token_env TEXT;",
    # 3: what each package's last fetch cost (fetcher.budget), and how many due packages a run left for later.
    """ALTER TABLE fetch_state ADD COLUMN last_points INTEGER;
       ALTER TABLE sync_run ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0;""",
    # 4: the run's row itself says, per token variable, what it spent and what was left (run_token has the detail).
    "ALTER TABLE sync_run ADD COLUMN tokens TEXT;",
    # 5: a part of the record the host was still computing (GitHub's 202) is state, not a sentence in the note:
    # the package is due until it is written.
    """ALTER TABLE fetch_state ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
       UPDATE fetch_state SET pending = 1 WHERE note LIKE 'sparkline not updated: GitHub was still computing it%';""",
    # 6: the documentation_url a sync filled from PyPI is remembered (table filled_documentation, new in schema.sql),
    # so an import giving none keeps it: a stored one that is what PyPI's kept answer says is taken as filled.
    """INSERT OR IGNORE INTO filled_documentation (package_id, url, filled_at)
       SELECT package.id, package.documentation_url, resource_cache.fetched_at
       FROM package JOIN resource_cache ON resource_cache.package_id = package.id AND resource_cache.resource = 'pypi'
       WHERE coalesce(package.documentation_url, '') != ''
         AND package.documentation_url IN (json_extract(resource_cache.value, '$.documentation_url'),
                                           json_extract(resource_cache.value, '$.documentation_url_exact'));""",
    # 7: each run says which worker, machine and process it was (tables worker, claim and budget_hold are new in
    # schema.sql): several workers may share one store.
    """ALTER TABLE sync_run ADD COLUMN worker_id INTEGER;
       ALTER TABLE sync_run ADD COLUMN host TEXT;
       ALTER TABLE sync_run ADD COLUMN pid INTEGER;""",
]
# What each column a migration adds reads as in a store that has not had the migration yet, read without
# shaping it (read-only): an SQL expression over the table's row giving what the migration would.
READ_AS = {
    "sync_run.rate_limit_wait": "0",
    "fetch_state.failing_since": "CASE WHEN consecutive_failures > 0 THEN last_error_at END",
    "resource_cache.token_env": "NULL",
    "fetch_state.last_points": "NULL",
    "sync_run.deferred": "0",
    "sync_run.tokens": "NULL",
    "fetch_state.pending": "note LIKE 'sparkline not updated: GitHub was still computing it%'",
    "sync_run.worker_id": "NULL",
    "sync_run.host": "NULL",
    "sync_run.pid": "NULL",
}


def open_database(path: Location, *, create: bool = True, read_only: bool = False) -> Database:
    """The store at path (created only when `create`), shaped to the current schema; read-only: as it is."""
    if is_postgres(path):
        return _open_postgres(path, create=create, read_only=read_only)
    if not (create or path.exists()):
        raise StoreError(f"{path}: no store there (`fetcher import FILE` or `fetcher add` creates one)")
    refuse_foreign_file(path)
    try:
        if read_only:
            return _open_for_reading(path)
        # Autocommit: every write is in a transaction fetcher opens itself (Database.write).
        db = Database(sqlite3.connect(path, isolation_level=None), path)
        try:
            _shape(db)
        except BaseException:
            db.close()
            raise
    except sqlite3.OperationalError as exc:
        raise unavailable(path, exc) or _read_only(path, exc) or StoreError(f"{path}: cannot use the store: {exc}") \
            from None
    except sqlite3.DatabaseError as exc:
        raise damaged(path, exc) or StoreError(f"{path}: cannot use the store: {exc}") from None
    return db


def _read_only(path: Path, exc: sqlite3.OperationalError) -> StoreUnavailable | None:
    """A store in WAL mode that this user may read but not write where it lies (a directory they may not write, a
    read-only mount): SQLite cannot make the -wal and -shm files a writer needs, and says it cannot open it."""
    if exc.sqlite_errorname not in ("SQLITE_CANTOPEN", "SQLITE_READONLY_DIRECTORY"):
        return None
    if not path.exists() or not os.access(path, os.R_OK) or os.access(path.parent, os.W_OK):
        return None
    return cannot_write(path, READ_ONLY)


def store_state(path: Location) -> tuple[int, int, int] | None:
    """(migrations applied, migrations known, packages) of the store at path, read without writing; None if absent.

    Raises StoreError for what `open_database` would refuse.
    """
    if is_postgres(path):
        return _postgres_state(path)
    refuse_foreign_file(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        db = _reader(path)
        try:
            refuse_foreign(db, MIGRATIONS)
            packages = db.one("SELECT count(*) FROM package") if db.has_table("package") else 0
            return db.one("PRAGMA user_version"), len(MIGRATIONS), packages
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise damaged(path, exc) or StoreError(f"{path}: cannot use the store: {exc}") from None


def _open_for_reading(path: Path) -> Database:
    """The store as it is, for reading alone, shown at the current shape (shape.read_as_current)."""
    db = _reader(path)
    try:
        if not db.has_table("package"):
            raise StoreError(f"{db.path}: not a fetcher store (no table 'package')")
        refuse_foreign(db, MIGRATIONS)
        read_as_current(db, MIGRATIONS, READ_AS)
    except BaseException:
        db.close()
        raise
    return db


def _reader(path: Path) -> Database:
    """A connection that only reads, even where this user may not make the -shm file WAL wants beside the store
    (an unwritable directory, a read-only mount)."""
    real = path.resolve()
    uri = real.as_uri()
    db = Database(sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None), path, on_close=_tidier(path))
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        db.one("SELECT count(*) FROM sqlite_master")
    except sqlite3.OperationalError as exc:
        db.close()
        # SQLite could not make or open the -shm file. With no -wal beside the store either, no writer has
        # it open (a writer makes both), so the file alone is the whole store: read it as it is.
        if exc.sqlite_errorname not in ("SQLITE_READONLY_DIRECTORY", "SQLITE_CANTOPEN") \
                or real.with_name(real.name + "-wal").exists():
            raise
        db = Database(sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None), path)
    except BaseException:
        db.close()
        raise
    return db


def _tidier(path: Path):
    """What to do once a read-only connection is closed: leave the store's directory as it was found.

    A connection opening a store in WAL mode makes its -wal and -shm files, and the last one to close removes
    them; but a read-only connection may not, and leaves them behind. When they were not there before it
    opened, one brief read-write connection, opened and closed after it, lets SQLite remove them as the last
    connection does; if another connection has the store open meanwhile, they are its, and SQLite keeps them.
    A user who may not write the store leaves them (SQLite cannot remove them for that user either).
    """
    real = path.resolve()
    made_here = not any(real.with_name(real.name + suffix).exists() for suffix in ("-wal", "-shm"))

    def tidy() -> None:
        if not made_here or not real.with_name(real.name + "-wal").exists():
            return
        try:
            conn = sqlite3.connect(f"{real.as_uri()}?mode=rw", uri=True, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL, as a reader does
        except sqlite3.Error:
            pass
        finally:
            conn.close()

    return tidy


def refuse_foreign_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path}: store path is a directory")
    if not path.parent.is_dir():
        raise StoreError(f"{path}: directory {path.parent} does not exist")
    if path.exists() and path.stat().st_nlink > 1:
        # SQLite names its journal after the path: two names for one file mean two journals and two
        # run locks, and a store corrupted by writers that cannot see each other.
        raise StoreError(
            f"{path}: the store file has {path.stat().st_nlink} hard links; SQLite cannot keep it safe through "
            "more than one name: remove the other links (a symlink is fine)"
        )
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise StoreError(f"{path}: not an SQLite database; refusing to write to it")


def _shape(db: Database) -> None:
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
    refuse_foreign(db, MIGRATIONS)  # before WAL mode: a store refused is left as it was, byte for byte
    sqlite_utils.Database(db.conn).enable_wal()
    # In WAL mode NORMAL loses nothing when the process dies, only the last commits on power loss,
    # and spares an fsync per package.
    db.execute("PRAGMA synchronous = NORMAL")
    _apply_schema(db)


def _apply_schema(db: Database) -> None:
    """schema.sql and the migrations owed, each statement in the store's dialect (PostgreSQL's made from SQLite's)."""
    dialect = db.dialect
    with db.write():
        fresh = not db.has_table("package")
        refuse_foreign(db, MIGRATIONS)  # again, now that this transaction holds the write lock
        for statement in shape().statements:
            db.execute(dialect.ddl(statement))
        make_views(db)
        if fresh:  # schema.sql is the current shape: no migration is owed
            dialect.set_version(db, len(MIGRATIONS))
    version = dialect.version(db)
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.write():
            if dialect.version(db) >= number:
                continue  # another process applied it meanwhile
            for statement in split(migration):
                db.execute(dialect.ddl(statement))
            dialect.set_version(db, number)


def _open_postgres(url: PostgresURL, *, create: bool, read_only: bool) -> Database:
    """A PostgreSQL store: shaped like a SQLite one (schema.sql in PostgreSQL's types, the same migrations), or,
    read-only, as it is."""
    from fetcher.store import postgres

    db = postgres.connect(url, read_only=read_only)
    try:
        if not db.has_table("package"):
            if read_only:
                raise StoreError(f"{url}: not a fetcher store (no table 'package')")
            if not create:
                raise StoreError(f"{url}: no store there (`fetcher import FILE` or `fetcher add` creates one)")
        refuse_foreign(db, MIGRATIONS)
        if read_only:
            read_as_current(db, MIGRATIONS, READ_AS)
        else:
            _apply_schema(db)
    except BaseException:
        db.close()
        raise
    return db


def _postgres_state(url: PostgresURL) -> tuple[int, int, int] | None:
    from fetcher.store import postgres

    db = postgres.connect(url, read_only=True)
    try:
        if not db.has_table("package"):
            refuse_foreign(db, MIGRATIONS)
            return None
        refuse_foreign(db, MIGRATIONS)
        return db.dialect.version(db), len(MIGRATIONS), db.one("SELECT count(*) FROM package")
    finally:
        db.close()
