"""GitHub as a service: what each of its answers means, the budgets they report, what they cost, its pace.

Pure decisions over (status, headers, body) but for the pacer's clock; `GitHubService` hands
them to the transport. GitHub's rate limit is one budget behind every package of the run, so
its refusal ends the run; a 401 refuses the run (the token must change); a 202 means the
statistics are still being computed; everything else is as any service means it.
"""

from datetime import datetime
from typing import Mapping

from fetcher.errors import (
    ApiVersionUnsupported, BadResponse, ContributorsTooLarge, EmptyRepository, NotFound, QueryTimedOut, RateLimited,
    StatsPending, TokenRejected, Transient,
)
from fetcher.hosts.github.pacing import MAX_CONCURRENT, Pacer
from fetcher.hosts.github.tokens import TokenPool
from fetcher.net.answer import (
    DEFAULT_LIMIT_WAIT, Answer, Budget, budget_from, message, parse_json, retry_after_time,
)
from fetcher.net.request import Request
from fetcher.net.service import Attempt, Service

GITHUB = "GitHub"
# The REST API version fetcher is written for (sent as X-GitHub-Api-Version).
API_VERSION = "2022-11-28"
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
# GitHub's 403 for GET /repos/{owner}/{repo}/contributors: "The history or contributor
# list is too large to list contributors for this repository via the API."
_TOO_LARGE = "too large to list contributors"
# Requests whose answers are charged no REST point: a GraphQL query (its body says its cost) and GET /rate_limit.
FREE_RESOURCES = frozenset({"graphql", "rate_limit"})


def budget_of(headers: Mapping[str, str], now: datetime) -> Budget | None:
    """The window an answer reports (X-RateLimit-*, named by X-RateLimit-Resource: core, graphql, search…)."""
    return budget_from(headers, "x-ratelimit-", headers.get("x-ratelimit-resource", "core"), now)


def read_answer(url: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime,
                query: bool = False) -> Answer:
    """Data for a usable answer of GitHub's; raise the typed failure GitHub means by any other. `query`: the
    answer to a GraphQL query, which GitHub stops after 10 seconds with a 502 or a 504."""
    if query and status in (502, 504):
        raise QueryTimedOut(url, f"GraphQL query timed out (HTTP {status}{message(body)})")
    if status in (200, 203):
        return Answer(url, status, headers, parse_json(url, body))
    if status in (204, 304):
        return Answer(url, status, headers, None)
    if status == 202:
        raise StatsPending(url)
    if status == 401:
        raise TokenRejected(url)
    if status in (400, 410) and _about_api_version(body):
        raise ApiVersionUnsupported(url, API_VERSION, status, message(body))
    # A secondary limit comes as a 403 or 429, but GraphQL's may come with another status: its message says.
    if status in (403, 429) or ("retry-after" in headers and says_limited(message(body))):
        limited = rate_limited(url, status, headers, body, now)
        if limited:
            raise limited
    if status == 403 and _TOO_LARGE in message(body).lower():
        raise ContributorsTooLarge(url, f"GitHub will not list them (403{message(body)})")
    if status in (404, 410, 451):
        raise NotFound(url, status)
    if status == 409:
        raise EmptyRepository(url)
    if status >= 500:
        raise Transient(url, f"server error {status}")
    raise BadResponse(url, f"unexpected HTTP {status}{message(body)}")


def rate_limited(url: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime) -> RateLimited | None:
    """GitHub's rate limit a refusal means: Retry-After (secondary), a spent budget (primary), a 429 or its
    words (secondary, a minute); None for a 403 that is about something else."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        return RateLimited(url, retry_after_time(url, retry_after, now), secondary=True, ends_run=True)
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        budget = budget_of(headers, now)
        if budget is None:
            raise BadResponse(url, f"implausible X-RateLimit-Reset {headers.get('x-ratelimit-reset', '')[:30]!r}")
        return RateLimited(url, budget.reset_at, secondary=False, ends_run=True)
    if status == 429 or says_limited(message(body)):
        return RateLimited(url, now + DEFAULT_LIMIT_WAIT, secondary=True, ends_run=True)
    return None


def says_timed_out(text: str) -> bool:
    """GitHub's words for a query it stopped: "Something went wrong while executing your query. This may be the
    result of a timeout...", or a plain "timeout"."""
    return "timeout" in text.lower() or "timed out" in text.lower()


def says_limited(text: str) -> bool:
    """GitHub's words for a rate limit: "rate limit", or for a secondary one formerly "abuse detection"."""
    text = text.lower()
    return "rate limit" in text or "abuse detection" in text


def _about_api_version(body: bytes) -> bool:
    """GitHub says in the message when X-GitHub-Api-Version names a version it no longer serves."""
    text = message(body).lower()
    return "version" in text and "api" in text


def rest_cost(status: int, hops: int, authorized: bool, refused: bool) -> int:
    """A REST answer costs a point, and so does each redirect hop before it. A request refused for the rate
    limit is free, and so is a 304, but only with a token: GitHub counts a 304 as free "if the request is
    made while correctly authorizing with an Authorization header"."""
    return hops + (not refused and (status != 304 or not authorized))


class GitHubService(Service):
    name = "github"
    label = GITHUB
    limit_ends_run = True  # one budget behind every package: when it is spent, every request meets it

    def __init__(self, pool: TokenPool, client, *, pace: bool, only: str | None = None):
        super().__init__(None)
        self.pool = pool
        self.client = client
        self._pacer = Pacer(client.sleep) if pace else None
        # GitHub allows at most 100 concurrent requests (a secondary limit); kept under when pacing.
        self.share = MAX_CONCURRENT if pace else None
        self._only = only

    def with_token(self, token_env: str) -> "GitHubService":
        """GitHub's requests with one token of the pool alone: to ask that token what it has left."""
        return GitHubService(self.pool, self.client, pace=False, only=token_env)

    async def send(self, request: Request, attempt: Attempt) -> Answer:
        if self._only is not None:
            return await self.pool.send_with(self._only, request, attempt, self.budget_name(request))
        if not self.pool:
            try:
                return await attempt(None)
            except TokenRejected as rejected:  # no token was sent: none was rejected, one is asked for
                raise self.pool.none_set(rejected.url) from None
        return await self.pool.send(request, attempt, self.budget_name(request), self.client)

    def budget_name(self, request: Request) -> str:
        """GitHub keeps separate budgets for REST ("core") and GraphQL."""
        return "graphql" if request.resource == "graphql" else "core"

    def budget(self, request: Request, headers: Mapping[str, str], now: datetime) -> Budget | None:
        return budget_of(headers, now)

    def cost(self, request: Request, status: int, hops: int, authorized: bool, refused: bool) -> int:
        # A query's cost is in its answer's body (graphql.query_cost), counted by the host that reads it;
        # GET /rate_limit "does not count against your primary rate limit".
        if request.resource in FREE_RESOURCES:
            return 0
        return rest_cost(status, hops, authorized, refused)

    async def pace(self, request: Request) -> None:
        if self._pacer is not None:
            await self._pacer.wait_turn(request.resource)

    def read(self, request, answer_url, status, headers, body, now, budget) -> Answer:
        return read_answer(answer_url, status, headers, body, now, query=request.resource == "graphql")

    def secrets(self) -> list[str]:
        return self.pool.secrets
