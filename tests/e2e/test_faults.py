"""`fetcher sync` through the CLI against a stand-in that fails in every way GitHub and PyPI do.

After a run with faults, every record is either right or exactly as it was
(with its error recorded): never half-written, zeroed or emptied. A run with
the faults off then completes them all.
"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fetcher.standin import FAULT_KINDS, FaultPlan, StandIn, World
from tests.conftest import ROOT

FETCHED = ("repo_forks", "repo_watchers", "repo_description", "participants", "pypi_version", "repo_url")
TOKEN = "ghp_faults_token_0123456789"


def fetcher(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FETCHER_CONFIG"}
    env["GITHUB_TOKEN"] = TOKEN
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def export(config: Path) -> dict[str, dict]:
    result = fetcher(config, "export")
    assert result.returncode == 0, result.stderr
    return {record["slug"]: record for record in json.loads(result.stdout)}


def errors(store: Path) -> dict[str, str]:
    with sqlite3.connect(store) as db:
        return dict(db.execute(
            "SELECT slug, last_error FROM fetch_state JOIN package ON package.id = package_id "
            "WHERE last_error IS NOT NULL"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_faults_leave_every_record_right_or_untouched_and_a_clean_run_finishes(tmp_path, seed):
    world, catalog = World.generate(30, seed=seed, renamed=0.05, missing=0, empty=0, cold_stats=0.0)
    plan = FaultPlan({kind: 0.03 for kind in FAULT_KINDS} | {"exhausted": 0.01, "stall": 0.02},
                     seed=seed, stall_seconds=4.0, retry_after=0, reset_in=0)
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    store = tmp_path / "store.db"
    with StandIn(world, token=TOKEN, stats_delay=0, faults=plan) as standin:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
            f'pace = false\n[pypi]\nurl = "{standin.url}"\n[sync]\nconcurrency = 8\nmax_rate_limit_wait = "10s"\n'
            # A stall (4 s) outlasts the timeout; an honest answer, even on a busy machine, never does.
            f'[http]\ntimeout = 2\nbackoff = 0.01\nretries = 1\n'
        )
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        before = export(config)

        faulted = fetcher(config, "sync")

        assert faulted.returncode in (0, 1), faulted.stdout + faulted.stderr
        assert sum(plan.injected.values()) > 0
        after, failed = export(config), errors(store)
        for record in catalog:
            slug, got, new = record["slug"], after[record["slug"]], world.expected_fields(record)
            if got["last_fetched"] is None:
                assert {f: got[f] for f in FETCHED} == {f: before[slug][f] for f in FETCHED}, slug
                assert got["commits_over_52"] == before[slug]["commits_over_52"]
                assert slug in failed and f"failed {slug}: " in faulted.stderr
            else:
                assert {f: got[f] for f in FETCHED} == {f: new[f] for f in FETCHED}, slug
                # The weekly counts are right, or kept as they were while GitHub kept answering 202.
                assert got["commits_over_52"] in (new["commits_over_52"], before[slug]["commits_over_52"]), slug
        assert TOKEN not in faulted.stdout + faulted.stderr

        plan.clear()
        clean = fetcher(config, "sync", "--all")
        final = export(config)

    assert clean.returncode == 0, clean.stderr
    for record in catalog:
        new = world.expected_fields(record)
        assert {f: final[record["slug"]][f] for f in (*FETCHED, "commits_over_52")} == \
            {f: new[f] for f in (*FETCHED, "commits_over_52")}, record["slug"]
    assert errors(store) == {}
