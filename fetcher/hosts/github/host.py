"""GitHub as a host: what a record needs of one repository, spending as few rate-limit points as answers allow.

Repository metadata comes in batches through GraphQL (the batch step: one point per hundred
repositories) or, without it, from REST with conditional requests (a 304 is free). Contributors,
weekly counts and the newest commit cannot change without a push, so they are asked again only
when pushedAt moved, and then conditionally (freshness.py). The weekly counts are asked first and
once: a 202 starts GitHub computing them while the rest is fetched, the record is written with the
old sparkline, and the run asks again later (`Later`).
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

from fetcher.cache import Cached, for_repo, revalidated
from fetcher.config import Config
from fetcher.errors import (
    BadResponse, ContributorsTooLarge, EmptyRepository, Failure, QueryTimedOut, RateLimited, RunRefused, StatsPending,
    Unreachable,
)
from fetcher.hosts.base import Host, Later, LaterResult, RepoResult
from fetcher.hosts.github import answers, check, graphql
from fetcher.hosts.github.budget import GitHubPlan
from fetcher.hosts.github.freshness import contributors_settled, shift_weeks, unchanged_since_push
from fetcher.hosts.github.query_size import QuerySize
from fetcher.hosts.github.rules import API_HEADERS, GitHubService
from fetcher.hosts.github.tokens import TokenPool
from fetcher.hosts.github.weeks import Asking
from fetcher.hosts.read import Pager
from fetcher.links import RepoRef, parse_repo_url
from fetcher.logs import event
from fetcher.net.answer import Answer, next_link
from fetcher.net.client import Client
from fetcher.net.request import Request, Validators
from fetcher.side_by_side import first_failure_wins, nothing

# GitHub links only "the first 500 author email addresses in the repository" to accounts, so a
# real list is at most 5 pages of 100 (the rest are anonymous, which fetcher does not ask for).
# Ten times that bounds what a broken or hostile pager can cost (a point a page) without ever
# cutting a real list short.
MAX_CONTRIBUTOR_PAGES = 50
CONTRIBUTORS_TOO_LARGE = "participants not updated: GitHub will not list contributors of a repository this large"
SPARKLINE_PENDING = "sparkline not updated: GitHub was still computing it"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RepoFetch:
    """What GitHub said of one repository: the answers, fresh or still true from last time."""

    repo: dict
    last_updated: str | None
    contributor_pages: list[list[str]]
    weeks: Cached | None  # None: GitHub is still computing them and none were kept
    pending: bool  # the weekly counts were still being computed when asked
    updates: dict[str, Cached]  # resource -> answer to keep for next time
    contributors_kept: bool = False  # GitHub would not list them: the stored participants stand
    asking: Asking | None = None  # the weekly counts still being asked for, while pending


class GitHub(Host):
    name = "GitHub"

    def __init__(self, config: Config, client: Client, reserve: int, ledger=None):
        self.config = config
        self.client = client
        self.api_url = config.github_api_url
        self.graphql_url = config.github_graphql_url
        # [sync] reserve is kept for a person's refresh: a sync never spends it, a refresh may.
        self.pool = TokenPool(config.github_tokens(), reserve, api_urls=(self.api_url, self.graphql_url),
                              token_envs=config.token_envs, ledger=ledger)
        self.service = GitHubService(self.pool, client, pace=config.pace)
        self._asking: dict[str, Asking] = {}  # repository -> its weekly counts, asked before its turn
        self._running: set[Asking] = set()  # every asking not yet done: stopped when the run is over
        # GitHub's GraphQL API answers only with a token; until it fails, metadata comes in batches.
        self.batch_size = graphql.BATCH_SIZE if config.graphql and self.pool else 0
        self.query_size = QuerySize(graphql.BATCH_SIZE)

    def ref(self, repo_url: str) -> RepoRef:
        return parse_repo_url(repo_url)

    # -- the batch step: GraphQL -----------------------------------------------------------

    async def batch(self, refs: list[RepoRef]) -> list[dict | Failure | None]:
        """Metadata for the repositories, in queries of the size query_size.py decides; a failure per repository
        where one failed. When GraphQL fails for the whole query in a way REST may not, the run asks REST instead."""
        results: list[dict | Failure | None] = []
        while len(results) < len(refs):
            chunk = refs[len(results) : len(results) + self.query_size.size]
            try:
                results += await self._query(chunk)
            except (RunRefused, RateLimited):
                raise
            except Failure as failure:
                if isinstance(failure, Unreachable) and failure.host not in self.client.answered:
                    raise
                log.warning("GraphQL unavailable (%s): asking REST for the rest of the run", failure,
                            extra=event("graphql_unavailable", reason=str(failure)))
                self.batch_size = 0
                return results + [None] * (len(refs) - len(results))
        return results

    async def _query(self, refs: list[RepoRef]) -> list[dict | Failure]:
        """One query for `refs`; when GitHub stops it for taking too long, they are asked in smaller queries, or
        without the commit counts (query_size.py), never in the same query again."""
        with_counts = self.query_size.with_counts
        request = Request(self.graphql_url, "graphql", method="POST", headers=API_HEADERS,
                          json=graphql.build_query(refs, with_counts=with_counts))
        try:
            cost, results = await self.client.send(self.service, request, lambda answer: self._read_batch(refs, answer))
        except QueryTimedOut as timed_out:
            if not self.query_size.timed_out(len(refs)):
                raise
            if with_counts and not self.query_size.with_counts:
                log.warning("%s: asking without commit counts for the rest of the run (the stored ones kept)",
                            timed_out, extra=event("query_size", reason=str(timed_out), size=self.query_size.size,
                                                   commit_counts=False))
            else:
                log.info("%s: asking %d repositories a query", timed_out, self.query_size.size,
                         extra=event("query_size", reason=str(timed_out), size=self.query_size.size,
                                     commit_counts=self.query_size.with_counts))
            results = []
            while len(results) < len(refs):
                results += await self._query(refs[len(results) : len(results) + self.query_size.size])
            return results
        self.client.counts.query_points += cost
        self.query_size.answered()
        return results

    def _read_batch(self, refs: list[RepoRef], answer: Answer) -> tuple[int, list[dict | Failure]]:
        cost = graphql.query_cost(answer)
        self.pool.spend(answer.token_env, "graphql", cost)
        return cost, graphql.parse_batch(answer, refs, self.client.clock())

    # -- one repository ----------------------------------------------------------------------

    async def fetch(self, repo_url: str, ref: RepoRef, batched: dict | Failure | None,
                    cache: dict[str, Cached]) -> RepoResult:
        """The record fields GitHub gives, with the answers to keep; `batched` from GraphQL, or None to ask REST."""
        if isinstance(batched, Failure):
            raise batched  # the batch already knows the repository is missing: nothing else to ask
        repo = await self.fetch_repo(ref, batched, cache)
        weeks = repo.weeks and shift_weeks(repo.weeks.value["weeks"], repo.weeks.fetched_at, self.client.clock())
        fields = answers.repo_fields(repo_url, ref, repo.repo, repo.last_updated, repo.contributor_pages, weeks)
        if repo.contributors_kept:  # GitHub would not list them: the stored participants stand
            del fields["participants"]
        kept_note = CONTRIBUTORS_TOO_LARGE if repo.contributors_kept else None
        if not repo.pending:
            return RepoResult(fields, repo.updates, kept_note, repo.repo)
        later = Later(lambda: self._weeks_later(repo.asking), kept_note)
        note = "; ".join(filter(None, (SPARKLINE_PENDING, kept_note)))
        return RepoResult(fields, repo.updates, note, repo.repo, later=later)

    async def _weeks_later(self, asking: Asking) -> LaterResult | None:
        """The weekly counts once GitHub has them: the sparkline, or None when it was still computing them after
        the last ask."""
        weeks = await asking.final()
        if weeks is None:
            return None
        counts = shift_weeks(weeks.value["weeks"], weeks.fetched_at, self.client.clock())
        return LaterResult({"commits_over_52": counts}, {"participation": weeks}, asks=asking.asks)

    early_resources = ("participation",)

    def ask_early(self, ref: RepoRef, batched: dict | Failure | None, cache: dict[str, Cached]) -> None:
        """The weekly counts of a repository the batch step says was pushed since they were kept: asked now, so
        that GitHub computes them while the packages before this one are fetched."""
        if not isinstance(batched, dict):
            return
        full_name = batched["full_name"] or ref.full_name
        key, pushed_at = full_name.lower(), batched["pushed_at"]
        weeks = for_repo(cache.get("participation"), ref.full_name.lower())
        if key not in self._asking and not unchanged_since_push(weeks, pushed_at):
            self._asking[key] = self._ask_weeks(full_name, weeks, key, pushed_at)

    def _ask_weeks(self, full_name: str, cached: Cached | None, key: str, pushed_at: str | None) -> Asking:
        asking = Asking(lambda: self.participation(full_name, cached, key, pushed_at), self.config.retries,
                        self.config.backoff, self.client.sleep)
        self._running.add(asking)
        asking.final_done(self._running.discard)
        return asking

    async def aclose(self) -> None:
        for asking in list(self._running):
            await asking.stopped()
        self._asking.clear()

    async def fetch_repo(self, ref: RepoRef, meta: dict | None, cache: dict[str, Cached]) -> RepoFetch:
        """Everything a record needs from GitHub; `meta` from a GraphQL batch, or None to ask REST."""
        asked = ref.full_name.lower()
        cached = {resource: for_repo(answer, asked) for resource, answer in cache.items()}
        updates: dict[str, Cached] = {}
        rest_repo = None
        if meta is None:
            rest_repo = await self._conditional("repo", f"/repos/{ref.full_name}", cached.get("repo"), asked,
                                                answers.read_repo)
            meta = rest_repo.value
        full_name = meta["full_name"] or ref.full_name  # ask under the current name: no redirect per request
        # Answers are kept under the current name, which is what the stored repo_url will say from now on.
        key = full_name.lower()
        if rest_repo is not None:
            updates["repo"] = replace(rest_repo, value={**rest_repo.value, "repo": key})
        pushed_at = meta["pushed_at"]

        weeks = cached.get("participation")
        weeks_stale = not unchanged_since_push(weeks, pushed_at)

        async def the_rest() -> tuple[Cached, str | None, dict]:
            contributors = cached.get("contributors")
            if not contributors_settled(contributors, pushed_at):
                try:
                    contributors = updates["contributors"] = await self._contributors(
                        full_name, contributors, key, pushed_at)
                except ContributorsTooLarge:
                    # The stored participants stand; remembered, so it is asked again only after a push.
                    contributors = updates["contributors"] = Cached(
                        {"repo": key, "pushed_at": pushed_at, "too_large": True}, self.client.clock())
            if "last_updated" in meta:
                return contributors, meta["last_updated"], meta
            commits = cached.get("commits")
            if not unchanged_since_push(commits, pushed_at):
                commits = updates["commits"] = await self._commits(full_name, commits, key, pushed_at)
            # The commits page asked after a push carries the commit count in its Link: no extra request.
            counted = {**meta, "commit_count": commits.value.get("commit_count")}
            return contributors, commits.value["last_updated"], counted

        # The weekly counts are asked first (before the package's turn, when the batch step could tell), so a
        # 202 starts GitHub computing them while the rest is fetched; the asks after it follow the backoff.
        asking = None
        if weeks_stale:
            asking = self._asking.pop(key, None) or self._ask_weeks(full_name, weeks, key, pushed_at)
        try:
            fresh, (contributors, last_updated, meta) = await first_failure_wins(
                asking.first() if asking else nothing(), the_rest())
        except BaseException:
            if asking is not None:
                asking.cancel()  # the package is not written: its counts are not wanted
            raise
        pending = weeks_stale and fresh is None
        if fresh is not None:
            weeks = updates["participation"] = fresh
        kept = bool(contributors.value.get("too_large"))
        pages = [] if kept else [page["logins"] for page in contributors.value["pages"]]
        return RepoFetch(meta, last_updated, pages, weeks, pending, updates, contributors_kept=kept,
                         asking=asking if pending else None)

    async def participation(self, full_name, cached, key, pushed_at) -> Cached | None:
        """The weekly counts, or None when GitHub is still computing them (202): one ask."""
        try:
            return await self._conditional(
                "participation", f"/repos/{full_name}/stats/participation", cached, key,
                lambda answer: {"weeks": answers.participation_weeks(answer)}, pushed_at, retry_pending=False,
            )
        except StatsPending:
            return None

    async def _commits(self, full_name, cached, key, pushed_at) -> Cached:
        try:
            return await self._conditional(
                "commits", f"/repos/{full_name}/commits?per_page=1", cached, key,
                lambda answer: {"last_updated": answers.newest_commit_date(answer),
                                "commit_count": answers.commit_count(answer)}, pushed_at,
            )
        except EmptyRepository:
            empty = {"repo": key, "pushed_at": pushed_at, "last_updated": None, "commit_count": 0}
            return Cached(empty, self.client.clock())

    async def _contributors(self, full_name, cached, key, pushed_at) -> Cached:
        """Every page, each asked conditionally against what that page said last time.

        A page's Link rel="next" is followed only under the API, each page once and at most
        MAX_CONTRIBUTOR_PAGES (one guarded Pager): a loop or a foreign URL fails the package.
        """
        before = {page["url"]: page for page in cached.value.get("pages", [])} if cached else {}
        pages = []
        pager = Pager(self.api_url, 'contributors Link rel="next"', MAX_CONTRIBUTOR_PAGES, "pages of contributors")
        url: str | None = f"{self.api_url}/repos/{full_name}/contributors?per_page=100"
        while url:
            old = before.get(pager.admit(url))
            validators = Validators(old.get("etag"), old.get("last_modified"), old.get("token_env")) if old else None
            answer = await self.client.send(self.service, Request(url, "contributors", headers=API_HEADERS,
                                                                  validators=validators))
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
                    "logins": answers.contributor_logins(answer),
                    "next": next_link(answer.headers),
                    "token_env": answer.token_env,
                }
            pages.append(page)
            url = page["next"]
        return Cached({"repo": key, "pushed_at": pushed_at, "pages": pages}, self.client.clock())

    async def _conditional(
        self, resource: str, path: str, cached: Cached | None, key: str,
        read: Callable[[Answer], dict], pushed_at: str | None = None, retry_pending: bool = True,
    ) -> Cached:
        """GET a resource, conditionally when one is cached, marked with the repository it is of.

        The answers that depend on a push are marked with the pushedAt they are true at: a fresh
        answer, or a 304, which says for free that the cached one still holds.
        """
        request = Request(f"{self.api_url}{path}", resource, headers=API_HEADERS, retry_pending=retry_pending)
        answer = await revalidated(self.client, self.service, request, cached,
                                   lambda answer: {**read(answer), "repo": key})
        if resource == "repo":
            return answer
        return replace(answer, value={**answer.value, "pushed_at": pushed_at})

    # -- the rest of the protocol -------------------------------------------------------------

    async def check(self, known=()):
        return await check.check_github(self)

    def plan(self) -> GitHubPlan | None:
        if not self.pool:
            return None
        return GitHubPlan(self.client, self.service, self.api_url, [token.env for token in self.pool.tokens],
                          self.config.reserve, self.config.max_rate_limit_wait)

    def remember(self, budgets: list[dict], now: datetime) -> None:
        # Each token's window, while still open: the reserve holds from the first request, before any answer.
        self.pool.seed(budgets, now)

    def secrets(self) -> list[str]:
        return self.pool.secrets

    def token_report(self) -> list[dict]:
        return self.pool.report()

    def points_left(self) -> int | None:
        """REST points left: the pool's live tokens together, or (no token) the address's own budget."""
        if not self.pool:
            budget = self.client.budgets.get(("", "core"))
            return budget.remaining if budget else None
        left = [row["remaining"] for row in self.pool.report()
                if row["resource"] == "core" and row["remaining"] is not None and not row["rejected"]]
        return sum(left) if left else None
