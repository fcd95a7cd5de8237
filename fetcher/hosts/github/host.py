"""Ask GitHub for what a record needs, spending as few rate-limit points as the answers allow.

Repository metadata comes in batches through GraphQL (one point per hundred
repositories) or, without it, from REST with conditional requests (a 304 is
free). Contributors, weekly counts and the newest commit cannot change
without a push, so they are asked again only when pushedAt moved, and then
conditionally. The weekly counts are asked first: a 202 starts GitHub
computing them while the rest is fetched, and the retries come back later.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Callable

import httpx

from fetcher import facts
from fetcher.hosts.github import graphql
from fetcher.hosts.github import answers as normalize
from fetcher.errors import BadResponse, ContributorsTooLarge, EmptyRepository, StatsPending
from fetcher.hosts.base import RepoResult
from fetcher.net.client import USER_AGENT, Http, origin
from fetcher.net.answer import API_VERSION, GITHUB, Answer, interpret, lower_headers, next_link, reset_time
from fetcher.cache import Cached, Validators, contributors_settled, for_repo, shift_weeks, unchanged_since_push
from fetcher.side_by_side import first_failure_wins, nothing
from fetcher.hosts.github.tokens import TokenPool
from fetcher.links import RepoRef, parse_repo_url

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
# GitHub links only "the first 500 author email addresses in the repository" to accounts, so a
# real list is at most 5 pages of 100 (the rest are anonymous, which fetcher does not ask for).
# Ten times that bounds what a broken or hostile pager can cost (a point a page) without ever
# cutting a real list short.
MAX_CONTRIBUTOR_PAGES = 50
CONTRIBUTORS_TOO_LARGE = "participants not updated: GitHub will not list contributors of a repository this large"


@dataclass(frozen=True)
class RepoFetch:
    """What GitHub said of one repository: the pieces, fresh or still true from last time."""

    repo: dict
    last_updated: str | None
    contributor_pages: list[list[str]]
    weeks: Cached | None  # None: GitHub is still computing them and none were kept
    pending: bool  # the weekly counts were still being computed after every ask
    updates: dict[str, Cached]  # resource -> piece to keep for next time
    contributors_kept: bool = False  # GitHub would not list them: the stored participants stand


class GitHub:
    def __init__(self, http: Http, api_url: str, graphql_url: str, tokens: TokenPool, clock: Callable[[], datetime],
                 batching: bool = True):
        self._http = http
        # GitHub's GraphQL API answers only with a token; until it fails, metadata comes in batches.
        self.batching = batching and bool(tokens)
        self._api_url = api_url
        self._graphql_url = graphql_url
        self._clock = clock
        self._headers = dict(API_HEADERS)
        self._api_origin = origin(api_url)
        if tokens:
            # Http adds one of them to requests to these origins only, never to a URL an answer names elsewhere.
            http.grant_pool(api_url, tokens)
            http.grant_pool(graphql_url, tokens)

    # -- GraphQL ---------------------------------------------------------------

    async def repo_batch(self, refs: list[RepoRef]) -> list[dict | Exception]:
        """Metadata for up to graphql.BATCH_SIZE repositories in one query; a failure per repo where one failed."""
        cost, results = await self._http.post(
            self._graphql_url,
            kind="graphql",
            headers=self._headers,
            json=graphql.build_query(refs),
            read=partial(self._read_batch, refs),
        )
        self._http.counts.graphql_points += cost
        return results

    def _read_batch(self, refs: list[RepoRef], answer: Answer) -> tuple[int, list[dict | Exception]]:
        cost = graphql.query_cost(answer)
        self._http.spend(answer, "graphql", cost)
        return cost, graphql.parse_batch(answer, refs, self._clock())

    # -- one repository ---------------------------------------------------------

    def ref(self, repo_url: str) -> RepoRef:
        return parse_repo_url(repo_url)

    async def fetch(self, repo_url: str, ref: RepoRef, meta: dict | None, cache: dict[str, Cached]) -> RepoResult:
        """The record fields GitHub gives, with the pieces to keep; `meta` from a batch, or None to ask REST."""
        repo = await self.fetch_repo(ref, meta, cache)
        weeks = repo.weeks and shift_weeks(repo.weeks.value["weeks"], repo.weeks.fetched_at, self._clock())
        fields = normalize.repo_fields(repo_url, repo.repo, repo.last_updated, repo.contributor_pages, weeks)
        if repo.contributors_kept:  # GitHub would not list them: the stored participants stand
            del fields["participants"]
        note = CONTRIBUTORS_TOO_LARGE if repo.contributors_kept else None
        return RepoResult(fields, repo.updates, repo.pending, note, repo.repo)

    async def fetch_repo(self, ref: RepoRef, meta: dict | None, cache: dict[str, Cached]) -> RepoFetch:
        """Everything a record needs from GitHub; `meta` from a GraphQL batch, or None to ask REST."""
        asked = ref.full_name.lower()
        cached = {resource: for_repo(piece, asked) for resource, piece in cache.items()}
        updates: dict[str, Cached] = {}
        rest_piece = None
        if meta is None:
            rest_piece = await self._conditional("repo", f"/repos/{ref.full_name}", cached.get("repo"), asked,
                                                 normalize.repo_piece)
            meta = rest_piece.value
        full_name = meta["full_name"] or ref.full_name  # ask under the current name: no redirect per request
        # Pieces are kept under the current name, which is what the stored repo_url will say from now on.
        key = full_name.lower()
        if rest_piece is not None:
            updates["repo"] = replace(rest_piece, value={**rest_piece.value, "repo": key})
        pushed_at = meta["pushed_at"]

        weeks = cached.get("participation")
        weeks_stale = not unchanged_since_push(weeks, pushed_at)

        async def the_rest() -> tuple[Cached, str | None]:
            contributors = cached.get("contributors")
            if not contributors_settled(contributors, pushed_at):
                try:
                    contributors = updates["contributors"] = await self._contributors(
                        full_name, contributors, key, pushed_at)
                except ContributorsTooLarge:
                    # The stored participants stand; remembered, so it is asked again only after a push.
                    contributors = updates["contributors"] = Cached(
                        {"repo": key, "pushed_at": pushed_at, "too_large": True}, self._clock())
            if "last_updated" in meta:
                return contributors, meta["last_updated"], meta
            commits = cached.get("commits")
            if not unchanged_since_push(commits, pushed_at):
                commits = updates["commits"] = await self._commits(full_name, commits, key, pushed_at)
            # The commits page asked after a push carries the commit count in its Link: no extra request.
            counted = {**meta, "commit_count": commits.value.get("commit_count")}
            return contributors, commits.value["last_updated"], counted

        # The weekly counts are asked first, so a 202 starts GitHub computing them while the
        # rest is fetched; the retries come back after the backoff, never hammering.
        fresh, (contributors, last_updated, meta) = await first_failure_wins(
            self.participation(full_name, weeks, key, pushed_at) if weeks_stale else nothing(), the_rest()
        )
        pending = weeks_stale and fresh is None
        if fresh is not None:
            weeks = updates["participation"] = fresh
        if contributors.value.get("too_large"):
            return RepoFetch(meta, last_updated, [], weeks, pending, updates, contributors_kept=True)
        pages = [page["logins"] for page in contributors.value["pages"]]
        return RepoFetch(meta, last_updated, pages, weeks, pending, updates)

    async def participation(self, full_name, cached, key, pushed_at) -> Cached | None:
        """The weekly counts, or None when GitHub is still computing them (202): asked once, sync comes back."""
        try:
            return await self._conditional(
                "participation", f"/repos/{full_name}/stats/participation", cached, key,
                lambda answer: {"weeks": normalize.participation_weeks(answer)}, pushed_at,
            )
        except StatsPending:
            return None

    async def _commits(self, full_name, cached, key, pushed_at) -> Cached:
        try:
            return await self._conditional(
                "commits", f"/repos/{full_name}/commits?per_page=1", cached, key,
                lambda answer: {"last_updated": normalize.newest_commit_date(answer),
                                "commit_count": facts.commit_count(answer)}, pushed_at,
            )
        except EmptyRepository:
            empty = {"repo": key, "pushed_at": pushed_at, "last_updated": None, "commit_count": 0}
            return Cached(empty, self._clock())

    async def _contributors(self, full_name, cached, key, pushed_at) -> Cached:
        """Every page, each asked conditionally against what that page said last time.

        A page's Link rel="next" is followed only to the API's own origin, each page once and
        at most MAX_CONTRIBUTOR_PAGES: a loop or a foreign URL fails the package.
        """
        before = {page["url"]: page for page in cached.value.get("pages", [])} if cached else {}
        pages = []
        url: str | None = f"{self._api_url}/repos/{full_name}/contributors?per_page=100"
        asked: set[str] = set()
        while url:
            self._check_next_page(url, asked, len(pages))
            asked.add(url)
            old = before.get(url)
            validators = Validators(old.get("etag"), old.get("last_modified"), old.get("token_env")) if old else None
            answer = await self._http.get(url, kind="contributors", headers=self._headers, validators=validators)
            if answer.status == 304 and old:
                page = old
            elif answer.status == 304:  # "not modified" of a page never asked conditionally: no list to keep
                raise BadResponse(url, "304 for a contributors page not asked conditionally")
            elif answer.status == 204:  # an empty repository
                break
            else:
                page = {
                    "url": url,
                    "etag": answer.headers.get("etag"),
                    "last_modified": answer.headers.get("last-modified"),
                    "logins": normalize.contributor_logins(answer),
                    "next": next_link(answer.headers),
                    "token_env": answer.token_env,
                }
            pages.append(page)
            url = page["next"]
        return Cached({"repo": key, "pushed_at": pushed_at, "pages": pages}, self._clock())

    def _check_next_page(self, url: str, asked: set[str], pages: int) -> None:
        """A contributors page URL fit to ask: the API's origin, not asked before, within the cap."""
        shown = url[:200]
        try:
            where = origin(url)
        except httpx.InvalidURL:
            raise BadResponse(shown, "contributors Link rel=\"next\" is not a valid URL") from None
        if where != self._api_origin:
            raise BadResponse(shown, f"contributors Link rel=\"next\" points outside the API ({where}): not followed")
        if url in asked:
            raise BadResponse(shown, "contributors Link rel=\"next\" leads back to a page already read")
        if pages >= MAX_CONTRIBUTOR_PAGES:
            raise BadResponse(shown, f"more than {MAX_CONTRIBUTOR_PAGES} pages of contributors")

    async def _conditional(
        self, kind: str, path: str, cached: Cached | None, key: str,
        read: Callable[[Answer], dict], pushed_at: str | None = None,
    ) -> Cached:
        """GET a resource's piece, conditionally when one is cached, marked with the repository it is of.

        The pieces that depend on a push are marked with the pushedAt they are true at: a fresh
        answer, or a 304, which says for free that the cached piece still holds.
        """
        piece = await self._http.get_piece(
            f"{self._api_url}{path}", kind=kind, headers=self._headers, cached=cached,
            read=lambda answer: {**read(answer), "repo": key},
        )
        if kind == "repo":
            return piece
        return replace(piece, value={**piece.value, "pushed_at": pushed_at})


