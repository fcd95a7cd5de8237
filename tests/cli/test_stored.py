"""Values another program wrote into fetcher's tables that fetcher cannot read (a date-time 'yesterday' or 42, JSON
that is not JSON or not of the column's shape, a bad budget, a bad cached answer), through the real CLI.

A reader prints nothing of what it was asked and exits 2 with one line naming the store, the package and the
column; `status` names every such value and exits 1; `sync` and `refresh` fail that package alone, recorded on
it, and write the others; a value that is only a cache or a budget is taken as unknown and asked afresh. Nothing
else in the store changes.
"""

import contextlib
import json
import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from fetcher.store import open_store
from tests.conftest import API, BOTH_BACKENDS, FIXTURES, GitHubRepo, pypi_route

TODO = str(FIXTURES / "api-v4-django-todo.json")  # package 409
LDAP = str(FIXTURES / "api-v4-django-auth-ldap.json")  # package 410
TODAY = datetime.now(timezone.utc).date()


@pytest.fixture
def config(config_file, run_cli):
    """Two packages imported; django-todo (409) is the one another program will spoil."""
    path = config_file(github="graphql = false")
    assert run_cli(path, "import", TODO, LDAP).exit_code == 0
    return path


def store_of(config):
    return config.parent / "test.db"


def spoil(config, *statements: str, params=()) -> None:
    """What another program writes, with plain sqlite3."""
    with contextlib.closing(sqlite3.connect(store_of(config))) as db, db:
        for statement in statements:
            db.execute(statement, params)


def query(config, sql: str, params=()) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(store_of(config))) as db:
        return db.execute(sql, params).fetchall()


def dump(config) -> list[str]:
    with contextlib.closing(sqlite3.connect(store_of(config))) as db:
        return list(db.iterdump())


def both_on_github(respx_mock):
    """Every answer both packages' fetches need; the routes of django-todo's repository."""
    todo = GitHubRepo(respx_mock, "shacker/django-todo", stars=77)
    GitHubRepo(respx_mock, "django-auth-ldap/django-auth-ldap", stars=55)
    pypi_route(respx_mock, "django-todo", "2.6.0")
    pypi_route(respx_mock, "django-auth-ldap", "5.3.0")
    return todo


# -- readers: nothing printed, exit 2, one line naming the store, the package and the column ---------------------

HISTORY_ROW = "INSERT INTO history (package_id, date, stars) VALUES (409, '{date}', {stars})"


@pytest.mark.parametrize(("statements", "command", "why"), [
    (["UPDATE package SET created = 'yesterday' WHERE id = 409"], ["show", "django-todo"],
     "created is not a date-time: 'yesterday'"),
    (["UPDATE package SET last_updated = 42 WHERE id = 409"], ["show", "django-todo", "--pretty"],
     "last_updated is not a date-time: '42'"),  # a TEXT column keeps a number as its text
    (["UPDATE package SET last_updated = x'00ff' WHERE id = 409"], ["show", "django-todo"],
     "last_updated is not a date-time: b'\\x00\\xff'"),
    (["INSERT INTO fetch_state (package_id, last_attempt) VALUES (409, 'soon')"], ["show", "django-todo", "--pretty"],
     "fetch_state.last_attempt is not a date-time: 'soon'"),
    (["INSERT INTO facts (package_id, classifiers) VALUES (409, '{\"a\": 1}')"], ["show", "django-todo", "--facts"],
     "facts.classifiers is not a JSON list of texts: '{\"a\": 1}'"),
    (["UPDATE package SET grids = '[\"https://x/\",' WHERE id = 409"], ["export"],
     "grids is not a JSON list of texts: '[\"https://x/\",'"),
    (["UPDATE package SET commits_over_52 = '[1, -2]' WHERE id = 409"], ["export", "--jsonl"],
     "commits_over_52 is not a JSON list of counts: '[1, -2]'"),
    (["INSERT INTO facts (package_id, archived) VALUES (409, 'maybe')"], ["export", "--facts"],
     "facts.archived is not a flag (0 or 1): 'maybe'"),
    ([HISTORY_ROW.format(date="yesterday", stars=5)], ["history", "django-todo"],
     "history.date is not a day (YYYY-MM-DD): 'yesterday'"),
    ([HISTORY_ROW.format(date=TODAY, stars="'many'")], ["history", "django-todo", "--json"],
     "history.stars is not an integer: 'many'"),
    ([HISTORY_ROW.format(date=TODAY - timedelta(days=40), stars=1), HISTORY_ROW.format(date=TODAY, stars=2.5)],
     ["trending"], "history.stars is not an integer: 2.5"),
    ([HISTORY_ROW.format(date=TODAY, stars=3), "UPDATE history SET date = 20261207 WHERE package_id = 409"],
     ["trending", "--json"], "history.date is not a day (YYYY-MM-DD): '20261207'"),
])  # fmt: skip
def test_a_reader_prints_nothing_and_names_the_store_the_package_and_the_column(config, run_cli, statements, command,
                                                                              why):
    spoil(config, *statements)
    before = dump(config)

    result = run_cli(config, *command)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == f"fetcher: {store_of(config)}: package 'django-todo': {why}\n"
    assert dump(config) == before  # a reader writes nothing
    # The healthy package reads as ever.
    shown = run_cli(config, "show", "django-auth-ldap")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["slug"] == "django-auth-ldap"


