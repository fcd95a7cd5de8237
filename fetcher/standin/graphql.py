"""GitHub's GraphQL API as the stand-in serves it: batched repository lookups, charged by query cost.

The one query shape understood is aliased ``repository(owner: $o, name: $n)``
fields with variables for both (and an optional ``rateLimit``); a renamed
repository answers under its new name, a missing or blocked one null with an
error beside the others, as GitHub answers a partial success.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from fetcher.standin.answers import Answer, json_answer
from fetcher.standin.budgets import Budgets
from fetcher.standin.dates import parse_iso, utc_text
from fetcher.standin.facts import archived_at
from fetcher.standin.repo import Repo
from fetcher.standin.world import World

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
    wants_counts: bool = True  # each default branch's history { totalCount }: what makes a big query slow

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
    return _GraphQLQuery(lookups, bool(_GRAPHQL_RATE_FIELD.search(text)), "totalCount" in text)


def _graphql_repository(repo: Repo, with_counts: bool) -> dict[str, Any]:
    """The fields of fetcher's ``Fields`` fragment (the commit count only when asked for); a renamed repository
    answers under its new name."""
    branch = None
    if repo.newest_commit_date is not None:
        branch = {"target": {"committedDate": utc_text(parse_iso(repo.newest_commit_date))}}
        if with_counts:
            branch["target"]["history"] = {"totalCount": repo.commit_count}
    return {
        "nameWithOwner": repo.full_name,
        "url": f"https://github.com/{repo.full_name}",
        "description": repo.description,
        "forkCount": repo.forks,
        "stargazerCount": repo.stars,
        "pushedAt": utc_text(parse_iso(repo.pushed_at)),
        "isArchived": repo.archived,
        "archivedAt": archived_at(repo),
        "defaultBranchRef": branch,
    }


def _graphql_data(world: World, query: _GraphQLQuery) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each alias's repository, or null and an error saying why, as GitHub answers a partial success."""
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for lookup in query.lookups:
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
        data[lookup.alias] = _graphql_repository(repo, query.wants_counts)
    return data, errors


# What GitHub answers when it stops a query that ran past its 10 seconds.
_GRAPHQL_TIMED_OUT = {"data": None, "errors": [{"message": "Something went wrong while executing your query. This may "
                                                 "be the result of a timeout, or it could be a GitHub bug."}]}


def serve(
    world: World, budgets: Budgets, canned: Answer | None, request: Mapping[str, str], body: bytes, limited_status: int,
    timeout_above: int | None = None, asked: list[tuple[tuple[str, ...], bool]] | None = None,
) -> tuple[Answer, bool]:
    """``POST /graphql``: (the answer, whether a query ran). GraphQL always wants credentials; a query that runs
    costs its points, else nothing is charged. A query past the budget is answered ``limited_status``.

    ``timeout_above``: a query of more repositories than this, asking their commit counts, takes longer than
    GitHub's 10 seconds: answered 502 as GitHub stops it, and charged all the same. ``asked`` records each query
    that ran or timed out as (its "owner/name"s, with counts)."""
    header = request.get("authorization")
    if canned is not None:
        answer = canned
    elif header is None:
        answer = json_answer(401, _GRAPHQL_UNAUTHENTICATED)
    elif budgets.demands_token() and not budgets.authorized(header):
        answer = json_answer(401, _GRAPHQL_BAD_CREDENTIALS)
    else:
        query = _graphql_query(body)
        if isinstance(query, Answer):
            answer = query
        else:
            if asked is not None:
                asked.append((tuple(f"{l.owner}/{l.name}" for l in query.lookups), query.wants_counts))
            if timeout_above is not None and query.wants_counts and len(query.lookups) > timeout_above:
                spent = budgets.spend_graphql(header, query.cost, len(query.lookups))
                return json_answer(502, _GRAPHQL_TIMED_OUT, spent.headers), True
            return _run(world, budgets, query, header, limited_status)
    answer.headers = {**budgets.graphql_headers(header), **answer.headers}
    return answer, False


def _run(
    world: World, budgets: Budgets, query: _GraphQLQuery, header: str | None, limited_status: int
) -> tuple[Answer, bool]:
    cost = query.cost
    spent = budgets.spend_graphql(header, cost, len(query.lookups))
    if not spent.admitted:
        return json_answer(limited_status, _GRAPHQL_RATE_LIMITED, spent.headers), False
    data, errors = _graphql_data(world, query)
    if query.wants_rate_limit:
        reset = utc_text(datetime.fromtimestamp(spent.reset_at, timezone.utc))
        data = {"rateLimit": {"cost": cost, "remaining": spent.remaining, "resetAt": reset}, **data}
    payload: dict[str, Any] = {"data": data}
    if errors:
        payload["errors"] = errors
    return json_answer(200, payload, spent.headers), True
