"""GitHub's primary rate limits as the stand-in keeps them: who may ask, and what each asking costs.

One pair of budgets (REST "core" and "graphql") serves every request, or, with
a pool of tokens, each token has a pair of its own and only those tokens are
let in. A budget holds ``limit`` points per window of ``reset_in`` seconds and
refills when the window ends.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Budget:
    """One rate-limit resource: ``limit`` points per window of ``reset_in`` seconds. The caller holds the lock."""

    resource: str
    limit: int
    reset_in: float
    reset_at: int = 0
    used: int = 0

    def __post_init__(self) -> None:
        self.reset_at = math.ceil(time.time() + self.reset_in)

    def roll(self, now: bool = False) -> None:
        """Refill the budget once the window has passed (or ``now``)."""
        moment = time.time()
        if now or moment >= self.reset_at:
            self.used = 0
            self.reset_at = math.ceil(moment + self.reset_in)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Resource": self.resource,
        }


@dataclass(frozen=True, slots=True)
class GraphQLSpend:
    """What charging a GraphQL query did: whether it was admitted, and the budget's state after it."""

    admitted: bool
    headers: dict[str, str]
    remaining: int
    reset_at: int


class Budgets:
    """The stand-in's rate-limit budgets and what they were charged.

    Without ``token`` or ``tokens`` anything goes; with them, GitHub's "Bearer"
    and "token" schemes both work. ``tokens`` is a pool: token -> its REST and
    GraphQL budgets of that many points each. Counters: ``points_charged``
    (REST), ``graphql_points`` (sum of query costs), ``graphql_queries`` and
    ``graphql_repositories`` (queries run, repositories they asked for).
    """

    def __init__(
        self,
        *,
        token: str | None,
        rate_limit: int,
        graphql_rate_limit: int,
        reset_in: float,
        tokens: Mapping[str, int] | None,
    ) -> None:
        self.token = token
        self.core = Budget("core", rate_limit, reset_in)
        self.graphql = Budget("graphql", graphql_rate_limit, reset_in)
        self.pool = {
            token: (Budget("core", points, reset_in), Budget("graphql", points, reset_in))
            for token, points in (tokens or {}).items()
        }
        self.points_charged = 0
        self.graphql_points = 0
        self.graphql_queries = 0
        self.graphql_repositories = 0
        self.lock = threading.Lock()

    def pair(self, header: str | None) -> tuple[Budget, Budget]:
        """The (REST, GraphQL) budgets a request is charged to: its token's in a pool, else the one pair."""
        credential = (header or "").partition(" ")[2]
        return self.pool.get(credential, (self.core, self.graphql))

    def demands_token(self) -> bool:
        return self.token is not None or bool(self.pool)

    def authorized(self, header: str | None) -> bool:
        """Without a token anything goes; with one, GitHub's "Bearer" and "token" schemes both work."""
        if not self.demands_token():
            return True
        scheme, _, credential = (header or "").partition(" ")
        return scheme.lower() in ("bearer", "token") and (credential == self.token or credential in self.pool)

    def left(self, budget: Budget) -> int:
        """Points left in ``budget``'s window."""
        with self.lock:
            budget.roll()
            return budget.remaining

    def refill(self) -> None:
        """Start a new window now, REST and GraphQL alike: as if the hour had passed."""
        with self.lock:
            for budget in (self.core, self.graphql, *(b for pair in self.pool.values() for b in pair)):
                budget.roll(now=True)

    def token_remaining(self, token: str) -> tuple[int, int]:
        """A pool token's (REST, GraphQL) points left in this window."""
        with self.lock:
            core, graphql = self.pool[token]
            core.roll()
            graphql.roll()
            return core.remaining, graphql.remaining

    def points_total(self) -> int:
        """Every point spent: REST answers plus GraphQL query costs."""
        with self.lock:
            return self.points_charged + self.graphql_points

    def exhausted(self, header: str | None = None) -> bool:
        """Whether the REST budget this request is charged to is spent."""
        with self.lock:
            core = self.pair(header)[0]
            core.roll()
            return core.used >= core.limit

    def charge(self, charged: bool, header: str | None = None) -> dict[str, str]:
        """Spend a REST point if the answer costs one, and return the rate-limit headers that follow."""
        with self.lock:
            core = self.pair(header)[0]
            core.roll()
            if charged:
                core.used += 1
                self.points_charged += 1
            return core.headers()

    def graphql_headers(self, header: str | None) -> dict[str, str]:
        """The GraphQL budget's headers, for an answer that charged nothing."""
        with self.lock:
            graphql = self.pair(header)[1]
            graphql.roll()
            return graphql.headers()

    def spend_graphql(self, header: str | None, cost: int, repositories: int) -> GraphQLSpend:
        """Charge a query's ``cost`` if the budget holds it; it asked for ``repositories``."""
        with self.lock:
            budget = self.pair(header)[1]
            budget.roll()
            admitted = budget.used + cost <= budget.limit
            if admitted:
                budget.used += cost
                self.graphql_points += cost
                self.graphql_queries += 1
                self.graphql_repositories += repositories
            return GraphQLSpend(admitted, budget.headers(), budget.remaining, budget.reset_at)

    def status(self, header: str | None = None) -> dict[str, Any]:
        """GET /rate_limit: every budget's limit, remaining, reset and used, under "resources"; "rate" is core."""
        with self.lock:
            budgets = {}
            for budget in self.pair(header):
                budget.roll()
                budgets[budget.resource] = {
                    "limit": budget.limit, "remaining": budget.remaining, "reset": budget.reset_at, "used": budget.used,
                }  # fmt: skip
        return {"resources": budgets, "rate": budgets["core"]}
