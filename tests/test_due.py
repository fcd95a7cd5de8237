"""Failing packages back off: a rest that doubles per failure in a row, capped; the summary counts them."""

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from fetcher import due
from tests.conftest import pypi_route

DAY = timedelta(days=1)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "failures, expected",
    [(1, DAY), (2, 2 * DAY), (3, 4 * DAY), (5, 16 * DAY), (6, 30 * DAY), (7, 30 * DAY), (10_000, 30 * DAY)],
)
def test_the_rest_doubles_per_failure_and_stops_at_30_days(failures, expected):
    assert due.rest(DAY, failures) == expected


def test_a_stale_after_longer_than_the_cap_is_the_cap():
    assert due.rest(timedelta(days=60), 3) == timedelta(days=60)


def test_a_zero_stale_after_means_no_rest():
    assert due.rest(timedelta(0), 20) == timedelta(0)


def test_a_failing_package_is_due_after_its_rest_from_the_last_failure():
    last_failure = NOW - 3 * DAY
    assert due.next_due(NOW - 100 * DAY, 3, last_failure, DAY) == NOW + DAY
    assert not due.is_due(NOW - 100 * DAY, 3, last_failure, DAY, NOW)
    assert due.is_due(NOW - 100 * DAY, 3, last_failure, DAY, NOW + DAY)


def test_a_healthy_package_is_due_by_its_age_and_a_new_one_at_once():
    assert due.next_due(NOW - DAY, 0, None, DAY) == NOW
    assert due.is_due(NOW - DAY, 0, None, DAY, NOW)
    assert not due.is_due(NOW - DAY + timedelta(seconds=1), 0, None, DAY, NOW)
    assert due.next_due(None, 0, None, DAY) is None and due.is_due(None, 0, None, DAY, NOW)


def record(slug: str, last_fetched: str | None) -> dict:
    return {"slug": slug, "repo_url": "", "pypi_url": f"https://pypi.org/project/{slug}/", "last_fetched": last_fetched}


def fail(store, slug: str, failures: int, at: datetime) -> None:
    with sqlite3.connect(store) as db:
        (package_id,) = db.execute("SELECT id FROM package WHERE slug = ?", [slug]).fetchone()
        db.execute(
            "INSERT INTO fetch_state (package_id, last_attempt, last_error, last_error_at, consecutive_failures)"
            " VALUES (?, ?, 'not found', ?, ?)",
            [package_id, at.isoformat(), at.isoformat(), failures],
        )


def test_sync_leaves_resting_packages_and_says_how_many_while_refresh_and_all_take_them(
    config_file, run_cli, respx_mock, tmp_path
):
    config = config_file()
    now = datetime.now(timezone.utc)
    long_ago = (now - 100 * DAY).isoformat()
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([record("resting", long_ago), record("rested", long_ago), record("healthy", long_ago)]))
    run_cli(config, "import", str(catalog))
    store = config.parent / "test.db"
    fail(store, "resting", 3, now - 3 * DAY)  # rests 4 days
    fail(store, "rested", 2, now - 3 * DAY)  # rested 2 days: due again
    routes = {slug: pypi_route(respx_mock, slug, "1.0") for slug in ("resting", "rested", "healthy")}

    result = run_cli(config, "sync")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sync: 2 of 2 packages")
    assert "; 1 resting after failing (due later);" in result.stdout
    assert not routes["resting"].called and routes["rested"].called and routes["healthy"].called
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT sum(consecutive_failures) FROM fetch_state").fetchone() == (3,)

    assert run_cli(config, "refresh", "resting").stdout.startswith("refresh: 1 of 1 packages")
    assert routes["resting"].call_count == 1

    fail_again = run_cli(config, "sync", "--all")
    assert fail_again.stdout.startswith("sync: 3 of 3 packages") and "resting" not in fail_again.stdout


def test_stale_after_zero_is_honoured_not_taken_for_unset(config_file, run_cli, respx_mock, tmp_path):
    config = config_file()
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([record("fresh", (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat())]))
    run_cli(config, "import", str(catalog))
    pypi_route(respx_mock, "fresh", "1.0")

    assert run_cli(config, "sync").stdout.startswith("sync: 0 of 0 packages")  # 24h by the config
    assert run_cli(config, "sync", "--stale-after", "0s").stdout.startswith("sync: 1 of 1 packages")