def test_a_value_past_what_is_shown_is_cut_and_what_a_terminal_acts_on_is_escaped(config, run_cli):
    spoil(config, "UPDATE package SET created = ? WHERE id = 409", params=["\x1b]52;c;" + "x" * 200])

    result = run_cli(config, "show", "django-todo")

    assert result.exit_code == 2
    assert result.stderr == (f"fetcher: {store_of(config)}: package 'django-todo': created is not a date-time: "
                             f"'\\x1b]52;c;{'x' * 46}...\n")


# -- status: everything it can read, and each value it cannot, named: exit 1 -------------------------------------

def test_status_names_each_unreadable_value_shows_the_rest_and_exits_1(config, run_cli):
    now = datetime.now(timezone.utc)
    spoil(config,
          "INSERT INTO fetch_state (package_id, consecutive_failures, last_error, failing_since) "
          "VALUES (409, 'three', 'boom', 'last week')",
          f"INSERT INTO rate_limit VALUES ('GITHUB_TOKEN', 'core', 5000, 10, 'tomorrow', '{now.isoformat()}')",
          f"INSERT INTO rate_limit VALUES ('GITHUB_TOKEN', 'graphql', 5000, 4990, '{now + timedelta(hours=1)}', "
          f"'{now.isoformat()}')")
    before = dump(config)

    text = run_cli(config, "status")
    as_json = run_cli(config, "status", "--json")

    assert text.exit_code == 1, text.output
    assert text.stderr == ""
    assert "packages    2 (github.com 2)" in text.stdout
    assert "GITHUB_TOKEN graphql: 4990 of 5000 left" in text.stdout  # the readable budget
    assert "GITHUB_TOKEN core" not in text.stdout
    assert ("unreadable  3 values another program stored that fetcher cannot read (counted as unknown): mend or "
            "remove them\n"
            "  package 'django-todo': fetch_state.consecutive_failures is not an integer: 'three'\n"
            "  package 'django-todo': fetch_state.failing_since is not a date-time: 'last week'\n"
            "  rate_limit row token_env='GITHUB_TOKEN', resource='core': rate_limit.reset is not a date-time: "
            "'tomorrow'") in text.stdout
    assert as_json.exit_code == 1
    status = json.loads(as_json.stdout)
    assert status["packages"] == 2 and status["failing"] == 0 and status["due"] == 2
    assert list(status["rate_limits"]["GITHUB_TOKEN"]) == ["graphql"]
    assert len(status["unreadable"]) == 3
    assert dump(config) == before


# -- sync and refresh: that package fails, recorded on it; the others are written -------------------------------

@pytest.mark.parametrize(("statement", "why"), [
    ("UPDATE package SET grids = 'not json' WHERE id = 409", "grids is not a JSON list of texts: 'not json'"),
    ("UPDATE package SET participants = '[\"ann\"' WHERE id = 409",
     "participants is not a JSON list of texts: '[\"ann\"'"),
    ("UPDATE package SET modified = 42 WHERE id = 409", "modified is not a date-time: '42'"),
    ("UPDATE package SET repo_watchers = 'lots' WHERE id = 409", "repo_watchers is not an integer: 'lots'"),
    ("INSERT INTO facts (package_id, django_versions) VALUES (409, '4.2')",
     "facts.django_versions is not a JSON list of texts: '4.2'"),
    ("INSERT INTO facts (package_id, latest_release_at) VALUES (409, 'yesterday')",
     "facts.latest_release_at is not a date-time: 'yesterday'"),
])  # fmt: skip
@pytest.mark.parametrize("command", [["sync", "--all"], ["refresh", "django-todo", "django-auth-ldap"]])
def test_a_sync_fails_the_package_whose_value_it_cannot_read_and_writes_the_others(config, run_cli, respx_mock,
                                                                                   statement, why, command):
    todo = both_on_github(respx_mock)
    spoil(config, statement)
    kept = query(config, "SELECT * FROM package WHERE id = 409") + query(config, "SELECT * FROM facts")

    result = run_cli(config, *command)

    message = f"{store_of(config)}: package 'django-todo': {why}"
    assert result.exit_code == 1, result.output
    assert f"failed django-todo: {message}" in result.stderr
    assert "1 synced" in result.output and "1 failed" in result.output
    assert query(config, "SELECT repo_watchers FROM package WHERE id = 410") == [(55,)]  # written
    assert query(config, "SELECT last_fetched IS NOT NULL FROM package WHERE id = 410") == [(1,)]
    # The spoiled package: nothing asked for it, its values as they were, the failure recorded on it.
    assert todo.repo.call_count == 0
    assert query(config, "SELECT * FROM package WHERE id = 409") + query(config, "SELECT * FROM facts "
                                                                                 "WHERE package_id = 409") == kept
    assert query(config, "SELECT last_error, consecutive_failures FROM fetch_state WHERE package_id = 409") == [
        (message, 1)]
    assert query(config, "SELECT count(*) FROM history WHERE package_id = 409") == [(0,)]
    assert query(config, "SELECT failed, synced FROM sync_run") == [(1, 1)]


