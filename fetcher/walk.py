"""`fetcher import --from-api`: a directory's listings walked page by page into the store, politely and resumably.

From the API root, the listings `categories/`, `grids/` and `packages/` are read in turn, each following `next`.
Each page is written whole in one transaction with the walk's place (store/walk.py): its packages by the rules of
`fetcher import FILE` (catalogue fields as given, fetched fields only from a fresher record), its grids or
categories to their tables. So a walk stopped anyhow (a failure, SIGTERM, kill -9) continues, at the next
`import --from-api`, at the page it was on; a walk that read its last page starts over from the root next time.

Every request goes through one Client (deadline, body cap, retries, rate-limit waits) for the directory's
service, at most `[import] requests_per_second`, conditional when the page was read before with validators.
A page of the wrong shape, or whose `next` leads off the listing or back to a page this walk read (a cycle), is
refused whole: one line naming its URL and what was wrong, exit 2, and the walk stays before it.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable

import httpx

from fetcher.config import Config
from fetcher.durations import format_duration
from fetcher.errors import Failure, InputError, PageRefused, RateLimited, RunStopped, Transient
from fetcher.hosts.directory_api import (
    LISTINGS, DirectoryService, listing_of, listing_url, read_page, request_for,
)
from fetcher.logs import event
from fetcher.net.client import Client, utcnow
from fetcher.net.request import Validators
from fetcher.record import parse_datetime, to_stored_datetime
from fetcher.run import signals
from fetcher.store import Store

log = logging.getLogger(__name__)

MAX_PAGES = 100_000  # pages one walk reads at most: a listing longer than this never ends
TEMPORARY, REFUSED = 75, 2  # exit codes: re-run to continue; the directory's answer must change first


@dataclass
class WalkReport:
    api_url: str
    started: datetime | None = None  # when the walk began (an earlier run's, when this one continued it)
    continued_at: str | None = None  # the page this run took the walk up at, when it continued one
    pages: int = 0  # pages this run read
    not_modified: int = 0  # of those, answered 304: unchanged since the walk last read them
    listed: Counter = field(default_factory=Counter)  # listing -> records read
    packages: Counter = field(default_factory=Counter)  # new, updated, unchanged, kept
    next_url: str | None = None  # where the walk stands; None once it read its last page
    done: bool = False
    stopped: str | None = None  # why it stopped before the end
    refused: bool = False  # stopped for the directory's answer (exit 2), not for the time being (75)
    signal: int | None = None
    merged: list[tuple[str, str, int, int]] = field(default_factory=list)  # (page, slug, record, record)
    requests: int = 0
    retries: int = 0
    rate_limit_wait: float = 0.0
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.signal is not None:
            return signals.exit_code(self.signal)
        if self.stopped:
            return REFUSED if self.refused else TEMPORARY
        return 0

    def summary(self) -> str:
        line = f"import {self.api_url}: "
        if self.continued_at and self.started:
            line += (f"continued the walk begun {self.started.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC "
                     f"at {self.continued_at}; ")
        line += f"{self.pages} page{'s' if self.pages != 1 else ''} ({self.not_modified} not modified"
        line += f", {self.retries} retries)" if self.retries else ")"
        line += f" in {self.seconds:.1f}s: "
        line += ", ".join(f"{self.listed[listing]} {one if self.listed[listing] == 1 else listing}"
                          for listing, one in (("categories", "category"), ("grids", "grid"), ("packages", "package")))
        counts = self.packages
        line += f" ({counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged"
        line += f"; {counts['kept']} kept the store's newer fetched values)" if counts["kept"] else ")"
        if self.rate_limit_wait:
            line += f"; waited {self.rate_limit_wait:.0f}s for the directory's rate limit"
        if self.done:
            return line + "; the walk is done"
        line += f"; stopped: {self.stopped}"
        if self.next_url:
            line += f"; the next `fetcher import --from-api` continues at {self.next_url}"
        return line

    def as_event(self) -> dict:
        """The facts of the `import` event (--log-format json)."""
        return {"api_url": self.api_url, "pages": self.pages, "not_modified": self.not_modified,
                "categories": self.listed["categories"], "grids": self.listed["grids"],
                "packages": self.listed["packages"], "new": self.packages["new"],
                "updated": self.packages["updated"], "unchanged": self.packages["unchanged"],
                "kept": self.packages["kept"], "continued_at": self.continued_at, "next_url": self.next_url,
                "stopped": self.stopped, "seconds": round(self.seconds, 3)}


def walk(
    store: Store,
    config: Config,
    api_url: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    transport: httpx.AsyncBaseTransport | None = None,
    stop_signals: signals.StopSignals | None = None,
) -> WalkReport:
    """Walk the directory at `api_url` (ending in /) into the store, from where its walk stands; what it did.

    A failure that ends the walk is in the report (`stopped`, `exit_code`); an unexpected error is raised."""
    report = WalkReport(api_url)
    began = time.monotonic()
    walker = _Walk(store, config, api_url, report, clock, sleep, monotonic, transport, stop_signals)
    try:
        with stop_signals.deferred() if stop_signals else contextlib.nullcontext():
            asyncio.run(walker.go())
    finally:
        report.seconds = time.monotonic() - began
        if stop_signals and stop_signals.received and report.signal is None:  # a signal while winding down
            report.signal = stop_signals.received
            report.stopped = report.stopped or str(signals.interrupted(stop_signals.received))
        if not report.done:
            state = store.walks.state(api_url)
            report.next_url = state.next_url if state and state.next_url else report.next_url
    return report


class _Walk:
    def __init__(self, store, config, api_url, report, clock, sleep, monotonic, transport, stop_signals):
        self.store = store
        self.config = config
        self.api_url = api_url
        self.report = report
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.transport = transport
        self.signals = stop_signals

    async def go(self) -> None:
        client = Client(self.config, clock=self.clock, sleep=self.sleep, transport=self.transport)
        service = DirectoryService(self.config.import_requests_per_second, clock=self.monotonic, sleep=self.sleep)
        main, loop = asyncio.current_task(), asyncio.get_running_loop()
        report = self.report
        try:
            # From the signal handler: cancel at the next await, so no page is ever written in part.
            with self.signals.deferred(lambda: loop.call_soon_threadsafe(main.cancel)) if self.signals \
                    else contextlib.nullcontext():
                if self.signals and self.signals.received:
                    raise asyncio.CancelledError
                await self._pages(client, service)
        except asyncio.CancelledError:
            if not (self.signals and self.signals.received):
                raise
            main.uncancel()
            report.signal = self.signals.received
            report.stopped = str(signals.interrupted(self.signals.received))
        except InputError as refused:  # a page refused, or one of its records another package's id
            report.stopped, report.refused = str(refused), True
        except RateLimited as limited:
            report.stopped = (f"{limited}, beyond sync.max_rate_limit_wait "
                              f"({format_duration(self.config.max_rate_limit_wait)}); re-run after it")
        except (Transient, RunStopped) as later:  # worth asking again, or a store that cannot be written now
            report.stopped = str(later)
        except Failure as failure:  # 404, a refusal, an answer too large: it will not change by asking again
            report.stopped, report.refused = str(failure), True
        finally:
            counts = client.counts
            report.requests, report.retries, report.rate_limit_wait = counts.sent, counts.retries, \
                counts.rate_limit_wait
            await client.aclose()

    async def _pages(self, client: Client, service: DirectoryService) -> None:
        walks, api_url, report = self.store.walks, self.api_url, self.report
        state = walks.state(api_url)
        if state is not None and state.next_url:
            started, url, read = state.started, state.next_url, state.pages
            report.continued_at = url
        else:
            started = to_stored_datetime(self.clock())
            url, read = listing_url(api_url, LISTINGS[0], self.config.import_page_size), 0
        report.started, report.next_url = parse_datetime(started), url
        while url is not None:
            listing = listing_of(url, api_url)
            if listing is None:
                raise PageRefused(url, f"is a page of no listing of {api_url}")
            kept = walks.page(url)
            validators = Validators(kept["etag"], kept["last_modified"]) if kept else None
            answer = await client.send(service, request_for(url, validators))
            if answer.status == 304 and not (validators and validators.headers()):
                raise PageRefused(url, "answered 304 Not Modified to a request that sent no validators")
            page = read_page(answer, url, listing, api_url)
            next_url = page.next_url if page.items is not None else kept["next_url"]
            if next_url is not None:
                if next_url == url or walks.read_in_walk(next_url, api_url, started):
                    raise PageRefused(url, f"its next link {next_url[:200]} leads back to a page this walk has "
                                           "already read (a cycle): not followed")
                if read + 1 >= MAX_PAGES:
                    raise PageRefused(url, f"the walk has read {MAX_PAGES} pages and this one says there are more")
            following = next_url or self._first_after(listing)
            try:
                result = walks.write_page(api_url, started, url, listing, page.items, (page.etag, page.last_modified),
                                          next_url, following, to_stored_datetime(self.clock()))
            except InputError as exc:  # one of its records holds an id another package of the store has
                raise PageRefused(url, str(exc)) from None
            read += 1
            self._count(page, answer.status, result)
            url = report.next_url = following
        report.done = True

    def _first_after(self, listing: str) -> str | None:
        """The first page of the listing after `listing`, or None after the last."""
        position = LISTINGS.index(listing) + 1
        return listing_url(self.api_url, LISTINGS[position], self.config.import_page_size) \
            if position < len(LISTINGS) else None

    def _count(self, page, status: int, result) -> None:
        report = self.report
        report.pages += 1
        records = None if page.items is None else len(page.items)
        if records is None:
            report.not_modified += 1
        else:
            report.listed[page.listing] += records
        if result is not None:
            report.packages.update(new=result.inserted, updated=result.updated, unchanged=result.unchanged,
                                   kept=result.kept_fetched)
        report.merged += [(page.url, slug, first, later) for slug, first, later in page.merged]
        log.info("%s: %s", page.url, "not modified" if records is None else f"{records} {page.listing}",
                 extra=event("page", url=page.url, listing=page.listing, status=status, records=records))
