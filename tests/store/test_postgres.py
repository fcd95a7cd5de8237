"""A PostgreSQL store: the same tables, columns and views as SQLite's, its typed failures, its run lock, and CI never
skipping it. Against a real server (tests/postgres_server.py), never a stand-in for one."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import httpx
import pytest

from fetcher.errors import StoreBusy
from fetcher.location import PostgresURL
from fetcher.run.lock import run_lock
from fetcher.store import open_store
from fetcher.store.dialect import POSTGRES_VIEWS
from fetcher.store.schema import MIGRATIONS
from fetcher.store.shape import shape
from tests.conftest import POSTGRES_URL, ROOT, api_record, raw_store
from tests.postgres_server import free_port


@pytest.fixture
def backend():
    return "postgresql"


def test_ci_never_skips_the_postgresql_tests(request):
    if os.environ.get("CI") != "true":
        pytest.skip("only under CI=true: a developer without a server skips the PostgreSQL tests")
    try:
        url = request.getfixturevalue("postgres_server")
    except pytest.skip.Exception as exc:
        pytest.fail(f"CI would skip the PostgreSQL tests: {exc}")
    assert os.environ.get(POSTGRES_URL) == url


def sqlite_columns(db: sqlite3.Connection, name: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({name})")]


def test_both_backends_have_the_same_tables_columns_views_and_migrations(store_at, tmp_path):
    lite = open_store(tmp_path / "lite.db")
    store = open_store(store_at)
    try:
        dialect = store.db.dialect
        for table, columns in shape().tables.items():
            assert dialect.columns(store.db, table) == set(columns), table
        pg_views = {row["name"] for row in dialect.objects(store.db) if row["type"] == "view"}
        assert pg_views == set(shape().views) == set(POSTGRES_VIEWS)
        for view in POSTGRES_VIEWS:
            ordered = [row["column_name"] for row in store.db.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ? ORDER BY ordinal_position", [view])]
            assert ordered == sqlite_columns(lite.db.conn, view), view
        assert dialect.version(store.db) == len(MIGRATIONS) == lite.db.dialect.version(lite.db)
        assert {name for name in shape().indexes} <= {row["name"] for row in dialect.objects(store.db)}
    finally:
        store.close()
        lite.close()


def test_opening_again_changes_nothing_and_refuses_a_foreign_table(store_at, run_cli, config_file, raw_store_of):
    config = config_file()
    assert run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg").exit_code == 0
    assert run_cli(config, "add", "two", "--repo-url", "https://github.com/o/two").exit_code == 0
    with raw_store_of() as db:
        assert db.execute("SELECT id, slug FROM package ORDER BY id").fetchall() == [(1, "pkg"), (2, "two")]
        db.execute("DROP VIEW failing")
        db.execute("CREATE TABLE failing (x TEXT)")

    result = run_cli(config, "status")

    assert result.exit_code == 2
    assert "table 'failing' is another program's" in result.stderr and str(store_at) in result.stderr


def test_the_package_views_read_as_on_sqlite(store_at, run_cli, config_file, raw_store_of):
    config = config_file()
    run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg")
    with raw_store_of() as db:
        db.execute("UPDATE package SET last_fetched = '2026-01-01T10:00:00.000000+00:00'")
        db.execute("INSERT INTO setting (name, value) VALUES ('stale_after_seconds', '3600')")
        assert db.execute("SELECT slug, due_at FROM package_status").fetchall() == [("pkg", "2026-01-01T11:00:00Z")]
        db.execute("INSERT INTO fetch_state (package_id, consecutive_failures, last_error_at, failing_since) "
                   "VALUES (1, 3, '2026-01-02T00:00:00+00:00', '2026-01-01T00:00:00+00:00')")
        # A rest of stale_after x 2^(failures - 1) after the last failure.
        assert db.execute("SELECT due_at FROM package_status").fetchall() == [("2026-01-02T04:00:00Z",)]
        assert db.execute("SELECT slug, consecutive_failures FROM failing").fetchall() == [("pkg", 3)]


def test_ids_given_on_import_are_kept_and_a_new_package_is_numbered_past_them(run_cli, config_file, tmp_path):
    config = config_file()
    (tmp_path / "todo.json").write_text(__import__("json").dumps(api_record("django-todo")))
    assert run_cli(config, "import", str(tmp_path / "todo.json")).exit_code == 0
    assert run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg").exit_code == 0
    ids = {slug: __import__("json").loads(run_cli(config, "show", slug).stdout)["id"] for slug in ("django-todo", "pkg")}
    assert ids == {"django-todo": 409, "pkg": 410}


@pytest.mark.parametrize("url, said", [
    ("mysql://fetcher@127.0.0.1/db", "store.url must be a postgresql:// URL"),
    ("postgresql://fetcher:hunter2@127.0.0.1/db", "store.url holds a password: take it out"),
    ("postgresql://fetcher@127.0.0.1/db?password=hunter2", "store.url holds a password: take it out"),
])  # fmt: skip
def test_a_bad_url_or_a_password_in_the_file_is_exit_2_and_the_password_is_printed_nowhere(tmp_path, run_cli, url,
                                                                                             said):
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')

    result = run_cli(config, "status")

    assert result.exit_code == 2 and said in result.stderr
    assert "hunter2" not in result.output


def test_a_url_beside_a_path_is_refused(tmp_path, run_cli):
    config = tmp_path / "config.toml"
    config.write_text('[store]\npath = "x.db"\nurl = "postgresql://u@127.0.0.1/db"\n')
    result = run_cli(config, "status")
    assert result.exit_code == 2 and "store.path and store.url both name a store" in result.stderr


def test_the_password_comes_from_the_variable_password_env_names(monkeypatch):
    monkeypatch.setenv("STORE_PASSWORD", "s3cret")
    url = PostgresURL.parse("postgresql://fetcher@db.example/fetcher", "STORE_PASSWORD")
    assert url.conninfo() == {"conninfo": "postgresql://fetcher@db.example/fetcher", "password": "s3cret"}
    assert "s3cret" not in str(url) and "s3cret" not in repr(url)


@pytest.mark.parametrize("command", [["status"], ["import", "-"], ["sync"], ["export"]])
def test_a_server_that_cannot_be_reached_is_75_in_one_line_naming_the_store(tmp_path, run_cli, command):
    url = f"postgresql://fetcher@127.0.0.1:{free_port()}/fetcher"
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')

    result = run_cli(config, *command, input="[]")

    assert result.exit_code == 75, result.output
    assert result.stderr.startswith(f"fetcher: {url}: cannot reach the store: ") and result.stderr.count("\n") == 1


def test_a_missing_database_is_exit_2(postgres_server, tmp_path, run_cli):
    url = postgres_server.rsplit("/", 1)[0] + "/no_such_database"
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    result = run_cli(config, "status")
    assert result.exit_code == 2 and "no_such_database" in result.stderr


def test_without_the_extra_it_is_exit_2_naming_it(tmp_path, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg fails, as without the extra
    config = tmp_path / "config.toml"
    config.write_text('[store]\nurl = "postgresql://fetcher@127.0.0.1/fetcher"\n')
    result = run_cli(config, "status")
    assert result.exit_code == 2 and "pip install 'fetcher[postgres]'" in result.stderr


def test_status_names_the_url_and_what_the_store_takes(run_cli, config_file, store_at):
    config = config_file()
    run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg")
    result = run_cli(config, "status", "--json")
    store = __import__("json").loads(result.stdout)["store"]
    assert store == {"backend": "postgresql", "url": str(store_at), "bytes": store["bytes"]} and store["bytes"] > 0


def test_a_sync_takes_no_run_lock_any_number_run_at_once(run_cli, config_file, store_at):
    config = config_file()
    run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg")
    with run_lock(store_at, "sync"):  # what a sync of an older fetcher held: workers claim packages instead
        result = run_cli(config, "sync")
    assert "run lock" not in result.stderr
    with raw_store(store_at) as raw:
        assert raw.execute("SELECT command, pid FROM sync_run").fetchall() == [("sync", os.getpid())]
    assert StoreBusy.exit_code == 75


def test_a_killed_holder_leaves_the_run_lock_free(store_at):
    open_store(store_at).close()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from fetcher.location import PostgresURL
        from fetcher.run.lock import run_lock
        with run_lock(PostgresURL({store_at.url!r}), "sync"):
            print("held", flush=True)
            time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(StoreBusy):
            with run_lock(store_at, "refresh"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    with run_lock(store_at, "refresh", wait_seconds=30):  # the server ends the dead session and its lock
        pass


def test_remove_takes_what_goes_with_the_package_along(run_cli, config_file, raw_store_of):
    config = config_file()
    run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg")
    with raw_store_of() as db:
        db.execute("INSERT INTO fetch_state (package_id, consecutive_failures) VALUES (1, 2)")
        db.execute("INSERT INTO history (package_id, date, stars) VALUES (1, '2026-01-01', 3)")

    assert run_cli(config, "remove", "pkg").stdout == "removed pkg\n"

    with raw_store_of() as db:
        counts = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("package", "fetch_state", "history")]
    assert counts == [0, 0, 0]  # ON DELETE CASCADE, as on SQLite


def test_check_says_where_the_store_stands(run_cli, config_file, store_at):
    from fetcher.check import check_store
    from fetcher.hosts.base import UNREACHABLE

    before = check_store(store_at)
    run_cli(config_file(), "add", "pkg", "--repo-url", "https://github.com/o/pkg")
    after = check_store(store_at)
    away = check_store(PostgresURL(f"postgresql://fetcher@127.0.0.1:{free_port()}/fetcher"))

    assert (before.ok, before.detail) == (True, f"{store_at} has no store yet; the first import creates it")
    assert (after.ok, after.detail) == (True, f"{store_at}: 1 packages, schema current")
    assert not away.ok and away.exit_code == UNREACHABLE and "cannot reach the store" in away.detail


def test_an_export_is_read_a_few_rows_at_a_time_and_whole(run_cli, config_file, monkeypatch):
    from fetcher.store import postgres

    monkeypatch.setattr(postgres, "STREAM_ROWS", 2)
    config = config_file()
    for number in range(5):
        run_cli(config, "add", f"pkg-{number}", "--repo-url", f"https://github.com/o/pkg-{number}")

    every = run_cli(config, "export", "--jsonl")
    with_facts = run_cli(config, "export", "--facts")

    assert [__import__("json").loads(line)["slug"] for line in every.stdout.splitlines()] == \
        [f"pkg-{number}" for number in range(5)]
    assert [(record["slug"], record["facts"]["score"]) for record in __import__("json").loads(with_facts.stdout)] == \
        [(f"pkg-{number}", None) for number in range(5)]


def test_fetcher_serve_answers_from_a_postgresql_store_as_show_prints(config_file, tmp_path):
    from tests.serve.test_contract import fetcher, start_server, stop

    config = config_file()
    assert fetcher(config, "import", str(ROOT / "tests" / "fixtures" / "api-v4-django-todo.json")).returncode == 0
    process, url = start_server(config, "--log-format", "json")
    try:
        page = httpx.get(f"{url}/api/v4/packages/", timeout=30)
        record = httpx.get(f"{url}/api/v4/packages/django-todo/", timeout=30)
        health = httpx.get(f"{url}/api/fetcher/health/", timeout=30)
    finally:
        assert stop(process) == 0
    assert page.status_code == 200 and page.json()["count"] == 1
    assert record.status_code == 200 and record.content == fetcher(config, "show", "django-todo").stdout.encode()
    assert health.json()["store"]["readable"] is True


def test_a_nul_character_postgresql_cannot_hold_is_stored_as_the_replacement_character(store_at):
    from datetime import datetime, timezone

    store = open_store(store_at)
    try:
        store.catalogue.add("pkg", "https://github.com/o/pkg", "", "a\x00b", datetime.now(timezone.utc))
        assert store.reads.record("pkg")["title"] == "a\ufffdb"
    finally:
        store.close()


def test_an_older_store_is_read_at_the_current_shape_and_left_as_it_is(run_cli, config_file, store_at):
    config = config_file()
    run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg")
    store = open_store(store_at)
    with store.db.write():  # a store a fetcher made before migration 7: no workers, runs without their worker
        store.db.insert("sync_run", {"command": "sync", "started": "2026-03-01T00:00:00Z",
                                     "finished": "2026-03-01T00:00:05Z", "packages": 1, "synced": 1, "unchanged": 0,
                                     "failed": 0, "skipped": 0, "pending": 0, "requests": 3, "not_modified": 0,
                                     "retries": 0, "graphql_points": 1, "points": 2, "seconds": 5.0})
        for table in ("budget_hold", "claim", "worker"):
            store.db.execute(f"DROP TABLE {table}")
        for column in ("worker_id", "host", "pid"):
            store.db.execute(f"ALTER TABLE sync_run DROP COLUMN {column}")
        store.db.dialect.set_version(store.db, 6)
    store.close()

    reader = open_store(store_at, read_only=True)
    try:
        (run,), unreadable = reader.runs.last(5)
        assert unreadable == [] and (run["points"], run["host"], run["pid"], run["worker_id"]) == (2, None, None, None)
        assert reader.workers.live(datetime(2026, 3, 1, tzinfo=timezone.utc)) == []
    finally:
        reader.close()
    result = run_cli(config, "status", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["packages"] == 1

    store = open_store(store_at, create=False, read_only=True)  # nothing was made or migrated by the readers
    try:
        assert store.db.dialect.version(store.db) == 6
        tables = {row["name"] for row in store.db.dialect.objects(store.db) if row["type"] == "table"}
        assert not tables & {"worker", "claim", "budget_hold"}
        assert "host" not in store.db.dialect.columns(store.db, "sync_run")
    finally:
        store.close()


def test_views_are_made_once_not_at_every_start_so_workers_starting_together_never_drop_them_under_each_other(store_at):
    def view_ids(store) -> dict[str, int]:
        return {view: store.db.one("SELECT to_regclass(?)::oid::bigint", [view]) for view in POSTGRES_VIEWS}

    with open_store(store_at) as store:
        first = view_ids(store)
    with open_store(store_at) as store:
        assert view_ids(store) == first  # the same views: nothing dropped and made again
        with store.db.write():  # as if the statements had changed since (a newer fetcher's views)
            store.db.execute("UPDATE setting SET value = 'older' WHERE name = 'views_made_from'")
    with open_store(store_at) as store:
        remade = view_ids(store)
        assert set(remade) == set(first) and all(remade[view] != first[view] for view in first)
        assert view_ids(store) == remade
