"""Bitbucket Cloud API 2.0 as the stand-in serves it: a repository, its watchers, forks and commits.

Shapes follow developer.atlassian.com/cloud/bitbucket/rest and the answers
recorded from api.bitbucket.org: paginated envelopes of ``values`` with
``pagelen`` and ``next`` (absent on the last page); watchers and forks also
carry ``size`` and ``page`` and default to 10 a page, commits carry neither and
default to 30; ``pagelen`` is capped at 100. ``/commits/{revision}`` (or
``/commits`` for the main branch) lists newest first, takes ``include`` and
``exclude`` (leave out what is reachable from them) and has no
``since``/``until``; an ``include`` or ``exclude`` the repository does not have answers
404. Commit authors are ``{"raw": "Name <email>", "user":
{...}}`` with ``user`` absent when Bitbucket links no account. Strong ETags
(and ``Last-Modified`` on commits) with 304s; no rate-limit headers; every
answer carries the recorded ``Cache-Control``, ``Vary`` and security headers; while
throttled (``Forges.throttle``) every request is answered 429 ``Rate limit for this
resource has been exceeded`` with neither a reset nor ``Retry-After``. A
renamed repository answers 301 with an absolute ``Location`` for the same
request under its new name; an unknown one 404 with Bitbucket's error envelope,
a refused one (``Forges.refuse``) its status with that envelope.
``GET /repositories`` pages the public repositories (deprecated by Bitbucket).

Credentials as Bitbucket Cloud takes them: an access token (``ForgeHost.token``) only as
``Authorization: Bearer``, a user's API token (``ForgeHost.api_token``) only as HTTP Basic
with the account's email; anything else is answered 401. ``GET /user`` (``fetcher check``'s
probe) answers the API token's account; an access token is no user's, and is answered 403
there (what Bitbucket answers it is not documented); no credential, 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from fetcher.standin.answers import Answer, Query, whole_number
from fetcher.standin.forges.http import Served, json_answer, param, revalidate, spoken
from fetcher.standin.forges.model import Commit, ForgeHost, ForgeRepo, Person, RepoIndex

JSON = "application/json; charset=utf-8"
PAGELEN = 10
COMMITS_PAGELEN = 30
PAGELEN_MAX = 100
# What api.bitbucket.org sends with every answer (its tracing and timing headers left out).
HEADERS = {
    "Cache-Control": "max-age=900",
    "Vary": "Authorization, Origin, Accept-Encoding",
    "X-Accepted-OAuth-Scopes": "repository",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "X-XSS-Protection": "1; mode=block",
}
NOT_FOUND = {
    "type": "error",
    "error": {
        "message": "You may not have access to this repository or it no longer exists in this workspace. "
        "If you think this repository exists and you have access, make sure you are authenticated."
    },
}

RATE_LIMITED = {"type": "error", "error": {"message": "Rate limit for this resource has been exceeded"}}


def serve(
    forges: RepoIndex,
    host: ForgeHost,
    root: str,
    method: str,
    parts: list[str],
    raw_query: str,
    request: Mapping[str, str],
) -> Served:
    if host.limited_until is not None and forges.now() < host.limited_until:
        # Bitbucket's rolling hour is spent: no reset, no Retry-After, its envelope's words.
        served = Served(json_answer(429, RATE_LIMITED, JSON), "")
    else:
        served = _route(forges, host, root, method, parts, raw_query, request)
    served.answer.headers.update(HEADERS)
    return served


def _route(
    forges: RepoIndex,
    host: ForgeHost,
    root: str,
    method: str,
    parts: list[str],
    raw_query: str,
    request: Mapping[str, str],
) -> Served:
    rest = [unquote(part) for part in parts[4:] if part]
    resource = rest[0] if rest else "repo"
    listing = parts[:2] == ["2.0", "repositories"] and [part for part in parts[2:] if part] == []
    who = _credential(host, request)
    if parts == ["2.0", "user"] and method == "GET":
        return Served(_user(who), "user")
    if listing:
        resource = "repositories"
    elif parts[:2] != ["2.0", "repositories"] or len(parts) < 4 or method != "GET":
        return Served(json_answer(404, {"type": "error", "error": {"message": "Resource not found"}}, JSON), resource)
    if who == REJECTED:
        return Served(json_answer(401, {"type": "error", "error": {"message": "Unauthorized"}}, JSON), resource)
    query = parse_qsl(raw_query, keep_blank_values=True)
    if listing:
        public = sorted((repo for repo in forges.repos.values() if repo.host == host.name), key=lambda r: r.created)
        answer = _envelope(f"{root}/2.0/repositories", query, len(public), lambda i: _listed(public[i], root),
                           counted=False)  # fmt: skip
        return Served(revalidate(answer, request, weak=False) if host.etags else answer, resource)
    full_name = f"{unquote(parts[2])}/{unquote(parts[3])}"
    key = f"{host.name}/{full_name}".lower()
    repo = forges.repos.get(key)
    if repo is None and key in forges.moved:
        moved = forges.moved[key]
        location = f"{root}/2.0/repositories/{moved.path}" + "".join(f"/{quote(part)}" for part in rest)
        if raw_query:
            location += f"?{raw_query}"
        return Served(Answer(301, b"", {"Location": location}), resource, full_name)
    if repo is None:
        return Served(json_answer(404, NOT_FOUND, JSON), resource, full_name)
    if repo.refusal is not None:
        status, message = repo.refusal
        refused = {"type": "error", "error": {"message": spoken(message, request)}}
        return Served(json_answer(status, refused, JSON), resource, repo.path)
    api = f"{root}/2.0/repositories/{repo.path}"
    slash = "/" if parts[-1] == "" else ""  # next links echo the path as it was asked, trailing slash and all
    last_modified = None
    if resource == "repo" and len(rest) == 0:
        answer = json_answer(200, repo_body(repo, api), JSON)
    elif resource == "watchers" and len(rest) == 1:
        answer = _envelope(
            api + "/watchers" + slash,
            query,
            repo.stars,
            lambda i: _account(f"watcher{repo.id}-{i}", f"Watcher {i}"),
            repo.next_link,
        )
    elif resource == "forks" and len(rest) == 1:
        answer = _envelope(api + "/forks" + slash, query, repo.forks, lambda i: _fork(repo, root, i), repo.next_link)
    elif resource == "commits" and len(rest) <= 2:
        answer = _commits(repo, api, rest[1] if len(rest) == 2 else None, query, slash)
        last_modified = repo.newest
    else:
        answer = json_answer(404, {"type": "error", "error": {"message": "Resource not found"}}, JSON)
    if host.etags:
        answer = revalidate(answer, request, weak=False, last_modified=last_modified)
    return Served(answer, resource, repo.path)


ANONYMOUS, REJECTED, ACCESS_TOKEN = "anonymous", "rejected", "access token"


def _credential(host: ForgeHost, request: Mapping[str, str]) -> str:
    """Who a request is: ANONYMOUS, REJECTED, ACCESS_TOKEN, or the email of the API token's account."""
    scheme, _, credential = (request.get("authorization") or "").partition(" ")
    if not credential:
        return ANONYMOUS
    if host.token is None and host.api_token is None:
        return _basic(credential)[0] if scheme.lower() == "basic" else ACCESS_TOKEN  # any credentials pass
    if scheme.lower() == "bearer":
        return ACCESS_TOKEN if credential == host.token else REJECTED
    if scheme.lower() == "basic" and host.api_token is not None and _basic(credential) == host.api_token:
        return host.api_token[0]
    return REJECTED


