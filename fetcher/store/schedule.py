"""Which packages are due, in due order, read a page at a time: the store's side of `fetcher.due`.

The order is never-fetched first, then the oldest fetch, then id. It is walked by keyset on
(coalesce(last_fetched, ''), id), which the index package_due_order serves: each page costs
the same however far in it is, and nothing of the catalogue is held whole.
"""

from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import Iterator

from fetcher import due
from fetcher.record import to_stored_datetime
from fetcher.store.sql import Database, marks

# Due packages are read this many at a time (a few hundred kB of rows, whatever the catalogue's size).
PAGE = 500


class Schedule:
    def __init__(self, db: Database):
        self.db = db

    def due(self, stale_after: timedelta | None, limit: int | None, now: datetime | None = None) -> "DuePackages":
        """Packages due at `now` (every one when stale_after is None), never-fetched and oldest first,
        read a page at a time as they are iterated (DuePackages)."""
        return DuePackages(self, stale_after, limit, now or datetime.now(timezone.utc))

    def resting(self, stale_after: timedelta, now: datetime) -> int:
        """How many failing packages are resting: not due now only because they failed."""
        return sum(1 for row in self.walk() if row["failures"] and not is_due(row, stale_after, now))

    def due_count(self, stale_after: timedelta, now: datetime) -> int:
        return sum(1 for row in self.walk() if is_due(row, stale_after, now))

    def walk(self, begun: str | None = None) -> Iterator[dict]:
        """id, repo_url, last fetch, failures, pending and last points of every package in due order.

        With `begun` (a stored date-time), packages attempted since then are left out: a package
        this run wrote moves to the end of the order and must not come round again.
        """
        after: tuple[str, int] = ("", -1)
        while True:
            page = self.db.select(
                f"""SELECT package.id, package.repo_url, coalesce(last_fetched, '') AS position, last_fetched,
                          coalesce(consecutive_failures, 0) AS failures, last_error_at, last_points,
                          coalesce(pending, 0) AS pending
                   FROM package LEFT JOIN fetch_state ON fetch_state.package_id = package.id
                   WHERE (coalesce(last_fetched, ''), package.id) > (?, ?)
                     {"AND coalesce(last_attempt, '') < ?" if begun else ""}
                   ORDER BY coalesce(last_fetched, ''), package.id LIMIT ?""",
                [*after, *([begun] if begun else []), PAGE],
            )
            yield from page
            if len(page) < PAGE:
                return
            after = (page[-1]["position"], page[-1]["id"])

    def rows_by_id(self, ids: list[int]) -> list[dict]:
        """The package rows of these ids, in their order (one that is gone meanwhile is left out)."""
        rows = {row["id"]: row for row in self.db.rows(f"SELECT * FROM package WHERE id IN ({marks(len(ids))})", ids)}
        return [rows[i] for i in ids if i in rows]


class DuePackages:
    """The packages a sync fetches, in due order, read from the store a page at a time as it goes.

    len() counts them (a walk over the schedule that keeps nothing); iterating reads the next
    page only once the previous one is taken, and keeps nothing of a package it has handed on.
    Iterated once, by the run that asked for it.
    """

    def __init__(self, schedule: Schedule, stale_after: timedelta | None, limit: int | None, now: datetime):
        self._schedule = schedule
        self._stale_after = stale_after
        self._limit = limit
        self._now = now
        self._count: int | None = None

    def _due(self, begun: str | None) -> Iterator[dict]:
        for row in self._schedule.walk(begun):
            if self._stale_after is None or is_due(row, self._stale_after, self._now):
                yield row

    def _limited(self, rows: Iterator[dict]) -> Iterator[dict]:
        return islice(rows, self._limit) if self._limit is not None else rows

    def costs(self) -> Iterator[tuple[str, int | None]]:
        """(repo_url, what its last fetch cost or None) of each due package, in due order; a walk that keeps nothing."""
        return ((row["repo_url"], row["last_points"]) for row in self._limited(self._due(None)))

    def take(self, count: int) -> None:
        """Leave all but the first `count` for a later run."""
        self._limit = count if self._limit is None else min(self._limit, count)
        self._count = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(1 for _ in self._limited(self._due(to_stored_datetime(self._now))))
        return self._count

    def __iter__(self) -> Iterator[dict]:
        ids = (row["id"] for row in self._limited(self._due(to_stored_datetime(self._now))))
        while page := list(islice(ids, PAGE)):
            yield from self._schedule.rows_by_id(page)


def is_due(row: dict, stale_after: timedelta, now: datetime) -> bool:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return due.is_due(when(row["last_fetched"]), row["failures"], when(row["last_error_at"]), stale_after, now,
                      bool(row["pending"]))
