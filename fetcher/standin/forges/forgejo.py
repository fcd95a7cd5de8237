"""Forgejo (and Gitea, Codeberg) API v1 as the stand-in serves it: a repository and its commits.

Shapes and parameters follow Forgejo's swagger (``repoGet``,
``repoGetAllCommits``) and its Go handlers: the commits list takes ``sha``,
``stat``, ``verification``, ``files``, ``page``, ``limit`` and ``not`` (leave
out what is reachable from that revision; one the repository does not have makes git
fail, and Forgejo answers 500 with an empty message, as in production) -- it has no ``since``/``until`` and
ignores them; ``limit`` defaults to 30 and is capped at 50 (``MAX_RESPONSE_ITEMS``);
answers carry ``Link`` (next, last, first, prev, comma-joined), ``X-Total-Count``
and the older ``X-Page``, ``X-PerPage``, ``X-Total``, ``X-PageCount``,
``X-HasMore``; a commit's ``stats`` is null unless asked for, its parents
carry their ``created``. Forgejo sends no rate-limit headers; every answer
carries its ``Cache-Control``, ``X-Content-Type-Options`` and
``X-Frame-Options``. A renamed or transferred repository answers 307 with a
path-only ``Location`` (the same request under the new owner/name, query
kept), as Forgejo's ``RedirectToRepo`` does; an unknown one 404 ``{"errors":
[], "message": "The target couldn't be found.", "url": ...}``; a refused one
(``Forges.refuse``) its status with ``{"message": ..., "url": ...}``.
``GET /version`` answers the host's version (``fetcher check``'s probe).
No ETag and never a 304, whatever the host's ``etags``: Forgejo's API sets an ETag on
raw files, media, LFS objects and packages only (``modules/httpcache``), never on a
repository's or a commit list's JSON, so a conditional request is answered in full.
``updated_at`` is the time of the repository's last push (``ForgeRepo.updated``),
as Forgejo's push handling sets it, else its creation.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from fetcher.standin.answers import Answer, Query, whole_number
from fetcher.standin.forges.http import Served, flag, json_answer, page_links, param, spoken
from fetcher.standin.forges.model import Commit, ForgeHost, ForgeRepo, Person, RepoIndex

JSON = "application/json;charset=utf-8"
LIMIT = 30
LIMIT_MAX = 50
_ZERO_TIME = "1970-01-01T00:00:00Z"
# What Forgejo sends with every API answer.
HEADERS = {
    "Cache-Control": "max-age=0, private, must-revalidate, no-transform",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
}
_LIST_HEADERS = "Link, X-Total-Count, X-Page, X-PerPage, X-Total, X-PageCount, X-HasMore"


def serve(
    forges: RepoIndex,
    host: ForgeHost,
    root: str,
    method: str,
    parts: list[str],
    raw_query: str,
    request: Mapping[str, str],
) -> Served:
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
    swagger = f"https://{host.name}/api/swagger"
    not_found = {"errors": [], "message": "The target couldn't be found.", "url": swagger}
    rest = [unquote(part) for part in parts[5:] if part]
    resource = {(): "repo", ("commits",): "commits"}.get(tuple(rest), "/".join(rest))
    if parts == ["api", "v1", "version"] and method == "GET":
        resource = "version"
    elif parts[:3] != ["api", "v1", "repos"] or len(parts) < 5 or method != "GET":
        return Served(json_answer(404, not_found, JSON), resource)
    if not _authorized(host, request):
        return Served(
            json_answer(401, {"message": "invalid username, password or token", "url": swagger}, JSON), resource
        )
    if resource == "version":
        return Served(json_answer(200, {"version": host.version}, JSON), resource)
    owner, name = unquote(parts[3]), unquote(parts[4])
    key = f"{host.name}/{owner}/{name}".lower()
    repo = forges.repos.get(key)
    if repo is None and key in forges.moved:
        moved = forges.moved[key]
        location = f"{urlsplit(root).path}/api/v1/repos/{quote(moved.owner)}/{quote(moved.name)}"
        location += "".join(f"/{quote(part)}" for part in rest)
        if raw_query:
            location += f"?{raw_query}"
        return Served(Answer(307, b"", {"Location": location}), resource, f"{owner}/{name}")
    if repo is None or resource not in ("repo", "commits"):
        return Served(json_answer(404, not_found, JSON), resource, f"{owner}/{name}")
    if repo.refusal is not None:
        status, message = repo.refusal
        return Served(json_answer(status, {"message": spoken(message, request), "url": swagger}, JSON), resource,
                      repo.path)  # fmt: skip
    api = f"{root}/api/v1"
    if resource == "repo":
        answer = json_answer(200, repo_body(repo, api), JSON)
    else:
        answer = _commits(repo, api, parse_qsl(raw_query, keep_blank_values=True), swagger)
    return Served(answer, resource, repo.path)  # no ETag, never a 304


def _authorized(host: ForgeHost, request: Mapping[str, str]) -> bool:
    """Public repositories need no token; a token sent must be the right one ("token" or "Bearer" scheme)."""
    if host.token is None:
        return True
    scheme, _, credential = (request.get("authorization") or "").partition(" ")
    if not credential:
        return True
    return scheme.lower() in ("token", "bearer") and credential == host.token


def _stamp(moment: datetime) -> str:
    """Go's RFC 3339: seconds and the commit's own offset, ``Z`` for UTC."""
    text = moment.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")


def _account_id(login: str) -> int:
    return int(hashlib.sha1(login.encode()).hexdigest()[:6], 16)


def user_body(login: str, full_name: str, host: str) -> dict[str, Any]:
    account = _account_id(login)
    return {
        "id": account,
        "login": login,
        "login_name": "",
        "source_id": 0,
        "full_name": full_name,
        "email": f"{login}@noreply.{host}",
        "avatar_url": f"https://{host}/avatars/{hashlib.md5(login.encode()).hexdigest()}",
        "html_url": f"https://{host}/{login}",
        "language": "",
        "is_admin": False,
        "last_login": _ZERO_TIME,
        "created": "2020-03-01T10:00:00Z",
        "restricted": False,
        "active": False,
        "prohibit_login": False,
        "location": "",
        "pronouns": "",
        "website": "",
        "description": "",
        "visibility": "public",
        "followers_count": account % 40,
        "following_count": account % 7,
        "starred_repos_count": account % 90,
        "username": login,
    }


def repo_body(repo: ForgeRepo, api: str) -> dict[str, Any]:
    web = f"https://{repo.host}/{repo.path}"
    return {
        "id": repo.id,
        "owner": user_body(repo.owner, repo.owner, repo.host),
        "name": repo.name,
        "full_name": repo.said_path,
        "description": repo.description or "",
        "empty": repo.head is None,
        "private": False,
        "fork": False,
        "template": False,
        "parent": None,
        "mirror": False,
        "size": 1024 + repo.id % 4096,
        "language": "Python",
        "languages_url": f"{api}/repos/{repo.path}/languages",
        "html_url": repo.said_url,
        "url": f"{api}/repos/{repo.path}",
        "link": "",
        "ssh_url": f"git@{repo.host}:{repo.path}.git",
        "clone_url": f"{web}.git",
        "original_url": "",
        "website": "",
        "stars_count": repo.stars,
        "forks_count": repo.forks,
        "watchers_count": repo.watchers,
        "open_issues_count": repo.stars % 13,
        "open_pr_counter": repo.stars % 5,
        "release_counter": repo.stars % 9,
        "default_branch": repo.default_branch,
        "archived": repo.archived,
        "created_at": _stamp(repo.created.astimezone(timezone.utc)),
        "updated_at": _stamp((repo.updated or repo.created).astimezone(timezone.utc)),
        "archived_at": _stamp(repo.archived_at.astimezone(timezone.utc)) if repo.archived_at else _ZERO_TIME,
        "permissions": {"admin": False, "push": False, "pull": True},
        "has_issues": True,
        "has_wiki": True,
        "has_pull_requests": True,
        "has_projects": False,
        "has_releases": True,
        "has_packages": False,
        "has_actions": False,
        "ignore_whitespace_conflicts": False,
        "allow_merge_commits": True,
        "allow_rebase": True,
        "allow_rebase_explicit": True,
        "allow_squash_merge": True,
        "default_merge_style": "merge",
        "avatar_url": "",
        "internal": False,
        "mirror_interval": "",
        "object_format_name": "sha1",
        "mirror_updated": _ZERO_TIME,
        "repo_transfer": None,
        "topics": [],
    }


def _person(person: Person, moment: datetime) -> dict[str, str]:
    return {"name": person.name, "email": person.email, "date": _stamp(moment)}


def commit_body(
    repo: ForgeRepo, commit: Commit, api: str, *, stat: bool, verification: bool, files: bool
) -> dict[str, Any]:
    """Forgejo's Commit: the git data under ``commit``, the linked accounts (or null) beside it."""
    base = f"{api}/repos/{repo.path}"
    tree = hashlib.sha1(f"tree:{commit.sha}".encode()).hexdigest()
    linked = user_body(commit.author.login, commit.author.name, repo.host) if commit.author.login else None
    body: dict[str, Any] = {
        "url": f"{base}/git/commits/{commit.sha}",
        "sha": commit.sha,
        "created": _stamp(commit.committed),
        "html_url": f"https://{repo.host}/{repo.path}/commit/{commit.sha}",
        "commit": {
            "url": f"{base}/git/commits/{commit.sha}",
            "author": _person(commit.author, commit.authored),
            "committer": _person(commit.committer, commit.committed),
            "message": commit.message + "\n",
            "tree": {"url": f"{base}/git/trees/{tree}", "sha": tree, "created": _stamp(commit.committed)},
            "verification": (
                {
                    "verified": False,
                    "reason": "gpg.error.not_signed_commit",
                    "signature": "",
                    "signer": None,
                    "payload": "",
                }
                if verification
                else None
            ),
        },
        "author": linked,
        "committer": linked,
        "parents": [
            {"url": f"{base}/git/commits/{sha}", "sha": sha, "created": _stamp(repo.commits[sha].committed)}
            if sha in repo.commits
            else {"url": f"{base}/git/commits/{sha}", "sha": sha, "created": _ZERO_TIME}
            for sha in commit.parents
        ],
        "files": [{"filename": "README.md", "status": "modified"}] if files else None,
        "stats": {"total": 3, "additions": 2, "deletions": 1} if stat else None,
    }
    return body


