"""The workers: each sync or refresh working on the store, with its lease (table worker).

A worker's row is made at its start and deleted at its end; while it lives it renews its lease, and its claims'
with it (table claim). A worker that dies without ending (kill -9, a lost machine) stops renewing: once its
lease has passed it counts no more, its claims are free for the others, its budget holds are not counted, and the
next worker to begin deletes its row (its claims and holds go with it, by ON DELETE CASCADE).

Leases are the workers' own clocks' date-times: machines that share a store must keep their clocks within a few
seconds of each other (NTP does), far less than a lease.
"""

import os
import socket
from datetime import datetime, timedelta

from fetcher.record import to_stored_datetime
from fetcher.store.sql import Database
from fetcher.store.stored import COLUMNS, readable, row_of

# How long a worker's claims hold without being renewed, unless `[sync] lease` says otherwise: long enough that a
# busy worker never loses them (it renews a third of the way through), short enough that a dead one's packages are
# soon taken by the others.
LEASE = timedelta(seconds=90)


class Workers:
    def __init__(self, db: Database):
        self.db = db

    def begin(self, command: str, now: datetime, lease: timedelta = LEASE, alone: bool = False) -> dict:
        """A worker for this process: {id, host, pid, started, pass_started}. Its pass is the one the live workers
        are on (the first start among them), so nothing they attempted since is taken again; alone, its own start.
        Workers whose lease has passed are deleted first, freeing what they held; `alone` (a run lock proves no
        other run lives: SQLite's) deletes every other worker, whose rows a killed run left."""
        stamp = to_stored_datetime(now)
        host, pid = socket.gethostname(), os.getpid()
        with self.db.write():
            if alone:
                self.db.execute("DELETE FROM worker")
            self.db.execute("DELETE FROM worker WHERE alive_until <= ?", [stamp])
            # The first start among them, not their passes' first: overlapping workers would chain one pass for ever.
            first = self.db.one("SELECT min(started) FROM worker")
            pass_started = min(first, stamp) if first else stamp
            worker_id = self.db.insert("worker", {
                "host": host, "pid": pid, "command": command, "started": stamp,
                "pass_started": pass_started, "alive_until": to_stored_datetime(now + lease), "claimed": 0,
            })
        return {"id": worker_id, "host": host, "pid": pid, "started": stamp, "pass_started": pass_started}

    def sweep(self, now: datetime) -> int:
        """Delete the workers whose lease has passed (they died), and with them their claims and holds; how many."""
        with self.db.write():
            return self.db.execute("DELETE FROM worker WHERE alive_until <= ?", [to_stored_datetime(now)]).rowcount

    def renew(self, worker_id: int, now: datetime, lease: timedelta = LEASE) -> bool:
        """Hold the worker's lease and its claims' for another `lease`; False if its row is gone (another worker
        found its lease passed and deleted it: what it claimed may be another's now)."""
        until = to_stored_datetime(now + lease)
        with self.db.write():
            if self.db.one_or_none("SELECT id FROM worker WHERE id = ?", [worker_id]) is None:
                return False
            self.db.update("worker", {"id": worker_id}, {"alive_until": until})
            self.db.execute("UPDATE claim SET claimed_until = ? WHERE claimed_by = ?", [until, worker_id])
        return True

    def rejoin(self, worker: dict, command: str, now: datetime, lease: timedelta = LEASE) -> None:
        """Make again the row of a worker another deleted, its lease having passed while it lived (a process stopped
        for longer than its lease): the same id, start and pass, so what it claims from now on is held again. What
        it held went with the row, and may be another's now."""
        with self.db.write():
            if self.db.one_or_none("SELECT id FROM worker WHERE id = ?", [worker["id"]]) is None:
                self.db.insert("worker", {
                    "id": worker["id"], "host": worker["host"], "pid": worker["pid"], "command": command,
                    "started": worker["started"], "pass_started": worker["pass_started"],
                    "alive_until": to_stored_datetime(now + lease), "claimed": 0})

    def end(self, worker_id: int) -> None:
        """The worker is done: its row goes, its claims and holds with it."""
        with self.db.write():
            self.db.execute("DELETE FROM worker WHERE id = ?", [worker_id])

    def live(self, now: datetime) -> list[dict]:
        """The workers whose lease holds at `now`, first started first, each with `claims`: the packages it holds
        now. Rows another program stored unreadably are left out."""
        return [worker for worker in self.listed(now) if not worker["gone"]]

    def listed(self, now: datetime) -> list[dict]:
        """Every worker row, first started first, each with `claims` (the packages it holds now) and `gone`: its
        lease has passed (it died, and is deleted when the next worker begins). Unreadable rows are left out."""
        with self.db.tolerant():
            rows = self.db.select(
                """SELECT worker.*, (SELECT count(*) FROM claim WHERE claimed_by = worker.id) AS claims
                   FROM worker ORDER BY started, id""")
        workers, _ = readable(self.db.path, [{k: v for k, v in row.items() if k != "claims"} for row in rows],
                              COLUMNS["worker"], lambda row: row_of("worker", id=row["id"]))
        claims = {row["id"]: row["claims"] for row in rows}
        return [dict(worker, claims=claims[worker["id"]], gone=worker["alive_until"] <= now) for worker in workers]
