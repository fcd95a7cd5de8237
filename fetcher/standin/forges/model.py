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


# The software a host of each kind runs unless told otherwise (Bitbucket Cloud names none).
VERSIONS = {"gitlab": "17.8.1", "forgejo": "10.0.1+gitea-1.22.0", "bitbucket": None}
# GitLab 16.9 added a commit's ``sequence`` (its ancestors counted); an older GitLab answers its route 404.
SEQUENCE_SINCE = (16, 9)


@dataclass
class ForgeHost:
    """One forge host of the stand-in.

    ``token``: the token the host accepts. When set, a request that carries
    another (in the kind's scheme: GitLab ``PRIVATE-TOKEN`` or ``Authorization:
    Bearer``; Forgejo ``Authorization: token``/``Bearer``; Bitbucket
    ``Authorization: Bearer``: an access token) is answered 401, like a host rejecting a revoked
    token; a request with none passes (public projects); unset (and no ``api_token``), any credentials pass.
    ``api_token`` (Bitbucket): (email, token) of a user's API token, accepted only as HTTP Basic with that
    email; ``token`` then only as Bearer, and neither in the other's scheme.
    ``version``: the software it runs (``VERSIONS`` by default): Forgejo's
    ``/version`` answers it, and a GitLab older than 16.9 has no commit ``sequence``.
    ``rate_limit``: GitLab's requests per 60-second window of the world's clock
    (past it: 429 ``Retry later`` with ``RateLimit-*`` and ``Retry-After``; 304s
    counted as GitLab counts them); Forgejo and Bitbucket send no rate-limit headers.
    ``limited_until``: GitLab answers every request so until then (``Forges.throttle``).
    ``down``: set, the host cannot be reached (``Forges.take_down``); ``resolves``: False, its name does not
    resolve either.
    ``stumbles``: (status, where, times): the next ``times`` requests whose target holds ``where`` answer
    ``status`` from the host's gateway (``Forges.stumble``), a passing trouble.
    ``elsewhere``: (where, location): requests whose target holds ``where`` are answered 301 to ``location``
    (``Forges.send_elsewhere``), wherever that is.
    ``etags``: ETag/304 on GitLab's and Bitbucket's JSON answers; set False to serve a host that sends none.
    Forgejo sends none on repository and commit JSON, whatever this says.
    ``follow_moves`` (GitLab): answer an old path with the project itself, under
    its new ``path_with_namespace``, instead of GitLab's 301 to ``/projects/{id}``
    (GitLab 16.4 and later); older instances look old paths up that way.
    """

    name: str
    kind: str
    token: str | None = None
    api_token: tuple[str, str] | None = None
    version: str | None = None
    rate_limit: int = 2000
    limited_until: datetime | None = None
    down: str | None = None
    resolves: bool = True
    stumbles: list[list] = field(default_factory=list)
    elsewhere: list[tuple[str, str]] = field(default_factory=list)
    etags: bool = True
    follow_moves: bool = False
    window_started: datetime | None = field(default=None, init=False, repr=False)
    window_used: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown forge kind {self.kind!r}: one of {', '.join(KINDS)}")
        if self.version is None:
            self.version = VERSIONS[self.kind]

    @property
    def has_sequence(self) -> bool:
        """Whether this GitLab serves a commit's ``sequence`` (16.9 and later)."""
        numbers = tuple(int(part) for part in (self.version or "0").split("+")[0].split(".")[:2] if part.isdigit())
        return self.kind == "gitlab" and numbers >= SEQUENCE_SINCE

    @property
    def origin(self) -> str:
        """Where the host's own API lives: ``https://HOST``; Bitbucket Cloud's on ``https://api.HOST``."""
        return f"https://api.{self.name}" if self.kind == "bitbucket" else f"https://{self.name}"


