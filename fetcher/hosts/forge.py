"""The order GitLab, Forgejo and Bitbucket share.

Each subclass says only what to ask its API and how to read the answers:

1. the repository's metadata (conditional): counts, description, default branch, path;
   a path other than the one asked is a move only once confirmed (`moved_to`);
2. the newest commit of the default branch (conditional): when it is the commit
   counted last time, nothing more about commits is asked at all; not even that when
   the metadata vouches that nothing was pushed since (`unchanged_since`: Forgejo's
   `updated_at`, as Forgejo sends no ETag to make the ask a 304);
3. otherwise only the commits made since (the host's own "new head, excluding the
   old one" query) are paged and added to the kept per-day (and per-author) counts;
   when they do not build on the old head, or the host no longer knows it, the history
   is counted again from scratch. Pages are counted as they come, never held whole, and
   at most HISTORY_PAGES of them in one run: a longer history is counted over several
   runs, kept where it stopped, its package due until the count reaches the head.

A forge's answers are read by its own rules (forge_service.py), a refusal failing its packages
alone while every other host goes on. A forge that cannot be reached, or whose rate limit is
spent beyond the allowed wait, is asked nothing more in the run and its packages are left due.
"""

from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, Sequence

from fetcher.cache import Cached, for_repo, revalidated
from fetcher.compat import FETCHER, Profile
from fetcher.config import HostConfig
from fetcher.errors import (BadResponse, Failure, HostUnavailable, LeftDue, NotFound, RateLimited, ServerError,
                            Unreachable, WindowSpent)
from fetcher.hosts import commit_counts
from fetcher.hosts.base import REJECTED, UNREACHABLE, Check, Host, RepoResult
from fetcher.hosts.commit_counts import BranchCounts, Commit
from fetcher.hosts.forge_service import ForgeCredential, ForgeService, TokenRefused
from fetcher.hosts.read import Pager, names
from fetcher.links import RepoRef, parse_repo_url
from fetcher.net.answer import Answer
from fetcher.net.client import Client
from fetcher.net.credentials import bearer, under
from fetcher.net.request import Request
from fetcher.record import parse_datetime

# The pages of a history one package may read in one run: 100 pages is 10,000 commits on GitLab and Bitbucket
# (100 a page) and 5,000 on Forgejo (50), a whole history for nearly every repository, yet a tenth of the 1,000
# requests an hour Bitbucket allows for repository data, and a worker slot held for seconds, not minutes. A longer
# history is counted on where it stopped by the next runs.
HISTORY_PAGES = 100
# Any other paged answer (GitLab's contributors): at most this many pages.
MAX_PAGES = 400


