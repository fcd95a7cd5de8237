"""Fetch packages and write what came back: the only place that knows the order, and it names no host.

One client for the whole run. A sync first fits its budgets (plan.py), then the packages it claims (claiming.py)
go through in chunks: each host with a batch step (GitHub's GraphQL) is asked for the chunk's repositories at once
while the previous chunk is fetched, then each package is fetched (its host and PyPI side by side) and written in
its own transaction. A part its host was still computing is asked again later by a task of its own, so no worker
waits on it. A failure that belongs to one package is recorded on it and the run goes on; one that would meet
every package (every token rejected, a rate limit beyond the allowed wait, a host that never answered) stops the
run, keeping everything already written. A host that says it cannot be asked in this run (LeftDue) leaves its
packages as they were and due, and the run goes on with the others. SIGTERM/SIGINT stop it at the next await, so
no write is ever cut in half.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from datetime import datetime
from itertools import groupby
from typing import Awaitable, Callable, ContextManager, Iterable

import httpx

from fetcher.config import Config
from fetcher.durations import format_duration
from fetcher.errors import (Failure, FetcherError, InputError, LeftDue, RateLimited, RunRefused, RunStopped,
                            StoreUnavailable, Unreachable, UnreadableValue)
from fetcher.hosts.base import Later
from fetcher.hosts.pypi import PyPI
from fetcher.hosts.registry import Hosts, secrets
from fetcher.logs import event, redact
from fetcher.net.client import Client, utcnow
from fetcher.net.counts import package_cost
from fetcher.net.slots import first_in_line
from fetcher.record import parse_datetime
from fetcher.run import claiming, plan, signals
from fetcher.run.fetch import fetch
from fetcher.run.report import CLAIMED, EDITED_MEANWHILE, FAILED, LEFT_DUE, SKIPPED, SYNCED, UNCHANGED, RunReport
from fetcher.run.work import WorkItem, work_item
from fetcher.store import Store
from fetcher.store.fetched import CHANGED, EDITED
from fetcher.store.schedule import DuePackages

log = logging.getLogger(__name__)

# Packages in progress per slot: one waiting for a part still being computed holds no slot, so more keep them busy.
PACKAGES_PER_SLOT = 4
# Packages read, claimed and batched at a time: a hundred is GitHub's most repositories in one query.
CHUNK = claiming.CHUNK
# Packages taken from the due list ahead of the workers: what their hosts need time to have ready (GitHub's
# weekly counts) is asked for that much earlier, so the last packages' backoff is not what the run waits for.
LOOKAHEAD = 10 * CHUNK
Progress = Callable[[int], ContextManager[Callable[[str], None] | None]]


def run(
    store: Store,
    packages: Iterable[dict],
    config: Config,
    command: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
    stop_signals: signals.StopSignals | None = None,
    resting: int = 0,
    fit_budget: bool = False,
    claim_wait: tuple[float, Callable[[dict], None] | None] | None = None,
) -> RunReport:
    """Fetch and write `packages`; record the run, however it ends; return what happened.

    `packages` is iterated once, as the run goes (the store's DuePackages reads it a page at a
    time), and its len() is what the summary counts against. `fit_budget`: first leave for a later
    run what the budgets cannot pay for (it must be DuePackages). `progress(total)` is entered once
    the count is known and yields what to tell of each package's outcome (the progress bar).
    An unexpected error is recorded as the reason the run stopped and raised on. The run is a worker of the store's:
    it claims what it takes (run/claiming.py), so any number of runs share one catalogue. `claim_wait` (a
    refresh's): claim every package first, waiting up to (seconds, `waiting(holder)`) for a worker holding one.
    """
    config.github_tokens()  # a malformed token is a configuration error before anything is asked or recorded
    report = RunReport(command=command, started=clock(), packages=0, resting=resting)
    began = time.monotonic()
    scrub = secrets(config)
    # The run is a worker of the store's from here to its end: what it claims and reserves is held by its lease.
    # A store that has one run at a time (SQLite's run lock) holds no other live worker: rows left are a killed run's.
    report.worker = store.workers.begin(command, clock(), config.lease, alone=store.db.dialect.one_run_at_a_time)
    the_run = _Run(store, packages, config, report, clock, sleep, transport, progress, stop_signals, fit_budget)
    try:
        if claim_wait is not None:
            packages = list(packages)
            claiming.claim_all(store, report.worker, packages, clock, config.lease, *claim_wait)
            the_run.packages = packages
        with stop_signals.deferred() if stop_signals else contextlib.nullcontext():
            asyncio.run(the_run.go())
    except FetcherError as exc:  # one that ends the run, e.g. the token rejected
        report.stopped = report.stopped or redact(str(exc), scrub)
        raise
    except Exception as exc:
        report.stopped = report.stopped or redact(f"internal error: {type(exc).__name__}: {exc}", scrub)
        raise
    finally:
        report.seconds = time.monotonic() - began
        if stop_signals and stop_signals.received and report.signal is None:  # a signal while winding down
            report.signal = stop_signals.received
            report.stopped = report.stopped or str(signals.interrupted(stop_signals.received))
        report.record(store, config, clock())
        with contextlib.suppress(StoreUnavailable):  # a worker that cannot say it ended is one whose lease ends
            store.workers.end(report.worker["id"])  # its claims go with its row
    return report


class _Run:
    def __init__(self, store, packages, config, report, clock, sleep, transport, progress, stop_signals, fit_budget):
        self.store = store
        self.packages = packages
        self.config = config
        self.report = report
        self.clock = clock
        self.sleep = sleep
        self.transport = transport
        self.progress = progress or (lambda total: contextlib.nullcontext())
        self.signals = stop_signals
        self.fit_budget = fit_budget
        self.secrets = secrets(config)
        self.on_done: Callable[[str], None] = lambda outcome: None
        self.group: asyncio.TaskGroup | None = None  # the run's tasks: parts asked again later join it

    async def go(self) -> None:
        self.client = Client(self.config, clock=self.clock, sleep=self.sleep, transport=self.transport)
        # [sync] reserve is kept for a person's refresh: a sync never spends it, a refresh may. The tokens' points
        # are reserved in the store's ledger, for every worker sharing it to see.
        self.hosts = Hosts(self.config, self.client, reserve=self.config.reserve if self.fit_budget else 0,
                           ledger=self.store.ledger.bound(self.report.worker["id"]))
        self.pypi = PyPI(self.client, self.config.pypi_url)
        self.claimer = claiming.Claimer(self.store, self.report.worker, self.report.command, self.config.lease,
                                        self.clock, self.hosts)
        main, loop = asyncio.current_task(), asyncio.get_running_loop()
        fetching = True
        renewing = asyncio.create_task(claiming.renew_lease(self.claimer))

        def cancel() -> None:
            if fetching:  # once the packages are done, the signal is only noted
                main.cancel()

        try:
            # From the signal handler: cancel at the next await, so no write is ever cut in half.
            with self.signals.deferred(lambda: loop.call_soon_threadsafe(cancel)) if self.signals \
                    else contextlib.nullcontext():
                if self.signals and self.signals.received:
                    raise asyncio.CancelledError  # a signal came before the run began: ask nothing
                try:
                    await self._fetch_all()
                finally:
                    fetching = False
        except asyncio.CancelledError:
            if not (self.signals and self.signals.received):
                raise
            main.uncancel()
            self.report.signal = self.signals.received
            self.report.stopped = str(signals.interrupted(self.signals.received))
        except RunStopped as stopped:  # before any package was taken: the plan found nothing it may send
            self.report.stopped = str(stopped)
        except ExceptionGroup as failures:
            # The first task to stop the run cancels the others: their packages stay as they were.
            reason = next((exc for exc in failures.exceptions if isinstance(exc, (RunStopped, RunRefused))), None)
            if reason is None:
                raise failures.exceptions[0] from None
            self.report.stopped = str(reason)
            if isinstance(reason, RunRefused):
                raise reason from None  # exit 2: the person must change something before the next run
        finally:
            renewing.cancel()
            for host in self.hosts.all:
                await host.aclose()
            self.report.took(self.client, self.hosts)
            await self.client.aclose()

    async def _fetch_all(self) -> None:
        worker = self.report.worker
        due = self.packages if isinstance(self.packages, DuePackages) else None
        if due is not None and worker["pass_started"] < worker["started"]:
            # Other workers are on a pass begun before this one: what they attempted since, or hold, is not ours.
            due.in_pass(parse_datetime(worker["pass_started"]), self.store.claims.others_held(worker["id"],
                                                                                              self.clock()))
        self.report.packages = len(self.packages)  # what is due, until the plan leaves some for later
        if self.fit_budget:
            self.report.deferred, self.report.deferred_why = await plan.fit(
                self.store, self.packages, self.hosts, self.clock(), worker["id"])
        budgets = plan.believed(self.store, self.clock())
        for host in self.hosts.all:
            host.remember(budgets, self.clock())
        self.report.packages = total = len(self.packages)
        # At least one, for what a dead worker held and is taken once its lease has passed.
        workers = max(1, min(self.config.concurrency * PACKAGES_PER_SLOT, total))
        queue: asyncio.Queue = asyncio.Queue(maxsize=LOOKAHEAD)

        async def produce() -> None:
            # Up to LOOKAHEAD packages ahead of the workers: their batch steps asked, and what their hosts need
            # time to have ready asked for early. Its requests take the next free slot ahead of the workers':
            # behind their queue, the batch of each next chunk, and so its early asks, came seconds late.
            first_in_line.set(True)
            async for rows in self.claimer.rows(self.packages, self.sleep, self._claimed_by_another):
                chunk = [work_item(row, self.hosts, self.store.fetched.record) for row in rows]
                await self._batch(chunk)
                for item in chunk:
                    if item.repo is not None and item.host.early_resources:
                        # Only what the early asks need: a package's whole cache waits for its turn, so what is
                        # read ahead holds little memory.
                        cached = self.store.fetched.cached(item.id, item.host.early_resources)
                        with package_cost(item.points):
                            item.host.ask_early(item.repo, item.batched, cached)
                    await queue.put(item)
            if due is not None:  # the walks are done: this worker's share is what it took
                self.report.packages = due.taken
            for _ in range(workers):
                await queue.put(None)

        async def work() -> None:
            while (item := await queue.get()) is not None:
                await self._sync_one(item)
                if asyncio.current_task().cancelling():
                    # The run is stopping and a library below took the cancellation for an outcome: the
                    # producer is gone, so the next package would be waited for forever.
                    raise asyncio.CancelledError

        with self.progress(total) as on_done:
            self.on_done = on_done or self.on_done
            async with asyncio.TaskGroup() as group:
                self.group = group
                group.create_task(produce())
                for _ in range(workers):
                    group.create_task(work())
        self.claimer.flush()  # every package done: the last few claims released before the run's row is written

    def _claimed_by_another(self, row: dict) -> None:  # a package named for the run another worker is fetching
        self.report.outcomes[SKIPPED] += 1
        self.report.skips[CLAIMED] += 1
        self.on_done(SKIPPED)
        log.info("%s: not fetched: %s", row["slug"], CLAIMED,
                 extra=event("package", slug=row["slug"], outcome=SKIPPED, reason=CLAIMED))

    async def _batch(self, chunk: list[WorkItem]) -> None:
        """Each host's batch step for the chunk's repositories it answers for; what it gave goes with each item."""
        batching = sorted((item for item in chunk if item.repo is not None and item.host.batch_size),
                          key=lambda item: id(item.host))
        for host, items in groupby(batching, key=lambda item: item.host):
            items = list(items)
            for start in range(0, len(items), host.batch_size):
                part = items[start : start + host.batch_size]
                try:
                    results = await host.batch([item.repo for item in part])
                except Failure as failure:
                    self._stop_for(failure)
                for item, result in zip(part, results, strict=True):
                    item.batched = result

    async def _sync_one(self, item: WorkItem) -> None:
        """Fetch and write one package; its claim is released whatever the outcome, once its write is made (a
        package with a later part: once that is asked for, by `_ask_later`)."""
        asking_later = False
        try:
            asking_later = await self._fetch_and_write(item)
        finally:
            if not asking_later:
                self.claimer.release(item.id)

    async def _fetch_and_write(self, item: WorkItem) -> bool:
        """`_sync_one`'s work; True when a later part is asked for by a task of its own (which releases the claim)."""
        try:
            if item.error is not None:
                raise item.error
            item.cache = self.store.fetched.cached(item.id)
            before = self.store.fetched.facts(item.id) or {}
            with package_cost(item.points) as points:  # what it costs is what the next run expects it to cost
                fetched = await fetch(item, self.pypi, before, self.clock(), self.config.compat)
        except (RunRefused, RateLimited, Unreachable) as failure:
            if not self._ends_run(failure):
                self._fail(item, str(failure))
                return False
            self._stop_for(failure)
        except LeftDue as away:  # its host cannot be asked in this run: nothing written, nothing failed, still due
            self._left_due(item, away.reason)
            return False
        except (Failure, InputError, UnreadableValue) as failure:
            self._fail(item, str(failure))
            return False
        record = replace(fetched.record, points=points[0])
        try:
            saved = self.store.fetched.save(item.id, item.links, record, self.clock())
        except UnreadableValue as unreadable:  # another program stored it after the package was read
            self._fail(item, str(unreadable))
            return False
        if saved == EDITED:
            self._edited_meanwhile(item)
            return False
        outcome = SKIPPED if fetched.skipped else SYNCED if saved == CHANGED else UNCHANGED
        self.report.outcomes[outcome] += 1
        if fetched.skipped:
            self.report.skips[fetched.skipped] += 1
        if fetched.later is not None:
            self.report.pending += 1
        log.info("%s: %s%s", item.slug, outcome, f" ({record.note})" if record.note else "",
                 extra=event("package", slug=item.slug, outcome=outcome, note=record.note))
        self.on_done(outcome)
        if fetched.later is not None:
            # Written without the part still being computed; it is asked again later by a task of its own, so
            # this worker goes on to the next package. The links as written: a confirmed move changed repo_url.
            written = replace(item.links, repo_url=record.fields.get("repo_url", item.links.repo_url))
            self.group.create_task(self._ask_later(item, written, fetched.later, record.points))
            return True
        return False

    async def _ask_later(self, item: WorkItem, links, later: Later, written_points: int) -> None:
        """Write the part once it comes (its host asks for it meanwhile, holding no worker).

        Only that part is written, and only while the package's links are the ones it was fetched for.
        Given up on, the package stays pending: the next run takes it again. `written_points`: what the record
        was written with; what the asks cost after that is added. The package's claim is released at the end.
        """
        try:
            await self._write_later(item, links, later, written_points)
        finally:
            self.claimer.release(item.id)

    async def _write_later(self, item: WorkItem, links, later: Later, written_points: int) -> None:
        try:
            part = await later.outcome()
        except (RunRefused, RateLimited, Unreachable) as failure:
            if self._ends_run(failure):
                self._stop_for(failure)
            return  # the record stands without it, still pending
        except Failure as failure:
            reason = redact(str(failure), self.secrets)
            log.info("%s: not updated later: %s", item.slug, reason,
                     extra=event("sparkline", slug=item.slug, reason=reason))
            return
        if part is not None:
            if self.store.fetched.save_later(item.id, links, part.fields, part.updates, later.note_after,
                                             item.points[0] - written_points, self.clock()):
                self.report.pending -= 1
                self.report.written_later += 1
                log.info("%s: sparkline written", item.slug,
                         extra=event("sparkline", slug=item.slug, attempt=part.asks - 1))

    def _ends_run(self, failure: Failure) -> bool:
        """Whether a failure would meet every package alike, or is this package's own.

        A host that cannot be connected to stops the run only if it has not answered in this
        run (it is down, or the URL is wrong); a rate limit stops it when its service says every
        further request would meet it.
        """
        if isinstance(failure, Unreachable):
            return failure.host not in self.client.answered
        if isinstance(failure, RateLimited):
            return failure.ends_run
        return isinstance(failure, RunRefused)

    def _stop_for(self, failure: Failure):
        """Raise what a failure that concerns the whole run means for it."""
        if isinstance(failure, RunRefused):
            raise failure
        if isinstance(failure, RateLimited):
            raise RunStopped(
                f"{failure}, beyond sync.max_rate_limit_wait ({format_duration(self.config.max_rate_limit_wait)}); "
                "re-run after the reset"
            ) from None
        host = getattr(failure, "host", "") or "the host"
        raise RunStopped(redact(f"{host} has not answered in this run (network down? wrong URL?): {failure}",
                                self.secrets)) from None

    def _edited_meanwhile(self, item: WorkItem) -> None:
        """Its links changed (or it was removed) while in flight: nothing written, it stays due."""
        self.report.outcomes[SKIPPED] += 1
        self.report.skips[EDITED_MEANWHILE] += 1
        self.on_done(SKIPPED)
        log.info("%s: not written: its links were edited during the run", item.slug,
                 extra=event("package", slug=item.slug, outcome=SKIPPED, reason=EDITED_MEANWHILE))

    def _left_due(self, item: WorkItem, reason: str) -> None:
        """Its host could not be asked in this run: the package stays as it was and due, its state untouched."""
        reason = redact(reason, self.secrets)
        self.report.outcomes[SKIPPED] += 1
        self.report.left_due[reason] += 1
        self.on_done(SKIPPED)
        log.info("%s: left due: %s", item.slug, reason,
                 extra=event("package", slug=item.slug, outcome=LEFT_DUE, reason=reason))

    def _fail(self, item: WorkItem, reason: str) -> None:
        reason = redact(reason, self.secrets)  # it is stored and printed
        if not self.store.fetched.record_failure(item.id, item.links, reason, self.clock()):
            self._edited_meanwhile(item)
            return
        self.report.outcomes[FAILED] += 1
        self.report.failures.append((item.slug, reason))
        log.info("%s: failed: %s", item.slug, reason,
                 extra=event("package", slug=item.slug, outcome=FAILED, reason=reason))
        self.on_done(FAILED)