def _basic(credential: str) -> tuple[str, str]:
    try:
        email, _, token = base64.b64decode(credential, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return email, token


def _user(who: str) -> Answer:
    """``GET /user``: the API token's account; 403 for an access token, which is no user's; 401 without one."""
    if who in (ANONYMOUS, REJECTED):
        return json_answer(401, {"type": "error", "error": {"message": "Unauthorized"}}, JSON)
    if who == ACCESS_TOKEN:
        return json_answer(403, {"type": "error", "error": {"message": "Forbidden"}}, JSON)
    nickname = who.partition("@")[0] or "someone"
    return json_answer(200, {**_account(nickname, nickname.title()), "created_on": "2015-05-05T05:05:05+00:00"}, JSON)


def _uuid(*parts: object) -> str:
    return "{" + str(uuid.UUID(hashlib.md5(":".join(map(str, parts)).encode()).hexdigest())) + "}"


def _account(nickname: str, display_name: str) -> dict[str, Any]:
    ident = _uuid("user", nickname)
    return {
        "display_name": display_name,
        "links": {
            "self": {"href": f"https://api.bitbucket.org/2.0/users/{quote(ident)}"},
            "avatar": {"href": f"https://secure.gravatar.com/avatar/{hashlib.md5(nickname.encode()).hexdigest()}"},
            "html": {"href": f"https://bitbucket.org/{quote(ident)}/"},
        },
        "type": "user",
        "uuid": ident,
        "account_id": f"557058:{ident[1:-1]}",
        "nickname": nickname,
    }


def _repo_links(api: str, web: str, path: str) -> dict[str, Any]:
    return {
        "self": {"href": api},
        "html": {"href": web},
        "avatar": {"href": f"https://bytebucket.org/ravatar/{quote(_uuid('repo', path))}?ts=python"},
        "pullrequests": {"href": f"{api}/pullrequests"},
        "commits": {"href": f"{api}/commits"},
        "forks": {"href": f"{api}/forks"},
        "watchers": {"href": f"{api}/watchers"},
        "branches": {"href": f"{api}/refs/branches"},
        "tags": {"href": f"{api}/refs/tags"},
        "downloads": {"href": f"{api}/downloads"},
        "source": {"href": f"{api}/src"},
        "clone": [
            {"name": "https", "href": f"{web}.git"},
            {"name": "ssh", "href": f"git@bitbucket.org:{path}.git"},
        ],
        "issues": {"href": f"{api}/issues"},
        "hooks": {"href": f"{api}/hooks"},
    }


def _repository(
    path: str, api: str, description: str | None, created: str, updated: str, branch: str, parent: dict[str, Any] | None
) -> dict[str, Any]:
    workspace, slug = path.split("/")
    web = f"https://bitbucket.org/{path}"
    return {
        "type": "repository",
        "full_name": path,
        "links": _repo_links(api, web, path),
        "name": slug,
        "slug": slug.lower(),
        "description": description or "",
        "scm": "git",
        "website": "",
        "owner": _account(workspace, workspace),
        "workspace": {
            "type": "workspace",
            "uuid": _uuid("user", workspace),
            "name": workspace,
            "slug": workspace,
            "links": {
                "avatar": {"href": f"https://bitbucket.org/workspaces/{workspace}/avatar/"},
                "html": {"href": f"https://bitbucket.org/{workspace}/"},
                "self": {"href": f"https://api.bitbucket.org/2.0/workspaces/{workspace}"},
            },
        },
        "is_private": False,
        "project": {
            "type": "project",
            "key": "PROJ",
            "uuid": _uuid("project", workspace),
            "name": "Untitled project",
            "links": {
                "self": {"href": f"https://api.bitbucket.org/2.0/workspaces/{workspace}/projects/PROJ"},
                "html": {"href": f"https://bitbucket.org/{workspace}/workspace/projects/PROJ"},
                "avatar": {"href": f"https://bitbucket.org/account/user/{workspace}/projects/PROJ/avatar/32?ts=0"},
            },
        },
        "fork_policy": "allow_forks",
        "created_on": created,
        "updated_on": updated,
        "size": 4_004_226,
        "language": "python",
        "uuid": _uuid("repo", path),
        "mainbranch": {"name": branch, "type": "branch"},
        "override_settings": {"default_merge_strategy": False, "branching_model": False},
        "parent": parent,
        "has_issues": True,
        "has_wiki": False,
    }


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _listed(repo: ForgeRepo, root: str) -> dict[str, Any]:
    return repo_body(repo, f"{root}/2.0/repositories/{repo.path}")


def repo_body(repo: ForgeRepo, api: str) -> dict[str, Any]:
    updated = _stamp(repo.newest or repo.created)
    body = _repository(repo.path, api, repo.description, _stamp(repo.created), updated, repo.default_branch, None)
    body["full_name"], body["links"]["html"]["href"] = repo.said_path, repo.said_url
    body["uuid"] = _uuid("repo", repo.host, repo.id)  # the repository's own: it stays when the repository moves
    return body


def _reference(repo: ForgeRepo, api: str) -> dict[str, Any]:
    """A repository as a commit or a fork names it."""
    return {
        "type": "repository",
        "full_name": repo.path,
        "links": {
            "self": {"href": api},
            "html": {"href": f"https://bitbucket.org/{repo.path}"},
            "avatar": {"href": f"https://bytebucket.org/ravatar/{quote(_uuid('repo', repo.path))}?ts=python"},
        },
        "name": repo.name,
        "uuid": _uuid("repo", repo.path),
    }


def _fork(repo: ForgeRepo, root: str, index: int) -> dict[str, Any]:
    path = f"forker{index}/{repo.name}"
    parent = _reference(repo, f"{root}/2.0/repositories/{repo.path}")
    created = _stamp(repo.created)
    return _repository(path, f"{root}/2.0/repositories/{path}", "", created, created, repo.default_branch, parent)


def _envelope(
    url: str, query: Query, size: int, item: Any, next_link: str | None = None, *, counted: bool = True
) -> Answer:
    """Watchers and forks: ``size``, ``page``, ``pagelen``, ``next`` while more remain, ``values``
    (not ``counted``: no ``size`` nor ``page``, as the repository list)."""
    pagelen = min(whole_number(param(query, "pagelen"), PAGELEN), PAGELEN_MAX)
    page = whole_number(param(query, "page"), 1)
    begin = (page - 1) * pagelen
    body: dict[str, Any] = {"pagelen": pagelen, "size": size, "page": page} if counted else {"pagelen": pagelen}
    if begin + pagelen < size:
        kept = [(name, value) for name, value in query if name != "page"]
        body["next"] = next_link or f"{url}?{urlencode([*kept, ('page', str(page + 1))])}"
    body["values"] = [item(index) for index in range(begin, min(begin + pagelen, size))]
    return json_answer(200, body, JSON)


def _author(person: Person) -> dict[str, Any]:
    author: dict[str, Any] = {"type": "author", "raw": f"{person.name} <{person.email}>"}
    if person.login:
        author["user"] = _account(person.login, person.name)
    return author


def commit_body(repo: ForgeRepo, commit: Commit, api: str) -> dict[str, Any]:
    web = f"https://bitbucket.org/{repo.path}"

    def links(sha: str) -> dict[str, Any]:
        return {"self": {"href": f"{api}/commit/{sha}"}, "html": {"href": f"{web}/commits/{sha}"}}

    rendered = {"type": "rendered", "raw": commit.message, "markup": "markdown", "html": f"<p>{commit.message}</p>"}
    return {
        "type": "commit",
        "hash": commit.sha,
        "date": _stamp(commit.committed),
        "author": _author(commit.author),
        "message": commit.message,
        "summary": rendered,
        "links": {
            **links(commit.sha),
            "diff": {"href": f"{api}/diff/{commit.sha}"},
            "approve": {"href": f"{api}/commit/{commit.sha}/approve"},
            "comments": {"href": f"{api}/commit/{commit.sha}/comments"},
            "statuses": {"href": f"{api}/commit/{commit.sha}/statuses"},
            "patch": {"href": f"{api}/patch/{commit.sha}"},
        },
        "parents": [{"hash": sha, "links": links(sha), "type": "commit"} for sha in commit.parents],
        "rendered": {"message": rendered},
        "repository": _reference(repo, api),
    }


def _commits(repo: ForgeRepo, api: str, revision: str | None, query: Query, slash: str) -> Answer:
    includes = [value for name, value in query if name == "include"] or [revision]
    starts = [repo.resolve(item) for item in includes]
    if any(start is None for start in starts):
        return json_answer(404, {"type": "error", "error": {"message": f"Commit not found: {includes[0]}"}}, JSON)
    if len(set(starts)) == 1:
        history = repo.history(starts[0])  # newest first already
    else:
        shown = {commit.sha: commit for start in starts for commit in repo.history(start)}
        history = sorted(shown.values(), key=lambda commit: commit.committed, reverse=True)
    hidden: set[str] = set()
    for name, value in query:
        if name == "exclude":
            sha = repo.resolve(value)
            if sha is None:  # a revision the repository does not have (any more)
                return json_answer(404, {"type": "error", "error": {"message": f"Commit not found: {value}"}}, JSON)
            hidden.update(commit.sha for commit in repo.history(sha))
    if hidden:
        history = [commit for commit in history if commit.sha not in hidden]
    pagelen = min(whole_number(param(query, "pagelen"), COMMITS_PAGELEN), PAGELEN_MAX)
    page = whole_number(param(query, "page"), 1)
    begin = (page - 1) * pagelen
    body: dict[str, Any] = {"values": [commit_body(repo, commit, api) for commit in history[begin : begin + pagelen]]}
    body["pagelen"] = pagelen
    if begin + pagelen < len(history):
        kept = [(name, value) for name, value in query if name != "page"]
        where = (f"{api}/commits/{quote(revision)}" if revision else f"{api}/commits") + slash
        body["next"] = repo.next_link or f"{where}?{urlencode([*kept, ('page', str(page + 1))])}"
    return json_answer(200, body, JSON)
