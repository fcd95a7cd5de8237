"""GitHub's REST bodies: a repository, its contributors and its commits, as the stand-in serves them."""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fetcher.standin.dates import utc_text
from fetcher.standin.repo import Repo

_COMMIT_SPACING = timedelta(hours=6)


def _node_id(kind: str, ident: int | str) -> str:
    """GitHub's legacy global node id, e.g. base64("010:Repository18764735")."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def _account_id(login: str) -> int:
    """A stable account id per login (crc32: Python's hash() changes per process)."""
    return zlib.crc32(login.lower().encode()) % 90_000_000 + 1_000


def _account_type(login: str) -> str:
    return "Bot" if login.endswith("[bot]") else "User"


def _account(login: str, kind: str, base: str) -> dict[str, Any]:
    account_id = _account_id(login)
    html_url = f"https://github.com/apps/{login[:-5]}" if kind == "Bot" else f"https://github.com/{login}"
    return {
        "login": login,
        "id": account_id,
        "node_id": _node_id(kind, account_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{account_id}?v=4",
        "gravatar_id": "",
        "url": f"{base}/users/{quote(login)}",
        "html_url": html_url,
        "type": kind,
        "site_admin": False,
    }


def repo_body(repo: Repo, base: str) -> dict[str, Any]:
    """API URLs point back at the stand-in so clients that follow them stay on it."""
    api = f"{base}/repos/{repo.full_name}"
    owner = _account(repo.owner, repo.owner_type, base)
    body: dict[str, Any] = {
        "id": repo.id,
        "node_id": _node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": False,
        "owner": owner,
        "html_url": f"https://github.com/{repo.full_name}",
        "description": repo.description,
        "fork": False,
        "url": api,
        "contributors_url": f"{api}/contributors",
        "commits_url": f"{api}/commits{{/sha}}",
        "created_at": repo.created_at,
        "updated_at": repo.pushed_at,
        "pushed_at": repo.pushed_at,
        "homepage": repo.homepage,
        "stargazers_count": repo.stars,
        "watchers_count": repo.stars,
        "language": None if repo.empty else "Python",
        "forks_count": repo.forks,
        "archived": repo.archived,
        "disabled": False,
        "open_issues_count": repo.open_issues,
        "license": None,
        "topics": [],
        "visibility": "public",
        "forks": repo.forks,
        "open_issues": repo.open_issues,
        "watchers": repo.stars,
        "default_branch": repo.default_branch,
    }
    if repo.owner_type == "Organization":
        body["organization"] = owner
    body["network_count"] = repo.forks
    body["subscribers_count"] = repo.subscribers
    return body


def contributor(login: str, contributions: int, base: str) -> dict[str, Any]:
    body = _account(login, _account_type(login), base)
    body["contributions"] = contributions
    return body


def _commit_sha(repo: Repo, ordinal: int) -> str:
    """Shas hash the commit's ordinal from the first commit, so a push leaves older shas alone."""
    return hashlib.sha1(f"{repo.id}:{ordinal}".encode()).hexdigest()


def commits(repo: Repo, newest: datetime, start: int, stop: int, base: str) -> list[dict[str, Any]]:
    """Commits ``start``..``stop`` counted from the newest, each six hours before the next."""
    return [_commit(repo, offset, newest - _COMMIT_SPACING * offset, base) for offset in range(start, stop)]


def _commit(repo: Repo, offset: int, moment: datetime, base: str) -> dict[str, Any]:
    ordinal = repo.commit_count - offset
    sha = _commit_sha(repo, ordinal)
    api = f"{base}/repos/{repo.full_name}"
    login = repo.contributors[offset % len(repo.contributors)] if repo.contributors else repo.owner
    person = {"name": login, "email": f"{login}@users.noreply.github.com", "date": utc_text(moment)}
    account = _account(login, _account_type(login), base)
    tree = hashlib.sha1(f"tree:{sha}".encode()).hexdigest()
    parents = []
    if ordinal > 1:
        parent = _commit_sha(repo, ordinal - 1)
        parents.append(
            {
                "sha": parent,
                "url": f"{api}/commits/{parent}",
                "html_url": f"https://github.com/{repo.full_name}/commit/{parent}",
            }
        )
    return {
        "sha": sha,
        "node_id": _node_id("Commit", f"{repo.id}:{sha}"),
        "commit": {
            "author": person,
            "committer": person,
            "message": f"Change number {ordinal}",
            "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
            "url": f"{api}/git/commits/{sha}",
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        },
        "url": f"{api}/commits/{sha}",
        "html_url": f"https://github.com/{repo.full_name}/commit/{sha}",
        "comments_url": f"{api}/commits/{sha}/comments",
        "author": account,
        "committer": account,
        "parents": parents,
    }
