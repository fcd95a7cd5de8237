"""`fetcher status`: what is due, failing and spent, read from the store alone."""

import fcntl
import json
import os
import signal
from datetime import datetime, timedelta, timezone

from fetcher.cache import Cached
from fetcher.config import load
from fetcher.hosts.github.host import SPARKLINE_PENDING
from fetcher.links import Links
from fetcher.run.lock import lock_path
from fetcher.store import open_store
from fetcher.store.fetched import FetchedRecord
from tests.conftest import FIXTURES, BOTH_BACKENDS
from tests.run.test_lock import hold_lock

LDAP = str(FIXTURES / "api-v4-django-auth-ldap.json")
TODO = str(FIXTURES / "api-v4-django-todo.json")
NOW = datetime.now(timezone.utc)


def run_row(command: str, started: datetime, **counts) -> dict:
    row = dict(command=command, started=started.isoformat(), finished=(started + timedelta(seconds=3)).isoformat(),
               packages=2, synced=1, unchanged=0, failed=1, skipped=0, pending=0, requests=9, not_modified=2,
               retries=0, graphql_points=1, points=7, seconds=3.25, stopped=None, rate_limit_wait=0.0)  # fmt: skip
    return {**row, **counts}


def a_store_with_history(config_file, run_cli, tmp_path, failures: int):
    """django-todo fetched 2 h ago, its sparkline kept; django-auth-ldap last fetched in February and failing
    `failures` times in a row since; brand-new never fetched."""
    config = config_file()
    assert run_cli(config, "import", LDAP, TODO).exit_code == 0
    assert run_cli(config, "add", "brand-new", "--repo-url", "https://gitlab.com/someone/brand-new").exit_code == 0
    store = open_store(load(str(config)).store)
    todo, ldap = store.catalogue.packages(["django-todo", "django-auth-ldap"])
    store.fetched.save(todo["id"], Links.of(todo), FetchedRecord(
        {"repo_forks": 3}, {"pypi": Cached({"version": "1.0"}, NOW, None, None)}, SPARKLINE_PENDING, pending=True),
        NOW - timedelta(hours=2))
    for hours in range(failures, 0, -1):
        store.fetched.record_failure(ldap["id"], Links.of(ldap), f"not found (https://api.github.com/repos/x/y) #{hours}", NOW - timedelta(hours=hours))  # fmt: skip
    for number in range(12):
        store.runs.record(run_row("sync", NOW - timedelta(hours=12 - number), points=number))
    store.runs.record(run_row("refresh", NOW - timedelta(minutes=5), stopped="network down?", rate_limit_wait=61.5))
    reset = NOW + timedelta(minutes=40)
    store.runs.save_budgets("GITHUB_TOKEN", [{"resource": "core", "budget": 5000, "remaining": 4321, "reset": reset},
                                            {"resource": "graphql", "budget": 5000, "remaining": 4990, "reset": reset}],
                           NOW)  # fmt: skip
    return config, store, reset


def test_status_json_has_every_key_with_the_values_of_the_store(config_file, run_cli, tmp_path):
    config, store, reset = a_store_with_history(config_file, run_cli, tmp_path, failures=3)

    result = run_cli(config, "status", "--json")

    assert result.exit_code == 1  # a package failed 3 times in a row
    status = json.loads(result.stdout)
    assert status["packages"] == 3
    assert status["by_host"] == {"github.com": 2, "gitlab.com": 1}
    # django-auth-ldap failed 3 times, the last an hour ago: it rests 4 x 24 h. brand-new was never fetched, and
    # django-todo's sparkline is still pending: those two are due.
    assert status["due"] == 2 and status["never_fetched"] == 1 and status["resting"] == 1
    assert status["oldest_fetch"] == "2026-02-15T19:29:59.434883+00:00"
    assert status["failing"] == 1
    assert status["failures"] == [{
        "slug": "django-auth-ldap", "consecutive_failures": 3,
        "since": (NOW - timedelta(hours=3)).isoformat(timespec="microseconds"),
        "last_error": "not found (https://api.github.com/repos/x/y) #1",
    }]  # fmt: skip
    assert status["sparklines_kept"] == 1
    assert len(status["runs"]) == 10
    newest = status["runs"][0]
    assert {k: newest[k] for k in ("command", "seconds", "synced", "unchanged", "failed", "skipped", "points",
                                   "stopped", "rate_limit_wait")} == {
        "command": "refresh", "seconds": 3.25, "synced": 1, "unchanged": 0, "failed": 1, "skipped": 0, "points": 7,
        "stopped": "network down?", "rate_limit_wait": 61.5}  # fmt: skip
    assert newest["started"] == (NOW - timedelta(minutes=5)).isoformat()
    assert [run["points"] for run in status["runs"][1:]] == [11, 10, 9, 8, 7, 6, 5, 4, 3]
    assert status["rate_limits"]["GITHUB_TOKEN"]["core"]["remaining"] == 4321
    assert status["rate_limits"]["GITHUB_TOKEN"]["core"]["reset"] == reset.isoformat(timespec="microseconds")
    assert status["rate_limits"]["GITHUB_TOKEN"]["graphql"]["remaining"] == 4990
    assert status["store"]["path"] == str((tmp_path / "test.db").resolve())
    assert status["store"]["backend"] == "sqlite" and "url" not in status["store"]
    assert status["store"]["bytes"] >= (tmp_path / "test.db").stat().st_size > 0


