"""A Django Packages-style directory's API v4 as a service: its pace, and its answers read as pages.

`fetcher import --from-api` walks the directory's listings (`categories/`, `grids/`, `packages/` under the API
root), each a DRF LimitOffsetPagination envelope, `{"count", "next", "previous", "results"}`, following `next`.
Whatever comes back is untrusted: an answer is read into a `Page` (its records checked as `fetcher import FILE`
checks them, its grids and categories as fetcher/directory.py does), or refused whole with a PageRefused naming
the page's URL and what was wrong. A `next` that leaves the listing (another origin, outside the API root, another
listing) is refused without being asked; whether it leads back to a page already read is the walk's to say.

Django Packages publishes no budget; its throttling, as DRF's, answers 429 with a `Retry-After` of whole
seconds and `{"detail": "Request was throttled. Expected available in N seconds."}`: a rate limit, waited out
within sync.max_rate_limit_wait. The service keeps to `[import] requests_per_second` between the start of one
request and the next, retries included.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import httpx

from fetcher.catalogue import check_record, refuse_duplicates
from fetcher.directory import check
from fetcher.errors import InputError, PageRefused
from fetcher.net.answer import Answer
from fetcher.net.credentials import origin, under
from fetcher.net.request import Request
from fetcher.net.service import Service
from fetcher.record import API_FIELDS

LISTINGS = ("categories", "grids", "packages")  # walked in this order
ACCEPT = {"Accept": "application/json"}  # DRF's browsable API answers a browser with HTML
MAX_URL = 2000  # a `next` longer than this is no page of a listing
MAX_VALIDATOR = 500  # an ETag or Last-Modified longer than this is not kept (nor sent back)


class DirectoryService(Service):
    name = "directory"
    label = "the directory's API"
    share = 1  # one page at a time: each `next` comes from the page before

    def __init__(self, requests_per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        super().__init__(None)  # the API is public: no credential goes to it
        self.interval = 1 / requests_per_second
        self.clock = clock
        self.sleep = sleep
        self._next_start: float | None = None
        self._turn = asyncio.Lock()

    async def pace(self, request: Request) -> None:
        """At most `requests_per_second`: each request starts `interval` after the one before, at the earliest."""
        async with self._turn:
            now = self.clock()
            if self._next_start is not None and now < self._next_start:
                await self.sleep(self._next_start - now)
                now = self._next_start
            self._next_start = now + self.interval


@dataclass(frozen=True)
class Page:
    url: str  # as asked
    listing: str
    items: list[dict] | None  # checked store columns; None when the server answered 304 (unchanged)
    next_url: str | None  # the page's `next`, admitted (None for a 304: the stored one stands)
    etag: str | None = None
    last_modified: str | None = None
    merged: tuple[tuple[str, int, int], ...] = ()  # a slug given twice on the page (catalogue.refuse_duplicates)


def listing_url(api_url: str, listing: str, page_size: int) -> str:
    """The first page of a listing, asking `page_size` records a page (DRF's `limit`)."""
    return f"{api_url}{listing}/?limit={page_size}"


def listing_of(url: str, api_url: str) -> str | None:
    """Which listing a page URL is of, or None."""
    return next((listing for listing in LISTINGS if under(url, f"{api_url}{listing}/")), None)


def request_for(url: str, validators) -> Request:
    return Request(url, "directory", headers=ACCEPT, validators=validators)


def read_page(answer: Answer, url: str, listing: str, api_url: str) -> Page:
    """A listing's page as store columns and its `next`, admitted; PageRefused for anything else.

    A 304 is a page unchanged since the walk last read it (the caller has its `next`)."""
    if answer.status == 304:
        return Page(url, listing, None, None)
    page = answer.data
    if not isinstance(page, dict):
        raise PageRefused(url, f"not a page of {listing}: the answer is a JSON {type(page).__name__}, not an object")
    for key in ("results", "next"):
        if key not in page:
            raise PageRefused(url, f"not a page of {listing}: no {key!r}")
    if not isinstance(page["results"], list):
        raise PageRefused(url, "'results' is not a list")
    count = page.get("count")
    if count is not None and not (isinstance(count, int) and not isinstance(count, bool) and count >= 0):
        raise PageRefused(url, "'count' is not a count")
    next_url = page["next"]
    if next_url is not None:
        if not isinstance(next_url, str):
            raise PageRefused(url, "'next' is neither a URL nor null")
        admit_next(next_url, url, listing, api_url)
        if not page["results"]:
            raise PageRefused(url, f"a page with no records says there is a next one ({next_url[:200]})")
    items, merged = _items(page["results"], url, listing)
    return Page(url, listing, items, next_url, _validator(answer, "etag"), _validator(answer, "last-modified"), merged)


def admit_next(next_url: str, url: str, listing: str, api_url: str) -> None:
    """A `next` a walk may ask: on the API's origin, under its root and in the same listing; PageRefused naming
    it otherwise. Nothing is ever sent to one refused."""
    shown = next_url[:200]
    try:
        where = origin(next_url)
    except httpx.InvalidURL:
        raise PageRefused(url, f"its next link {shown!r} is not an http(s) URL") from None
    if len(next_url) > MAX_URL:
        raise PageRefused(url, f"its next link is longer than {MAX_URL} characters ({shown}...)")
    if where != origin(api_url):
        raise PageRefused(url, f"its next link {shown} leads to another origin ({where}, not {origin(api_url)}): "
                               "not followed")
    if not under(next_url, api_url):
        raise PageRefused(url, f"its next link {shown} leads outside the API ({api_url}): not followed")
    if not under(next_url, f"{api_url}{listing}/"):
        raise PageRefused(url, f"its next link {shown} leads out of the {listing} listing: not followed")


def _items(results: list, url: str, listing: str) -> tuple[list[dict], tuple]:
    where = "record {}".format
    try:
        if listing != "packages":
            return [check(listing, item, where(number)) for number, item in enumerate(results, start=1)], ()
        records = []
        for number, item in enumerate(results, start=1):
            missing = [name for name in API_FIELDS if not (isinstance(item, dict) and name in item)]
            if isinstance(item, dict) and "slug" in item and missing:
                raise InputError(f"{where(number)} (slug {item['slug']!r}): no {', '.join(missing)}")
            records.append(check_record(item, where(number)))
        return records, refuse_duplicates(records, None)
    except InputError as exc:
        raise PageRefused(url, str(exc)) from None


def _validator(answer: Answer, header: str) -> str | None:
    value = answer.headers.get(header)
    return value if value and len(value) <= MAX_VALIDATOR else None
