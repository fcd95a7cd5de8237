"""Ask GitHub's REST API for what a record needs; return the answers as they came.

Four resources per repository: the repository itself (forks, stars,
description, canonical name), its contributors (every page), its weekly
participation and its newest commit. What they mean is `normalize`'s job.
"""

import asyncio
from dataclasses import dataclass
from typing import Awaitable

from fetcher.errors import EmptyRepository, StatsPending, TokenRejected, RateLimited, Unreachable
from fetcher.http import Http
from fetcher.interpret import Answer, next_link
from fetcher.urls import RepoRef

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


@dataclass(frozen=True)
class RepoAnswers:
    repository: Answer
    contributor_pages: list[Answer]  # empty for an empty repository (204)
    participation: Answer | None  # None while GitHub is still computing it
    newest_commit: Answer | None  # None for an empty repository (409)


class GitHub:
    def __init__(self, http: Http, api_url: str, token: str | None):
        self._http = http
        self._api_url = api_url
        self._headers = dict(API_HEADERS)
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    async def _get(self, url: str) -> Answer:
        return await self._http.get(url, self._headers)

    async def repository(self, ref: RepoRef) -> Answer:
        # A renamed or transferred repository answers 301; the client follows
        # it, and the body names the repository as it is now.
        return await self._get(f"{self._api_url}/repos/{ref.full_name}")

    async def contributor_pages(self, full_name: str) -> list[Answer]:
        pages = []
        url: str | None = f"{self._api_url}/repos/{full_name}/contributors?per_page=100"
        while url:
            answer = await self._get(url)
            if answer.status == 204:
                break
            pages.append(answer)
            url = next_link(answer.headers)
        return pages

    async def participation(self, full_name: str) -> Answer | None:
        try:
            return await self._get(f"{self._api_url}/repos/{full_name}/stats/participation")
        except StatsPending:
            return None

    async def newest_commit(self, full_name: str) -> Answer | None:
        try:
            return await self._get(f"{self._api_url}/repos/{full_name}/commits?per_page=1")
        except EmptyRepository:
            return None

    async def repo_answers(self, ref: RepoRef) -> RepoAnswers:
        repository = await self.repository(ref)
        # Ask under the current name, so a renamed repository costs one redirect, not four.
        full_name = (repository.data or {}).get("full_name") or ref.full_name
        contributors, participation, commit = await first_failure_wins(
            self.contributor_pages(full_name),
            self.participation(full_name),
            self.newest_commit(full_name),
        )
        return RepoAnswers(repository, contributors, participation, commit)


# Failures that end the run outrank those that end one package.
_SEVERITY = (TokenRejected, RateLimited, Unreachable)


async def first_failure_wins(*steps: Awaitable) -> list:
    """Run steps concurrently; on a failure cancel the rest and raise the gravest failure."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(step) for step in steps]
    except ExceptionGroup as failures:
        flat = list(_leaves(failures))
        raise min(flat, key=_rank) from None
    return [task.result() for task in tasks]


def _leaves(group: BaseExceptionGroup):
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _rank(exc: BaseException) -> int:
    for rank, kind in enumerate(_SEVERITY):
        if isinstance(exc, kind):
            return rank
    return len(_SEVERITY)
