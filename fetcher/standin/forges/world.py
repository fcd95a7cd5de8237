"""GitLab, Forgejo (Gitea, Codeberg) and Bitbucket Cloud in the stand-in: their repositories, histories and truth.

URL convention. Every forge host is served by the same stand-in under
``{standin.url}/_forge/{host}/`` followed by that host's own API path::

    {standin.url}/_forge/gitlab.com/api/v4/projects/group%2Fsub%2Fproject     GitLab API v4
    {standin.url}/_forge/gitlab.example.org/api/v4/...                         a self-hosted GitLab
    {standin.url}/_forge/codeberg.org/api/v1/repos/owner/name                  Forgejo API v1
    {standin.url}/_forge/git.example.org/api/v1/...                            a self-hosted Forgejo
    {standin.url}/_forge/bitbucket.org/2.0/repositories/workspace/slug         Bitbucket Cloud API 2.0

so a host's ``api_url`` is ``Forges.api_url(standin.url, host)`` and
``Forges.hosts_config(standin.url)`` writes the ``[hosts."..."]`` tables of a
fetcher config. The catalogue keeps the real ``repo_url`` (``https://HOST/PATH``).

A repository's default branch is a real commit graph: every commit has a sha,
parents (merge commits have two), author and committer with dates and time
zones, and an author who is, or is not, linked to an account on the host. The
hosts list what is reachable from the head, newest committer date first, as
``git log`` does. ``Forges.push`` adds commits, ``Forges.force_push`` rewrites
the newest ones, ``Forges.move`` renames or transfers a repository.

The truth (``Forges.expected``) is computed here from the graph, never from
what fetcher does, to the issue's definitions:

- ``commits_over_52``: 52 counts, oldest first; window ``i`` holds the commits
  whose committer date ``d`` satisfies ``start_i <= d < end_i`` where
  ``end_51`` is today's UTC midnight and each window is seven days. Merge
  commits (more than one parent) are not counted; commits after today's
  midnight are in no window yet.
- ``participants``: GitLab -- the names of ``repository/contributors`` ordered
  by commits, most first, each name once; Forgejo and Bitbucket -- the authors
  of the whole default-branch history (merges included), keyed by the linked
  account's login (Forgejo) or nickname (Bitbucket), else the author's name,
  most commits first, ties in alphabetical order of the key.
- ``last_updated``: the committer date (Bitbucket: ``date``) of the head
  commit, in UTC, ``YYYY-MM-DDTHH:MM:SSZ``.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from itertools import accumulate
from typing import Any
from urllib.parse import unquote, urlsplit

from fetcher.standin.answers import Answer
from fetcher.standin.forges import bitbucket as forge_bitbucket
from fetcher.standin.forges import forgejo as forge_forgejo
from fetcher.standin.forges import gitlab as forge_gitlab
from fetcher.standin.forges.http import json_answer
from fetcher.standin.generate import catalog_record, random_version

KINDS = ("gitlab", "forgejo", "bitbucket")
# Where each kind's API lives below its host: https://HOST/api/v4, https://HOST/api/v1, https://api.bitbucket.org/2.0
API_ROOTS = {"gitlab": "api/v4", "forgejo": "api/v1", "bitbucket": "2.0"}
PREFIX = "_forge"
WEEKS = 52
_DAY = timedelta(days=1)
_SERVERS = {"gitlab": forge_gitlab.serve, "forgejo": forge_forgejo.serve, "bitbucket": forge_bitbucket.serve}
# The hosts of a generated world: each kind on its public host and self-hosted.
DEFAULT_HOSTS = {
    "gitlab.com": "gitlab",
    "gitlab.example.org": "gitlab",
    "codeberg.org": "forgejo",
    "git.example.org": "forgejo",
    "bitbucket.org": "bitbucket",
}


def today_midnight(now: datetime) -> datetime:
    """The most recent UTC midnight at ``now``: where window 51 ends."""
    now = now.astimezone(timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the data ------------------------------------------------------------------------


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


# --- the world ----------------------------------------------------------------------------


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

    def add_generated(self, rng: random.Random, host: str, path: str, *, quiet: bool = False) -> ForgeRepo:
        """A repository with seeded counts and history (see ``generate_history``); ``quiet`` ones are archived."""
        kind = self.hosts[host].kind
        stars = int(rng.lognormvariate(3.0, 1.5))
        repo = ForgeRepo(
            host=host,
            path=path,
            id=500_000 + len(self.repos) + len(self.moved),
            stars=stars,
            forks=int(stars * rng.uniform(0.05, 0.4)),
            description=f"{path.rsplit('/', 1)[-1].replace('-', ' ').title()}: a Django app.",
            created=today_midnight(self.now()) - timedelta(days=rng.randint(500, 3000), seconds=rng.randrange(86400)),
            default_branch=rng.choice(["main", "master", "develop"]),
            watchers=max(1, stars // 7),
        )
        repo.people = _people(rng, host, rng.randint(2, 7))
        # Bitbucket shows one date per commit, so its commits are never rebased: that date is unambiguous.
        generate_history(rng, repo, self.now(), active=not quiet, rebased=0.0 if kind == "bitbucket" else 0.125)
        if quiet:
            repo.archived, repo.archived_at = True, repo.newest
        return self.add_repo(repo)

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
        key = _key(url_or_key)
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
                    side = _commit(repo, parents, person, at, at, "Topic change")
                    repo.commits[side.sha] = side  # on a topic branch: the head stays
                    made.append(side)
                    continue
                if merge and number == commits - 1:
                    parents, message = (*parents, made[-1].sha), "Merge branch 'topic'"
                else:
                    message = f"Change at {utc_text(at)}"
                commit = _commit(repo, parents, person, at, at, message)
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
        if host.kind == "gitlab":
            participants = list(dict.fromkeys(c["name"] for c in forge_gitlab.contributors(repo, "commits", "desc")))
        else:
            participants = history_participants(history)
        stored = repo_url.rstrip("/")
        same = self.key(stored) == repo.key
        return {
            "repo_url": stored if same else repo.url,
            "repo_watchers": repo.stars,
            "repo_forks": repo.forks,
            "repo_description": repo.description or "",
            "last_updated": utc_text(repo.commits[repo.head].committed) if repo.head else None,
            "commits_over_52": weekly_counts(history, midnight),
            "participants": participants,
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


def weekly_counts(history: Iterable[Commit], midnight: datetime) -> list[int]:
    """Non-merge commits per seven-day window by committer date, oldest first; window 51 ends at ``midnight``."""
    counts = [0] * WEEKS
    start = midnight - timedelta(weeks=WEEKS)
    for commit in history:
        if commit.is_merge or not start <= commit.committed < midnight:
            continue
        counts[(commit.committed - start) // timedelta(weeks=1)] += 1
    return counts


def author_key(commit: Commit) -> str:
    """Who a commit counts for: the linked account (Forgejo login, Bitbucket nickname), else the author's name."""
    return commit.author.login or commit.author.name


