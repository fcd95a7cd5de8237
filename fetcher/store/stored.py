"""Values as the store holds them, read back into Python values: the one place a stored value is decoded.

fetcher writes every value through its rooms (date-times as UTC ISO 8601 text, lists and objects as JSON
text, flags as 0 or 1), but another program may write the same tables, and SQLite keeps whatever it is given
(text in an INTEGER column, a blob anywhere). Each column of fetcher's tables has a kind (COLUMNS); a row is
read column by column by those kinds (`decoded`), and a value that is not of its column's kind is an
UnreadableValue naming the store, the package (or the table and row) and the column: exit 2 for a reader,
never a crash. `lenient` reads what it can, an unreadable value as unknown (None), and says which were not.
What each command does with one is in docs/store.md (values another program wrote).
"""

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from dateutil.parser import isoparse

from fetcher.errors import UnreadableValue
from fetcher.record import is_utf8


class _Wrong(Exception):
    """The value is not of its column's kind."""


@dataclass(frozen=True)
class Kind:
    name: str  # what a value of it is, for a person: "a date-time", "a JSON list of texts"
    read: Callable[[Any], Any]  # the stored value (never NULL) -> the Python value; _Wrong when it is none


def _text(value) -> str:
    if not isinstance(value, str) or not (value.isascii() or is_utf8(value)):  # not UTF-8: Database.tolerant
        raise _Wrong
    return value


def _integer(value) -> int:
    if not isinstance(value, int):  # SQLite keeps a float only where it is no integer (1.5, 1e999)
        raise _Wrong
    return value


def _number(value) -> float:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Wrong
    return float(value)


def _flag(value) -> bool:
    return bool(_integer(value))


def date_time(value) -> datetime:
    """An ISO 8601 date-time with its UTC offset, in UTC. Not range-checked as import checks (a date-time written
    before that rule still reads), but it must have a place in UTC."""
    text = _text(value)
    try:
        moment = datetime.fromisoformat(text)  # what fetcher writes, quickly: a due walk reads two a package
    except ValueError:
        try:
            moment = isoparse(text)  # what import takes
        except (ValueError, OverflowError):
            raise _Wrong from None
    if moment.utcoffset() is None:
        raise _Wrong
    try:
        return moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise _Wrong from None


def _day(value) -> str:
    """A UTC day as history keys it, YYYY-MM-DD; kept as that text."""
    text = _text(value)
    try:
        date.fromisoformat(text)
    except ValueError:
        raise _Wrong from None
    if len(text) != 10:
        raise _Wrong
    return text


def _json(value):
    try:
        return json.loads(_text(value))
    except (ValueError, RecursionError):
        raise _Wrong from None


def _texts(value) -> list[str]:
    items = _json(value)
    # Checked in C, item by item: an export reads every package's lists.
    if not (isinstance(items, list) and set(map(type, items)) <= {str} and is_utf8("".join(items))):
        raise _Wrong
    return items


def _counts(value) -> list[int]:
    items = _json(value)
    if not (isinstance(items, list) and set(map(type, items)) <= {int} and min(items, default=0) >= 0):
        raise _Wrong
    return items


def _object(value) -> dict:
    items = _json(value)
    if not isinstance(items, dict):
        raise _Wrong
    return items


TEXT = Kind("text", _text)
INTEGER = Kind("an integer", _integer)
NUMBER = Kind("a number", _number)
FLAG = Kind("a flag (0 or 1)", _flag)
DATE_TIME = Kind("a date-time", date_time)
DAY = Kind("a day (YYYY-MM-DD)", _day)
TEXTS = Kind("a JSON list of texts", _texts)
COUNTS = Kind("a JSON list of counts", _counts)
OBJECT = Kind("a JSON object", _object)


@dataclass(frozen=True)
class Column:
    table: str
    name: str
    kind: Kind

    @property
    def label(self) -> str:
        """The column as a message names it: a package's own by name, another table's with the table."""
        return self.name if self.table == "package" else f"{self.table}.{self.name}"


def _table(table: str, /, **kinds: Kind) -> dict[str, Column]:
    return {column: Column(table, column, kind) for column, kind in kinds.items()}


