"""Django REST framework's LimitOffsetPagination, as Django Packages' API v4 pages its lists. Pure functions.

Django Packages sets `DEFAULT_PAGINATION_CLASS = LimitOffsetPagination` and `PAGE_SIZE = 20` and no `max_limit`
(their settings.py; djangorestframework 3.17 in their lock file). What DRF's `rest_framework/pagination.py` does,
rule by rule, and the one departure:

- `limit`: a strictly positive integer as Python's `int()` reads it, else the default, 20 (`_positive_int`
  with `strict=True`); `offset`: a non-negative integer, else 0. A repeated parameter counts by its last value
  (Django's QueryDict). Nothing else in the query changes the page; it is kept in the links.
- `count` is the whole listing's; a page past the end has no results, and its `previous` still steps back.
- `next` is null once `offset + limit` reaches `count`; `previous` is null at offset 0, and drops `offset`
  altogether when stepping back would reach 0 or less.
- Both are absolute URLs, the request's own with `limit` and `offset` set (`replace_query_param`), every
  parameter re-encoded and sorted by name, as `rest_framework/utils/urls.py` builds them.
- The departure: DRF without `max_limit` serves any `limit`, the whole listing at once if asked. Here a `limit`
  above MAX_LIMIT is cut to it, as DRF does with `max_limit` set, so no answer grows without bound.
"""

import json
from dataclasses import dataclass
from urllib import parse

DEFAULT_LIMIT = 20  # Django Packages' PAGE_SIZE
MAX_LIMIT = 1000
# Django's DATA_UPLOAD_MAX_NUMBER_FIELDS: a query with more parameters is refused (400).
MAX_PARAMETERS = 1000


class BadQuery(ValueError):
    """A query string no page can be read from."""


def parameters(query: bytes) -> dict[str, str]:
    """The query's parameters as Django's QueryDict reads them: percent-escapes and `+` decoded, blank values
    kept, each name's last value; raw bytes that are not UTF-8 read as Latin-1, escapes that are not replaced."""
    try:
        text = query.decode("utf-8")
    except UnicodeDecodeError:
        text = query.decode("latin-1")
    try:
        pairs = parse.parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_PARAMETERS)
    except ValueError:
        raise BadQuery(f"more than {MAX_PARAMETERS} query parameters") from None
    return dict(pairs)


def positive_int(text: str, *, strict: bool = False, cutoff: int | None = None) -> int:
    """DRF's `_positive_int`: a ValueError for a negative number (or 0 when `strict`), cut to `cutoff`."""
    value = int(text)
    if value < 0 or (value == 0 and strict):
        raise ValueError(text)
    return min(value, cutoff) if cutoff else value


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int

    def past_the_end(self, count: int) -> bool:
        """DRF reads no rows for an empty listing or an offset past its end."""
        return count == 0 or self.offset > count


def page(params: dict[str, str]) -> Page:
    """The page a query asks for, as DRF's `get_limit` and `get_offset` read it."""
    try:
        limit = positive_int(params["limit"], strict=True, cutoff=MAX_LIMIT)
    except (KeyError, ValueError):
        limit = DEFAULT_LIMIT
    try:
        offset = positive_int(params["offset"])
    except (KeyError, ValueError):
        offset = 0
    return Page(limit, offset)


def next_link(url: str, at: Page, count: int) -> str | None:
    if at.offset + at.limit >= count:
        return None
    return replace_query_param(replace_query_param(url, "limit", at.limit), "offset", at.offset + at.limit)


def previous_link(url: str, at: Page) -> str | None:
    if at.offset <= 0:
        return None
    url = replace_query_param(url, "limit", at.limit)
    if at.offset - at.limit <= 0:
        return remove_query_param(url, "offset")
    return replace_query_param(url, "offset", at.offset - at.limit)


def replace_query_param(url: str, key: str, value) -> str:
    """The URL with `key` set to `value`: DRF's `replace_query_param`."""
    scheme, netloc, path, query, fragment = parse.urlsplit(url)
    params = parse.parse_qs(query, keep_blank_values=True)
    params[key] = [str(value)]
    return parse.urlunsplit((scheme, netloc, path, parse.urlencode(sorted(params.items()), doseq=True), fragment))


def remove_query_param(url: str, key: str) -> str:
    """The URL without `key`: DRF's `remove_query_param`."""
    scheme, netloc, path, query, fragment = parse.urlsplit(url)
    params = parse.parse_qs(query, keep_blank_values=True)
    params.pop(key, None)
    return parse.urlunsplit((scheme, netloc, path, parse.urlencode(sorted(params.items()), doseq=True), fragment))


def envelope(count: int, next_url: str | None, previous_url: str | None, results: list[str]) -> str:
    """`{"count", "next", "previous", "results"}` with each result already JSON text: exactly what `json.dumps`
    makes of the whole, each record's bytes left as they were printed."""
    return (f'{{"count": {count}, "next": {json.dumps(next_url)}, "previous": {json.dumps(previous_url)}, '
            f'"results": [{", ".join(results)}]}}')
