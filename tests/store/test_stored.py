"""store/stored.py: every column of fetcher's tables has a kind, and each kind reads what fetcher writes and
refuses, naming it, what it cannot read."""

import contextlib
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fetcher.errors import UnreadableValue
from fetcher.store import open_store
from fetcher.store.stored import COLUMNS, decoded, lenient, readable, row_of

STORE = Path("packages.db")
WHERE = "package 'x'"


def test_every_column_of_every_table_has_its_kind(tmp_path):
    open_store(tmp_path / "s.db").close()
    with contextlib.closing(sqlite3.connect(tmp_path / "s.db")) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                                                 "LIKE 'sqlite_%'")]
        columns = {table: [row[1] for row in db.execute(f"PRAGMA table_info({table})")] for table in tables}

    assert {table: sorted(names) for table, names in columns.items()} == {
        table: sorted(kinds) for table, kinds in COLUMNS.items()}


@pytest.mark.parametrize(("column", "stored", "read"), [
    ("last_updated", "2026-02-11T13:53:49+00:00", datetime(2026, 2, 11, 13, 53, 49, tzinfo=timezone.utc)),
    ("last_updated", "2026-02-11T14:53:49+01:00", datetime(2026, 2, 11, 13, 53, 49, tzinfo=timezone.utc)),
    ("last_updated", "20260211T135349Z", datetime(2026, 2, 11, 13, 53, 49, tzinfo=timezone.utc)),  # as import takes
    ("grids", '["a", "b"]', ["a", "b"]),
    ("commits_over_52", "[0, 3]", [0, 3]),
    ("repo_forks", 7, 7),
    ("title", "", ""),
    ("pypi_url", None, None),
])  # fmt: skip
def test_what_fetcher_writes_reads_back(column, stored, read):
    assert decoded(STORE, WHERE, COLUMNS["package"], {column: stored}) == {column: read}


@pytest.mark.parametrize(("table", "column", "stored", "kind"), [
    ("package", "last_updated", "yesterday", "a date-time"),
    ("package", "last_updated", "2026-02-11T13:53:49", "a date-time"),  # no offset: no place in UTC
    ("package", "last_updated", 42, "a date-time"),
    ("package", "created", b"\x00", "a date-time"),
    ("package", "grids", "[1]", "a JSON list of texts"),
    ("package", "grids", '["\\ud800"]', "a JSON list of texts"),  # a lone surrogate: no text SQLite can hold
    ("package", "grids", "[" * 100_000, "a JSON list of texts"),  # nested past the decoder's depth
    ("package", "commits_over_52", "[true]", "a JSON list of counts"),
    ("package", "commits_over_52", "[1.5]", "a JSON list of counts"),
    ("package", "repo_forks", 1.5, "an integer"),
    ("package", "repo_forks", "12", "an integer"),
    ("package", "title", 3, "text"),
    ("facts", "archived", "yes", "a flag (0 or 1)"),
    ("history", "date", "2026-2-1", "a day (YYYY-MM-DD)"),
    ("history", "date", "2026-02-30", "a day (YYYY-MM-DD)"),
    ("resource_cache", "value", "[]", "a JSON object"),
    ("sync_run", "seconds", float("inf"), "a number"),
])  # fmt: skip
def test_a_value_not_of_its_kind_is_named_with_the_store_where_and_the_column(table, column, stored, kind):
    with pytest.raises(UnreadableValue) as caught:
        decoded(STORE, WHERE, COLUMNS[table], {column: stored})

    label = column if table == "package" else f"{table}.{column}"
    assert str(caught.value).startswith(f"packages.db: package 'x': {label} is not {kind}: ")
    assert len(str(caught.value)) < 200 and "\n" not in str(caught.value)


def test_lenient_reads_what_it_can_and_names_the_rest():
    values, unreadable = lenient(STORE, WHERE, COLUMNS["fetch_state"],
                                 {"consecutive_failures": "two", "last_attempt": "2026-02-11T13:53:49+00:00"})

    assert values == {"consecutive_failures": None,
                      "last_attempt": datetime(2026, 2, 11, 13, 53, 49, tzinfo=timezone.utc)}
    assert [problem.reason for problem in unreadable] == [
        "package 'x': fetch_state.consecutive_failures is not an integer: 'two'"]


def test_readable_leaves_out_the_rows_it_cannot_read_and_names_them():
    rows = [{"token_env": "A", "resource": "core", "budget": 10, "remaining": 3, "reset": "later"},
            {"token_env": "B", "resource": "core", "budget": 10, "remaining": 3, "reset": "2026-02-11T13:53:49Z"}]

    read, unreadable = readable(STORE, rows, COLUMNS["rate_limit"],
                                lambda row: row_of("rate_limit", token_env=row["token_env"]))

    assert [row["token_env"] for row in read] == ["B"]
    assert [problem.reason for problem in unreadable] == [
        "rate_limit row token_env='A': rate_limit.reset is not a date-time: 'later'"]