class Forge(Host):
    """A forge reached by REST: the shared order; subclasses say what to ask and how to read it."""

    kind = ""
    probe_path = ""  # one cheap request that shows the API answers and takes the token (`fetcher check`)
    with_authors = True  # participants counted from the history (False: the host lists contributors)
    whole_history = True  # a count from scratch pages the whole history (False: only the window's commits)
    window_spent_on_429 = False  # a 429 saying nothing more is a window spent for the run (Bitbucket's hour)
    # The 5xx a commits query naming a commit the host no longer has is answered with (GitLab and Bitbucket say
    # 404; Forgejo's git fails on it: 500): asked once, it means the history is counted again. Any other 5xx is
    # the host's trouble, asked again as anywhere.
    gone_server_errors: frozenset[int] = frozenset()

    def __init__(self, host: HostConfig, client: Client, share: int, profile: Profile = FETCHER):
        self.name = host.name
        self.profile = profile  # what the fields mean (fetcher.compat): the profile's choices this host makes
        self.api_url = host.api_url
        self.config = host
        self.service = ForgeService(host, self.credential(host), share, self.window_spent_on_429)
        self.client = client
        self._away: str | None = None  # why the host is asked nothing more in this run

    # -- what a subclass says ------------------------------------------------------------

    def ref(self, repo_url: str) -> RepoRef:
        return parse_repo_url(repo_url)

    @staticmethod
    def authorization(token: str) -> str:
        return bearer(token)

    def credential(self, host: HostConfig) -> ForgeCredential | None:
        """The credential every request of this host goes with: its token in the kind's scheme (None: no token)."""
        token = host.token()
        return ForgeCredential(self.authorization(token), host.api_url, host.token_env, [token]) if token else None

    def repo_url(self, ref: RepoRef) -> str:
        raise NotImplementedError

    def read_repo(self, answer: Answer) -> dict:
        """-> {"id", "path", "web_url", "stars", "forks", "description", "branch"}: `path` and `web_url` as the
        answer says them (a string or None, unchecked: `moved_to` decides what they are worth)."""
        raise NotImplementedError

    def is_path(self, path: str) -> bool:
        """Whether `path` is a repository path of this host's own grammar."""
        raise NotImplementedError

    def head_url(self, meta: dict) -> str:
        raise NotImplementedError

    def unchanged_since(self, before: Cached, meta: dict) -> bool:
        """Whether this metadata answer vouches that nothing was pushed since `before`, the one read with the
        commits kept: then the newest commit is not asked. A host whose answers carry ETags says so by a 304."""
        return False

    def read_head(self, answer: Answer) -> Commit | None:
        """The newest commit of the head_url answer (None: the branch has none): a one-commit list on every forge."""
        commits = self.read_commits(answer)
        return commits[0] if commits else None

    def read_total(self, answer: Answer) -> int | None:
        """The branch's total commit count where the newest-commit answer gives it (None: it does not)."""
        return None

    async def count_total(self, meta: dict, head: str) -> int | None:
        """The branch's total commit count up to `head` where the host has a count endpoint, asked only when
        the count is new and nothing else gave it (None: it has none)."""
        return None

    def commits_url(self, meta: dict, upto: str, exclude: str | None, now: datetime) -> str:
        """The first page of the commits of `upto` (a commit id), newest first: those not reachable from
        `exclude`, or (None) every commit the counts need."""
        raise NotImplementedError

    def read_commits(self, answer: Answer) -> list[Commit]:
        raise NotImplementedError

    def next_page(self, answer: Answer) -> str | None:
        raise NotImplementedError

    async def extras(self, meta: dict, cached: dict[str, Cached], key: str, head_moved: bool) -> dict[str, Cached]:
        """Further resources this host needs (Bitbucket's watchers and forks, GitLab's contributors)."""
        return {}

    def extra_fields(self, meta: dict, cached: dict[str, Cached], kept: BranchCounts) -> dict:
        return {}

    def keeps(self, resource: str, value: dict) -> bool:
        """Whether a cached answer holds what this profile reads (False: one kept before it did, asked afresh)."""
        return True

    def profile_fields(self, fields: dict, meta: dict, ref: RepoRef) -> dict:
        """The fields as the profile means them, where this host's differ from the default (fetcher.compat)."""
        return fields

    # -- the shared order ----------------------------------------------------------------

    async def fetch(self, repo_url: str, ref: RepoRef, batched, cache: dict[str, Cached]) -> RepoResult:
        """Everything a record needs from this forge; its failures are this package's alone, and a host that
        cannot be asked in this run leaves its packages due (LeftDue) rather than failing them."""
        if self._away is not None:
            raise LeftDue(self.api_url, self._away)  # asked nothing more: its other packages stay as they were
        try:
            return await self._fetch(repo_url, ref, cache)
        except RateLimited as failure:  # beyond sync.max_rate_limit_wait: the window is spent for this run
            raise self._left(failure.url, f"{self.name} rate limit until {failure.reset_at:%Y-%m-%d %H:%M:%S} UTC")
        except WindowSpent as failure:
            raise self._left(failure.url, str(failure).removesuffix(f" ({failure.url})"))
        except Unreachable as failure:
            reason = f"{self.name} unreachable: {str(failure).removesuffix(f' ({failure.url})')}"
            if failure.host in self.client.answered:  # it answered in this run: this package's connection alone
                raise HostUnavailable(failure.url, reason) from None
            raise self._left(failure.url, reason)

    def _left(self, url: str, reason: str) -> LeftDue:
        """The host is asked nothing more in this run, for the first reason found."""
        self._away = self._away or reason
        return LeftDue(url, self._away)

    async def _fetch(self, repo_url: str, ref: RepoRef, cache: dict[str, Cached]) -> RepoResult:
        now = self.client.clock()
        asked = self._key(ref.full_name)
        cached = {resource: for_repo(answer, asked) for resource, answer in cache.items()}
        cached = {resource: answer for resource, answer in cached.items()
                  if answer is not None and self.keeps(resource, answer.value)}
        repo = await self.revalidated("repo", self.repo_url(ref), cached.get("repo"), self.read_repo)
        path, repo = await self.moved_to(ref, repo) or (ref.full_name, repo)
        # The answers are kept under the path asked, or the one the repository confirmed it moved to.
        meta, key = {**repo.value, "path": path}, self._key(path)
        updates = {"repo": keyed(repo, key)}
        kept = BranchCounts.from_json(cached["commits"].value) if cached.get("commits") else None
        if kept is not None and kept.branch != (meta["branch"] or ""):
            kept = None  # the default branch changed: its history is another one
        # Nothing pushed since the counts kept were read, as the metadata says: the newest commit is not asked.
        settled = (kept is not None and kept.done and path == ref.full_name and cached.get("repo") is not None
                   and self.unchanged_since(cached["repo"], meta))
        commits, head_moved = await self._history(meta, cached.get("commits") if kept else None, kept, key, now,
                                                  settled)
        updates["commits"] = commits
        counted = BranchCounts.from_json(commits.value)
        extras = await self.extras(meta, cached, key, head_moved)
        updates.update(extras)
        fields = {
            "repo_watchers": meta["stars"],
            "repo_forks": meta["forks"],
            "repo_description": meta["description"] or "",
            "last_updated": parse_datetime(counted.head_date) if counted.head_date else None,
            "commits_over_52": commit_counts.weekly_counts(counted.days, now) if counted.head else [],
            **self.extra_fields(meta, {**cached, **extras}, counted),
            "repo_url": repo_url if path == ref.full_name else self.web_url(ref, path),
        }
        if counted.authors is not None:
            fields["participants"] = commit_counts.participants(counted.authors)
        fields = self.profile_fields(fields, meta, ref)
        found = {k: meta[k] for k in ("archived", "archived_at") if k in meta}
        found["commit_count"] = counted.commit_count()  # None, while it is not known, keeps the stored one
        note = None
        if not counted.done:
            note = (f"history still being counted ({counted.paging.pages if counted.paging else 0} pages read): "
                    "the next run goes on from there")
        return RepoResult(fields, updates, note=note, meta=found, continues=not counted.done)

    # -- moves -----------------------------------------------------------------------------

    async def moved_to(self, ref: RepoRef, repo: Cached) -> tuple[str, Cached] | None:
        """The path a repository moved to, and its answer there, when the answer confirms a move; else None.

        As GitHub's renames are taken: the answer reports another path, of this host's own grammar, its own
        web URL is that path on this host, and asked there the host answers the same repository under that path
        (one request, in the run that sees the move). Anything else keeps the person's URL.
        """
        reported, web = repo.value.get("path"), repo.value.get("web_url")
        if not (isinstance(reported, str) and self.is_path(reported)) or reported.lower() == ref.full_name.lower():
            return None
        if not (isinstance(web, str) and names(web, ref.host, reported)):
            return None
        there = RepoRef(ref.host, *reported.rsplit("/", 1))
        try:
            answer = await self.revalidated("repo", self.repo_url(there), None, self.read_repo)
        except (NotFound, BadResponse):
            return None
        same = answer.value.get("id") is not None and answer.value.get("id") == repo.value.get("id")
        return (reported, answer) if same and answer.value.get("path") == reported else None

    @staticmethod
    def web_url(ref: RepoRef, path: str) -> str:
        return f"https://{ref.host.removeprefix('www.')}/{path}"

    # -- the history ----------------------------------------------------------------------

    async def _history(self, meta, cached: Cached | None, kept: BranchCounts | None, key: str, now, settled=False):
        """The commits answer to keep (the counts, and where a count under way stopped), and whether the head moved."""
        whole = dict(with_authors=self.with_authors, whole=self.whole_history)
        if meta["branch"] is None:  # an empty repository has no branch yet
            return Cached({"repo": key, **commit_counts.empty("", with_authors=self.with_authors, whole=True)
                           .as_json()}, now), False
        head_answer = cached if settled else await self.revalidated(
            "commits", self.head_url(meta), cached,
            lambda answer: {"head": _commit_json(self.read_head(answer)), "total": self.read_total(answer)})
        if head_answer is cached:  # 304 (or nothing pushed since): the head has not moved
            counts = kept
        else:
            head = head_answer.value["head"]
            counts = replace(kept or commit_counts.empty(meta["branch"], **whole),
                             head=head["id"] if head else None, head_date=_utc(head["date"]) if head else None,
                             host_total=head_answer.value["total"])
        before = counts.counted
        counts = commit_counts.pruned(await self._count(meta, counts, now), now)
        if counts.done and counts.counted != before and counts.total is None and counts.head is not None:
            counts = replace(counts, total=await self.count_total(meta, counts.head))
        head_moved = kept is None or kept.head != counts.head
        return replace(head_answer, value={"repo": key, **counts.as_json()}), head_moved

    async def _count(self, meta: dict, counts: BranchCounts, now: datetime) -> BranchCounts:
        """The history counted up to the head as far as HISTORY_PAGES pages allow in this run: a count under way
        taken up where it stopped, then on top of what was counted (only the new commits), or from scratch."""
        whole = dict(with_authors=self.with_authors, whole=self.whole_history)
        if counts.head is None:  # the branch has no commits (any more)
            nothing = commit_counts.empty(counts.branch, with_authors=self.with_authors, whole=True)
            return replace(nothing, total=0 if self.whole_history else None, host_total=counts.host_total)
        budget = HISTORY_PAGES
        # A count that names a commit asked of before (one taken up from an earlier run, or one on top of the commit
        # counted): a 404 to its first page (Forgejo's 500, asked once) means the host no longer has that commit (a
        # force-push, then garbage collection; the repository made anew), and the history is counted from scratch.
        careful = counts.paging is not None
        while not counts.done and budget > 0:
            if counts.paging is None:
                careful = counts.counted is not None
                first = self.commits_url(meta, counts.head, counts.counted, now)
                counts = commit_counts.begin(counts, counts.head, first, scratch=not careful, **whole)
            try:
                counts, budget = await self._pages(counts, budget, now, careful)
            except _Gone:
                counts = replace(counts, paging=None, counted=None)
                continue
            if commit_counts.finished(counts):  # on top of a commit the new ones do not build on: from scratch
                counts = commit_counts.finish(counts) or replace(counts, paging=None, counted=None)
        return counts

    async def _pages(self, counts: BranchCounts, budget: int, now: datetime, careful: bool):
        """The count under way, read on page by page until its last or the budget's: (counts, budget left)."""
        pager = self.pager(budget)
        while budget > 0 and counts.paging.next:
            url = counts.paging.next
            if careful and not under(url, self.api_url):
                raise _Gone()  # a page kept under another api_url than the config's now: counted again
            final = self.gone_server_errors if careful else frozenset()
            try:
                answer = await self.client.send(self.service, Request(pager.admit(url), "commits",
                                                                      final_server_errors=final))
            except NotFound:
                if careful:
                    raise _Gone() from None
                raise
            except ServerError as failure:
                if failure.status in final:
                    raise _Gone() from None
                raise
            careful = False
            budget -= 1
            counts = commit_counts.tally(counts, self.read_commits(answer), self.next_page(answer), now)
        return counts, budget

    # -- requests ----------------------------------------------------------------------

    async def get(self, url: str, resource: str) -> Answer:
        return await self.client.send(self.service, Request(self.pager().admit(url), resource))

    async def revalidated(self, resource: str, url: str, cached: Cached | None,
                          read: Callable[[Answer], dict]) -> Cached:
        return await revalidated(self.client, self.service, Request(self.pager().admit(url), resource), cached, read)

    async def pages(self, url: str, resource: str):
        """Each page of a paged answer, following the host's next links (through one guarded Pager)."""
        pager = self.pager(MAX_PAGES)
        next_url: str | None = url
        while next_url:
            answer = await self.client.send(self.service, Request(pager.admit(next_url), resource))
            yield answer
            next_url = self.next_page(answer)

    def pager(self, most: int = 1) -> Pager:
        return Pager(self.api_url, f"{self.name} next page", most)

    def _key(self, path: str) -> str:
        return f"{self.name}/{path}".lower()

    # -- fetcher check ---------------------------------------------------------------------

    async def check(self, known: Sequence[str] = ()) -> list[Check]:
        """One cheap request (the kind's probe), for a forge the config file names or whose token is set."""
        token_env = self.config.token_env
        if not (self.config.named or self.service.credential):
            return []  # a built-in forge no one configured: nothing of it to check yet
        name = f"{self.name} ({self.kind}) {self.api_url}"
        who = f"token from {token_env} accepted" if self.service.credential else "no token"
        try:
            await self.client.send(self.service, Request(f"{self.api_url}{self.probe_path}", "probe", once=True))
        except NotFound:
            return [Check(name, True, f"answers (404 for {self.probe_path}); {who}")]
        except TokenRefused:
            if not self.service.credential:
                where = token_env or f'hosts."{self.name}".token_env'
                return [Check(name, False, f"asks for a token (401): set {where}", REJECTED)]
            return [Check(name, False, f"the token in {token_env} was rejected (401)", REJECTED)]
        except Unreachable as exc:
            return [Check(name, False, f"cannot reach it: {exc}", UNREACHABLE)]
        except Failure as exc:
            return [Check(name, False, f"does not answer as {self.kind} does: {exc}", UNREACHABLE)]
        return [Check(name, True, f"answers; {who}")]

    def secrets(self) -> list[str]:
        return self.service.secrets()


class _Gone(Exception):
    """The host no longer has a commit a count under way names: the history is counted again from scratch."""


def _utc(text: str) -> str:
    return parse_datetime(text).astimezone(timezone.utc).isoformat()


def keyed(answer: Cached, key: str) -> Cached:
    return replace(answer, value={**answer.value, "repo": key})


def _commit_json(commit: Commit | None) -> dict | None:
    if commit is None:
        return None
    return {"id": commit.id, "date": commit.committed.isoformat()}