# --- what each token has left, asked before a run is planned ------------------------

RATE_LIMIT_BODY_MAX = 64 * 1024  # GET /rate_limit answers about 2 KiB


def read_rate_limit(data: object) -> list[dict]:
    """GET /rate_limit's core and graphql budgets as {resource, budget, remaining, reset}; [] when it says neither.

    A budget whose numbers are not plain non-negative integers, or whose reset is no time a budget resets
    at (interpret.reset_time: more than a day away), is left out: the plan then knows as little of it as
    before it asked.
    """
    resources = data.get("resources") if isinstance(data, dict) else None
    if not isinstance(resources, dict):
        return []
    budgets = []
    for resource in ("core", "graphql"):
        entry = resources.get(resource)
        numbers = [entry.get(key) for key in ("limit", "remaining", "reset")] if isinstance(entry, dict) else []
        if len(numbers) != 3 or not all(type(number) is int and number >= 0 for number in numbers):
            continue
        limit, remaining, reset = numbers
        reset_at = reset_time(str(reset))
        if reset_at is not None:
            budgets.append({"resource": resource, "budget": limit, "remaining": min(remaining, limit),
                            "reset": reset_at})
    return budgets


def ask_budgets(api_url: str, tokens: list[tuple[str, str]], timeout: float, now: datetime) -> dict[str, list[dict]]:
    """token variable -> its budgets, from GET /rate_limit asked with each token (GitHub does not count it).

    Whatever goes wrong with one token's answer (no answer, not 200, too long, not GitHub's shape) leaves
    that token out: this only spares a plan from guessing, it never stops a run.
    """
    url = f"{api_url.rstrip('/')}/rate_limit"
    found: dict[str, list[dict]] = {}
    with httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False) as client:
        for token_env, token in tokens:
            try:
                with client.stream("GET", url, headers={**API_HEADERS, "Authorization": f"Bearer {token}"}) as answer:
                    if answer.status_code != 200:
                        continue
                    body = bytearray()
                    for chunk in answer.iter_bytes():
                        body += chunk
                        if len(body) > RATE_LIMIT_BODY_MAX:
                            raise BadResponse(url, "GET /rate_limit answered more than it ever does")
                    data = interpret(url, 200, lower_headers(answer.headers), bytes(body), now, GITHUB).data
            except httpx.TransportError:
                break  # no connection for one token is none for the others: do not wait on each in turn
            except Exception:  # noqa: BLE001 -- whatever it is, the run goes on unplanned, as without this
                continue
            if budgets := read_rate_limit(data):
                found[token_env] = budgets
    return found
