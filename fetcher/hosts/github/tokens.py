"""The GitHub token pool: which token each request goes to, and what each has left. No I/O.

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
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from fetcher.net.answer import RateLimit

log = logging.getLogger(__name__)


@dataclass
class Token:
    env: str  # the variable it was read from: how it is named in every output
    value: str
    budgets: dict[str, RateLimit] = field(default_factory=dict)  # resource -> as last reported
    resting_until: dict[str, datetime] = field(default_factory=dict)  # resource -> its reset, once spent
    spent: Counter = field(default_factory=Counter)  # resource -> points this run spent of it
    in_flight: Counter = field(default_factory=Counter)  # resource -> requests sent and not yet answered
    rejected: bool = False

    @property
    def authorization(self) -> str:
        return f"Bearer {self.value}"

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


class TokenPool:
    def __init__(self, tokens: list[tuple[str, str]], reserve: int = 0):
        self.tokens = [Token(env, value) for env, value in tokens]
        # Points of each budget never spent (a sync keeps [sync] reserve for a person's refresh): a token down
        # to it rests until its reset like a spent one.
        self.reserve = reserve

    def seed(self, budgets: list[dict], now: datetime) -> None:
        """Start from the budgets the last run saw (rows of rate_limit, reset as a date-time) whose window is
        still open: the reserve holds from the first request, before any answer of this run is in."""
        by_env = {token.env: token for token in self.tokens}
        for row in budgets:
            token = by_env.get(row["token_env"])
            if token is not None and row["reset"] > now:
                resource = row["resource"]
                token.budgets[resource] = RateLimit(row["budget"], row["remaining"], row["reset"], resource)

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
        for token in self.live:
            budget = token.budgets.get(resource)
            if self.reserve and budget is not None and budget.reset_at > now and budget.remaining <= self.reserve:
                token.resting_until[resource] = budget.reset_at  # down to the reserve: spent, for a sync
        awake = [token for token in self.live if not token.rests(resource, now)]
        if not awake:
            raise AllRested(min(token.resting_until[resource] for token in self.live))
        # What is in flight may take a token down to its reserve: such a token waits for its answers. With a
        # reserve to keep, a token whose budget is not known yet has one request out at a time until it is.
        awake = [token for token in awake if token.left(resource, now) - token.in_flight[resource] > self.reserve
                 and not (self.reserve and resource not in token.budgets and token.in_flight[resource])]
        if not awake:
            raise Busy()
        chosen = next((token for token in awake if token.env == prefer), None)
        if chosen is None:
            # Ties (budgets not known yet) go to the one with least in flight, then the first configured.
            chosen = max(awake, key=lambda token: (token.left(resource, now) - token.in_flight[resource],
                                                   -token.in_flight[resource]))
        chosen.in_flight[resource] += 1
        return chosen

    def done(self, token: Token, resource: str) -> None:
        token.in_flight[resource] -= 1

    def saw(self, token: Token, limit: RateLimit, *, charged: int, refused: bool) -> None:
        """An answer to `token` reported `limit`: keep the newest, count what it cost, rest it when spent."""
        known = token.budgets.get(limit.resource)
        # Answers overtake each other: the lowest count in the newest window is the truth.
        if known is None or (limit.reset_at, -limit.remaining) >= (known.reset_at, -known.remaining):
            token.budgets[limit.resource] = limit
        token.spent[limit.resource] += charged
        if limit.remaining == 0 or refused:
            token.resting_until[limit.resource] = limit.reset_at

    def rest(self, token: Token, resource: str, until: datetime) -> None:
        token.resting_until[resource] = until

    def reject(self, token: Token) -> bool:
        """GitHub answered 401 for `token`: drop it for the run, with one warning. True while others remain."""
        if not token.rejected:
            token.rejected = True
            log.warning("GitHub rejected the token in $%s (401): it is left out for the rest of the run", token.env)
        return bool(self.live)

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