def test_an_unreadable_last_fetched_is_read_as_never_fetched_and_the_fetch_writes_a_good_one(config, run_cli,
                                                                                            respx_mock):
    both_on_github(respx_mock)
    spoil(config, "UPDATE package SET last_fetched = 'yesterday'")  # both: neither is held back by it

    result = run_cli(config, "sync")

    assert result.exit_code == 0, result.output
    assert "2 synced" in result.output
    for (stamp,) in query(config, "SELECT last_fetched FROM package"):
        assert datetime.fromisoformat(stamp) > datetime.now(timezone.utc) - timedelta(minutes=5)



def test_a_time_at_the_end_of_the_calendar_is_read_as_it_is_not_a_crash(config, run_cli, respx_mock):
    both_on_github(respx_mock)
    spoil(config, "UPDATE package SET last_fetched = '9999-12-31T23:59:59+00:00' WHERE id = 409",
          "INSERT INTO fetch_state (package_id, consecutive_failures, last_error_at) "
          "VALUES (410, 2, '9999-12-31T23:59:59+00:00')")  # plus the wait: past what a date-time holds

    synced = run_cli(config, "sync")
    status = run_cli(config, "status", "--json")
    forced = run_cli(config, "sync", "--all")

    assert synced.exit_code == 0, synced.output
    assert "0 of 0 packages" in synced.output  # neither is due before the year 9999 is out
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["due"] == 0 and json.loads(status.stdout)["resting"] == 1
    assert forced.exit_code == 0 and "2 synced" in forced.output, forced.output

def test_an_unreadable_cached_answer_is_dropped_asked_afresh_and_replaced(config, run_cli, respx_mock):
    todo = both_on_github(respx_mock)
    now = datetime.now(timezone.utc).isoformat()
    spoil(config, f"""INSERT INTO resource_cache (package_id, resource, etag, value, fetched_at)
                      VALUES (409, 'repo', '"etag-of-nothing"', 'not json', '{now}'),
                             (410, 'repo', '"etag-too"', '{{"stars": 1}}', 'an hour ago')""")

    result = run_cli(config, "sync")

    assert result.exit_code == 0, result.output
    assert "2 synced" in result.output
    assert todo.repo.call_count == 1
    assert "If-None-Match" not in todo.repo.calls[0].request.headers  # asked afresh, not with the unread ETag
    for package_id, value, fetched_at in query(
            config, "SELECT package_id, value, fetched_at FROM resource_cache WHERE resource = 'repo'"):
        assert isinstance(json.loads(value), dict), package_id
        datetime.fromisoformat(fetched_at)
    assert query(config, "SELECT repo_watchers FROM package ORDER BY id") == [(77,), (55,)]


