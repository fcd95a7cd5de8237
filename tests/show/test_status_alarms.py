"""`fetcher status` exits 1 once work piles up: a line per crossed threshold of [status], even with --quiet.

Each store is built to cross one threshold (or to stay just short of it) through the store's own writes and the
commands themselves."""

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from fetcher import cli
from fetcher.links import Links
from fetcher.show.text import utc
from fetcher.store import open_store
from fetcher.store.fetched import FetchedRecord
from tests.show.test_status import run_row

NOW = datetime.now(timezone.utc)
DAY = timedelta(hours=24)


@pytest.fixture(autouse=True)
def status_at_now(monkeypatch):
    """The commands read the store at NOW, however long the tests before these took: the edges stay edges."""
    monkeypatch.setattr(cli, "utcnow", lambda: NOW)


@pytest.fixture
def store_of(config_file, run_cli, tmp_path):
    """store_of(config extra): packages one and two, never fetched; (config, store)."""

    def make(extra: str = ""):
        config = config_file(extra)
        for slug in ("one", "two"):
            assert run_cli(config, "add", slug, "--repo-url", f"https://github.com/someone/{slug}").exit_code == 0
        return config, open_store(tmp_path / "test.db")

    return make


def fetched(store, slug: str, when: datetime) -> None:
    package = store.catalogue.packages([slug])[0]
    store.fetched.save(package["id"], Links.of(package), FetchedRecord({"repo_forks": 1}, {}), when)


def failed(store, slug: str, when: datetime) -> None:
    package = store.catalogue.packages([slug])[0]
    store.fetched.record_failure(package["id"], Links.of(package), "server error 502", when)


def sync(store, started: datetime, *, deferred: int = 0, stopped: str | None = None, command: str = "sync") -> None:
    store.runs.record(run_row(command, started, deferred=deferred, stopped=stopped, failed=0))


def alarms(run_cli, config) -> tuple[int, list[dict]]:
    result = run_cli(config, "status", "--json")
    return result.exit_code, json.loads(result.stdout)["alarms"]


# --- the oldest fetch: status.stale_factor ---------------------------------------------------------------------


def test_a_working_package_fetched_longer_ago_than_twice_stale_after_raises_the_alarm(store_of, run_cli):
    config, store = store_of()
    old = NOW - 2 * DAY - timedelta(minutes=5)
    fetched(store, "one", old)
    fetched(store, "two", NOW - timedelta(hours=1))

    result = run_cli(config, "status")

    assert result.exit_code == 1
    line = (f"alarm       status.stale_factor: one was last fetched 2 days ago ({utc(old)}), "
            "more than 2 × sync.stale_after (1d) ago")  # fmt: skip
    assert result.stdout.splitlines()[0] == line
    assert alarms(run_cli, config) == (1, [{"threshold": "stale_factor", "message": line.split(": ", 1)[1]}])


def test_a_fetch_just_younger_than_twice_stale_after_raises_none(store_of, run_cli):
    config, store = store_of()
    fetched(store, "one", NOW - 2 * DAY + timedelta(minutes=5))

    result = run_cli(config, "status")

    assert result.exit_code == 0 and "alarm" not in result.stdout
    assert json.loads(run_cli(config, "status", "--json").stdout)["stalest"]["slug"] == "one"


def test_a_failing_package_and_one_never_fetched_are_not_the_stale_alarms(store_of, run_cli):
    config, store = store_of()
    fetched(store, "one", NOW - 10 * DAY)
    failed(store, "one", NOW - timedelta(hours=1))  # its old fetch is the failures alarm's, from 3 in a row

    assert alarms(run_cli, config) == (0, [])


def test_stale_factor_sets_the_multiple_and_0_turns_the_check_off(store_of, run_cli):
    config, store = store_of("\n[status]\nstale_factor = 3.5\n")
    fetched(store, "one", NOW - 3 * DAY)
    assert alarms(run_cli, config) == (0, [])
    fetched(store, "two", NOW - 3.5 * DAY - timedelta(minutes=5))
    code, raised = alarms(run_cli, config)
    assert code == 1 and raised[0]["message"].endswith("more than 3.5 × sync.stale_after (1d) ago")

    config.write_text(config.read_text().replace("stale_factor = 3.5", "stale_factor = 0"))
    assert alarms(run_cli, config) == (0, [])


# --- syncs stopping early: status.stopped_runs -------------------------------------------------------------------


def test_the_last_three_syncs_stopped_early_raise_the_alarm_naming_the_last_reason(store_of, run_cli):
    config, store = store_of()
    sync(store, NOW - timedelta(hours=4))
    for hours in (3, 2, 1):
        sync(store, NOW - timedelta(hours=hours), stopped=f"rate limit #{hours}")
    sync(store, NOW - timedelta(minutes=30), command="refresh")  # a person's refresh counts for none

    code, raised = alarms(run_cli, config)

    assert code == 1
    assert raised == [{"threshold": "stopped_runs", "message": "the last 3 syncs all stopped early, the last at "
                       f"{utc(NOW - timedelta(hours=1))}: rate limit #1"}]  # fmt: skip


def test_two_stopped_syncs_after_one_that_finished_raise_none_nor_does_a_stopped_refresh(store_of, run_cli):
    config, store = store_of()
    sync(store, NOW - timedelta(hours=3))
    sync(store, NOW - timedelta(hours=2), stopped="rate limit")
    sync(store, NOW - timedelta(hours=1), stopped="rate limit")
    sync(store, NOW - timedelta(minutes=5), stopped="network down", command="refresh")

    assert alarms(run_cli, config) == (0, [])


