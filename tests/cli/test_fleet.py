"""The commands with several workers on a store: a refresh waits for the worker that holds its package (PostgreSQL),
and `status` shows the workers running, a dead one as gone, and each run's share of its pass."""

import json
import os
import socket
from datetime import datetime, timedelta, timezone

import pytest
import respx

from fetcher import cli
from fetcher.config import load
from fetcher.store import open_store
from tests.conftest import BOTH_BACKENDS, GitHubRepo, pypi_route

NOW = datetime.now(timezone.utc)


@pytest.fixture
def holder(config_file, run_cli):
    """A store with one package, `pkg`, and a live sync worker that holds its claim: (config, store, worker)."""
    config = config_file()
    assert run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg", "--pypi-url",
                   "https://pypi.org/project/pkg/").exit_code == 0
    store = open_store(load(str(config)).store)
    worker = store.workers.begin("sync", NOW, timedelta(hours=1))
    package = store.db.one("SELECT id FROM package WHERE slug = 'pkg'")
    assert store.claims.take(worker["id"], [(package, 0)], NOW, timedelta(hours=1)) == [package]
    yield config, store, worker
    store.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_refresh_of_a_package_a_sync_holds_waits_then_exits_75_naming_the_holder(holder, run_cli, monkeypatch):
    config, store, worker = holder
    monkeypatch.setattr(cli, "REFRESH_LOCK_WAIT", 0)

    result = run_cli(config, "refresh", "pkg")

    assert result.exit_code == 75
    assert f"fetcher sync (pid {os.getpid()} on {socket.gethostname()}) is fetching this package" in result.stderr
    assert store.db.one("SELECT count(*) FROM sync_run") == 1  # its run recorded, having fetched nothing
    assert store.db.one("SELECT claimed_by FROM claim") == worker["id"]  # the holder's claim untouched


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@respx.mock
def test_a_refresh_goes_on_once_the_sync_holding_its_package_is_done(holder, run_cli, monkeypatch, respx_mock):
    config, store, worker = holder
    GitHubRepo(respx_mock, "o/pkg", forks=12)
    pypi_route(respx_mock, "pkg", "2.0")
    told = []
    monkeypatch.setattr(cli, "_on_terminal", lambda: True)
    real_waiting = cli._waiting

    def waiting(found):  # told once, then the sync finishes its package and ends
        told.append(found)
        real_waiting(found)
        store.workers.end(worker["id"])

    monkeypatch.setattr(cli, "_waiting", waiting)

    result = run_cli(config, "refresh", "pkg")

    assert result.exit_code == 0, result.stderr
    assert [(found["command"], found["pid"], found["host"]) for found in told] == [
        ("sync", os.getpid(), socket.gethostname())]
    assert f"waiting for sync (pid {os.getpid()} on {socket.gethostname()})…" in result.stderr
    assert store.reads.record("pkg")["repo_forks"] == 12


@BOTH_BACKENDS
def test_status_shows_the_workers_a_dead_one_as_gone_and_each_runs_share_of_its_pass(config_file, run_cli):
    config = config_file()
    run_cli(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg")
    store = open_store(load(str(config)).store)
    live = store.workers.begin("sync", NOW - timedelta(minutes=5), timedelta(hours=1))
    package = store.db.one("SELECT id FROM package WHERE slug = 'pkg'")
    store.claims.take(live["id"], [(package, 2)], NOW, timedelta(hours=1))
    store.workers.begin("sync", NOW - timedelta(minutes=10), timedelta(seconds=90))  # its lease passed: it died
    start = NOW - timedelta(hours=1)
    for pid, packages in ((101, 30), (102, 10)):  # two workers of one pass, side by side
        store.runs.record({"command": "sync", "started": start.isoformat(timespec="microseconds"),
                           "finished": (start + timedelta(minutes=2)).isoformat(timespec="microseconds"),
                           "packages": packages, "synced": packages, "unchanged": 0, "failed": 0, "skipped": 0,
                           "pending": 0, "requests": 0, "not_modified": 0, "retries": 0, "graphql_points": 0,
                           "points": 0, "seconds": 120.0, "stopped": None, "rate_limit_wait": 0, "deferred": 0,
                           "tokens": None, "worker_id": pid, "host": "box", "pid": pid}, [])
    store.close()

    text = run_cli(config, "status")
    printed = json.loads(run_cli(config, "status", "--json").stdout)

    workers = printed["workers"]
    assert [(w["pid"], w["claims"], w["claimed"], w["gone"]) for w in workers] == [
        (os.getpid(), 0, 0, True), (os.getpid(), 1, 1, False)]  # first started first
    assert workers[1]["host"] == socket.gethostname() and workers[1]["command"] == "sync"
    assert [(run["pid"], run["host"], run["share"]) for run in printed["runs"]] == [(102, "box", 0.25),
                                                                                  (101, "box", 0.75)]
    assert "workers     1 running, 1 gone" in text.output
    assert f"  sync pid {os.getpid()} on {socket.gethostname()} since " in text.output
    assert "1 claimed now, 1 in the run" in text.output
    assert "; gone: its lease passed " in text.output and "(it died)" in text.output
    assert "; 25% of its pass, pid 102 on box" in text.output
