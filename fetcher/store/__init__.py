"""The SQLite store: shaped in one place, asked by name.

`open_store` applies schema.sql (idempotent) and the migrations at every
start (unless opened read-only, to read). Everything else in fetcher goes
through the Store methods and writes no SQL of its own. Each package's update
is its own short transaction, checked against the links it was fetched for,
so a crash loses at most the packages in flight and a person's edit is never
overwritten.
"""

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Iterator

import sqlite_utils

from fetcher import due, facts as facts_
from fetcher.errors import InputError, StoreError, StoreUnavailable, UnknownPackage
from fetcher.cache import Cached
from fetcher.record import (
    API_FIELDS, FETCHED_FIELDS, IMPORTED_FETCHED_FIELDS, parse_datetime, to_columns, to_stored_datetime,
)
from fetcher.links import same_pypi_project, same_repo_url

SQLITE_HEADER = b"SQLite format 3\x00"
# How long a write waits for another connection's write to end; sync's own writes take milliseconds.
BUSY_TIMEOUT_MS = 30000

# Due packages are read this many at a time (a few hundred kB of rows, whatever the catalogue's size).
SCHEDULE_PAGE = 500

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
]


# What a fetch clears when the link it came from is changed or cleared: the record's repository
# fields (and every cached piece but PyPI's), or its PyPI version (and the PyPI piece).
REPO_CLEARED = {
    "repo_forks": 0, "repo_watchers": 0, "repo_description": "", "participants": "[]",
    "commits_over_52": "[]", "last_updated": None,
}
PYPI_CLEARED = {"pypi_version": None}

# What save_fetch did.
CHANGED, UNCHANGED, EDITED = "changed", "unchanged", "edited"


@dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    unchanged: int
    kept_fetched: int = 0  # records whose fetched values were older than the store's, so not taken


@dataclass(frozen=True)
class Links:
    """The catalogue links a fetch was made for; its answers are written only while they still hold."""

    repo_url: str
    pypi_url: str | None

    @classmethod
    def of(cls, row: dict) -> "Links":
        return cls(row["repo_url"], row["pypi_url"])


