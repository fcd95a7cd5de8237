"""GitLab REST API v4 as the stand-in serves it: a project, its commits and its contributors.

Shapes, parameters and headers follow docs.gitlab.com/api (projects, commits,
repositories, rest#pagination, rate limits) and the answers recorded from
gitlab.com (bodies and headers in ``gitlab_bodies``): offset pagination with
``X-Page``/``X-Per-Page``/``X-Next-Page``/``X-Prev-Page`` and a ``Link``
header; the commits list sends no ``X-Total`` (GitLab leaves it out for
performance) and its ``last`` link is the next page while there is one;
contributors send ``X-Total`` and ``X-Total-Pages``; a commit's ``sequence``
(GitLab 16.9+; an older host's route 404s) counts its ancestors. Weak ETags
with 304s. Past the host's rate limit, or while it is throttled, every request
is answered 429 ``Retry later`` with the ``RateLimit-*`` headers and
``Retry-After``; as the recorded answers show, GitLab sends ``RateLimit-*``
only with a throttled answer. A project asked for by an old path after a rename
or transfer answers 301 to ``/projects/{id}`` with the rest of the path and the
query, as GitLab does for GET requests since 16.4 (with the host's
``follow_moves``: 200 with the project under its new path); an unknown one 404
``{"message": "404 Project Not Found"}``; a refused one (``Forges.refuse``) its
status with ``{"message": ...}``. ``GET /projects`` lists the public projects
(``fetcher check``'s probe), newest first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote

from fetcher.standin.answers import Answer, Query, whole_number
from fetcher.standin.dates import http_date
from fetcher.standin.forges.gitlab_bodies import HEADERS, commit_body, contributors, project_body
from fetcher.standin.forges.http import Served, json_answer, page_links, param, parse_instant, revalidate, spoken
from fetcher.standin.forges.model import Commit, ForgeHost, ForgeRepo, RepoIndex

JSON = "application/json"
PER_PAGE = 20
PER_PAGE_MAX = 100
WINDOW = timedelta(seconds=60)
_NOT_FOUND_ROUTE = {"error": "404 Not Found"}


def serve(
    forges: RepoIndex,
    host: ForgeHost,
    root: str,
    method: str,
    parts: list[str],
    raw_query: str,
    request: Mapping[str, str],
) -> Served:
    now = forges.now()
    limited = _limited(host, now, request)
    if limited is not None:
        served = Served(Answer(429, b"Retry later\n", {"Content-Type": "text/plain", **limited}), _resource(parts))
    else:
        served = _route(forges, host, root, method, parts, raw_query, request)
    served.answer.headers.update(HEADERS)
    return served


def _resource(parts: list[str]) -> str:
    if parts[:3] == ["api", "v4", "projects"] and len(parts) == 3:
        return "projects"
    rest = "/".join(parts[4:])
    if len(parts) == 8 and parts[4:6] == ["repository", "commits"] and parts[7] == "sequence":
        return "sequence"
    return {"": "repo", "repository/commits": "commits", "repository/contributors": "contributors"}.get(rest, rest)


def _route(
    forges: RepoIndex,
    host: ForgeHost,
    root: str,
    method: str,
    parts: list[str],
    raw_query: str,
    request: Mapping[str, str],
) -> Served:
    resource = _resource(parts)
    if parts[:3] != ["api", "v4", "projects"] or method != "GET":
        return Served(json_answer(404, _NOT_FOUND_ROUTE, JSON), resource)
    if not _authorized(host, request):
        return Served(json_answer(401, {"message": "401 Unauthorized"}, JSON), resource)
    query = parse_qsl(raw_query, keep_blank_values=True)
    if resource == "projects":
        return Served(_projects(forges, host, root, query, request), resource)
    ident, rest = unquote(parts[3]), [unquote(part) for part in parts[4:]]
    if ident.isdigit():
        repo = forges.by_id.get((host.name, int(ident)))
    else:
        key = f"{host.name}/{ident}".lower()
        repo = forges.repos.get(key)
        moved = forges.moved.get(key)
        if repo is None and moved is not None and host.follow_moves:
            repo = moved
        elif repo is None and moved is not None:
            location = f"{root}/api/v4/projects/{moved.id}" + "".join(f"/{quote(part, safe='')}" for part in rest)
            if raw_query:
                location += f"?{raw_query}"
            return Served(Answer(301, b"", {"Location": location}), resource, ident)
    if repo is None:
        return Served(json_answer(404, {"message": "404 Project Not Found"}, JSON), resource, ident)
    if repo.refusal is not None:
        status, message = repo.refusal
        return Served(json_answer(status, {"message": spoken(message, request)}, JSON), resource, repo.path)
    api = f"{root}/api/v4/projects/{repo.id}"
    if resource == "repo":
        answer = json_answer(200, project_body(repo, api, license=_flag(query, "license")), JSON)
    elif resource == "commits":
        answer = _commits(repo, api, query)
    elif resource == "contributors":
        answer = _contributors(repo, api, query)
    elif resource == "sequence" and host.has_sequence:
        answer = _sequence(repo, rest[2], query)
    else:
        answer = json_answer(404, _NOT_FOUND_ROUTE, JSON)
    if host.etags:
        answer = revalidate(answer, request, weak=True)
    return Served(answer, resource, repo.path)


def _flag(query: Query, name: str) -> bool:
    """A Grape boolean parameter: true, 1, yes (any case) mean true."""
    return (param(query, name) or "").lower() in ("true", "1", "yes", "t", "y")


def _authorized(host: ForgeHost, request: Mapping[str, str]) -> bool:
    """Public projects need no token; a token sent must be the right one (PRIVATE-TOKEN or Bearer)."""
    if host.token is None:
        return True
    private = request.get("private-token")
    scheme, _, credential = (request.get("authorization") or "").partition(" ")
    if private is None and not credential:
        return True
    return private == host.token or (scheme.lower() == "bearer" and credential == host.token)


def _limited(host: ForgeHost, now: datetime, request: Mapping[str, str]) -> dict[str, str] | None:
    """Count the request in the host's minute (by the world's clock); the throttled answer's headers if it is
    over the limit or the host is throttled (``Forges.throttle``), else None."""
    if host.window_started is None or now - host.window_started >= WINDOW:
        host.window_started, host.window_used = now, 0
    host.window_used += 1
    if host.limited_until is not None and now < host.limited_until:
        reset, remaining = host.limited_until, 0
    elif host.window_used > host.rate_limit:
        reset, remaining = host.window_started + WINDOW, 0
    else:
        return None
    signed_in = "authorization" in request or "private-token" in request
    reset_at = math.ceil(reset.timestamp())
    return {
        "RateLimit-Name": "throttle_authenticated_api" if signed_in else "throttle_unauthenticated_api",
        "RateLimit-Limit": str(host.rate_limit),
        "RateLimit-Observed": str(host.window_used),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset_at),
        "RateLimit-ResetTime": http_date(reset),
        "Retry-After": str(max(1, reset_at - math.floor(now.timestamp()))),
    }


def _projects(forges: RepoIndex, host: ForgeHost, root: str, query: Query, request: Mapping[str, str]) -> Answer:
    """``GET /projects``: the host's public projects, newest first (``order_by=created_at``, ``sort=desc``)."""
    mine = [repo for repo in forges.repos.values() if repo.host == host.name]
    mine.sort(key=lambda repo: (repo.created, repo.id), reverse=True)
    page, per_page = _paging(query)
    total_pages = max(1, math.ceil(len(mine) / per_page))
    begin = (page - 1) * per_page
    full = [pair for pair in query if pair[0] != "per_page"] + [("per_page", str(per_page))]
    rels = ([("prev", page - 1)] if page > 1 else []) + ([("next", page + 1)] if page < total_pages else [])
    rels += [("first", 1), ("last", total_pages)]
    headers = {
        "Link": page_links(f"{root}/api/v4/projects", full, rels),
        "X-Next-Page": str(page + 1) if page < total_pages else "",
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "X-Total": str(len(mine)),
        "X-Total-Pages": str(total_pages),
    }
    items = [project_body(repo, f"{root}/api/v4/projects/{repo.id}") for repo in mine[begin : begin + per_page]]
    answer = json_answer(200, items, JSON, headers)
    return revalidate(answer, request, weak=True) if host.etags else answer