def history_participants(history: Iterable[Commit]) -> list[str]:
    """Forgejo's and Bitbucket's participants: authors by commits, most first, ties alphabetical."""
    counts = Counter(author_key(commit) for commit in history)
    return [key for key, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _key(url_or_key: str) -> str:
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


def _commit(
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


# --- generation ------------------------------------------------------------------------


_FIRST_NAMES = [
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Guido",
    "Barbara",
    "Ken",
    "Frances",
    "Dennis",
    "Radia",
    "Alan",
    "Edsger",
]
_LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "van Rossum",
    "Liskov",
    "Thompson",
    "Allen",
    "Ritchie",
    "Perlman",
]


def _people(rng: random.Random, host: str, count: int) -> list[Person]:
    """Authors: most linked to an account, some not, one with a second email (GitLab lists them twice), a bot."""
    people = []
    domain = "users.noreply." + host
    for number in range(count):
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)} {number}"
        handle = name.split()[0].lower() + str(number)
        linked = number == 0 or rng.random() < 0.6
        people.append(
            Person(
                name,
                f"{handle}@{domain if linked else 'example.com'}",
                handle if linked else None,
                rng.choice([-5, -4, 0, 1, 2, 9]),
            )
        )
    if people:
        first = people[0]
        people.append(Person(first.name, f"{first.login}@work.example", first.login, first.utc_offset_hours))
    people.append(Person("Weblate", "noreply@weblate.org"))
    return people


