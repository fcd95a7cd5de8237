"""The GitHub/PyPI stand-in must answer like the real APIs, or tests built on it prove nothing."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bench.run import count_requests, run_process
from fetcher.standin import Logged, Repo, StandIn, World
from tests.conftest import ROOT


NEWEST = "2026-02-11T13:53:49Z"
LOGINS = ["shacker", "bittner", "dependabot[bot]"] + [f"user{i}" for i in range(247)]
PARTICIPATION = [1] * 51 + [3]
NOT_FOUND = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
}


def small_world() -> World:
    world = World()
    world.add_repo(
        Repo(
            "shacker",
            "django-todo",
            409,
            forks=285,
            stars=845,
            description="A multi-user, multi-group todo/ticketing system for Django projects.",
            contributors=list(LOGINS),
            participation=list(PARTICIPATION),
            newest_commit_date=NEWEST,
            created_at="2010-09-28T10:40:18Z",
            subscribers=40,
            commit_count=120,
            pending_asks=2,  # count-based statistics: two 202s, then 200, whatever the time
        )
    )
    world.add_repo(Repo("octo", "empty", 7, forks=0, stars=1, description=None))
    moved = world.add_repo(
        Repo("jazzband", "django-auth-ldap", 410, forks=104, stars=365, description=None, newest_commit_date=NEWEST)
    )
    world.rename("django-auth-ldap/django-auth-ldap", moved)
    world.block("dmca/blocked")
    world.add_pypi("django-todo", "2.5.0")
    return world


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(small_world()) as server:
        yield server


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


def get(standin: StandIn, target: str, headers: dict[str, str] | None = None) -> Reply:
    """GET a path, or an absolute URL on the stand-in (as found in Link and Location), on a fresh connection."""
    path = target.removeprefix(standin.url)
    address = urlsplit(standin.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    try:
        return exchange(connection, path, headers)
    finally:
        connection.close()


def exchange(
    connection: http.client.HTTPConnection,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> Reply:
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return Reply(response.status, response.headers, response.read())


def post(standin: StandIn, path: str, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    """POST a JSON payload (or raw bytes) on a fresh connection."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    address = urlsplit(standin.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    try:
        return exchange(connection, path, {"Content-Type": "application/json", **(headers or {})}, "POST", body)
    finally:
        connection.close()


def links(reply: Reply) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', reply.headers.get("Link", ""))}


def test_repo_answer_has_githubs_fields_and_validators(standin: StandIn) -> None:
    reply = get(standin, "/repos/shacker/django-todo")

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r'W/"[0-9a-f]{64}"', reply.headers["ETag"])
    assert reply.headers["Last-Modified"] == "Wed, 11 Feb 2026 13:53:49 GMT"
    body = reply.json
    assert body["id"] == 409
    assert body["node_id"] == "MDEwOlJlcG9zaXRvcnk0MDk="
    assert body["full_name"] == "shacker/django-todo"
    assert body["html_url"] == "https://github.com/shacker/django-todo"
    assert body["url"] == f"{standin.url}/repos/shacker/django-todo"
    assert body["owner"]["login"] == "shacker" and body["owner"]["type"] == "User"
    assert body["description"].startswith("A multi-user")
    assert (body["forks"], body["forks_count"], body["network_count"]) == (285, 285, 285)
    assert (body["stargazers_count"], body["watchers_count"], body["watchers"]) == (845, 845, 845)
    assert body["subscribers_count"] == 40
    assert body["pushed_at"] == NEWEST and body["created_at"] == "2010-09-28T10:40:18Z"
    assert body["default_branch"] == "main"
    assert (body["archived"], body["disabled"], body["private"]) == (False, False, False)


def test_repo_lookup_ignores_case(standin: StandIn) -> None:
    reply = get(standin, "/repos/SHACKER/Django-Todo")

    assert reply.status == 200
    assert reply.json["full_name"] == "shacker/django-todo"


def test_renamed_repo_redirects_to_repositories_id(standin: StandIn) -> None:
    moved = get(standin, "/repos/Django-Auth-LDAP/django-auth-ldap/contributors?per_page=100")

    location = f"{standin.url}/repositories/410/contributors?per_page=100"
    assert moved.status == 301
    assert moved.headers["Location"] == location
    assert moved.json["message"] == "Moved Permanently" and moved.json["url"] == location
    assert get(standin, location).status == 200
    repo = get(standin, "/repositories/410")
    assert repo.status == 200 and repo.json["full_name"] == "jazzband/django-auth-ldap"
    assert standin.world.repo("django-auth-ldap/django-auth-ldap").id == 410


