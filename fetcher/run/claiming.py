"""What a run takes and gives back: its packages claimed as it reads ahead, each released once it is done.

Several workers (sync processes, on one machine or many) share one store's catalogue this way (store/claims.py):
each claims the due packages it reads ahead, a chunk at a time in due order, so a package is fetched by one
worker per pass. A claim is released on every outcome (batched: a few at a time); what a worker still holds at
its end goes with its row. A refresh claims its packages before it begins, waiting for a worker that holds one.
"""

import asyncio
import logging
import time
from datetime import datetime, timedelta
from itertools import islice
from typing import AsyncIterator, Awaitable, Callable, Iterable

from fetcher.errors import FetcherError, StoreBusy, StoreUnavailable
from fetcher.hosts.registry import Hosts
from fetcher.store import Store
from fetcher.store.schedule import DuePackages

log = logging.getLogger(__name__)

RELEASE_BATCH = 16  # claims released in one transaction: a package's claim outlives its write by a few at most
CHUNK = 100  # packages claimed at a time: the run loop's chunk (GitHub's most repositories in one query)
# How often, its walk done, a worker of a fleet looks again for the packages others still hold (at most a third of
# the lease): it ends when none remain.
POLL = 3.0
POLL_SECONDS = 0.5  # how often a refresh asks whether the worker holding its packages is done


class Claimer:
    """One run's claims: `take` a chunk of the walk's rows, `release` a package once it is done."""

    def __init__(self, store: Store, worker: dict, command: str, lease: timedelta, clock: Callable[[], datetime],
                 hosts: Hosts):
        self.store = store
        self.worker, self.command = worker, command
        self.worker_id = worker["id"]
        self.lease = lease
        self.clock = clock
        self.hosts = hosts
        self._plans: dict[int, object] = {}
        self._done: list[int] = []
        self.holding: set[int] = set()  # the packages this run has claimed and not yet released

    def points(self, row: dict) -> int:
        """The GitHub points the package's fetch is expected to cost: its host's plan's estimate from its last."""
        try:
            host = self.hosts.host_of(row["repo_url"])
        except Exception:  # a link another program stored unreadably: its fetch fails, asking nothing
            return 0
        if id(host) not in self._plans:
            self._plans[id(host)] = host.plan()
        plan = self._plans[id(host)]
        return plan.cost(row.get("last_points")) if plan is not None else 0

    def take(self, rows: list[dict], begun: datetime | None) -> list[int]:
        """Claim what is free of `rows` (in due order); the ids claimed. With `begun`, one attempted since (in the
        pass, by any worker) is left. One this run holds already (a walk again meets what it has not done yet) is
        not taken twice."""
        wanted = [(row["id"], self.points(row)) for row in rows if row["id"] not in self.holding]
        taken = self.store.claims.take(self.worker_id, wanted, self.clock(), self.lease, begun)
        self.holding.update(taken)
        return taken

    async def rows(self, packages: Iterable[dict], sleep: Callable[[float], Awaitable[None]],
                   held: Callable[[dict], None]) -> AsyncIterator[list[dict]]:
        """The package rows this worker takes, a chunk at a time, each claimed as it is read ahead.

        Due packages (DuePackages) are walked in due order; what another worker holds or attempted in the pass is
        passed over. After the walk, while other workers' claims remain, it waits a little (`sleep`) and walks
        again: a dead worker's claims are taken once its lease has passed, and the pass ends when none remain.
        Packages named (a refresh, a list) are claimed as they come; `held(row)` is told of one another holds."""
        if not isinstance(packages, DuePackages):
            rows = iter(packages)
            while chunk := list(islice(rows, CHUNK)):
                taken = set(self.take(chunk, None))
                for row in chunk:
                    if row["id"] not in taken:
                        held(row)
                yield [row for row in chunk if row["id"] in taken]
            return
        while True:
            for rows in packages.claiming(lambda offered: self.take(offered, packages.begun), CHUNK):
                yield rows
                self.flush()
            if packages.exhausted or not self.store.claims.others(self.worker_id):
                return
            # Others' claims remain: those of live workers are released as they finish, a dead one's pass its lease.
            self.flush()
            await sleep(min(POLL, self.lease.total_seconds() / 3))
            if not self.store.workers.renew(self.worker_id, self.clock(), self.lease):
                self.rejoin()
            self.store.workers.sweep(self.clock())  # the dead, their claims with them

    def rejoin(self) -> None:
        """This worker's row was deleted (its lease passed while it lived), its claims with it: the row made again,
        and what it still has to do claimed again where no other worker took it meanwhile."""
        log.warning("%s: the worker's lease had passed and another worker took what it held: a package of its may "
                    "be fetched twice in this pass", self.store.path)
        self.store.workers.rejoin(self.worker, self.command, self.clock(), self.lease)
        self.store.claims.take(self.worker_id, [(package, 0) for package in self.holding], self.clock(), self.lease)

    def release(self, package_id: int) -> None:
        """The package is done (whatever its outcome, its write made): its claim goes with the next few."""
        self._done.append(package_id)
        if len(self._done) >= RELEASE_BATCH:
            self.flush()

    def flush(self) -> None:
        """Release the claims of the packages done so far. A store that cannot be reached keeps them until the
        worker's end, or its lease's."""
        done, self._done = self._done, []
        self.holding.difference_update(done)
        try:
            self.store.claims.release(self.worker_id, done)
        except FetcherError as exc:
            log.warning("%s: cannot release %d claims: %s", self.store.path, len(done), exc)


def claim_all(store: Store, worker: dict, rows: list[dict], clock: Callable[[], datetime], lease: timedelta,
              wait_seconds: float, waiting: Callable[[dict], None] | None) -> None:
    """A refresh's packages, claimed before it begins: while a live worker holds one, wait up to `wait_seconds`
    (`waiting(holder)` once, with {host, pid, command, started}), then StoreBusy naming the holder (exit 75)."""
    wanted = [(row["id"], 0) for row in rows]
    deadline = time.monotonic() + wait_seconds
    unheld = 0
    while True:
        taken = store.claims.take(worker["id"], wanted, clock(), lease)
        if len(taken) == len(wanted):
            return
        holder = store.claims.holder([package for package, _ in wanted], worker["id"], clock())
        if holder is None:  # no worker holds it: removed, released just now, or its row written this instant
            unheld += 1
            if unheld < 3:
                continue
            return  # the run finds a removed one gone, as it would have without claims
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait_seconds:.0f}s" if wait_seconds else ""
            raise StoreBusy(f"fetcher {holder['command']} (pid {holder['pid']} on {holder['host']}) is fetching "
                            f"{'one of these packages' if len(rows) > 1 else 'this package'}{waited}; try again later")
        if waiting:
            waiting(holder)
            waiting = None  # once
        time.sleep(POLL_SECONDS)


async def renew_lease(claimer: Claimer) -> None:
    """Renew the worker's lease, and its claims', a third of the way through each (in real time, whatever the
    run's clock): while this process lives, no other worker takes what it holds. Runs until cancelled."""
    store = claimer.store
    while True:
        await asyncio.sleep(claimer.lease.total_seconds() / 3)
        try:
            if not store.workers.renew(claimer.worker_id, claimer.clock(), claimer.lease):
                claimer.rejoin()
        except StoreUnavailable as exc:  # the next renewal may reach it; the lease is three times as long
            log.warning("%s: cannot renew the worker's lease: %s", store.path, exc)
