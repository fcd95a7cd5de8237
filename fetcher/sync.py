"""Fetch packages and write what came back: the only place that knows the order.

Packages go through in batches: one GraphQL query brings the metadata of a
batch (or REST does, per package, when GraphQL is off or unavailable), then
each package fetches what changed (GitHub pieces, PyPI) and is written in
its own transaction. A failure that belongs to one package is recorded on it
and the run goes on; one that would fail every package (token rejected, rate
limit beyond the allowed wait, network down) stops the run, keeping
everything already written.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import Awaitable, Callable, Iterable

import httpx

from fetcher import facts
from fetcher.hosts.github import budget
from fetcher.hosts.github import graphql
from fetcher.net import retry as policy
from fetcher.config import Config
from fetcher import stopping
from fetcher.errors import (
    Failure, FetcherError, InputError, RateLimited, RunRefused, RunStopped, StoreUnavailable, Unreachable,
)
from fetcher.hosts import registry
from fetcher.hosts.github import host as github
from fetcher.net.client import Http, utcnow
from fetcher.logs import event, redact
from fetcher.hosts.pypi import PyPI
from fetcher.record import parse_datetime, to_stored_datetime
from fetcher.side_by_side import first_failure_wins, nothing
from fetcher.stopping import StopSignals
from fetcher.cache import for_repo, shift_weeks
from fetcher.store import CHANGED, EDITED, DuePackages, Links, Store
from fetcher.hosts.github.tokens import TokenPool
from fetcher.links import RepoRef, parse_repo_url, pypi_name

log = logging.getLogger(__name__)

SYNCED, UNCHANGED, FAILED, SKIPPED = "synced", "unchanged", "failed", "skipped"
SPARKLINE_PENDING = "sparkline not updated: GitHub was still computing it"
EDITED_MEANWHILE = "links edited during the run"
# Packages in progress per request slot: a package waiting to ask GitHub again
# about a 202 holds no slot, so more packages than slots keep the slots busy.
PACKAGES_PER_SLOT = 4


@dataclass
class RunReport:
    command: str
    started: datetime
    packages: int
    outcomes: Counter = field(default_factory=Counter)
    pending: int = 0  # synced, but the sparkline was kept as it was
    sparklines_later: int = 0  # written first with the old sparkline, the new one later in the run
    failures: list[tuple[str, str]] = field(default_factory=list)  # (slug, reason)
    skips: Counter = field(default_factory=Counter)  # reason -> packages
    requests: int = 0
    by_host: Counter = field(default_factory=Counter)  # "github", "pypi", or a forge's host name -> requests
    not_modified: int = 0
    retries: int = 0
    points: int = 0
    graphql_points: int = 0
    points_left: int | None = None
    seconds: float = 0.0
    rate_limit_wait: float = 0.0  # seconds spent waiting for rate limits to reset
    rate_limits: list[dict] = field(default_factory=list)  # each budget last seen: resource, budget, remaining, reset
    stopped: str | None = None  # why the run ended early
    signal: int | None = None  # the signal that stopped it, if one did
    resting: int = 0  # failing packages not due yet (fetcher.due)
    tokens: list[dict] = field(default_factory=list)  # per pool token and resource: spent, remaining (TokenPool)
    deferred: int = 0  # due packages left for the next run: the pool could not pay for them (fetcher.budget)
    deferred_why: str = ""

    @property
    def exit_code(self) -> int:
        if self.signal is not None:
            return stopping.exit_code(self.signal)
        if self.stopped:
            return 75
        return 1 if self.outcomes[FAILED] else 0

    def summary(self) -> str:
        """One line a person can take in at a glance."""
        done = sum(self.outcomes.values())
        counts = ", ".join(f"{self.outcomes[k]} {k}" for k in (SYNCED, UNCHANGED, FAILED, SKIPPED))
        line = (
            f"{self.command}: {done} of {self.packages} packages in {self.seconds:.1f}s, "
            f"started {self.started.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC: {counts}"
        )
        if self.skips:
            line += " (" + ", ".join(f"{n} {reason}" for reason, n in sorted(self.skips.items())) + ")"
        if self.resting:
            line += f"; {self.resting} resting after failing (due later)"
        if self.deferred:
            line += f"; {self.deferred} deferred to the next run: {self.deferred_why}"
        if self.pending:
            line += f"; {self.pending} sparkline{'s' if self.pending != 1 else ''} still computing on GitHub, kept"
        if self.sparklines_later:
            line += f"; {self.sparklines_later} sparkline{'s' if self.sparklines_later != 1 else ''} written later"
        line += f"; {self.requests} requests ({self.not_modified} not modified"
        line += f", {self.retries} retries)" if self.retries else ")"
        if set(self.by_host) - {"github", "pypi"}:  # forges asked: say which host had how many
            line += " (" + ", ".join(f"{host} {n}" for host, n in sorted(self.by_host.items())) + ")"
        line += f"; {self.points} GitHub points ({self.graphql_points} GraphQL)"
        if self.points_left is not None:
            line += f", {self.points_left} REST points left"
        if len({row["token_env"] for row in self.tokens}) > 1:
            line += "; " + ", ".join(_token_summary(row) for row in self.tokens if row["resource"] == "core")
        if self.rate_limit_wait:
            line += f"; waited {self.rate_limit_wait:.0f}s for rate limits"
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
            "not_modified": self.not_modified,
            "retries": self.retries,
            "graphql_points": self.graphql_points,
            "points": self.points,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "rate_limit_wait": round(self.rate_limit_wait, 3),
            "deferred": self.deferred,
            "tokens": json.dumps(self.by_token()) if self.tokens else None,
        }

    def by_token(self) -> dict[str, dict]:
        """Per token variable: each budget's points spent and left, and whether GitHub rejected the token."""
        tokens: dict[str, dict] = {}
        for row in self.tokens:
            token = tokens.setdefault(row["token_env"], {"rejected": bool(row["rejected"])})
            token[row["resource"]] = {"spent": row["spent"], "left": row["remaining"]}
        return tokens


