"""Another program's table, index or view under one of fetcher's names is refused, named, and left as it is.

A table is fetcher's when its columns are schema.sql's (less what later migrations add, for an older store of
fetcher's own); a view when fetcher_view records it as it stands, or when the store is from before that record.
Each refusal is exit 2 with one line naming the object, and the store's file is byte for byte as it was.
"""

import contextlib
import json
import sqlite3

import pytest

from fetcher.store.schema import MIGRATIONS
from fetcher.store.shape import shape
from tests.conftest import FIXTURES, ROOT, GitHubRepo, pypi_route

TODO = str(FIXTURES / "api-v4-django-todo.json")
TABLES = ["package", "fetch_state", "resource_cache", "sync_run", "facts", "history", "rate_limit", "run_token",
          "setting", "fetcher_view", "grid", "category", "import_walk", "import_page", "repo_move",
          "filled_documentation", "worker", "claim", "budget_hold"]
VIEWS = ["package_status", "failing", "runs"]
TAIL = "fetcher changed nothing in the store: rename that {kind}, or give fetcher a store of its own (store.path)"


def sql(store, *statements: str) -> None:
    """Another program's change, checkpointed into the file itself: the bytes a test compares are the whole store."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        with db:
            for statement in statements:
                db.execute(statement)
        assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0


def objects(store) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(store)) as db:
        return db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def refused(result, store, config, kind: str, name: str, why: str) -> None:
    """Exit 2 and one line: the object, why it is not fetcher's, what to do, and the config that named the store."""
    assert result.exit_code == 2, result.output
    why = f"fetcher: {store}: {kind} {name!r} is another program's ({why}); {TAIL.format(kind=kind)}"
    assert result.stderr == f"{why} (config: {config})\n"
    assert result.stdout == ""


@pytest.fixture
def fetchers_store(config_file, run_cli):
    """A config and its store, made by fetcher and holding one package."""
    config = config_file()
    assert run_cli(config, "import", TODO).exit_code == 0
    return config, config.parent / "test.db"


def test_every_name_the_tests_use_is_one_of_schema_sqls():
    assert set(TABLES) == set(shape().tables) and set(VIEWS) == set(shape().views)


@pytest.mark.parametrize("name", TABLES)
def test_a_database_fetcher_never_shaped_with_another_programs_table_of_a_fetcher_name_is_left_alone(
        config_file, run_cli, name):
    config = config_file()
    store = config.parent / "test.db"
    sql(store, f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, note TEXT)", f"INSERT INTO {name} VALUES (1, 'mine')")
    before = store.read_bytes()

    result = run_cli(config, "import", TODO)

    why = ("its columns are not fetcher's: no column category, commits_over_52, created, documentation_url, grids, "
           "last_fetched, last_updated, modified, participants, pypi_url, pypi_version, repo_description, repo_forks, "
           "repo_url, repo_watchers, slug, title; an extra column note") if name == "package" else \
        "a store without fetcher's table 'package' has none of fetcher's tables, indexes or views"
    refused(result, store, config, "table", name, why)
    assert store.read_bytes() == before
    assert sorted(path.name for path in config.parent.iterdir()) == ["config.toml", "test.db"]


@pytest.mark.parametrize("name", VIEWS)
def test_a_database_fetcher_never_shaped_with_another_programs_view_of_a_fetcher_name_is_left_alone(
        config_file, run_cli, name):
    config = config_file()
    store = config.parent / "test.db"
    sql(store, "CREATE TABLE visits (page TEXT)", f"CREATE VIEW {name} AS SELECT page FROM visits")
    before = store.read_bytes()

    result = run_cli(config, "add", "x", "--repo-url", "https://github.com/o/x")

    refused(result, store, config, "view", name,
            "a store without fetcher's table 'package' has none of fetcher's tables, indexes or views")
    assert store.read_bytes() == before


@pytest.mark.parametrize("name", VIEWS)
@pytest.mark.parametrize("command", [["import", TODO], ["export"], ["status"], ["show", "django-todo"], ["sync"]])
def test_another_programs_view_in_place_of_fetchers_is_never_dropped(fetchers_store, run_cli, respx_mock, name,
                                                                    command):
    config, store = fetchers_store
    sql(store, f"DROP VIEW {name}", f"CREATE VIEW {name} AS SELECT slug, 'theirs' AS owner FROM package")
    before, shapes = store.read_bytes(), objects(store)

    result = run_cli(config, *command)

    refused(result, store, config, "view", name, "fetcher did not make it as it stands")
    assert store.read_bytes() == before and objects(store) == shapes