class Store:
    def __init__(self, db: sqlite_utils.Database, path: Path):
        self.db = db
        self.path = path

    # -- the catalogue -------------------------------------------------------

    def import_records(self, records: list[dict], now: datetime) -> ImportResult:
        """Upsert validated records by slug, all or nothing.

        Catalogue fields (title, category, grids, the links) are taken as given. Fetched
        fields are taken only from a record fetched later than the stored one, so an old
        file never puts stale stars or versions back. A changed or cleared link clears what
        was fetched from it, and the package is due at once. Fields a record leaves out are
        kept (or defaulted on a new row); `modified` moves when a value changed and the
        record did not give it.
        """
        stamp = to_stored_datetime(now)
        inserted = updated = kept = 0
        with self._write():
            for columns in records:
                columns = dict(columns)
                given_facts = columns.pop("facts", None)
                existing = self._row("slug = ?", columns["slug"])
                self._check_id_free(columns, existing)
                if existing is None:
                    self.db["package"].insert({"created": stamp, "modified": stamp, **columns})
                    inserted += 1
                    if given_facts:
                        self._save_facts(self._row("slug = ?", columns["slug"])["id"], given_facts, stamp)
                    continue
                newer = columns.get("last_fetched") is not None and (
                    existing["last_fetched"] is None or columns["last_fetched"] > existing["last_fetched"]
                )
                given = {k: v for k, v in columns.items() if newer or k not in IMPORTED_FETCHED_FIELDS}
                if any(existing[k] != v for k, v in columns.items() if k not in given):
                    kept += 1
                cleared = self._cleared_by_new_links(existing, given)
                if cleared:
                    given = {**cleared, **given} if newer else {**given, **cleared}
                changes = {k: v for k, v in given.items() if existing[k] != v}
                if changes:
                    changes.setdefault("modified", stamp)
                    self.db["package"].update(existing["id"], changes)
                # Facts are fetched data too: an older file does not put stale ones back over a newer sync's.
                facts_changed = bool(given_facts) and (newer or self.facts(existing["id"]) is None) and \
                    self._save_facts(existing["id"], given_facts, stamp)
                if changes or facts_changed:
                    updated += 1
        return ImportResult(inserted, updated, len(records) - inserted - updated, kept)

    def _cleared_by_new_links(self, existing: dict, given: dict) -> dict:
        """The fetched columns a changed repo_url or pypi_url voids; their cached pieces go too."""
        cleared = {}
        if "repo_url" in given and not same_repo_url(existing["repo_url"], given["repo_url"]):
            cleared.update(REPO_CLEARED)
            self._execute("DELETE FROM resource_cache WHERE package_id = ? AND resource != 'pypi'", [existing["id"]])
        if "pypi_url" in given and not same_pypi_project(existing["pypi_url"], given["pypi_url"]):
            cleared.update(PYPI_CLEARED)
            self._execute("DELETE FROM resource_cache WHERE package_id = ? AND resource = 'pypi'", [existing["id"]])
        if cleared:
            # A new link is a fresh start: due at once, and no rest earned by the old link's failures.
            cleared["last_fetched"] = None
            self._execute("DELETE FROM fetch_state WHERE package_id = ?", [existing["id"]])
        return cleared

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
        with self._write():
            self.db["package"].insert(
                {"slug": slug, "title": title, "repo_url": repo_url, "pypi_url": pypi_url,
                 "created": stamp, "modified": stamp}
            )

    def remove_packages(self, slugs: list[str]) -> list[str]:
        """Delete these packages with their fetch state and cached pieces, all or none; the slugs removed."""
        with self._write():
            rows = self.packages(slugs)  # UnknownPackage, before anything is deleted
            for start in range(0, len(rows), 500):
                ids = [row["id"] for row in rows[start : start + 500]]
                # fetch_state and resource_cache follow by ON DELETE CASCADE (foreign_keys is on).
                self._execute(f"DELETE FROM package WHERE id IN ({', '.join('?' * len(ids))})", ids)
        return [row["slug"] for row in rows]

    # -- what to fetch -------------------------------------------------------

    def due_packages(
        self, stale_after: timedelta | None, limit: int | None, now: datetime | None = None
    ) -> "DuePackages":
        """Packages due at `now` (every one when stale_after is None), never-fetched and oldest first.

        A package that keeps failing rests between tries (fetcher.due). The list is read a page
        at a time as it is iterated, never whole: see DuePackages.
        """
        return DuePackages(self, stale_after, limit, now or datetime.now(timezone.utc))

    def resting(self, stale_after: timedelta, now: datetime) -> int:
        """How many failing packages are resting: not due now only because they failed."""
        return sum(1 for row in self._schedule() if row["failures"] and not _is_due(row, stale_after, now))

    def _schedule(self, begun: str | None = None) -> Iterator[dict]:
        """id, last fetch and failures of every package in due order, read SCHEDULE_PAGE rows at a time.

        Keyset paging on (coalesce(last_fetched, ''), id), the order never-fetched first then oldest,
        which the index package_due_order serves: each page costs the same however far in it is.
        With `begun` (a stored date-time), packages attempted since then are left out: a package
        this run wrote moves to the end of the order and must not come round again.
        """
        after: tuple[str, int] = ("", -1)
        while True:
            page = self._select(
                f"""SELECT package.id, coalesce(last_fetched, '') AS position, last_fetched,
                          coalesce(consecutive_failures, 0) AS failures, last_error_at, last_points
                   FROM package LEFT JOIN fetch_state ON fetch_state.package_id = package.id
                   WHERE (coalesce(last_fetched, ''), package.id) > (?, ?)
                     {"AND coalesce(last_attempt, '') < ?" if begun else ""}
                   ORDER BY coalesce(last_fetched, ''), package.id LIMIT ?""",
                [*after, *([begun] if begun else []), SCHEDULE_PAGE],
            )
            yield from page
            if len(page) < SCHEDULE_PAGE:
                return
            after = (page[-1]["position"], page[-1]["id"])

    def _rows_by_id(self, ids: list[int]) -> list[dict]:
        rows = {row["id"]: row for row in self._select(
            f"SELECT * FROM package WHERE id IN ({', '.join('?' * len(ids))})", ids)}
        return [rows[i] for i in ids if i in rows]

    def packages(self, slugs: list[str]) -> list[dict]:
        rows = {row["slug"]: row for row in self._rows_by_slug(slugs)}
        missing = [slug for slug in slugs if slug not in rows]
        if missing:
            raise UnknownPackage(missing)
        return [rows[slug] for slug in dict.fromkeys(slugs)]

    # -- what a fetch wrote ----------------------------------------------------

    def save_fetch(
        self, package_id: int, fields: dict, fetched_at: datetime, note: str | None, pieces: dict[str, Cached],
        fetched_for: Links, facts: dict | None = None, points: int | None = None,
    ) -> str:
        """Write one package's fetched fields, its facts and the pieces they came from in one transaction.

        CHANGED or UNCHANGED (a field or a fact); EDITED when the package's links are no longer the
        ones it was fetched for (or it was removed) while the fetch was in flight: then nothing is
        written, and the package stays due. A documentation_url is taken only while the record has
        none: one a person set is never overwritten. The day's history row is written when a tracked
        value moved.
        """
        stamp = to_stored_datetime(fetched_at)
        with self._write():
            current = self._row("id = ?", package_id)
            if current is None or Links.of(current) != fetched_for:
                return EDITED
            fetched = to_columns({k: v for k, v in fields.items() if k in FETCHED_FIELDS
                                  or (k == "documentation_url" and not current["documentation_url"])})
            changes = {k: v for k, v in fetched.items() if current[k] != v}
            update = {**changes, "last_fetched": stamp}
            if changes:
                update["modified"] = stamp
            # Plain statements on this hot path: one sync writes every package it fetched.
            assignments = ", ".join(f"{column} = ?" for column in update)
            self._execute(f"UPDATE package SET {assignments} WHERE id = ?", [*update.values(), package_id])
            self._execute(
                """INSERT INTO fetch_state
                       (package_id, last_attempt, last_error, last_error_at, consecutive_failures, note, last_points)
                   VALUES (?, ?, NULL, NULL, 0, ?, ?)
                   ON CONFLICT (package_id) DO UPDATE SET
                       last_attempt = excluded.last_attempt, last_error = NULL, last_error_at = NULL,
                       consecutive_failures = 0, note = excluded.note, failing_since = NULL,
                       last_points = coalesce(excluded.last_points, fetch_state.last_points)""",
                [package_id, stamp, note, points],
            )
            for resource, piece in pieces.items():
                self._save_piece(package_id, resource, piece)
            facts_changed = bool(facts) and self._save_facts(package_id, facts_.to_columns(facts), stamp)
            self._track(package_id, {**current, **changes}, fetched_at)
        return CHANGED if changes or facts_changed else UNCHANGED

    def _save_facts(self, package_id: int, columns: dict, stamp: str) -> bool:
        """Upsert the facts given (columns), leaving the others; True when a value changed."""
        before = self.facts(package_id) or {}
        changed = {name: value for name, value in columns.items() if before.get(name) != value}
        if not changed and before:
            return False
        update = {**changed, "modified": stamp}
        names = ", ".join(update)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in update)
        self._execute(
            f"""INSERT INTO facts (package_id, {names}) VALUES (?, {', '.join('?' * len(update))})
                ON CONFLICT (package_id) DO UPDATE SET {assignments}""",
            [package_id, *update.values()],
        )
        return bool(changed)

    def _track(self, package_id: int, row: dict, at: datetime) -> None:
        """Write the day's history row when a tracked value differs from the newest row (or there is none)."""
        known = self.facts(package_id) or {}
        values = {
            "stars": row["repo_watchers"],
            "forks": row["repo_forks"],
            "participants": len(json.loads(row["participants"])),
            "commit_count": known.get("commit_count"),
            "pypi_version": row["pypi_version"],
            "archived": known.get("archived"),
        }
        last = next(iter(self._select(
            f"SELECT {', '.join(values)} FROM history WHERE package_id = ? ORDER BY date DESC LIMIT 1",
            [package_id])), None)
        if last == values:
            return
        assignments = ", ".join(f"{name} = excluded.{name}" for name in values)
        self._execute(
            f"""INSERT INTO history (package_id, date, {', '.join(values)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (package_id, date) DO UPDATE SET {assignments}""",
            [package_id, facts_.utc_day(at), *values.values()],
        )

    def facts(self, package_id: int) -> dict | None:
        """The package's facts row as stored, or None before any was written."""
        if not self._has("facts"):
            return None
        return next(iter(self._select("SELECT * FROM facts WHERE package_id = ?", [package_id])), None)

    def _has(self, table: str) -> bool:
        """A store opened read-only is not shaped: one from before a table existed lacks it, and reads as empty."""
        return bool(self._select("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]))

    def history(self, slug: str) -> list[dict]:
        """The package's history rows, oldest first."""
        package_id = self.record(slug)["id"]
        if not self._has("history"):
            return []
        return self._select(
            """SELECT date, stars, forks, participants, commit_count, pypi_version, archived
               FROM history WHERE package_id = ? ORDER BY date""",
            [package_id],
        )

    def trending(self, since: str, limit: int) -> list[dict]:
        """Packages by stars gained since the UTC date `since`: newest stars less those of the day before the window.

        A package first seen inside the window counts from its first row.
        """
        if not self._has("history"):
            return []
        return self._select(
            """WITH ends AS (
                   SELECT package_id,
                          max(date) AS last_date,
                          coalesce(max(CASE WHEN date <= ? THEN date END), min(date)) AS first_date
                   FROM history GROUP BY package_id)
               SELECT package.slug, newest.stars AS stars, newest.stars - oldest.stars AS gained,
                      oldest.date AS since
               FROM ends
               JOIN package ON package.id = ends.package_id
               JOIN history AS newest ON newest.package_id = ends.package_id AND newest.date = ends.last_date
               JOIN history AS oldest ON oldest.package_id = ends.package_id AND oldest.date = ends.first_date
               WHERE newest.stars - oldest.stars > 0
               ORDER BY gained DESC, package.slug
               LIMIT ?""",
            [since, limit],
        )

    def save_sparkline(
        self, package_id: int, weeks: list[int], piece: Cached, fetched_for: Links, note: str | None, points: int,
    ) -> bool:
        """Write the sparkline that came after the rest of the record: commits_over_52, its participation piece,
        the note; the points it cost are added to the package's. False, and nothing written, when the
        package's links changed (or it was removed) meanwhile."""
        with self._write():
            current = self._row("id = ?", package_id)
            if current is None or Links.of(current) != fetched_for:
                return False
            column = to_columns({"commits_over_52": weeks})["commits_over_52"]
            if current["commits_over_52"] != column:
                stamp = to_stored_datetime(piece.fetched_at)
                self._execute("UPDATE package SET commits_over_52 = ?, modified = ? WHERE id = ?",
                              [column, stamp, package_id])
            self._execute("UPDATE fetch_state SET note = ?, last_points = coalesce(last_points, 0) + ? "
                          "WHERE package_id = ?", [note, points, package_id])
            self._save_piece(package_id, "participation", piece)
        return True

    def _save_piece(self, package_id: int, resource: str, piece: Cached) -> None:
        self._execute(
            """INSERT INTO resource_cache
                   (package_id, resource, etag, last_modified, value, fetched_at, token_env)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (package_id, resource) DO UPDATE SET
                   etag = excluded.etag, last_modified = excluded.last_modified,
                   value = excluded.value, fetched_at = excluded.fetched_at, token_env = excluded.token_env""",
            [package_id, resource, piece.etag, piece.last_modified,
             json.dumps(piece.value, ensure_ascii=False), to_stored_datetime(piece.fetched_at), piece.token_env],
        )

    def cached_pieces(self, package_id: int) -> dict[str, Cached]:
        """What each resource gave this package last time, by resource name."""
        rows = self._select("SELECT * FROM resource_cache WHERE package_id = ?", [package_id])
        return {
            row["resource"]: Cached(
                json.loads(row["value"]), parse_datetime(row["fetched_at"]), row["etag"], row["last_modified"],
                row["token_env"],
            )
            for row in rows
        }

    def record_failure(self, package_id: int, message: str, at: datetime, fetched_for: Links) -> bool:
        """Keep every field as it was; note the error and count it.

        False, and nothing noted, when the package's links changed (or it was removed) while
        it was in flight: the failure was the old link's, not the package's.
        """
        stamp = to_stored_datetime(at)
        with self._write():
            current = self._row("id = ?", package_id)
            if current is None or Links.of(current) != fetched_for:
                return False
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
        return True

    def fetch_state(self, slug: str) -> dict | None:
        rows = self.db.query(
            "SELECT fetch_state.* FROM fetch_state JOIN package ON package.id = package_id WHERE slug = ?",
            [slug],
        )
        return next(iter(rows), None)

    def record_run(self, run: dict, tokens: list[dict] = ()) -> None:
        """The run's row and, per pool token and resource, what it spent and what was left (run_token)."""
        with self._write():
            run_id = self.db["sync_run"].insert(run).last_pk
            for token in tokens:
                self._execute(
                    """INSERT INTO run_token (run_id, token_env, resource, spent, remaining, budget, reset, rejected)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    [run_id, token["token_env"], token["resource"], token["spent"], token["remaining"],
                     token["budget"], to_stored_datetime(token["reset"]) if token["reset"] else None,
                     int(token["rejected"])],
                )

    def save_rate_limits(self, token_env: str, limits: list[dict], seen_at: datetime) -> None:
        """Keep each budget as this run last saw it: {resource, budget, remaining, reset}."""
        stamp = to_stored_datetime(seen_at)
        with self._write():
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

    def budgets(self) -> list[dict]:
        """Each budget as the last run saw it (rate_limit), its reset as a date-time."""
        return [{**row, "reset": parse_datetime(row["reset"])}
                for row in self._select("SELECT * FROM rate_limit", [])]

    def save_setting(self, name: str, value: str) -> None:
        with self._write():
            self._execute(
                """INSERT INTO setting (name, value) VALUES (?, ?)
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value""",
                [name, value],
            )

    # -- the operator's view -----------------------------------------------------

    def overview(self, stale_after: timedelta, now: datetime, pending_note: str, failures: int, runs: int) -> dict:
        """What `fetcher status` shows, read from the store alone."""
        return {
            "repo_urls": [row[0] for row in self.db.conn.execute("SELECT repo_url FROM package")],
            "due": sum(1 for row in self._schedule() if _is_due(row, stale_after, now)),
            "resting": self.resting(stale_after, now),
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

    def records(self, with_facts: bool = False) -> Iterator[dict]:
        """Every package row, by slug; streamed, so an export of any size stays small.

        With facts, each row also holds its `facts` row under "facts" (None when it has none).
        """
        if not with_facts:
            return self.db.query(f"SELECT {', '.join(API_FIELDS)} FROM package ORDER BY slug")
        if not self._has("facts"):
            return ({**row, "facts": None} for row in self.records())
        columns = ", ".join([*(f"package.{name}" for name in API_FIELDS),
                             "facts.package_id AS facts__package_id",
                             *(f"facts.{name} AS facts__{name}" for name in facts_.FACT_NAMES)])
        rows = self.db.query(
            f"SELECT {columns} FROM package LEFT JOIN facts ON facts.package_id = package.id ORDER BY slug")
        return (_split_facts(row) for row in rows)

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One short write transaction, taken at its start (BEGIN IMMEDIATE).

        A deferred transaction that reads and then writes fails at once, without the busy
        wait, when another connection wrote in between; taking the write lock first waits
        its turn instead. A full disk, a read-only file or a lock held past the busy timeout
        becomes StoreUnavailable naming the store (exit 75): nothing was written.
        """
        with self._unavailable_as_error():
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
                raise
            try:
                self.db.conn.execute("COMMIT")
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise _unavailable(self.path, exc) or exc from None

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
            yield from self._select(f"SELECT * FROM package WHERE slug IN ({marks})", chunk)

    def close(self) -> None:
        self.db.close()


def _split_facts(row: dict) -> dict:
    record = {name: value for name, value in row.items() if not name.startswith("facts__")}
    has_facts = row["facts__package_id"] is not None
    record["facts"] = {name: row[f"facts__{name}"] for name in facts_.FACT_NAMES} if has_facts else None
    return record



def open_store(path: Path, *, create: bool = True, read_only: bool = False) -> Store:
    """Open the store at path (creating it only when `create`), shaped to the current schema.

    A file that is not an SQLite database is refused untouched; a database
    that holds other tables too is fine. `read_only` opens it for reading
    alone: nothing is shaped or migrated, so a store the user may not write
    (or one another program is writing) can still be read.
    """
    if not (create or path.exists()):
        raise StoreError(f"{path}: no store there (`fetcher import FILE` or `fetcher add` creates one)")
    _refuse_foreign_file(path)
    try:
        if read_only:
            return Store(_open_for_reading(path), path)
        db = sqlite_utils.Database(path)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        db.enable_wal()
        # In WAL mode NORMAL loses nothing when the process dies, only the last commits on power loss,
        # and spares an fsync per package.
        db.execute("PRAGMA synchronous = NORMAL")
        _apply_schema(db, path)
    except sqlite3.OperationalError as exc:
        raise _unavailable(path, exc) or StoreError(f"{path}: cannot use the store: {exc}") from None
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


def _open_for_reading(path: Path) -> sqlite_utils.Database:
    real = path.resolve()
    uri = real.as_uri()
    db = sqlite_utils.Database(sqlite3.connect(f"{uri}?mode=ro", uri=True))
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        _check_package_table(db, path)
    except sqlite3.OperationalError as exc:
        # WAL wants a -shm file beside the store, and this user may not make one. With no -wal there
        # either, no writer has the store open (it would have made both), so the file alone is the
        # whole store: read it as it is.
        if exc.sqlite_errorname != "SQLITE_READONLY_DIRECTORY" or real.with_name(real.name + "-wal").exists():
            raise
        db.close()
        db = sqlite_utils.Database(sqlite3.connect(f"{uri}?immutable=1", uri=True))
        _check_package_table(db, path)
    return db


class DuePackages:
    """The packages a sync fetches, in due order, read from the store a page at a time as it goes.

    len() counts them (a walk over the schedule that keeps nothing); iterating reads the next
    page only once the previous one is taken, and keeps nothing of a package it has handed on.
    Iterated once, by the run that asked for it.
    """

    def __init__(self, store: Store, stale_after: timedelta | None, limit: int | None, now: datetime):
        self._store = store
        self._stale_after = stale_after
        self._limit = limit
        self._now = now
        self._count: int | None = None

    def _due(self, begun: str | None) -> Iterator[dict]:
        for row in self._store._schedule(begun):
            if self._stale_after is None or _is_due(row, self._stale_after, self._now):
                yield row

    def _due_ids(self, begun: str | None) -> Iterator[int]:
        return (row["id"] for row in self._due(begun))

    def last_points(self) -> Iterator[int | None]:
        """What each due package's last fetch cost (None: not known), in due order; a walk that keeps nothing."""
        rows = self._due(None)
        return (row["last_points"] for row in (islice(rows, self._limit) if self._limit is not None else rows))

    def take(self, count: int) -> None:
        """Leave all but the first `count` for a later run."""
        self._limit = count if self._limit is None else min(self._limit, count)
        self._count = None

    def __len__(self) -> int:
        if self._count is None:
            ids = self._due_ids(to_stored_datetime(self._now))
            self._count = sum(1 for _ in (islice(ids, self._limit) if self._limit is not None else ids))
        return self._count

    def __iter__(self) -> Iterator[dict]:
        ids = self._due_ids(to_stored_datetime(self._now))
        if self._limit is not None:
            ids = islice(ids, self._limit)
        while page := list(islice(ids, SCHEDULE_PAGE)):
            yield from self._store._rows_by_id(page)


def _is_due(row: dict, stale_after: timedelta, now: datetime) -> bool:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return due.is_due(when(row["last_fetched"]), row["failures"], when(row["last_error_at"]), stale_after, now)


# SQLite's messages for a store that cannot be written now but can be later: what each means.
_UNAVAILABLE = {
    "database or disk is full": "the disk is full",
    "attempt to write a readonly database": "the store is read-only",
    "database is locked": "another program held the store's write lock past the busy timeout",
}


def _unavailable(path: Path, exc: sqlite3.OperationalError) -> StoreUnavailable | None:
    """The StoreUnavailable an SQLite error means, or None when it means something else."""
    for message, meaning in _UNAVAILABLE.items():
        if message in str(exc).lower():
            return StoreUnavailable(f"{path}: cannot write the store: {meaning}; nothing was lost, re-run when it can")
    return None


def _refuse_foreign_file(path: Path) -> None:
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


def _apply_schema(db: sqlite_utils.Database, path: Path) -> None:
    schema = resources.files("fetcher").joinpath("schema.sql").read_text(encoding="utf-8")
    fresh = "package" not in db.table_names()
    with db.atomic():
        for statement in _statements(schema):
            db.execute(statement)
        if fresh:  # schema.sql is the current shape: no migration is owed
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    _check_package_table(db, path)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.atomic():
            for statement in _statements(migration):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")


def _check_package_table(db: sqlite_utils.Database, path: Path) -> None:
    if "package" not in db.table_names():
        raise StoreError(f"{path}: not a fetcher store (no table 'package')")
    columns = set(db["package"].columns_dict)
    if not set(API_FIELDS) <= columns:
        missing = ", ".join(sorted(set(API_FIELDS) - columns))
        raise StoreError(f"{path}: table 'package' belongs to something else (no {missing})")


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