def _paging(query: Query) -> tuple[int, int]:
    per_page = min(whole_number(param(query, "per_page"), PER_PAGE), PER_PAGE_MAX)
    return whole_number(param(query, "page"), 1), per_page


def _commits(repo: ForgeRepo, api: str, query: Query) -> Answer:
    """``ref_name`` (a branch, a sha, or a revision range ``A..B``; an unknown revision 404s), ``since``/``until``
    (committer date, both inclusive, as git log), ``first_parent``, paging."""
    since_text, until_text = param(query, "since"), param(query, "until")
    since, until = parse_instant(since_text), parse_instant(until_text)
    for name, text, value in (("since", since_text, since), ("until", until_text, until)):
        if text and value is None:
            return json_answer(400, {"error": f"{name} is invalid"}, JSON)
    ref_name = param(query, "ref_name") or ""
    excluded, _, included = ref_name.rpartition("..") if ".." in ref_name else ("", "", ref_name)
    start, stop = repo.resolve(included), repo.resolve(excluded) if excluded else None
    if start is None or (excluded and stop is None):
        return json_answer(404, {"message": "404 Commit Not Found"}, JSON)
    if (param(query, "first_parent") or "").lower() == "true":
        history = _first_parents(repo, start)
    else:
        history = repo.history(start)
    if stop is not None:  # a revision range A..B: reachable from B and not from A, as git log lists it
        reachable = {commit.sha for commit in repo.history(stop)}
        history = [commit for commit in history if commit.sha not in reachable]
    chosen = [
        commit
        for commit in history
        if (since is None or commit.committed >= since) and (until is None or commit.committed <= until)
    ]
    page, per_page = _paging(query)
    begin = (page - 1) * per_page
    items = chosen[begin : begin + per_page]
    more = len(chosen) > begin + per_page
    full = [pair for pair in query if pair[0] != "id"] + [("id", str(repo.id))]  # its own id, once
    if param(query, "order") is None:
        full.append(("order", "default"))
    if param(query, "trailers") is None:
        full.append(("trailers", "false"))
    full = [pair for pair in full if pair[0] != "per_page"] + [("per_page", str(per_page))]
    rels = ([("prev", page - 1)] if page > 1 else []) + ([("next", page + 1)] if more else [])
    rels += [("first", 1), ("last", page + 1 if more else page)]
    headers = {
        "Link": page_links(f"{api}/repository/commits", full, rels, next_link=repo.next_link),
        "X-Next-Page": str(page + 1) if more else "",
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Prev-Page": str(page - 1) if page > 1 else "",
    }
    return json_answer(200, [commit_body(repo, commit) for commit in items], JSON, headers)


