"""Send requests: the one place that touches the network, for sync, refresh, check and budget asking alike.

One Client per run: at most `concurrency` requests in flight (and each service its share), a
whole-request deadline, bodies read within `http.max_body`, redirects followed here (never a
redirect's body read), every httpx failure typed. What an answer means is its service's to say
(net/service.py); what to do about a failure is `retry`'s; the client sends, counts and keeps
what each answer said of its budget.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import httpx

from fetcher import __version__
from fetcher.config import Config
from fetcher.errors import BadResponse, RateLimited, Transient, Unreachable, Unresolved
from fetcher.logs import event
from fetcher.net import retry
from fetcher.net.answer import Answer, Budget, lower_headers
from fetcher.net.counts import RequestCounts, charge
from fetcher.net.credentials import Credential, origin
from fetcher.net.request import Request
from fetcher.net.service import Service
from fetcher.net.slots import Slots
from fetcher.net.transport import PoolShards, read_bounded

USER_AGENT = f"fetcher/{__version__} (package-metadata sync worker)"
# A rate-limit wait at least this long is announced on stderr when it starts.
ANNOUNCED_WAIT = 5.0
# A whole request (connecting, redirects, the last byte of the body) gets this many times
# http.timeout, which bounds each connect and each read: a body trickling a byte at a time
# never trips a per-read timeout.
DEADLINE_TIMEOUTS = 3
# GitHub answers a renamed repository with one redirect; a chain longer than this is a loop.
MAX_REDIRECTS = 5
log = logging.getLogger(__name__)
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Client:
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
            # Only gzip, which read_bounded inflates a bounded slice at a time.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
            # Redirects are followed in _follow, by httpx's next_request, which drops Authorization
            # on a redirect to another origin (and a credential adds it only under its own API).
            follow_redirects=False,
            transport=transport or PoolShards(config.concurrency),
        )
        self.clock = clock
        self.sleep = sleep
        self.counts = RequestCounts()
        self.answered: set[str] = set()  # origins that sent any HTTP answer in this run
        # (token variable or "", window name) -> what is left of it, as last reported
        self.budgets: dict[tuple[str, str], Budget] = {}
        self.max_rate_limit_wait = config.max_rate_limit_wait
        self._max_body = config.max_body
        self._deadline = config.timeout * DEADLINE_TIMEOUTS
        self._slots = Slots(config.concurrency)
        self._shares: dict[str, Slots] = {}
        self._retry = dict(retries=config.retries, backoff=config.backoff,
                           max_rate_limit_wait=config.max_rate_limit_wait, clock=clock, sleep=sleep,
                           on_rate_limit_wait=self.waiting)
        self._waiting_until: datetime | None = None  # the end of the rate-limit wait under way
        # (token variable or "", window name) -> when it resets, once an answer said none is left
        self._paused_until: dict[tuple[str, str], datetime] = {}

    async def send(self, service: Service, request: Request, read: Callable[[Answer], T] | None = None) -> T:
        """The answer to `request` (or what `read` makes of it, inside the retries: a failure `read` raises
        is retried like any), after the retries `retry` allows; else its typed failure."""
        bounds = {**self._retry, "retries": 0, "max_rate_limit_wait": timedelta(0)} if request.once else self._retry
        retrying = retry.retrying(**bounds, pending=request.retry_pending, final=request.final_server_errors)

        async def attempt_once():
            return await service.send(request, lambda credential: self._attempt(service, request, credential, read))

        try:
            return await retrying(attempt_once)
        finally:
            self.counts.retries += retrying.statistics.get("attempt_number", 1) - 1

    async def _attempt(self, service: Service, request: Request, credential: Credential | None, read):
        try:
            host = origin(request.url)
        except httpx.InvalidURL as exc:
            raise BadResponse(request.url[:200], f"invalid URL: {exc}") from None
        window = service.budget_name(request)
        key = ((credential.token_env if credential else None) or "", window or "")
        if window and not (credential and credential.pooled):
            await self._wait_for_reset(key, request.url, service)
        await service.pace(request)
        async with self._share(service), self._slots.held():
            service.admit(request)
            try:
                async with asyncio.timeout(self._deadline):
                    response, hops, body = await self._exchange(service, request, credential, host)
            except TimeoutError:
                raise Transient(request.url, f"no complete answer within {self._deadline:g}s") from None
        status, headers, now = response.status_code, lower_headers(response.headers), self.clock()
        budget = service.budget(request, headers, now) if window else None
        refused = status in (403, 429) and ("retry-after" in headers or (budget is not None and budget.remaining == 0))
        charged = service.cost(request, status, hops, credential is not None, refused)
        self._account(status, budget, charged, key, credential, refused)
        answer = service.read(request, str(response.url), status, headers, body, now, budget)
        if credential is not None and credential.token_env:
            answer = Answer(answer.url, answer.status, answer.headers, answer.data, credential.token_env)
        return read(answer) if read else answer

    async def _exchange(self, service, request, credential, host) -> tuple[httpx.Response, int, bytes]:
        """One request and its redirects, its body read within max_body; every httpx failure typed."""
        url = request.url
        try:
            sent = self.client.build_request(request.method, url, headers=request.sent_headers(), json=request.json)
            response, hops = await self._follow(sent, service, request.resource, host, credential)
        except httpx.TooManyRedirects:
            raise BadResponse(url, f"more than {MAX_REDIRECTS} redirects (a redirect loop?)") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if _unresolved(exc):
                raise Unresolved(url, f"cannot resolve the host's name: {_reason(exc)}", host) from None
            raise Unreachable(url, f"cannot connect: {_reason(exc)}", host) from None
        except httpx.UnsupportedProtocol as exc:
            raise BadResponse(url, f"redirected where fetcher does not go: {_reason(exc)}") from None
        except httpx.TimeoutException:
            raise Transient(url, "timed out") from None
        except httpx.RemoteProtocolError as exc:
            if "location header" in str(exc).lower():  # httpx's words for a Location that is no URL
                raise BadResponse(url, f"redirected to no URL: {_reason(exc)}") from None
            raise Transient(url, f"connection failed: {_reason(exc)}") from None
        except httpx.TransportError as exc:
            raise Transient(url, f"connection failed: {_reason(exc)}") from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # A header httpx cannot take, and the like: the answer's fault, not ours.
            raise BadResponse(url, f"unusable answer: {type(exc).__name__}: {_reason(exc)}") from None
        try:
            return response, hops, await read_bounded(response, request.max_body or self._max_body, url)
        except httpx.TimeoutException:
            raise Transient(url, "timed out") from None
        except httpx.TransportError as exc:
            raise Transient(url, f"connection failed: {_reason(exc)}") from None
        except httpx.HTTPError as exc:
            raise BadResponse(url, f"unusable answer: {type(exc).__name__}: {_reason(exc)}") from None
        finally:
            await response.aclose()

    async def _follow(self, request: httpx.Request, service: Service, resource: str, host: str,
                      credential: Credential | None) -> tuple[httpx.Response, int]:
        """Send, following up to MAX_REDIRECTS redirects; the final response, its body unread, and the hops.

        httpx's own following reads each redirect's body whole, whatever its size; here it is never read.
        A redirect to another origin is not followed: an answer from elsewhere is no answer of this API's.
        The credential goes with each hop and adds itself only where it belongs (net/credentials.py).
        """
        hops = 0
        while True:
            try:
                response = await self.client.send(request, stream=True, auth=credential)
            except httpx.HTTPError:
                self._count_sent(service, resource)
                raise
            self._count_sent(service, resource)
            self.counts.answered += 1
            self.answered.add(host)
            if response.next_request is None:
                return response, hops
            await response.aclose()
            if hops == MAX_REDIRECTS:
                raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.", request=request)
            hops += 1
            request = response.next_request
            if _origin_of(request.url) != host:
                raise BadResponse(str(request.url)[:200], f"redirected off the API's origin ({host}): not followed")

    def _share(self, service: Service):
        if service.share is None:
            return contextlib.nullcontext()
        if service.name not in self._shares:
            self._shares[service.name] = Slots(service.share)
        return self._shares[service.name].held()

    def _count_sent(self, service: Service, resource: str) -> None:
        """One request counted once on the wire: a request cancelled before it was sent is not."""
        self.counts.sent += 1
        self.counts.by_resource[resource] += 1
        self.counts.by_service[service.name] += 1

    def _account(self, status: int, budget: Budget | None, charged: int, key: tuple[str, str],
                 credential: Credential | None, refused: bool) -> None:
        if status == 304:
            self.counts.not_modified += 1
        self.counts.points += charged
        charge(charged)  # against the package being fetched: what it costs is its estimate next time
        if credential is not None:
            credential.observe(status, budget, charged, refused)
        if budget is None:
            return
        key = (key[0], budget.name)
        known = self.budgets.get(key)
        # Answers overtake each other: the lowest count in the newest window is the truth.
        if known is None or (budget.reset_at, -budget.remaining) >= (known.reset_at, -known.remaining):
            self.budgets[key] = budget
        if budget.remaining == 0 and not (credential and credential.pooled):
            self._paused_until[key] = budget.reset_at

    async def _wait_for_reset(self, key: tuple[str, str], url: str, service: Service) -> None:
        """Once a window is spent, ask nothing more of it until its reset."""
        until = self._paused_until.get(key)
        if until is None:
            return
        await self.wait_until(until, RateLimited(url, until, secondary=False, service=service.label,
                                                 ends_run=service.limit_ends_run))
        if self._paused_until.get(key) == until:
            del self._paused_until[key]

    async def wait_until(self, until: datetime, failure: RateLimited) -> None:
        """Wait for a reset within max_rate_limit_wait; raise `failure` when it is further away."""
        delay = retry.rate_limit_delay(failure, self.clock())
        if delay > self.max_rate_limit_wait.total_seconds():
            raise failure
        if delay > 0:
            self.waiting(delay, until)
            await self.sleep(delay)

    def waiting(self, seconds: float, until: datetime) -> None:
        """Count a rate-limit wait once however many requests wait it out together; announce a long one."""
        now = self.clock()
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


def _origin_of(url: httpx.URL) -> str | None:
    try:
        return origin(str(url))
    except httpx.InvalidURL:
        return None


def _unresolved(exc: BaseException) -> bool:
    """Whether a connection failed because the name did not resolve (a socket.gaierror under httpx's error)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, socket.gaierror):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _reason(exc: Exception) -> str:
    return str(exc)[:200] or type(exc).__name__