def generate_history(
    rng: random.Random, repo: ForgeRepo, now: datetime, *, active: bool = True, rebased: float = 0.125
) -> None:
    """A history whose commits fall on both sides of every window edge, with merges and rebased commits.

    Active repositories commit through the year, with commits exactly at the
    first window's start, one second before it, at a boundary between two
    windows, one second before today's midnight and exactly at it (the head:
    today, in no window yet); quiet ones stopped more than a year ago. The same seed and day give the same history.
    """
    midnight = today_midnight(now)
    start = midnight - timedelta(weeks=WEEKS)
    times: set[datetime] = set()
    if active:
        times |= {start, start - timedelta(seconds=1), midnight - timedelta(weeks=26), midnight - timedelta(seconds=1)}
        times.add(midnight)  # today: in no window yet
        for _ in range(rng.randint(25, 90)):
            times.add(start + timedelta(seconds=rng.randrange(int((midnight - start).total_seconds()))))
        begin = repo.created
    else:
        begin = repo.created
        quiet_since = start - timedelta(days=rng.randint(10, 400))
        times.add(quiet_since)
    end = min(times) if times else midnight
    for _ in range(rng.randint(10, 40)):
        span = max(1, int((end - begin).total_seconds()))
        times.add(begin + timedelta(seconds=rng.randrange(span)))
    ordered = sorted(moment.replace(microsecond=0) for moment in times)
    # Most commits by the first few people, Zipf-like.
    weights = list(accumulate(1 / (rank + 1) for rank in range(len(repo.people))))
    index = 0
    while index < len(ordered):
        person = rng.choices(repo.people, cum_weights=weights)[0]
        remaining = len(ordered) - index
        if remaining >= 4 and rng.random() < 0.12:
            # A topic branch of one to three commits merged with a merge commit.
            side = min(rng.randint(1, 3), remaining - 1)
            base = repo.head
            tip = base
            for _ in range(side):
                at = ordered[index]
                author = rng.choices(repo.people, cum_weights=weights)[0]
                commit = _commit(repo, (tip,) if tip else (), author, at, at, f"Topic work {index}")
                repo.commits[commit.sha] = commit
                tip = commit.sha
                index += 1
            at = ordered[index]
            repo.add_commit(
                _commit(repo, (base, tip) if base else (tip,), person, at, at, f"Merge branch 'topic-{index}'")
            )
        else:
            at = ordered[index]
            # Some commits were rebased: written days before they were committed.
            authored = at - timedelta(days=rng.randint(1, 20)) if rng.random() < rebased else at
            repo.add_commit(_commit(repo, (repo.head,) if repo.head else (), person, authored, at, f"Change {index}"))
        index += 1