@pytest.mark.parametrize("reset", ["tomorrow", "9999-12-31T00:00:00+00:00"])  # unreadable; no window's reset
def test_an_unreadable_budget_is_unknown_asked_again_and_replaced(config, run_cli, respx_mock, monkeypatch, reset):
    both_on_github(respx_mock)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_stored_budget_test")
    later = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())
    asked = respx_mock.get(f"{API}/rate_limit").mock(return_value=httpx.Response(200, json={"resources": {
        "core": {"limit": 5000, "remaining": 4900, "reset": later, "used": 100},
        "graphql": {"limit": 5000, "remaining": 5000, "reset": later, "used": 0}}}))
    # Had it been believed, nothing would be left of this window: the run would defer every package.
    spoil(config, f"INSERT INTO rate_limit VALUES ('GITHUB_TOKEN', 'core', 5000, 0, '{reset}', "
                  f"'{datetime.now(timezone.utc).isoformat()}')")

    result = run_cli(config, "sync")

    assert result.exit_code == 0, result.output
    assert "2 synced" in result.output and "deferred" not in result.output
    assert asked.call_count == 1
    [(budget, remaining, stamp)] = query(
        config, "SELECT budget, remaining, reset FROM rate_limit WHERE token_env = 'GITHUB_TOKEN' AND resource = "
                "'core'")
    assert budget == 5000 and remaining > 0
    assert datetime.fromisoformat(stamp) < datetime.now(timezone.utc) + timedelta(days=1)
    status = run_cli(config, "status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["unreadable"] == []


@pytest.mark.parametrize("text", ['["\\ud800"]', "[" * 100_000, '["MIT", 3]'])
def test_a_license_that_is_no_list_of_names_prints_as_the_text_it_is(config, run_cli, text):
    spoil(config, "INSERT INTO facts (package_id, license) VALUES (409, ?)", params=[text])

    shown = run_cli(config, "show", "django-todo", "--facts")
    exported = run_cli(config, "export", "--facts", "--jsonl")

    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["facts"]["license"] == text
    assert exported.exit_code == 0
    assert [json.loads(line)["facts"]["license"] for line in exported.stdout.splitlines()] == [None, text]


def test_text_that_is_not_utf8_fails_its_own_package_in_a_sync_not_the_run(config, run_cli, respx_mock):
    both_on_github(respx_mock)
    spoil(config, "UPDATE package SET title = CAST(x'41ff' AS TEXT) WHERE id = 409")  # 'A' and a byte no UTF-8 has

    result = run_cli(config, "sync", "--all")

    message = f"{store_of(config)}: package 'django-todo': title is not text: 'A\\udcff'"
    assert result.exit_code == 1, result.output
    assert f"failed django-todo: {message}" in result.stderr
    assert query(config, "SELECT last_error FROM fetch_state WHERE package_id = 409") == [(message,)]
    assert query(config, "SELECT CAST(title AS BLOB) FROM package WHERE id = 409") == [(b"A\xff",)]  # kept
    assert query(config, "SELECT repo_watchers FROM package WHERE id = 410") == [(55,)]


def test_text_that_is_not_utf8_is_named_by_status_and_stops_a_reader_with_one_line(config, run_cli):
    spoil(config, "UPDATE package SET repo_url = CAST(x'ff' AS TEXT) WHERE id = 409")

    status = run_cli(config, "status")
    shown = run_cli(config, "show", "django-todo")

    assert status.exit_code == 1, status.output
    assert "packages    2 (github.com 1, none 1)" in status.stdout
    assert "  package 'django-todo': repo_url is not text: '\\udcff'" in status.stdout
    assert shown.exit_code == 2 and shown.stdout == ""
    assert shown.stderr.startswith(f"fetcher: {store_of(config)}: Could not decode to UTF-8 column 'repo_url'")
    assert shown.stderr.count("\n") == 1
    assert run_cli(config, "show", "django-auth-ldap").exit_code == 0


def test_status_orders_failing_packages_whose_slug_cannot_be_read(config, run_cli):
    spoil(config, "UPDATE package SET slug = CAST(x'ff' AS TEXT) WHERE id = 409",
          "INSERT INTO fetch_state (package_id, consecutive_failures, last_error) VALUES (409, 4, 'a'), (410, 4, 'b')")

    result = run_cli(config, "status")

    assert result.exit_code == 1, result.output
    assert "failing     2 packages" in result.stdout
    assert "  django-auth-ldap: 4 in a row: b" in result.stdout
    assert "  package '\\udcff': slug is not text: '\\udcff'" in result.stdout


@BOTH_BACKENDS
def test_on_either_backend_a_reader_names_the_value_and_status_lists_it(config_file, run_cli, store_at):
    """PostgreSQL's columns are typed, but its date-times are text there too: read by the same kinds."""
    path = config_file(github="graphql = false")
    assert run_cli(path, "import", TODO, LDAP).exit_code == 0
    with contextlib.closing(open_store(store_at)) as store, store.db.write():
        store.db.execute("UPDATE package SET last_fetched = 'soon' WHERE id = 409")
    where = open_store(store_at, read_only=True)
    named = where.db.where()
    where.close()

    shown, exported, status = (run_cli(path, "show", "django-todo"), run_cli(path, "export"),
                               run_cli(path, "status", "--json"))

    assert (shown.exit_code, shown.stdout) == (2, "")
    assert shown.stderr == f"fetcher: {named}: package 'django-todo': last_fetched is not a date-time: 'soon'\n"
    assert (exported.exit_code, exported.stdout) == (2, "")
    assert "package 'django-todo': " in exported.stderr
    assert status.exit_code == 1
    assert json.loads(status.stdout)["unreadable"] == ["package 'django-todo': last_fetched is not a date-time: 'soon'"]
