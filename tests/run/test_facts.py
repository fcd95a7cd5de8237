"""Facts and history through real syncs against the loopback stand-in: filled, kept, cheap, and tracked by day."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from dateutil.relativedelta import relativedelta

from fetcher.config import load
from fetcher.run import loop
from fetcher.run.report import SYNCED, UNCHANGED
from fetcher.record import parse_datetime, validate
from fetcher.standin import ProjectFacts, StandIn, World, facts_for, normalize_name
from fetcher.store import open_store
from fetcher.links import pypi_name
from tests.conftest import Clock, no_sleep, BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)
TOKEN = "ghp_facts_token"


@pytest.fixture
def generated():
    world, records = World.generate(24, seed=3, renamed=0.05, missing=0, empty=0.1, cold_stats=0)
    archived = next(repo for repo in world.repos.values() if not repo.empty and not repo.archived)
    archived.archived, archived.archived_at = True, "2025-05-06T07:08:09Z"
    # One project says everything the hard way: a PEP 639 expression and a PEP 792 status (a quarantined one is
    # hidden from the JSON API: tests/e2e/test_pypi_status.py).
    name = normalize_name(pypi_name(records[0]["pypi_url"]))
    world.pypi_facts[name] = ProjectFacts(
        license="Copyright (c) 2020 Someone\n\nPermission is hereby granted...", license_expression="MIT",
        requires_python=">=3.9", classifiers=["Framework :: Django :: 4.2", "Framework :: Django :: 4.10",
                                               "Framework :: Django :: 5.0"],
        docs_url="https://pythonhosted.org/x/", uploaded_at="2025-01-02T03:04:05.000000Z", status="deprecated")
    return world, records


@pytest.fixture
def syncing(tmp_path, monkeypatch, store_toml):
    """A store and a sync function against a running stand-in of `world`; GraphQL on or off."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    servers = []

    def start(world, records, *, graphql=True, extra=""):
        standin = StandIn(world, token=TOKEN)
        servers.append(standin)
        path = tmp_path / "config.toml"
        path.write_text(
            f'[store]\n{store_toml}\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.graphql_url}"\n'
            f'pace = false\ngraphql = {"true" if graphql else "false"}\n[pypi]\nurl = "{standin.url}"\n'
            f'[http]\nbackoff = 0\ntimeout = 5\n{extra}'
        )
        config = load(str(path))
        store = open_store(config.store)
        store.catalogue.import_records([validate(r, "test") for r in records], T0)

        def run(now: datetime):
            return loop.run(store, store.schedule.due(None, None), config, "sync", clock=Clock(now), sleep=no_sleep)

        return standin, store, run

    yield start
    for standin in servers:
        standin.close()


def expected_facts(world: World, record: dict, now: datetime, graphql: bool = True) -> dict:
    """Every fact, computed here from the stand-in's own data, not with fetcher's functions.

    REST does not say when a repository was archived: then it is when the sync first saw it.
    """
    repo = world.repo(record["repo_url"].split("github.com/")[1])
    name = normalize_name(pypi_name(record["pypi_url"]))
    project = facts_for(world, name)
    if project.license_expression:
        license_ = project.license_expression  # a PEP 639 expression: a string
    elif project.license:
        license_ = [project.license]  # else names: a list
    else:
        license_ = [c.split(" :: ")[-1] for c in project.classifiers if c.startswith("License")]
    python3 = {">=3.8": True, ">=3.9": True, ">=3.10": True, "<3": False, ">=2.7, !=3.0.*": True}.get(
        project.requires_python)
    if project.requires_python is None:
        python3 = "Programming Language :: Python :: 3" in project.classifiers or (
            False if "Programming Language :: Python :: 2.7" in project.classifiers else None)
    django = sorted((c.split(" :: ")[2] for c in project.classifiers if c.startswith("Framework :: Django :: ")),
                    key=lambda v: tuple(int(p) for p in v.split(".")))
    stars = repo.stars
    if repo.newest_commit_date:
        delta = relativedelta(now, parse_datetime(repo.newest_commit_date))
        quarters = (delta.years * 12 + delta.months) // 3
        stale = quarters * stars / 10
    else:
        stale = stars / 10
    score = max(int(stars - stale - (0 if python3 else min(stars * 3 / 10, 1000))), -500)
    archived_at = None
    if repo.archived and not graphql:
        archived_at = now.isoformat()
    elif repo.archived:
        archived_at = repo.archived_at or (
            parse_datetime(repo.newest_commit_date) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "archived": repo.archived,
        "archived_at": archived_at and parse_datetime(archived_at),
        "commit_count": 0 if repo.empty else repo.commit_count,
        "license": license_,
        "requires_python": project.requires_python,
        "supports_python3": python3,
        "django_versions": django,
        "classifiers": project.classifiers,
        "latest_release_at": parse_datetime(project.uploaded_at),
        "latest_release_yanked": project.yanked,
        "pypi_status": project.status or "active",
        "score": score,
    }


