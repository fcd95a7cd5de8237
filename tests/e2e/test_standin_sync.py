"""`fetcher import examples/… && fetcher sync` as separate processes, against the loopback stand-in."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fetcher.record import parse_datetime
from fetcher.links import GITHUB_HOSTS, parse_repo_url, pypi_name
from fetcher.standin import Repo, StandIn, World, normalize_name
from tests.conftest import ROOT, BOTH_BACKENDS

CATALOG = ROOT / "examples" / "packages.json"


def fetcher(config: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    if token:
        env["GITHUB_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "fetcher", "--config", str(config), *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )


@pytest.fixture
def world() -> World:
    records = json.loads(CATALOG.read_text())
    world = World.from_catalog(records, seed=7)
    # django-debug-toolbar moved from jazzband to django-commons: GitHub answers 301 for the old name.
    old = world.remove("jazzband/django-debug-toolbar")
    moved = Repo(**{**{f: getattr(old, f) for f in Repo.__dataclass_fields__ if not f.startswith("_")},
                    "owner": "django-commons"})
    world.add_repo(moved)
    world.rename("jazzband/django-debug-toolbar", moved)
    return world


def github_catalogue(tmp_path: Path) -> Path:
    """The example catalogue's GitHub packages, and its first other one moved to a host no config names (skipped).

    The forges' packages are synced against their own stand-ins elsewhere."""
    records, other = [], None
    for record in json.loads(CATALOG.read_text()):
        host = parse_repo_url(record["repo_url"]).host
        if host in GITHUB_HOSTS:
            records.append(record)
        elif other is None:
            other = {**record, "repo_url": record["repo_url"].replace(host, "git.example.org")}
    path = tmp_path / "packages.json"
    path.write_text(json.dumps([*records, other]))
    return path


@BOTH_BACKENDS
def test_example_catalogue_syncs_every_field_from_the_standin(world, tmp_path, store_toml):
    catalog = github_catalogue(tmp_path)
    with StandIn(world, token="ghp_standin_token") as standin:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\n{store_toml}\n[github]\napi_url = "{standin.url}"\n'
            f'graphql_url = "{standin.url}/graphql"\n[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0\n'
        )
        imported = fetcher(config, "import", str(catalog))
        synced = fetcher(config, "sync", token="ghp_standin_token")
        exported = json.loads(fetcher(config, "export").stdout)
        again = fetcher(config, "sync", token="ghp_standin_token")

    assert imported.returncode == 0, imported.stderr
    assert synced.returncode == 0, synced.stderr
    assert "13 of 13 packages" in synced.stdout
    assert "12 synced, 0 unchanged, 0 failed, 1 skipped (1 unsupported host)" in synced.stdout
    assert "0 of 0 packages" in again.stdout  # nothing is due an instant later
    assert "ghp_standin_token" not in synced.stdout + synced.stderr

    by_slug = {record["slug"]: record for record in exported}
    for record in json.loads(catalog.read_text()):
        got = by_slug[record["slug"]]
        ref = parse_repo_url(record["repo_url"])
        if ref.host not in GITHUB_HOSTS:
            assert got["repo_forks"] == 0 and got["participants"] == []
            continue
        repo = world.repo(ref.full_name)
        assert got["repo_forks"] == repo.forks
        assert got["repo_watchers"] == repo.stars
        assert got["repo_description"] == (repo.description or "")
        assert got["participants"] == repo.contributors
        assert got["commits_over_52"] == repo.participation
        assert parse_datetime(got["last_updated"]) == parse_datetime(repo.newest_commit_date)
        assert got["pypi_version"] == world.pypi[normalize_name(pypi_name(record["pypi_url"]))]
        assert got["last_fetched"] is not None
    assert by_slug["django-debug-toolbar"]["repo_url"] == "https://github.com/django-commons/django-debug-toolbar"
    assert by_slug["django-filter"]["repo_url"] == "https://github.com/carltongibson/django-filter.git"
