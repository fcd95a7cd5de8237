"""A loopback stand-in for the GitHub REST and GraphQL APIs and the PyPI JSON API.

The fetcher's tests and benchmark need a real HTTP server that answers the
way GitHub and PyPI do -- redirects for renamed repositories, 202 while
statistics are computed, ETag revalidation, rate-limit headers, Link
pagination, batched GraphQL repository lookups with partial errors --
without touching the network. GitHub REST is served at the root of the
server, GraphQL at ``POST /graphql`` and PyPI under ``/pypi/``, so one
``StandIn.url`` serves as both REST base URLs and ``StandIn.graphql_url``
as the GraphQL endpoint.

GitLab, Forgejo (Gitea, Codeberg) and Bitbucket hosts are served under
``/_forge/{host}/`` when the world has ``forges`` (see ``fetcher.standin.forges``).

Run ``fetcher-standin --catalog FILE.json`` (or ``python -m fetcher.standin``)
to serve a world built from a catalog file, or ``--packages N`` for a
generated one, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fetcher.standin import facts as standin_facts
from fetcher.standin import github, pypi
from fetcher.standin.answers import BODILESS, JSON, Answer, encode, json_answer
from fetcher.standin.dates import parse_iso, utc_text
from fetcher.standin.faults import TRANSPORT, Fault, FaultPlan
from fetcher.standin.hostile import Hostile
from fetcher.standin.repo import Repo
from fetcher.standin.world import World

_HEADER_HISTORY = 1000


def _segments(path: str) -> list[str]:
    return [unquote(part) for part in path.split("/")[1:]]


# --- GraphQL -------------------------------------------------------------------

# The one query shape the stand-in understands: aliased repository(owner:, name:) lookups, variables for both.
_GRAPHQL_ALIAS = re.compile(r"(\w+)\s*:\s*repository\(\s*owner:\s*\$(\w+)\s*,\s*name:\s*\$(\w+)\s*\)")
_GRAPHQL_RATE_FIELD = re.compile(r"\brateLimit\s*\{")
GRAPHQL_BATCH = 100  # repositories per point of query cost
_GRAPHQL_DOCS = "https://docs.github.com/graphql"
_GRAPHQL_UNAUTHENTICATED = {
    "message": "This endpoint requires you to be authenticated.",
    "documentation_url": f"{_GRAPHQL_DOCS}/guides/forming-calls-with-graphql#authenticating-with-graphql",
}
_GRAPHQL_BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": _GRAPHQL_DOCS}
_GRAPHQL_BAD_JSON = {"message": "Problems parsing JSON", "documentation_url": _GRAPHQL_DOCS}
_GRAPHQL_RATE_LIMITED = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]}


@dataclass(frozen=True, slots=True)
class _Lookup:
    """One aliased ``repository(owner:, name:)`` field of a query, with where it stands in the query text."""

    alias: str
    owner: str
    name: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class _GraphQLQuery:
    lookups: list[_Lookup]
    wants_rate_limit: bool

    @property
    def cost(self) -> int:
        """GitHub's cost: a point per hundred nodes asked for, at least one per query."""
        return max(1, math.ceil(len(self.lookups) / GRAPHQL_BATCH))


def _graphql_errors(*errors: dict[str, Any]) -> Answer:
    """A query GitHub refuses before running it: 200 with errors and no data."""
    return json_answer(200, {"errors": list(errors)})


def _position(text: str, offset: int) -> dict[str, int]:
    line = text.count("\n", 0, offset) + 1
    return {"line": line, "column": offset - (text.rfind("\n", 0, offset) + 1) + 1}


def _graphql_query(body: bytes) -> _GraphQLQuery | Answer:
    """The lookups a request asks for, or GitHub's answer to a request it cannot run."""
    try:
        payload = json.loads(body)
    except ValueError:  # UnicodeDecodeError included
        return json_answer(400, _GRAPHQL_BAD_JSON)
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return _graphql_errors({"message": "A query attribute must be specified and must be a string."})
    text = payload["query"]
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        return _graphql_errors({"message": "Variables are invalid JSON."})
    if "{" not in text or text.count("{") != text.count("}"):
        return _graphql_errors({"message": "Parse error on end of query", "locations": [_position(text, len(text))]})
    lookups = []
    for match in _GRAPHQL_ALIAS.finditer(text):
        values = []
        for variable in (match[2], match[3]):
            value = variables.get(variable)
            if not isinstance(value, str):
                declared = text.find(f"${variable}:")
                return _graphql_errors(
                    {
                        "extensions": {
                            "value": value,
                            "problems": [{"path": [], "explanation": "Expected value to not be null"}],
                        },
                        "locations": [_position(text, declared if declared >= 0 else match.start())],
                        "message": f"Variable ${variable} of type String! was provided invalid value",
                    }
                )
            values.append(value)
        where = _position(text, match.start())
        lookups.append(_Lookup(match[1], values[0], values[1], where["line"], where["column"]))
    return _GraphQLQuery(lookups, bool(_GRAPHQL_RATE_FIELD.search(text)))


