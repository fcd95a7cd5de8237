"""Send GET requests: the only module that touches the network.

It sends, counts, and hands (status, headers, body) to `interpret`; retries
follow `policy`. One httpx.AsyncClient per run, with at most `concurrency`
requests in flight.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from fetcher import __version__, policy
from fetcher.config import Config
from fetcher.errors import RateLimited, Transient, Unreachable
from fetcher.interpret import Answer, interpret, lower_headers, rate_limit

USER_AGENT = f"fetcher/{__version__} (package-metadata sync worker)"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class RequestCounts:
    sent: int = 0  # every request on the wire, redirect hops and retries included
    answered: int = 0  # requests that got any HTTP answer back
    by_status: Counter = field(default_factory=Counter)


class Http:
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            limits=httpx.Limits(max_connections=config.concurrency),
            transport=transport,
        )
        self.counts = RequestCounts()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._clock = clock
        self._sleep = sleep
        self._max_rate_limit_wait = config.max_rate_limit_wait
        self._retry = dict(
            retries=config.retries,
            backoff=config.backoff,
            max_rate_limit_wait=config.max_rate_limit_wait,
            clock=clock,
            sleep=sleep,
        )
        # host -> when its rate limit resets, once a response said none is left
        self._paused_until: dict[str, datetime] = {}

    async def get(self, url: str, headers: dict[str, str] | None = None) -> Answer:
        """The answer to GET url, after the retries that `policy` allows; else its typed failure."""
        return await policy.retrying(**self._retry)(self._get_once, url, headers or {})

    async def _get_once(self, url: str, headers: dict[str, str]) -> Answer:
        await self._wait_for_rate_limit(url)
        async with self._slots:
            try:
                response = await self.client.get(url, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                self.counts.sent += 1
                raise Unreachable(url, f"cannot connect: {_reason(exc)}") from None
            except httpx.TimeoutException:
                self.counts.sent += 1
                raise Transient(url, "timed out") from None
            except httpx.TransportError as exc:
                self.counts.sent += 1
                raise Transient(url, f"connection failed: {_reason(exc)}") from None
        self.counts.sent += 1 + len(response.history)
        self.counts.answered += 1 + len(response.history)
        self.counts.by_status[response.status_code] += 1
        headers_seen = lower_headers(response.headers)
        self._note_rate_limit(url, headers_seen)
        try:
            return interpret(str(response.url), response.status_code, headers_seen, response.content, self._clock())
        except RateLimited as limited:
            self._paused_until[urlsplit(url).netloc] = limited.reset_at
            raise

    def _note_rate_limit(self, url: str, headers: dict[str, str]) -> None:
        limit = rate_limit(headers)
        if limit is not None and limit.remaining == 0:
            self._paused_until[urlsplit(url).netloc] = limit.reset_at

    async def _wait_for_rate_limit(self, url: str) -> None:
        """Once a host said its budget is spent, ask it nothing more until the reset."""
        host = urlsplit(url).netloc
        until = self._paused_until.get(host)
        if until is None:
            return
        failure = RateLimited(url, until, secondary=False)
        delay = policy.rate_limit_delay(failure, self._clock())
        if delay > self._max_rate_limit_wait.total_seconds():
            raise failure
        if delay > 0:
            await self._sleep(delay)
        if self._paused_until.get(host) == until:
            del self._paused_until[host]

    async def aclose(self) -> None:
        await self.client.aclose()


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
