"""The command line as other tools see it: commands, output shapes, exit codes, errors."""

import json
import sqlite3

import httpx
import respx

from fetcher.record import API_FIELDS
from tests.conftest import API, FIXTURES, GitHubRepo, api_record, pypi_route, BOTH_BACKENDS

LDAP = str(FIXTURES / "api-v4-django-auth-ldap.json")
TODO = str(FIXTURES / "api-v4-django-todo.json")


def export(run_cli, config) -> list[dict]:
    result = run_cli(config, "export")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@BOTH_BACKENDS
def test_import_is_idempotent(config_file, run_cli, tmp_path):
    config = config_file()
    first = run_cli(config, "import", LDAP, TODO)
    snapshot = export(run_cli, config)
    second = run_cli(config, "import", LDAP, TODO)

    assert first.exit_code == second.exit_code == 0
    assert "1 records (1 new, 0 updated, 0 unchanged)" in first.stdout
    assert second.stdout.count("(0 new, 0 updated, 1 unchanged)") == 2
    assert export(run_cli, config) == snapshot


@BOTH_BACKENDS
def test_import_keeps_ids_and_every_field_as_given(config_file, run_cli):
    config = config_file(timezone="America/New_York")
    run_cli(config, "import", LDAP)

    shown = json.loads(run_cli(config, "show", "django-auth-ldap").stdout)

    assert shown == api_record("django-auth-ldap")
    assert list(shown) == list(API_FIELDS)


@BOTH_BACKENDS
def test_import_reads_an_api_page_from_stdin(config_file, run_cli):
    config = config_file()
    page = {"count": 2, "next": None, "previous": None, "results": [api_record("django-todo"), api_record("django-auth-ldap")]}

    result = run_cli(config, "import", "-", input=json.dumps(page))

    assert result.exit_code == 0
    assert [r["slug"] for r in export(run_cli, config)] == ["django-auth-ldap", "django-todo"]


@BOTH_BACKENDS
def test_import_upserts_without_wiping_fields_it_was_not_given(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", TODO)
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"slug": "django-todo", "title": "Django Todo"}))

    result = run_cli(config, "import", str(patch))

    record = json.loads(run_cli(config, "show", "django-todo").stdout)
    assert "(0 new, 1 updated, 0 unchanged)" in result.stdout
    assert record["title"] == "Django Todo"
    assert record["repo_forks"] == 285 and record["participants"] == api_record("django-todo")["participants"]
    assert record["modified"] > "2026-11"  # moved, since a value changed and none was given


def test_a_bad_record_rejects_its_file_and_writes_nothing(config_file, run_cli, tmp_path):
    config = config_file()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([api_record("django-todo"), {"title": "no slug here"}]))

    result = run_cli(config, "import", LDAP, str(bad))

    assert result.exit_code == 2
    assert result.stderr.strip() == f"fetcher: {bad}: record 2: no slug"
    assert not (config.parent / "test.db").exists()


def test_wrong_types_are_named_with_file_record_and_field(config_file, run_cli, tmp_path):
    config = config_file()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**api_record("django-todo"), "repo_forks": "285"}]))

    result = run_cli(config, "import", str(bad))

    assert result.exit_code == 2
    assert f"{bad}: record 1 (slug 'django-todo'): repo_forks must be a non-negative integer" in result.stderr


def test_a_file_that_is_not_json_is_rejected(config_file, run_cli, tmp_path):
    config = config_file()
    bad = tmp_path / "catalog.json"
    bad.write_text("slug,repo_url\nfoo,https://github.com/o/r\n")

    result = run_cli(config, "import", str(bad))

    assert result.exit_code == 2
    assert result.stderr.startswith(f"fetcher: {bad}: not JSON: ")
    assert len(result.stderr.strip().splitlines()) == 1


