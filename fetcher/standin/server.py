"""The stand-in: GitHub REST and GraphQL, PyPI and the forge hosts of a ``World``, served on 127.0.0.1.

The fetcher's tests and benchmark need a real HTTP server that answers the
way GitHub and PyPI do -- redirects for renamed repositories, 202 while
statistics are computed, ETag revalidation, rate-limit headers, Link
pagination, batched GraphQL repository lookups with partial errors --
without touching the network. GitHub REST is served at the root of the
server, GraphQL at ``POST /graphql`` and PyPI under ``/pypi/`` and
``/simple/``, so one ``StandIn.url`` serves as both REST base URLs and
``StandIn.graphql_url`` as the GraphQL endpoint.

GitLab, Forgejo (Gitea, Codeberg) and Bitbucket hosts are served under
``/_forge/{host}/`` when the world has ``forges`` (see ``fetcher.standin.forges``), and a
Django Packages-style directory's API v4 under ``/api/v4/`` when it has a ``directory``
(``fetcher.standin.directory``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from fetcher.standin import github, graphql, pypi
from fetcher.standin.answers import Answer, json_answer
from fetcher.standin.budgets import Budget, Budgets
from fetcher.standin.canned import CannedAnswers
from fetcher.standin.faults import FaultPlan
from fetcher.standin.handler import Server
from fetcher.standin.hostile import Hostile
from fetcher.standin.in_flight import InFlight
from fetcher.standin.vary import Variation
from fetcher.standin.world import World

_HEADER_HISTORY = 1000


@dataclass(frozen=True, slots=True)
class Logged:
    """One request as the stand-in answered it; ``authorized`` means an Authorization header was sent."""

    method: str
    path: str
    status: int
    charged: bool
    authorized: bool


class StandIn:
    """The GitHub REST, GitHub GraphQL and PyPI JSON stand-in, serving ``world`` on 127.0.0.1 from a thread.

    It starts on construction and stops on ``close()`` (or leaving a ``with``
    block). GitHub REST requests cost one point of ``rate_limit`` per window
    of ``reset_in`` seconds unless answered 304, like GitHub's primary limit;
    the budget refills when the window ends. ``POST /graphql`` has a budget
    of its own (``graphql_rate_limit``, resource "graphql"), charged by query
    cost: a point per 100 repositories, at least one per query. Cold weekly
    statistics are computed ``stats_delay`` seconds after they are first asked
    for (see ``Repo``). ``tokens`` makes a pool: token -> its REST and GraphQL
    budgets of that many points each; only these tokens are let in.

    Counters: ``points_charged`` (REST), ``graphql_points`` (sum of query
    costs), ``graphql_queries`` and ``graphql_repositories`` (queries run,
    repositories they asked for), ``points_total`` (REST + GraphQL).
    """

    def __init__(
        self,
        world: World,
        latency: float = 0.0,
        *,
        token: str | None = None,
        rate_limit: int = 5000,
        reset_in: float = 3600.0,
        port: int = 0,
        stats_delay: float = 1.0,
        graphql_rate_limit: int = 5000,
        graphql_rate_limited_status: int = 200,
        graphql_timeout_above: int | None = None,
        faults: FaultPlan | None = None,
        hostile: Hostile | None = None,
        tokens: Mapping[str, int] | None = None,
        variation: Variation | None = None,
    ) -> None:
        self.world = world
        # vary.py: per-route and per-request latency, padded answers, many contributor pages; None: plain.
        self.variation = variation
        if variation is not None:
            variation.vary_world(world)
        self.slept = 0.0  # seconds of latency added to answers, all requests together
        self.faults = faults
        self.hostile = hostile  # hostile.py: chosen resources answer what no honest server would
        self.latency = latency
        self.stats_delay = stats_delay
        self.graphql_rate_limited_status = graphql_rate_limited_status
        # A GraphQL query of more repositories than this, with their commit counts, times out (502) as GitHub's do.
        self.graphql_timeout_above = graphql_timeout_above
        self.graphql_asked: list[tuple[tuple[str, ...], bool]] = []  # ("owner/name"s, with counts) of each query
        self.budgets = Budgets(
            token=token, rate_limit=rate_limit, graphql_rate_limit=graphql_rate_limit, reset_in=reset_in, tokens=tokens
        )
        self.canned = CannedAnswers()
        self.requests: list[Logged] = []
        self.in_flight = InFlight()  # requests being answered, over time: the benchmarks' slot utilisation
        self.last_headers: deque[dict[str, str]] = deque(maxlen=_HEADER_HISTORY)
        self._lock = threading.Lock()
        self._server = Server(("127.0.0.1", port), self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.graphql_url = f"{self.url}/graphql"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="standin", daemon=True
        )
        self._closed = False
        self._thread.start()

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # The credentials and the REST budget, as attributes: tests read and move them.
    @property
    def token(self) -> str | None:
        return self.budgets.token

    @token.setter
    def token(self, value: str | None) -> None:
        self.budgets.token = value

    @property
    def tokens(self) -> dict[str, tuple[Budget, Budget]]:
        return self.budgets.pool

    @property
    def rate_limit(self) -> int:
        return self.budgets.core.limit

    @rate_limit.setter
    def rate_limit(self, value: int) -> None:
        self.budgets.core.limit = value

    @property
    def reset_in(self) -> float:
        return self.budgets.core.reset_in

    @reset_in.setter
    def reset_in(self, value: float) -> None:
        self.budgets.core.reset_in = value

    @property
    def reset_at(self) -> int:
        return self.budgets.core.reset_at

    @reset_at.setter
    def reset_at(self, value: int) -> None:
        self.budgets.core.reset_at = value

    @property
    def graphql_reset_at(self) -> int:
        return self.budgets.graphql.reset_at

    @graphql_reset_at.setter
    def graphql_reset_at(self, value: int) -> None:
        self.budgets.graphql.reset_at = value

    @property
    def remaining(self) -> int:
        """REST points left in this window."""
        return self.budgets.left(self.budgets.core)

    @property
    def graphql_remaining(self) -> int:
        return self.budgets.left(self.budgets.graphql)

    def refill(self) -> None:
        """Start a new rate-limit window now, REST and GraphQL alike: as if the hour had passed."""
        self.budgets.refill()

    def token_remaining(self, token: str) -> tuple[int, int]:
        """A pool token's (REST, GraphQL) points left in this window."""
        return self.budgets.token_remaining(token)

    @property
    def points_charged(self) -> int:
        return self.budgets.points_charged

    @property
    def graphql_points(self) -> int:
        return self.budgets.graphql_points

    @property
    def graphql_queries(self) -> int:
        return self.budgets.graphql_queries

    @property
    def graphql_repositories(self) -> int:
        return self.budgets.graphql_repositories

    @property
    def points_total(self) -> int:
        """Every point spent: REST answers plus GraphQL query costs."""
        return self.budgets.points_total()

    def hosts_config(self, token_env: Mapping[str, str] | None = None) -> str:
        """The ``[hosts."..."]`` tables of a fetcher config for the world's forge hosts, at this stand-in's URLs."""
        return self.world.forges.hosts_config(self.url, token_env) if self.world.forges is not None else ""

    def fail_next(
        self,
        path_prefix: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` requests whose path (with query) starts with ``path_prefix`` this way.

        ``body`` is JSON-encoded unless it is bytes; None means GitHub's usual
        ``{"message": reason}`` (and no body for 204/304). GitHub REST requests
        answered this way are charged unless 304 (GraphQL ones are not);
        ``headers`` override the rate-limit headers, e.g. to simulate an
        exhausted budget.
        """
        self.canned.add(path_prefix, status, times, headers, body)

    def respond(self, method: str, target: str, request: Mapping[str, str], body: bytes = b"") -> Answer:
        """Answer one request, and log it; ``request`` holds the headers with lowercase names."""
        delay = self.variation.delay(method, target, body) if self.variation else self.latency
        if delay:
            time.sleep(delay)
            with self._lock:
                self.slept += delay
        split = urlsplit(target)
        parts = _segments(split.path)
        canned = self.canned.take(target)
        if parts[:1] == ["_forge"] and self.world.forges is not None:
            answer = canned or self.world.forges.answer(self.url, method, target, request)
            charged = False
        elif parts[:2] == ["api", "v4"] and self.world.directory is not None:
            answer = canned or self.world.directory.answer(self.url, method, target, request)
            charged = False
        elif parts[:1] == ["pypi"]:
            answer = canned or pypi.json_api_answer(self.world, self.url, parts, request)
            charged = False
        elif parts[:1] == ["simple"]:
            answer = canned or pypi.simple_answer(self.world, self.url, parts, request)
            charged = False
        elif method == "POST" and split.path.rstrip("/") == "/graphql":
            answer, charged = graphql.serve(
                self.world, self.budgets, canned, request, body, self.graphql_rate_limited_status,
                self.graphql_timeout_above, self.graphql_asked
            )
        elif method != "GET":
            answer, charged = canned or json_answer(404, github.NOT_FOUND), False
        else:
            answer, charged = github.serve(
                self.world, self.budgets, canned, self.url, parts, split.query, request, self.stats_delay
            )
        self.record(method, target, answer.status, charged, request)
        if self.variation is not None and answer.status == 200 and "json" in answer.headers.get("Content-Type", ""):
            # Whitespace after the JSON: the same values, a larger answer.
            answer = replace(answer, body=answer.body + b" " * self.variation.padding(target))
        return answer

    def record(self, method: str, target: str, status: int, charged: bool, request: Mapping[str, str]) -> None:
        """Log a request and its headers together, so ``last_headers`` lines up with the tail of ``requests``."""
        entry = Logged(method, target, status, charged, "authorization" in request)
        with self._lock:
            self.requests.append(entry)
            self.last_headers.append(dict(request))


def _segments(path: str) -> list[str]:
    return [unquote(part) for part in path.split("/")[1:]]