@dataclass
class ForgeRepo:
    """A repository on a forge host. ``path`` is as the host spells it: ``group/sub/project``, ``owner/name``.

    ``stars`` is GitLab's ``star_count``, Forgejo's ``stars_count`` and, as
    Bitbucket has no stars, Bitbucket's watchers; ``watchers`` is Forgejo's
    ``watchers_count`` (subscribers, not stars). ``commits`` holds every
    commit ever made, by sha; ``head`` is the default branch's.

    What a broken or hostile host does with it (set by ``Forges``' operations):
    ``refusal`` (status, message) answers every request for it so;
    ``next_link`` is where its paged answers say the next page is;
    ``total_count`` is what Forgejo's commits list says in ``X-Total-Count``;
    ``reported`` (path, web URL) is where its answers say it is, wherever it is;
    ``push_after`` (pages, commits): that many commits are pushed once that many more pages of its commits are answered.
    ``updated`` is Forgejo's ``updated_at``: the time of the last push (each commit, reset or rewrite), else ``created``.
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
    refusal: tuple[int, str] | None = None
    next_link: str | None = None
    total_count: str | None = None
    reported: tuple[str, str] | None = None
    push_after: tuple[int, int] | None = None
    updated: datetime | None = None  # Forgejo's ``updated_at``: when it was last pushed to (``pushed``), else created
    _history: tuple[str | None, list[Commit]] = field(default=(None, []), init=False, repr=False, compare=False)
    _walked: dict[str, list[Commit]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.host}/{self.path}".lower()

    @property
    def url(self) -> str:
        return f"https://{self.host}/{self.path}"

    @property
    def said_path(self) -> str:
        """The path its answers report: its own, unless a hostile host says another (``Forges.misreport_path``)."""
        return self.reported[0] if self.reported else self.path

    @property
    def said_url(self) -> str:
        """The web page its answers report."""
        return self.reported[1] if self.reported else self.url

    @property
    def owner(self) -> str:
        return self.path.rsplit("/", 1)[0]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    def history(self, start: str | None = None) -> list[Commit]:
        """Every commit reachable from ``start`` (the head), newest committer date first (``git log``'s order).

        The head's is kept until the head moves, and a few others (a commit's ancestors never change while it is
        there): every list request walks one, and a long history paged is asked of one commit page after page.
        """
        if start is not None and start != self.head:
            if start not in self._walked:
                if len(self._walked) >= 4:
                    self._walked.clear()
                self._walked[start] = self._walk(start)
            return self._walked[start]
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
        if revision in self.commits:
            return revision
        if len(revision) >= 7:
            for sha in self.commits:
                if sha.startswith(revision.lower()):
                    return sha
        return None

    def forget(self, shas: list[str]) -> None:
        """Garbage-collected: these commits are gone (and what was walked from them)."""
        for sha in shas:
            del self.commits[sha]
        self._walked.clear()

    def add_commit(self, commit: Commit) -> None:
        self.commits[commit.sha] = commit
        self.head = commit.sha
        self.pushed(commit.committed)

    def pushed(self, moment: datetime) -> None:
        """A push (or a branch moved) at ``moment``: Forgejo sets ``updated_at`` to its time. A later push never
        leaves it as it was, even at a ``moment`` no later (commit dates need not grow; a push's own time does)."""
        last = self.updated or self.created
        self.updated = moment if moment > last else last + timedelta(seconds=1)

    @property
    def newest(self) -> datetime | None:
        return self.commits[self.head].committed if self.head else None


@dataclass(frozen=True)
class ForgeRequest:
    """One request a forge host answered: ``resource`` is repo, commits, contributors, watchers or forks
    (GitLab's ``sequence``; the probes ``projects``, ``version``, ``repositories``).

    ``target`` is the request target as the host saw it, ``url`` the whole URL;
    ``status`` 0 means no connection was made (a host taken down, or none the world has);
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
    url: str = ""


class RepoIndex(Protocol):
    """Where a host's server looks repositories up (``Forges``): by key, by old key after a move, by (host, id);
    and the world's clock."""

    repos: dict[str, ForgeRepo]
    moved: dict[str, ForgeRepo]
    by_id: dict[tuple[str, int], ForgeRepo]

    def now(self) -> datetime: ...


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