@BOTH_BACKENDS
def test_an_id_already_used_by_another_slug_is_rejected(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", TODO)
    clash = tmp_path / "clash.json"
    clash.write_text(json.dumps({"slug": "other", "id": 409}))

    result = run_cli(config, "import", str(clash))

    assert result.exit_code == 2
    assert "id 409 of slug 'other' already belongs to 'django-todo'" in result.stderr
    assert [r["slug"] for r in export(run_cli, config)] == ["django-todo"]


@BOTH_BACKENDS
def test_add_registers_a_package(config_file, run_cli):
    config = config_file()

    result = run_cli(config, "add", "django-filter", "--repo-url", "https://github.com/carltongibson/django-filter",
                     "--pypi-url", "https://pypi.org/project/django-filter/")

    assert result.exit_code == 0
    record = json.loads(run_cli(config, "show", "django-filter").stdout)
    assert record["title"] == "django-filter" and record["repo_url"] == "https://github.com/carltongibson/django-filter"
    assert record["last_fetched"] is None and record["participants"] == [] and record["repo_forks"] == 0
    again = run_cli(config, "add", "django-filter", "--repo-url", "https://github.com/x/y")
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_add_refuses_a_repo_url_that_is_not_a_url(config_file, run_cli):
    result = run_cli(config_file(), "add", "x", "--repo-url", "not a url")

    assert result.exit_code == 2
    assert "repo_url 'not a url'" in result.stderr


@BOTH_BACKENDS
def test_show_of_an_unknown_slug_is_exit_2(config_file, run_cli):
    config = config_file()
    run_cli(config, "import", TODO)
    result = run_cli(config, "show", "nope")

    assert result.exit_code == 2
    assert result.stderr.strip() == "fetcher: no package with slug 'nope' in the store"


@BOTH_BACKENDS
def test_export_empty_store_is_an_empty_array_and_jsonl_is_one_record_a_line(config_file, run_cli, tmp_path):
    config = config_file()
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    run_cli(config, "import", str(empty))
    assert export(run_cli, config) == []
    run_cli(config, "import", TODO, LDAP)

    lines = run_cli(config, "export", "--jsonl").stdout.splitlines()

    assert [json.loads(line)["slug"] for line in lines] == ["django-auth-ldap", "django-todo"]
    assert all(list(json.loads(line)) == list(API_FIELDS) for line in lines)


@BOTH_BACKENDS
def test_refresh_of_an_unknown_slug_fetches_nothing(config_file, run_cli):
    config = config_file()
    run_cli(config, "import", TODO)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route()
        result = run_cli(config, "refresh", "django-todo", "missing-one")

    assert result.exit_code == 2
    assert "'missing-one'" in result.stderr
    assert not route.called


@BOTH_BACKENDS
@respx.mock
def test_refresh_fetches_now_whatever_the_age(config_file, run_cli, respx_mock, tmp_path):
    config = config_file()
    run_cli(config, "import", TODO)
    GitHubRepo(respx_mock, "shacker/django-todo", forks=300)
    pypi_route(respx_mock, "django-todo", "2.5.0")
    assert run_cli(config, "refresh", "django-todo").exit_code == 0

    result = run_cli(config, "refresh", "django-todo")

    assert result.exit_code == 0
    assert result.stdout.startswith("refresh: 1 of 1 packages")
    assert json.loads(run_cli(config, "show", "django-todo").stdout)["repo_forks"] == 300


@BOTH_BACKENDS
@respx.mock
def test_sync_picks_due_packages_oldest_first_and_honours_limit_and_all(config_file, run_cli, respx_mock, tmp_path):
    config = config_file("\n[sync]\nconcurrency = 1\n")
    catalog = [
        {"slug": "fresh", "repo_url": "", "pypi_url": "https://pypi.org/project/fresh/", "last_fetched": "2099-01-01T00:00:00+00:00"},
        {"slug": "older", "repo_url": "", "pypi_url": "https://pypi.org/project/older/", "last_fetched": "2025-01-01T00:00:00+00:00"},
        {"slug": "oldest", "repo_url": "", "pypi_url": "https://pypi.org/project/oldest/", "last_fetched": "2024-01-01T00:00:00+00:00"},
        {"slug": "never", "repo_url": "", "pypi_url": "https://pypi.org/project/never/"},
    ]
    (tmp_path / "c.json").write_text(json.dumps(catalog))
    run_cli(config, "import", str(tmp_path / "c.json"))
    routes = {slug: pypi_route(respx_mock, slug, "1.0") for slug in ("fresh", "older", "oldest", "never")}

    limited = run_cli(config, "sync", "--limit", "2")
    assert limited.exit_code == 0 and "2 of 2 packages" in limited.stdout
    assert [s for s, r in routes.items() if r.called] == ["oldest", "never"]

    rest = run_cli(config, "sync")
    assert "1 of 1 packages" in rest.stdout and routes["older"].called and not routes["fresh"].called

    assert "0 of 0 packages" in run_cli(config, "sync", "--stale-after", "1h").stdout
    assert "4 of 4 packages" in run_cli(config, "sync", "--all").stdout


@BOTH_BACKENDS
@respx.mock
def test_sync_exit_1_names_each_failure_on_stderr(config_file, run_cli, respx_mock, tmp_path):
    config = config_file()
    run_cli(config, "import", TODO)
    respx_mock.get(f"{API}/repos/shacker/django-todo").mock(return_value=httpx.Response(404, json={"message": "Not Found"}))
    pypi_route(respx_mock, "django-todo", "2.5.0")

    result = run_cli(config, "sync")

    assert result.exit_code == 1
    assert result.stderr == f"failed django-todo: not found ({API}/repos/shacker/django-todo)\n"
    assert "0 synced, 0 unchanged, 1 failed, 0 skipped" in result.stdout


@BOTH_BACKENDS
@respx.mock
def test_network_down_is_one_line_and_exit_75(config_file, run_cli, respx_mock):
    config = config_file()
    run_cli(config, "import", TODO)
    respx_mock.route().mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))

    result = run_cli(config, "sync")

    assert result.exit_code == 75
    assert "Traceback" not in result.output
    assert ("stopped early: https://api.github.com:443 has not answered in this run (network down? wrong URL?): "
            "cannot connect: [Errno 111] Connection refused") in result.stdout


