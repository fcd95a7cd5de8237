"""GitHub's 10-second limit on a GraphQL query: smaller queries, then none of the commit counts, never the same
query twice; against a stand-in whose queries time out above a number of repositories."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.config import load
from fetcher.hosts.github.query_size import GROW_AFTER, MIN_QUERY_SIZE, QuerySize
from fetcher.record import validate
from fetcher.run import loop
from fetcher.run.report import SYNCED
from fetcher.standin import StandIn, World
from fetcher.store import open_store
from tests.conftest import Clock, no_sleep

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)
TOKEN = "ghp_query_size_token"
REST_METADATA = re.compile(r"^/repos/[^/]+/[^/]+$")


# -- the decisions ------------------------------------------------------------------


def test_a_timeout_halves_the_size_down_to_the_least_then_drops_the_counts_then_gives_up():
    size = QuerySize(100)

    assert size.timed_out(100) and (size.size, size.with_counts) == (50, True)
    assert size.timed_out(50) and (size.size, size.with_counts) == (25, True)
    assert size.timed_out(25) and (size.size, size.with_counts) == (12, True)
    assert size.timed_out(12) and (size.size, size.with_counts) == (12, False)
    assert not size.timed_out(12)
    assert MIN_QUERY_SIZE == 10


def test_a_short_remainder_timing_out_does_not_grow_the_size():
    size = QuerySize(100, size=25)

    assert size.timed_out(40)

    assert size.size == 20


def test_the_size_grows_back_after_answers_in_a_row_each_timeout_asking_twice_as_many():
    size = QuerySize(100)
    size.timed_out(100)  # 50; growing now takes 2 * GROW_AFTER answers
    assert GROW_AFTER == 3

    for _ in range(5):
        size.answered()
    assert size.size == 50
    size.answered()
    assert size.size == 100

    size.timed_out(100)  # 50 again, and 12 answers to grow
    for _ in range(11):
        size.answered()
    assert size.size == 50
    size.answered()
    assert size.size == 100


def test_the_size_never_grows_past_the_batch():
    size = QuerySize(100)
    for _ in range(10):
        size.answered()
    assert size.size == 100


# -- through a sync ---------------------------------------------------------------


@pytest.fixture
def syncing(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    servers = []

    def start(packages: int, timeout_above: int | None):
        world, records = World.generate(packages, seed=5, renamed=0, missing=0, empty=0, cold_stats=0)
        standin = StandIn(world, token=TOKEN, graphql_timeout_above=timeout_above)
        servers.append(standin)
        path = tmp_path / "config.toml"
        path.write_text(
            f'[store]\npath = "sizes.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.graphql_url}"\n'
            f'pace = false\n[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0\ntimeout = 5\n'
        )
        config = load(str(path))
        store = open_store(config.store_path)
        store.catalogue.import_records([validate(r, "test") for r in records], T0)

        def run(now: datetime):
            return loop.run(store, store.schedule.due(None, None), config, "sync", clock=Clock(now), sleep=no_sleep)

        return world, records, standin, store, run

    yield start
    for standin in servers:
        standin.close()


def commit_counts(store, records) -> dict[str, int | None]:
    return {r["slug"]: store.reads.facts(store.reads.record(r["slug"])["id"])["commit_count"] for r in records}


def test_queries_that_time_out_are_asked_smaller_never_again_as_they_were_and_rest_is_not_needed(syncing):
    world, records, standin, store, run = syncing(100, timeout_above=30)

    report = run(T0)

    assert report.exit_code == 0, report.failures
    assert report.outcomes[SYNCED] == 100
    sizes = [(len(names), counts) for names, counts in standin.graphql_asked]
    # 100 and 50 time out; after three answers of 25 it would grow, but a timeout asks twice as many now.
    assert sizes == [(100, True), (50, True), (25, True), (25, True), (25, True), (25, True)]
    assert len(set(standin.graphql_asked)) == len(standin.graphql_asked)  # no query asked twice
    assert [e.path for e in standin.requests if REST_METADATA.match(e.path)] == []  # GraphQL answered them all
    expected = {r["slug"]: world.repo(r["repo_url"].split("github.com/")[1]).commit_count for r in records}
    assert commit_counts(store, records) == expected


def test_below_the_least_size_the_counts_are_left_out_for_the_run_and_the_stored_ones_kept(syncing):
    world, records, standin, store, run = syncing(30, timeout_above=None)
    run(T0)
    before = commit_counts(store, records)
    for repo in world.repos.values():
        repo.commit_count += 7
        repo.forks += 1
    standin.graphql_timeout_above = 5

    report = run(T0 + timedelta(days=30))

    assert report.exit_code == 0, report.failures
    assert report.outcomes[SYNCED] == 30
    asked = standin.graphql_asked[1:]  # after the first run's one query
    sizes = [(len(names), counts) for names, counts in asked]
    assert sizes[:3] == [(30, True), (15, True), (15, False)]  # 15 < 2 * MIN_QUERY_SIZE: the counts go
    assert all(not counts for _, counts in asked[2:])  # and stay gone for the run
    assert len(set(asked)) == len(asked)
    assert commit_counts(store, records) == before  # kept, not zeroed
    forks = {r["slug"]: store.reads.record(r["slug"])["repo_forks"] for r in records}
    assert forks == {r["slug"]: world.repo(r["repo_url"].split("github.com/")[1]).forks for r in records}


def test_a_query_of_the_least_size_without_counts_still_timing_out_falls_back_to_rest(syncing):
    world, records, standin, store, run = syncing(12, timeout_above=None)
    standin.fail_next("/graphql", 502, times=2)  # GitHub stops it with the counts and without

    report = run(T0)

    assert report.exit_code == 0, report.failures
    assert report.outcomes[SYNCED] == 12
    graphql = [e for e in standin.requests if e.path == "/graphql"]
    assert [e.status for e in graphql] == [502, 502]  # each asked once, then REST for the rest of the run
    assert len([e.path for e in standin.requests if REST_METADATA.match(e.path)]) == 12