def _sequence(repo: ForgeRepo, sha: str, query: Query) -> Answer:
    """GitLab 16.9+'s commit sequence: ``git rev-list --count`` of the commit (``first_parent``: its first parents)."""
    start = repo.resolve(sha)
    if start is None:
        return json_answer(404, {"message": "404 Commit Not Found"}, JSON)
    if (param(query, "first_parent") or "").lower() == "true":
        return json_answer(200, {"count": len(_first_parents(repo, start))}, JSON)
    return json_answer(200, {"count": len(repo.history(start))}, JSON)


def _first_parents(repo: ForgeRepo, start: str) -> list[Commit]:
    chain, sha = [], start
    while sha in repo.commits:
        commit = repo.commits[sha]
        chain.append(commit)
        sha = commit.parents[0] if commit.parents else ""
    return chain


def _contributors(repo: ForgeRepo, api: str, query: Query) -> Answer:
    order_by = param(query, "order_by") or "commits"
    sort = param(query, "sort") or "asc"
    if order_by not in ("email", "name", "commits"):
        return json_answer(400, {"error": "order_by does not have a valid value"}, JSON)
    if sort not in ("asc", "desc"):
        return json_answer(400, {"error": "sort does not have a valid value"}, JSON)
    everyone = contributors(repo, order_by, sort)
    page, per_page = _paging(query)
    total_pages = max(1, math.ceil(len(everyone) / per_page))
    begin = (page - 1) * per_page
    full = [pair for pair in query if pair[0] not in ("per_page", "order_by", "sort", "id")]
    full += [("id", str(repo.id)), ("order_by", order_by), ("per_page", str(per_page)), ("sort", sort)]
    rels = ([("prev", page - 1)] if page > 1 else []) + ([("next", page + 1)] if page < total_pages else [])
    rels += [("first", 1), ("last", total_pages)]
    headers = {
        "Link": page_links(f"{api}/repository/contributors", full, rels, next_link=repo.next_link),
        "X-Next-Page": str(page + 1) if page < total_pages else "",
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "X-Total": str(len(everyone)),
        "X-Total-Pages": str(total_pages),
    }
    return json_answer(200, everyone[begin : begin + per_page], JSON, headers)