def generate(
    seed: int = 0,
    per_host: int = 3,
    hosts: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> tuple[Forges, list[dict[str, Any]]]:
    """A forge world and the catalogue's repository URLs: ``per_host`` repositories on every host,

    plus, per host, one moved repository (the catalogue names its old path) and
    one missing (404). GitLab paths nest groups (``group/sub/project``); one
    repository per host stopped committing more than a year ago. Returns the
    world and, per repository, ``{"repo_url": ..., "slug": ...}`` for catalogue records.
    """
    forges = Forges(now)
    rng = random.Random(f"forges:{seed}")
    entries = []
    for host_name, kind in (hosts or DEFAULT_HOSTS).items():
        forges.add_host(host_name, kind)
        label = host_name.split(".")[0]
        for number in range(per_host + 1):
            repo = forges.add_generated(rng, host_name, _path(kind, label, number), quiet=number == 2)
            if number == 1:
                repo.description = None
            slug = f"{host_name.replace('.', '-')}-{repo.name}"
            if number == per_host:  # the last one was moved: the catalogue still names its old path
                old = f"{repo.owner}/{repo.name}-old" if kind != "gitlab" else f"old-{label}/{repo.name}"
                forges.move(old, repo, repo.path)
                repo_url = f"https://{host_name}/{old}"
            else:
                repo_url = repo.url
            entries.append({"slug": slug, "repo_url": repo_url})
        entries.append(
            {
                "slug": f"{host_name.replace('.', '-')}-gone",
                "repo_url": f"https://{host_name}/{_missing_path(kind, label)}",
            }
        )
    return forges, entries


def _path(kind: str, label: str, number: int) -> str:
    greek = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"][number % 8]
    name = f"django-{label}-{greek}{number // 8 or ''}"
    if kind == "gitlab":
        depth = number % 3  # a user namespace, a group, a group with subgroups
        groups = ["Jazz-Band", "apps", "contrib"][: depth + 1] if depth else [f"user{number}"]
        return "/".join([*groups, name])
    owner = f"Org{number}" if kind == "forgejo" else f"workspace{number}"
    return f"{owner}/{name}"


def _missing_path(kind: str, label: str) -> str:
    return "ghost/group/nothing-here" if kind == "gitlab" else f"ghost/{label}-nothing-here"


def add_to_world(
    world: Any,
    seed: int = 0,
    per_host: int = 3,
    hosts: Mapping[str, str] | None = None,
    now: datetime | None = None,
    first_index: int = 100_000,
) -> list[dict[str, Any]]:
    """Give ``world`` (a ``fetcher.standin.World``) generated forge hosts; their catalogue records, a PyPI project each.

    Record ids start at ``first_index + 1``, clear of a generated GitHub catalogue.
    """
    forges, entries = generate(seed, per_host, hosts, now)
    world.forges = forges
    rng = random.Random(f"forge-pypi:{seed}")
    records = []
    for offset, entry in enumerate(entries):
        world.add_pypi(entry["slug"], random_version(rng))
        pypi_url = f"https://pypi.org/project/{entry['slug']}/"
        records.append(catalog_record(first_index + offset, entry["slug"], entry["repo_url"], pypi_url))
    return records


def add_catalog(
    world: Any, records: Iterable[Mapping[str, Any]], seed: int = 0, hosts: Mapping[str, str] | None = None
) -> Forges:
    """Serve the forge repositories a catalogue names (``https://HOST/PATH`` on ``hosts``), generated from ``seed``.

    For a world from ``World.from_catalog``, which serves the GitHub ones and
    every PyPI project; ``.git``, a trailing slash, GitLab's ``/-/...`` and what
    follows ``owner/name`` elsewhere are dropped from the path. Returns the forges, also set as ``world.forges``.
    """
    kinds = dict(hosts or DEFAULT_HOSTS)
    forges = world.forges or Forges()
    for name, kind in kinds.items():
        if name not in forges.hosts:
            forges.add_host(name, kind)
    rng = random.Random(f"forge-catalog:{seed}")
    for record in records:
        url = (record.get("repo_url") or "").strip()
        host = (urlsplit(url).hostname or "").lower()
        if host not in kinds or forges.key(url) in forges.repos:
            continue
        # The path as the catalogue spells it, cut where the key is cut.
        path = urlsplit(url).path.strip("/")[: len(forges.key(url)) - len(host) - 1]
        if "/" in path:
            forges.add_generated(rng, host, path)
    world.forges = forges
    return forges