@BOTH_BACKENDS
def test_status_for_a_person_names_the_failing_package_and_why(config_file, run_cli, tmp_path):
    config, _, _ = a_store_with_history(config_file, run_cli, tmp_path, failures=3)

    result = run_cli(config, "status")
    text = result.stdout

    assert "packages    3 (github.com 2, gitlab.com 1)" in text, result.stderr
    assert "due         2 now, 1 never fetched; oldest fetch 2026-02-15 19:29:59 UTC (" in text
    assert "sparklines  1 kept while GitHub was still computing them" in text
    assert "failing     1 package (1 resting until their next try)\n  django-auth-ldap: 3 in a row since" in text
    assert "not found (https://api.github.com/repos/x/y) #1" in text
    assert "GITHUB_TOKEN core: 4321 of 5000 left, resets" in text
    assert "refresh 3.2s: 1 synced, 0 unchanged, 1 failed, 0 skipped; 7 points; waited 62s for rate limits; " \
           "stopped early: network down?" in text  # fmt: skip


@BOTH_BACKENDS
def test_status_exits_0_while_no_package_has_failed_three_times_in_a_row(config_file, run_cli, tmp_path):
    config, _, _ = a_store_with_history(config_file, run_cli, tmp_path, failures=2)

    result = run_cli(config, "status", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["failures"][0]["consecutive_failures"] == 2


@BOTH_BACKENDS
def test_a_success_ends_the_run_of_failures_and_a_new_failure_starts_a_new_one(config_file, run_cli, tmp_path):
    config, store, _ = a_store_with_history(config_file, run_cli, tmp_path, failures=3)
    ldap = store.catalogue.packages(["django-auth-ldap"])[0]
    store.fetched.save(ldap["id"], Links.of(ldap), FetchedRecord({}, {}), NOW - timedelta(minutes=30))
    store.fetched.record_failure(ldap["id"], Links.of(ldap), "server error 502", NOW - timedelta(minutes=10))

    status = json.loads(run_cli(config, "status", "--json").stdout)

    since = (NOW - timedelta(minutes=10)).isoformat(timespec="microseconds")
    assert status["failures"] == [
        {"slug": "django-auth-ldap", "consecutive_failures": 1, "last_error": "server error 502", "since": since}
    ]


def test_status_without_a_store_is_an_error_and_creates_none(config_file, run_cli, tmp_path):
    result = run_cli(config_file(), "status")

    assert result.exit_code == 2
    assert "test.db: no store there (`fetcher import FILE` or `fetcher add` creates one) (config: " in result.stderr
    assert not (tmp_path / "test.db").exists()


@BOTH_BACKENDS
def test_status_of_an_empty_store(config_file, run_cli):
    config = config_file()
    run_cli(config, "import", "-", input="[]")  # creates the store, empty
    result = run_cli(config, "status")

    assert result.exit_code == 0
    assert "packages    0\n" in result.stdout
    assert "rate limits  none seen yet" in result.stdout and "last runs   none yet" in result.stdout


@BOTH_BACKENDS
def test_quiet_status_speaks_only_when_a_package_keeps_failing(config_file, run_cli, tmp_path):
    config, store, _ = a_store_with_history(config_file, run_cli, tmp_path, failures=2)
    assert run_cli(config, "--quiet", "status").stdout == ""
    ldap = store.catalogue.packages(["django-auth-ldap"])[0]
    store.fetched.record_failure(ldap["id"], Links.of(ldap), "server error 502", NOW)

    result = run_cli(config, "--quiet", "status")

    assert result.exit_code == 1
    assert "django-auth-ldap: 3 in a row since" in result.stdout


@BOTH_BACKENDS
def test_status_counts_each_host_with_the_parse_a_sync_fetches_it_by(config_file, run_cli):
    config = config_file()
    for slug, url in (("scp", "git@github.com:someone/scp-form.git"), ("www", "https://www.github.com/someone/www"),
                      ("lab", "https://gitlab.com/group/sub/project"), ("none", "")):
        assert run_cli(config, "add", slug, "--repo-url", url, "--pypi-url", "").exit_code == 0, slug

    status = json.loads(run_cli(config, "status", "--json").stdout)

    assert status["by_host"] == {"github.com": 2, "gitlab.com": 1, "none": 1}


def test_status_says_a_sync_is_running_while_one_holds_the_lock_and_never_takes_it(config_file, run_cli, tmp_path,
                                                                                    monkeypatch):
    config, _, _ = a_store_with_history(config_file, run_cli, tmp_path, failures=1)
    holder = hold_lock(tmp_path / "test.db", 30)

    def taken(*args):
        raise AssertionError("status took a lock")

    try:
        monkeypatch.setattr(fcntl, "flock", taken)
        text = run_cli(config, "status")
        as_json = run_cli(config, "status", "--json")
        monkeypatch.undo()
    finally:
        holder.kill()
        holder.wait()

    assert text.exit_code == 0 and as_json.exit_code == 0
    assert f"last runs\n  a sync is running (pid {holder.pid}, since " in text.stdout
    running = json.loads(as_json.stdout)["running"]
    assert {key: running[key] for key in ("command", "pid")} == {"command": "sync", "pid": holder.pid}
    assert abs(datetime.fromisoformat(running["since"]) - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_what_a_killed_run_left_in_the_lock_file_is_not_taken_for_a_running_one(config_file, run_cli, tmp_path):
    config, _, _ = a_store_with_history(config_file, run_cli, tmp_path, failures=1)
    holder = hold_lock(tmp_path / "test.db", 30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert lock_path(tmp_path / "test.db").read_text().startswith(f"fetcher sync (pid {holder.pid}, since ")

    result = run_cli(config, "status", "--json")

    assert json.loads(result.stdout)["running"] is None
    assert "is running" not in run_cli(config, "status").stdout