def stored_facts(store, slug: str) -> dict:
    """The package's facts as the store reads them (flags as booleans, lists as lists, date-times as date-times)."""
    row = store.reads.facts(store.reads.record(slug)["id"])
    got = {name: row[name] for name in expected_names()}
    if got["license"] and got["license"].startswith("["):
        got["license"] = json.loads(got["license"])
    return got


def expected_names():
    return ("archived", "archived_at", "commit_count", "license", "requires_python", "supports_python3",
            "django_versions", "classifiers", "latest_release_at", "latest_release_yanked", "pypi_status", "score")


def history_rows(store) -> int:
    return store.db.execute("SELECT count(*) FROM history").fetchone()[0]


@pytest.mark.parametrize("graphql", [True, False], ids=["graphql", "rest"])
def test_a_sync_fills_every_fact_with_what_the_standin_serves(generated, syncing, graphql):
    world, records = generated
    standin, store, run = syncing(world, records, graphql=graphql)

    report = run(T0)

    assert report.exit_code == 0, report.failures
    assert report.outcomes[SYNCED] == len(records)
    for record in records:
        assert stored_facts(store, record["slug"]) == expected_facts(world, record, T0, graphql), record["slug"]
    special = store.reads.record(records[0]["slug"])
    assert special["documentation_url"] == "https://pythonhosted.org/x/"  # PyPI's docs_url
    statuses = {stored_facts(store, r["slug"])["pypi_status"] for r in records}
    assert {"deprecated", "active"} <= statuses and len(statuses) >= 3
    archived = [r for r in records if stored_facts(store, r["slug"])["archived"]]
    assert archived and all(stored_facts(store, r["slug"])["archived_at"] for r in archived)
    # Each label normalizing to "documentation" filled an empty documentation_url; none was invented.
    for record in records[1:]:
        project = facts_for(world, normalize_name(pypi_name(record["pypi_url"])))
        assert store.reads.record(record["slug"])["documentation_url"] == (project.project_urls or {}).get(
            "Documentation", ""), record["slug"]
    assert history_rows(store) == len(records)  # the starting row of each


def test_a_documentation_url_a_person_set_is_never_overwritten(generated, syncing):
    world, records = generated
    records[0]["documentation_url"] = "https://docs.example.org/mine/"
    standin, store, run = syncing(world, records)

    run(T0)

    assert store.reads.record(records[0]["slug"])["documentation_url"] == "https://docs.example.org/mine/"


def test_for_djangopackages_the_documentation_url_is_pypis_whenever_pypi_has_one(generated, syncing):
    world, records = generated
    for record in records[:3]:
        record["documentation_url"] = "https://docs.example.org/mine/"
    _, store, run = syncing(world, records, extra='[compat]\nprofile = "djangopackages"\n')

    run(T0)

    # As Django Packages' updater sets it (package/pypi.py): PyPI's docs_url, else a URL labelled Documentation.
    assert store.reads.record(records[0]["slug"])["documentation_url"] == "https://pythonhosted.org/x/"
    for record in records[1:3]:
        urls = facts_for(world, normalize_name(pypi_name(record["pypi_url"]))).project_urls or {}
        assert store.reads.record(record["slug"])["documentation_url"] == urls.get(
            "Documentation", "https://docs.example.org/mine/"), record["slug"]


@pytest.mark.parametrize("graphql", [True, False], ids=["graphql", "rest"])
def test_a_warm_sync_with_nothing_changed_costs_what_it_did_and_writes_no_history(generated, syncing, graphql):
    world, records = generated
    standin, store, run = syncing(world, records, graphql=graphql)
    run(T0)
    rows, points, requests = history_rows(store), standin.points_total, len(standin.requests)

    warm = run(T0 + timedelta(days=1))

    # Before the facts, a warm sync cost one GraphQL point per batch (GraphQL) or nothing (REST, every answer a 304).
    assert standin.points_total - points == (1 if graphql else 0)
    assert warm.outcomes[UNCHANGED] == len(records)
    assert history_rows(store) == rows
    pypi = [entry for entry in standin.requests[requests:] if entry.path.startswith(("/pypi/", "/simple/"))]
    # Two free conditional requests per package on PyPI: the JSON API and the project status, both 304.
    assert len(pypi) == 2 * len(records)
    assert {entry.status for entry in pypi} == {304}


