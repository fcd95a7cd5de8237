"""GitHub's REST API as the stand-in serves it: a repository, its contributors, weekly statistics and commits.

Renamed repositories answer 301 to ``/repositories/{id}``, blocked ones 451,
lists are paged with GitHub's Link header, 200s carry validators and turn into
304s (see ``answers.revalidate``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fetcher.standin.answers import Answer, Query, json_answer, revalidate, whole_number
from fetcher.standin.budgets import Budgets
from fetcher.standin.dates import http_date, parse_iso
from fetcher.standin.github_bodies import commits, contributor, repo_body
from fetcher.standin.repo import WEEKS, Repo
from fetcher.standin.world import World

_PER_PAGE_DEFAULT = 30
_PER_PAGE_MAX = 100

_DOCS = "https://docs.github.com/rest"
_DOC_URLS = {
    "": "https://docs.github.com/rest/repos/repos#get-a-repository",
    "contributors": "https://docs.github.com/rest/repos/repos#list-repository-contributors",
    "stats/participation": "https://docs.github.com/rest/metrics/statistics#get-the-weekly-commit-count",
    "commits": "https://docs.github.com/rest/commits/commits#list-commits",
}
_MOVED_DOCS = "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects"
BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": _DOCS}
RATE_LIMITED = {
    "message": "API rate limit exceeded for user ID 1.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}
_BLOCKED = {
    "message": "Repository access blocked",
    "block": {
        "reason": "dmca",
        "created_at": "2020-10-23T14:08:01Z",
        "html_url": "https://github.com/github/dmca/blob/master/2020/10/2020-10-23-RIAA.md",
    },
}
NOT_FOUND = {"message": "Not Found", "documentation_url": _DOCS}


def _link_header(url: str, query: Query, page: int, last: int) -> str:
    """GitHub's Link header: prev, next, last, first; the client's other parameters kept, page last."""
    kept = [(name, value) for name, value in query if name != "page"]

    def link(number: int, rel: str) -> str:
        return f'<{url}?{urlencode([*kept, ("page", str(number))])}>; rel="{rel}"'

    links = []
    if page > 1:
        links.append(link(page - 1, "prev"))
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links.append(link(1, "first"))
    return ", ".join(links)


def _paged(
    repo: Repo,
    base: str,
    query: Query,
    endpoint: str,
    total: int,
    build: Callable[[int, int], list[dict[str, Any]]],
) -> Answer:
    """One page of a list; Link URLs use /repositories/{id} as GitHub's do."""
    params = dict(query)
    per_page = min(whole_number(params.get("per_page"), _PER_PAGE_DEFAULT), _PER_PAGE_MAX)
    page = whole_number(params.get("page"), 1)
    last = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    items = build(start, min(start + per_page, total))
    link = _link_header(f"{base}/repositories/{repo.id}/{endpoint}", query, page, last)
    return json_answer(200, items, {"Link": link} if link else None)


def _get_repo(world: World, repo: Repo, base: str, query: Query, stats_delay: float) -> Answer:
    return json_answer(200, repo_body(repo, base))


def _list_contributors(world: World, repo: Repo, base: str, query: Query, stats_delay: float) -> Answer:
    if repo.empty:
        return Answer(204)
    logins, counts = world.contributors(repo)
    return _paged(
        repo,
        base,
        query,
        "contributors",
        len(logins),
        lambda start, stop: [contributor(logins[i], counts[i], base) for i in range(start, stop)],
    )


def _participation(world: World, repo: Repo, base: str, query: Query, stats_delay: float) -> Answer:
    if repo.empty:
        return Answer(204)
    if not world.stats_ready(repo, stats_delay):
        return json_answer(202, {})
    counts = list(repo.participation)
    owner = [0] * WEEKS if repo.owner_type == "Organization" else [count // 2 for count in counts]
    return json_answer(200, {"all": counts, "owner": owner})


def _list_commits(world: World, repo: Repo, base: str, query: Query, stats_delay: float) -> Answer:
    if repo.newest_commit_date is None:
        body = {"message": "Git Repository is empty.", "documentation_url": _DOC_URLS["commits"]}
        return json_answer(409, body)
    newest = parse_iso(repo.newest_commit_date)
    return _paged(
        repo,
        base,
        query,
        "commits",
        repo.commit_count,
        lambda start, stop: commits(repo, newest, start, stop, base),
    )


# (world, repository, base URL, query, stats delay) -> answer
_ENDPOINTS: dict[str, Callable[[World, Repo, str, Query, float], Answer]] = {
    "": _get_repo,
    "contributors": _list_contributors,
    "stats/participation": _participation,
    "commits": _list_commits,
}

def _moved(base: str, repo_id: int, rest: list[str], raw_query: str) -> Answer:
    """GitHub's answer for a renamed repository: the same request under /repositories/{id}."""
    location = f"{base}/repositories/{repo_id}" + "".join(f"/{part}" for part in rest)
    if raw_query:
        location += f"?{raw_query}"
    body = {"message": "Moved Permanently", "url": location, "documentation_url": _MOVED_DOCS}
    return json_answer(301, body, {"Location": location})


def route(
    world: World, base: str, parts: list[str], raw_query: str, request: Mapping[str, str], stats_delay: float
) -> Answer:
    """The REST API itself, for a path's ``parts``: ``/repos/{owner}/{name}/...`` or ``/repositories/{id}/...``."""
    if len(parts) >= 3 and parts[0] == "repos":
        key, rest = f"{parts[1]}/{parts[2]}".lower(), parts[3:]
        repo = world.repos.get(key)
    elif len(parts) >= 2 and parts[0] == "repositories" and parts[1].isdigit():
        repo, rest = world.repo_by_id(int(parts[1])), parts[2:]
        key = repo.key if repo else ""
    else:
        return json_answer(404, NOT_FOUND)
    endpoint = "/".join(rest)
    serve = _ENDPOINTS.get(endpoint)
    if serve is None:
        return json_answer(404, NOT_FOUND)
    if key in world.blocked:
        return json_answer(451, _BLOCKED)
    if repo is None:
        moved = world.renames.get(key)
        if moved is not None:
            return _moved(base, moved, rest, raw_query)
        return json_answer(404, {"message": "Not Found", "documentation_url": _DOC_URLS[endpoint]})
    answer = serve(world, repo, base, parse_qsl(raw_query, keep_blank_values=True), stats_delay)
    return revalidate(answer, http_date(parse_iso(repo.pushed_at)), request)


def serve(
    world: World,
    budgets: Budgets,
    canned: Answer | None,
    base: str,
    parts: list[str],
    raw_query: str,
    request: Mapping[str, str],
    stats_delay: float,
) -> tuple[Answer, bool]:
    """A GitHub REST GET: (the answer, whether it cost a point).

    Canned answers first, then credentials, then the budget, then the API itself.
    """
    header = request.get("authorization")
    if canned is not None:
        answer, charged = canned, canned.status != 304
    elif not budgets.authorized(header):
        answer, charged = json_answer(401, BAD_CREDENTIALS), True
    elif parts == ["rate_limit"]:
        # free, as on GitHub, even when spent
        answer, charged = json_answer(200, budgets.status(header)), False
    elif budgets.exhausted(header):
        answer, charged = json_answer(403, RATE_LIMITED), False
    else:
        answer = route(world, base, parts, raw_query, request, stats_delay)
        charged = answer.status != 304
    answer.headers = {**budgets.charge(charged, header), **answer.headers}
    return answer, charged
