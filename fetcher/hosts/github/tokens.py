"""The GitHub token pool: which token each request goes to, and what each has left.

GitHub keeps a REST ("core") and a GraphQL budget per token. Each request goes
to the token with the most left in its budget (a token not yet heard from
counts as full); a token whose budget is spent rests until its reset while the
others go on; a token GitHub rejects (401) is dropped for the run. A token is
known by its variable's name everywhere but in the Authorization header.

GitHub's ETags depend on the token that asked ("It's currently expected for
ETags to be auth token specific", GitHub support, eclipse-csi/otterdog#201): an
ETag sent with another token never earns the free 304. So a conditional request
goes to the token that made its ETag while that token has budget, and only
otherwise to the fullest one (where it costs a point, as an unconditional ask would).

A token not yet answered in this run has one request out at a time until its first answer:
a token GitHub rejects then costs one 401, not one per request sent before the first came
back (repeated bad credentials from one address are what GitHub's abuse detection punishes).

The pool is the GitHub service's credential: `send` chooses a token for each request (waiting
while every token is busy or resting, within max_rate_limit_wait), sends it with that token's
`TokenCredential` (an httpx Auth hook bound to GitHub's API), and moves to another token when
one is rejected or spent.

Workers sharing a store share their tokens' budgets through its ledger (store/ledger.py), when the pool is
given one: a chosen token's request is reserved there before it is sent (a REST request 1 point, a GraphQL
query what the last one cost) and settled when its answer or failure is in, with the budget the answer
reported. A refusal says what the fleet's view of the window is: the pool takes it as its own, and the
token waits while workers hold points of it (until an answer of this worker's comes or LEDGER_POLL has
passed, whichever first), or rests until its reset when what is left is down to the reserve and nothing is
held. Without a ledger the pool decides alone, as it always did.
"""

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from fetcher.errors import RateLimited, RunStopped, StoreUnavailable, TokenRejected
from fetcher.logs import event
from fetcher.net.answer import Budget
from fetcher.net.credentials import Credential, bearer
from fetcher.net.request import Request
from fetcher.net.retry import MIN_RATE_LIMIT_WAIT

log = logging.getLogger(__name__)

# How long a token other workers hold points of waits before it is asked of the ledger again, when no answer of
# this worker's comes first: their answers free points this worker is not told of.
LEDGER_POLL = 0.25


@dataclass
class Token:
    env: str  # the variable it was read from: how it is named in every output
    value: str
    budgets: dict[str, Budget] = field(default_factory=dict)  # resource -> as last reported
    resting_until: dict[str, datetime] = field(default_factory=dict)  # resource -> its reset, once spent
    spent: Counter = field(default_factory=Counter)  # resource -> points this run spent of it
    in_flight: Counter = field(default_factory=Counter)  # resource -> requests sent and not yet answered
    rejected: bool = False
    answered: bool = False  # an answer other than a 401 came back with it in this run
    # Resources the ledger refused while workers held points of them: not chosen until the pool's next wake.
    held_elsewhere: set[str] = field(default_factory=set)

    def left(self, resource: str, now: datetime) -> float:
        """Points left in a budget as last reported; one not heard of yet, or past its reset, counts as full."""
        budget = self.budgets.get(resource)
        if budget is None:
            return float("inf")
        return budget.limit if budget.reset_at <= now else budget.remaining

    def rests(self, resource: str, now: datetime) -> bool:
        until = self.resting_until.get(resource)
        return until is not None and until > now


class AllRested(Exception):
    """Every token still in the pool is spent for this budget: the earliest reset is when one is back."""

    def __init__(self, until: datetime):
        super().__init__(until)
        self.until = until


class Busy(Exception):
    """Every token with budget to spare has enough in flight to reach its reserve: wait for an answer."""


