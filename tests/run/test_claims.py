"""A run's claims (run/claiming.py): each package's released once it is done, whatever the outcome, after its write;
a dead worker's taken once its lease has passed; a fleet's plan leaves what the others' claims expect to spend."""

import asyncio
from datetime import timedelta

import pytest
import respx

from fetcher.config import load
from fetcher.errors import LeftDue
from fetcher.record import validate
from fetcher.store import open_store
from fetcher.hosts.base import Capacity
from fetcher.run import loop, plan
from fetcher.run.report import FAILED, SKIPPED, SYNCED
from fetcher.store.fetched import EDITED
from tests.conftest import API, GitHubRepo, pypi_route, recorded, response_from, BOTH_BACKENDS, POSTGRESQL_ONLY
from tests.run.test_loop import NOW, OLD, Sleeps, package, run

pytestmark = BOTH_BACKENDS


def on_github(setup, respx_mock, count: int):
    """`count` packages p0, p1, ... on GitHub (o/pN) and PyPI (pN, version 1.0): the config, the store, the repos."""
    config, store = setup(*(package(f"p{n}", repo=f"o/p{n}", pypi=f"p{n}") for n in range(count)))
    repos = [GitHubRepo(respx_mock, f"o/p{n}") for n in range(count)]
    for n in range(count):
        pypi_route(respx_mock, f"p{n}", "1.0")
    return config, store, repos


@pytest.fixture
def setup(config_file, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)

    def make(*records, extra=""):
        config = load(str(config_file(extra)))
        store = open_store(config.store)
        store.catalogue.import_records([validate(r, "test") for r in records], NOW)
        return config, store

    return make


class Clock:
    """A run's clock that the run's sleeps move on: a poll of a few seconds is a few seconds later."""

    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def releases(store, monkeypatch) -> list[tuple[str, str | None, int]]:
    """Each claim released explicitly (not by the worker's end): (slug, its last attempt then, its pending then)."""
    seen = []
    release = store.claims.release

    def spy(worker_id, ids):
        for package_id in ids:
            slug = store.db.one("SELECT slug FROM package WHERE id = ?", [package_id])
            state = store.reads.fetch_state(slug) or {}
            seen.append((slug, state.get("last_attempt"), state.get("pending")))
        release(worker_id, ids)

    monkeypatch.setattr(store.claims, "release", spy)
    return seen


@respx.mock
def test_each_claim_is_released_once_its_package_is_done_whatever_the_outcome(setup, respx_mock, monkeypatch):
    config, store = setup(package("synced", repo="o/synced", pypi="synced"),
                          package("failed", repo="o/failed", pypi="failed"),
                          package("skipped", repo="https://git.example.org/g/skipped", pypi="skipped"),
                          package("later", repo="o/later", pypi="later", **OLD),
                          package("edited", repo="o/edited", pypi="edited"),
                          package("away", repo="o/away", pypi="away"))
    for name in ("synced", "edited", "away"):
        GitHubRepo(respx_mock, f"o/{name}")
    gh = GitHubRepo(respx_mock, "o/later", weeks=[2] * 52)
    pending = response_from(recorded("api_github_com_repos_django_deps"), status=202, body={})
    gh.participation.side_effect = [pending, pending, gh.participation.return_value]
    respx_mock.get(f"{API}/repos/o/failed").mock(
        return_value=response_from(recorded("api_github_com_repos_djangopackages_does_not_exist"), status=404))
    for name in ("synced", "failed", "skipped", "later", "edited", "away"):
        pypi_route(respx_mock, name, "1.0")
    ids = {row["slug"]: row["id"] for row in store.schedule.walk()}
    save = store.fetched.save
    monkeypatch.setattr(store.fetched, "save", lambda package_id, *rest: EDITED if package_id == ids["edited"]
                        else save(package_id, *rest))
    fetch = loop.fetch

    async def away_or_fetch(item, *rest):
        if item.slug == "away":
            raise LeftDue("https://example.org", "its host is away")
        return await fetch(item, *rest)

    monkeypatch.setattr(loop, "fetch", away_or_fetch)
    released = releases(store, monkeypatch)

    report = run(config, store)

    assert (report.outcomes[SYNCED], report.outcomes[FAILED], report.outcomes[SKIPPED]) == (2, 1, 3)
    assert report.written_later == 1 and report.packages == 6
    by_slug = {slug: (attempt, pending) for slug, attempt, pending in released}
    assert sorted(slug for slug, _, _ in released) == sorted(ids)  # each once, before the worker's end
    # Written (or failed), then released: a worker walking meanwhile sees the attempt, not a free package.
    for slug in ("synced", "failed", "skipped", "later"):
        assert by_slug[slug][0] is not None, slug
    assert by_slug["later"][1] == 0  # released only once its later part was written
    # Nothing written: still due, for this pass's other workers too.
    assert by_slug["edited"][0] is None and by_slug["away"][0] is None
    assert store.db.select("SELECT * FROM claim") == [] and store.db.select("SELECT * FROM worker") == []
    row = store.db.first("SELECT worker_id, host, pid, packages FROM sync_run")
    assert row["worker_id"] is not None and row["host"] and row["pid"] > 0 and row["packages"] == 6


