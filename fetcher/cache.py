"""What each resource answered last time (table `resource_cache`), and asking again only if it changed.

A resource is one thing a host is asked for a record: a repository's metadata, its commits, its
contributors, its weekly counts, a PyPI project. What it answered is kept as a `Cached` value with
the validators of that answer, so the next ask is conditional and a 304 stands in for the whole.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable

from fetcher.net.answer import Answer
from fetcher.net.client import Client
from fetcher.net.request import Request, Validators
from fetcher.net.service import Service


@dataclass(frozen=True)
class Cached:
    value: Any  # JSON: what the record needs of the answer
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    token_env: str | None = None  # the token whose answer it is: GitHub's ETags hold for that token only

    @property
    def validators(self) -> Validators:
        return Validators(self.etag, self.last_modified, self.token_env)


def for_repo(cached: Cached | None, repo_key: str) -> Cached | None:
    """The cached answer if it was taken from this repository; a changed repo_url starts afresh."""
    if cached is not None and cached.value.get("repo") == repo_key:
        return cached
    return None


async def revalidated(client: Client, service: Service, request: Request, cached: Cached | None,
                      read: Callable[[Answer], Any]) -> Cached:
    """A resource asked conditionally when one is cached: the cached one on a 304, else `read` anew."""
    if cached is not None:
        request = replace(request, validators=cached.validators)
    answer = await client.send(service, request)
    if answer.status == 304 and cached is not None:
        return cached
    return Cached(read(answer), client.clock(), answer.headers.get("etag"), answer.headers.get("last-modified"),
                  answer.token_env)