class TokenCredential(Credential):
    """One pool token as an httpx Auth hook: sent under GitHub's API URLs only; tells the pool what came back."""

    pooled = True

    def __init__(self, pool: "TokenPool", token: Token, resource: str):
        super().__init__(bearer(token.value), pool.api_urls, token.env)
        self.pool = pool
        self.token = token
        self.resource = resource
        self.seen: Budget | None = None  # the budget the answer reported, for the ledger

    def observe(self, status: int, budget: Budget | None, charged: int, refused: bool) -> None:
        self.seen = budget
        self.pool.answered(self.token, status)
        if budget is not None:
            self.pool.saw(self.token, budget, charged=charged, refused=refused)
        else:
            self.token.spent[self.resource] += charged


class TokenPool:
    def __init__(self, tokens: list[tuple[str, str]], reserve: int = 0, api_urls: tuple[str, ...] = (),
                 token_envs: tuple[str, ...] = (), ledger=None):
        self.tokens = [Token(env, value) for env, value in tokens]
        # Every variable of github.token_env, set or not: where a token is read from, to say so when none is set.
        self.token_envs = token_envs or tuple(env for env, _ in tokens) or ("GITHUB_TOKEN",)
        # Points of each budget never spent (a sync keeps [sync] reserve for a person's refresh): a token down
        # to it rests until its reset like a spent one.
        self.reserve = reserve
        self.api_urls = api_urls  # where its tokens may go: GitHub's REST and GraphQL API URLs
        self._answer_came = asyncio.Event()  # set as each request ends: a token may have points to spare again
        # The fleet's budgets (store/ledger.py's WorkerLedger: reserve, settle), or None: this pool decides alone.
        self.ledger = ledger
        self.expected_cost: dict[str, int] = {}  # resource -> points its last answer cost (a GraphQL query's)

    async def send(self, request: Request, attempt, resource: str, client):
        """`attempt` with the token this request should go with; a token rejected or spent is left for the
        next, and the last one's failure goes up."""
        while True:
            token, points = await self._token(request, resource, client)
            credential = TokenCredential(self, token, resource)
            try:
                return await attempt(credential)
            except TokenRejected as rejected:
                if not self.reject(token):
                    raise self.every_one_rejected(rejected.url) from None
            except RateLimited as limited:
                # A reset already past (a clock ahead of GitHub's) still rests the token a while: never a storm.
                self.rest(token, resource, max(limited.reset_at, client.clock() + MIN_RATE_LIMIT_WAIT))
                if all(other.rests(resource, client.clock()) for other in self.live):
                    raise
            finally:
                self.done(token, resource)
                if points:
                    self._settle(token, resource, points, credential.seen, client.clock())
                self._answer_came.set()

    async def send_with(self, token_env: str, request: Request, attempt, resource: str):
        """`attempt` with the token of `token_env` alone (to ask it what it has left); a 401 goes up, and the
        run drops the token, with its warning, when it first sends with it."""
        token = next(token for token in self.tokens if token.env == token_env)
        token.in_flight[resource] += 1
        try:
            return await attempt(TokenCredential(self, token, resource))
        finally:
            self.done(token, resource)

    async def _token(self, request: Request, resource: str, client) -> tuple[Token, int]:
        """The token for this request, and the points the ledger holds for it (0 without a ledger); while every
        one is busy, wait for an answer; while every one rests, wait for the first reset if it comes within
        max_rate_limit_wait."""
        while True:
            if not self.live:
                raise self.every_one_rejected(request.url)  # the last one was rejected while this request waited
            try:
                token = self.choose(resource, client.clock(), request.pinned_to)
            except Busy:
                await self._wait_for_points(resource)
                continue
            except AllRested as rested:
                await client.wait_until(rested.until, RateLimited(request.url, rested.until, secondary=False,
                                                                  ends_run=True))
                continue
            if self.ledger is None:
                return token, 0
            points, now = self.expected_cost.get(resource, 1), client.clock()
            try:
                view = self.ledger.reserve(token.env, resource, points, self.reserve, now)
            except BaseException:  # the store cannot say (StoreUnavailable), or this worker's lease is gone
                self.done(token, resource)
                raise
            if view.granted:
                return token, points
            self.done(token, resource)
            self.refused(token, resource, view, points, now)

    async def _wait_for_points(self, resource: str) -> None:
        """Every token is busy: wait for an answer of this worker's; while workers hold points of a token the
        ledger refused, for such an answer or LEDGER_POLL, whichever comes first."""
        if any(resource in token.held_elsewhere for token in self.live):
            self._answer_came.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answer_came.wait(), LEDGER_POLL)
            for token in self.tokens:
                token.held_elsewhere.discard(resource)
            return
        if not any(sum(token.in_flight.values()) for token in self.tokens):
            # No answer is coming that could free a token: waiting would be for ever.
            raise RunStopped(f"no GitHub token can be spent now ({resource})") from None
        self._answer_came.clear()
        await self._answer_came.wait()

    def refused(self, token: Token, resource: str, view, points: int, now: datetime) -> None:
        """The ledger refused `points` of `token`'s window: take the fleet's view (`view`: store/ledger.py's View)
        as the pool's, then wait while workers hold points of it, or rest it until its reset."""
        if view.budget is not None:
            self._keep(token, Budget(resource, view.budget, view.remaining, view.reset))
        if view.held:
            token.held_elsewhere.add(resource)
        elif view.reset is not None and view.reset > now:
            token.resting_until[resource] = view.reset  # down to the reserve, and no answer will free a point
        else:  # a whole window, nothing held, cannot pay it: waiting would be for ever
            raise RunStopped(f"the whole {resource} window of ${token.env} ({view.budget} points) cannot pay "
                             f"{points} points and keep sync.reserve ({self.reserve})")

    def _settle(self, token: Token, resource: str, points: int, seen: Budget | None, now: datetime) -> None:
        """The ledger's hold for a request released, with the budget its answer reported (of its resource)."""
        window = None
        if seen is not None and seen.name == resource:
            window = {"budget": seen.limit, "remaining": seen.remaining, "reset": seen.reset_at}
        try:
            self.ledger.settle(token.env, resource, points, window, now)
        except StoreUnavailable as exc:  # its hold stays until this worker ends: the fleet errs on the safe side
            log.warning("cannot settle a budget hold of $%s: %s", token.env, exc)

    def seed(self, budgets: list[dict], now: datetime) -> None:
        """Start from the budgets the last run saw (rows of rate_limit, reset as a date-time) whose window is
        still open: the reserve holds from the first request, before any answer of this run is in."""
        by_env = {token.env: token for token in self.tokens}
        for row in budgets:
            token = by_env.get(row["token_env"])
            if token is not None and row["reset"] > now:
                resource = row["resource"]
                token.budgets[resource] = Budget(resource, row["budget"], row["remaining"], row["reset"])

    def __bool__(self) -> bool:
        return bool(self.tokens)

    @property
    def secrets(self) -> list[str]:
        return [token.value for token in self.tokens]

    @property
    def live(self) -> list[Token]:
        return [token for token in self.tokens if not token.rejected]

    def choose(self, resource: str, now: datetime, prefer: str | None = None) -> Token:
        """The token to ask with: `prefer` (the variable of the token that made an ETag) if it is not
        resting, else the one with the most left. AllRested when every live token rests.

        What is in flight counts as spent already, so requests sent together before any answer
        (a run's start, when no budget is known) are spread over the pool, not piled on one token.
        Each choice is ended by `done` when its answer (or failure) is in.
        """
        # A token whose whole window is no larger than the reserve has nothing a sync may spend, ever.
        spendable = [token for token in self.live if not (
            self.reserve and resource in token.budgets and token.budgets[resource].limit <= self.reserve)]
        if not spendable:
            raise RunStopped(
                f"every GitHub token's {resource} window is no larger than sync.reserve ({self.reserve}): a sync "
                "may spend none of it; lower sync.reserve, or add a token with a larger budget")
        for token in spendable:
            budget = token.budgets.get(resource)
            if self.reserve and budget is not None and budget.reset_at > now and budget.remaining <= self.reserve:
                token.resting_until[resource] = budget.reset_at  # down to the reserve: spent, for a sync
        awake = [token for token in spendable if not token.rests(resource, now)]
        if not awake:
            raise AllRested(min(token.resting_until[resource] for token in spendable))
        # What is in flight may take a token down to its reserve: such a token waits for its answers. With a
        # reserve to keep, a token whose budget is not known yet has one request out at a time until it is;
        # so has a token no answer has come back for yet in this run (it may be one GitHub rejects).
        ready = [token for token in awake if token.left(resource, now) - token.in_flight[resource] > self.reserve
                 and resource not in token.held_elsewhere
                 and not (self.reserve and resource not in token.budgets and token.in_flight[resource])
                 and not (not token.answered and sum(token.in_flight.values()))]
        if not ready or any(token.env == prefer and token not in ready and not token.answered for token in awake):
            raise Busy()  # (a token that made the ETag and is only waiting for its first answer is waited for)
        chosen = next((token for token in ready if token.env == prefer), None)
        if chosen is None:
            # Ties (budgets not known yet) go to the one with least in flight, then the first configured.
            chosen = max(ready, key=lambda token: (token.left(resource, now) - token.in_flight[resource],
                                                   -token.in_flight[resource]))
        chosen.in_flight[resource] += 1
        return chosen

    def done(self, token: Token, resource: str) -> None:
        token.in_flight[resource] -= 1

    def answered(self, token: Token, status: int) -> None:
        if status != 401:
            token.answered = True

    def saw(self, token: Token, budget: Budget, *, charged: int, refused: bool) -> None:
        """An answer to `token` reported `budget`: keep the newest, count what it cost, rest it when spent."""
        token.answered = True
        self._keep(token, budget)
        token.spent[budget.name] += charged
        if budget.remaining == 0 or refused:
            token.resting_until[budget.name] = budget.reset_at

    @staticmethod
    def _keep(token: Token, budget: Budget) -> None:
        known = token.budgets.get(budget.name)
        # Answers overtake each other: the lowest count in the newest window is the truth.
        if known is None or (budget.reset_at, -budget.remaining) >= (known.reset_at, -known.remaining):
            token.budgets[budget.name] = budget

    def spend(self, token_env: str | None, resource: str, points: int) -> None:
        """Count `points` an answer's body says it cost (GraphQL) against the token that asked; what the next
        request of `resource` is reserved at in the ledger."""
        self.expected_cost[resource] = max(1, points)
        for token in self.tokens:
            if token.env == token_env:
                token.spent[resource] += points

    def rest(self, token: Token, resource: str, until: datetime) -> None:
        token.resting_until[resource] = until

    def reject(self, token: Token) -> bool:
        """GitHub answered 401 for `token`: drop it for the run, with one warning while others remain to go on
        with (the last one's rejection stops the run, and `every_one_rejected` says so). True while they do."""
        if not token.rejected:
            token.rejected = True
            if self.live:
                log.warning("GitHub rejected the token in $%s (401): it is left out for the rest of the run",
                            token.env, extra=event("token_rejected", token_env=token.env))
        return bool(self.live)

    def every_one_rejected(self, url: str) -> TokenRejected:
        """The run's end once no token is left: the only token set, or every one of the pool, named."""
        if len(self.tokens) == 1:
            return TokenRejected(url, f"GitHub rejected the token in ${self.tokens[0].env} (401 Bad credentials), "
                                      "the only token set: check it or unset it")
        named = ", ".join(f"${token.env}" for token in self.tokens)
        return TokenRejected(url, f"GitHub rejected every token of the pool (401 Bad credentials): {named}: "
                                  "check them or unset them")

    def none_set(self, url: str) -> TokenRejected:
        """GitHub asked for a token (401) and no variable of github.token_env is set."""
        names = " or ".join(self.token_envs)
        return TokenRejected(url, f"GitHub asks for a token (401) and none is set: set {names} (github.token_env)")

    def report(self) -> list[dict]:
        """Per token variable and resource: points this run spent, points left and the reset, as last seen."""
        rows = []
        for token in self.tokens:
            for resource in sorted({"core"} | set(token.budgets) | set(token.spent)):
                budget = token.budgets.get(resource)
                rows.append({
                    "token_env": token.env,
                    "resource": resource,
                    "spent": token.spent[resource],
                    "remaining": budget.remaining if budget else None,
                    "budget": budget.limit if budget else None,
                    "reset": budget.reset_at if budget else None,
                    "rejected": token.rejected,
                })
        return rows
