"""The forge world: every forge host the stand-in serves, their repositories, moves, and the requests they answered."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from fetcher.standin.answers import Answer
from fetcher.standin.dates import utc_text
from fetcher.standin.forges import bitbucket, forgejo, gitlab
from fetcher.standin.forges.http import json_answer
from fetcher.standin.forges.model import (
    API_ROOTS,
    PREFIX,
    Commit,
    ForgeHost,
    ForgeRepo,
    ForgeRequest,
    Person,
    make_commit,
    repo_key,
    today_midnight,
)
from fetcher.standin.forges.truth import participants, weekly_counts

_SERVERS = {"gitlab": gitlab.serve, "forgejo": forgejo.serve, "bitbucket": bitbucket.serve}


class Forges:
    """Every forge host the stand-in serves, their repositories, moves, and the requests they answered."""

    def __init__(self, now: datetime | None = None) -> None:
        self.hosts: dict[str, ForgeHost] = {}
        self.repos: dict[str, ForgeRepo] = {}
        # lowercase "host/old path" -> the repository now elsewhere
        self.moved: dict[str, ForgeRepo] = {}
        self.by_id: dict[tuple[str, int], ForgeRepo] = {}  # (host, id): GitLab finds projects by id too
        self.log: list[ForgeRequest] = []
        self._now = now
        self._lock = threading.RLock()

    # -- building

    def now(self) -> datetime:
        """The stand-in's clock: fixed when given, else the real UTC time."""
        return self._now or datetime.now(timezone.utc).replace(microsecond=0)

    def add_host(self, name: str, kind: str, **options: Any) -> ForgeHost:
        host = ForgeHost(name.lower(), kind, **options)
        self.hosts[host.name] = host
        return host

    def add_repo(self, repo: ForgeRepo) -> ForgeRepo:
        if repo.host not in self.hosts:
            raise ValueError(f"add_host({repo.host!r}) before adding {repo.path}")
        self.repos[repo.key] = repo
        self.by_id[(repo.host, repo.id)] = repo
        return repo

    def move(self, old_path: str, repo: ForgeRepo, new_path: str) -> ForgeRepo:
        """Rename or transfer ``repo`` to ``new_path``; the old path answers as the host answers a moved one."""
        with self._lock:
            self.repos.pop(repo.key, None)
            self.moved[f"{repo.host}/{old_path}".lower()] = repo
            repo.path = new_path
            self.repos[repo.key] = repo
        return repo

    def key(self, url_or_key: str) -> str:
        """The repository key of a URL (or ``HOST/PATH``): Forgejo and Bitbucket paths end at ``owner/name``."""
        key = repo_key(url_or_key)
        host, _, path = key.partition("/")
        if host in self.hosts and self.hosts[host].kind != "gitlab":
            key = "/".join([host, *path.split("/")[:2]])
        return key

    def repo(self, url_or_key: str) -> ForgeRepo:
        """The repository at ``https://HOST/PATH`` (or ``HOST/PATH``), following moves; KeyError if none."""
        key = self.key(url_or_key)
        found = self.repos.get(key) or self.moved.get(key)
        if found is None:
            raise KeyError(url_or_key)
        return found

    def push(
        self,
        url_or_key: str,
        commits: int = 1,
        *,
        when: datetime | None = None,
        author: Person | None = None,
        merge: bool = False,
    ) -> list[Commit]:
        """New commits on the default branch, the last at ``when`` (default: now), one second apart.

        With ``merge`` the last of them is a merge commit whose second parent is
        a side commit made just before it (so ``commits`` >= 2). Returns them, oldest first.
        """
        repo = self.repo(url_or_key)
        if merge and commits < 2:
            raise ValueError("a merge needs at least two commits: the side commit and the merge")
        with self._lock:
            moment = when or self.now()
            first = moment - timedelta(seconds=commits - 1)
            if repo.newest is not None and first <= repo.newest:
                raise ValueError(f"a push at {first} is not newer than the head of {repo.path} ({repo.newest})")
            person = author or (repo.people[0] if repo.people else Person("Someone", "someone@example.org"))
            made: list[Commit] = []
            for number in range(commits):
                at = first + timedelta(seconds=number)
                parents = (repo.head,) if repo.head else ()
                if merge and number == commits - 2:
                    side = make_commit(repo, parents, person, at, at, "Topic change")
                    repo.commits[side.sha] = side  # on a topic branch: the head stays
                    made.append(side)
                    continue
                if merge and number == commits - 1:
                    parents, message = (*parents, made[-1].sha), "Merge branch 'topic'"
                else:
                    message = f"Change at {utc_text(at)}"
                commit = make_commit(repo, parents, person, at, at, message)
                repo.add_commit(commit)
                made.append(commit)
        return made

    def force_push(self, url_or_key: str, drop: int, commits: int = 1, when: datetime | None = None) -> list[Commit]:
        """Rewrite history: the head goes back ``drop`` first-parent steps, then ``commits`` new ones are pushed."""
        repo = self.repo(url_or_key)
        with self._lock:
            for _ in range(drop):
                if repo.head is None:
                    break
                parents = repo.commits[repo.head].parents
                repo.head = parents[0] if parents else None
            old_newest = max((c.committed for c in repo.commits.values()), default=None)
            moment = when or self.now()
            if old_newest is not None and moment - timedelta(seconds=commits - 1) <= old_newest:
                moment = old_newest + timedelta(seconds=commits)
            return self.push(url_or_key, commits, when=moment)

    # -- serving

    def answer(self, base: str, method: str, target: str, request: Mapping[str, str]) -> Answer:
        """Answer one request for ``/_forge/{host}/...``; ``base`` is the stand-in's URL, ``request`` its headers."""
        split = urlsplit(target)
        raw = split.path.split("/")[2:]  # drop "" and "_forge"
        host = self.hosts.get(unquote(raw[0]).lower()) if raw else None
        credential = request.get("authorization") or request.get("private-token")
        conditional = "if-none-match" in request or "if-modified-since" in request
        if host is None:
            answer = json_answer(404, {"message": "404 Not Found"}, "application/json")
            self._record(ForgeRequest("", "", "", None, method, target, 404, conditional, credential))
            return answer
        root = f"{base}/{PREFIX}/{host.name}"
        with self._lock:
            served = _SERVERS[host.kind](self, host, root, method, raw[1:], split.query, request)
        answer = served.answer
        self._record(
            ForgeRequest(
                host.name,
                host.kind,
                served.resource,
                served.repo,
                method,
                target,
                answer.status,
                conditional,
                credential,
                _items(answer) if served.resource != "repo" else None,
            )
        )
        return answer

    def _record(self, entry: ForgeRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def requests(
        self, host: str | None = None, resource: str | None = None, *, conditional: bool | None = None
    ) -> list[ForgeRequest]:
        """The logged requests, filtered by host, resource and whether they were conditional."""
        with self._lock:
            return [
                entry
                for entry in self.log
                if (host is None or entry.host == host)
                and (resource is None or entry.resource == resource)
                and (conditional is None or entry.conditional == conditional)
            ]

    def counts(self) -> Counter[tuple[str, str]]:
        """Requests per (host, resource)."""
        return Counter((entry.host, entry.resource) for entry in self.requests())

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # -- configuration and catalogue

    @staticmethod
    def api_url(base: str, host: str, kind: str) -> str:
        return f"{base}/{PREFIX}/{host}/{API_ROOTS[kind]}"

    def hosts_config(self, base: str, token_env: Mapping[str, str] | None = None) -> str:
        """The ``[hosts."..."]`` tables of a fetcher config naming this stand-in's URLs, one per host."""
        tables = []
        for host in self.hosts.values():
            lines = [
                f'[hosts."{host.name}"]',
                f'kind = "{host.kind}"',
                f'api_url = "{self.api_url(base, host.name, host.kind)}"',
            ]
            if token_env and host.name in token_env:
                lines.append(f'token_env = "{token_env[host.name]}"')
            tables.append("\n".join(lines) + "\n")
        return "\n".join(tables)

    # -- the truth

    def expected(self, repo_url: str, now: datetime | None = None) -> dict[str, Any]:
        """The repository fields a full sync of ``repo_url`` stores, by the definitions in the module docstring."""
        repo = self.repo(repo_url)
        host = self.hosts[repo.host]
        history = repo.history()
        midnight = today_midnight(now or self.now())
        stored = repo_url.rstrip("/")
        same = self.key(stored) == repo.key
        return {
            "repo_url": stored if same else repo.url,
            "repo_watchers": repo.stars,
            "repo_forks": repo.forks,
            "repo_description": repo.description or "",
            "last_updated": utc_text(repo.commits[repo.head].committed) if repo.head else None,
            "commits_over_52": weekly_counts(history, midnight),
            "participants": participants(repo, host.kind),
        }

    def expected_commit_count(self, repo_url: str) -> int:
        """The ``commit_count`` fact a sync stores: every commit of the default branch, merges included
        (GitLab's head ``sequence``, Forgejo's ``X-Total-Count``, Bitbucket's whole history paged)."""
        return len(self.repo(repo_url).history())

    def knows(self, repo_url: str) -> bool:
        host = (urlsplit(repo_url).hostname or "").lower()
        return host in self.hosts


def _items(answer: Answer) -> int | None:
    """Entries in a 200 list answer: a JSON array, or Bitbucket's ``values``."""
    if answer.status != 200:
        return None
    body = json.loads(answer.body)
    if isinstance(body, dict):
        body = body.get("values")
    return len(body) if isinstance(body, list) else None


def _items(answer: Answer) -> int | None:
    """Entries in a 200 list answer: a JSON array, or Bitbucket's ``values``."""
    if answer.status != 200:
        return None
    body = json.loads(answer.body)
    if isinstance(body, dict):
        body = body.get("values")
    return len(body) if isinstance(body, list) else None
