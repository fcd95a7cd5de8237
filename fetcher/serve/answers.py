"""Each request's answer, built from the store's reads: status, headers, body. No HTTP framework here.

`answer` takes what was asked and a `Reads` on a read-only store, reads everything it needs inside one read
transaction (one snapshot, whatever a sync writes meanwhile), and gives back an `Answer`. Django Packages' answers
are DRF's (`apiv4/viewsets.py`, `rest_framework/pagination.py`, `views.exception_handler`); fetcher's own are
the JSON of `show --facts`, `history --json`, `trending --json`, and a health check.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from fetcher import directory
from fetcher.errors import StoreError
from fetcher.logs import event
from fetcher.record import parse_datetime, to_stored_datetime
from fetcher.serve import conditional, pages, routes
from fetcher.serve.rendered import Rendered
from fetcher.show import api, history
from fetcher.store.reads import Reads
from fetcher.store.sql import STORE_ERRORS

JSON = "application/json"
ALLOWED = "GET, HEAD"
NOT_FOUND = "Not found."  # DRF's NotFound, also what a lookup the database refuses ends as
MAX_TRENDING_DAYS = 36500

log = logging.getLogger("fetcher.serve")


@dataclass(frozen=True)
class Serving:
    """What answers depend on besides the store: the time zone, how long an answer stays good, health's window."""

    zone: tzinfo
    store_path: Path
    cache_seconds: int = 60
    last_sync_within: timedelta = timedelta(hours=25)


@dataclass(frozen=True)
class Asked:
    method: str
    raw_path: bytes
    query: bytes
    headers: dict[str, str]  # lower-case names; a repeated header's values joined with ", "
    scheme: str = "http"
    server: str = "127.0.0.1"  # host[:port] the server listens on: a request without Host is answered for it


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Refused(Exception):
    """A request answered with a 4xx and a JSON body."""

    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def answer(asked: Asked, open_reads: Callable[[], Reads], serving: Serving, now: datetime,
           rendered: Rendered | None = None) -> Answer:
    """The answer to one request; `open_reads` gives the store's reads (opened once per thread by the caller),
    `rendered` keeps printed records from one request to the next (without it, each is printed anew).

    Bad input is a 4xx with a JSON body; a store that cannot be read a 503 (health says why); nothing else.
    """
    rendered = rendered or Rendered(serving.zone, serving.store_path, size=0)
    try:
        return _answer(asked, open_reads, serving, now, rendered)
    except Refused as refused:
        return _error(refused.status, refused.body, refused.headers)


def internal_error() -> Answer:
    """A bug: a JSON body and no traceback (the log has it)."""
    return _error(500, {"detail": "Internal error."})


def _answer(asked: Asked, open_reads: Callable[[], Reads], serving: Serving, now: datetime,
            rendered: Rendered) -> Answer:
    host = asked.headers.get("host") or asked.server
    if not routes.valid_host(host):
        raise Refused(400, {"detail": "Invalid Host header."})
    path = routes.decode_path(asked.raw_path)
    query = asked.query.decode("latin-1")
    found = routes.route(path) if path is not None else None
    if found is None:
        location = routes.slash_redirect(path, query) if path is not None else None
        if location is None:
            raise Refused(404, {"detail": NOT_FOUND})
        return Answer(301, {"location": location, "cache-control": _cache(serving)})
    if asked.method not in ("GET", "HEAD"):
        raise Refused(405, {"detail": f'Method "{asked.method}" not allowed.'}, {"allow": ALLOWED})
    try:
        params = pages.parameters(asked.query)
    except pages.BadQuery as exc:
        raise Refused(400, {"detail": f"{str(exc).capitalize()}."}) from None
    url = routes.absolute(asked.scheme, host, path, query)
    base = routes.absolute(asked.scheme, host, "")
    try:
        reads = open_reads()
        with reads.db.reading():
            status, body, changed = ENDPOINTS[found.endpoint](
                Context(reads, serving, now, params, url, base, found.ident, rendered))
    except STORE_ERRORS as exc:
        log.warning("the store cannot be read: %s", _reason(exc), extra=event("store_unreadable", reason=_reason(exc)))
        if found.endpoint == "health":  # why is in the log: the body is public, and names no path
            return _error(503, {"healthy": False, "store": {"readable": False}, "last_sync": None})
        return _error(503, {"detail": "The store cannot be read now."})
    headers = {"content-type": JSON, "etag": conditional.etag(body), "last-modified": conditional.http_date(changed),
               "cache-control": "no-store" if found.endpoint == "health" else _cache(serving)}
    if status == 200 and conditional.not_modified(asked.headers, headers["etag"], changed):
        del headers["content-type"]
        return Answer(304, headers)
    return Answer(status, headers, body)


