"""Opening the store and shaping it: schema.sql (idempotent) and the numbered migrations, in one place.

`open_database` applies schema.sql and the migrations at every start (unless opened read-only,
to read). A file that is not an SQLite database is refused untouched; a database that holds
other tables too is fine, but a table of fetcher's names that is not fetcher's is refused.
"""

import sqlite3
from importlib import resources
from pathlib import Path

import sqlite_utils

from fetcher.errors import StoreError
from fetcher.record import API_FIELDS
from fetcher.store.sql import Database, unavailable

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
]


def open_database(path: Path, *, create: bool = True, read_only: bool = False) -> Database:
    """The store at path (created only when `create`), shaped to the current schema; read-only: as it is."""
    if not (create or path.exists()):
        raise StoreError(f"{path}: no store there (`fetcher import FILE` or `fetcher add` creates one)")
    refuse_foreign_file(path)
    try:
        if read_only:
            return _open_for_reading(path)
        # Autocommit: every write is in a transaction fetcher opens itself (Database.write).
        db = Database(sqlite3.connect(path, isolation_level=None), path)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        sqlite_utils.Database(db.conn).enable_wal()
        # In WAL mode NORMAL loses nothing when the process dies, only the last commits on power loss,
        # and spares an fsync per package.
        db.execute("PRAGMA synchronous = NORMAL")
        _apply_schema(db)
    except sqlite3.OperationalError as exc:
        raise unavailable(path, exc) or StoreError(f"{path}: cannot use the store: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot use the store: {exc}") from None
    return db


def store_state(path: Path) -> tuple[int, int, int] | None:
    """(migrations applied, migrations known, packages) of the store at path, read without writing; None if absent.

    Raises StoreError for what `open_database` would refuse.
    """
    refuse_foreign_file(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    tidy = _tidier(path)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            packages = db.execute("SELECT count(*) FROM package").fetchone()[0] if "package" in tables else 0
        finally:
            db.close()
            tidy()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot use the store: {exc}") from None
    return version, len(MIGRATIONS), packages


def _open_for_reading(path: Path) -> Database:
    real = path.resolve()
    uri = real.as_uri()
    db = Database(sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None), path, on_close=_tidier(path))
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        _check_package_table(db)
    except sqlite3.OperationalError as exc:
        # WAL wants a -shm file beside the store, and this user may not make one. With no -wal there
        # either, no writer has the store open (it would have made both), so the file alone is the
        # whole store: read it as it is.
        if exc.sqlite_errorname != "SQLITE_READONLY_DIRECTORY" or real.with_name(real.name + "-wal").exists():
            raise
        db.close()
        db = Database(sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None), path)
        _check_package_table(db)
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


def _apply_schema(db: Database) -> None:
    schema = resources.files("fetcher").joinpath("schema.sql").read_text(encoding="utf-8")
    fresh = not db.has_table("package")
    with db.write():
        for statement in _statements(schema):
            db.execute(statement)
        if fresh:  # schema.sql is the current shape: no migration is owed
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    _check_package_table(db)
    version = db.one("PRAGMA user_version")
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.write():
            for statement in _statements(migration):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")


def _check_package_table(db: Database) -> None:
    if not db.has_table("package"):
        raise StoreError(f"{db.path}: not a fetcher store (no table 'package')")
    columns = set(sqlite_utils.Database(db.conn)["package"].columns_dict)
    if not set(API_FIELDS) <= columns:
        missing = ", ".join(sorted(set(API_FIELDS) - columns))
        raise StoreError(f"{db.path}: table 'package' belongs to something else (no {missing})")


def _statements(script: str) -> list[str]:
    """Split a script into statements, to run them in one transaction (executescript would commit)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    last = "\n".join(line for line in pending.splitlines() if not line.strip().startswith("--")).strip()
    if last:
        statements.append(last)  # a last statement without its semicolon
    return statements
