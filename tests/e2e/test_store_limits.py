"""`fetcher sync` against the stand-in on a store whose disk refuses writes part-way: a file-size limit (EFBIG, as
a quota's EDQUOT) stops the run with 75 and the store named, every record right or as it was, and a run without
the limit finishes. The limit is the kernel's (RLIMIT_FSIZE in the child, SIGXFSZ ignored), not a mock."""

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from fetcher.standin import StandIn, World
from tests.conftest import ROOT

FETCHED = ("repo_forks", "repo_watchers", "repo_description", "participants", "pypi_version", "repo_url")


def fetcher(config: Path, *args: str, limit: int | None = None) -> subprocess.CompletedProcess:
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120, preexec_fn=limited if limit else None)


def export(config: Path) -> dict[str, dict]:
    result = fetcher(config, "export")
    assert result.returncode == 0, result.stderr
    return {record["slug"]: record for record in json.loads(result.stdout)}


def test_a_file_size_limit_mid_sync_stops_it_with_75_and_every_record_is_right_or_as_it_was(tmp_path):
    world, catalog = World.generate(12, seed=5, renamed=0, missing=0, empty=0, cold_stats=0.0)
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    store = tmp_path / "store.db"
    with StandIn(world, stats_delay=0) as standin:
        config = tmp_path / "config.toml"
        config.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\n'
                          f'graphql_url = "{standin.url}/graphql"\npace = false\n[pypi]\nurl = "{standin.url}"\n'
                          f'[sync]\nconcurrency = 2\n[http]\nbackoff = 0\n')
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        before = export(config)

        # The write-ahead log may grow to the store's size: a few packages' writes, not twelve.
        limited = fetcher(config, "sync", limit=store.stat().st_size)

        assert limited.returncode == 75, limited.stdout + limited.stderr
        assert limited.stdout.endswith(
            f"; stopped early: {store}: cannot write the store: the disk refused a write (disk I/O error: a file-size "
            "limit, a disk quota or a failing disk); nothing was lost, re-run when it can\n"
        )
        assert limited.stdout.count("\n") == 1 and "Traceback" not in limited.stderr
        with sqlite3.connect(store) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        after = export(config)
        for record in catalog:
            slug, got = record["slug"], after[record["slug"]]
            if got["last_fetched"] is None:
                assert got == before[slug], slug
            else:
                new = world.expected_fields(record)
                assert {f: got[f] for f in FETCHED} == {f: new[f] for f in FETCHED}, slug

        clean = fetcher(config, "sync")

        assert clean.returncode == 0, clean.stdout + clean.stderr
        final = export(config)
        for record in catalog:
            new = world.expected_fields(record)
            assert {f: final[record["slug"]][f] for f in FETCHED} == {f: new[f] for f in FETCHED}, record["slug"]