@dataclass(frozen=True)
class Context:
    reads: Reads
    serving: Serving
    now: datetime
    params: dict[str, str]
    url: str  # the request's absolute URL, as DRF builds its links from it
    base: str  # scheme://host
    ident: str | None
    rendered: Rendered


# --- Django Packages' API v4 --------------------------------------------------------------------------------------


def index(ctx: Context):
    links = {name: f"{ctx.base}{routes.V4}{name}/" for name in ("packages", "grids", "categories")}
    return 200, _json(links), conditional.EPOCH


def package_list(ctx: Context):
    since = _modified_since(ctx.params)
    count = ctx.reads.package_count(since)
    at = pages.page(ctx.params)
    rows = [] if at.past_the_end(count) else ctx.reads.package_page(at.limit, at.offset, since)
    results = [ctx.rendered.line(row) for row in rows]
    return 200, _page(ctx, at, count, results), _stored(ctx.reads.newest_change())


def package_detail(ctx: Context):
    row = _lookup(ctx.ident, "Package", ctx.reads.package)
    return 200, ctx.rendered.show(row).encode(), _changed(row)


def grid_list(ctx: Context):
    return _catalogue_list(ctx, "grids", ctx.reads.grid_count, ctx.reads.grid_page)


def grid_detail(ctx: Context):
    row = _lookup(ctx.ident, "Grid", ctx.reads.grid)
    return 200, _json(_listed(ctx, "grids", row)), _changed(row)


def category_list(ctx: Context):
    return _catalogue_list(ctx, "categories", ctx.reads.category_count, ctx.reads.category_page)


def category_detail(ctx: Context):
    # CategoryViewSet looks up by primary key alone: a slug is a value the key cannot take.
    row = _lookup(ctx.ident, "Category", lambda id: ctx.reads.category(id), by_slug=False)
    return 200, _json(_listed(ctx, "categories", row)), _changed(row)


def _catalogue_list(ctx: Context, listing: str, count_of, page_of):
    """Grids and categories, paged as packages are; last changed when a walk last wrote one of them."""
    count = count_of()
    at = pages.page(ctx.params)
    rows = [] if at.past_the_end(count) else page_of(at.limit, at.offset)
    results = [json.dumps(_listed(ctx, listing, row), ensure_ascii=False) for row in rows]
    table = {"grids": "grid", "categories": "category"}[listing]
    return 200, _page(ctx, at, count, results), _stored(ctx.reads.catalogue_change(table))


def _listed(ctx: Context, listing: str, row: dict) -> dict:
    """A stored grid or category in the API's shape; a value another program stored unreadably is named."""
    try:
        return directory.to_api(listing, row, ctx.serving.zone)
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(f"{ctx.serving.store_path}: {listing} {row.get('id')!r} cannot be printed: {exc}") from None


# --- fetcher's own ------------------------------------------------------------------------------------------------


def facts(ctx: Context):
    row = _lookup(ctx.ident, "Package", ctx.reads.package)
    facts_row = ctx.reads.facts(row["id"])
    printed = api.with_facts(_record(row, ctx), facts_row, ctx.serving.zone, ctx.serving.store_path)
    return 200, api.show_text(printed, ctx.serving.store_path).encode(), max(_changed(row), _stored(facts_row and facts_row["modified"]))


def package_history(ctx: Context):
    row = _lookup(ctx.ident, "Package", ctx.reads.package)
    return 200, api.listing_text(history.series(ctx.reads.history(row["slug"]))).encode(), _changed(row)