@respx.mock
def test_rejected_token_is_exit_2_with_a_message_and_no_secret(config_file, run_cli, respx_mock, monkeypatch):
    config = config_file()
    run_cli(config, "import", TODO)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_TOPSECRET")
    respx_mock.route(host="api.github.com").mock(return_value=httpx.Response(401, json={"message": "Bad credentials"}))
    pypi_route(respx_mock, "django-todo", "2.5.0")

    result = run_cli(config, "--verbose", "sync")

    assert result.exit_code == 2
    said = "GitHub rejected the token in $GITHUB_TOKEN (401 Bad credentials), the only token set: check it or unset it"
    assert said in result.stderr
    assert "TOPSECRET" not in result.output
    with sqlite3.connect(config.parent / "test.db") as db:
        (stopped,) = db.execute("SELECT stopped FROM sync_run").fetchone()
    assert stopped.startswith(said) and "TOPSECRET" not in stopped


def test_missing_explicit_config_is_exit_2(run_cli, tmp_path):
    result = run_cli(tmp_path / "nope.toml", "export")

    assert result.exit_code == 2
    assert result.stderr.strip() == f"fetcher: {tmp_path / 'nope.toml'}: config file not found"


def test_a_config_error_names_file_key_and_line(run_cli, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[sync]\nconcurrency = 16\nstale_afterr = "24h"\n')

    result = run_cli(config, "sync")

    assert result.exit_code == 2
    assert result.stderr.strip() == f"fetcher: {config}, line 3: unknown key sync.stale_afterr"


def test_a_store_path_holding_another_file_is_refused_untouched(config_file, run_cli, tmp_path):
    config = config_file()
    precious = tmp_path / "test.db"
    precious.write_text("my notes, not a database\n")

    result = run_cli(config, "import", TODO)

    assert result.exit_code == 2
    assert "not an SQLite database; refusing to write to it" in result.stderr
    assert precious.read_text() == "my notes, not a database\n"


def test_a_database_with_other_tables_is_fine(config_file, run_cli, tmp_path):
    config = config_file()
    with sqlite3.connect(tmp_path / "test.db") as other:
        other.execute("CREATE TABLE visits (page TEXT)")
        other.execute("INSERT INTO visits VALUES ('home')")

    assert run_cli(config, "import", TODO).exit_code == 0
    with sqlite3.connect(tmp_path / "test.db") as db:
        assert db.execute("SELECT page FROM visits").fetchall() == [("home",)]


def test_the_store_is_wal_and_schema_is_idempotent(config_file, run_cli, tmp_path):
    config = config_file()
    for _ in range(2):
        assert run_cli(config, "import", TODO).exit_code == 0
    with sqlite3.connect(tmp_path / "test.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"package", "fetch_state", "sync_run"} <= tables


def test_bad_duration_option_is_a_usage_error(config_file, run_cli):
    result = run_cli(config_file(), "sync", "--stale-after", "soon")

    assert result.exit_code == 2
    assert "'soon' is not a duration like 90s, 15m, 24h or 7d" in result.stderr


def test_migrations_run_once_on_an_older_store_and_never_on_a_new_one(config_file, run_cli, tmp_path, monkeypatch):
    from fetcher.store import schema

    config = config_file()
    assert run_cli(config, "import", TODO).exit_code == 0
    current = len(schema.MIGRATIONS)
    with sqlite3.connect(tmp_path / "test.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (current,)
    monkeypatch.setattr(
        schema, "MIGRATIONS", [*schema.MIGRATIONS, "ALTER TABLE package ADD COLUMN stars_last_week INTEGER"]
    )

    assert run_cli(config, "export").exit_code == 0  # a reading command writes nothing, migrations included
    with sqlite3.connect(tmp_path / "test.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (current,)
    assert run_cli(config, "import", TODO).exit_code == 0
    assert run_cli(config, "import", TODO).exit_code == 0  # applied once, not again

    with sqlite3.connect(tmp_path / "test.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (current + 1,)
        assert "stars_last_week" in [row[1] for row in db.execute("PRAGMA table_info(package)")]
    fresh = config_file(extra="").parent / "fresh"
    fresh.mkdir()
    (fresh / "config.toml").write_text('[store]\npath = "new.db"\n')
    assert run_cli(fresh / "config.toml", "import", TODO).exit_code == 0
    with sqlite3.connect(fresh / "new.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (current + 1,)  # created as schema.sql says, nothing to migrate


def test_export_in_any_zone_never_dies_mid_array_on_an_extreme_stored_date(config_file, run_cli):
    config = config_file(timezone="America/New_York")
    run_cli(config, "import", TODO, LDAP)
    with sqlite3.connect(config.parent / "test.db") as db:  # a date import now refuses, stored before it did
        db.execute("UPDATE package SET last_updated = '0001-01-01T00:00:00+00:00' WHERE slug = 'django-auth-ldap'")

    records = export(run_cli, config)

    assert [r["last_updated"] for r in records][0] == "0001-01-01T00:00:00+00:00"
    assert records[1]["last_updated"] == "2022-11-03T02:16:36-04:00"


def test_add_refuses_a_slug_with_a_trailing_newline(config_file, run_cli):
    result = run_cli(config_file(), "add", "pkg\n", "--repo-url", "https://github.com/o/pkg")

    assert result.exit_code == 2
    assert result.stderr == "fetcher: add (slug 'pkg\\n'): slug must be a non-empty slug, got \"pkg\\n\"\n"


def test_a_record_another_program_stored_unreadably_stops_export_before_its_first_byte(config_file, run_cli):
    config = config_file()
    run_cli(config, "import", TODO, LDAP)
    with sqlite3.connect(config.parent / "test.db") as db:
        db.execute("UPDATE package SET participants = 'not json' WHERE slug = 'django-todo'")

    result = run_cli(config, "export")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"fetcher: {config.parent / 'test.db'}: package 'django-todo': participants is not a "
                             "JSON list of texts: 'not json'\n")


def test_reading_commands_leave_no_wal_or_shm_file_they_made_beside_the_store(config_file, tmp_path):
    import subprocess
    import sys

    from fetcher.store.schema import store_state

    config = config_file()
    env = {"PATH": "/usr/bin:/bin"}

    def fetcher(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                              capture_output=True, text=True, env=env, timeout=60)

    assert fetcher("import", TODO).returncode == 0
    beside = lambda: sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("test.db"))  # noqa: E731
    assert beside() == ["test.db"]
    for args in (["show", "django-todo"], ["show", "django-todo", "--pretty"], ["export"], ["history", "django-todo"],
                 ["trending"]):
        done = fetcher(*args)
        assert done.returncode == 0, done.stderr
        assert beside() == ["test.db"], args
    assert store_state(tmp_path / "test.db")[2] == 1  # what `check` reads of the store
    assert beside() == ["test.db"]


def test_gitignore_covers_every_file_a_store_leaves_beside_it(tmp_path):
    from fnmatch import fnmatch

    from fetcher.run.lock import lock_path
    from tests.conftest import ROOT

    patterns = [line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    store = tmp_path / "packages.db"
    for path in (store, store.with_name("packages.db-wal"), store.with_name("packages.db-shm"), lock_path(store),
                 lock_path(store, "import")):
        assert any(fnmatch(path.name, pattern) for pattern in patterns), path.name


def test_a_slug_given_twice_in_one_file_is_merged_and_said_naming_both_records(config_file, run_cli, tmp_path):
    config = config_file()
    catalogue = tmp_path / "twice.json"
    catalogue.write_text(json.dumps([api_record("django-auth-ldap"), api_record("django-todo"),
                                     {"slug": "django-auth-ldap", "id": 410, "title": "LDAP"}]))

    result = run_cli(config, "import", str(catalogue))

    assert result.exit_code == 0
    assert result.stderr == (
        f"fetcher: warning: {catalogue}: slug 'django-auth-ldap' is given twice, by records 1 and 3: merged into one "
        "package, record 3's fields over record 1's\n"
    )
    assert result.stdout == f"imported {catalogue}: 3 records (2 new, 1 updated, 0 unchanged)\n"
    assert {record["slug"]: record["title"] for record in export(run_cli, config)}["django-auth-ldap"] == "LDAP"
