"""The SQLite store: shaped in one place, asked by name.

`open_store` applies schema.sql (idempotent) and the migrations at every
start. Everything else in fetcher goes through the Store methods and writes
no SQL of its own. Each package's update is its own transaction, so a crash
loses at most the packages in flight.
"""

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Iterator

import sqlite_utils

from fetcher.errors import InputError, StoreError, UnknownPackage
from fetcher.pieces import Cached
from fetcher.records import API_FIELDS, parse_datetime, to_columns, to_stored_datetime

SQLITE_HEADER = b"SQLite format 3\x00"

# Changes to tables that already exist, in order; PRAGMA user_version counts
# how many a store has had. Append, never edit, and change schema.sql to the
# shape they lead to: a new store is created from it directly.
MIGRATIONS: list[str] = [
    # 1: the time a run waited for rate limits; when a package's current run of failures began.
    """ALTER TABLE sync_run ADD COLUMN rate_limit_wait REAL NOT NULL DEFAULT 0;
       ALTER TABLE fetch_state ADD COLUMN failing_since TEXT;
       UPDATE fetch_state SET failing_since = last_error_at WHERE consecutive_failures > 0;""",
]


@dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    unchanged: int


class Store:
    def __init__(self, db: sqlite_utils.Database, path: Path):
        self.db = db
        self.path = path

    # -- the catalogue -------------------------------------------------------

    def import_records(self, records: list[dict], now: datetime) -> ImportResult:
        """Upsert validated records by slug, all or nothing.

        Fields a record leaves out are kept (or defaulted on a new row); `modified`
        moves only when a value changed and the record did not give it.
        """
        stamp = to_stored_datetime(now)
        inserted = updated = 0
        with self.db.atomic():
            for columns in records:
                existing = self._row("slug = ?", columns["slug"])
                self._check_id_free(columns, existing)
                if existing is None:
                    self.db["package"].insert({"created": stamp, "modified": stamp, **columns})
                    inserted += 1
                    continue
                changes = {k: v for k, v in columns.items() if existing[k] != v}
                if changes:
                    changes.setdefault("modified", stamp)
                    self.db["package"].update(existing["id"], changes)
                    updated += 1
        return ImportResult(inserted, updated, len(records) - inserted - updated)

    def _check_id_free(self, columns: dict, existing: dict | None) -> None:
        if "id" not in columns:
            return
        holder = self._row("id = ?", columns["id"])
        if holder is not None and holder["slug"] != columns["slug"]:
            raise InputError(f"id {columns['id']} of slug {columns['slug']!r} already belongs to {holder['slug']!r}")
        if existing is not None and existing["id"] != columns["id"]:
            raise InputError(f"slug {columns['slug']!r} is stored with id {existing['id']}, not {columns['id']}")

    def add_package(self, slug: str, repo_url: str, pypi_url: str, title: str, now: datetime) -> None:
        if self._row("slug = ?", slug) is not None:
            raise InputError(f"a package with slug {slug!r} already exists")
        stamp = to_stored_datetime(now)
        with self.db.atomic():
            self.db["package"].insert(
                {"slug": slug, "title": title, "repo_url": repo_url, "pypi_url": pypi_url,
                 "created": stamp, "modified": stamp}
            )

    # -- what to fetch -------------------------------------------------------

    def due_packages(self, fetched_before: datetime | None, limit: int | None) -> list[dict]:
        """Packages last fetched before the cutoff (all when None), never-fetched and oldest first."""
        where, params = _due(fetched_before)
        sql = f"SELECT * FROM package {where} ORDER BY last_fetched IS NOT NULL, last_fetched, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return list(self.db.query(sql, params))

    def packages(self, slugs: list[str]) -> list[dict]:
        rows = {row["slug"]: row for row in self._rows_by_slug(slugs)}
        missing = [slug for slug in slugs if slug not in rows]
        if missing:
            raise UnknownPackage(missing)
        return [rows[slug] for slug in dict.fromkeys(slugs)]

    # -- what a fetch wrote ----------------------------------------------------

    def save_fetch(
        self, package_id: int, fields: dict, fetched_at: datetime, note: str | None, pieces: dict[str, Cached]
    ) -> bool:
        """Write one package's fields and the pieces they came from in one transaction; True when a value changed."""
        stamp = to_stored_datetime(fetched_at)
        with self.db.atomic():
            current = self._row("id = ?", package_id)
            changes = {k: v for k, v in to_columns(fields).items() if current[k] != v}
            update = {**changes, "last_fetched": stamp}
            if changes:
                update["modified"] = stamp
            # Plain statements on this hot path: one sync writes every package it fetched.
            assignments = ", ".join(f"{column} = ?" for column in update)
            self._execute(f"UPDATE package SET {assignments} WHERE id = ?", [*update.values(), package_id])
            self._execute(
                """INSERT INTO fetch_state
                       (package_id, last_attempt, last_error, last_error_at, consecutive_failures, note)
                   VALUES (?, ?, NULL, NULL, 0, ?)
                   ON CONFLICT (package_id) DO UPDATE SET
                       last_attempt = excluded.last_attempt, last_error = NULL, last_error_at = NULL,
                       consecutive_failures = 0, note = excluded.note, failing_since = NULL""",
                [package_id, stamp, note],
            )
            for resource, piece in pieces.items():
                self._execute(
                    """INSERT INTO resource_cache (package_id, resource, etag, last_modified, value, fetched_at)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT (package_id, resource) DO UPDATE SET
                           etag = excluded.etag, last_modified = excluded.last_modified,
                           value = excluded.value, fetched_at = excluded.fetched_at""",
                    [package_id, resource, piece.etag, piece.last_modified,
                     json.dumps(piece.value, ensure_ascii=False), to_stored_datetime(piece.fetched_at)],
                )
        return bool(changes)

    def cached_pieces(self, package_id: int) -> dict[str, Cached]:
        """What each resource gave this package last time, by resource name."""
        rows = self._select("SELECT * FROM resource_cache WHERE package_id = ?", [package_id])
        return {
            row["resource"]: Cached(
                json.loads(row["value"]), parse_datetime(row["fetched_at"]), row["etag"], row["last_modified"]
            )
            for row in rows
        }

    def record_failure(self, package_id: int, message: str, at: datetime) -> None:
        """Keep every field as it was; note the error and count it."""
        stamp = to_stored_datetime(at)
        with self.db.atomic():
            self._execute(
                """INSERT INTO fetch_state
                       (package_id, last_attempt, last_error, last_error_at, consecutive_failures, note,
                        failing_since)
                   VALUES (?, ?, ?, ?, 1, NULL, ?)
                   ON CONFLICT (package_id) DO UPDATE SET
                       last_attempt = excluded.last_attempt, last_error = excluded.last_error,
                       last_error_at = excluded.last_error_at,
                       consecutive_failures = fetch_state.consecutive_failures + 1,
                       failing_since = CASE WHEN fetch_state.consecutive_failures = 0 THEN excluded.failing_since
                                            ELSE COALESCE(fetch_state.failing_since, excluded.failing_since) END""",
                [package_id, stamp, message, stamp, stamp],
            )

    def fetch_state(self, slug: str) -> dict | None:
        rows = self.db.query(
            "SELECT fetch_state.* FROM fetch_state JOIN package ON package.id = package_id WHERE slug = ?",
            [slug],
        )
        return next(iter(rows), None)

    def record_run(self, run: dict) -> None:
        with self.db.atomic():
            self.db["sync_run"].insert(run)

    def save_rate_limits(self, token_env: str, limits: list[dict], seen_at: datetime) -> None:
        """Keep each budget as this run last saw it: {resource, budget, remaining, reset}."""
        stamp = to_stored_datetime(seen_at)
        with self.db.atomic():
            for limit in limits:
                self._execute(
                    """INSERT INTO rate_limit (token_env, resource, budget, remaining, reset, seen_at)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT (token_env, resource) DO UPDATE SET
                           budget = excluded.budget, remaining = excluded.remaining,
                           reset = excluded.reset, seen_at = excluded.seen_at""",
                    [token_env, limit["resource"], limit["budget"], limit["remaining"],
                     to_stored_datetime(limit["reset"]), stamp],
                )

    def save_setting(self, name: str, value: str) -> None:
        with self.db.atomic():
            self._execute(
                """INSERT INTO setting (name, value) VALUES (?, ?)
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value""",
                [name, value],
            )

    # -- the operator's view -----------------------------------------------------

    def overview(self, fetched_before: datetime, pending_note: str, failures: int, runs: int) -> dict:
        """What `fetcher status` shows, read from the store alone."""
        where, params = _due(fetched_before)
        return {
            "repo_urls": [row[0] for row in self.db.conn.execute("SELECT repo_url FROM package")],
            "due": self._one(f"SELECT count(*) FROM package {where}", params),
            "never_fetched": self._one("SELECT count(*) FROM package WHERE last_fetched IS NULL"),
            "oldest_fetch": self._one("SELECT min(last_fetched) FROM package"),
            "failing": self._one("SELECT count(*) FROM fetch_state WHERE consecutive_failures > 0"),
            "worst_failures": self._one("SELECT coalesce(max(consecutive_failures), 0) FROM fetch_state"),
            "failures": self._select(
                "SELECT slug, consecutive_failures, failing_since AS since, last_error FROM failing LIMIT ?",
                [failures],
            ),
            "sparklines_kept": self._one("SELECT count(*) FROM fetch_state WHERE note = ?", [pending_note]),
            "runs": self._select("SELECT * FROM sync_run ORDER BY id DESC LIMIT ?", [runs]),
            "rate_limits": self._select("SELECT * FROM rate_limit ORDER BY token_env, resource", []),
        }

    # -- reading records -------------------------------------------------------

    def record(self, slug: str) -> dict:
        return self.packages([slug])[0]

    def records(self) -> Iterator[dict]:
        """Every package row, by slug; streamed, so an export of any size stays small."""
        return self.db.query(f"SELECT {', '.join(API_FIELDS)} FROM package ORDER BY slug")

    def _row(self, where: str, value) -> dict | None:
        return next(iter(self._select(f"SELECT * FROM package WHERE {where}", [value])), None)

    def _select(self, sql: str, params: list) -> list[dict]:
        """A read straight on the connection: sqlite-utils' query() wraps each in a savepoint."""
        cursor = self.db.conn.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    def _one(self, sql: str, params: list | None = None):
        """The single value a query answers."""
        return self.db.conn.execute(sql, params or []).fetchone()[0]

    def _execute(self, sql: str, params: list) -> None:
        """A write inside the caller's atomic() block."""
        self.db.conn.execute(sql, params)

    def _rows_by_slug(self, slugs: list[str]) -> Iterator[dict]:
        for start in range(0, len(slugs), 500):
            chunk = slugs[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            yield from self.db.query(f"SELECT * FROM package WHERE slug IN ({marks})", chunk)

    def close(self) -> None:
        self.db.close()


def _due(fetched_before: datetime | None) -> tuple[str, list]:
    """The one definition of a due package: last fetched before the cutoff, or never (all when None)."""
    if fetched_before is None:
        return "", []
    return "WHERE last_fetched IS NULL OR last_fetched < ?", [to_stored_datetime(fetched_before)]


def open_store(path: Path) -> Store:
    """Open (or create) the store at path, shaped to the current schema.

    A file that is not an SQLite database is refused untouched; a database
    that holds other tables too is fine.
    """
    _refuse_foreign_file(path)
    try:
        db = sqlite_utils.Database(path)
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA foreign_keys = ON")
        db.enable_wal()
        # In WAL mode NORMAL loses nothing when the process dies, only the last commits on power loss,
        # and spares an fsync per package.
        db.execute("PRAGMA synchronous = NORMAL")
        _apply_schema(db, path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot use the store: {exc}") from None
    return Store(db, path)


def store_state(path: Path) -> tuple[int, int, int] | None:
    """(migrations applied, migrations known, packages) of the store at path, read without writing; None if absent.

    Raises StoreError for what `open_store` would refuse.
    """
    _refuse_foreign_file(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            packages = db.execute("SELECT count(*) FROM package").fetchone()[0] if "package" in tables else 0
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot use the store: {exc}") from None
    return version, len(MIGRATIONS), packages


def _refuse_foreign_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path}: store path is a directory")
    if not path.parent.is_dir():
        raise StoreError(f"{path}: directory {path.parent} does not exist")
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise StoreError(f"{path}: not an SQLite database; refusing to write to it")


def _apply_schema(db: sqlite_utils.Database, path: Path) -> None:
    schema = resources.files("fetcher").joinpath("schema.sql").read_text(encoding="utf-8")
    fresh = "package" not in db.table_names()
    with db.atomic():
        for statement in _statements(schema):
            db.execute(statement)
        if fresh:  # schema.sql is the current shape: no migration is owed
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    columns = set(db["package"].columns_dict)
    if not set(API_FIELDS) <= columns:
        missing = ", ".join(sorted(set(API_FIELDS) - columns))
        raise StoreError(f"{path}: table 'package' belongs to something else (no {missing})")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.atomic():
            for statement in _statements(migration):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")


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
