"""What every host answers with, and what the forges other than GitHub share.

A host turns one repository into a `RepoResult`: the record fields it gave and the
pieces to keep for next time. `sync` knows nothing more of any host than that (and
that a host may offer a batch step, as GitHub's GraphQL does).

`Forge` is the shared order for GitLab, Forgejo and Bitbucket; each subclass says
only what to ask its API and how to read the answers:

1. the repository's metadata (conditional): counts, description, default branch, path;
2. the newest commit of the default branch (conditional): when it is the commit
   counted last time, nothing more about commits is asked at all;
3. otherwise only the commits made since (the host's own "new head, excluding the
   old one" query) are asked and added to the kept per-day (and per-author) counts;
   when they do not build on the old head, the history was rewritten, and it is
   counted again from scratch.

The token is granted to requests under the host's own API URL only (Http.grant).
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Callable

import httpx

from fetcher.errors import (
    BadResponse, HostUnavailable, NotFound, RateLimited, RunRefused, TokenRejected, Unreachable,
)
from fetcher.hosts import commit_counts
from fetcher.hosts.commit_counts import Commit, History
from fetcher.net.client import Http, origin
from fetcher.net.answer import Answer
from fetcher.cache import Cached, for_repo
from fetcher.record import parse_datetime
from fetcher.links import RepoRef, parse_repo_url

# Pages one resource may take: a history this long is paged once, then only what is new.
MAX_PAGES = 400


@dataclass(frozen=True)
class RepoResult:
    fields: dict  # the record fields this host gave
    updates: dict[str, Cached]  # resource -> piece to keep for next time
    pending: bool = False  # the sparkline was kept because the host was still computing it
    note: str | None = None  # another part of the record the host kept as it was, and why
    meta: dict = field(default_factory=dict)  # the repository as the host reported it: facts read its optional
    # keys (archived, archived_at, commit_count); a key a host does not report keeps its stored fact


class Forge:
    """A forge reached by REST: the shared order; subclasses say what to ask and how to read it."""

    kind = ""
    probe_path = ""  # one cheap request that shows the API answers and takes the token (`fetcher check`)
    with_authors = True  # participants counted from the history (False: the host lists contributors)
    whole_history = True  # a count from scratch pages the whole history (False: only the window's commits)

    def __init__(self, name: str, api_url: str, token: str | None, token_env: str | None,
                 http: Http, clock: Callable[[], datetime]):
        self.name = name
        self.api_url = api_url
        self._token_env = token_env
        self._http = http
        # The token goes with requests under this API's URL only (and none at all without one: another
        # API on the same origin never lends its own).
        http.grant(api_url, self.auth_headers(token)["Authorization"] if token else None)
        self._clock = clock
        self._answered = False  # some repository of this host was read in this run
        self._down: str | None = None  # why the host is given up on for this run

    # -- what a subclass says ------------------------------------------------------------

    def ref(self, repo_url: str) -> RepoRef:
        return parse_repo_url(repo_url)

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def repo_url(self, ref: RepoRef) -> str:
        raise NotImplementedError

    def read_repo(self, answer: Answer) -> dict:
        """-> {"path", "stars", "forks", "description", "branch", "id"}"""
        raise NotImplementedError

    def head_url(self, meta: dict) -> str:
        raise NotImplementedError

    def read_head(self, answer: Answer) -> Commit | None:
        """The newest commit of the head_url answer (None: the branch has none): a one-commit list on every forge."""
        commits = self.read_commits(answer)
        return commits[0] if commits else None

    def read_total(self, answer: Answer) -> int | None:
        """The branch's total commit count where the newest-commit answer gives it (None: it does not)."""
        return None

    async def count_total(self, meta: dict, head: str) -> int | None:
        """The branch's total commit count up to `head` where the host has a count endpoint, asked only when
        the head moved and nothing else gave it (None: it has none)."""
        return None

    def commits_url(self, meta: dict, exclude: str | None, now: datetime) -> str:
        """The first page of the branch's commits, newest first: those not reachable from `exclude`,
        or (None) every commit the counts need."""
        raise NotImplementedError

    def read_commits(self, answer: Answer) -> list[Commit]:
        raise NotImplementedError

    def next_page(self, answer: Answer) -> str | None:
        raise NotImplementedError

    async def extras(self, meta: dict, cached: dict[str, Cached], key: str, head_moved: bool) -> dict[str, Cached]:
        """Further pieces this host needs (Bitbucket's watchers and forks, GitLab's contributors)."""
        return {}

    def extra_fields(self, meta: dict, pieces: dict[str, Cached], kept: History) -> dict:
        return {}

    # -- the shared order ----------------------------------------------------------------

    async def fetch(self, repo_url: str, ref: RepoRef, meta, cache: dict[str, Cached]) -> RepoResult:
        """Everything a record needs from this forge; its failures are this package's alone."""
        if self._down is not None:
            # It could not be reached at all this run: its other packages fail at once, without waiting on it.
            raise HostUnavailable(self.api_url, self._down)
        try:
            result = await self._fetch(repo_url, ref, cache)
            self._answered = True
            return result
        except TokenRejected as failure:
            hint = f"check ${self._token_env} or unset it" if self._token_env else "check its token"
            raise HostUnavailable(failure.url, f"{self.name} rejected the token (401): {hint}") from None
        except RunRefused as failure:  # read as GitHub's would be, but a forge's refusal is its packages' alone
            raise HostUnavailable(failure.url, f"{self.name} refused: {failure}") from None
        except RateLimited as failure:
            raise HostUnavailable(
                failure.url, f"{self.name} rate limit until {failure.reset_at:%Y-%m-%d %H:%M:%S} UTC"
            ) from None
        except Unreachable as failure:
            reason = f"{self.name} unreachable: {str(failure).removesuffix(f' ({failure.url})')}"
            if not self._answered:
                self._down = reason
            raise HostUnavailable(failure.url, reason) from None

    async def _fetch(self, repo_url: str, ref: RepoRef, cache: dict[str, Cached]) -> RepoResult:
        now = self._clock()
        asked = self._key(ref.full_name)
        cached = {resource: for_repo(piece, asked) for resource, piece in cache.items()}
        repo = await self.piece("repo", self.repo_url(ref), cached.get("repo"), self.read_repo)
        meta = repo.value
        # Pieces are kept under the path the host reports: what the stored repo_url says from now on.
        key = self._key(meta["path"])
        updates = {"repo": keyed(repo, key)}
        kept = History.from_json(cached["commits"].value) if cached.get("commits") else None
        if kept is not None and kept.branch != meta["branch"]:
            kept = None  # the default branch changed: its history is another one
        commits, moved = await self._history(meta, cached.get("commits") if kept else None, kept, key, now)
        updates["commits"] = commits
        counted = History.from_json(commits.value)
        extras = await self.extras(meta, cached, key, moved)
        updates.update(extras)
        fields = {
            "repo_watchers": meta["stars"],
            "repo_forks": meta["forks"],
            "repo_description": meta["description"] or "",
            "last_updated": parse_datetime(counted.head_date) if counted.head_date else None,
            "commits_over_52": commit_counts.weekly_counts(counted.days, now) if counted.head else [],
            **self.extra_fields(meta, {**cached, **extras}, counted),
        }
        if counted.authors is not None:
            fields["participants"] = commit_counts.participants(counted.authors)
        if self._key(meta["path"]) != asked:
            # The host reports the project under another path: it moved, and says where.
            fields["repo_url"] = f"https://{ref.host}/{meta['path']}"
        else:
            fields["repo_url"] = repo_url
        found = {k: meta[k] for k in ("archived", "archived_at") if k in meta}
        return RepoResult(fields, updates, meta={**found, "commit_count": counted.total})

    async def _history(self, meta, cached: Cached | None, kept: History | None, key: str, now):
        """The commits piece, and whether the branch moved since it was taken."""
        if meta["branch"] is None:  # an empty repository has no branch yet
            return Cached({"repo": key, **History("", None, None, {}, {} if self.with_authors else None, 0)
                           .as_json()}, now), False
        head_piece = await self.piece("commits", self.head_url(meta), cached,
                                      lambda answer: {"head": _commit_json(self.read_head(answer)),
                                                      "total": self.read_total(answer)})
        if head_piece is cached:  # 304: the head has not moved
            return keyed(replace(cached, value={**cached.value, **_pruned(kept, now)}), key), False
        head = head_piece.value["head"]
        validators = dict(etag=head_piece.etag, last_modified=head_piece.last_modified)
        if kept is not None and kept.head == (head or {}).get("id"):
            counted = History.from_json({**kept.as_json(), **_pruned(kept, now)})
            return Cached({"repo": key, **counted.as_json()}, now, **validators), False
        whole = dict(with_authors=self.with_authors, whole=self.whole_history)
        if head is None:
            counted = commit_counts.count(meta["branch"], [], now, **whole)
        elif kept is not None and kept.head:
            try:
                new = await self.commits(self.commits_url(meta, kept.head, now))
            except NotFound:
                new = []  # the host no longer knows the commit counted last: the history was rewritten
            if new and commit_counts.builds_on(kept.head, new):
                counted = commit_counts.add(kept, new, now)
            else:  # the commit counted last is no longer on the branch: count again
                counted = commit_counts.count(meta["branch"], await self.commits(self.commits_url(meta, None, now)),
                                        now, **whole)
        else:
            counted = commit_counts.count(meta["branch"], await self.commits(self.commits_url(meta, None, now)),
                                    now, **whole)
        if head_piece.value.get("total") is not None:  # the host's own count beats what was paged
            counted = replace(counted, total=head_piece.value["total"])
        elif counted.total is None and head is not None:
            counted = replace(counted, total=await self.count_total(meta, head["id"]))
        if head is not None:  # the branch's head, as the host named it, is what was counted up to
            counted = replace(counted, head=head["id"], head_date=_utc(head["date"]))
        return Cached({"repo": key, **counted.as_json()}, now, **validators), True

    async def commits(self, url: str) -> list[Commit]:
        """Every commit the paged answer lists, newest first."""
        found: list[Commit] = []
        async for answer in self.pages(url, "commits"):
            found.extend(self.read_commits(answer))
        return found

    # -- requests ----------------------------------------------------------------------

    async def get(self, url: str, kind: str, cached: Cached | None = None) -> Answer:
        self._check_origin(url)
        return await self._http.get(url, kind=kind, validators=cached.validators if cached else None,
                                    budget=self.name)

    async def piece(self, kind: str, url: str, cached: Cached | None, read: Callable[[Answer], dict]) -> Cached:
        self._check_origin(url)
        return await self._http.get_piece(url, kind=kind, cached=cached, read=read, budget=self.name)

    async def pages(self, url: str, kind: str):
        """Each page of a paged answer, following the host's next links: never off the API origin,
        never a page twice, never more than MAX_PAGES."""
        seen: set[str] = set()
        next_url: str | None = url
        while next_url:
            if next_url in seen:
                raise BadResponse(next_url, f"{self.name} pointed back to a page already read")
            if len(seen) >= MAX_PAGES:
                raise BadResponse(url, f"more than {MAX_PAGES} pages")
            seen.add(next_url)
            answer = await self.get(next_url, kind)
            yield answer
            next_url = self.next_page(answer)

    def _check_origin(self, url: str) -> None:
        """Every URL asked is under this host's API: a next link an answer points elsewhere is refused."""
        try:
            inside = origin(url) == origin(self.api_url) and (
                httpx.URL(url).path + "/").startswith(httpx.URL(self.api_url).path.rstrip("/") + "/")
        except httpx.InvalidURL:
            inside = False
        if not inside:
            raise BadResponse(url[:200], f"{self.name} pointed outside its API ({self.api_url})")

    def _key(self, path: str) -> str:
        return f"{self.name}/{path}".lower()


