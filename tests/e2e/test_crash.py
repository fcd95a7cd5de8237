"""A run killed with SIGKILL mid-way loses at most the packages in flight, and the next run finishes the rest."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fetcher.record import parse_datetime
from fetcher.standin import StandIn, World
from tests.conftest import BOTH_BACKENDS, ROOT, raw_store

pytestmark = BOTH_BACKENDS

PACKAGES = 40
FETCHED = ("repo_forks", "repo_watchers", "repo_description", "participants", "commits_over_52", "pypi_version")


def fetcher(config: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    return subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def fetched_count(store) -> int:
    with raw_store(store) as db:
        return db.execute("SELECT count(*) FROM package WHERE last_fetched IS NOT NULL").fetchone()[0]


@pytest.mark.parametrize("kill_after", [0, 8, 25])
def test_sigkill_mid_run_leaves_every_record_old_or_new_and_the_next_run_finishes(tmp_path, kill_after, store_at,
                                                                                  store_toml, backend):
    world, catalog = World.generate(PACKAGES, seed=11, renamed=0, missing=0, empty=0, cold_stats=0.0)
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    store = store_at
    with StandIn(world, latency=0.03, stats_delay=0) as standin:
        config = tmp_path / "config.toml"
        # A short lease: on PostgreSQL the next run takes the killed one's claims once it has passed.
        config.write_text(
            f'[store]\n{store_toml}\n[github]\napi_url = "{standin.url}"\npace = false\n'
            f'[pypi]\nurl = "{standin.url}"\n[sync]\nconcurrency = 2\nlease = "5s"\n[http]\nbackoff = 0\n'
        )
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).wait(60) == 0
        run = fetcher(config, "sync")
        deadline = time.monotonic() + 60
        while fetched_count(store) < kill_after and time.monotonic() < deadline:
            time.sleep(0.01)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        assert run.returncode == -signal.SIGKILL

        if backend == "sqlite":
            with sqlite3.connect(store) as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        exported = {r["slug"]: r for r in json.loads(subprocess.run(
            [sys.executable, "-m", "fetcher", "--config", str(config), "export"],
            capture_output=True, text=True, cwd=ROOT, check=True).stdout)}
        done = 0
        for record in catalog:
            got, new = exported[record["slug"]], world.expected_fields(record)
            if got["last_fetched"] is None:
                assert {f: got[f] for f in FETCHED} == {f: record[f] for f in FETCHED}  # the old version, whole
            else:
                done += 1
                assert {f: got[f] for f in FETCHED} == {f: new[f] for f in FETCHED}  # the new version, whole
                assert parse_datetime(got["last_updated"]) == parse_datetime(new["last_updated"])
        assert done >= kill_after and done < PACKAGES

        rerun = fetcher(config, "sync")
        out, err = rerun.communicate(timeout=120)

    assert rerun.returncode == 0, err
    assert f"{PACKAGES - done} of {PACKAGES - done} packages" in out
    final = {r["slug"]: r for r in json.loads(subprocess.run(
        [sys.executable, "-m", "fetcher", "--config", str(config), "export"],
        capture_output=True, text=True, cwd=ROOT, check=True).stdout)}
    for record in catalog:
        expected = world.expected_fields(record)
        assert {f: final[record["slug"]][f] for f in FETCHED} == {f: expected[f] for f in FETCHED}