def test_a_license_stored_joined_reads_as_it_was_until_the_next_sync_asks_pypi_afresh_and_stores_the_names(
        generated, syncing):
    world, records = generated
    name = normalize_name(pypi_name(records[1]["pypi_url"]))
    world.pypi_facts[name] = ProjectFacts(license=None, classifiers=[
        "License :: OSI Approved :: MIT License", "License :: OSI Approved :: Apache Software License"])
    standin, store, run = syncing(world, records)
    run(T0)
    package_id = store.reads.record(records[1]["slug"])["id"]
    assert stored_facts(store, records[1]["slug"])["license"] == ["MIT License", "Apache Software License"]
    # As a sync before names were a list left it: the names joined in the fact and in the kept PyPI answer.
    joined = "MIT License OR Apache Software License"
    kept = store.db.one("SELECT value FROM resource_cache WHERE package_id = ? AND resource = 'pypi'", [package_id])
    old = {key: value for key, value in json.loads(kept).items() if key not in ("license_expression", "license_names")}
    with store.db.write():
        store.db.execute("UPDATE resource_cache SET value = ? WHERE package_id = ? AND resource = 'pypi'",
                         [json.dumps({**old, "license": joined}), package_id])
        store.db.execute("UPDATE facts SET license = ? WHERE package_id = ?", [joined, package_id])
    assert stored_facts(store, records[1]["slug"])["license"] == joined
    requests = len(standin.requests)

    run(T0 + timedelta(days=1))

    asked = [entry for entry in standin.requests[requests:] if entry.path == f"/pypi/{name}/json"]
    assert [entry.status for entry in asked] == [200]  # once, unconditionally
    assert stored_facts(store, records[1]["slug"])["license"] == ["MIT License", "Apache Software License"]
    requests = len(standin.requests)
    run(T0 + timedelta(days=2))
    assert [entry.status for entry in standin.requests[requests:] if entry.path == f"/pypi/{name}/json"] == [304]


def test_archived_then_unarchived(generated, syncing):
    world, records = generated
    record = records[5]
    repo = world.repo(record["repo_url"].split("github.com/")[1])
    repo.archived, repo.archived_at = False, None
    standin, store, run = syncing(world, records, graphql=False)  # REST says archived, never since when
    slug = record["slug"]

    run(T0)
    assert (stored_facts(store, slug)["archived"], stored_facts(store, slug)["archived_at"]) == (False, None)
    repo.archived = True
    run(T0 + timedelta(days=1))
    assert stored_facts(store, slug)["archived"] is True
    assert stored_facts(store, slug)["archived_at"] == T0 + timedelta(days=1)  # when fetcher first saw it
    run(T0 + timedelta(days=2))
    assert stored_facts(store, slug)["archived_at"] == T0 + timedelta(days=1)
    repo.archived = False
    run(T0 + timedelta(days=3))

    assert (stored_facts(store, slug)["archived"], stored_facts(store, slug)["archived_at"]) == (False, None)
    assert [row["archived"] for row in store.reads.history(slug)] == [0, 1, 0]
    assert [row["date"] for row in store.reads.history(slug)] == ["2026-11-02", "2026-11-03", "2026-11-05"]


def test_history_has_a_row_per_day_a_tracked_value_changed(generated, syncing):
    world, records = generated
    standin, store, run = syncing(world, records)
    slug, other = records[2]["slug"], records[3]["slug"]
    repo = world.repo(records[2]["repo_url"].split("github.com/")[1])
    stars = repo.stars

    run(T0)
    repo.stars += 10
    run(T0 + timedelta(hours=2))  # the same day: that day's row is updated
    repo.stars += 5
    run(T0 + timedelta(hours=5))
    run(T0 + timedelta(days=1))  # nothing changed: nothing written
    run(T0 + timedelta(days=2))
    world.push(repo.full_name, commits=3, when="2026-11-05T09:00:00Z")
    world.pypi[normalize_name(pypi_name(records[2]["pypi_url"]))] = "99.0"
    run(T0 + timedelta(days=3))

    rows = store.reads.history(slug)
    assert [(row["date"], row["stars"]) for row in rows] == [("2026-11-02", stars + 15), ("2026-11-05", stars + 15)]
    assert rows[1]["commit_count"] == rows[0]["commit_count"] + 3 and rows[1]["pypi_version"] == "99.0"
    assert len(store.reads.history(other)) == 1
    assert history_rows(store) == len(records) + 1


def test_a_hostile_status_answer_fails_its_package_only(generated, syncing):
    world, records = generated
    standin, store, run = syncing(world, records)
    run(T0)
    name = normalize_name(pypi_name(records[4]["pypi_url"]))
    before = stored_facts(store, records[4]["slug"])
    standin.fail_next(f"/simple/{name}/", 200, body={"name": name, "project-status": {"status": 12}})
    standin.fail_next(f"/pypi/{normalize_name(pypi_name(records[6]['pypi_url']))}/json", 200,
                      body=b'{"info": {"version": "1.0", "classifiers": ["\\ud800"]}}')

    report = run(T0 + timedelta(days=1))

    assert sorted(slug for slug, _ in report.failures) == sorted([records[4]["slug"], records[6]["slug"]])
    assert report.outcomes[UNCHANGED] == len(records) - 2
    assert stored_facts(store, records[4]["slug"]) == before  # kept as it was
    assert "project-status.status" in dict(report.failures)[records[4]["slug"]]