def run(
    store: Store,
    packages: Iterable[dict],
    config: Config,
    command: str,
    *,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
    on_done: Callable[[str], None] | None = None,
    signals: StopSignals | None = None,
    resting: int = 0,
    deferred: tuple[int, str] = (0, ""),
) -> RunReport:
    """Fetch and write `packages`; record the run, however it ends; return what happened.

    `packages` is iterated once, as the run goes (a store's DuePackages reads it a page at a time),
    and its len() is what the summary counts against.

    `on_done` is told each package's outcome as it ends (synced, unchanged, failed, skipped): the progress bar.
    SIGTERM/SIGINT (through `signals`) stop it cleanly; an unexpected error is recorded as
    the reason it stopped and raised on.
    """
    config.github_tokens()  # a malformed token is a configuration error before anything is asked or recorded
    report = RunReport(command=command, started=clock(), packages=len(packages), resting=resting)
    report.deferred, report.deferred_why = deferred
    began = time.monotonic()
    try:
        with signals.deferred() if signals else contextlib.nullcontext():
            asyncio.run(_run(store, packages, config, report, clock, sleep, transport, on_done, signals))
    except FetcherError as exc:  # one that ends the run, e.g. the token rejected
        report.stopped = report.stopped or redact(str(exc), registry.secrets(config))
        raise
    except Exception as exc:
        report.stopped = report.stopped or redact(f"internal error: {type(exc).__name__}: {exc}", registry.secrets(config))
        raise
    finally:
        report.seconds = time.monotonic() - began
        if signals and signals.received and report.signal is None:  # a signal while the run was winding down
            report.signal = signals.received
            report.stopped = report.stopped or str(stopping.interrupted(signals.received))
        _record(store, config, report, clock())
    return report


def _record(store: Store, config: Config, report: RunReport, finished: datetime) -> None:
    """The run's row, the budgets it last saw and the settings the views need."""
    try:
        store.record_run(report.as_row(finished), report.tokens)
        # Each budget belongs to its token: GitHub's resources to GitHub's, a forge's (named by its host) to its own;
        # a pool's, to each token of it by its variable.
        for token_env, limits in _budgets_by_token(config, report.rate_limits).items():
            store.save_rate_limits(token_env, limits, finished)
        for token_env in dict.fromkeys(row["token_env"] for row in report.tokens):
            store.save_rate_limits(token_env, [
                row for row in report.tokens if row["token_env"] == token_env and row["remaining"] is not None
            ], finished)
        store.save_setting("stale_after_seconds", str(int(config.stale_after.total_seconds())))
    except StoreUnavailable as exc:
        report.stopped = report.stopped or str(exc)  # the run's own row is what could not be written


