"""Claims: which worker is fetching a package (table claim), so that several workers share one catalogue.

A worker claims a small batch of due packages at a time, in due order: in one transaction it locks their rows
(on PostgreSQL `FOR NO KEY UPDATE SKIP LOCKED`: a row another claimer or a package's write holds is skipped,
never waited for; on SQLite `BEGIN IMMEDIATE` has the whole store), then takes each that no other live worker
holds and none attempted in the pass, writing its claim: by whom, until when (the lease), and the GitHub points
its fetch is expected to cost (what the fleet's budget plan leaves to the others). A claim whose claimed_until
has passed is free: its worker died, and the next claimer replaces it. A claim is released on every outcome;
what a worker still holds goes with its row at its end (ON DELETE CASCADE).

Date-times are compared as stored text (record.to_stored_datetime: UTC, microseconds), which sorts as time does.
"""

from datetime import datetime, timedelta
from typing import Iterable

from fetcher.errors import UnreadableValue
from fetcher.record import to_stored_datetime
from fetcher.store.sql import Database, in_chunks, marks
from fetcher.store.stored import COLUMNS, row_of, value

# Claims written in one statement (four values each: within SQLite's oldest limit of 999).
ROWS_PER_INSERT = 200


class Claims:
    def __init__(self, db: Database):
        self.db = db

    def take(self, worker_id: int, wanted: Iterable[tuple[int, int]], now: datetime, lease: timedelta,
             begun: datetime | None = None) -> list[int]:
        """Claim what is free of `wanted` ((package id, expected GitHub points), in due order) for the worker, until
        now + lease; the ids claimed, in that order. Not claimed: a package gone, one whose row another transaction
        holds (PostgreSQL), one another worker's live claim holds, and with `begun` one attempted since then (in
        this pass, by any worker). The worker's own claims are renewed."""
        wanted = list(wanted)
        if not wanted:
            return []
        with self.db.claiming():
            return self._take(worker_id, wanted, now, lease, begun)

    def _take(self, worker_id: int, wanted: list[tuple[int, int]], now: datetime, lease: timedelta,
              begun: datetime | None) -> list[int]:
        """`take` inside its transaction."""
        ids = [package for package, _ in wanted]
        # First the rows' locks, in a statement of their own: whatever claimed them before has committed by the time
        # a lock is had, so the reads below (a statement's own snapshot) see that claim, and that attempt.
        locked = {row["id"] for row in self.db.select(
            f"SELECT id FROM package WHERE id IN ({marks(len(ids))}) ORDER BY id{self.db.dialect.lock_rows}", ids)}
        if not locked:
            return []
        mine = sorted(locked)
        stamp = to_stored_datetime(now)
        held = {row["package_id"] for row in self.db.select(
            f"SELECT package_id FROM claim WHERE package_id IN ({marks(len(mine))}) AND claimed_by != ? "
            "AND claimed_until > ?", [*mine, worker_id, stamp])}
        attempted = set()
        if begun is not None:
            for row in self.db.select(f"SELECT package_id, last_attempt FROM fetch_state WHERE package_id IN "
                                      f"({marks(len(mine))}) AND last_attempt IS NOT NULL", mine):
                if _attempted_since(self.db, row, begun):
                    attempted.add(row["package_id"])
        free = [(package, points) for package, points in wanted
                if package in locked and package not in held and package not in attempted]
        until = to_stored_datetime(now + lease)
        new = 0
        for part in in_chunks(free, ROWS_PER_INSERT):
            new += self.db.one(
                f"SELECT count(*) FROM claim WHERE package_id IN ({marks(len(part))}) AND claimed_by = ?",
                [*(package for package, _ in part), worker_id])
            self.db.execute(
                "INSERT INTO claim (package_id, claimed_by, claimed_until, points) VALUES "
                + ", ".join(["(?, ?, ?, ?)"] * len(part))
                + " ON CONFLICT (package_id) DO UPDATE SET claimed_by = excluded.claimed_by, "
                  "claimed_until = excluded.claimed_until, points = excluded.points",
                [value for package, points in part for value in (package, worker_id, until, max(0, int(points)))])
        if len(free) > new:
            self.db.execute("UPDATE worker SET claimed = claimed + ? WHERE id = ?", [len(free) - new, worker_id])
        return [package for package, _ in free]

    def release(self, worker_id: int, ids: Iterable[int]) -> None:
        """Give up the worker's claims on these packages (a claim another worker has taken since is left alone)."""
        ids = list(ids)
        if not ids:
            return
        with self.db.claiming():
            for part in in_chunks(ids):
                self.db.execute(f"DELETE FROM claim WHERE package_id IN ({marks(len(part))}) AND claimed_by = ?",
                                [*part, worker_id])

    def release_all(self, worker_id: int) -> None:
        """Give up every claim the worker holds."""
        with self.db.claiming():
            self.db.execute("DELETE FROM claim WHERE claimed_by = ?", [worker_id])

    def held(self, worker_id: int) -> int:
        """How many claims the worker holds."""
        return self.db.one("SELECT count(*) FROM claim WHERE claimed_by = ?", [worker_id])

    def others(self, worker_id: int) -> int:
        """How many claims other workers hold, live or passed: while any remain, the pass is not over."""
        return self.db.one("SELECT count(*) FROM claim WHERE claimed_by != ?", [worker_id])

    def others_points(self, worker_id: int | None, now: datetime) -> int:
        """The GitHub points the live claims of other workers expect to spend: what the fleet's plan leaves them."""
        return self.db.one(
            "SELECT coalesce(sum(points), 0) FROM claim JOIN worker ON worker.id = claim.claimed_by "
            "WHERE claimed_by != ? AND claimed_until > ? AND worker.alive_until > ?",
            [-1 if worker_id is None else worker_id, *[to_stored_datetime(now)] * 2])

    def others_held(self, worker_id: int, now: datetime) -> set[int]:
        """The packages other workers' live claims hold (at most a few lookaheads of each worker)."""
        return {row["package_id"] for row in self.db.select(
            "SELECT package_id FROM claim WHERE claimed_by != ? AND claimed_until > ?",
            [worker_id, to_stored_datetime(now)])}

    def holder(self, ids: list[int], worker_id: int, now: datetime) -> dict | None:
        """The live worker other than this one that holds a claim on one of these packages: {host, pid, command,
        started}; None when none does."""
        for part in in_chunks(ids):
            row = self.db.first(
                f"""SELECT worker.host, worker.pid, worker.command, worker.started FROM claim
                    JOIN worker ON worker.id = claim.claimed_by
                    WHERE claim.package_id IN ({marks(len(part))}) AND claim.claimed_by != ?
                      AND claim.claimed_until > ? ORDER BY worker.started LIMIT 1""",
                [*part, worker_id, to_stored_datetime(now)])
            if row is not None:
                return row
        return None


def _attempted_since(db: Database, row: dict, begun: datetime) -> bool:
    """Whether a fetch_state row's last attempt is at or after `begun`; one stored unreadably reads as unknown (not
    attempted), as the schedule's walk reads it."""
    try:
        where = row_of("fetch_state", package_id=row["package_id"])
        return value(db.path, where, COLUMNS["fetch_state"]["last_attempt"], row["last_attempt"]) >= begun
    except UnreadableValue:
        return False