@respx.mock
def test_a_run_passes_over_what_another_worker_holds_and_takes_it_once_that_lease_has_passed(
        setup, respx_mock, backend):
    config, store = setup(*(package(f"p{n}", repo=f"o/p{n}", pypi=f"p{n}") for n in range(5)),
                          extra='[sync]\nlease = "30s"\n')
    repos = [GitHubRepo(respx_mock, f"o/p{n}") for n in range(5)]
    for n in range(5):
        pypi_route(respx_mock, f"p{n}", "1.0")
    ids = [row["id"] for row in store.schedule.walk()]
    # A worker of the same pass, killed while holding two packages: its row and claims hold until its lease passes.
    dead = store.workers.begin("sync", NOW - timedelta(seconds=1), timedelta(seconds=30))
    assert store.claims.take(dead["id"], [(ids[1], 3), (ids[3], 3)], NOW, timedelta(seconds=30)) == [ids[1], ids[3]]
    clock = Clock()

    report = loop.run(store, store.schedule.due(None, None, NOW), config, "sync", sleep=clock.sleep, clock=clock)

    if backend == "sqlite":  # one run at a time (the run lock): a worker row left is a killed run's, deleted first
        assert clock.now == NOW
    else:  # walked once, then looked again every few seconds until the dead worker's lease had passed
        assert clock.now >= NOW + timedelta(seconds=30)
    assert report.outcomes[SYNCED] == 5 and report.packages == 5 and report.exit_code == 0
    assert [repo.repo.call_count for repo in repos] == [1] * 5  # each fetched once
    assert store.db.select("SELECT * FROM claim") == [] and store.db.select("SELECT * FROM worker") == []


@POSTGRESQL_ONLY  # a SQLite store has one run at a time: there is no other live worker
@respx.mock
def test_what_another_live_worker_holds_is_its_share_not_this_runs(setup, respx_mock):
    config, store, repos = on_github(setup, respx_mock, 4)
    ids = [row["id"] for row in store.schedule.walk()]
    other = store.workers.begin("sync", NOW - timedelta(seconds=1), timedelta(days=1))
    store.claims.take(other["id"], [(ids[0], 5)], NOW, timedelta(days=1))
    polls = Sleeps()

    async def the_other_finishes(seconds):  # while this one waits, the other writes its package and ends
        polls.delays.append(seconds)
        store.db.execute("INSERT INTO fetch_state (package_id, last_attempt) VALUES (?, ?)",
                         [ids[0], "2026-11-22T12:00:01.000000+00:00"])
        store.workers.end(other["id"])

    report = loop.run(store, store.schedule.due(None, None, NOW), config, "sync", sleep=the_other_finishes,
                      clock=lambda: NOW)

    assert report.outcomes[SYNCED] == 3 and report.packages == 3  # its share: the other's package was the other's
    assert [repo.repo.call_count for repo in repos] == [0, 1, 1, 1]
    assert len(polls.delays) == 1


class Plan:
    """A host's budget plan that can pay 10 points, each package costing 3."""

    async def ask_unseen(self, budgets, now):
        return {}

    def capacity(self, budgets, now):
        return Capacity(10, 1)

    def cost(self, last_points):
        return 3

    def shortfall(self, missing, capacity):
        return f"{missing} points more than {capacity.points}"


class Hosts:
    def __init__(self):
        self.all = [self]

    def plan(self):
        return Plan()

    def host_of(self, repo_url):
        return self


def test_a_fleets_plan_leaves_what_the_other_workers_claims_expect_to_spend(setup):
    config, store = setup(*(package(f"p{n}", repo=f"o/p{n}", pypi="") for n in range(5)))
    ids = [row["id"] for row in store.schedule.walk()]
    alone = store.schedule.due(None, None, NOW)
    assert asyncio.run(plan.fit(store, alone, Hosts(), NOW)) == (2, "6 points more than 10")  # 3 of 5 fit

    other = store.workers.begin("sync", NOW, timedelta(days=1))
    store.claims.take(other["id"], [(ids[0], 4)], NOW, timedelta(days=1))  # expects to spend 4
    me = store.workers.begin("sync", NOW, timedelta(days=1))
    due = store.schedule.due(None, None, NOW)
    assert asyncio.run(plan.fit(store, due, Hosts(), NOW, me["id"])) == (3, "9 points more than 6")  # 2 of 5
    assert store.claims.others_points(other["id"], NOW) == 0  # its own are not the others'


@POSTGRESQL_ONLY  # a SQLite store has one run at a time: no other worker deletes its row
@respx.mock
def test_a_worker_whose_row_another_deleted_makes_it_again_and_goes_on(setup, respx_mock):
    config, store, repos = on_github(setup, respx_mock, 3)
    ids = [row["id"] for row in store.schedule.walk()]
    other = store.workers.begin("sync", NOW - timedelta(seconds=1), timedelta(days=1))
    store.claims.take(other["id"], [(ids[0], 0)], NOW, timedelta(days=1))
    deleted = []

    async def stalled(seconds):  # stopped past its lease: another worker found it dead and deleted its row
        mine = store.db.one("SELECT id FROM worker WHERE id != ?", [other["id"]])
        deleted.append(mine)
        store.db.execute("DELETE FROM worker WHERE id = ?", [mine])
        store.workers.end(other["id"])  # and the other ended, its package left due

    report = loop.run(store, store.schedule.due(None, None, NOW), config, "sync", sleep=stalled, clock=lambda: NOW)

    assert len(deleted) == 1 and report.worker["id"] == deleted[0]
    assert report.outcomes[SYNCED] == 3 and report.packages == 3 and report.exit_code == 0  # p0 taken after all
    assert [repo.repo.call_count for repo in repos] == [1, 1, 1]  # what it had in hand claimed again, not re-taken
    assert store.db.select("SELECT * FROM worker") == [] and store.db.select("SELECT * FROM claim") == []
