"""What happens to a forge world: commits and pushes, rewritten histories, and hosts that misbehave.

``Changes`` is a part of ``Forges``: each operation says what the world is
like (a merge, a force-push, a garbage-collected commit, a throttled or
unreachable host, a refusal, a lying header) and the hosts answer accordingly,
so a test never builds an HTTP answer itself.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from fetcher.standin.dates import utc_text
from fetcher.standin.forges.model import Commit, ForgeHost, ForgeRepo, Person, make_commit

_SOMEONE = Person("Someone", "someone@example.org")


class Changes:
    """The operations that change a forge world (mixed into ``Forges``)."""

    hosts: dict[str, ForgeHost]
    repos: dict[str, ForgeRepo]
    by_id: dict[tuple[str, int], ForgeRepo]
    _lock: threading.RLock

    def now(self) -> datetime:
        raise NotImplementedError

    def add_repo(self, repo: ForgeRepo) -> ForgeRepo:
        raise NotImplementedError

    def repo(self, url_or_key: str) -> ForgeRepo:
        raise NotImplementedError

    # -- histories

    def commit(
        self,
        url_or_key: str,
        when: datetime,
        *,
        author: Person | None = None,
        sha: str | None = None,
        parents: tuple[str, ...] | None = None,
        side: bool = False,
        message: str | None = None,
    ) -> Commit:
        """One commit at ``when`` (author and committer date alike), as a test writes a history.

        Its parents are the default branch's head unless ``parents`` names them
        (two or more: a merge). It moves the head to itself, unless ``side``: a
        commit on a topic branch, reachable only once a merge names it. ``sha``
        names it (any text without ``/`` or ``..``; generated shas are SHA-1
        hex); the hosts find a commit by that exact name too. Dates need not
        grow: git does not ask them to.
        """
        repo = self.repo(url_or_key)
        person = author or (repo.people[0] if repo.people else _SOMEONE)
        with self._lock:
            chosen = parents if parents is not None else ((repo.head,) if repo.head else ())
            missing = [parent for parent in chosen if parent not in repo.commits]
            if missing:
                raise ValueError(f"{repo.path} has no commit {missing[0]!r}")
            made = make_commit(repo, chosen, person, when, when, message or f"Change at {utc_text(when)}")
            if sha is not None:
                if "/" in sha or ".." in sha or sha in repo.commits:
                    raise ValueError(f"{sha!r} cannot name a new commit of {repo.path}")
                made = Commit(sha, made.parents, made.author, made.authored, made.committer, made.committed,
                              made.message)  # fmt: skip
            if side:
                repo.commits[made.sha] = made
                repo.pushed(when)
            else:
                repo.add_commit(made)
        return made

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
            person = author or (repo.people[0] if repo.people else _SOMEONE)
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

    def grow(self, url_or_key: str, commits: int, *, start: datetime, end: datetime,
             people: list[Person] | None = None) -> int:
        """``commits`` more commits on the default branch, committed evenly from ``start`` to ``end`` (after the
        head), their authors taking turns (``people``, else the repository's): a long history made cheaply, without
        merges. Returns the branch's length."""
        repo = self.repo(url_or_key)
        authors = people or repo.people or [_SOMEONE]
        step = (end - start) / max(commits - 1, 1)
        with self._lock:
            if repo.newest is not None and start <= repo.newest:
                raise ValueError(f"{start} is not newer than the head of {repo.path} ({repo.newest})")
            for number in range(commits):
                at = (start + step * number).replace(microsecond=0)
                person = authors[number % len(authors)]
                repo.add_commit(make_commit(repo, (repo.head,) if repo.head else (), person, at, at, f"Step {number}"))
            return len(repo.history())

    def push_while_paging(self, url_or_key: str, pages: int, commits: int = 1) -> None:
        """Once ``pages`` more pages of the repository's commits (lists of more than one) have been answered,
        ``commits`` new commits are pushed (``push``, at the world's clock): a push landing while a client pages,
        which shifts every page after it by that many commits for a client paging by the branch's name."""
        self.repo(url_or_key).push_after = (pages, commits)

    def remake(self, url_or_key: str, ident: int) -> ForgeRepo:
        """The repository deleted and made anew at the same path, empty: a new id ``ident`` (GitLab's project id,
        Forgejo's id, Bitbucket's uuid), none of its commits, the same counts and description."""
        old = self.repo(url_or_key)
        with self._lock:
            self.by_id.pop((old.host, old.id), None)
            self.repos.pop(old.key, None)
            fresh = ForgeRepo(old.host, old.path, ident, old.stars, old.forks, old.description, self.now(),
                              old.default_branch, old.watchers, people=list(old.people))
            return self.add_repo(fresh)

    def reset(self, url_or_key: str, sha: str) -> None:
        """Force-push an older commit: the default branch's head goes back to ``sha``. The commits it leaves
        behind are still known by sha (asking for them works) until ``prune``."""
        repo = self.repo(url_or_key)
        with self._lock:
            if sha not in repo.commits:
                raise ValueError(f"{repo.path} has no commit {sha!r}")
            repo.head = sha
            repo.pushed(self.now())

    def prune(self, url_or_key: str) -> list[str]:
        """Garbage-collect: forget every commit the default branch no longer reaches (after ``reset``), as git gc
        does; asking for one of them then answers 404. Returns their shas."""
        repo = self.repo(url_or_key)
        with self._lock:
            kept = {commit.sha for commit in repo.history()}
            gone = [sha for sha in repo.commits if sha not in kept]
            repo.forget(gone)
        return gone

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

    # -- hosts and repositories that misbehave

    def throttle(self, host: str, until: datetime | None) -> None:
        """The host's rate limit is spent until ``until`` (the world's clock); None lifts it. GitLab answers every
        request 429 ``Retry later`` with ``RateLimit-Remaining: 0``, ``RateLimit-Reset`` and ``Retry-After`` saying
        when; Bitbucket 429 ``Rate limit for this resource has been exceeded`` saying neither (its window is a
        rolling hour, and it documents no header). Forgejo limits no API request unless configured to."""
        found = self.hosts[host.lower()]
        if found.kind == "forgejo":
            raise ValueError(f"{host} is {found.kind}: its rate limit is not modelled (an instance sends none)")
        found.limited_until = until

    def take_down(self, host: str, message: str = "connection refused", *, resolves: bool = True) -> None:
        """Make ``host`` unreachable: nothing answers. In-process (``ForgeTransport``) the request fails with
        ``httpx.ConnectError(message)``, ``{authorization}`` in it replaced by the request's Authorization (an error
        that quotes the request's headers), raised from a ``socket.gaierror`` when not ``resolves`` (its name no
        longer resolves, the network down); over loopback the connection is dropped unanswered. Each attempt is
        still logged, with status 0."""
        found = self.hosts[host.lower()]
        found.down, found.resolves = message, resolves

    def stumble(self, host: str, status: int, where: str = "", times: int = 1) -> None:
        """The host's passing trouble: the next ``times`` requests to ``host`` whose target (path and query) holds
        ``where`` are answered ``status`` (a 502 or 503) with its gateway's HTML page, before the host sees them."""
        self.hosts[host.lower()].stumbles.append([status, where, times])

    def send_elsewhere(self, host: str, where: str, location: str) -> None:
        """A hostile host: every request to ``host`` whose target holds ``where`` is answered 301 to ``location``,
        another origin as readily as its own."""
        self.hosts[host.lower()].elsewhere.append((where, location))

    def bring_up(self, host: str) -> None:
        """Undo ``take_down``."""
        found = self.hosts[host.lower()]
        found.down, found.resolves = None, True

    def refuse(self, url_or_key: str, status: int, message: str) -> None:
        """Every request for the repository is answered ``status`` with ``message`` in the host's own error body
        (GitLab's ``{"message"}``, Forgejo's ``{"message", "url"}``, Bitbucket's ``{"type": "error", "error"}``);
        ``{authorization}`` in ``message`` becomes the credential the request carried, as a careless host echoes it."""
        self.repo(url_or_key).refusal = (status, message)

    def misdirect_next(self, url_or_key: str, next_url: str | None) -> None:
        """The repository's paged answers (Bitbucket's ``next``, GitLab's and Forgejo's ``Link: rel="next"``) say
        the next page is at ``next_url``, wherever that is: a hostile host's link off its API. None restores them."""
        self.repo(url_or_key).next_link = next_url

    def misreport_path(self, url_or_key: str, path: str | None, web_url: str | None = None) -> None:
        """The repository's answers say it is at ``path`` (GitLab's ``path_with_namespace``, Forgejo's and Bitbucket's
        ``full_name``), its web page at ``web_url`` (by default ``https://HOST/`` and that path: an answer that agrees
        with itself); anything at all, as a hostile host says it. The host still serves it where it is, and nothing
        at ``path``. None restores them."""
        repo = self.repo(url_or_key)
        repo.reported = None if path is None else (path, web_url if web_url is not None else f"https://{repo.host}/{path}")

    def misreport_total(self, url_or_key: str, text: str | None) -> None:
        """Forgejo's commits list says ``text`` in ``X-Total-Count`` (and ``X-Total``) for the repository instead of
        its count: a broken instance. None restores the count."""
        self.repo(url_or_key).total_count = text
