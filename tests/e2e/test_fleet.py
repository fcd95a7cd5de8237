"""Several `fetcher sync` processes on one PostgreSQL store, against the stand-in: every package fetched once per
pass, each run its own row; one killed with SIGKILL mid-run loses nothing, and the other takes its claims once
their lease has passed."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from fetcher.standin import StandIn, World, github_full_name
from tests.conftest import ROOT, raw_store

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

PACKAGES = 40
FETCHED = ("repo_forks", "repo_watchers", "repo_description", "participants", "commits_over_52", "pypi_version")


def fetcher(config: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    return subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def one(store, sql: str, params=()):
    with raw_store(store) as db:
        return db.execute(sql, params).fetchone()[0]


def until(condition, what: str, seconds: float = 60) -> None:
    """Wait for a condition, asked every few milliseconds, with a deadline generous for a loaded machine."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds}s for {what}"
        time.sleep(0.02)


def repo_asks(standin: StandIn, catalog: list[dict]) -> Counter:
    """How many times each repository itself (GET /repos/OWNER/NAME) was asked: once per package fetched."""
    asked = Counter(entry.path.split("?")[0] for entry in list(standin.requests) if entry.method == "GET")
    return Counter({full: asked[f"/repos/{full}"] for full in (github_full_name(r["repo_url"]) for r in catalog)})


def setup(tmp_path: Path, standin: StandIn, store_toml: str, catalog: list[dict], concurrency: int) -> Path:
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    config = tmp_path / "config.toml"
    # A short lease: a killed worker's claims are taken a few seconds after its last renewal.
    config.write_text(
        f'[store]\n{store_toml}\n[github]\napi_url = "{standin.url}"\npace = false\n'
        f'[pypi]\nurl = "{standin.url}"\n[sync]\nconcurrency = {concurrency}\nlease = "5s"\n[http]\nbackoff = 0\n'
    )
    assert fetcher(config, "import", str(tmp_path / "catalog.json")).wait(60) == 0
    return config


def test_two_syncs_at_once_fetch_every_package_once_each_with_its_own_run(tmp_path, store_at, store_toml):
    world, catalog = World.generate(PACKAGES, seed=5, renamed=0, missing=0, empty=0, cold_stats=0.0)
    with StandIn(world, latency=0.01, stats_delay=0) as standin:
        config = setup(tmp_path, standin, store_toml, catalog, concurrency=2)
        runs = [fetcher(config, "sync"), fetcher(config, "sync")]
        outs = [run.communicate(timeout=120) for run in runs]
        asks = repo_asks(standin, catalog)

    for run, (out, err) in zip(runs, outs):
        assert run.returncode == 0, err
    assert set(asks.values()) == {1}, asks  # every package fetched, none twice
    with raw_store(store_at) as db:
        rows = db.execute("SELECT pid, host, worker_id, packages, synced FROM sync_run ORDER BY pid").fetchall()
        assert db.execute("SELECT count(*) FROM package WHERE last_fetched IS NULL").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM worker").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM claim").fetchone()[0] == 0
    assert [row[0] for row in rows] == sorted(run.pid for run in runs)
    assert all(row[1] for row in rows) and len({row[2] for row in rows}) == 2
    assert sum(row[3] for row in rows) == PACKAGES  # each run's packages: its share of the pass
    assert all(row[3] == row[4] for row in rows)
    for run, (out, _) in zip(runs, outs):
        share = next(row[3] for row in rows if row[0] == run.pid)
        assert f"{share} of {share} packages" in out


def test_a_worker_killed_mid_run_loses_nothing_and_the_other_takes_its_claims_after_the_lease(
        tmp_path, store_at, store_toml):
    world, catalog = World.generate(PACKAGES, seed=13, renamed=0, missing=0, empty=0, cold_stats=0.0)
    with StandIn(world, latency=0.03, stats_delay=0) as standin:
        config = setup(tmp_path, standin, store_toml, catalog, concurrency=1)
        first = fetcher(config, "sync")
        # It claims what it reads ahead (every package here), and writes them one by one.
        until(lambda: one(store_at, "SELECT count(*) FROM package WHERE last_fetched IS NOT NULL") >= 5,
              "the first worker's fifth package")
        second = fetcher(config, "sync")
        until(lambda: one(store_at, "SELECT count(*) FROM worker WHERE pid = ?", [second.pid]) == 1,
              "the second worker to begin")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        out, err = second.communicate(timeout=120)
        asks = repo_asks(standin, catalog)

    assert first.returncode == -signal.SIGKILL
    assert second.returncode == 0, err
    exported = {r["slug"]: r for r in json.loads(subprocess.run(
        [sys.executable, "-m", "fetcher", "--config", str(config), "export"],
        capture_output=True, text=True, cwd=ROOT, check=True).stdout)}
    for record in catalog:  # every record whole and new: the killed worker's in flight were taken by the other
        expected = world.expected_fields(record)
        assert {f: exported[record["slug"]][f] for f in FETCHED} == {f: expected[f] for f in FETCHED}
    # Asked once, or twice where the killed worker had it in flight (at most its 4 packages per slot).
    assert set(asks.values()) <= {1, 2} and sum(1 for n in asks.values() if n == 2) <= 4, asks
    with raw_store(store_at) as db:
        rows = db.execute("SELECT pid, packages, synced FROM sync_run").fetchall()
        assert db.execute("SELECT count(*) FROM worker").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM claim").fetchone()[0] == 0
    assert len(rows) == 1 and rows[0][0] == second.pid  # the killed one recorded nothing
    taken = rows[0][1]
    assert 0 < taken <= PACKAGES - 5 and rows[0][2] == taken
    assert f"{taken} of {taken} packages" in out