def fit_budget(store: Store, packages: DuePackages, config: Config, now: datetime) -> tuple[int, str]:
    """Leave for the next run the due packages the pool cannot pay for before max_rate_limit_wait runs out,
    the least overdue first (fetcher.budget); (how many were left, why)."""
    tokens = config.github_tokens()
    envs = [env for env, _ in tokens]
    if not envs:
        return 0, ""
    # A token no run has seen yet is asked what it has left (free), so even the first run with it is planned.
    seen = {row["token_env"] for row in store.budgets() if row["resource"] == "core"}
    unseen = [(env, token) for env, token in tokens if env not in seen]
    if unseen:
        for env, limits in github.ask_budgets(config.github_api_url, unseen, config.timeout, now).items():
            store.save_rate_limits(env, limits, now)
    can = budget.capacity(store.budgets(), envs, config.reserve, config.max_rate_limit_wait, now)
    if can is None:
        return 0, ""
    count = len(packages)
    costs = (budget.estimate(last) for last in packages.last_points())  # one walk that keeps nothing
    taken, spent, total = budget.affordable(costs, can.points)
    if taken >= count:
        return 0, ""
    packages.take(taken)
    return count - taken, (
        f"about {total - spent} points more than the {can.points} the pool's {can.tokens} "
        f"token{'s' if can.tokens != 1 else ''} can spend before sync.max_rate_limit_wait "
        f"({_duration(config.max_rate_limit_wait)}) runs out, sync.reserve ({config.reserve}) kept on each"
    )


def _token_summary(row: dict) -> str:
    """One pool token's REST budget in the summary: its variable, never its value."""
    if row["rejected"]:
        return f"${row['token_env']} rejected"
    left = "?" if row["remaining"] is None else row["remaining"]
    return f"${row['token_env']} {row['spent']} spent, {left} left"


async def _run(store, packages, config, report, clock, sleep, transport, on_done, signals) -> None:
    http = Http(config, clock=clock, sleep=sleep, transport=transport)
    # [sync] reserve is kept for a person's refresh: a sync never spends it, a refresh may.
    pool = TokenPool(config.github_tokens(), config.reserve if report.command == "sync" else 0)
    pool.seed(store.budgets(), clock())
    syncer = _Syncer(store, config, http, pool, report, clock, on_done or _ignore, sleep)
    workers = min(config.concurrency * PACKAGES_PER_SLOT, len(packages))
    queue: asyncio.Queue = asyncio.Queue(maxsize=graphql.BATCH_SIZE)
    main, loop = asyncio.current_task(), asyncio.get_running_loop()

    async def produce() -> None:
        # Metadata for the next batch is asked while the packages of this one are fetched.
        for batch in batched(packages, graphql.BATCH_SIZE):
            metadata = await syncer.metadata(batch)
            for package in batch:
                await queue.put((package, metadata.get(package["id"])))
        for _ in range(workers):
            await queue.put(None)

    async def work() -> None:
        while (item := await queue.get()) is not None:
            await syncer.sync_one(*item)

    fetching = True

    def cancel() -> None:
        if fetching:  # once the packages are done, the signal is only noted
            main.cancel()

    def stop() -> None:
        # From the signal handler: cancel at the next await, so no write is ever cut in half.
        loop.call_soon_threadsafe(cancel)

    try:
        with signals.deferred(stop) if signals else contextlib.nullcontext():
            if signals and signals.received:
                raise asyncio.CancelledError  # a signal came before the run began: ask nothing
            try:
                async with asyncio.TaskGroup() as group:
                    syncer.group = group
                    group.create_task(produce())
                    for _ in range(workers):
                        group.create_task(work())
            finally:
                fetching = False
    except asyncio.CancelledError:
        if not (signals and signals.received):
            raise
        main.uncancel()
        report.signal, report.stopped = signals.received, str(stopping.interrupted(signals.received))
    except ExceptionGroup as failures:
        # The first task to stop the run cancels the others: their packages stay as they were.
        reason = next((exc for exc in failures.exceptions if isinstance(exc, (RunStopped, RunRefused))), None)
        if reason is None:
            raise failures.exceptions[0] from None
        report.stopped = str(reason)
        if isinstance(reason, RunRefused):
            raise reason from None  # exit 2: the person must change something before the next run
    finally:
        counts = http.counts
        report.requests, report.not_modified, report.retries = counts.sent, counts.not_modified, counts.retries
        report.by_host = counts.by_host
        report.points, report.graphql_points = counts.points, counts.graphql_points
        report.rate_limit_wait = counts.rate_limit_wait
        report.rate_limits = [
            {"resource": name, "budget": limit.limit, "remaining": limit.remaining, "reset": limit.reset_at}
            for name, limit in sorted(http.rate_limits.items())
        ]
        core = http.rate_limits.get("core")
        report.points_left = core.remaining if core else None
        report.tokens = pool.report()
        if pool:
            left = [row["remaining"] for row in report.tokens
                    if row["resource"] == "core" and row["remaining"] is not None and not row["rejected"]]
            report.points_left = sum(left) if left else None
        await http.aclose()


