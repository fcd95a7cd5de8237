"""Which packages are due, in due order, read a page at a time: the store's side of `fetcher.due`.

The order is never-fetched first, then the oldest fetch, then id. It is walked by keyset on
(coalesce(last_fetched, ''), id), which the index package_due_order serves: each page costs
the same however far in it is, and nothing of the catalogue is held whole.
"""

from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import Callable, Iterator

from fetcher import due
from fetcher.record import is_utf8
from fetcher.store.sql import Database, marks
from fetcher.store.stored import COLUMNS, lenient, package, value

# Due packages are read this many at a time (a few hundred kB of rows, whatever the catalogue's size).
PAGE = 500
# What the walk reads, by kind (store/stored.py).
WALKED = {name: COLUMNS["package"][name] for name in ("slug", "repo_url", "last_fetched")} | {
    name: COLUMNS["fetch_state"][name] for name in ("consecutive_failures", "last_error_at", "failing_since",
                                                   "last_attempt", "last_points", "pending")}


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

    def walk(self, begun: datetime | None = None) -> Iterator[dict]:
        """Every package in due order: id, slug, repo_url, last_fetched, and of its fetch state failures,
        last_error_at, failing_since, last_attempt, last_points and pending.

        The values are read through store/stored.py. One another program stored that cannot be read
        only decides when the package is due, so it is taken as unknown and the package is never held
        back by it: an unreadable last_fetched reads as never fetched, a failure count or time as no
        failure, pending as not pending, last_points as no estimate. Each row says which were unreadable
        (`unreadable`, for `fetcher status`); a fetch writes good ones.

        With `begun`, packages attempted since then are left out: a package this run wrote moves to
        the end of the order and must not come round again.
        """
        after: tuple = ("", -1)
        while True:
            with self.db.tolerant():  # a package's text that is not UTF-8 is that package's, named below
                page = self.db.select(
                    """SELECT package.id, package.slug, package.repo_url, coalesce(last_fetched, '') AS position,
                              last_fetched, consecutive_failures, last_error_at, failing_since, last_attempt,
                              last_points, pending
                       FROM package LEFT JOIN fetch_state ON fetch_state.package_id = package.id
                       WHERE (coalesce(last_fetched, ''), package.id) > (?, ?)
                       ORDER BY coalesce(last_fetched, ''), package.id LIMIT ?""",
                    [*after, PAGE],
                )
            for row in page:
                values, unreadable = lenient(self.db.path, package(row["slug"]), WALKED, row)
                if begun is not None and values["last_attempt"] is not None and values["last_attempt"] >= begun:
                    continue
                values.update(failures=values.pop("consecutive_failures") or 0, pending=bool(values["pending"]),
                              unreadable=unreadable)
                yield values
            if len(page) < PAGE:
                return
            last = page[-1]
            if isinstance(last["position"], str) and not is_utf8(last["position"]):
                # The next page is asked from here, and no text that is not UTF-8 can be sent to SQLite.
                value(self.db.path, package(last["slug"]), COLUMNS["package"]["last_fetched"], last["position"])
            after = (last["position"], last["id"])

    def rows_by_id(self, ids: list[int]) -> list[dict]:
        """The package rows of these ids, in their order (one that is gone meanwhile is left out)."""
        with self.db.tolerant():  # text that is not UTF-8 fails its own package (store/stored.py), not the page
            rows = {row["id"]: row for row in self.db.select(f"SELECT * FROM package WHERE id IN ({marks(len(ids))})",
                                                              ids)}
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
        self.begun = now  # packages attempted since are left out: alone, since the run was asked for
        self._held: frozenset[int] = frozenset()  # what other workers' claims hold: their share, not this one's
        self.taken = 0  # packages claimed by `claiming`, across its walks

    def in_pass(self, begun: datetime, held: set[int]) -> None:
        """A worker of a fleet: leave out what was attempted since `begun` (the pass's start, which another worker
        began) and what the other workers hold now (`held`), from the count, the costs and the walks."""
        self.begun = min(self.begun, begun)
        self._held = frozenset(held)
        self._count = None

    def _due(self, begun: datetime | None, held: frozenset[int] | None = None) -> Iterator[dict]:
        held = self._held if held is None else held
        for row in self._schedule.walk(begun):
            if row["id"] not in held and (self._stale_after is None or
                                                is_due(row, self._stale_after, self._now)):
                yield row

    def _limited(self, rows: Iterator[dict]) -> Iterator[dict]:
        return islice(rows, self._limit) if self._limit is not None else rows

    def costs(self) -> Iterator[tuple[str, int | None]]:
        """(repo_url, what its last fetch cost or None) of each due package, in due order; a walk that keeps nothing."""
        return ((row["repo_url"], row["last_points"]) for row in self._limited(self._due(None if not self._held
                                                                                         else self.begun)))

    def take(self, count: int) -> None:
        """Leave all but the first `count` for a later run."""
        self._limit = count if self._limit is None else min(self._limit, count)
        self._count = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = sum(1 for _ in self._limited(self._due(self.begun)))
        return self._count

    def __iter__(self) -> Iterator[dict]:
        ids = (row["id"] for row in self._limited(self._due(self.begun)))
        while page := list(islice(ids, PAGE)):
            yield from self._schedule.rows_by_id(page)

    @property
    def exhausted(self) -> bool:
        """Whether `claiming` has taken as many as the limit allows."""
        return self._limit is not None and self.taken >= self._limit

    def claiming(self, take: Callable[[list[dict]], list[int]], chunk: int) -> Iterator[list[dict]]:
        """One walk over the due packages, in due order, offering `take` (a worker's claimer) `chunk` of the walk's
        rows at a time; yields the package rows of each chunk it took. The limit counts what is taken, over every
        walk: what another worker holds or has attempted meanwhile is another's share, and the walk goes on past it.
        Walked again, it offers what is still due and unattempted in the pass (a dead worker's packages)."""
        rows = self._due(self.begun, frozenset())  # a claim refuses what is held: a dead worker's is taken
        while not self.exhausted:
            offered = list(islice(rows, chunk if self._limit is None else min(chunk, self._limit - self.taken)))
            if not offered:
                return
            ids = take(offered)
            self.taken += len(ids)
            if ids:
                yield self._schedule.rows_by_id(ids)


def is_due(row: dict, stale_after: timedelta, now: datetime) -> bool:
    """Whether a row of `walk` is due at `now`."""
    return due.is_due(row["last_fetched"], row["failures"], row["last_error_at"], stale_after, now, row["pending"])