@pytest.mark.parametrize("name", VIEWS)
def test_a_table_under_a_view_name_is_refused(fetchers_store, run_cli, name):
    config, store = fetchers_store
    sql(store, f"DROP VIEW {name}", f"CREATE TABLE {name} (mine TEXT)", f"INSERT INTO {name} VALUES ('kept')")
    before = store.read_bytes()

    result = run_cli(config, "import", TODO)

    refused(result, store, config, "table", name, "fetcher keeps a view of that name")
    assert store.read_bytes() == before


@pytest.mark.parametrize("name", ["setting", "rate_limit", "history"])
def test_another_programs_table_in_place_of_fetchers_is_refused_before_a_write_meets_it(
        fetchers_store, run_cli, respx_mock, name):
    config, store = fetchers_store
    sql(store, f"DROP TABLE {name}", f"CREATE TABLE {name} (name TEXT PRIMARY KEY, value TEXT NOT NULL, owner TEXT)")
    before = store.read_bytes()
    GitHubRepo(respx_mock, "shacker/django-todo")
    pypi_route(respx_mock, "django-todo", "2.6.0")

    result = run_cli(config, "sync")

    columns = {"setting": "an extra column owner",
               "rate_limit": "no column budget, remaining, reset, resource, seen_at, token_env; an extra column name, "
                             "owner, value",
               "history": "no column archived, commit_count, date, forks, package_id, participants, pypi_version, "
                          "stars; an extra column name, owner, value"}[name]
    refused(result, store, config, "table", name, f"its columns are not fetcher's: {columns}")
    assert store.read_bytes() == before


def test_an_index_of_a_fetcher_name_on_another_table_is_refused(fetchers_store, run_cli):
    config, store = fetchers_store
    sql(store, "DROP INDEX package_due_order", "CREATE TABLE visits (page TEXT)",
        "CREATE INDEX package_due_order ON visits (page)")
    before = store.read_bytes()

    result = run_cli(config, "import", TODO)

    refused(result, store, config, "index", "package_due_order", "it indexes 'visits', not 'package'")
    assert store.read_bytes() == before


def test_a_store_from_before_the_record_keeps_its_views_as_fetchers_and_records_them(fetchers_store, run_cli):
    config, store = fetchers_store
    sql(store, "DROP TABLE fetcher_view", "DROP VIEW runs", "CREATE VIEW runs AS SELECT id FROM sync_run")

    assert run_cli(config, "import", TODO).exit_code == 0

    views = {name: text for kind, name, text in objects(store) if kind == "view"}
    assert views == shape().views  # the older definition of runs made anew
    with contextlib.closing(sqlite3.connect(store)) as db:
        assert dict(db.execute("SELECT name, sql FROM fetcher_view").fetchall()) == shape().views


def test_a_start_that_finds_the_views_as_made_writes_nothing(fetchers_store, run_cli):
    config, store = fetchers_store
    sql(store)  # the store whole in its file
    before = store.read_bytes()

    assert run_cli(config, "import", TODO).exit_code == 0  # the same record again: nothing to change
    assert run_cli(config, "status").exit_code == 1  # an alarm: the record was last fetched long ago

    sql(store)  # whatever was written is in the file now
    assert store.read_bytes() == before


def test_an_older_store_of_fetchers_own_is_fetchers_and_is_migrated(config_file, run_cli):
    """The columns a table lacks are the ones later migrations add: the store from before the views is fetcher's."""
    config = config_file()
    with contextlib.closing(sqlite3.connect(config.parent / "test.db")) as db:
        db.executescript((ROOT / "tests" / "fixtures" / "schema-before-views.sql").read_text())

    assert run_cli(config, "import", TODO).exit_code == 0

    with contextlib.closing(sqlite3.connect(config.parent / "test.db")) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert [r["slug"] for r in json.loads(run_cli(config, "export").stdout)] == ["django-todo", "old-one"]


def test_every_column_a_migration_adds_is_in_schema_sql_and_reads_as_what_it_would_give():
    """schema.sql is the shape the migrations lead to, and a reader of an older store knows each added column."""
    from fetcher.store.schema import READ_AS
    from fetcher.store.shape import added_columns

    added = [f"{table}.{column}" for each in added_columns(MIGRATIONS) for table, column in each]
    assert all(column in shape().tables[table] for table, column in (name.split(".") for name in added))
    assert sorted(READ_AS) == sorted(added)