def test_stopped_runs_sets_how_many_and_0_turns_the_check_off(store_of, run_cli):
    config, store = store_of("\n[status]\nstopped_runs = 1\n")
    sync(store, NOW - timedelta(hours=1), stopped="rate limit")
    assert alarms(run_cli, config)[0] == 1
    config.write_text(config.read_text().replace("stopped_runs = 1", "stopped_runs = 0"))
    assert alarms(run_cli, config) == (0, [])


@respx.mock
def test_three_real_syncs_that_cannot_reach_github_make_quiet_status_speak(store_of, run_cli, respx_mock):
    config, _ = store_of()
    respx_mock.route().mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    assert [run_cli(config, "--quiet", "sync").exit_code for _ in range(2)] == [75, 75]
    assert (run_cli(config, "--quiet", "status").exit_code, run_cli(config, "--quiet", "status").stdout) == (0, "")

    assert run_cli(config, "--quiet", "sync").exit_code == 75
    result = run_cli(config, "--quiet", "status")

    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("alarm       status.stopped_runs: the last 3 syncs all stopped early, the last at ")
    assert "has not answered in this run (network down? wrong URL?): cannot connect: [Errno 111] Connection refused" \
        in first


# --- a backlog of deferred packages that has not shrunk: status.backlog_for ---------------------------------------


def test_deferred_packages_no_fewer_for_a_day_raise_the_alarm(store_of, run_cli):
    config, store = store_of()
    sync(store, NOW - DAY - timedelta(hours=2), deferred=80)
    sync(store, NOW - DAY - timedelta(minutes=10), deferred=100)  # the backlog as it stood a day ago
    sync(store, NOW - timedelta(hours=23), deferred=100)
    sync(store, NOW - timedelta(hours=12), deferred=0, stopped="rate limit")  # stopped: it tells nothing
    sync(store, NOW - timedelta(hours=1), deferred=120)

    code, raised = alarms(run_cli, config)

    assert code == 1
    assert raised == [{"threshold": "backlog_for", "message": (
        f"no fewer packages deferred for 1d: 100 by the sync of {utc(NOW - DAY - timedelta(minutes=10))}, "
        f"120 by the last ({utc(NOW - timedelta(hours=1))}), never fewer between")}]  # fmt: skip


def test_one_fewer_deferred_within_the_day_raises_none(store_of, run_cli):
    config, store = store_of()
    sync(store, NOW - DAY - timedelta(minutes=10), deferred=100)
    sync(store, NOW - timedelta(hours=23), deferred=99)
    sync(store, NOW - timedelta(hours=1), deferred=150)

    assert alarms(run_cli, config) == (0, [])


@pytest.mark.parametrize("first_ago, deferred_then", [
    (DAY - timedelta(minutes=1), 100),  # no sync a day old yet to compare with
    (DAY + timedelta(minutes=10), 0),  # nothing was deferred a day ago
])  # fmt: skip
def test_without_a_day_old_backlog_to_compare_with_none_is_raised(store_of, run_cli, first_ago, deferred_then):
    config, store = store_of()
    sync(store, NOW - first_ago, deferred=deferred_then)
    sync(store, NOW - timedelta(hours=1), deferred=200)

    assert alarms(run_cli, config) == (0, [])


def test_a_day_old_backlog_with_no_finished_sync_since_raises_none(store_of, run_cli):
    config, store = store_of()
    sync(store, NOW - DAY - timedelta(minutes=10), deferred=100)
    sync(store, NOW - timedelta(hours=1), deferred=0, stopped="rate limit")

    assert alarms(run_cli, config) == (0, [])


def test_backlog_for_sets_the_window_and_0s_turns_the_check_off(store_of, run_cli):
    config, store = store_of('\n[status]\nbacklog_for = "2h"\n')
    sync(store, NOW - timedelta(hours=3), deferred=10)
    sync(store, NOW - timedelta(hours=1), deferred=10)
    code, raised = alarms(run_cli, config)
    assert code == 1 and raised[0]["message"].startswith("no fewer packages deferred for 2h: 10 by the sync of ")

    config.write_text(config.read_text().replace('backlog_for = "2h"', 'backlog_for = "0s"'))
    assert alarms(run_cli, config) == (0, [])


# --- all of them -----------------------------------------------------------------------------------------------


def test_each_crossed_threshold_is_a_line_of_its_own_first_in_the_status_even_quiet(store_of, run_cli):
    config, store = store_of()
    fetched(store, "one", NOW - 3 * DAY)
    for hours in range(3, 0, -1):
        failed(store, "two", NOW - timedelta(hours=hours))
    sync(store, NOW - DAY - timedelta(hours=1), deferred=5)
    sync(store, NOW - timedelta(hours=20), deferred=6)
    sync(store, NOW - timedelta(hours=10), deferred=7)
    for hours in (3, 2, 1):
        sync(store, NOW - timedelta(hours=hours), stopped="rate limit")

    result = run_cli(config, "--quiet", "status")

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:4]] == [
        "alarm       status.failures", "alarm       status.stale_factor", "alarm       status.stopped_runs",
        "alarm       status.backlog_for"]  # fmt: skip
    assert lines[0] == "alarm       status.failures: two has failed 3 times in a row (3 or more)"
    assert lines[4].startswith("store       ")
