"""A store with a damaged page (`database disk image is malformed`): exit 2, one line naming the store and what to
do, and nothing more written, whether the page is met reading, writing or in the middle of a sync.

The damage is real: a page of a real store overwritten with bytes SQLite never wrote.
"""

import contextlib
import sqlite3

import pytest

from tests.conftest import FIXTURES, GitHubRepo, pypi_route

TODO = str(FIXTURES / "api-v4-django-todo.json")
LDAP = str(FIXTURES / "api-v4-django-auth-ldap.json")


def damage(store, table: str) -> bytes:
    """Overwrite the root pages of `table` and of its indexes (every read or write of it passes there); the file as
    it now is."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # the whole store is in the file
        pages = [page for (page,) in db.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = ? AND rootpage",
                                                [table])]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    with store.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * size)
            handle.write(b"\x55" * size)
    return store.read_bytes()


def said_damaged(result, store) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"fetcher: {store}: the store is damaged (database disk image is malformed); fetcher writes nothing more to "
        f"it: restore it from a backup, or recover what is readable with `sqlite3 {store} .recover`\n"
    )


@pytest.fixture
def store(config_file, run_cli):
    config = config_file()
    assert run_cli(config, "import", TODO, LDAP).exit_code == 0
    return config


@pytest.mark.parametrize(("table", "command"), [
    ("package", ["export"]),
    ("package", ["export", "--jsonl"]),
    ("facts", ["export", "--facts"]),
    ("package", ["show", "django-todo"]),
    ("fetch_state", ["show", "django-todo", "--pretty"]),
    ("history", ["history", "django-todo"]),
    ("history", ["trending"]),
    ("fetch_state", ["status"]),
    ("package", ["import", LDAP]),
    ("package", ["add", "x", "--repo-url", "https://github.com/o/x"]),
    ("package", ["remove", "django-todo"]),
    ("package", ["refresh", "django-todo"]),
    ("package", ["sync"]),
])  # fmt: skip
def test_a_damaged_page_met_reading_or_writing_is_exit_2_naming_the_store_and_what_to_do(
        store, run_cli, respx_mock, table, command):
    path = store.parent / "test.db"
    damaged = damage(path, table)

    result = run_cli(store, *command)

    said_damaged(result, path)
    assert result.stdout == ""  # not a byte of an export, nor a summary
    assert path.read_bytes() == damaged


def test_a_damaged_page_met_mid_sync_stops_it_with_2_and_writes_nothing_more(store, run_cli, respx_mock):
    GitHubRepo(respx_mock, "shacker/django-todo")
    GitHubRepo(respx_mock, "django-auth-ldap/django-auth-ldap")
    pypi_route(respx_mock, "django-todo", "2.6.0")
    pypi_route(respx_mock, "django-auth-ldap", "5.0.0")
    path = store.parent / "test.db"
    damaged = damage(path, "history")  # read and written with each package's record, after its fetch

    result = run_cli(store, "sync", "--all")

    said_damaged(result, path)
    assert result.stdout == ""
    assert respx_mock.calls.call_count > 0  # the run had begun: it met the page writing a fetched package
    assert path.read_bytes() == damaged  # no package, no run row: nothing