def test_contributors_paginate_with_githubs_link_headers(standin: StandIn) -> None:
    base = f"{standin.url}/repositories/409/contributors?per_page=100"
    first = get(standin, "/repos/shacker/django-todo/contributors?per_page=100")
    second = get(standin, links(first)["next"])
    third = get(standin, links(second)["next"])

    assert first.headers["Link"] == f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'
    assert second.headers["Link"] == (
        f'<{base}&page=1>; rel="prev", <{base}&page=3>; rel="next", '
        f'<{base}&page=3>; rel="last", <{base}&page=1>; rel="first"'
    )
    assert third.headers["Link"] == f'<{base}&page=2>; rel="prev", <{base}&page=1>; rel="first"'
    people = first.json + second.json + third.json
    assert [person["login"] for person in people] == LOGINS
    counts = [person["contributions"] for person in people]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1] >= 1
    assert people[2]["type"] == "Bot" and people[0]["type"] == "User"


def test_contributors_default_to_thirty_per_page(standin: StandIn) -> None:
    reply = get(standin, "/repos/shacker/django-todo/contributors")

    assert len(reply.json) == 30
    assert links(reply) == {
        "next": f"{standin.url}/repositories/409/contributors?page=2",
        "last": f"{standin.url}/repositories/409/contributors?page=9",
    }


def test_participation_is_202_until_computed_and_again_after_a_push(standin: StandIn) -> None:
    path = "/repos/shacker/django-todo/stats/participation"
    asks = [get(standin, path) for _ in range(3)]

    assert [(reply.status, reply.raw) for reply in asks[:2]] == [(202, b"{}"), (202, b"{}")]
    assert asks[2].status == 200
    assert asks[2].json["all"] == PARTICIPATION
    assert all(0 <= owner <= every for owner, every in zip(asks[2].json["owner"], PARTICIPATION))
    assert len(asks[2].json["owner"]) == 52

    standin.world.push("shacker/django-todo", commits=4, when="2026-02-20T10:00:00Z")

    assert [get(standin, path).status for _ in range(3)] == [202, 202, 200]
    assert get(standin, path).json["all"][-1] == 7
    repo = get(standin, "/repos/shacker/django-todo")
    assert repo.json["pushed_at"] == "2026-02-20T10:00:00Z"
    assert repo.headers["Last-Modified"] == "Fri, 20 Feb 2026 10:00:00 GMT"
    newest = get(standin, "/repos/shacker/django-todo/commits?per_page=1").json[0]
    assert newest["commit"]["committer"]["date"] == "2026-02-20T10:00:00Z"


def test_empty_repository_answers_204_409_204(standin: StandIn) -> None:
    contributors = get(standin, "/repos/octo/empty/contributors")
    commits = get(standin, "/repos/octo/empty/commits")
    participation = get(standin, "/repos/octo/empty/stats/participation")

    assert (contributors.status, contributors.raw) == (204, b"")
    assert commits.status == 409
    assert commits.json == {
        "message": "Git Repository is empty.",
        "documentation_url": "https://docs.github.com/rest/commits/commits#list-commits",
    }
    assert (participation.status, participation.raw) == (204, b"")
    assert get(standin, "/repos/octo/empty").status == 200


def test_commits_come_newest_first_and_paginate(standin: StandIn) -> None:
    reply = get(standin, "/repos/shacker/django-todo/commits?per_page=5")

    commits = reply.json
    assert len(commits) == 5
    assert commits[0]["commit"]["committer"]["date"] == NEWEST
    dates = [commit["commit"]["committer"]["date"] for commit in commits]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) == 5
    assert [commit["parents"][0]["sha"] for commit in commits[:-1]] == [commit["sha"] for commit in commits[1:]]
    assert all(re.fullmatch(r"[0-9a-f]{40}", commit["sha"]) for commit in commits)
    assert links(reply) == {
        "next": f"{standin.url}/repositories/409/commits?per_page=5&page=2",
        "last": f"{standin.url}/repositories/409/commits?per_page=5&page=24",
    }


def test_revalidation_with_etag_is_a_free_304(standin: StandIn) -> None:
    fresh = get(standin, "/repos/shacker/django-todo")
    etag = fresh.headers["ETag"]
    charged = standin.points_charged

    weak = get(standin, "/repos/shacker/django-todo", {"If-None-Match": etag})
    strong = get(standin, "/repos/shacker/django-todo", {"If-None-Match": etag.removeprefix("W/")})
    dated = get(standin, "/repos/shacker/django-todo", {"If-Modified-Since": fresh.headers["Last-Modified"]})

    for reply in (weak, strong, dated):
        assert (reply.status, reply.raw, reply.headers["ETag"]) == (304, b"", etag)
        assert reply.headers["X-RateLimit-Remaining"] == fresh.headers["X-RateLimit-Remaining"]
    assert standin.points_charged == charged
    assert [entry.charged for entry in standin.requests] == [True, False, False, False]
    changed = get(standin, "/repos/shacker/django-todo", {"If-None-Match": 'W/"stale"'})
    assert changed.status == 200 and standin.points_charged == charged + 1


