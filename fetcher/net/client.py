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
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, TypeVar

import httpx

from fetcher import __version__
from fetcher.hosts.github import budget as points_budget
from fetcher.net import retry as policy
from fetcher.config import Config
from fetcher.errors import BadResponse, RateLimited, TokenRejected, Transient, Unreachable
from fetcher.net.answer import GITHUB, PYPI, Answer, RateLimit, interpret, lower_headers, rate_limit
from fetcher.logs import event
from fetcher.hosts.github.pacing import MAX_CONCURRENT, Pacer
from fetcher.cache import Cached, Validators
from fetcher.hosts.github.tokens import AllRested, Busy, Token, TokenPool

USER_AGENT = f"fetcher/{__version__} (package-metadata sync worker)"
# A rate-limit wait at least this long is announced on stderr when it starts.
ANNOUNCED_WAIT = 5.0
log = logging.getLogger(__name__)
T = TypeVar("T")
# A whole request (connecting, redirects, the last byte of the body) gets this many times
# http.timeout, which bounds each connect and each read: a body trickling a byte at a time
# never trips a per-read timeout.
DEADLINE_TIMEOUTS = 3
# GitHub answers a renamed repository with one redirect; a chain longer than this is a loop.
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """scheme://host:port of a URL: what a token is bound to. Raises httpx.InvalidURL for no URL."""
    parsed = httpx.URL(url)
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.host:
        raise httpx.InvalidURL(f"not an http(s) URL: {url[:100]!r}")
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or _DEFAULT_PORTS[parsed.scheme]}"


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
            # Only gzip, which read_bounded inflates a bounded slice at a time.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
            # Redirects are followed in _follow, by httpx's next_request, which drops Authorization
            # on a redirect to another origin.
            follow_redirects=False,
            transport=transport or PoolShards(concurrency),
        )
        self.counts = RequestCounts()
        self.answered: set[str] = set()  # origins that sent any HTTP answer in this run
        # (origin, path prefix) -> Authorization value; None: that API sends none (a forge without a token)
        self._credentials: dict[tuple[str, str], str | None] = {}
        self._pools: dict[str, TokenPool] = {}  # origin -> the GitHub tokens its requests are shared among
        self._answered = asyncio.Event()  # set as each pool request ends: a token may have points to spare again
        self._max_body = config.max_body
        self._deadline = config.timeout * DEADLINE_TIMEOUTS
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

    def grant(self, url: str, authorization: str | None) -> None:
        """Send `authorization` with every request to the origin of `url` under its path, and to no other.

        The longest grant that covers a URL decides, so two APIs on one origin (a GitHub Enterprise and a
        GitLab on the same server, or the stand-in) each get their own token; None sends none there.
        """
        self._credentials[(origin(url), httpx.URL(url).path.rstrip("/"))] = authorization

    def _authorization(self, host: str, url: str) -> str | None:
        path = httpx.URL(url).path
        covering = [(len(prefix), value) for (where, prefix), value in self._credentials.items()
                    if where == host and (path == prefix or path.startswith(prefix + "/"))]
        return max(covering, key=lambda pair: pair[0])[1] if covering else None

    def grant_pool(self, url: str, pool: TokenPool) -> None:
        """Send each GitHub request to the origin of `url` with one of the pool's tokens (fetcher.tokens)."""
        self._pools[origin(url)] = pool

    def spend(self, answer: Answer, resource: str, points: int) -> None:
        """Count `points` an answer's body says it cost (GraphQL) against the token that asked."""
        for pool in self._pools.values():
            for token in pool.tokens:
                if token.env == answer.token_env:
                    token.spent[resource] += points
                    return

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
        # An ETag is only good with the token that made it: ask with that one while it can be.
        prefer = validators.token_env if validators and sent else None
        return await self._with_retries("GET", url, kind, sent, None, None, budget, prefer)

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
        return Cached(read(answer), self._clock(), answer.headers.get("etag"), answer.headers.get("last-modified"),
                      answer.token_env)

    async def post(self, url: str, *, kind: str, headers: dict[str, str], json: dict, read: Callable[[Answer], T]) -> T:
        """POST and read the answer with `read`, inside the retries: a failure `read` raises is retried like any."""
        return await self._with_retries("POST", url, kind, headers, json, read)

    async def _with_retries(self, *request):
        # The weekly counts are asked once per visit: a 202 goes up, and sync comes back for them later.
        retrying = policy.retrying(**self._retry, pending=request[2] != "participation")
        try:
            return await retrying(self._send, *request)
        finally:
            self.counts.retries += retrying.statistics.get("attempt_number", 1) - 1

    async def _send(self, method: str, url: str, kind: str, headers: dict[str, str], json: dict | None, read,
                    budget: str | None = None, prefer: str | None = None):
        try:
            host = origin(url)
        except httpx.InvalidURL as exc:
            raise BadResponse(url[:200], f"invalid URL: {exc}") from None
        # Only GitHub's requests take a pool token: never PyPI's or a forge's, even on one origin (a stand-in).
        pool = self._pools.get(host) if kind != "pypi" and budget is None else None
        if not pool:
            return await self._send_as(method, url, kind, headers, json, read, budget, host, None, None)
        group = _budget_group(kind)
        while True:  # a token rejected or spent is left for the next; the last one's failure goes up
            token = await self._token(pool, group, url, prefer)
            try:
                return await self._send_as(method, url, kind, headers, json, read, budget, host, pool, token)
            except TokenRejected:
                if not pool.reject(token):
                    raise
            except RateLimited as limited:
                pool.rest(token, group, limited.reset_at)
                if all(other.rests(group, self._clock()) for other in pool.live):
                    raise
            finally:
                pool.done(token, group)
                self._answered.set()

    async def _token(self, pool: TokenPool, group: str, url: str, prefer: str | None) -> Token:
        """The pool's token for this request; while every one rests, wait for the first reset if allowed."""
        while True:
            try:
                return pool.choose(group, self._clock(), prefer)
            except Busy:
                self._answered.clear()
                await self._answered.wait()
            except AllRested as rested:
                failure = RateLimited(url, rested.until, secondary=False, service=GITHUB)
                delay = policy.rate_limit_delay(failure, self._clock())
                if delay > self._max_rate_limit_wait.total_seconds():
                    raise failure from None
                self._waiting(delay, rested.until)
                await self._sleep(delay)

    async def _send_as(self, method, url, kind, headers, json, read, budget, host, pool: TokenPool | None,
                       token: Token | None):
        group = budget or _budget_group(kind)
        label = budget or ("pypi" if kind == "pypi" else "github")  # whose requests, for the summary
        if token is None:
            await self._wait_for_rate_limit(group, url, kind)
        # GitHub's secondary limits are GitHub's: a forge is paced by its own rate-limit headers only.
        if self._pacer and kind != "pypi" and budget is None:
            await self._pacer.wait_turn(kind)
        authorization = token.authorization if token else self._authorization(host, url)
        if authorization:
            headers = {**headers, "Authorization": authorization}
        async with self._forge_slot(budget), self._slots:
            try:
                async with asyncio.timeout(self._deadline):
                    response, hops, body = await self._exchange(method, url, (kind, label), host, headers, json)
            except TimeoutError:
                raise Transient(url, f"no complete answer within {self._deadline:g}s") from None
        seen = lower_headers(response.headers)
        self._account(group, response.status_code, seen, hops, authorization is not None, pool, token)
        try:
            service = PYPI if kind == "pypi" else GITHUB
            answer = interpret(str(response.url), response.status_code, seen, body, self._clock(), service)
            if token is not None:
                answer = replace(answer, token_env=token.env)
            return read(answer) if read else answer
        except RateLimited as limited:
            # PyPI publishes no budget: its 429 is about this request; a pool token rests on its own.
            if limited.service == GITHUB and token is None:
                self._paused_until[group] = limited.reset_at
            raise

    async def _exchange(self, method, url, counted, host, headers, json) -> tuple[httpx.Response, int, bytes]:
        """One request and its redirects, its body read within max_body; every httpx failure typed."""
        try:
            request = self.client.build_request(method, url, headers=headers, json=json)
            response, hops = await self._follow(request, counted, host)
        except httpx.TooManyRedirects:
            raise BadResponse(url, f"more than {MAX_REDIRECTS} redirects (a redirect loop?)") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
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
            return response, hops, await read_bounded(response, self._max_body, url)
        except httpx.TimeoutException:
            raise Transient(url, "timed out") from None
        except httpx.TransportError as exc:
            raise Transient(url, f"connection failed: {_reason(exc)}") from None
        except httpx.HTTPError as exc:
            raise BadResponse(url, f"unusable answer: {type(exc).__name__}: {_reason(exc)}") from None
        finally:
            await response.aclose()

    async def _follow(self, request: httpx.Request, counted: tuple[str, str], host: str) -> tuple[httpx.Response, int]:
        """Send, following up to MAX_REDIRECTS redirects; the final response, its body unread, and the hops.

        httpx's own following reads each redirect's body whole, whatever its size; here it is never read.
        """
        hops = 0
        while True:
            try:
                response = await self.client.send(request, stream=True)
            except httpx.HTTPError:
                self._count_sent(*counted)
                raise
            self._count_sent(*counted)
            self.counts.answered += 1
            self.answered.add(host)
            if response.next_request is None:
                return response, hops
            await response.aclose()
            if hops == MAX_REDIRECTS:
                raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.", request=request)
            hops += 1
            request = response.next_request

    def _forge_slot(self, budget: str | None):
        if budget is None:
            return contextlib.nullcontext()
        return self._forge_slots.setdefault(budget, asyncio.Semaphore(self._forge_share))

    def _count_sent(self, kind: str, label: str) -> None:
        """One request counted once on the wire: a request cancelled before it was sent is not."""
        self.counts.sent += 1
        self.counts.by_kind[kind] += 1
        self.counts.by_host[label] += 1

    def _account(
        self, group: str, status: int, headers: dict[str, str], hops: int, authorized: bool,
        pool: TokenPool | None = None, token: Token | None = None,
    ) -> None:
        if status == 304:
            self.counts.not_modified += 1
        limit = rate_limit(headers)
        if limit is None:
            return
        if group not in ("core", "graphql", "pypi"):
            limit = replace(limit, resource=group)  # a forge's budget is its own, whatever it calls it
        refused = status in (403, 429) and (limit.remaining == 0 or "retry-after" in headers)
        # A request refused for the rate limit is free, and so is a 304, but only with a token: GitHub
        # counts a 304 as free "if the request is made while correctly authorizing with an Authorization header".
        charged = hops + (not refused and (status != 304 or not authorized)) if group == "core" else 0
        self.counts.rest_points += charged
        points_budget.charge(charged)  # against the package being fetched: what it costs is its estimate next time
        if pool is not None and token is not None:
            pool.saw(token, limit, charged=charged, refused=refused)  # each token rests on its own
            return
        known = self.rate_limits.get(limit.resource)
        # Answers overtake each other: the lowest count in the newest window is the truth.
        if known is None or (limit.reset_at, -limit.remaining) >= (known.reset_at, -known.remaining):
            self.rate_limits[limit.resource] = limit
        if limit.remaining == 0 and group != "pypi":
            self._paused_until[group] = limit.reset_at

    async def _wait_for_rate_limit(self, group: str, url: str, kind: str) -> None:
        """Once a budget is spent, ask nothing more of it until the reset."""
        until = self._paused_until.get(group)
        if until is None:
            return
        failure = RateLimited(url, until, secondary=False, service=PYPI if kind == "pypi" else GITHUB)
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
    return str(exc)[:200] or type(exc).__name__


async def read_bounded(response: httpx.Response, limit: int, url: str) -> bytes:
    """The body, gzip inflated a bounded slice at a time: past `limit` bytes it is a BadResponse.

    httpx's own decoder would inflate each network chunk whole (a gzip bomb
    turns 64 KB into 64 MB at once), so the raw bytes are read and inflated
    here with zlib's max_length.
    """
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip", ""):
        raise BadResponse(url, f"answer in an encoding fetcher did not ask for: {encoding[:30]!r}")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip") else None
    body = bytearray()
    too_large = BadResponse(url, f"answer larger than http.max_body ({limit} bytes)")
    async for raw in response.aiter_raw():
        if inflate is None:
            body += raw
        else:
            data = raw
            while data and not inflate.eof:
                try:
                    body += inflate.decompress(data, limit + 1 - len(body))
                except zlib.error:
                    raise BadResponse(url, "garbled gzip in the answer") from None
                if len(body) > limit:
                    raise too_large
                data = inflate.unconsumed_tail
        if len(body) > limit:
            raise too_large
    if inflate is not None and not inflate.eof and body:
        raise Transient(url, "gzip answer cut short")
    return bytes(body)
