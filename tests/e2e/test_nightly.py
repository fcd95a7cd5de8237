"""A nightly "import the directory, then sync" leaves what did not change as it was, cycle after cycle."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from fetcher.standin import ProjectFacts, Repo, StandIn, World
from tests.conftest import ROOT

CATALOG = ROOT / "examples" / "packages.json"
TOKEN = "ghp_nightly_token_0123456789"
DOCS = "https://django-cors-headers.readthedocs.io/"


def fetcher(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    env["GITHUB_TOKEN"] = TOKEN
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)  # fmt: skip


def directory_world(records: list[dict]) -> World:
    """django-debug-toolbar moved from jazzband to django-commons (GitHub answers 301 for the old name), and
    PyPI gives django-cors-headers a documentation URL its catalogue record lacks."""
    world = World.from_catalog(records, seed=3)
    old = world.remove("jazzband/django-debug-toolbar")
    moved = Repo(**{**{f: getattr(old, f) for f in Repo.__dataclass_fields__ if not f.startswith("_")},
                    "owner": "django-commons"})
    world.add_repo(moved)
    world.rename("jazzband/django-debug-toolbar", moved)
    world.pypi_facts["django-cors-headers"] = ProjectFacts(project_urls={"Documentation": DOCS})
    return world


def rows(store: Path) -> dict[str, tuple]:
    with sqlite3.connect(store) as db:
        return {row[0]: row for row in db.execute("SELECT slug, * FROM package")}


def test_importing_the_catalogue_again_after_a_sync_changes_nothing(tmp_path):
    records = [record for record in json.loads(CATALOG.read_text())
               if record["slug"] in ("django-debug-toolbar", "django-cors-headers", "django-auth-ldap")]
    catalogue = tmp_path / "directory.json"
    # The directory's copy, as a nightly job gets it: its records were fetched before ours.
    catalogue.write_text(json.dumps([{**record, "last_fetched": "2020-01-01T00:00:00+00:00"} for record in records]))
    assert [r["documentation_url"] for r in records if r["slug"] == "django-cors-headers"] == [""]
    with StandIn(directory_world(records), token=TOKEN, stats_delay=0) as standin:
        config = tmp_path / "config.toml"
        config.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\n'
                          f'graphql_url = "{standin.url}/graphql"\npace = false\n[pypi]\nurl = "{standin.url}"\n'
                          '[http]\nbackoff = 0\n')
        assert fetcher(config, "import", str(catalogue)).returncode == 0
        synced = fetcher(config, "sync")
        assert synced.returncode == 0, synced.stderr
        after_sync = rows(tmp_path / "store.db")
        assert after_sync["django-debug-toolbar"][8] == "https://github.com/django-commons/django-debug-toolbar"
        assert after_sync["django-cors-headers"][15] == DOCS  # documentation_url, filled from PyPI

        again = fetcher(config, "import", str(catalogue))
        after_import = rows(tmp_path / "store.db")
        resynced = fetcher(config, "sync", "--all")

    assert again.returncode == 0, again.stderr
    assert "(0 new, 0 updated, 3 unchanged; 3 kept the store's newer fetched values)" in again.stdout
    assert after_import == after_sync  # no field moved: not the URL, not the documentation, not `modified`
    assert "0 synced, 3 unchanged" in resynced.stdout, resynced.stdout
