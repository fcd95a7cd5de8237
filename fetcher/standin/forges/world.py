"""The forge world: every forge host the stand-in serves, their repositories, moves, and the requests they answered."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from fetcher.standin.answers import Answer
from fetcher.standin.dates import utc_text
from fetcher.standin.fetcher_config import TOKEN_ENV
from fetcher.standin.forges import bitbucket, forgejo, gitlab
from fetcher.standin.forges.events import Changes
from fetcher.standin.forges.http import json_answer
from fetcher.standin.forges.model import (
    API_ROOTS,
    PREFIX,
    ForgeHost,
    ForgeRepo,
    ForgeRequest,
    repo_key,
    today_midnight,
)
from fetcher.standin.forges.truth import participants, weekly_counts

_SERVERS = {"gitlab": gitlab.serve, "forgejo": forgejo.serve, "bitbucket": bitbucket.serve}


class Forges(Changes):
    """Every forge host the stand-in serves, their repositories, moves, and the requests they answered.

    What happens to them (commits, pushes, rewrites, hosts that misbehave) is ``Changes``' (events.py).
    """

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
        """Serve ``repo`` on its host (added first); its id must be its own on that host."""
        if repo.host not in self.hosts:
            raise ValueError(f"add_host({repo.host!r}) before adding {repo.path}")
        other = self.by_id.get((repo.host, repo.id))
        if other is not None and other is not repo:
            raise ValueError(f"{repo.host} already has project {repo.id}: {other.path}")
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
        """The repository key of a URL (or ``HOST/PATH``): Forgejo and Bitbucket paths end at ``owner/name``; a
        ``www.`` before a host of the world is that host's, as the hosts themselves take it."""
        key = repo_key(url_or_key)
        host, _, path = key.partition("/")
        if host not in self.hosts and host.removeprefix("www.") in self.hosts:
            host = host.removeprefix("www.")
            key = f"{host}/{path}"
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

    # -- serving

    def answer(self, base: str, method: str, target: str, request: Mapping[str, str]) -> Answer:
        """Answer one request for ``/_forge/{host}/...``; ``base`` is the stand-in's URL, ``request`` its headers.

        Status 0: nothing answers (a host taken down); the loopback server drops the connection.
        """
        split = urlsplit(target)
        raw = split.path.split("/")[2:]  # drop "" and "_forge"
        name = unquote(raw[0]).lower() if raw else ""
        rest = "/" + "/".join(raw[1:])
        return self.answer_at(name, f"{base}/{PREFIX}/{name}", method, rest, split.query, request, target)

    def answer_url(self, method: str, url: str, request: Mapping[str, str]) -> Answer:
        """Answer one request for a forge host at its own API URL (``https://gitlab.com/api/v4/...``,
        ``https://api.bitbucket.org/2.0/...``: ``ForgeHost.origin``), as ``ForgeTransport`` does in-process.

        Status 0: nothing answers (a host taken down, or an origin no host of the world has); logged all the same.
        """
        split = urlsplit(url)
        origin = f"{split.scheme}://{split.netloc}".lower()
        target = split.path + (f"?{split.query}" if split.query else "")
        for host in self.hosts.values():
            if host.origin == origin:
                return self.answer_at(host.name, origin, method, split.path, split.query, request, target)
        credential = request.get("authorization") or request.get("private-token")
        conditional = "if-none-match" in request or "if-modified-since" in request
        self._record(ForgeRequest(split.hostname or "", "", "", None, method, target, 0, conditional, credential,
                                  url=url))  # fmt: skip
        return Answer(0, f"no such host: {split.hostname}".encode())

    def answer_at(
        self, name: str, root: str, method: str, path: str, query: str, request: Mapping[str, str], target: str
    ) -> Answer:
        """Answer one request for the forge host ``name`` served at ``root``: ``path`` below it (percent-encoded)
        and ``query``; ``target`` is what the log keeps. The request is logged."""
        host = self.hosts.get(name)
        credential = request.get("authorization") or request.get("private-token")
        conditional = "if-none-match" in request or "if-modified-since" in request
        url = root + path + (f"?{query}" if query else "")
        if host is None:
            answer = json_answer(404, {"message": "404 Not Found"}, "application/json")
            self._record(ForgeRequest(name, "", "", None, method, target, 404, conditional, credential, url=url))
            return answer
        if host.down is not None:
            said = host.down.replace("{authorization}", request.get("authorization") or "")
            self._record(ForgeRequest(host.name, host.kind, "", None, method, target, 0, conditional, credential,
                                      url=url))  # fmt: skip
            return Answer(0, said.encode())
        stumbled = self._stumbled(host, target)
        if stumbled is not None:
            self._record(ForgeRequest(host.name, host.kind, "", None, method, target, stumbled.status, conditional,
                                      credential, url=url))  # fmt: skip
            return stumbled
        with self._lock:
            served = _SERVERS[host.kind](self, host, root, method, path.split("/")[1:], query, request)
        answer = served.answer
        items = _items(answer) if served.resource not in ("repo", "version") else None
        if served.resource == "commits" and served.repo and (items or 0) > 1:
            self._paged(f"{host.name}/{served.repo}")
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
                items,
                url,
            )
        )
        return answer

    def _stumbled(self, host: ForgeHost, target: str) -> Answer | None:
        """The gateway's answer when the host stumbles on this request (``stumble``), or its redirect when it sends
        it elsewhere (``send_elsewhere``); else None."""
        for where, location in host.elsewhere:
            if where in target:
                return Answer(301, b"", {"Location": location})
        with self._lock:
            for trouble in host.stumbles:
                status, where, times = trouble
                if times > 0 and where in target:
                    trouble[2] -= 1
                    page = f"<html><body><h1>{status}</h1>The server is having trouble.</body></html>"
                    return Answer(status, page.encode(), {"Content-Type": "text/html"})
        return None

    def _paged(self, key: str) -> None:
        """A page of a repository's commits was answered: a push waiting for it lands (``push_while_paging``)."""
        with self._lock:
            repo = self.repos.get(key.lower())
            if repo is None or repo.push_after is None:
                return
            pages, commits = repo.push_after
            repo.push_after = (pages - 1, commits) if pages > 1 else None
            if pages <= 1:
                self.push(key, commits)

    def _record(self, entry: ForgeRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def requests(
        self,
        host: str | None = None,
        resource: str | None = None,
        *,
        conditional: bool | None = None,
        repo: str | None = None,
    ) -> list[ForgeRequest]:
        """The logged requests, filtered by host, resource, whether they were conditional, and the repository
        (its path on the host, any case: the one asked for, a moved one's old path on the redirect)."""
        with self._lock:
            return [
                entry
                for entry in self.log
                if (host is None or entry.host == host)
                and (resource is None or entry.resource == resource)
                and (conditional is None or entry.conditional == conditional)
                and (repo is None or (entry.repo or "").lower() == repo.lower())
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
        """Where the loopback stand-in at ``base`` serves ``host``'s API."""
        return f"{base}/{PREFIX}/{host}/{API_ROOTS[kind]}"

    def own_api_url(self, host: str) -> str:
        """Where ``ForgeTransport`` serves ``host``'s API: the host's own (``https://gitlab.com/api/v4``,
        ``https://api.bitbucket.org/2.0``), so a config's built-in hosts need no table."""
        found = self.hosts[host.lower()]
        return f"{found.origin}/{API_ROOTS[found.kind]}"

    def hosts_config(self, base: str, token_env: Mapping[str, str] | None = None) -> str:
        """The ``[hosts."..."]`` tables of a fetcher config naming this stand-in's URLs, one per host.

        Each reads its token from the variable ``token_env`` names for it, else from the stand-in's own
        (``fetcher_config.TOKEN_ENV``): never a real forge's, so a GITLAB_TOKEN set for gitlab.com is not sent here.
        """
        tables = []
        for host in self.hosts.values():
            lines = [
                f'[hosts."{host.name}"]',
                f'kind = "{host.kind}"',
                f'api_url = "{self.api_url(base, host.name, host.kind)}"',
                f'token_env = "{(token_env or {}).get(host.name, TOKEN_ENV)}"',
            ]
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

    def resolves(self, url: str) -> bool:
        """Whether the name of the host at ``url`` (its own API URL) resolves: not for a host taken down so, nor for
        one the world has no host at (no name outside the world resolves in it)."""
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url)).lower()
        found = [host for host in self.hosts.values() if host.origin == origin]
        return bool(found) and all(host.resolves for host in found)

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
