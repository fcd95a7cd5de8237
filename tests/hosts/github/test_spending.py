"""Spending GitHub's rate limit as if it were scarce: batching, conditional requests, skipping what cannot change."""

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from fetcher.config import load
from fetcher.run import loop
from fetcher.run.report import SYNCED, UNCHANGED
from fetcher.record import to_stored_datetime, validate
from fetcher.store import open_store
from tests.conftest import API, Clock, GitHubRepo, no_sleep, pypi_route, recorded, response_from

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)  # a Monday
GRAPHQL = f"{API}/graphql"


def package(slug: str, repo: str | None = None, pypi: str | None = None) -> dict:
    return {
        "slug": slug,
        "repo_url": f"https://github.com/{repo or 'o/' + slug}",
        "pypi_url": f"https://pypi.org/project/{pypi or slug}/",
        "created": "2020-01-01T00:00:00+00:00",
        "modified": "2020-01-01T00:00:00+00:00",
    }


class FakeGraphQL:
    """GitHub's GraphQL endpoint for the repository-by-alias query fetcher sends."""

    def __init__(self, mock):
        self.nodes: dict[str, dict] = {}
        self.queries: list[dict] = []
        self.route = mock.post(GRAPHQL).mock(side_effect=self.answer)

    def add(self, full_name, *, asked_as=None, forks=1, stars=2, description="d",
            pushed_at="2026-10-01T00:00:00Z", committed="2026-09-30T10:00:00Z"):
        self.nodes[(asked_as or full_name).lower()] = {
            "nameWithOwner": full_name,
            "url": f"https://github.com/{full_name}",
            "description": description,
            "forkCount": forks,
            "stargazerCount": stars,
            "pushedAt": pushed_at,
            "isArchived": False,
            "defaultBranchRef": {"target": {"committedDate": committed}} if committed else None,
        }

    def answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.queries.append(body)
        variables = body["variables"]
        data = {"rateLimit": {"cost": 1, "remaining": 4999, "resetAt": "2026-11-02T13:00:00Z"}}
        errors = []
        for i in range(len(variables) // 2):
            wanted = f"{variables[f'o{i}']}/{variables[f'n{i}']}"
            node = self.nodes.get(wanted.lower())
            data[f"r{i}"] = node
            if node is None:
                errors.append({"type": "NOT_FOUND", "path": [f"r{i}"], "locations": [{"line": 3, "column": 3}],
                               "message": f"Could not resolve to a Repository with the name '{wanted}'."})
        payload = {"data": data, **({"errors": errors} if errors else {})}
        return httpx.Response(200, json=payload, headers={
            "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Used": "1",
            "X-RateLimit-Reset": "1793000000", "X-RateLimit-Resource": "graphql"})


@pytest.fixture
def setup(config_file, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_budget")

    def make(*records, github=""):
        config = load(str(config_file(github=github)))
        store = open_store(config.store_path)
        store.catalogue.import_records([validate(r, "test") for r in records], T0)
        return config, store

    return make


def sync_all(config, store, clock):
    return loop.run(store, store.schedule.due(None, None), config, "sync", sleep=no_sleep, clock=clock)


def row(store, slug):
    # As the store reads it (lists as lists), its date-times as it keeps them.
    return {k: to_stored_datetime(v) if isinstance(v, datetime) else v for k, v in store.reads.record(slug).items()}


def rest_paths(mock) -> list[str]:
    return [call.request.url.path for call in mock.calls if call.request.method == "GET"]


@respx.mock
def test_one_graphql_query_carries_the_metadata_of_a_batch(setup, respx_mock):
    config, store = setup(package("a"), package("b"), package("old-name", repo="o/old-name"), package("gone"))
    gql = FakeGraphQL(respx_mock)
    gql.add("o/a", forks=10, stars=100, description="A", committed="2026-10-30T08:00:00Z")
    gql.add("o/b", forks=20, stars=200, description=None, committed=None)
    gql.add("new-owner/new-name", asked_as="o/old-name", forks=30)
    for full_name in ("o/a", "o/b", "new-owner/new-name"):
        repo = GitHubRepo(respx_mock, full_name)
        repo.repo.mock(side_effect=AssertionError("REST repo asked despite GraphQL"))
        repo.commits.mock(side_effect=AssertionError("commits asked despite GraphQL"))
    for slug in ("a", "b", "old-name", "gone"):
        pypi_route(respx_mock, slug, "1.0")

    report = sync_all(config, store, Clock(T0))

    assert gql.route.call_count == 1
    assert len(gql.queries[0]["variables"]) == 8  # four repositories, owner and name each
    a, b, moved = row(store, "a"), row(store, "b"), row(store, "old-name")
    assert (a["repo_forks"], a["repo_watchers"], a["repo_description"]) == (10, 100, "A")
    assert a["last_updated"] == "2026-10-30T08:00:00.000000+00:00"
    assert (b["repo_description"], b["last_updated"]) == ("", None)
    assert moved["repo_url"] == "https://github.com/new-owner/new-name" and moved["repo_forks"] == 30
    assert "/repos/new-owner/new-name/contributors" in rest_paths(respx_mock)
    assert report.failures == [("gone", f"not found ({GRAPHQL} (o/gone))")]
    assert (report.graphql_points, report.outcomes[SYNCED]) == (1, 3)
    # REST: contributors + participation for three repos; GraphQL: one point.
    assert report.points == 3 * 2 + 1


@respx.mock
def test_a_warm_sync_with_nothing_pushed_asks_only_the_batch_and_pypi(setup, respx_mock):
    config, store = setup(package("a"), package("b"))
    gql = FakeGraphQL(respx_mock)
    repos = {}
    for slug in ("a", "b"):
        gql.add(f"o/{slug}", pushed_at="2026-10-01T00:00:00Z")
        repos[slug] = GitHubRepo(respx_mock, f"o/{slug}", contributors=[f"{slug}-dev"], weeks=list(range(52)))
        pypi_route(respx_mock, slug, "1.0")
    first = sync_all(config, store, Clock(T0))
    asked_before = len(respx_mock.calls)
    gql.nodes["o/a"]["stargazerCount"] = 999  # stars move without a push

    second = sync_all(config, store, Clock(T0 + timedelta(hours=1)))

    new_calls = [call.request for call in respx_mock.calls][asked_before:]
    assert sorted((r.method, r.url.host, r.url.path) for r in new_calls) == [
        ("GET", "pypi.org", "/pypi/a/json"), ("GET", "pypi.org", "/pypi/b/json"),
        ("GET", "pypi.org", "/simple/a/"), ("GET", "pypi.org", "/simple/b/"),  # PEP 792 status: free
        ("POST", "api.github.com", "/graphql"),
    ]
    assert all(not repo.contributors.call_count > 1 for repo in repos.values())
    assert row(store, "a")["repo_watchers"] == 999
    assert row(store, "a")["participants"] == ["a-dev"] and row(store, "b")["commits_over_52"] == list(range(52))
    assert (first.points, second.points, second.graphql_points) == (5, 1, 1)
    assert (second.outcomes[SYNCED], second.outcomes[UNCHANGED]) == (1, 1)


@respx.mock
def test_a_push_brings_contributors_and_weekly_counts_again(setup, respx_mock):
    config, store = setup(package("a"))
    gql = FakeGraphQL(respx_mock)
    gql.add("o/a", pushed_at="2026-10-01T00:00:00Z")
    repo = GitHubRepo(respx_mock, "o/a", contributors=["x"], weeks=[1] * 52)
    pypi_route(respx_mock, "a", "1.0")
    sync_all(config, store, Clock(T0))
    gql.nodes["o/a"]["pushedAt"] = "2026-11-02T13:00:00Z"
    repo.contributors.mock(return_value=response_from(
        recorded("api_github_com_repos_django_deps_contributors_per_page_100"),
        body=[{"login": "x", "contributions": 5}, {"login": "newcomer", "contributions": 1}]))
    repo.participation.mock(return_value=httpx.Response(200, json={"all": [2] * 52, "owner": [0] * 52}))

    sync_all(config, store, Clock(T0 + timedelta(hours=2)))

    assert (repo.contributors.call_count, repo.participation.call_count) == (2, 2)
    assert row(store, "a")["participants"] == ["x", "newcomer"]
    assert row(store, "a")["commits_over_52"] == [2] * 52


@respx.mock
def test_weekly_counts_slide_by_whole_weeks_while_nothing_is_pushed(setup, respx_mock):
    config, store = setup(package("a"))
    gql = FakeGraphQL(respx_mock)
    gql.add("o/a")
    weeks = list(range(1, 53))
    repo = GitHubRepo(respx_mock, "o/a", weeks=weeks)
    pypi_route(respx_mock, "a", "1.0")
    sync_all(config, store, Clock(T0))

    sync_all(config, store, Clock(T0 + timedelta(days=6, hours=11)))
    assert row(store, "a")["commits_over_52"] == weeks  # not a whole week yet
    sync_all(config, store, Clock(T0 + timedelta(days=14, hours=1)))

    assert row(store, "a")["commits_over_52"] == weeks[2:] + [0, 0]
    assert repo.participation.call_count == 1
    sync_all(config, store, Clock(T0 + timedelta(days=21)))
    assert row(store, "a")["commits_over_52"] == weeks[3:] + [0, 0, 0]


@respx.mock
def test_rest_mode_asks_conditionally_and_a_304_costs_nothing(setup, respx_mock):
    config, store = setup(package("a"), github="graphql = false")
    repo = GitHubRepo(respx_mock, "o/a", forks=5, contributors=["x"])
    pypi = pypi_route(respx_mock, "a", "1.0")
    pypi.mock(return_value=httpx.Response(200, json={"info": {"version": "1.0"}}, headers={"ETag": '"pypi-1"'}))
    sync_all(config, store, Clock(T0))
    etag = recorded("api_github_com_repos_django_deps")["headers"]["ETag"]
    repo.repo.mock(side_effect=lambda request: httpx.Response(304, headers={"ETag": etag})
                   if request.headers.get("If-None-Match") == etag else httpx.Response(500))
    pypi.mock(side_effect=lambda request: httpx.Response(304)
              if request.headers.get("If-None-Match") == '"pypi-1"' else httpx.Response(500))

    report = sync_all(config, store, Clock(T0 + timedelta(hours=1)))

    assert report.exit_code == 0
    # The JSON Index API's project page (PEP 792 status) is the third request, conditional and free too.
    assert (report.requests, report.not_modified, report.points) == (3, 3, 0)
    assert (repo.contributors.call_count, repo.participation.call_count, repo.commits.call_count) == (1, 1, 1)
    assert row(store, "a")["repo_forks"] == 5 and row(store, "a")["pypi_version"] == "1.0"
    assert report.outcomes[UNCHANGED] == 1
    assert "3 requests (3 not modified); 0 GitHub points (0 GraphQL)" in report.summary()


@respx.mock
def test_each_contributors_page_is_asked_against_its_own_etag(setup, respx_mock):
    config, store = setup(package("a"), github="graphql = false")
    repo = GitHubRepo(respx_mock, "o/a")
    pypi_route(respx_mock, "a", "1.0")
    page2_url = f"{API}/repositories/1/contributors?per_page=100&page=2"
    repo.contributors.mock(side_effect=lambda request: httpx.Response(304) if request.headers.get(
        "If-None-Match") == '"p1"' else httpx.Response(200, json=[{"login": "one"}],
                                                     headers={"ETag": '"p1"', "Link": f'<{page2_url}>; rel="next"'}))
    page2 = respx_mock.get(page2_url).mock(side_effect=[
        httpx.Response(200, json=[{"login": "two"}], headers={"ETag": '"p2"'}),
        httpx.Response(200, json=[{"login": "two-b"}], headers={"ETag": '"p2b"'}),
    ])
    sync_all(config, store, Clock(T0))
    assert row(store, "a")["participants"] == ["one", "two"]
    # A push: GitHub's repo answer shows a new pushed_at, so contributors are asked again.
    body = recorded("api_github_com_repos_django_deps")["body"] | {"pushed_at": "2026-11-02T13:00:00Z",
                                                                  "full_name": "o/a", "html_url": "https://github.com/o/a"}
    repo.repo.mock(return_value=httpx.Response(200, json=body))

    sync_all(config, store, Clock(T0 + timedelta(hours=1)))

    assert row(store, "a")["participants"] == ["one", "two-b"]  # page 1 unchanged (304), page 2 new
    assert page2.call_count == 2
    assert page2.calls[1].request.headers["If-None-Match"] == '"p2"'


@respx.mock
def test_without_a_token_graphql_is_not_tried(setup, respx_mock, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    config, store = setup(package("a"))
    gql = FakeGraphQL(respx_mock)
    GitHubRepo(respx_mock, "o/a", forks=3)
    pypi_route(respx_mock, "a", "1.0")

    report = sync_all(config, store, Clock(T0))

    assert gql.route.call_count == 0 and row(store, "a")["repo_forks"] == 3 and report.exit_code == 0


@respx.mock
def test_graphql_unavailable_falls_back_to_rest_for_the_run(setup, respx_mock):
    config, store = setup(package("a"), package("b"))
    respx_mock.post(GRAPHQL).mock(return_value=httpx.Response(404, json={"message": "Not Found"}))
    GitHubRepo(respx_mock, "o/a", forks=3)
    GitHubRepo(respx_mock, "o/b", forks=4)
    pypi_route(respx_mock, "a", "1.0")
    pypi_route(respx_mock, "b", "1.0")

    report = sync_all(config, store, Clock(T0))

    assert (row(store, "a")["repo_forks"], row(store, "b")["repo_forks"]) == (3, 4)
    assert report.exit_code == 0 and report.graphql_points == 0


@respx.mock
def test_the_run_is_recorded_with_its_requests_and_points(setup, respx_mock):
    config, store = setup(package("a"))
    gql = FakeGraphQL(respx_mock)
    gql.add("o/a")
    GitHubRepo(respx_mock, "o/a")
    pypi_route(respx_mock, "a", "1.0")

    report = sync_all(config, store, Clock(T0))

    recorded_run = next(store.db.rows("SELECT * FROM sync_run"))
    assert {k: recorded_run[k] for k in ("packages", "synced", "requests", "not_modified", "graphql_points", "points")} == {
        "packages": 1, "synced": 1, "requests": 5, "not_modified": 0, "graphql_points": 1, "points": 3}
    assert "5 requests (0 not modified); 3 GitHub points (1 GraphQL), 4996 REST points left" in report.summary()


@respx.mock
def test_contributors_are_asked_again_conditionally_for_a_day_after_a_push(setup, respx_mock):
    # GitHub's contributors "may return information that is a few hours old": a day after a push, they stand.
    config, store = setup(package("a"))
    gql = FakeGraphQL(respx_mock)
    gql.add("o/a", pushed_at="2026-11-02T11:00:00Z")  # an hour before T0
    repo = GitHubRepo(respx_mock, "o/a", contributors=["x"])
    pypi_route(respx_mock, "a", "1.0")

    for hours in (0, 2, 30, 31, 40):
        sync_all(config, store, Clock(T0 + timedelta(hours=hours)))

    # Asked at T0, T0+2h and T0+30h (the first ask a day or more after the push), then no more.
    assert repo.contributors.call_count == 3
    assert all("If-None-Match" in call.request.headers for call in repo.contributors.calls[1:])
    assert repo.participation.call_count == 1  # the weekly counts are not cached for hours: once per push


@respx.mock
def test_without_a_token_a_304_costs_a_point(setup, respx_mock, monkeypatch):
    # GitHub: a 304 is free "if the request is made while correctly authorizing with an Authorization header".
    monkeypatch.delenv("GITHUB_TOKEN")
    config, store = setup(package("a"))
    repo = GitHubRepo(respx_mock, "o/a", forks=5)
    pypi_route(respx_mock, "a", "1.0")
    sync_all(config, store, Clock(T0))
    repo.repo.mock(return_value=httpx.Response(304, headers={
        "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "57", "X-RateLimit-Reset": "1793000000"}))

    report = sync_all(config, store, Clock(T0 + timedelta(hours=1)))

    assert (report.not_modified, report.points) == (2, 1)  # the repo's 304 costs a point; PyPI's status 304 none
    assert all("Authorization" not in call.request.headers for call in respx_mock.calls)


@respx.mock
def test_contributors_pages_are_capped_and_the_package_fails_past_the_cap(setup, respx_mock, monkeypatch):
    from fetcher.hosts.github import host as github

    monkeypatch.setattr(github, "MAX_CONTRIBUTOR_PAGES", 3)
    config, store = setup(package("a"), package("b"), github="graphql = false")
    repo = GitHubRepo(respx_mock, "o/a")
    GitHubRepo(respx_mock, "o/b", contributors=["b-dev"])
    pypi_route(respx_mock, "a", "1.0")
    pypi_route(respx_mock, "b", "1.0")

    def endless(request):  # every page links to one more
        page = int(request.url.params.get("page", "1"))
        following = f"{API}/repositories/1/contributors?per_page=100&page={page + 1}"
        return httpx.Response(200, json=[{"login": f"p{page}"}], headers={"Link": f'<{following}>; rel="next"'})

    repo.contributors.mock(side_effect=endless)
    pages = respx_mock.get(url__regex=rf"^{API}/repositories/1/contributors").mock(side_effect=endless)

    report = sync_all(config, store, Clock(T0))

    assert repo.contributors.call_count + pages.call_count == 3
    assert report.failures == [("a", f"more than 3 pages of contributors ({API}/repositories/1/contributors"
                                     "?per_page=100&page=4)")]
    assert row(store, "b")["participants"] == ["b-dev"]


@respx.mock
def test_a_304_for_contributors_never_asked_conditionally_fails_the_package_not_its_participants(setup, respx_mock):
    config, store = setup(package("a"), github="graphql = false")
    repo = GitHubRepo(respx_mock, "o/a")
    pypi_route(respx_mock, "a", "1.0")
    repo.contributors.mock(return_value=httpx.Response(304))

    report = sync_all(config, store, Clock(T0))

    assert report.failures == [("a", "304 for a contributors page not asked conditionally "
                                     f"({API}/repos/o/a/contributors?per_page=100)")]
    assert row(store, "a")["last_fetched"] is None


@respx.mock
def test_contributors_too_large_keep_the_participants_and_are_asked_again_only_after_a_push(setup, respx_mock):
    config, store = setup(package("a"))
    gql = FakeGraphQL(respx_mock)
    gql.add("o/a", stars=5, pushed_at="2026-10-01T00:00:00Z")
    repo = GitHubRepo(respx_mock, "o/a", contributors=["x", "y"])
    pypi_route(respx_mock, "a", "1.0")
    sync_all(config, store, Clock(T0))
    gql.nodes["o/a"].update(stargazerCount=6, pushedAt="2026-11-02T13:00:00Z")
    too_large = {"message": "The history or contributor list is too large to list contributors for this "
                            "repository via the API.",
                 "documentation_url": "https://docs.github.com/rest/repos/repos#list-repository-contributors"}
    repo.contributors.mock(return_value=httpx.Response(403, json=too_large))

    report = sync_all(config, store, Clock(T0 + timedelta(days=2)))
    again = sync_all(config, store, Clock(T0 + timedelta(days=4)))

    assert report.failures == [] and report.outcomes[SYNCED] == 1
    assert row(store, "a")["participants"] == ["x", "y"] and row(store, "a")["repo_watchers"] == 6
    note = next(store.db.rows("SELECT note FROM fetch_state"))["note"]
    assert note == "participants not updated: GitHub will not list contributors of a repository this large"
    assert repo.contributors.call_count == 2  # the first sync, the one after the push; not the one after that
    assert again.outcomes[UNCHANGED] == 1
