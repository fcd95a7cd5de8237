"""PyPI's PEP 792 project status through `fetcher sync` and `fetcher show`, against the stand-in.

PyPI (warehouse) hides a quarantined project from its JSON API (404) while its index still serves the
project's page, saying `"project-status": {"status": "quarantined"}`; the stand-in answers both routes so.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from fetcher.standin import ProjectFacts, StandIn, World
from fetcher.standin.generate import catalog_record
from tests.conftest import ROOT

TOKEN = "ghp_pypi_status_token_0123"
HAUNTED, GONE = "django-haunted", "django-gone"
KEPT = "PyPI version and facts kept: the project is quarantined on PyPI"


def fetcher(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    env["GITHUB_TOKEN"] = TOKEN
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)


def two_packages(tmp_path: Path) -> tuple[World, Path]:
    records = [catalog_record(i, slug, f"https://github.com/someone/{slug}", f"https://pypi.org/project/{slug}/")
               for i, slug in enumerate((HAUNTED, GONE))]
    world = World.from_catalog(records, seed=4, stats_asks=0)
    world.pypi[HAUNTED] = "1.4.2"
    world.pypi_facts[HAUNTED] = ProjectFacts(
        license_expression="MIT", requires_python=">=3.10",
        classifiers=["Framework :: Django :: 5.0", "Programming Language :: Python :: 3"],
        uploaded_at="2025-06-01T10:00:00.000000Z")
    catalogue = tmp_path / "packages.json"
    catalogue.write_text(json.dumps(records))
    return world, catalogue


def facts(config: Path, slug: str) -> dict:
    shown = fetcher(config, "show", slug, "--facts")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_a_quarantined_project_keeps_its_version_and_facts_and_shows_its_status_and_a_vanished_one_fails(tmp_path):
    world, catalogue = two_packages(tmp_path)
    with StandIn(world, token=TOKEN, stats_delay=0) as standin:
        config = tmp_path / "config.toml"
        config.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\n'
                          f'graphql_url = "{standin.graphql_url}"\npace = false\n[pypi]\nurl = "{standin.url}"\n'
                          f'[http]\nbackoff = 0\ntimeout = 5\n')
        assert fetcher(config, "import", str(catalogue)).returncode == 0
        first = fetcher(config, "sync")
        before = facts(config, HAUNTED)

        # PyPI quarantines one project (a release uploaded before stays hidden with it) and loses the other.
        world.pypi_facts[HAUNTED].status = "quarantined"
        world.pypi[HAUNTED] = "1.5.0"
        del world.pypi[GONE]
        second = fetcher(config, "--log-format", "json", "sync", "--all")
        during = facts(config, HAUNTED)
        pretty = fetcher(config, "show", HAUNTED, "--pretty").stdout
        gone = fetcher(config, "show", GONE, "--pretty").stdout
        asked = [entry.path for entry in standin.requests if entry.path.startswith(("/pypi/", "/simple/"))]

        # The quarantine is lifted: the version hidden meanwhile is read, the status is active again.
        world.pypi_facts[HAUNTED].status = None
        third = fetcher(config, "sync", "--all")
        after = facts(config, HAUNTED)

    assert first.returncode == 0, first.stderr
    assert before["pypi_version"] == "1.4.2" and before["facts"]["pypi_status"] == "active"
    assert (before["facts"]["license"], before["facts"]["requires_python"]) == ("MIT", ">=3.10")

    assert second.returncode == 1, second.stderr
    lines = [json.loads(line) for line in second.stderr.splitlines()]
    (run,) = [line for line in lines if line["event"] == "run"]
    assert (run["synced"], run["unchanged"], run["failed"]) == (1, 0, 1)
    events = {line["slug"]: line for line in lines if line["event"] == "package"}
    assert (events[HAUNTED]["outcome"], events[HAUNTED]["note"]) == ("synced", KEPT)
    gone_json = f"{standin.url}/pypi/{GONE}/json"
    assert (events[GONE]["outcome"], events[GONE]["reason"]) == ("failed", f"not found ({gone_json})")
    # The last known version and every fact stand; only the status is new.
    assert during == {**before, "last_fetched": during["last_fetched"], "modified": during["modified"],
                      "facts": {**before["facts"], "pypi_status": "quarantined"}}
    assert f"note:         {KEPT}" in pretty.splitlines()
    assert "failing:" not in pretty and "last error:" not in pretty
    assert f"last error:   not found ({gone_json})" in gone.splitlines()
    # No request more than the two it always makes for each: the index's answer explains the JSON API's 404.
    second_sync = asked[4:8]
    assert sorted(second_sync) == sorted([f"/pypi/{HAUNTED}/json", f"/simple/{HAUNTED}/",
                                          f"/pypi/{GONE}/json", f"/simple/{GONE}/"])

    assert third.returncode == 1  # the vanished one still fails
    assert after["pypi_version"] == "1.5.0" and after["facts"]["pypi_status"] == "active"
