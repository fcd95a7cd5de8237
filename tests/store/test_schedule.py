"""The due list is read from the store a page at a time as the run takes it, in the same order as before."""

from datetime import datetime, timedelta, timezone

import pytest
import respx

from fetcher.config import load
from fetcher.run import loop
from fetcher.store import schedule
from fetcher.record import validate
from fetcher.store import open_store
from tests.conftest import pypi_route, raw_store, BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def record(slug: str, last_fetched: datetime | None) -> dict:
    return {"slug": slug, "repo_url": "", "pypi_url": f"https://pypi.org/project/{slug}/",
            "last_fetched": last_fetched.isoformat() if last_fetched else None}


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(schedule, "PAGE", 3)


@pytest.fixture
def catalogue(tmp_path, small_pages):
    """Eleven packages: three never fetched, six by age, one fresh, one failing and resting."""
    store = open_store(tmp_path / "p.db")
    records = [record(f"never-{i}", None) for i in (2, 0, 1)]
    records += [record(f"age-{i}", NOW - (10 - i) * DAY) for i in range(6)]
    records += [record("fresh", NOW - timedelta(hours=1)), record("resting", NOW - 40 * DAY)]
    store.catalogue.import_records([validate(r, "test") for r in records], NOW)
    with raw_store(store.path) as db:
        (package_id,) = db.execute("SELECT id FROM package WHERE slug = 'resting'").fetchone()
        db.execute("INSERT INTO fetch_state (package_id, last_attempt, last_error, last_error_at, consecutive_failures)"
                   " VALUES (?, ?, 'gone', ?, 4)", [package_id, (NOW - DAY).isoformat(), (NOW - DAY).isoformat()])
    return store


def slugs(packages) -> list[str]:
    return [package["slug"] for package in packages]


def test_due_packages_come_never_fetched_then_oldest_first_across_pages_leaving_the_fresh_and_the_resting(catalogue):
    due = catalogue.schedule.due(DAY, None, NOW)

    assert len(due) == 9
    assert slugs(due) == ["never-2", "never-0", "never-1", "age-0", "age-1", "age-2", "age-3", "age-4", "age-5"]
    assert catalogue.schedule.resting(DAY, NOW) == 1


def test_limit_takes_the_most_overdue_and_all_takes_every_package(catalogue):
    assert len(catalogue.schedule.due(DAY, 4, NOW)) == 4
    assert slugs(catalogue.schedule.due(DAY, 4, NOW)) == ["never-2", "never-0", "never-1", "age-0"]
    every = catalogue.schedule.due(None, None, NOW)
    assert len(every) == 11
    assert slugs(every) == ["never-2", "never-0", "never-1", "resting", *(f"age-{i}" for i in range(6)), "fresh"]


def test_pages_are_read_as_the_run_takes_them_never_the_whole_list(catalogue, monkeypatch):
    read = []
    original = catalogue.schedule.rows_by_id
    monkeypatch.setattr(catalogue.schedule, "rows_by_id", lambda ids: read.append(len(ids)) or original(ids))

    due = iter(catalogue.schedule.due(DAY, None, NOW))
    first = next(due)

    assert first["slug"] == "never-2" and read == [3]  # one page of full rows, not nine
    list(due)
    assert read == [3, 3, 3]


@respx.mock
def test_a_run_over_many_pages_fetches_each_package_once_even_as_its_writes_move_them_in_the_order(
    catalogue, config_file, respx_mock, monkeypatch
):
    """A written package moves to the end of the order (its new last_fetched): it must not come round again."""
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setattr(loop, "CHUNK", 2)  # pages are read between writes, not all up front
    config = load(str(config_file("")))
    every = slugs(catalogue.schedule.due(None, None, NOW))
    routes = {package: pypi_route(respx_mock, package, "2.0") for package in every}
    later = NOW + timedelta(minutes=1)

    report = loop.run(catalogue, catalogue.schedule.due(None, None, NOW), config, "sync", clock=lambda: later)

    assert report.packages == 11 and sum(report.outcomes.values()) == 11
    assert {slug: route.call_count for slug, route in routes.items()} == {slug: 1 for slug in routes}
    assert all(catalogue.reads.record(slug)["pypi_version"] == "2.0" for slug in routes)