def _commits(repo: ForgeRepo, api: str, query: Query, swagger: str) -> Answer:
    if repo.head is None:
        return json_answer(409, {"message": "Git Repository is empty.", "url": swagger}, JSON)
    revision = param(query, "sha")
    start = repo.resolve(revision)
    if start is None:
        errors = [f"object does not exist [id: {revision}, rel_path: ]"]
        return json_answer(404, {"errors": errors, "message": "The target couldn't be found.", "url": swagger}, JSON)
    history = repo.history(start)
    excluded_from = param(query, "not")
    if excluded_from:
        hidden = repo.resolve(excluded_from)
        if hidden is None:  # git rev-list fails on the revision; Forgejo hides its words in production
            return json_answer(500, {"message": "", "url": swagger}, JSON)
        hidden_shas = {commit.sha for commit in repo.history(hidden)}
        history = [commit for commit in history if commit.sha not in hidden_shas]
    limit = whole_number(param(query, "limit"), LIMIT)
    limit = min(limit, LIMIT_MAX)
    page = whole_number(param(query, "page"), 1)
    total = len(history)
    pages = math.ceil(total / limit)
    begin = (page - 1) * limit
    options = {name: flag(query, name, True) for name in ("stat", "verification", "files")}
    items = [commit_body(repo, commit, api, **options) for commit in history[begin : begin + limit]]
    rels = []
    if page < pages:
        rels += [("next", page + 1), ("last", pages)]
    if page > 1:
        rels += [("first", 1), ("prev", page - 1)]
    headers = {}
    if rels:
        headers["Link"] = page_links(f"{api}/repos/{repo.path}/commits", query, rels, ",", repo.next_link)
    said = repo.total_count if repo.total_count is not None else str(total)  # a broken host's, when set
    headers.update(
        {
            "X-Total-Count": said,
            "X-Page": str(page),
            "X-PerPage": str(limit),
            "X-Total": said,
            "X-PageCount": str(pages),
            "X-HasMore": "true" if page < pages else "false",
            "Access-Control-Expose-Headers": _LIST_HEADERS,
        }
    )
    return json_answer(200, items, JSON, headers)
