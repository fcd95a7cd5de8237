"""The two real Django Packages records, synced through the CLI against mocked GitHub and PyPI."""

import json
from datetime import datetime, timezone

import pytest
import respx

from fetcher.record import API_FIELDS, parse_datetime
from tests.conftest import FIXTURES, GitHubRepo, api_record, pypi_route

SLUGS = ("django-auth-ldap", "django-todo")


def mock_as_recorded(mock, record: dict) -> None:
    """GitHub and PyPI answering exactly what the record says."""
    full_name = record["repo_url"].removeprefix("https://github.com/")
    last_updated = parse_datetime(record["last_updated"]).astimezone(timezone.utc)
    GitHubRepo(
        mock,
        full_name,
        forks=record["repo_forks"],
        stars=record["repo_watchers"],
        description=record["repo_description"],
        contributors=record["participants"],
        weeks=record["commits_over_52"],
        newest_commit=last_updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    pypi_route(mock, record["slug"], record["pypi_version"])


def stale(record: dict) -> dict:
    """What the store held a year ago: other numbers, fewer people, an older version."""
    return {
        **record,
        "repo_forks": 1,
        "repo_watchers": 2,
        "repo_description": "old",
        "pypi_version": "0.1",
        "participants": record["participants"][:1],
        "commits_over_52": [0] * 52,
        "last_updated": "2020-01-01T00:00:00+00:00",
    }


@pytest.fixture
def mocked():
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        for slug in SLUGS:
            mock_as_recorded(mock, api_record(slug))
        yield mock


def test_sync_of_current_records_changes_nothing_but_last_fetched(mocked, config_file, run_cli):
    config = config_file(timezone="America/New_York")
    files = [str(FIXTURES / f"api-v4-{slug}.json") for slug in SLUGS]
    assert run_cli(config, "import", *files).exit_code == 0
    before = datetime.now(timezone.utc)

    result = run_cli(config, "sync")

    assert result.exit_code == 0, result.output
    # Synced: the facts beside the record were not known before; the 18 fields stay as they were.
    assert "2 of 2 packages" in result.stdout and "2 synced, 0 unchanged, 0 failed, 0 skipped" in result.stdout
    again = run_cli(config, "sync", "--all")
    assert "0 synced, 2 unchanged, 0 failed, 0 skipped" in again.stdout, again.output
    exported = json.loads(run_cli(config, "export").stdout)
    assert [record["slug"] for record in exported] == list(SLUGS)
    for record in exported:
        expected = api_record(record["slug"])
        assert list(record) == list(API_FIELDS)
        for field in API_FIELDS:
            if field == "last_fetched":
                assert parse_datetime(record[field]) >= before
                assert record[field].endswith(("-05:00", "-04:00"))
            else:
                assert record[field] == expected[field], field


def test_sync_of_stale_records_fills_every_field(mocked, config_file, run_cli, tmp_path):
    config = config_file(timezone="America/New_York")
    catalog = tmp_path / "stale.json"
    catalog.write_text(json.dumps({"count": 2, "next": None, "results": [stale(api_record(s)) for s in SLUGS]}))
    assert run_cli(config, "import", str(catalog)).exit_code == 0
    before = datetime.now(timezone.utc)

    result = run_cli(config, "sync")

    assert result.exit_code == 0, result.output
    assert "2 synced, 0 unchanged" in result.stdout
    for slug in SLUGS:
        record = json.loads(run_cli(config, "show", slug).stdout)
        expected = api_record(slug)
        for field in API_FIELDS:
            if field in ("last_fetched", "modified"):
                assert parse_datetime(record[field]) >= before, field
            else:
                assert record[field] == expected[field], field
        assert record["last_fetched"] == record["modified"]
