"""The forge world's data: hosts, repositories with real commit graphs, commits, authors, logged requests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Protocol
from urllib.parse import urlsplit

KINDS = ("gitlab", "forgejo", "bitbucket")
# Where each kind's API lives below its host: https://HOST/api/v4, https://HOST/api/v1, https://api.bitbucket.org/2.0
API_ROOTS = {"gitlab": "api/v4", "forgejo": "api/v1", "bitbucket": "2.0"}
PREFIX = "_forge"


def today_midnight(now: datetime) -> datetime:
    """The most recent UTC midnight at ``now``: where window 51 ends."""
    now = now.astimezone(timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Person:
    """A commit author: ``login`` is the account the host links the email to, None when it links none."""

    name: str
    email: str
    login: str | None = None
    utc_offset_hours: int = 0

    @cached_property
    def zone(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: Person
    authored: datetime
    committer: Person
    committed: datetime
    message: str

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass
class ForgeHost:
    """One forge host of the stand-in.

    ``token``: when set, a request must carry it in the kind's scheme (GitLab
    ``PRIVATE-TOKEN`` or ``Authorization: Bearer``; Forgejo ``Authorization:
    token``/``Bearer``; Bitbucket ``Authorization: Bearer``) or is answered 401,
    like a host refusing a bad token; unset, any credentials pass.
    ``rate_limit``: GitLab's requests per 60-second window (``RateLimit-*``
    headers on every answer, 429 with ``Retry-After`` past it, 304s counted
    as GitLab counts them); Forgejo and Bitbucket send no rate-limit headers.
    ``etags``: ETag/304 on JSON answers; set False to serve a host that sends none.
    ``follow_moves`` (GitLab): answer an old path with the project itself, under
    its new ``path_with_namespace``, instead of GitLab's 301 to ``/projects/{id}``
    (GitLab 16.4 and later); older instances look old paths up that way.
    """

    name: str
    kind: str
    token: str | None = None
    rate_limit: int = 2000
    etags: bool = True
    follow_moves: bool = False
    window_started: float = field(default=0.0, init=False, repr=False)
    window_used: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown forge kind {self.kind!r}: one of {', '.join(KINDS)}")


@dataclass
class ForgeRepo:
    """A repository on a forge host. ``path`` is as the host spells it: ``group/sub/project``, ``owner/name``.

    ``stars`` is GitLab's ``star_count``, Forgejo's ``stars_count`` and, as
    Bitbucket has no stars, Bitbucket's watchers; ``watchers`` is Forgejo's
    ``watchers_count`` (subscribers, not stars). ``commits`` holds every
    commit ever made, by sha; ``head`` is the default branch's.
    """

    host: str
    path: str
    id: int
    stars: int
    forks: int
    description: str | None
    created: datetime
    default_branch: str = "main"
    watchers: int = 1
    archived: bool = False
    archived_at: datetime | None = None
    commits: dict[str, Commit] = field(default_factory=dict)
    head: str | None = None
    people: list[Person] = field(default_factory=list)
    _history: tuple[str | None, list[Commit]] = field(default=(None, []), init=False, repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.host}/{self.path}".lower()

    @property
    def url(self) -> str:
        return f"https://{self.host}/{self.path}"

    @property
    def owner(self) -> str:
        return self.path.rsplit("/", 1)[0]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    def history(self, start: str | None = None) -> list[Commit]:
        """Every commit reachable from ``start`` (the head), newest committer date first (``git log``'s order).

        The head's is kept until the head moves: every list request walks it.
        """
        if start is not None and start != self.head:
            return self._walk(start)
        if self._history[0] != self.head:
            self._history = (self.head, self._walk(self.head))
        return self._history[1]

    def _walk(self, start: str | None) -> list[Commit]:
        seen: set[str] = set()
        stack = [start] if start else []
        while stack:
            sha = stack.pop()
            if sha in seen or sha not in self.commits:
                continue
            seen.add(sha)
            stack.extend(self.commits[sha].parents)
        return sorted((self.commits[sha] for sha in seen), key=lambda commit: commit.committed, reverse=True)

    def resolve(self, revision: str | None) -> str | None:
        """A branch name or a (possibly abbreviated) sha to a full sha; the default branch when None."""
        if revision is None or revision == "" or revision == self.default_branch:
            return self.head
        if len(revision) >= 7:
            for sha in self.commits:
                if sha.startswith(revision.lower()):
                    return sha
        return None

    def add_commit(self, commit: Commit) -> None:
        self.commits[commit.sha] = commit
        self.head = commit.sha

    @property
    def newest(self) -> datetime | None:
        return self.commits[self.head].committed if self.head else None


@dataclass(frozen=True)
class ForgeRequest:
    """One request a forge host answered: ``resource`` is repo, commits, contributors, watchers or forks.

    ``conditional`` means it carried If-None-Match or If-Modified-Since;
    ``credential`` is the Authorization (or GitLab PRIVATE-TOKEN) value sent, None if none;
    ``items`` how many entries a 200 list answer held (commits, contributors, watchers, forks), else None.
    """

    host: str
    kind: str
    resource: str
    repo: str | None
    method: str
    target: str
    status: int
    conditional: bool
    credential: str | None
    items: int | None = None


class RepoIndex(Protocol):
    """Where a host's server looks repositories up (``Forges``): by key, by old key after a move, by (host, id)."""

    repos: dict[str, ForgeRepo]
    moved: dict[str, ForgeRepo]
    by_id: dict[tuple[str, int], ForgeRepo]


def repo_key(url_or_key: str) -> str:
    """Lowercase ``HOST/PATH`` of a repository URL: no scheme, ``.git``, trailing slash or GitLab ``/-/...`` page."""
    text = url_or_key.strip()
    if "://" in text:
        split = urlsplit(text)
        text = f"{split.hostname}{split.path}"
    return text.split("/-/")[0].rstrip("/").removesuffix(".git").lower()


def _sha(repo: ForgeRepo, *parts: object) -> str:
    return hashlib.sha1(
        ":".join(str(part) for part in (repo.host, repo.id, len(repo.commits), *parts)).encode()
    ).hexdigest()


def make_commit(
    repo: ForgeRepo, parents: tuple[str, ...], author: Person, authored: datetime, committed: datetime, message: str
) -> Commit:
    return Commit(
        _sha(repo, committed.isoformat(), message),
        parents,
        author,
        authored.astimezone(author.zone),
        author,
        committed.astimezone(author.zone),
        message,
    )