@dataclass(frozen=True)
class Plan:
    host: object | None  # the host module's object that answers for the repository (registry.Hosts)
    repo: RepoRef | None
    skipped: str | None  # why no host is asked, when none is


class _Syncer:
    def __init__(self, store: Store, config: Config, http: Http, pool: TokenPool, report: RunReport, clock,
                 on_done, sleep=asyncio.sleep):
        self.on_done = on_done
        self.secrets = registry.secrets(config)
        self.store = store
        self.http = http
        self.report = report
        self.clock = clock
        self.max_wait = config.max_rate_limit_wait
        self.retries, self.backoff, self.sleep = config.retries, config.backoff, sleep
        self.group: asyncio.TaskGroup | None = None  # the run's tasks: sparklines asked again join it
        self._later: dict[int, tuple] = {}  # package id -> what asking its weekly counts again needs
        self.hosts = registry.Hosts(config, http, clock, pool)
        self.pypi = PyPI(http, config.pypi_url)

    async def metadata(self, batch: tuple[dict, ...]) -> dict[int, dict | Exception]:
        """package id -> metadata from a host's batch step (GitHub's GraphQL), or its failure; {} when none."""
        planned = [(package["id"], self.plan(package)) for package in batch]
        wanted = [(package_id, plan) for package_id, plan in planned
                  if plan.repo is not None and getattr(plan.host, "batching", False)]
        if not wanted:
            return {}
        host = wanted[0][1].host  # GitHub is the one host with a batch step
        try:
            results = await host.repo_batch([plan.repo for _, plan in wanted])
        except (RunRefused, RateLimited) as failure:
            self._stop_for(failure)
        except Failure as failure:
            if isinstance(failure, Unreachable) and failure.host not in self.http.answered:
                self._stop_for(failure)
            log.warning("GraphQL unavailable (%s): asking REST for the rest of the run", failure)
            host.batching = False
            return {}
        return {package_id: result for (package_id, _), result in zip(wanted, results, strict=True)}

    def plan(self, package: dict) -> Plan:
        if not package["repo_url"]:
            return Plan(None, None, "no repo_url")
        try:
            host = self.hosts.get(parse_repo_url(package["repo_url"]).host)
            ref = host.ref(package["repo_url"]) if host is not None else None
        except InputError:
            return Plan(None, None, None)  # fetch() meets the same error and fails the package with it
        if host is None:
            return Plan(None, None, "unsupported host")
        return Plan(host, ref, None)

    async def sync_one(self, package: dict, meta: dict | Exception | None) -> None:
        slug = package["slug"]
        try:
            with budget.counting() as points:  # what it costs is what the next run expects it to cost
                fields, pieces, note, skipped, found = await self.fetch(package, meta)
                later = self._later.pop(package["id"], None)
        except (RunRefused, RateLimited, Unreachable) as failure:
            if not self._stops_the_run(failure):
                self._fail(package, str(failure))
                return
            self._stop_for(failure)
        except (Failure, InputError) as failure:
            self._fail(package, str(failure))
            return
        saved = self.store.save_fetch(package["id"], fields, self.clock(), note, pieces, Links.of(package), found,
                                      points[0])
        if saved == EDITED:
            self._edited_meanwhile(package)
            return
        outcome = SKIPPED if skipped else SYNCED if saved == CHANGED else UNCHANGED
        self.report.outcomes[outcome] += 1
        if skipped:
            self.report.skips[skipped] += 1
        if note == SPARKLINE_PENDING:
            self.report.pending += 1
        log.info("%s: %s", slug, outcome, extra=event("package", slug=slug, outcome=outcome, note=note))
        self.on_done(outcome)
        if later is not None:
            # Written with its old sparkline; the weekly counts are asked again later by a task of their
            # own, so this worker goes on to the next package instead of waiting for GitHub to compute them.
            # The links as written: a rename GitHub confirmed moved repo_url.
            written = {**package, "repo_url": fields.get("repo_url", package["repo_url"])}
            self.group.create_task(self.sparkline_later(written, note, *later))

    async def sparkline_later(self, package: dict, note: str, full_name: str, cached, pushed_at) -> None:
        """Ask for the weekly counts again after the backoff, up to http.retries times; write them when they come.

        Only the sparkline, its cached piece and the note are written, and only while the package's links
        are the ones it was fetched for; the rest of the record was written already.
        """
        key = full_name.lower()
        for attempt in range(1, self.retries + 1):
            await self.sleep(policy.backoff_delay(attempt, self.backoff))
            try:
                with budget.counting() as points:
                    piece = await self.hosts.github.participation(full_name, cached, key, pushed_at)
            except (RunRefused, RateLimited, Unreachable) as failure:
                if self._stops_the_run(failure):
                    self._stop_for(failure)
                return  # the record stands with its old sparkline, noted
            except Failure as failure:
                log.info("%s: sparkline not updated: %s", package["slug"], redact(str(failure), self.secrets))
                return
            if piece is not None:
                weeks = shift_weeks(piece.value["weeks"], piece.fetched_at, self.clock())
                after = None if note == SPARKLINE_PENDING else note.removeprefix(f"{SPARKLINE_PENDING}; ")
                if self.store.save_sparkline(package["id"], weeks, piece, Links.of(package), after, points[0]):
                    self.report.pending -= 1
                    self.report.sparklines_later += 1
                    log.info("%s: sparkline written", package["slug"],
                             extra=event("sparkline", slug=package["slug"], attempt=attempt))
                return

    async def fetch(self, package: dict, meta):
        """Everything a package's record needs, or the failure that stops it being written."""
        plan = self.plan(package)
        if plan.repo is None and plan.skipped is None:
            ref = parse_repo_url(package["repo_url"])  # raises the InputError that explains it
            self.hosts.get(ref.host).ref(package["repo_url"])  # or the host's own reading of it does
        if isinstance(meta, Exception):
            raise meta  # the batch already knows the repository is missing: nothing else to ask
        name = pypi_name(package["pypi_url"])
        cache = self.store.cached_pieces(package["id"])
        repo_step = plan.host.fetch(package["repo_url"], plan.repo, meta, cache) if plan.repo else nothing()
        pypi_step = self.pypi.project(name, cache.get("pypi")) if name else nothing()
        status_step = self.pypi.status(name, cache.get("pypi_status")) if name else nothing()
        repo, pypi, status = await first_failure_wins(repo_step, pypi_step, status_step)
        fields, pieces, note = {}, {}, None
        if repo is not None:
            fields.update(repo.fields)
            pieces.update(repo.updates)
            if repo.pending:
                note = SPARKLINE_PENDING
                if plan.host is self.hosts.github:  # asked again later by a task of its own (sparkline_later)
                    asked = plan.repo.full_name
                    self._later[package["id"]] = (repo.meta.get("full_name") or asked,
                                                  for_repo(cache.get("participation"), asked.lower()),
                                                  repo.meta.get("pushed_at"))
            if repo.note:  # what the host kept as it was, and why
                note = f"{note}; {repo.note}" if note else repo.note
        if pypi is not None:
            fields["pypi_version"] = pypi.value["version"]
            pieces["pypi"] = pypi
            if pypi.value["documentation_url"] and not package["documentation_url"]:
                fields["documentation_url"] = pypi.value["documentation_url"]
        if status is not None:
            pieces["pypi_status"] = status
        if plan.skipped:
            note = f"repository not asked: {plan.skipped}"
        return fields, pieces, note, plan.skipped, self.facts_of(package, fields, repo, pypi, status)

    def facts_of(self, package: dict, fields: dict, repo, pypi, status) -> dict:
        """The facts this fetch established; those it did not reach keep their stored values."""
        before = self.store.facts(package["id"]) or {}
        now = self.clock()
        found = facts.repo_facts(repo.meta, before, now) if repo is not None else {}
        if pypi is not None:
            found.update(facts.pypi_derived(pypi.value))
        if status is not None:
            found["pypi_status"] = status.value["status"]
        python3 = found["supports_python3"] if "supports_python3" in found else before.get("supports_python3")
        stars = fields.get("repo_watchers", package["repo_watchers"])
        last_updated = fields["last_updated"] if "last_updated" in fields else (
            package["last_updated"] and parse_datetime(package["last_updated"]))
        found["score"] = facts.score(stars, last_updated, None if python3 is None else bool(python3), now)
        return found

    def _stops_the_run(self, failure: Failure) -> bool:
        """Whether a failure would meet every package alike, or is this package's own.

        A host that cannot be connected to stops the run only if it has not answered in this
        run (it is down, or the URL is wrong); PyPI's rate limit fails its package, GitHub's
        stops the run.
        """
        if isinstance(failure, Unreachable):
            return failure.host not in self.http.answered
        if isinstance(failure, RateLimited):
            return failure.service == "GitHub"
        return True

    def _stop_for(self, failure: Failure):
        """Raise what a failure that concerns the whole run means for it."""
        if isinstance(failure, RunRefused):
            raise failure
        if isinstance(failure, RateLimited):
            raise RunStopped(
                f"{failure}, beyond sync.max_rate_limit_wait ({_duration(self.max_wait)}); re-run after the reset"
            ) from None
        host = getattr(failure, "host", "") or "the host"
        raise RunStopped(redact(f"{host} has not answered in this run (network down? wrong URL?): {failure}",
                                self.secrets)) from None

    def _edited_meanwhile(self, package: dict) -> None:
        """Its links changed (or it was removed) while in flight: nothing written, it stays due."""
        self.report.outcomes[SKIPPED] += 1
        self.report.skips[EDITED_MEANWHILE] += 1
        self.on_done(SKIPPED)
        log.info("%s: not written: its links were edited during the run", package["slug"])

    def _fail(self, package: dict, reason: str) -> None:
        reason = redact(reason, self.secrets)  # it is stored and printed
        if not self.store.record_failure(package["id"], reason, self.clock(), Links.of(package)):
            self._edited_meanwhile(package)
            return
        self.report.outcomes[FAILED] += 1
        self.report.failures.append((package["slug"], reason))
        log.info("%s: failed: %s", package["slug"], reason,
                 extra=event("package", slug=package["slug"], outcome=FAILED, reason=reason))
        self.on_done(FAILED)


def _ignore(outcome: str) -> None:
    pass


def _budgets_by_token(config: Config, limits: list[dict]) -> dict[str, list[dict]]:
    """token variable ("" without a token) -> the budgets seen with it."""
    grouped: dict[str, list[dict]] = {}
    for limit in limits:
        forge = config.hosts.get(limit["resource"])
        if forge is not None:
            token_env = forge.token_env if forge.token() else ""
        else:
            token_env = config.github_token_env if config.github_token() else ""
        grouped.setdefault(token_env, []).append(limit)
    return grouped


def batched(items: list, size: int):
    iterator = iter(items)
    while batch := tuple(islice(iterator, size)):
        yield batch


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
