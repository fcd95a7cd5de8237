"""Fetch packages and write what came back: the only place that knows the order.

For each package: plan what to ask (GitHub repository or not, PyPI or not),
fetch both concurrently, normalize, write in one transaction. A failure that
belongs to one package is recorded on it and the run goes on; a failure that
would fail every package (token rejected, rate limit beyond the allowed wait,
network down) stops the run, keeping everything already written.
"""

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable

import httpx

from fetcher import normalize
from fetcher.config import Config
from fetcher.errors import (
    Failure,
    InputError,
    RateLimited,
    RunStopped,
    TokenRejected,
    Unreachable,
)
from fetcher.github import GitHub, first_failure_wins
from fetcher.http import Http, utcnow
from fetcher.pypi import PyPI
from fetcher.records import to_stored_datetime
from fetcher.store import Store
from fetcher.urls import github_hosts, parse_repo_url, pypi_name

log = logging.getLogger(__name__)

SYNCED, UNCHANGED, FAILED, SKIPPED = "synced", "unchanged", "failed", "skipped"
SPARKLINE_PENDING = "sparkline not updated: GitHub was still computing it"


@dataclass
class RunReport:
    command: str
    started: datetime
    packages: int
    outcomes: Counter = field(default_factory=Counter)
    pending: int = 0  # synced, but the sparkline was kept as it was
    failures: list[tuple[str, str]] = field(default_factory=list)  # (slug, reason)
    skips: Counter = field(default_factory=Counter)  # reason -> packages
    requests: int = 0
    seconds: float = 0.0
    stopped: str | None = None  # why the run ended early

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return 75
        return 1 if self.outcomes[FAILED] else 0

    def summary(self) -> str:
        """One line a person can take in at a glance."""
        done = sum(self.outcomes.values())
        counts = ", ".join(f"{self.outcomes[k]} {k}" for k in (SYNCED, UNCHANGED, FAILED, SKIPPED))
        line = f"{self.command}: {done} of {self.packages} packages in {self.seconds:.1f}s: {counts}"
        if self.skips:
            line += " (" + ", ".join(f"{n} {reason}" for reason, n in sorted(self.skips.items())) + ")"
        if self.pending:
            line += f"; {self.pending} sparkline{'s' if self.pending != 1 else ''} still computing on GitHub, kept"
        line += f"; {self.requests} requests"
        if self.stopped:
            line += f"; stopped early: {self.stopped}"
        return line

    def as_row(self, finished: datetime) -> dict:
        return {
            "command": self.command,
            "started": to_stored_datetime(self.started),
            "finished": to_stored_datetime(finished),
            "packages": self.packages,
            "synced": self.outcomes[SYNCED],
            "unchanged": self.outcomes[UNCHANGED],
            "failed": self.outcomes[FAILED],
            "skipped": self.outcomes[SKIPPED],
            "pending": self.pending,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
        }


@dataclass(frozen=True)
class Fetched:
    fields: dict
    skipped: str | None  # why GitHub was not asked, if it was not
    note: str | None


def run(
    store: Store,
    packages: list[dict],
    config: Config,
    command: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RunReport:
    """Fetch and write `packages`; record the run; return what happened."""
    report = RunReport(command=command, started=clock(), packages=len(packages))
    began = time.monotonic()
    try:
        asyncio.run(_run(store, packages, config, report, clock, sleep, transport))
    finally:
        report.seconds = time.monotonic() - began
        store.record_run(report.as_row(clock()))
    return report


async def _run(store, packages, config, report, clock, sleep, transport) -> None:
    http = Http(config, clock=clock, sleep=sleep, transport=transport)
    syncer = _Syncer(store, config, http, report, clock)
    queue = iter(packages)

    async def worker() -> None:
        for package in queue:  # the workers share one iterator: each takes the next package
            await syncer.sync_one(package)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(config.concurrency, len(packages))):
                group.create_task(worker())
    except ExceptionGroup as failures:
        # The first worker to stop the run cancels the others: their packages stay as they were.
        reason = next((exc for exc in failures.exceptions if isinstance(exc, RunStopped)), None)
        if reason is None:
            raise failures.exceptions[0] from None
        report.stopped = str(reason)
    finally:
        report.requests = http.counts.sent
        await http.aclose()


class _Syncer:
    def __init__(self, store: Store, config: Config, http: Http, report: RunReport, clock):
        self.store = store
        self.http = http
        self.report = report
        self.clock = clock
        self.max_wait = config.max_rate_limit_wait
        self.github = GitHub(http, config.github_api_url, config.github_token())
        self.pypi = PyPI(http, config.pypi_url)
        self.github_hosts = github_hosts(config.github_api_url)

    async def sync_one(self, package: dict) -> None:
        slug = package["slug"]
        try:
            fetched = await self.fetch(package)
        except RateLimited as limited:
            raise RunStopped(
                f"{limited}, beyond sync.max_rate_limit_wait ({_duration(self.max_wait)}); re-run after the reset"
            ) from None
        except Unreachable as unreachable:
            if self.http.counts.answered == 0:
                raise RunStopped(f"network down? {unreachable}") from None
            self._fail(package, str(unreachable))
            return
        except (Failure, InputError) as failure:
            if isinstance(failure, TokenRejected):
                raise
            self._fail(package, str(failure))
            return
        changed = self.store.save_fetch(package["id"], fetched.fields, self.clock(), fetched.note)
        if fetched.skipped:
            self.report.outcomes[SKIPPED] += 1
            self.report.skips[fetched.skipped] += 1
        else:
            self.report.outcomes[SYNCED if changed else UNCHANGED] += 1
        if fetched.note == SPARKLINE_PENDING:
            self.report.pending += 1
        log.info("%s: %s", slug, "changed" if changed else "unchanged")

    async def fetch(self, package: dict) -> Fetched:
        """Everything a package's record needs, or the failure that stops it being written."""
        repo_ref, skipped = self._plan_repo(package["repo_url"])
        name = pypi_name(package["pypi_url"])
        repo_step = self.github.repo_answers(repo_ref) if repo_ref else _nothing()
        pypi_step = self.pypi.project(name) if name else _nothing()
        repo_answers, pypi_answer = await first_failure_wins(repo_step, pypi_step)
        fields, note = {}, None
        if repo_answers is not None:
            fields.update(normalize.repo_fields(package["repo_url"], repo_answers))
            if repo_answers.participation is None:
                note = SPARKLINE_PENDING
        if pypi_answer is not None:
            fields.update(normalize.pypi_fields(pypi_answer))
        if skipped:
            note = f"GitHub not asked: {skipped}"
        return Fetched(fields, skipped, note)

    def _plan_repo(self, repo_url: str):
        if not repo_url:
            return None, "no repo_url"
        ref = parse_repo_url(repo_url)
        if ref.host not in self.github_hosts:
            return None, "unsupported host"
        return ref, None

    def _fail(self, package: dict, reason: str) -> None:
        self.store.record_failure(package["id"], reason, self.clock())
        self.report.outcomes[FAILED] += 1
        self.report.failures.append((package["slug"], reason))
        log.info("%s: failed: %s", package["slug"], reason)


async def _nothing() -> None:
    return None


def _duration(delta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
