"""What the store shows: records in the API's shape, their facts and fetch state, history, trending, the overview.

Readers also work on a store opened read-only, which is not shaped: it is shown at the current
shape (store/shape.py: a table it lacks reads as empty, a column as its migration would give it).
Readers read tables, never the views, which are for a person browsing the store. Every value is
read through store/stored.py: one another program wrote that is not of its column's kind is an
UnreadableValue naming it (exit 2), never a crash.
"""

import contextlib
import heapq
from typing import Iterator

from fetcher.errors import UnknownPackage, UnreadableValue
from fetcher.facts import FACT_NAMES
from fetcher.record import API_FIELDS, is_utf8
from fetcher.store.sql import Database, marks
from fetcher.store.stored import COLUMNS, decoded, lenient, package

HISTORY = COLUMNS["history"]
LAST_ERROR = {"last_error": COLUMNS["fetch_state"]["last_error"]}


class Reads:
    def __init__(self, db: Database):
        self.db = db

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in one transaction: every query inside sees the store as the first one did."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def record(self, slug: str) -> dict:
        """The package's row, every value read (lists as lists, date-times as date-times)."""
        return self._package(self._row(slug))

    def records(self, with_facts: bool = False) -> Iterator[dict]:
        """Every package row, by slug, read as `record` reads it; streamed, so an export of any size stays small.

        With facts, each row also holds its `facts` row under "facts" (None when it has none).
        """
        if not with_facts:
            rows = self.db.rows(f"SELECT {', '.join(API_FIELDS)} FROM package ORDER BY slug")
            return (self._package(row) for row in rows)
        columns = ", ".join([*(f"package.{name}" for name in API_FIELDS),
                             "facts.package_id AS facts__package_id",
                             *(f"facts.{name} AS facts__{name}" for name in FACT_NAMES)])
        rows = self.db.rows(
            f"SELECT {columns} FROM package LEFT JOIN facts ON facts.package_id = package.id ORDER BY slug")
        return (self._with_facts(_split_facts(row)) for row in rows)

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


def _split_facts(row: dict) -> dict:
    record = {name: value for name, value in row.items() if not name.startswith("facts__")}
    has_facts = row["facts__package_id"] is not None
    record["facts"] = {name: row[f"facts__{name}"] for name in FACT_NAMES} if has_facts else None
    return record