def test_every_charged_request_spends_one_point_until_403() -> None:
    with StandIn(small_world(), rate_limit=3) as standin:
        paths = [
            "/repos/shacker/django-todo",
            "/repos/nobody/nothing",
            "/repos/shacker/django-todo/stats/participation",
            "/repos/shacker/django-todo",
        ]
        replies = [get(standin, path) for path in paths]

        assert [reply.status for reply in replies] == [200, 404, 202, 403]
        assert [reply.headers["X-RateLimit-Remaining"] for reply in replies] == ["2", "1", "0", "0"]
        assert [reply.headers["X-RateLimit-Used"] for reply in replies] == ["1", "2", "3", "3"]
        assert {reply.headers["X-RateLimit-Limit"] for reply in replies} == {"3"}
        assert {reply.headers["X-RateLimit-Resource"] for reply in replies} == {"core"}
        assert {reply.headers["X-RateLimit-Reset"] for reply in replies} == {str(standin.reset_at)}
        assert replies[3].json == {
            "message": "API rate limit exceeded for user ID 1.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        }
        assert standin.points_charged == 3 and standin.requests[3].charged is False
        assert get(standin, "/pypi/django-todo/json").status == 200

        standin.reset_at = int(time.time()) - 1
        refilled = get(standin, "/repos/shacker/django-todo")
        assert refilled.status == 200 and refilled.headers["X-RateLimit-Remaining"] == "2"
        assert int(refilled.headers["X-RateLimit-Reset"]) >= time.time() + 3500


def test_pypi_redirects_unnormalized_names_and_is_never_charged(standin: StandIn) -> None:
    moved = get(standin, "/pypi/Django_Todo/json")

    assert moved.status == 301
    assert moved.headers["Location"] == f"{standin.url}/pypi/django-todo/json"
    reply = get(standin, moved.headers["Location"])
    assert reply.status == 200
    assert re.fullmatch(r'W/"[0-9a-f]{64}"', reply.headers["ETag"])
    assert reply.headers["X-RateLimit-Remaining"] is None
    body = reply.json
    assert (body["info"]["name"], body["info"]["version"]) == ("django-todo", "2.5.0")
    assert body["info"]["release_url"] == "https://pypi.org/project/django-todo/2.5.0/"
    assert body["releases"] == {"2.5.0": body["urls"]} and body["vulnerabilities"] == []
    assert [f["filename"] for f in body["urls"]] == ["django-todo-2.5.0.tar.gz", "django_todo-2.5.0-py3-none-any.whl"]
    assert get(standin, "/pypi/django-todo/json", {"If-None-Match": reply.headers["ETag"]}).status == 304
    for unknown in ("/pypi/no-such-thing/json", "/pypi/No_Such_Thing/json"):
        missing = get(standin, unknown)
        assert (missing.status, missing.json) == (404, {"message": "Not Found"})
    assert standin.points_charged == 0


def test_unknown_and_blocked_answers(standin: StandIn) -> None:
    assert get(standin, "/repos/djangopackages/does-not-exist").json == NOT_FOUND
    contributors = get(standin, "/repos/djangopackages/does-not-exist/contributors")
    assert contributors.status == 404
    assert contributors.json["documentation_url"] == (
        "https://docs.github.com/rest/repos/repos#list-repository-contributors"
    )
    assert get(standin, "/repositories/999").status == 404
    route = get(standin, "/repos/shacker/django-todo/issues")
    assert route.status == 404
    assert route.json == {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    blocked = get(standin, "/repos/DMCA/Blocked")
    assert blocked.status == 451
    assert blocked.json["message"] == "Repository access blocked"
    assert blocked.json["block"]["reason"] == "dmca"
    assert standin.points_charged == 5


def test_token_is_enforced_on_github_only() -> None:
    with StandIn(small_world(), token="s3cret") as standin:
        anonymous = get(standin, "/repos/shacker/django-todo")
        wrong = get(standin, "/repos/shacker/django-todo", {"Authorization": "Bearer nope"})
        right = get(standin, "/repos/shacker/django-todo", {"Authorization": "Bearer s3cret"})
        pypi = get(standin, "/pypi/django-todo/json")

        assert (anonymous.status, wrong.status, right.status, pypi.status) == (401, 401, 200, 200)
        assert anonymous.json["message"] == "Bad credentials"
        assert [entry.authorized for entry in standin.requests] == [False, True, True, False]
        assert standin.last_headers[-2]["authorization"] == "Bearer s3cret"
        assert "authorization" not in standin.last_headers[-1]


def test_request_headers_are_kept_for_inspection(standin: StandIn) -> None:
    sent = {
        "User-Agent": "fetcher/1.0",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    get(standin, "/repos/shacker/django-todo", sent)

    headers = standin.last_headers[-1]
    assert headers["user-agent"] == "fetcher/1.0"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert len(standin.last_headers) == len(standin.requests) == 1


def test_fail_next_answers_canned_failures_then_recovers(standin: StandIn) -> None:
    secondary = {"message": "You have exceeded a secondary rate limit."}
    standin.fail_next("/repos/shacker/", 403, times=2, headers={"Retry-After": "7"}, body=secondary)
    standin.fail_next("/pypi/", 503)

    failures = [get(standin, "/repos/shacker/django-todo/contributors") for _ in range(2)]
    recovered = get(standin, "/repos/shacker/django-todo/contributors")
    unavailable = get(standin, "/pypi/django-todo/json")

    for reply in failures:
        assert (reply.status, reply.headers["Retry-After"], reply.json) == (403, "7", secondary)
    assert failures[1].headers["X-RateLimit-Remaining"] == "4998"
    assert recovered.status == 200
    assert (unavailable.status, unavailable.json) == (503, {"message": "Service Unavailable"})
    assert get(standin, "/pypi/django-todo/json").status == 200
    assert [entry.charged for entry in standin.requests] == [True, True, True, False, False]


def test_keep_alive_connection_survives_bodiless_answers(standin: StandIn) -> None:
    address = urlsplit(standin.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    try:
        first = exchange(connection, "/repos/shacker/django-todo")
        sock = connection.sock
        empty = exchange(connection, "/repos/octo/empty/contributors")
        same = exchange(connection, "/repos/shacker/django-todo", {"If-None-Match": first.headers["ETag"]})
        again = exchange(connection, "/repos/shacker/django-todo")
        assert connection.sock is sock
    finally:
        connection.close()

    assert [first.status, empty.status, same.status, again.status] == [200, 204, 304, 200]
    assert empty.headers["Content-Length"] is None and same.headers["Content-Length"] is None
    assert again.raw == first.raw


def test_latency_delays_each_answer() -> None:
    with StandIn(small_world(), latency=0.05) as standin:
        started = time.perf_counter()
        get(standin, "/repos/shacker/django-todo")
        assert time.perf_counter() - started >= 0.05


CATALOG = [
    {
        "slug": "django-todo",
        "repo_url": "https://github.com/shacker/django-todo",
        "pypi_url": "http://pypi.python.org/pypi/django-todo",
        "repo_description": "A multi-user todo",
    },
    {
        "slug": "django-auth-ldap",
        "repo_url": "https://github.com/django-auth-ldap/django-auth-ldap/",
        "pypi_url": "https://pypi.org/project/django-auth-ldap/",
    },
    {
        "slug": "dj-paginator",
        "repo_url": "https://github.com/pydanny/dj-paginator.git",
        "pypi_url": "https://pypi.org/pypi/Dj_Paginator",
    },
    {"slug": "elsewhere", "repo_url": "https://bitbucket.org/someone/thing", "pypi_url": ""},
]


def test_from_catalog_is_deterministic_per_seed() -> None:
    world = World.from_catalog(CATALOG, seed=3)

    assert world == World.from_catalog(CATALOG, seed=3)
    assert world != World.from_catalog(CATALOG, seed=4)
    assert sorted(world.repos) == [
        "django-auth-ldap/django-auth-ldap",
        "pydanny/dj-paginator",
        "shacker/django-todo",
    ]
    assert sorted(world.pypi) == ["dj-paginator", "django-auth-ldap", "django-todo"]
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version) for version in world.pypi.values())
    assert world.repo("shacker/django-todo").description == "A multi-user todo"
    for repo in world.repos.values():
        assert 1 <= len(repo.contributors) <= 600 and len(repo.participation) == 52
        assert repo.newest_commit_date is not None and repo.newest_commit_date <= "2026-02-15"
    # Count-based statistics, so a client retrying at once still sees them computed on the third ask.
    assert all((repo.pending_asks, repo.stats_cold) == (2, False) for repo in world.repos.values())
    capped = World.from_catalog(CATALOG, seed=3, max_contributors=1)
    assert [len(repo.contributors) for repo in capped.repos.values()] == [1, 1, 1]


def test_generate_makes_the_asked_share_of_renamed_missing_and_empty() -> None:
    world, records = World.generate(300, seed=5)

    assert (world, records) == World.generate(300, seed=5)
    assert len(records) == 300 and [record["id"] for record in records] == list(range(1, 301))
    assert list(records[0]) == [
        "category", "grids", "id", "title", "slug", "last_updated", "last_fetched", "repo_url",
        "pypi_version", "created", "modified", "repo_forks", "repo_description", "pypi_url",
        "documentation_url", "repo_watchers", "commits_over_52", "participants",
    ]  # fmt: skip
    assert len(world.renames) == 6 and len(world.repos) == 297
    assert all(repo.pending_asks == 0 for repo in world.repos.values())
    assert sum(repo.empty for repo in world.repos.values()) == 3
    assert all(len(repo.contributors) <= 600 for repo in world.repos.values())
    names = [record["repo_url"].removeprefix("https://github.com/") for record in records]
    renamed = [name for name in names if name.lower() in world.renames]
    known = world.repos.keys() | world.renames.keys()
    missing = [name for name in names if name.lower() not in known]
    assert (len(renamed), len(missing)) == (6, 3)
    with StandIn(world) as standin:
        assert get(standin, f"/repos/{renamed[0]}").status == 301
        assert get(standin, f"/repos/{missing[0]}").status == 404
        assert records[0]["pypi_url"] == "https://pypi.org/project/Django_Pkg0/"
        assert get(standin, "/pypi/Django_Pkg0/json").status == 301


# --- time-based statistics and pushes --------------------------------------------


def stats_world() -> World:
    world = World()
    for repo_id, name, cold in ((1, "warm", False), (2, "cold", True)):
        world.add_repo(
            Repo(
                "octo", name, repo_id, forks=1, stars=2, description=None, contributors=["ann", "bob", "cy"],
                participation=[1] * 52, newest_commit_date=NEWEST, stats_cold=cold,
            )
        )  # fmt: skip
    return world


def test_cold_statistics_are_computed_stats_delay_after_the_first_ask() -> None:
    with StandIn(stats_world(), stats_delay=0.1) as standin:
        cold = "/repos/octo/cold/stats/participation"
        asked = time.monotonic()
        early = [get(standin, cold).status for _ in range(2)]
        quick = time.monotonic() - asked < 0.1
        time.sleep(0.12)
        later = [get(standin, cold) for _ in range(2)]
        warm = get(standin, "/repos/octo/warm/stats/participation")

        assert quick and early == [202, 202]
        assert [reply.status for reply in later] == [200, 200]
        assert later[0].json["all"] == [1] * 52
        assert warm.status == 200
        assert standin.points_charged == 5  # a 202 costs a point like any answer but 304


def test_push_makes_statistics_cold_and_moves_contributors() -> None:
    with StandIn(stats_world(), stats_delay=0.05) as standin:
        stats, people = "/repos/octo/warm/stats/participation", "/repos/octo/warm/contributors"
        assert get(standin, stats).status == 200
        before = get(standin, people)
        assert [(p["login"], p["contributions"]) for p in before.json] == [("ann", 400), ("bob", 200), ("cy", 133)]

        standin.world.push("octo/warm", commits=500, author="cy")

        after = get(standin, people, {"If-None-Match": before.headers["ETag"]})
        assert after.status == 200 and after.headers["ETag"] != before.headers["ETag"]
        assert [(p["login"], p["contributions"]) for p in after.json] == [("cy", 633), ("ann", 400), ("bob", 200)]
        assert get(standin, stats).status == 202
        time.sleep(0.06)
        assert get(standin, stats).json["all"][-1] == 501
        assert get(standin, people, {"If-None-Match": after.headers["ETag"]}).status == 304

        standin.world.push("octo/warm", commits=2)  # by default, the top contributor
        standin.world.push("octo/warm", author="newcomer")
        repo = standin.world.repo("octo/warm")
        assert list(zip(repo.contributors, repo.contributions)) == [
            ("cy", 635), ("ann", 400), ("bob", 200), ("newcomer", 1),
        ]  # fmt: skip
        assert repo.stats_cold and repo.commit_count == 52 + 503


def test_contributions_are_kept_sorted_and_checked() -> None:
    repo = Repo("o", "n", 1, forks=0, stars=0, description=None, contributors=["a", "b"], contributions=[1, 5])
    assert (repo.contributors, repo.contributions) == (["b", "a"], [5, 1])
    with pytest.raises(ValueError, match="2 contributors but 1 contribution counts"):
        Repo("o", "n", 1, forks=0, stars=0, description=None, contributors=["a", "b"], contributions=[1])


def test_generate_starts_the_asked_share_of_statistics_cold() -> None:
    world, _ = World.generate(200, seed=1)
    computed = [repo for repo in world.repos.values() if not repo.empty]

    assert sum(repo.stats_cold for repo in computed) == round(len(computed) * 0.3)
    assert not any(repo.stats_cold for repo in world.repos.values() if repo.empty)
    assert World.generate(200, seed=1)[0] == world
    assert not any(repo.stats_cold for repo in World.generate(200, seed=1, cold_stats=0)[0].repos.values())


# --- GraphQL -------------------------------------------------------------------------

FRAGMENT = """fragment Fields on Repository {
  nameWithOwner url description forkCount stargazerCount pushedAt isArchived archivedAt
  defaultBranchRef { target { ... on Commit { committedDate history(first: 1) { totalCount } } } }
}"""


def repos_query(names: list[str], with_counts: bool = True) -> dict[str, Any]:
    """fetcher's query shape: alias rI on line 3 + I, column 3."""
    declared = ", ".join(f"$o{i}: String!, $n{i}: String!" for i in range(len(names)))
    fields = "".join(f"  r{i}: repository(owner: $o{i}, name: $n{i}) {{ ...Fields }}\n" for i in range(len(names)))
    fragment = FRAGMENT if with_counts else FRAGMENT.replace(" history(first: 1) { totalCount }", "")
    query = f"query Repos({declared}) {{\n  rateLimit {{ cost remaining resetAt }}\n{fields}}}\n{fragment}"
    variables = {}
    for i, name in enumerate(names):
        variables[f"o{i}"], variables[f"n{i}"] = name.split("/")
    return {"query": query, "variables": variables}


AUTH = {"Authorization": "bearer s3cret"}


def test_graphql_answers_each_alias_with_nulls_and_errors() -> None:
    names = ["SHACKER/Django-Todo", "django-auth-ldap/django-auth-ldap", "nobody/nothing", "dmca/blocked", "octo/empty"]
    with StandIn(small_world(), token="s3cret") as standin:
        reply = post(standin, "/graphql", repos_query(names), AUTH)

        assert reply.status == 200
        assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
        data = reply.json["data"]
        assert data["r0"] == {
            "nameWithOwner": "shacker/django-todo",
            "url": "https://github.com/shacker/django-todo",
            "description": "A multi-user, multi-group todo/ticketing system for Django projects.",
            "forkCount": 285,
            "stargazerCount": 845,
            "pushedAt": NEWEST,
            "isArchived": False,
            "archivedAt": None,
            "defaultBranchRef": {"target": {"committedDate": NEWEST, "history": {"totalCount": 120}}},
        }
        assert (data["r1"]["nameWithOwner"], data["r1"]["url"]) == (
            "jazzband/django-auth-ldap", "https://github.com/jazzband/django-auth-ldap",
        )  # fmt: skip
        assert data["r2"] is None and data["r3"] is None
        assert (data["r4"]["nameWithOwner"], data["r4"]["defaultBranchRef"]) == ("octo/empty", None)
        assert reply.json["errors"] == [
            {
                "type": "NOT_FOUND",
                "path": ["r2"],
                "locations": [{"line": 5, "column": 3}],
                "message": "Could not resolve to a Repository with the name 'nobody/nothing'.",
            },
            {
                "type": "FORBIDDEN",
                "path": ["r3"],
                "locations": [{"line": 6, "column": 3}],
                "message": "Repository access blocked",
            },
        ]
        reset = datetime.fromtimestamp(int(reply.headers["X-RateLimit-Reset"]), timezone.utc)
        assert data["rateLimit"] == {"cost": 1, "remaining": 4999, "resetAt": reset.strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert reply.headers["X-RateLimit-Resource"] == "graphql"
        assert (reply.headers["X-RateLimit-Limit"], reply.headers["X-RateLimit-Remaining"]) == ("5000", "4999")
        assert reply.headers["X-RateLimit-Used"] == "1"
        assert standin.requests == [Logged("POST", "/graphql", 200, True, True)]
        assert (standin.graphql_points, standin.graphql_queries, standin.graphql_repositories) == (1, 1, 5)
        assert (standin.points_charged, standin.points_total) == (0, 1)
        assert standin.remaining == 5000 and standin.graphql_remaining == 4999

        clean = post(standin, "/graphql", repos_query(["shacker/django-todo"]), AUTH)
        assert "errors" not in clean.json and clean.json["data"]["rateLimit"]["remaining"] == 4998


def test_graphql_costs_a_point_per_hundred_repositories() -> None:
    with StandIn(small_world(), token="s3cret") as standin:
        costs = []
        for size in (1, 100, 101, 250):
            reply = post(standin, "/graphql", repos_query(["shacker/django-todo"] * size), AUTH)
            costs.append(reply.json["data"]["rateLimit"]["cost"])
            assert len(reply.json["data"]) == size + 1

        assert costs == [1, 1, 2, 3]
        assert standin.graphql_points == 7 and standin.graphql_remaining == 4993
        assert reply.headers["X-RateLimit-Used"] == "7"


def test_graphql_answers_the_commit_counts_only_when_asked() -> None:
    with StandIn(small_world(), token="s3cret") as standin:
        without = post(standin, "/graphql", repos_query(["shacker/django-todo"], with_counts=False), AUTH)

    assert without.json["data"]["r0"]["defaultBranchRef"] == {"target": {"committedDate": NEWEST}}
    assert standin.graphql_asked == [(("shacker/django-todo",), False)]


def test_graphql_queries_asking_counts_of_more_repositories_than_the_limit_time_out_and_are_charged() -> None:
    names = ["shacker/django-todo"] * 3
    with StandIn(small_world(), token="s3cret", graphql_timeout_above=2) as standin:
        stopped = post(standin, "/graphql", repos_query(names), AUTH)
        smaller = post(standin, "/graphql", repos_query(names[:2]), AUTH)
        uncounted = post(standin, "/graphql", repos_query(names, with_counts=False), AUTH)

    assert stopped.status == 502
    assert stopped.json == {"data": None, "errors": [{"message": "Something went wrong while executing your query. "
                                                       "This may be the result of a timeout, or it could be a GitHub "
                                                       "bug."}]}
    assert stopped.headers["X-RateLimit-Remaining"] == "4999"  # GitHub charges a query it stopped
    assert (smaller.status, uncounted.status) == (200, 200)
    assert [(len(asked), counts) for asked, counts in standin.graphql_asked] == [(3, True), (2, True), (3, False)]


def test_graphql_requires_credentials_even_without_a_token() -> None:
    query = repos_query(["shacker/django-todo"])
    with StandIn(small_world()) as open_standin:
        anonymous = post(open_standin, "/graphql", query)
        anyone = post(open_standin, "/graphql", query, {"Authorization": "bearer whatever"})
    with StandIn(small_world(), token="s3cret") as standin:
        wrong = post(standin, "/graphql", query, {"Authorization": "bearer nope"})
        right = post(standin, "/graphql", query, {"Authorization": "token s3cret"})
        charged = [entry.charged for entry in standin.requests]
        points = standin.graphql_points

    assert (anonymous.status, anyone.status, wrong.status, right.status) == (401, 200, 401, 200)
    assert anonymous.json["message"] == "This endpoint requires you to be authenticated."
    assert wrong.json["message"] == "Bad credentials"
    assert wrong.headers["X-RateLimit-Resource"] == "graphql"
    assert charged == [False, True] and points == 1


def test_graphql_budget_is_its_own_and_runs_out_as_an_error() -> None:
    query = repos_query(["shacker/django-todo"])
    with StandIn(small_world(), graphql_rate_limit=2) as standin:
        replies = [post(standin, "/graphql", query, AUTH) for _ in range(3)]
        rest = get(standin, "/repos/shacker/django-todo")

        assert [reply.status for reply in replies] == [200, 200, 200]
        assert [reply.headers["X-RateLimit-Remaining"] for reply in replies] == ["1", "0", "0"]
        assert replies[2].json == {
            "errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]
        }
        assert standin.requests[2].charged is False and standin.graphql_points == 2
        assert (rest.status, rest.headers["X-RateLimit-Remaining"]) == (200, "4999")

        standin.graphql_reset_at = int(time.time()) - 1
        assert post(standin, "/graphql", query, AUTH).json["data"]["rateLimit"]["remaining"] == 1
        standin.refill()  # both budgets, at once
        assert (standin.graphql_remaining, standin.remaining) == (2, 5000)
    with StandIn(small_world(), graphql_rate_limit=0, graphql_rate_limited_status=403) as standin:
        refused = post(standin, "/graphql", query, AUTH)
        assert (refused.status, refused.json["errors"][0]["type"]) == (403, "RATE_LIMITED")


def test_graphql_refuses_malformed_requests_without_charging(standin: StandIn) -> None:
    garbled = post(standin, "/graphql", b"{not json", AUTH)
    no_query = post(standin, "/graphql", {"variables": {}}, AUTH)
    unbound = post(standin, "/graphql", {"query": repos_query(["a/b"])["query"]}, AUTH)

    assert (garbled.status, garbled.json["message"]) == (400, "Problems parsing JSON")
    assert (no_query.status, no_query.json) == (
        200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]},
    )  # fmt: skip
    assert unbound.status == 200 and "data" not in unbound.json
    assert unbound.json["errors"][0]["message"] == "Variable $o0 of type String! was provided invalid value"
    assert unbound.json["errors"][0]["locations"] == [{"line": 1, "column": 13}]
    assert standin.graphql_points == 0 and standin.points_total == 0


def test_post_elsewhere_is_not_found_and_free(standin: StandIn) -> None:
    reply = post(standin, "/repos/shacker/django-todo", {}, AUTH)

    assert reply.status == 404 and standin.points_total == 0


# --- the benchmark ----------------------------------------------------------------------


def test_request_kinds_are_counted_per_endpoint() -> None:
    entries = [
        Logged("POST", "/graphql", 200, True, True),
        Logged("GET", "/repos/o/n", 301, True, True),
        Logged("GET", "/repositories/7", 200, True, True),
        Logged("GET", "/repos/o/n/contributors?per_page=100", 304, False, True),
        Logged("GET", "/repositories/7/contributors?per_page=100&page=2", 200, True, True),
        Logged("GET", "/repos/o/n/stats/participation", 202, True, True),
        Logged("GET", "/repos/o/n/commits?per_page=1", 409, True, True),
        Logged("GET", "/pypi/Foo/json", 301, False, False),
        Logged("GET", "/repos/o/n/issues", 404, True, True),
    ]
    counted = count_requests(entries)

    assert (counted.total, counted.graphql, counted.repo, counted.contributors) == (9, 1, 2, 2)
    assert (counted.participation, counted.commits, counted.pypi, counted.other) == (1, 1, 1, 1)
    assert (counted.accepted_202, counted.redirects_301, counted.not_modified_304) == (1, 2, 1)
    assert counted.client_errors_4xx == 2


def test_bench_runs_end_to_end(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    # 200 points an hour: the cold phase leaves too little for the next phases unless the hour passes between them.
    command = ["-m", "bench", "--packages", "30", "--latency", "0", "--baseline", "cold", "--rate-limit", "200",
               "--json", str(results)]
    # Bounded, not timed: four runs of 30 packages take seconds alone and minutes on a loaded 2-core machine.
    done = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(results.read_text())
    assert result["complete"] is True and result["error"] is None
    assert [(run["client"], run["phase"]) for run in result["runs"]] == [
        ("fetcher", "cold"), ("fetcher", "warm-unchanged"), ("fetcher", "warm-pushed"), ("baseline", "cold"),
    ]  # fmt: skip
    for run in result["runs"]:
        assert run["exit_code"] == 0 and run["packages"] == 30, run
        assert run["requests"]["total"] > 0 and run["requests"]["pypi"] >= 30
        assert run["peak_rss_mb"] > 0 and run["cpu_s"] > 0 and run["wall_s"] > 0
    cold, baseline = result["runs"][0], result["runs"][3]
    assert "30 of 30 packages" in cold["summary"]
    assert baseline["points"] == baseline["requests"]["total"] - baseline["requests"]["pypi"]
    assert result["ratios"][0]["phase"] == "cold" and result["ratios"][0]["speedup"] > 0
    assert result["table"] in done.stdout
    assert done.stdout.startswith("30 packages") and "| fetcher  | cold " in done.stdout


def test_soak_runs_end_to_end_and_loses_nothing(tmp_path: Path) -> None:
    results = tmp_path / "soak.json"
    command = ["-m", "bench", "--faults", "--packages", "40", "--rounds", "1", "--seed", "4", "--json", str(results)]
    done = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    soak = json.loads(results.read_text())
    assert [r["name"] for r in soak["rounds"]] == ["1: faults on", "2: faults off"]
    faulted, clean = soak["rounds"]
    assert sum(faulted["injected"].values()) > 0 and faulted["retries"] > 0
    assert faulted["lost"] == [] and clean["lost"] == []
    assert faulted["right"] + faulted["sparkline_kept"] + faulted["untouched_with_error"] == 40
    assert clean["right"] == 40 and clean["exit_code"] == 0
    assert "| records lost |" in done.stdout


def test_a_childs_peak_rss_is_its_own_not_the_bench_processs() -> None:
    # The bench holds the whole generated world while it runs fetcher. wait4's ru_maxrss carries the
    # parent's high-water mark into the child across fork and exec; the figure must be the child's own.
    ballast = b"x" * (160 * 1024 * 1024)  # written, so resident in this process
    child = run_process([sys.executable, "-m", "platform"], {**os.environ, "PYTHONPATH": str(ROOT)}, ROOT, 30)
    del ballast

    assert child.exit_code == 0 and child.stdout.strip()
    assert child.peak_rss_mb is not None and 2 < child.peak_rss_mb < 80, child.peak_rss_mb


def test_run_process_refuses_what_is_not_a_module() -> None:
    with pytest.raises(ValueError, match="python -m MODULE"):
        run_process([sys.executable, "-c", "pass"], dict(os.environ), ROOT, 30)


def test_generated_cold_statistics_can_be_count_based() -> None:
    world, _ = World.generate(200, seed=3, cold_stats=0.4, stats_asks=3)
    counted = [repo for repo in world.repos.values() if repo.pending_asks]
    computed = [repo for repo in world.repos.values() if not repo.empty]

    assert len(counted) == round(len(computed) * 0.4)
    assert {repo.pending_asks for repo in counted} == {1, 2, 3}
    assert not any(repo.stats_cold for repo in world.repos.values())
    repo = counted[0]
    asks = repo.pending_asks
    answers = [world.stats_ready(repo) for _ in range(asks + 1)]
    assert answers == [False] * asks + [True]
