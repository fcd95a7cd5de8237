"""A directory's grids and categories: their API v4 fields, checked on import, stored as columns, printed in shape.

Django Packages' API v4 (apiv4/serializers.py of djangopackages/djangopackages) serves them as:

- a grid: `id`, `title`, `slug`, `description`, `is_locked`, `packages` (the URLs of its packages' API records),
  `header`, `created`, `modified` (GridSerializer; the model is grid.models.Grid, `slug` unique);
- a category: `id`, `title`, `slug`, `description`, `title_plural`, `show_pypi`, `created`, `modified`
  (CategorySerializer; package.models.Category, whose `slug` is not unique).

`fetcher import --from-api` stores them in tables of their own (`grid`, `category`) as it walks the listings, so
that whatever serves the API can answer them; the packages' `grids` and `category` fields keep the URLs as given.
Date-times are stored in UTC and printed in the configured zone, as a package's are; booleans are 0/1; lists JSON.
"""

import json
import re
from datetime import datetime, tzinfo

from fetcher.errors import InputError
from fetcher.record import datetime_problem, is_utf8, parse_datetime, to_stored_datetime

GRID_FIELDS = ("id", "title", "slug", "description", "is_locked", "packages", "header", "created", "modified")
CATEGORY_FIELDS = ("id", "title", "slug", "description", "title_plural", "show_pypi", "created", "modified")
FIELDS = {"grids": GRID_FIELDS, "categories": CATEGORY_FIELDS}
BOOLEANS = frozenset({"is_locked", "header", "show_pypi"})
DATETIMES = frozenset({"created", "modified"})
LISTS = frozenset({"packages"})
# A slug as Django's SlugField takes it (letters, digits, hyphens, underscores), and the dots older records have.
_SLUG = re.compile(r"[A-Za-z0-9._-]+")
MAX_TEXT = 100_000  # a title or a description past this is no grid's; the body cap bounds the page anyway


def check(listing: str, item: object, where: str) -> dict:
    """One grid or category of an API page (`listing` is "grids" or "categories") as store columns; InputError
    naming `where` and the field otherwise. Every field must be there, and no other."""
    fields = FIELDS[listing]
    if not isinstance(item, dict):
        raise InputError(f"{where}: a record must be a JSON object, not {type(item).__name__}")
    if isinstance(item.get("slug"), str):
        where = f"{where} (slug {item['slug']!r})"
    missing = [name for name in fields if name not in item]
    if missing:
        raise InputError(f"{where}: no {', '.join(missing)}")
    unknown = sorted(set(item) - set(fields))
    if unknown:
        raise InputError(f"{where}: unknown field {', '.join(unknown)}")
    for name in fields:
        problem = _problem(name, item[name])
        if problem:
            raise InputError(f"{where}: {name} {problem}, got {json.dumps(item[name])[:60]}")
    return to_columns(item)


def _problem(name: str, value) -> str | None:
    """Why `value` cannot be the field `name`, or None when it can."""
    if name == "id":
        return None if isinstance(value, int) and not isinstance(value, bool) and value > 0 else \
            "must be a positive integer"
    if name == "slug":
        return None if isinstance(value, str) and _SLUG.fullmatch(value) else "must be a non-empty slug"
    if name in BOOLEANS:
        return None if isinstance(value, bool) else "must be true or false"
    if name in LISTS:
        ok = isinstance(value, list) and all(isinstance(item, str) and _text(item) for item in value)
        return None if ok else "must be a list of URLs"
    if name in DATETIMES:
        return datetime_problem(value)
    return None if isinstance(value, str) and _text(value) else "must be a string"


def _text(value: str) -> bool:
    return len(value) <= MAX_TEXT and is_utf8(value)


def to_columns(item: dict) -> dict:
    """API values -> columns: booleans 0/1, lists as JSON, date-times in UTC."""
    columns = {}
    for name, value in item.items():
        if name in BOOLEANS:
            value = int(value)
        elif name in LISTS:
            value = json.dumps(value, ensure_ascii=False)
        elif name in DATETIMES:
            value = to_stored_datetime(parse_datetime(value))
        columns[name] = value
    return columns


def to_api(listing: str, row: dict, zone: tzinfo) -> dict:
    """A stored grid or category -> its API v4 record: its fields, in the serializer's order."""
    record = {}
    for name in FIELDS[listing]:
        value = row[name]
        if name in BOOLEANS:
            value = bool(value)
        elif name in LISTS:
            value = json.loads(value)
        elif name in DATETIMES:
            value = datetime.fromisoformat(value).astimezone(zone).isoformat()
        record[name] = value
    return record
