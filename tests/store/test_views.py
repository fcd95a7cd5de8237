"""The store in Datasette: the views through Datasette's own client, on a store a test sync wrote."""

import asyncio
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette

from fetcher.record import parse_datetime
from fetcher.store import open_store
from fetcher.store.schema import MIGRATIONS
from fetcher.standin import StandIn, World, add_catalog
from tests.conftest import ROOT

CATALOG = ROOT / "examples" / "packages.json"
METADATA = ROOT / "examples" / "metadata.yaml"
TOKEN = "ghp_datasette_token_0123456789"
MISSING = "shacker/django-todo"
COUNT = len(json.loads(CATALOG.read_text()))  # GitHub's packages and the other forges'


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    """The example catalogue synced from the stand-in, one repository gone missing."""
    folder = tmp_path_factory.mktemp("datasette")
    records = json.loads(CATALOG.read_text())
    world = World.from_catalog(records, seed=11)
    add_catalog(world, records, seed=11)  # the catalogue's GitLab, Codeberg and Bitbucket repositories too
    world.remove(MISSING)
    with StandIn(world, token=TOKEN, stats_delay=0) as standin:
        config = folder / "config.toml"
        config.write_text(f'[store]\npath = "packages.db"\n[github]\napi_url = "{standin.url}"\n'
                          f'graphql_url = "{standin.url}/graphql"\npace = false\n[pypi]\nurl = "{standin.url}"\n'
                          f'[sync]\nstale_after = "6h"\n[http]\nbackoff = 0\n\n{standin.hosts_config()}')  # fmt: skip
        from click.testing import CliRunner

        from fetcher.cli import cli

        runner = CliRunner(env={"GITHUB_TOKEN": TOKEN, "FETCHER_CONFIG": None})
        assert runner.invoke(cli, ["--config", str(config), "import", str(CATALOG)]).exit_code == 0
        assert runner.invoke(cli, ["--config", str(config), "sync"]).exit_code == 1  # the missing one fails
    return folder / "packages.db"


def ask(store_path: Path, *paths: str) -> list:
    """GET each path from a Datasette serving the store with the shipped metadata; their JSON."""

    async def get_all():
        datasette = Datasette([str(store_path)], metadata=yaml.safe_load(METADATA.read_text()))
        await datasette.invoke_startup()
        answers = []
        for path in paths:
            response = await datasette.client.get(path)
            assert response.status_code == 200, (path, response.text)
            answers.append(response.json())
        return answers

    return asyncio.run(get_all())


def test_package_status_gives_each_package_its_fetch_state_and_due_time(store_path):
    (rows,) = ask(store_path, "/packages/package_status.json?_shape=array&_size=max")

    assert len(rows) == COUNT
    by_slug = {row["slug"]: row for row in rows}
    fetched = by_slug["django-debug-toolbar"]
    due = parse_datetime(fetched["due_at"])
    assert due - parse_datetime(fetched["last_fetched"]) == timedelta(hours=6) - timedelta(
        microseconds=parse_datetime(fetched["last_fetched"]).microsecond)  # fmt: skip
    assert fetched["consecutive_failures"] == 0 and fetched["last_error"] is None
    constance = by_slug["django-todo"]
    assert constance["consecutive_failures"] == 1 and constance["last_error"].startswith("not found")
    assert constance["failing_since"] == constance["last_error_at"]


def test_failing_lists_the_failing_package_and_why(store_path):
    (rows,) = ask(store_path, "/packages/failing.json?_shape=array")

    assert [(row["slug"], row["consecutive_failures"]) for row in rows] == [("django-todo", 1)]
    assert rows[0]["last_error"].startswith("not found") and MISSING in rows[0]["last_error"]


def test_runs_show_the_sync_with_its_duration(store_path):
    (rows,) = ask(store_path, "/packages/runs.json?_shape=array")

    (run,) = rows
    assert (run["command"], run["packages"], run["synced"], run["failed"], run["skipped"]) == ("sync", COUNT, COUNT - 1, 1, 0)
    finished, started = parse_datetime(run["finished"]), parse_datetime(run["started"])
    assert 0 < run["seconds"] <= (finished - started).total_seconds() + 0.1
    assert run["rate_limit_wait"] == 0 and run["stopped"] is None


def test_the_metadata_describes_every_table_and_column_and_datasette_serves_it(store_path):
    metadata = yaml.safe_load(METADATA.read_text())
    described = metadata["databases"]["packages"]["tables"]
    with sqlite3.connect(store_path) as db:
        shapes = {
            name: {row[1] for row in db.execute(f"PRAGMA table_info({name})")}
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        }

    assert set(described) == set(shapes)
    for name, columns in shapes.items():
        assert set(described[name]["columns"]) == columns, name
        assert described[name]["title"] and described[name]["description"]

    (served,) = ask(store_path, "/-/metadata.json")
    assert served["databases"]["packages"]["tables"]["failing"]["title"] == "Failing packages"


def test_views_reach_an_older_store_after_its_migration(tmp_path):
    """A store made before the views and the new columns gets both on open, and the views work."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript((ROOT / "tests" / "fixtures" / "schema-before-views.sql").read_text())
    store = open_store(path)

    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    (failing,) = store.db.execute("SELECT slug, consecutive_failures, failing_since FROM failing").fetchall()
    assert failing == ("old-one", 2, "2026-11-01T00:00:00+00:00")  # the run of failures began no later than this
    (run,) = store.db.execute("SELECT command, seconds, rate_limit_wait FROM runs").fetchall()
    assert run == ("sync", 1.2, 0)


def test_the_metadata_sorts_and_facets_the_views(store_path):
    runs, status = ask(store_path, "/packages/runs.json", "/packages/package_status.json?_size=max")

    assert runs["query"]["sql"].startswith("select id, command") and " order by id desc " in runs["query"]["sql"]
    assert [(value["value"], value["count"]) for value in runs["facet_results"]["command"]["results"]] == [("sync", 1)]
    assert " order by due_at " in status["query"]["sql"]
    failures = {value["value"]: value["count"] for value in status["facet_results"]["consecutive_failures"]["results"]}
    assert failures == {0: COUNT - 1, 1: 1}
