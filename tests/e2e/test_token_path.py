"""A token stays on its API's path, as the server reads it: a next link to the same server outside the API path
(`/api/v1` -> `/other`, or a `%2e%2e` segment that climbs out of it) is refused, and nothing is sent there."""

import json
import os
import subprocess
import sys

from fetcher.standin import StandIn, World, forges
from tests.conftest import ROOT

SECRET = "codeberg-secret-token-0123456789"


def test_a_next_link_out_of_the_api_path_on_the_same_server_gets_no_request_and_no_token(tmp_path):
    world = World()
    records = [record for record in forges.add_to_world(world, seed=5)
               if record["repo_url"].startswith("https://codeberg.org/") and world.forges.knows(record["repo_url"])]
    climbing, beside = records[0], records[1]
    with StandIn(world) as standin:
        api = f"{standin.url}/_forge/codeberg.org/api/v1"
        for record in (climbing, beside):
            world.forges.push(record["repo_url"], commits=60)  # more than one page of 50: the next link is followed
        world.forges.misdirect_next(climbing["repo_url"], f"{api}/%2e%2e/%2e%2e/steal?page=2")
        world.forges.misdirect_next(beside["repo_url"], f"{standin.url}/_forge/codeberg.org/other?page=2")
        (tmp_path / "catalog.json").write_text(json.dumps([climbing, beside]))
        config = tmp_path / "config.toml"
        config.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\npace = false\n'
                          f'[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0\n\n'
                          f'{standin.hosts_config({"codeberg.org": "CODEBERG_TOKEN"})}')
        env = {**{k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}, "CODEBERG_TOKEN": SECRET}
        run = lambda *args: subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],  # noqa: E731
                                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert run("import", str(tmp_path / "catalog.json")).returncode == 0
        synced = run("sync")
        asked = [entry.path for entry in standin.requests]

    assert synced.returncode == 1, synced.stderr
    for record in (climbing, beside):
        assert f"failed {record['slug']}: codeberg.org next page points outside the API ({api})" in synced.stderr
    assert not any("steal" in path or "/_forge/codeberg.org/other" in path for path in asked), asked
    assert SECRET not in synced.stdout + synced.stderr
