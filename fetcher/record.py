"""The package record: its 18 API fields, how they are checked, stored and printed.

Defined once here and used by import, the store, show/export and the tests.
Date-times are stored as UTC ISO 8601 strings with microseconds (so they sort
as text) and printed in the configured time zone; lists are stored as JSON.
"""

import json
import re
from datetime import datetime, timezone, tzinfo

from dateutil.parser import isoparse

from fetcher.errors import InputError
from fetcher.links import parse_repo_url, pypi_name

API_FIELDS = (
    "category",
    "grids",
    "id",
    "title",
    "slug",
    "last_updated",
    "last_fetched",
    "repo_url",
    "pypi_version",
    "created",
    "modified",
    "repo_forks",
    "repo_description",
    "pypi_url",
    "documentation_url",
    "repo_watchers",
    "commits_over_52",
    "participants",
)

DATETIME_FIELDS = frozenset({"last_updated", "last_fetched", "created", "modified"})
LIST_FIELDS = frozenset({"grids", "commits_over_52", "participants"})
# The rest (title, category, grids, repo_url, pypi_url, documentation_url) is the catalogue, the person's:
# import takes it as given and a sync never writes it (bar the repo_url of a rename GitHub confirmed).
# The fetched fields import takes only from a record fetched later than the stored one:
IMPORTED_FETCHED_FIELDS = frozenset({
    "repo_forks", "repo_watchers", "repo_description", "participants", "commits_over_52", "last_updated",
    "pypi_version", "last_fetched", "modified",
})
# The fields a fetch writes (repo_url only for a rename GitHub confirmed).
FETCHED_FIELDS = (
    "last_updated",
    "repo_url",
    "pypi_version",
    "repo_forks",
    "repo_description",
    "repo_watchers",
    "commits_over_52",
    "participants",
)

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # matched whole: `$` would let a final newline through
# Every stored date-time must print in every time zone (offsets reach a day either side of UTC).
EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=timezone.utc)

# SQLite's integers are signed 64 bits: an id stops there. A count past 2**53 is no real count (and no longer
# exact in JSON read as a double); the facts keep the same bound (facts.MAX_COUNT).
MAX_ID = 2**63 - 1
MAX_COUNT = 2**53


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_NOT_UTF8 = "must be UTF-8 text (a lone surrogate is not)"


def _not_utf8(value) -> bool:
    """A string, or a list holding one, that SQLite cannot store: a lone surrogate (JSON's "\ud800")."""
    return any(isinstance(text, str) and not is_utf8(text) for text in (value if isinstance(value, list) else [value]))


def _check_type(field: str, value) -> str | None:
    """Why `value` cannot be `field`, or None when it can."""
    if field == "slug":
        return None if isinstance(value, str) and _SLUG.fullmatch(value) else "must be a non-empty slug"
    if field == "id":
        if not (_is_int(value) and value > 0):
            return "must be a positive integer"
        return None if value <= MAX_ID else f"must be at most {MAX_ID} (SQLite's integers are 64 bits)"
    if field in ("repo_forks", "repo_watchers"):
        if not (_is_int(value) and value >= 0):
            return "must be a non-negative integer"
        return None if value <= MAX_COUNT else f"must be at most {MAX_COUNT}, past any real count"
    if field in ("grids", "participants"):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of strings"
    if field == "commits_over_52":
        if not (isinstance(value, list) and all(_is_int(v) and v >= 0 for v in value)):
            return "must be a list of non-negative integers"
        return None if all(v <= MAX_COUNT for v in value) else f"must hold counts of at most {MAX_COUNT}"
    if field in DATETIME_FIELDS:
        if value is None and field not in ("created", "modified"):
            return None
        return datetime_problem(value)
    if field in ("title", "repo_url", "repo_description"):
        return None if isinstance(value, str) else "must be a string"
    # category, pypi_version, pypi_url, documentation_url: the API may give null.
    return None if value is None or isinstance(value, str) else "must be a string or null"


def is_utf8(text: str) -> bool:
    """False for strings SQLite cannot store: lone surrogates from a JSON \\ud800 escape."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def datetime_problem(value) -> str | None:
    """What is wrong with a date-time as a record gives it (an ISO 8601 string), or None."""
    if not isinstance(value, str):
        return "must be an ISO 8601 date-time string"
    try:
        parse_datetime(value)
    except ValueError as exc:
        return str(exc)
    return None


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with an explicit offset; a naive time would be ambiguous, so it is refused."""
    try:
        value = isoparse(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    try:
        in_range = EARLIEST <= value.astimezone(timezone.utc) <= LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError(f"{text!r} is out of range: date-times must lie between 0001-01-02 and 9999-12-30 UTC")
    return value


def to_stored_datetime(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def validate(record: object, where: str) -> dict:
    """Check one imported record; return its fields as store columns.

    Only the fields present are returned, so an upsert leaves the others alone.
    Raises InputError with a message that names `where` and the field.
    """
    if not isinstance(record, dict):
        raise InputError(f"{where}: a record must be a JSON object, not {type(record).__name__}")
    if "slug" not in record:
        raise InputError(f"{where}: no slug")
    where = f"{where} (slug {record['slug']!r})"
    unknown = sorted(set(record) - set(API_FIELDS))
    if unknown:
        raise InputError(f"{where}: unknown field {', '.join(unknown)}")
    for field, value in record.items():
        problem = _check_type(field, value) or (_NOT_UTF8 if _not_utf8(value) else None)
        if problem:
            raise InputError(f"{where}: {field} {problem}, got {json.dumps(value)[:60]}")
    try:
        if record.get("repo_url"):
            parse_repo_url(record["repo_url"])
        pypi_name(record.get("pypi_url"))  # the same check `add` makes
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return to_columns(record)


def to_columns(fields: dict) -> dict:
    """API values -> store columns (JSON lists, UTC date-time strings)."""
    columns = {}
    for field, value in fields.items():
        if field in LIST_FIELDS:
            value = json.dumps(value, ensure_ascii=False)
        elif field in DATETIME_FIELDS and value is not None:
            value = to_stored_datetime(value if isinstance(value, datetime) else parse_datetime(value))
        columns[field] = value
    return columns


def to_api(row: dict, zone: tzinfo) -> dict:
    """A package row as the store reads it (lists as lists, date-times as date-times: fetcher/store/stored.py) ->
    the API record: the 18 fields, in the API's order, date-times in `zone`."""
    record = {}
    for field in API_FIELDS:
        value = row[field]
        if field in DATETIME_FIELDS and value is not None:
            value = in_zone(value, zone).isoformat()
        record[field] = value
    return record


def in_zone(value: datetime, zone: tzinfo) -> datetime:
    """The date-time in `zone`; in UTC when the zone would take it past year 1 or 9999.

    Import refuses such dates, but a store written before that rule, or by another program,
    may hold one: printing it in UTC beats dying in the middle of an export.
    """
    try:
        return value.astimezone(zone)
    except (OverflowError, ValueError):
        return value.astimezone(timezone.utc)