# Every column of schema.sql's tables, by its kind (tests/store/test_stored.py checks that none is missing).
COLUMNS: dict[str, dict[str, Column]] = {
    "package": _table(
        "package", id=INTEGER, slug=TEXT, title=TEXT, category=TEXT, grids=TEXTS, last_updated=DATE_TIME,
        last_fetched=DATE_TIME, repo_url=TEXT, pypi_version=TEXT, created=DATE_TIME, modified=DATE_TIME,
        repo_forks=INTEGER, repo_description=TEXT, pypi_url=TEXT, documentation_url=TEXT, repo_watchers=INTEGER,
        commits_over_52=COUNTS, participants=TEXTS),
    "fetch_state": _table(
        "fetch_state", package_id=INTEGER, last_attempt=DATE_TIME, last_error=TEXT, last_error_at=DATE_TIME,
        consecutive_failures=INTEGER, note=TEXT, failing_since=DATE_TIME, last_points=INTEGER, pending=FLAG),
    "resource_cache": _table(
        "resource_cache", package_id=INTEGER, resource=TEXT, etag=TEXT, last_modified=TEXT, value=OBJECT,
        fetched_at=DATE_TIME, token_env=TEXT),
    "sync_run": _table(
        "sync_run", id=INTEGER, command=TEXT, started=DATE_TIME, finished=DATE_TIME, packages=INTEGER,
        synced=INTEGER, unchanged=INTEGER, failed=INTEGER, skipped=INTEGER, pending=INTEGER, requests=INTEGER,
        not_modified=INTEGER, retries=INTEGER, graphql_points=INTEGER, points=INTEGER, seconds=NUMBER, stopped=TEXT,
        rate_limit_wait=NUMBER, deferred=INTEGER, tokens=OBJECT, worker_id=INTEGER, host=TEXT, pid=INTEGER),
    "worker": _table(
        "worker", id=INTEGER, host=TEXT, pid=INTEGER, command=TEXT, started=DATE_TIME, pass_started=DATE_TIME,
        alive_until=DATE_TIME, claimed=INTEGER),
    "claim": _table("claim", package_id=INTEGER, claimed_by=INTEGER, claimed_until=DATE_TIME, points=INTEGER),
    "budget_hold": _table("budget_hold", worker_id=INTEGER, token_env=TEXT, resource=TEXT, points=INTEGER),
    "facts": _table(
        "facts", package_id=INTEGER, archived=FLAG, archived_at=DATE_TIME, commit_count=INTEGER, license=TEXT,
        requires_python=TEXT, supports_python3=FLAG, django_versions=TEXTS, classifiers=TEXTS,
        latest_release_at=DATE_TIME, latest_release_yanked=FLAG, pypi_status=TEXT, score=INTEGER,
        modified=DATE_TIME),
    "history": _table(
        "history", package_id=INTEGER, date=DAY, stars=INTEGER, forks=INTEGER, participants=INTEGER,
        commit_count=INTEGER, pypi_version=TEXT, archived=FLAG),
    "rate_limit": _table(
        "rate_limit", token_env=TEXT, resource=TEXT, budget=INTEGER, remaining=INTEGER, reset=DATE_TIME,
        seen_at=DATE_TIME),
    "run_token": _table(
        "run_token", run_id=INTEGER, token_env=TEXT, resource=TEXT, spent=INTEGER, remaining=INTEGER, budget=INTEGER,
        reset=DATE_TIME, rejected=FLAG),
    "setting": _table("setting", name=TEXT, value=TEXT),
    "repo_move": _table("repo_move", package_id=INTEGER, old_url=TEXT, new_url=TEXT, moved_at=DATE_TIME),
    "filled_documentation": _table("filled_documentation", package_id=INTEGER, url=TEXT, filled_at=DATE_TIME),
    # The catalogue's grids and categories (`import --from-api`): the server prints them through
    # fetcher.directory.to_api, which names a value it cannot print as unreadable too.
    "grid": _table(
        "grid", id=INTEGER, title=TEXT, slug=TEXT, description=TEXT, is_locked=FLAG, packages=TEXTS, header=FLAG,
        created=DATE_TIME, modified=DATE_TIME, imported=DATE_TIME),
    "category": _table(
        "category", id=INTEGER, title=TEXT, slug=TEXT, description=TEXT, title_plural=TEXT, show_pypi=FLAG,
        created=DATE_TIME, modified=DATE_TIME, imported=DATE_TIME),
    "import_walk": _table(
        "import_walk", api_url=TEXT, started=DATE_TIME, next_url=TEXT, pages=INTEGER, updated=DATE_TIME,
        finished=DATE_TIME),
    "import_page": _table(
        "import_page", url=TEXT, api_url=TEXT, listing=TEXT, etag=TEXT, last_modified=TEXT, next_url=TEXT,
        records=INTEGER, walk_started=DATE_TIME, read_at=DATE_TIME),
    "fetcher_view": _table("fetcher_view", name=TEXT, sql=TEXT),
}


def package(slug) -> str:
    """Where a value of a package's is, as a message names it."""
    return f"package {slug!r}"


def row_of(table: str, **key) -> str:
    """Where a value of a row that is no package's is: its table and key."""
    return f"{table} row " + ", ".join(f"{name}={value!r}" for name, value in key.items())


def decoded(path: Path, where: str, columns: Mapping[str, Column], row: dict) -> dict:
    """`row` with each column `columns` names read into its Python value (NULL stays None); the rest as it is.

    UnreadableValue for the first value that is not of its column's kind."""
    values = dict(row)
    for name, column in columns.items():
        stored = values.get(name)
        if stored is not None:
            try:
                values[name] = column.kind.read(stored)  # `value`, inline: an export reads every value twice
            except _Wrong:
                raise UnreadableValue(path, where, column.label, column.kind.name, stored) from None
    return values


def read_package(path: Path, row: dict) -> dict:
    """A package row as stored, each value read by its column's kind (`decoded`)."""
    return decoded(path, package(row["slug"]), COLUMNS["package"], row)


def lenient(path: Path, where: str, columns: Mapping[str, Column], row: dict) -> tuple[dict, list[UnreadableValue]]:
    """`row` decoded as `decoded` does, but each unreadable value read as unknown (None) and returned beside it."""
    values, unreadable = dict(row), []
    for name, column in columns.items():
        if name in values and values[name] is not None:
            try:
                values[name] = value(path, where, column, values[name])
            except UnreadableValue as problem:
                values[name] = None
                unreadable.append(problem)
    return values, unreadable


def readable(path: Path, rows: Iterable[dict], columns: Mapping[str, Column],
             where: Callable[[dict], str]) -> tuple[list[dict], list[UnreadableValue]]:
    """The rows, each read as `decoded` reads it; a row with a value that cannot be read is left out, and named
    beside them (`where(row)`: where its values are)."""
    read, unreadable = [], []
    for row in rows:
        try:
            read.append(decoded(path, where(row), columns, row))
        except UnreadableValue as problem:
            unreadable.append(problem)
    return read, unreadable


def value(path: Path, where: str, column: Column, stored):
    """One stored value (not NULL) read as its column's kind; UnreadableValue naming it otherwise."""
    try:
        return column.kind.read(stored)
    except _Wrong:
        raise UnreadableValue(path, where, column.label, column.kind.name, stored) from None
