"""Send requests: the only module that touches the network.

It sends, counts, and hands (status, headers, body) to `interpret`; retries
follow `policy`. One httpx.AsyncClient per run, with at most `concurrency`
requests in flight, paced under GitHub's secondary limits when asked to.
"""

import asyncio
import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, TypeVar

import httpx

from fetcher import __version__, policy
from fetcher.config import Config
from fetcher.errors import RateLimited, Transient, Unreachable
from fetcher.interpret import Answer, RateLimit, interpret, lower_headers, rate_limit
from fetcher.logs import event
from fetcher.pacing import MAX_CONCURRENT, Pacer
from fetcher.pieces import Cached, Validators

USER_AGENT = f"fetcher/{__version__} (package-metadata sync worker)"
# A rate-limit wait at least this long is announced on stderr when it starts.
ANNOUNCED_WAIT = 5.0
log = logging.getLogger(__name__)
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class RequestCounts:
    sent: int = 0  # every request on the wire, redirect hops and retries included
    answered: int = 0  # requests that got any HTTP answer back
    not_modified: int = 0
    retries: int = 0  # further tries after a transient failure or a rate-limit wait
    by_kind: Counter = field(default_factory=Counter)  # repo, contributors, …, graphql, pypi
    by_host: Counter = field(default_factory=Counter)  # "github", "pypi", or a forge's host name
    rest_points: int = 0  # GitHub REST answers other than 304: each costs a point
    graphql_points: int = 0  # the cost GitHub reports for each query
    rate_limit_wait: float = 0.0  # seconds of the run spent waiting for a rate limit to reset

    @property
    def points(self) -> int:
        return self.rest_points + self.graphql_points


