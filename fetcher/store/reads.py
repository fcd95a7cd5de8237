"""What the store shows: records in the API's shape, their facts and fetch state, history, trending, the overview.

Readers also work on a store opened read-only, which is not shaped: it is shown at the current
shape (store/shape.py: a table it lacks reads as empty, a column as its migration would give it).
Readers read tables, never the views, which are for a person browsing the store. Every value is
read through store/stored.py: one another program wrote that is not of its column's kind is an
UnreadableValue naming it (exit 2), never a crash.
"""

import contextlib
import heapq
from datetime import datetime
from typing import Iterator

from fetcher.errors import UnknownPackage, UnreadableValue
from fetcher.facts import FACT_NAMES
from fetcher.record import API_FIELDS, is_utf8
from fetcher.store.sql import Database, marks
from fetcher.store.stored import COLUMNS, decoded, lenient, package, readable, row_of

HISTORY = COLUMNS["history"]
LAST_ERROR = {"last_error": COLUMNS["fetch_state"]["last_error"]}
RUN = COLUMNS["sync_run"]


# SQLite's integers are 64-bit: a larger id is no row's, and cannot even be asked for.
_LARGEST_ID = 2**63 - 1


class Reads:
    def __init__(self, db: Database):
        self.db = db

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in one transaction: every query inside sees the store as the first one did."""
        with self.db.reading():
            yield

    def record(self, slug: str) -> dict:
        """The package's row, every value read (lists as lists, date-times as date-times)."""
        return self._package(self._row(slug))

    def records(self, with_facts: bool = False) -> Iterator[dict]:
        """Every package row, by slug, read as `record` reads it; streamed, so an export of any size stays small.

        With facts, each row also holds its `facts` row under "facts" (None when it has none).
        """
        if not with_facts:
            rows = self.db.stream(f"SELECT {', '.join(API_FIELDS)} FROM package ORDER BY slug")
            return (self._package(row) for row in rows)
        columns = ", ".join([*(f"package.{name}" for name in API_FIELDS),
                             "facts.package_id AS facts__package_id",
                             *(f"facts.{name} AS facts__{name}" for name in FACT_NAMES)])
        rows = self.db.stream(
            f"SELECT {columns} FROM package LEFT JOIN facts ON facts.package_id = package.id ORDER BY slug")
        return (self._with_facts(_split_facts(row)) for row in rows)

    def package(self, *, id: int | None = None, slug: str | None = None) -> dict | None:
        """One package row by its id or its slug, or None: the server's lookup, which is no error when missing."""
        if id is not None:
            return self.db.first("SELECT * FROM package WHERE id = ?", [id]) if id <= _LARGEST_ID else None
        return self.db.first("SELECT * FROM package WHERE slug = ?", [slug])

    def repo_urls_on(self, host: str, limit: int) -> list[str]:
        """The first `limit` repo_urls (oldest package first) on `host` or `www.host`, as stored: what
        `fetcher check` may try a forge's credential on."""
        rows = self.db.select(
            "SELECT repo_url FROM package WHERE repo_url LIKE ? OR repo_url LIKE ? ORDER BY id LIMIT ?",
            [f"%://{host}/%", f"%://www.{host}/%", limit])
        return [row["repo_url"] for row in rows]

    def package_count(self, modified_since: str | None = None) -> int:
        """How many packages there are; with a stored date-time, how many were modified at or after it."""
        if modified_since is None:
            return self.db.one("SELECT count(*) FROM package")
        return self.db.one("SELECT count(*) FROM package WHERE modified >= ?", [modified_since])

    def package_page(self, limit: int, offset: int, modified_since: str | None = None) -> list[dict]:
        """The API's page of package rows: newest id first, `limit` of them after `offset`.

        Only the ids are walked to the offset (on the small index of ids, or on `modified`'s for the
        packages changed since a moment, usually few), then the page's rows read by id.
        """
        if modified_since is None:
            ids = "SELECT id FROM package ORDER BY id DESC LIMIT ? OFFSET ?"
            params = [limit, offset]
        else:
            hint = self.db.dialect.index_hint(self.db, "package_modified")
            ids = f"SELECT id FROM package {hint}WHERE modified >= ? ORDER BY id DESC LIMIT ? OFFSET ?"
            params = [modified_since, limit, offset]
        return self.db.select(f"SELECT * FROM package WHERE id IN ({ids}) ORDER BY id DESC", params)

    def newest_change(self) -> str | None:
        """The latest `modified` or `last_fetched` of any package (stored UTC text), None without packages."""
        times = [self.db.one("SELECT max(modified) FROM package"), self.db.one("SELECT max(last_fetched) FROM package")]
        return max((time for time in times if time is not None), default=None)

    def catalogue_change(self, table: str) -> str | None:
        """When a walk last wrote a grid (table "grid") or a category ("category"): stored UTC text, or None."""
        assert table in ("grid", "category")
        return self.db.one(f"SELECT max(imported) FROM {table}") if self.db.has_table(table) else None

    def last_run(self, command: str) -> dict | None:
        """The newest `sync_run` row of this command (sync or refresh), or None before the first."""
        return self.db.first("SELECT * FROM sync_run WHERE command = ? ORDER BY id DESC LIMIT 1", [command])

    def facts(self, package_id: int) -> dict | None:
        """The package's facts row, read, or None before any was written."""
        row = self.db.first("SELECT facts.*, package.slug AS of_slug FROM facts JOIN package ON package.id = "
                            "facts.package_id WHERE package_id = ?", [package_id])
        return None if row is None else self._of(row.pop("of_slug"), "facts", row)

    def fetch_state(self, slug: str) -> dict | None:
        row = self.db.first(
            "SELECT fetch_state.* FROM fetch_state JOIN package ON package.id = package_id WHERE slug = ?", [slug])
        return None if row is None else self._of(slug, "fetch_state", row)

    def history(self, slug: str) -> list[dict]:
        """The package's history rows, oldest first."""
        package_id = self._row(slug, "id")["id"]
        rows = self.db.rows(
            """SELECT date, stars, forks, participants, commit_count, pypi_version, archived
               FROM history WHERE package_id = ? ORDER BY date""",
            [package_id],
        )
        return [self._of(slug, "history", row) for row in rows]

    def trending(self, since: str, limit: int) -> list[dict]:
        """Packages by stars gained since the UTC date `since`: newest stars less those of the day before the window.

        A package first seen inside the window counts from its first row. Only the two rows the gain is
        counted from are read (a value no other row holds decides nothing), each through store/stored.py.
        """
        rows = self.db.rows(
            """WITH ends AS (
                   SELECT package_id,
                          max(date) AS last_date,
                          coalesce(max(CASE WHEN date <= ? THEN date END), min(date)) AS first_date
                   FROM history GROUP BY package_id)
               SELECT package.slug, newest.stars AS stars, oldest.stars AS first_stars, oldest.date AS since,
                      newest.date AS last_date
               FROM ends
               JOIN package ON package.id = ends.package_id
               JOIN history AS newest ON newest.package_id = ends.package_id AND newest.date = ends.last_date
               JOIN history AS oldest ON oldest.package_id = ends.package_id AND oldest.date = ends.first_date""",
            [since],
        )
        ends = {"stars": HISTORY["stars"], "first_stars": HISTORY["stars"], "since": HISTORY["date"],
                "last_date": HISTORY["date"]}
        gains = []
        for row in rows:
            row = decoded(self.db.path, package(row["slug"]), ends, row)
            if row["stars"] is not None and row["first_stars"] is not None and row["stars"] > row["first_stars"]:
                gains.append({"slug": row["slug"], "stars": row["stars"], "gained": row["stars"] - row["first_stars"],
                              "since": row["since"]})
        return heapq.nsmallest(limit, gains, key=lambda gain: (-gain["gained"], gain["slug"]))

    def last_errors(self, ids: list[int]) -> tuple[dict[int, str | None], list[UnreadableValue]]:
        """The last error of each of these packages (package id -> text), and those that cannot be read."""
        if not ids:
            return {}, []  # PostgreSQL has no empty `IN ()`
        with self.db.tolerant():  # text that is not UTF-8 is named as unreadable (store/stored.py)
            rows = self.db.select(f"""SELECT package_id, slug, last_error FROM fetch_state JOIN package
                                      ON package.id = package_id WHERE package_id IN ({marks(len(ids))})""", ids)
        errors, unreadable = {}, []
        for row in rows:
            row, problems = lenient(self.db.path, package(row["slug"]), LAST_ERROR, row)
            errors[row["package_id"]] = row["last_error"]
            unreadable += problems
        return errors, unreadable

    def _row(self, slug: str, columns: str = "*") -> dict:
        # A slug from the command line may hold a lone surrogate (bytes that are not UTF-8): no package has it.
        row = self.db.first(f"SELECT {columns} FROM package WHERE slug = ?", [slug]) if is_utf8(slug) else None
        if row is None:
            raise UnknownPackage([slug])
        return row

    def _package(self, row: dict) -> dict:
        return self._of(row["slug"], "package", row)

    def _with_facts(self, row: dict) -> dict:
        record = self._package(row)
        if record["facts"] is not None:
            record["facts"] = self._of(record["slug"], "facts", record["facts"])
        return record

    def _of(self, slug, table: str, row: dict) -> dict:
        """A row of a package's, every value read as its column's kind."""
        return decoded(self.db.path, package(slug), COLUMNS[table], row)

    # The catalogue's grids and categories, as `fetcher import --from-api` stores them (fetcher.directory.to_api
    # prints a row in the API's shape). Until a store has the tables, each list is empty and each lookup finds
    # nothing.

    def grid_count(self) -> int:
        return self.db.one("SELECT count(*) FROM grid") if self.db.has_table("grid") else 0

    def grid_page(self, limit: int, offset: int) -> list[dict]:
        if not self.db.has_table("grid"):
            return []
        return self.db.select("SELECT * FROM grid ORDER BY id DESC LIMIT ? OFFSET ?", [limit, offset])

    def grid(self, *, id: int | None = None, slug: str | None = None) -> dict | None:
        if not self.db.has_table("grid") or (id is not None and id > _LARGEST_ID):
            return None
        if id is not None:
            return self.db.first("SELECT * FROM grid WHERE id = ?", [id])
        return self.db.first("SELECT * FROM grid WHERE slug = ?", [slug])

    def category_count(self) -> int:
        return self.db.one("SELECT count(*) FROM category") if self.db.has_table("category") else 0

    def category_page(self, limit: int, offset: int) -> list[dict]:
        if not self.db.has_table("category"):
            return []
        return self.db.select("SELECT * FROM category ORDER BY id DESC LIMIT ? OFFSET ?", [limit, offset])

    def category(self, id: int) -> dict | None:
        if not self.db.has_table("category") or id > _LARGEST_ID:
            return None
        return self.db.first("SELECT * FROM category WHERE id = ?", [id])

    def last_syncs(self, count: int) -> list[dict]:
        """The last `count` syncs, newest first: when each started and why it stopped early (None: it did not).
        A run whose row cannot be read is left out (`status` names it among the last runs)."""
        with self.db.tolerant():
            rows = self.db.select(
                "SELECT id, started, stopped FROM sync_run WHERE command = 'sync' ORDER BY id DESC LIMIT ?", [count])
        return self._runs(rows)

    def finished_syncs_since(self, since: datetime) -> list[dict]:
        """The syncs that ran to their end, started after `since`, and the newest started at or before it (when
        there is one); newest first: when each started and how many packages it deferred."""
        found = []
        with self.db.tolerant():
            rows = self.db.select(
                "SELECT id, started, deferred FROM sync_run WHERE command = 'sync' AND stopped IS NULL ORDER BY id DESC")
        for row in self._runs(rows):
            if row["started"] is None or row["deferred"] is None:
                continue
            found.append(row)
            if row["started"] <= since:
                break
        return found

    def _runs(self, rows: list[dict]) -> list[dict]:
        read, _ = readable(self.db.path, rows, RUN, lambda row: row_of("sync_run", id=row["id"]))
        return read


def _split_facts(row: dict) -> dict:
    record = {name: value for name, value in row.items() if not name.startswith("facts__")}
    has_facts = row["facts__package_id"] is not None
    record["facts"] = {name: row[f"facts__{name}"] for name in FACT_NAMES} if has_facts else None
    return record
