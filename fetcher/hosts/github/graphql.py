"""Batched repository metadata through GitHub's GraphQL API: build the query, read the answer.

One query carries up to BATCH_SIZE repositories by alias and costs GitHub's
minimum of one point, where REST would charge one per repository. Pure
functions: `host.py` sends the query.
"""

from datetime import datetime

from fetcher.errors import BadResponse, NotFound, QueryTimedOut, RateLimited, Transient
from fetcher.hosts.github.answers import graphql_repo_facts
from fetcher.hosts.github.rules import says_limited, says_timed_out
from fetcher.links import RepoRef
from fetcher.net.answer import DEFAULT_LIMIT_WAIT, Answer, digits, reset_time, retry_after_time
from fetcher.record import parse_datetime

BATCH_SIZE = 100
MAX_QUERY_COST = 5000

# history(first: 1) asks for no commit, only the count; `first` because GitHub wants it on every
# connection. It keeps the query at one point per batch (docs/facts.md, "What they cost"); it is also what
# makes a query of many large repositories slow, so a batch that times out may be asked without it.
_COUNT = " history(first: 1) { totalCount }"
_FRAGMENT = """fragment Fields on Repository {
  nameWithOwner url description forkCount stargazerCount pushedAt isArchived archivedAt
  defaultBranchRef { target { ... on Commit { committedDate%s } } }
}"""


def build_query(refs: list[RepoRef], with_counts: bool = True) -> dict:
    """The request body for one batch: aliases r0…rN, owners and names as variables; `with_counts`: each default
    branch's commit count too."""
    params = ", ".join(f"$o{i}: String!, $n{i}: String!" for i in range(len(refs)))
    aliases = "\n".join(
        f"  r{i}: repository(owner: $o{i}, name: $n{i}) {{ ...Fields }}" for i in range(len(refs))
    )
    fragment = _FRAGMENT % (_COUNT if with_counts else "")
    query = f"query Repos({params}) {{\n  rateLimit {{ cost remaining resetAt }}\n{aliases}\n}}\n{fragment}"
    variables = {}
    for i, ref in enumerate(refs):
        variables[f"o{i}"] = ref.owner
        variables[f"n{i}"] = ref.name
    return {"query": query, "variables": variables}


def query_cost(answer: Answer) -> int:
    """The points GitHub says the query cost (1 when it does not say, or says what no query costs)."""
    data = answer.data.get("data") if isinstance(answer.data, dict) else None
    limits = data.get("rateLimit") if isinstance(data, dict) else None
    cost = limits.get("cost") if isinstance(limits, dict) else None
    # No query costs more than an hour's budget (5,000 points); a larger figure would only inflate the counts.
    return cost if isinstance(cost, int) and not isinstance(cost, bool) and 0 <= cost <= MAX_QUERY_COST else 1


def parse_batch(answer: Answer, refs: list[RepoRef], now: datetime) -> list[dict | Exception]:
    """One result per ref, in order: its metadata, or the failure that belongs to that repository alone.

    A failure of the whole query (rate limited, server trouble) is raised instead.
    """
    body = answer.data if isinstance(answer.data, dict) else {}
    data = body.get("data")
    errors = body.get("errors") or []
    if not isinstance(errors, list):
        errors = [errors]
    by_alias: dict[str, dict] = {}
    for error in errors:
        path = error.get("path") if isinstance(error, dict) else None
        if isinstance(path, list) and path:
            by_alias.setdefault(str(path[0]), error)
        else:
            raise _query_failure(answer, error, now)
    if not isinstance(data, dict):
        raise Transient(answer.url, "GraphQL answer has no data")
    results: list[dict | Exception] = []
    for i, ref in enumerate(refs):
        node = data.get(f"r{i}")
        error = by_alias.get(f"r{i}")
        if node is None:
            results.append(_alias_failure(ref, error, answer.url))
            continue
        try:
            results.append(repo_meta(node))
        except (AttributeError, KeyError, TypeError, ValueError):
            results.append(BadResponse(answer.url, f"GraphQL answer for {ref.full_name} lacks expected fields"))
    return results


def repo_meta(node: dict) -> dict:
    """A GraphQL repository node -> the repo piece (and the newest commit's date)."""
    branch = node.get("defaultBranchRef") or {}
    committed = (branch.get("target") or {}).get("committedDate")
    forks, stars, description = node["forkCount"], node["stargazerCount"], node.get("description")
    counts_ok = all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (forks, stars))
    strings_ok = isinstance(node["url"], str) and isinstance(node["nameWithOwner"], str)
    optional_ok = all(v is None or isinstance(v, str) for v in (description, node.get("pushedAt"), committed))
    if not (counts_ok and strings_ok and optional_ok):
        raise ValueError("counts, names, url, description or dates of the wrong type")
    return {
        "full_name": node["nameWithOwner"],
        "html_url": node["url"],
        "forks": forks,
        "stars": stars,
        "description": description,
        "pushed_at": node.get("pushedAt"),
        "last_updated": parse_datetime(committed).isoformat() if committed else None,
        **graphql_repo_facts(node),  # archived, archived_at, commit_count
    }


def _alias_failure(ref: RepoRef, error: dict | None, url: str) -> Exception:
    kind = (error or {}).get("type")
    if kind == "NOT_FOUND" or error is None:
        return NotFound(f"{url} ({ref.full_name})", 404)
    if kind == "FORBIDDEN" and "block" in str(error.get("message", "")).lower():
        return NotFound(f"{url} ({ref.full_name})", 451)
    return BadResponse(url, f"GraphQL error for {ref.full_name}: {str(error.get('message', kind))[:200]}")


def _query_failure(answer: Answer, error, now: datetime) -> Exception:
    kind = error.get("type") if isinstance(error, dict) else None
    message = str(error.get("message", "") if isinstance(error, dict) else error)
    # A secondary limit says how long in Retry-After, whatever the status and the words it came with.
    retry_after = answer.headers.get("retry-after")
    if retry_after is not None:
        return RateLimited(answer.url, retry_after_time(answer.url, retry_after, now), secondary=True, ends_run=True)
    if says_timed_out(message):
        return QueryTimedOut(answer.url, f"GraphQL query timed out: {message[:200]}")
    if kind == "RATE_LIMITED" or says_limited(message):
        limit_reset = answer.headers.get("x-ratelimit-reset", "")
        reset_at = reset_time(limit_reset, now) if digits(limit_reset) else now + DEFAULT_LIMIT_WAIT
        if reset_at is None:
            return BadResponse(answer.url, f"implausible X-RateLimit-Reset {limit_reset[:30]!r}")
        return RateLimited(answer.url, reset_at, secondary=False, ends_run=True)
    return Transient(answer.url, f"GraphQL error: {str(message or kind)[:200]}")