class Http:
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        concurrency = min(config.concurrency, MAX_CONCURRENT) if config.pace else config.concurrency
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            transport=transport or PoolShards(concurrency),
        )
        self.counts = RequestCounts()
        self.rate_limits: dict[str, RateLimit] = {}  # what is left of each budget, as last reported
        self._slots = asyncio.Semaphore(concurrency)
        # A forge may hold at most half the slots, so one slow host cannot keep every other one waiting.
        self._forge_share = max(1, concurrency // 2)
        self._forge_slots: dict[str, asyncio.Semaphore] = {}
        self._pacer = Pacer(sleep) if config.pace else None
        self._clock = clock
        self._sleep = sleep
        self._max_rate_limit_wait = config.max_rate_limit_wait
        self._retry = dict(
            retries=config.retries,
            backoff=config.backoff,
            max_rate_limit_wait=config.max_rate_limit_wait,
            clock=clock,
            sleep=sleep,
            on_rate_limit_wait=self._waiting,
        )
        self._waiting_until: datetime | None = None  # the end of the rate-limit wait under way
        # budget group -> when its rate limit resets, once an answer said none is left
        self._paused_until: dict[str, datetime] = {}

    async def get(
        self,
        url: str,
        *,
        kind: str,
        headers: dict[str, str] | None = None,
        validators: Validators | None = None,
        budget: str | None = None,
    ) -> Answer:
        """The answer to GET url, after the retries `policy` allows; else its typed failure.

        With `validators` the request is conditional and may come back 304. `budget` names
        a forge's own rate limit (its host name); without it the request is GitHub's or PyPI's.
        """
        sent = {**(headers or {}), **(validators.headers() if validators else {})}
        return await self._with_retries("GET", url, kind, sent, None, None, budget)

    async def get_piece(
        self,
        url: str,
        *,
        kind: str,
        cached: Cached | None,
        read: Callable[[Answer], dict],
        headers: dict[str, str] | None = None,
        budget: str | None = None,
    ) -> Cached:
        """A resource's piece: asked conditionally when one is cached, kept as it was on a 304, else `read` anew."""
        answer = await self.get(url, kind=kind, headers=headers, validators=cached.validators if cached else None,
                                budget=budget)
        if answer.status == 304 and cached is not None:
            return cached
        return Cached(read(answer), self._clock(), answer.headers.get("etag"), answer.headers.get("last-modified"))

    async def post(self, url: str, *, kind: str, headers: dict[str, str], json: dict, read: Callable[[Answer], T]) -> T:
        """POST and read the answer with `read`, inside the retries: a failure `read` raises is retried like any."""
        return await self._with_retries("POST", url, kind, headers, json, read)

    async def _with_retries(self, *request):
        retrying = policy.retrying(**self._retry)
        try:
            return await retrying(self._send, *request)
        finally:
            self.counts.retries += retrying.statistics.get("attempt_number", 1) - 1

    async def _send(self, method: str, url: str, kind: str, headers: dict[str, str], json: dict | None, read,
                    budget: str | None = None):
        group = budget or _budget_group(kind)
        host = budget or ("pypi" if kind == "pypi" else "github")
        await self._wait_for_rate_limit(group, url)
        # GitHub's secondary limits are GitHub's: a forge is paced by its own rate-limit headers only.
        if self._pacer and kind != "pypi" and budget is None:
            await self._pacer.wait_turn(kind)
        async with self._forge_slot(budget), self._slots:
            try:
                response = await self.client.request(method, url, headers=headers, json=json)
            except httpx.TransportError as exc:
                self._count_sent(kind, 1, host)
                if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                    raise Unreachable(url, f"cannot connect: {_reason(exc)}") from None
                if isinstance(exc, httpx.TimeoutException):
                    raise Transient(url, "timed out") from None
                raise Transient(url, f"connection failed: {_reason(exc)}") from None
        hops = len(response.history)
        self._count_sent(kind, 1 + hops, host)
        self.counts.answered += 1 + hops
        seen = lower_headers(response.headers)
        self._account(group, response.status_code, seen, hops)
        try:
            answer = interpret(str(response.url), response.status_code, seen, response.content, self._clock())
            return read(answer) if read else answer
        except RateLimited as limited:
            self._paused_until[group] = limited.reset_at
            raise

    def _forge_slot(self, budget: str | None):
        if budget is None:
            return contextlib.nullcontext()
        return self._forge_slots.setdefault(budget, asyncio.Semaphore(self._forge_share))

    def _count_sent(self, kind: str, requests: int, host: str) -> None:
        """Counted once on the wire: a request cancelled before it was sent is not."""
        self.counts.sent += requests
        self.counts.by_kind[kind] += requests
        self.counts.by_host[host] += requests

    def _account(self, group: str, status: int, headers: dict[str, str], hops: int) -> None:
        if status == 304:
            self.counts.not_modified += 1
        limit = rate_limit(headers)
        if limit is None:
            return
        if group not in ("core", "graphql", "pypi"):
            limit = replace(limit, resource=group)  # a forge's budget is its own, whatever it calls it
        refused = status in (403, 429) and (limit.remaining == 0 or "retry-after" in headers)
        known = self.rate_limits.get(limit.resource)
        # Answers overtake each other: the lowest count in the newest window is the truth.
        if known is None or (limit.reset_at, -limit.remaining) >= (known.reset_at, -known.remaining):
            self.rate_limits[limit.resource] = limit
        if group == "core":
            # A 304 is free, and so is a request refused for the rate limit.
            self.counts.rest_points += hops + (status != 304 and not refused)
        if limit.remaining == 0:
            self._paused_until[group] = limit.reset_at

    async def _wait_for_rate_limit(self, group: str, url: str) -> None:
        """Once a budget is spent, ask nothing more of it until the reset."""
        until = self._paused_until.get(group)
        if until is None:
            return
        failure = RateLimited(url, until, secondary=False)
        delay = policy.rate_limit_delay(failure, self._clock())
        if delay > self._max_rate_limit_wait.total_seconds():
            raise failure
        if delay > 0:
            self._waiting(delay, until)
            await self._sleep(delay)
        if self._paused_until.get(group) == until:
            del self._paused_until[group]

    def _waiting(self, seconds: float, until: datetime) -> None:
        """Count a rate-limit wait once however many requests wait it out together; announce a long one."""
        now = self._clock()
        end = now + timedelta(seconds=seconds)
        if self._waiting_until is not None and self._waiting_until > now:
            if end > self._waiting_until:
                self.counts.rate_limit_wait += (end - self._waiting_until).total_seconds()
                self._waiting_until = end
            return
        self._waiting_until = end
        self.counts.rate_limit_wait += seconds
        level = logging.WARNING if seconds >= ANNOUNCED_WAIT else logging.INFO
        log.log(
            level, "waiting %.0fs for the rate limit to reset, until %s UTC", seconds, f"{until:%Y-%m-%d %H:%M:%S}",
            extra=event("rate_limit_wait", seconds=round(seconds, 3), until=until.isoformat()),
        )

    async def aclose(self) -> None:
        await self.client.aclose()


class PoolShards(httpx.AsyncBaseTransport):
    """Connections in several small pools instead of one large one, each request to the least busy.

    httpcore's pool scans every connection it holds, quadratically, each time
    a request starts or ends: on a loopback bench one pool of 16 connections
    cost 3.3 ms of CPU per request, four pools of four 1.8 ms.
    """

    CONNECTIONS_PER_POOL = 4

    def __init__(self, connections: int):
        shards = max(1, -(-connections // self.CONNECTIONS_PER_POOL))
        per_pool = -(-connections // shards)
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        tls = ssl.create_default_context()  # loading the CA bundle once, not once per pool
        self._pools = [httpx.AsyncHTTPTransport(limits=limits, verify=tls) for _ in range(shards)]
        self._busy = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = min(range(len(self._pools)), key=self._busy.__getitem__)
        self._busy[shard] += 1
        try:
            return await self._pools[shard].handle_async_request(request)
        finally:
            self._busy[shard] -= 1

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def _budget_group(kind: str) -> str:
    """GitHub keeps separate budgets for REST ("core") and GraphQL; PyPI has none we know of."""
    return kind if kind in ("graphql", "pypi") else "core"


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