def trending(ctx: Context):
    days = _count(ctx.params, "days", 30, MAX_TRENDING_DAYS)
    limit = _count(ctx.params, "limit", history.TRENDING_LIMIT, pages.MAX_LIMIT)
    rows = ctx.reads.trending(history.window_start(ctx.now, days), limit)
    return 200, api.listing_text(rows).encode(), _stored(ctx.reads.newest_change())


def health(ctx: Context):
    """200 when the store can be read and its last sync finished within `serve.last_sync_within`, else 503."""
    last = ctx.reads.last_run("sync")
    finished = _stored(last["finished"]) if last else None
    age = (ctx.now - finished).total_seconds() if finished else None
    recent = age is not None and age <= ctx.serving.last_sync_within.total_seconds()
    body = {
        "healthy": recent,
        "store": {"readable": True, "packages": ctx.reads.package_count()},
        "last_sync": {
            "finished": finished.astimezone(ctx.serving.zone).isoformat() if finished else None,
            "seconds_ago": round(age) if age is not None else None,
            "within_seconds": round(ctx.serving.last_sync_within.total_seconds()),
            "recent": recent,
            "stopped": last["stopped"] if last else None,
        },
    }
    return (200 if recent else 503), _json(body), ctx.now


ENDPOINTS = {
    "index": index, "packages": package_list, "package": package_detail, "grids": grid_list, "grid": grid_detail,
    "categories": category_list, "category": category_detail, "facts": facts, "history": package_history,
    "trending": trending, "health": health,
}


# --- pieces -------------------------------------------------------------------------------------------------------


def _lookup(ident: str, model: str, find: Callable[..., dict | None], *, by_slug: bool = True) -> dict:
    """Django Packages' MultiLookupFieldMixin and DRF's get_object_or_404: digits are an id, else a slug.

    What the database would refuse to compare (digits `int()` cannot read, such as `²`; a NUL) is DRF's bare
    404, "Not found."; what it can compare but does not hold is Django's "No Package matches the given query.".
    """
    if ident.isdigit() or not by_slug:
        try:
            key = int(ident)
        except ValueError:
            raise Refused(404, {"detail": NOT_FOUND}) from None
        row = find(id=key) if 0 <= key else None
    elif "\x00" in ident:
        raise Refused(404, {"detail": NOT_FOUND})
    else:
        row = find(slug=ident)
    if row is None:
        raise Refused(404, {"detail": f"No {model} matches the given query."})
    return row


def _record(row: dict, ctx: Context) -> dict:
    return api.stored_record(row, ctx.serving.zone, ctx.serving.store_path)


def _page(ctx: Context, at: pages.Page, count: int, results: list[str]) -> bytes:
    return pages.envelope(count, pages.next_link(ctx.url, at, count), pages.previous_link(ctx.url, at),
                          results).encode()  # fmt: skip


def _modified_since(params: dict[str, str]) -> str | None:
    text = params.get("modified_since", "")
    if not text:
        return None
    try:
        return to_stored_datetime(parse_datetime(text))
    except ValueError as exc:
        hint = " (a + in a query string is a space: write it %2B, or give UTC as Z)" if " " in text else ""
        raise Refused(400, {"modified_since": [f"{exc}{hint}; give an ISO 8601 date-time with its UTC offset, "
                                               "such as 2026-12-01T00:00:00Z"]}) from None  # fmt: skip


def _count(params: dict[str, str], name: str, default: int, most: int) -> int:
    text = params.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise Refused(400, {name: [f"must be a whole number from 1 to {most}, not {text[:40]!r}"]})
    return value


def _changed(row: dict) -> datetime:
    """When a record last changed or was fetched (a grid or category: written by a walk)."""
    return max(_stored(row.get("modified")), _stored(row.get("last_fetched")), _stored(row.get("imported")))


def _stored(text: str | datetime | None) -> datetime:
    """A stored UTC date-time (or one read already: a facts row's); the epoch for none, or for one another program
    stored unreadably."""
    if not text:
        return conditional.EPOCH
    if isinstance(text, datetime):
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return conditional.EPOCH
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _cache(serving: Serving) -> str:
    return f"public, max-age={serving.cache_seconds}"


def _error(status: int, body: dict, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"content-type": JSON, "cache-control": "no-store", **(headers or {})}, _json(body))