def _graphql_repository(repo: Repo) -> dict[str, Any]:
    """The fields of fetcher's ``Fields`` fragment; a renamed repository answers under its new name."""
    branch = None
    if repo.newest_commit_date is not None:
        committed = utc_text(parse_iso(repo.newest_commit_date))
        branch = {"target": {"committedDate": committed, "history": {"totalCount": repo.commit_count}}}
    return {
        "nameWithOwner": repo.full_name,
        "url": f"https://github.com/{repo.full_name}",
        "description": repo.description,
        "forkCount": repo.forks,
        "stargazerCount": repo.stars,
        "pushedAt": utc_text(parse_iso(repo.pushed_at)),
        "isArchived": repo.archived,
        "archivedAt": standin_facts.archived_at(repo),
        "defaultBranchRef": branch,
    }


def _graphql_data(world: World, lookups: list[_Lookup]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each alias's repository, or null and an error saying why, as GitHub answers a partial success."""
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for lookup in lookups:
        full_name = f"{lookup.owner}/{lookup.name}"
        where = {"path": [lookup.alias], "locations": [{"line": lookup.line, "column": lookup.column}]}
        data[lookup.alias] = None
        if full_name.lower() in world.blocked:
            errors.append({"type": "FORBIDDEN", **where, "message": "Repository access blocked"})
            continue
        try:
            repo = world.repo(full_name)
        except KeyError:
            message = f"Could not resolve to a Repository with the name '{full_name}'."
            errors.append({"type": "NOT_FOUND", **where, "message": message})
            continue
        data[lookup.alias] = _graphql_repository(repo)
    return data, errors


# --- the server ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Logged:
    """One request as the stand-in answered it; ``authorized`` means an Authorization header was sent."""

    method: str
    path: str
    status: int
    charged: bool
    authorized: bool


@dataclass
class _Canned:
    prefix: str
    status: int
    times: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _Budget:
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


class StandIn:
    """The GitHub REST, GitHub GraphQL and PyPI JSON stand-in, serving ``world`` on 127.0.0.1 from a thread.

    It starts on construction and stops on ``close()`` (or leaving a ``with``
    block). GitHub REST requests cost one point of ``rate_limit`` per window
    of ``reset_in`` seconds unless answered 304, like GitHub's primary limit;
    the budget refills when the window ends. ``POST /graphql`` has a budget
    of its own (``graphql_rate_limit``, resource "graphql"), charged by query
    cost: a point per 100 repositories, at least one per query. Cold weekly
    statistics are computed ``stats_delay`` seconds after they are first asked
    for (see ``Repo``).

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
        faults: FaultPlan | None = None,
        hostile: Hostile | None = None,
        tokens: Mapping[str, int] | None = None,
    ) -> None:
        self.world = world
        self.faults = faults
        self.hostile = hostile  # hostile.py: chosen resources answer what no honest server would
        self.latency = latency
        self.token = token
        self.stats_delay = stats_delay
        self.graphql_rate_limited_status = graphql_rate_limited_status
        self.points_charged = 0
        self.graphql_points = 0
        self.graphql_queries = 0
        self.graphql_repositories = 0
        self.requests: list[Logged] = []
        self.last_headers: deque[dict[str, str]] = deque(maxlen=_HEADER_HISTORY)
        self._core = _Budget("core", rate_limit, reset_in)
        self._graphql = _Budget("graphql", graphql_rate_limit, reset_in)
        # A pool: token -> its REST and GraphQL budgets of that many points each; only these tokens are let in.
        self.tokens = {
            token: (_Budget("core", points, reset_in), _Budget("graphql", points, reset_in))
            for token, points in (tokens or {}).items()
        }
        self._canned: list[_Canned] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self)
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

    # The REST budget, as attributes: tests read and move them.
    @property
    def rate_limit(self) -> int:
        return self._core.limit

    @rate_limit.setter
    def rate_limit(self, value: int) -> None:
        self._core.limit = value

    @property
    def reset_in(self) -> float:
        return self._core.reset_in

    @reset_in.setter
    def reset_in(self, value: float) -> None:
        self._core.reset_in = value

    @property
    def reset_at(self) -> int:
        return self._core.reset_at

    @reset_at.setter
    def reset_at(self, value: int) -> None:
        self._core.reset_at = value

    @property
    def graphql_reset_at(self) -> int:
        return self._graphql.reset_at

    @graphql_reset_at.setter
    def graphql_reset_at(self, value: int) -> None:
        self._graphql.reset_at = value

    @property
    def remaining(self) -> int:
        """REST points left in this window."""
        with self._lock:
            self._core.roll()
            return self._core.remaining

    @property
    def graphql_remaining(self) -> int:
        with self._lock:
            self._graphql.roll()
            return self._graphql.remaining

    def refill(self) -> None:
        """Start a new rate-limit window now, REST and GraphQL alike: as if the hour had passed."""
        with self._lock:
            for budget in (self._core, self._graphql, *(b for pair in self.tokens.values() for b in pair)):
                budget.roll(now=True)

    def token_remaining(self, token: str) -> tuple[int, int]:
        """A pool token's (REST, GraphQL) points left in this window."""
        with self._lock:
            core, graphql = self.tokens[token]
            core.roll()
            graphql.roll()
            return core.remaining, graphql.remaining

    def _budgets(self, header: str | None) -> tuple[_Budget, _Budget]:
        """The (REST, GraphQL) budgets a request is charged to: its token's in a pool, else the one pair."""
        credential = (header or "").partition(" ")[2]
        return self.tokens.get(credential, (self._core, self._graphql))

    @property
    def points_total(self) -> int:
        """Every point spent: REST answers plus GraphQL query costs."""
        with self._lock:
            return self.points_charged + self.graphql_points

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
        if status in BODILESS:
            encoded, content = b"", {}
        elif isinstance(body, bytes):
            encoded, content = body, {"Content-Type": JSON}
        else:
            payload = body if body is not None else {"message": _reason(status)}
            encoded, content = encode(payload), {"Content-Type": JSON}
        canned = _Canned(path_prefix, status, times, {**content, **(headers or {})}, encoded)
        with self._lock:
            self._canned.append(canned)

    def _respond(self, method: str, target: str, request: Mapping[str, str], body: bytes = b"") -> Answer:
        """Answer one request; ``request`` holds the headers with lowercase names."""
        if self.latency:
            time.sleep(self.latency)
        split = urlsplit(target)
        parts = _segments(split.path)
        canned = self._take_canned(target)
        if parts[:1] == ["_forge"] and self.world.forges is not None:
            answer = canned or self.world.forges.answer(self.url, method, target, request)
            charged = False
        elif parts[:1] == ["pypi"]:
            answer = canned or pypi.json_api_answer(self.world, self.url, parts, request)
            charged = False
        elif parts[:1] == ["simple"]:
            answer = canned or pypi.simple_answer(self.world, self.url, parts, request)
            charged = False
        elif method == "POST" and split.path.rstrip("/") == "/graphql":
            answer, charged = self._graphql_answer(canned, request, body)
        elif method != "GET":
            answer, charged = canned or json_answer(404, github.NOT_FOUND), False
        else:
            answer, charged = self._github(canned, parts, split.query, request)
        self._log(Logged(method, target, answer.status, charged, "authorization" in request), request)
        return answer

    def _github(
        self, canned: Answer | None, parts: list[str], raw_query: str, request: Mapping[str, str]
    ) -> tuple[Answer, bool]:
        """Canned answers first, then credentials, then the budget, then the API itself."""
        if canned is not None:
            answer, charged = canned, canned.status != 304
        elif not self._authorized(request.get("authorization")):
            answer, charged = json_answer(401, github.BAD_CREDENTIALS), True
        elif parts == ["rate_limit"]:
            # free, as on GitHub, even when spent
            answer, charged = self._rate_limit_status(request.get("authorization")), False
        elif self._exhausted(request.get("authorization")):
            answer, charged = json_answer(403, github.RATE_LIMITED), False
        else:
            answer = github.route(self.world, self.url, parts, raw_query, request, self.stats_delay)
            charged = answer.status != 304
        answer.headers = {**self._charge(charged, request.get("authorization")), **answer.headers}
        return answer, charged

    def _graphql_answer(
        self, canned: Answer | None, request: Mapping[str, str], body: bytes
    ) -> tuple[Answer, bool]:
        """GraphQL always wants credentials; a query that runs costs its points, else nothing is charged."""
        header = request.get("authorization")
        if canned is not None:
            answer = canned
        elif header is None:
            answer = json_answer(401, _GRAPHQL_UNAUTHENTICATED)
        elif (self.token is not None or self.tokens) and not self._authorized(header):
            answer = json_answer(401, _GRAPHQL_BAD_CREDENTIALS)
        else:
            query = _graphql_query(body)
            if isinstance(query, Answer):
                answer = query
            else:
                return self._run_graphql(query, header)
        with self._lock:
            graphql = self._budgets(header)[1]
            graphql.roll()
            limits = graphql.headers()
        answer.headers = {**limits, **answer.headers}
        return answer, False

    def _run_graphql(self, query: _GraphQLQuery, header: str | None = None) -> tuple[Answer, bool]:
        cost = query.cost
        with self._lock:
            budget = self._budgets(header)[1]
            budget.roll()
            admitted = budget.used + cost <= budget.limit
            if admitted:
                budget.used += cost
                self.graphql_points += cost
                self.graphql_queries += 1
                self.graphql_repositories += len(query.lookups)
            limits = budget.headers()
            remaining, reset_at = budget.remaining, budget.reset_at
        if not admitted:
            return json_answer(self.graphql_rate_limited_status, _GRAPHQL_RATE_LIMITED, limits), False
        data, errors = _graphql_data(self.world, query.lookups)
        if query.wants_rate_limit:
            reset = utc_text(datetime.fromtimestamp(reset_at, timezone.utc))
            data = {"rateLimit": {"cost": cost, "remaining": remaining, "resetAt": reset}, **data}
        payload: dict[str, Any] = {"data": data}
        if errors:
            payload["errors"] = errors
        return json_answer(200, payload, limits), True

    def _rate_limit_status(self, header: str | None = None) -> Answer:
        """GET /rate_limit: every budget's limit, remaining, reset and used, under "resources"; "rate" is core."""
        with self._lock:
            budgets = {}
            for budget in self._budgets(header):
                budget.roll()
                budgets[budget.resource] = {
                    "limit": budget.limit, "remaining": budget.remaining, "reset": budget.reset_at, "used": budget.used,
                }  # fmt: skip
        return json_answer(200, {"resources": budgets, "rate": budgets["core"]})

    def _authorized(self, header: str | None) -> bool:
        """Without a token anything goes; with one, GitHub's "Bearer" and "token" schemes both work."""
        if self.token is None and not self.tokens:
            return True
        scheme, _, credential = (header or "").partition(" ")
        return scheme.lower() in ("bearer", "token") and (credential == self.token or credential in self.tokens)

    def _take_canned(self, target: str) -> Answer | None:
        with self._lock:
            for canned in self._canned:
                if target.startswith(canned.prefix):
                    canned.times -= 1
                    if canned.times <= 0:
                        self._canned.remove(canned)
                    return Answer(canned.status, canned.body, dict(canned.headers))
        return None

    def _exhausted(self, header: str | None = None) -> bool:
        with self._lock:
            core = self._budgets(header)[0]
            core.roll()
            return core.used >= core.limit

    def _charge(self, charged: bool, header: str | None = None) -> dict[str, str]:
        """Spend a REST point if the answer costs one, and return the rate-limit headers that follow."""
        with self._lock:
            core = self._budgets(header)[0]
            core.roll()
            if charged:
                core.used += 1
                self.points_charged += 1
            return core.headers()

    def _log(self, entry: Logged, request: Mapping[str, str]) -> None:
        """Log entry and headers together, so ``last_headers`` lines up with the tail of ``requests``."""
        with self._lock:
            self.requests.append(entry)
            self.last_headers.append(dict(request))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 drops SYNs into 1 s retries.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], standin: StandIn) -> None:
        self.standin = standin
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: tuple[str, int]) -> None:
        """A client that hangs up (a run stopped early, a timeout) is its business, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: every answer is framed by Content-Length, except the bodiless 204 and 304."""

    protocol_version = "HTTP/1.1"
    server_version = "standin"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add ~40 ms per answer.
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        # A GET body is meaningless here, but left unread it would corrupt the next keep-alive request.
        self._answer(self._read_body())

    def do_POST(self) -> None:
        self._answer(self._read_body())

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, body: bytes) -> None:
        request = {name.lower(): value for name, value in self.headers.items()}
        standin = self.server.standin
        if standin.hostile is not None and standin.hostile.answer(self, request):
            return
        fault = standin.faults.draw(self.command, self.path) if standin.faults else None
        if fault is not None and fault.kind in TRANSPORT:
            self._act_out(fault, standin)
            return
        if fault is not None:
            answer = Answer(fault.status, fault.body, fault.headers)
            standin._log(Logged(self.command, self.path, fault.status, False, "authorization" in request), request)
        else:
            answer = standin._respond(self.command, self.path, request, body)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.status not in BODILESS:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.status not in BODILESS:
            self.wfile.write(answer.body)

    def _act_out(self, fault: Fault, standin: StandIn) -> None:
        """Faults that live on the connection rather than in an answer."""
        self.close_connection = True
        if fault.kind == "stall":
            time.sleep(standin.faults.stall_seconds)
            return
        if fault.kind == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"id": 1, "name": "half')
            self.wfile.flush()
        # reset, and the end of truncated: drop the connection.
        self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log: tests and benchmarks read ``StandIn.requests`` instead."""


# --- command line --------------------------------------------------------------


def _load_records(path: Path) -> list[dict[str, Any]]:
    """Accept a list of records, one record, or an API page {"results": [...]}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("results", [data])
    return list(data)


