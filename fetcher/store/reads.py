"""What the store shows: records in the API's shape, their facts and fetch state, history, trending, the overview.

Readers also work on a store opened read-only, which is not shaped: one from before a table
existed lacks it, and reads as empty.
"""

from datetime import datetime, timedelta
from typing import Iterator

from fetcher.errors import UnknownPackage
from fetcher.facts import FACT_NAMES
from fetcher.record import API_FIELDS
from fetcher.store.schedule import Schedule
from fetcher.store.sql import Database


# SQLite's integers are 64-bit: a larger id is no row's, and cannot even be asked for.
_LARGEST_ID = 2**63 - 1


class Reads:
    def __init__(self, db: Database):
        self.db = db

    def record(self, slug: str) -> dict:
        row = self.db.first("SELECT * FROM package WHERE slug = ?", [slug])
        if row is None:
            raise UnknownPackage([slug])
        return row

    def records(self, with_facts: bool = False) -> Iterator[dict]:
        """Every package row, by slug; streamed, so an export of any size stays small.

        With facts, each row also holds its `facts` row under "facts" (None when it has none).
        """
        if not with_facts:
            return self.db.rows(f"SELECT {', '.join(API_FIELDS)} FROM package ORDER BY slug")
        if not self.db.has_table("facts"):
            return ({**row, "facts": None} for row in self.records())
        columns = ", ".join([*(f"package.{name}" for name in API_FIELDS),
                             "facts.package_id AS facts__package_id",
                             *(f"facts.{name} AS facts__{name}" for name in FACT_NAMES)])
        rows = self.db.rows(
            f"SELECT {columns} FROM package LEFT JOIN facts ON facts.package_id = package.id ORDER BY slug")
        return (_split_facts(row) for row in rows)

    def facts(self, package_id: int) -> dict | None:
        """The package's facts row as stored, or None before any was written."""
        if not self.db.has_table("facts"):
            return None
        return self.db.first("SELECT * FROM facts WHERE package_id = ?", [package_id])

    def fetch_state(self, slug: str) -> dict | None:
        return self.db.first(
            "SELECT fetch_state.* FROM fetch_state JOIN package ON package.id = package_id WHERE slug = ?", [slug])

    def history(self, slug: str) -> list[dict]:
        """The package's history rows, oldest first."""
        package_id = self.record(slug)["id"]
        if not self.db.has_table("history"):
            return []
        return self.db.select(
            """SELECT date, stars, forks, participants, commit_count, pypi_version, archived
               FROM history WHERE package_id = ? ORDER BY date""",
            [package_id],
        )

    def trending(self, since: str, limit: int) -> list[dict]:
        """Packages by stars gained since the UTC date `since`: newest stars less those of the day before the window.

        A package first seen inside the window counts from its first row.
        """
        if not self.db.has_table("history"):
            return []
        return self.db.select(
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

    def overview(self, stale_after: timedelta, now: datetime, failures: int, runs: int) -> dict:
        """What `fetcher status` shows, read from the store alone."""
        schedule = Schedule(self.db)
        return {
            "repo_urls": (row["repo_url"] for row in self.db.rows("SELECT repo_url FROM package")),
            "due": schedule.due_count(stale_after, now),
            "resting": schedule.resting(stale_after, now),
            "never_fetched": self.db.one("SELECT count(*) FROM package WHERE last_fetched IS NULL"),
            "oldest_fetch": self.db.one("SELECT min(last_fetched) FROM package"),
            "failing": self.db.one("SELECT count(*) FROM fetch_state WHERE consecutive_failures > 0"),
            "worst_failures": self.db.one("SELECT coalesce(max(consecutive_failures), 0) FROM fetch_state"),
            "failures": self.db.select(
                "SELECT slug, consecutive_failures, failing_since AS since, last_error FROM failing LIMIT ?",
                [failures],
            ),
            "sparklines_kept": self.db.one("SELECT count(*) FROM fetch_state WHERE pending = 1"),
            "runs": self.db.select("SELECT * FROM sync_run ORDER BY id DESC LIMIT ?", [runs]),
            "rate_limits": self.db.select("SELECT * FROM rate_limit ORDER BY token_env, resource"),
        }


def _split_facts(row: dict) -> dict:
    record = {name: value for name, value in row.items() if not name.startswith("facts__")}
    has_facts = row["facts__package_id"] is not None
    record["facts"] = {name: row[f"facts__{name}"] for name in FACT_NAMES} if has_facts else None
    return record