def _utc(text: str) -> str:
    return parse_datetime(text).astimezone(timezone.utc).isoformat()


def keyed(piece: Cached, key: str) -> Cached:
    return replace(piece, value={**piece.value, "repo": key})


def _pruned(kept: History, now: datetime) -> dict:
    """The kept counts with the days no window can reach any more dropped."""
    return {"days": commit_counts.add(kept, [], now).days}


def _commit_json(commit: Commit | None) -> dict | None:
    if commit is None:
        return None
    return {"id": commit.id, "date": commit.committed.isoformat()}


# -- reading untrusted answers: every host's reader goes through these ----------------------


def body_object(answer: Answer) -> dict:
    if not isinstance(answer.data, dict):
        raise BadResponse(answer.url, "answer is not a JSON object")
    return answer.data


def body_list(answer: Answer, key: str | None = None) -> list:
    data = body_object(answer).get(key) if key else answer.data
    if not isinstance(data, list):
        raise BadResponse(answer.url, f"answer lacks a list{f' under {key!r}' if key else ''}")
    return data


def count_field(answer: Answer, data: dict, key: str) -> int:
    value = data.get(key)
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise BadResponse(answer.url, f"answer lacks a count {key!r}")
    return value


def text_field(answer: Answer, data: dict, key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise BadResponse(answer.url, f"answer lacks a string {key!r}")
    return value


def path_field(answer: Answer, data: dict, key: str, *, nested: bool = False) -> str:
    """A repository's path as the host reports it: OWNER/NAME (GitLab: GROUP/.../NAME), no empty part."""
    path = text_field(answer, data, key, required=True)
    parts = path.split("/")
    if len(parts) < 2 or (len(parts) > 2 and not nested) or not all(part.strip(" .") for part in parts):
        raise BadResponse(answer.url, f"{key} {path!r} is not a repository path")
    return path


def commit_date(answer: Answer, text) -> datetime:
    try:
        return parse_datetime(text)
    except (TypeError, ValueError):
        raise BadResponse(answer.url, f"commit date {text!r} is not an ISO 8601 date-time") from None