def config_for(url: str, store: str = "packages.db") -> str:
    """A fetcher config.toml that points every host at the stand-in at ``url``."""
    return (
        f"# fetcher against the stand-in at {url}\n"
        f'[store]\npath = "{store}"\n\n'
        f'[github]\napi_url = "{url}"\ngraphql_url = "{url}/graphql"\n'
        "pace = false                    # the stand-in has no secondary rate limits\n\n"
        f'[pypi]\nurl = "{url}"\n'
    )


def _fetcher_reads(config: str) -> bool:
    """Whether the installed fetcher accepts this config (one that predates forge hosts refuses [hosts] tables)."""
    from fetcher.config import load
    from fetcher.errors import ConfigError

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text(config, encoding="utf-8")
        try:
            load(str(path))
        except ConfigError:
            return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="fetcher-standin",
        description="Serve a stand-in GitHub and PyPI API on 127.0.0.1 for a catalogue, or for N generated packages. "
        "Prints a fetcher config.toml that points at it on stdout.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--catalog", type=Path, help="JSON file of package records to serve")
    source.add_argument("--packages", type=int, metavar="N", help="generate N packages (write them with --catalog-out)")
    parser.add_argument("--catalog-out", type=Path, metavar="PATH", help="with --packages: write their catalogue here")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept before each answer")
    parser.add_argument("--rate-limit", type=int, default=5000, help="points an hour, REST and GraphQL each")
    parser.add_argument("--stats-delay", type=float, default=1.0, help="seconds cold statistics answer 202")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--token", help="require this token in Authorization")
    args = parser.parse_args(argv)
    from fetcher.standin.forges.world import add_catalog  # it builds on this module: imported once this one is loaded

    if args.packages is not None:
        if args.packages < 1:
            parser.error("--packages must be at least 1")
        world, records = World.generate(args.packages, seed=args.seed)
        if args.catalog_out:
            args.catalog_out.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        forge_repos = 0
    else:
        records = _load_records(args.catalog)
        world = World.from_catalog(records, seed=args.seed)
        forge_repos = len(add_catalog(world, records, seed=args.seed).repos)
    with StandIn(world, args.latency, token=args.token, port=args.port, rate_limit=args.rate_limit,
                 graphql_rate_limit=args.rate_limit, stats_delay=args.stats_delay) as standin:  # fmt: skip
        config, hosts = config_for(standin.url), standin.hosts_config()
        if hosts and _fetcher_reads(config + "\n" + hosts):
            config += "\n" + hosts
        elif hosts:
            print("fetcher-standin: this fetcher reads no [hosts] tables: the forge hosts are left out of the config",
                  file=sys.stderr)  # fmt: skip
        print(config, flush=True)
        counts = f"{len(world.repos)} repositories, {forge_repos} on other forges, {len(world.pypi)} on PyPI"
        print(f"fetcher-standin: serving {standin.url} ({counts}); Ctrl-C stops", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
