"""The forge stand-in (GitLab, Forgejo, Bitbucket) must answer like the real APIs, or tests on it prove nothing."""

from __future__ import annotations

import json
import socket
import tomllib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from fetcher.standin import StandIn, World
from fetcher.standin import forges as forge
from fetcher.standin.forges import Commit, ForgeRepo, Forges, Person, today_midnight, weekly_counts
from tests.conftest import FIXTURES

NOW = datetime(2026, 3, 4, 15, 30, 7, tzinfo=timezone.utc)
MIDNIGHT = datetime(2026, 3, 4, tzinfo=timezone.utc)
START = MIDNIGHT - timedelta(weeks=52)
GITLAB_REPO = "https://gitlab.com/Jazz-Band/apps/django-gitlab-beta"
GITLAB_ID = "Jazz-Band%2Fapps%2Fdjango-gitlab-beta"
CODEBERG_REPO = "https://codeberg.org/Org0/django-codeberg-alpha"
BITBUCKET_REPO = "https://bitbucket.org/workspace0/django-bitbucket-alpha"


def recorded(host: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / host / f"{name}.json").read_text())


@pytest.fixture
def world() -> World:
    world = World()
    forge.add_to_world(world, seed=3, now=NOW)
    return world


@pytest.fixture
def client(world: World) -> Iterator[httpx.Client]:
    with StandIn(world) as standin, httpx.Client(base_url=f"{standin.url}/_forge") as client:
        yield client


def gitlab_all(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    items = []
    while url:
        answer = client.get(url)
        assert answer.status_code == 200
        items += answer.json()
        url = answer.links.get("next", {}).get("url", "")
    return items


# --- GitLab ------------------------------------------------------------------------------


def test_gitlab_project_by_nested_path_has_the_recorded_fields(client: httpx.Client, world: World) -> None:
    real = recorded(
        "gitlab", "gitlab_com_api_v4_projects_lansharkconsulting_2Fdjango_2Fdjango_encrypted_model_fields_license_True"
    )
    repo = world.forges.repo(GITLAB_REPO)

    answer = client.get(f"/gitlab.com/api/v4/projects/{GITLAB_ID}")

    body = answer.json()
    wanted = {
        "id",
        "description",
        "name",
        "path",
        "path_with_namespace",
        "web_url",
        "star_count",
        "forks_count",
        "default_branch",
        "archived",
        "last_activity_at",
        "namespace",
        "empty_repo",
        "created_at",
        "_links",
    }
    assert wanted <= set(real["body"]) and wanted <= set(body)
    assert set(body["namespace"]) == set(real["body"]["namespace"])
    assert body["path_with_namespace"] == "Jazz-Band/apps/django-gitlab-beta"
    assert body["namespace"]["full_path"] == "Jazz-Band/apps"
    assert (body["id"], body["star_count"], body["forks_count"]) == (repo.id, repo.stars, repo.forks)
    assert body["web_url"] == GITLAB_REPO
    assert answer.headers["ETag"].startswith('W/"')
    # As recorded: GitLab sends RateLimit-* only with a throttled answer.
    assert not [name for name in answer.headers if name.lower().startswith("ratelimit-")]
    assert not {"ratelimit-limit", "ratelimit-remaining"} & {name.lower() for name in real["headers"]}
    # GitLab finds paths case-insensitively and by numeric id, and answers with its own spelling.
    again = client.get(f"/gitlab.com/api/v4/projects/{GITLAB_ID.lower()}").json()
    assert again["path_with_namespace"] == "Jazz-Band/apps/django-gitlab-beta"
    assert client.get(f"/gitlab.com/api/v4/projects/{repo.id}").json()["id"] == repo.id


def test_gitlab_commits_page_like_gitlab_com(client: httpx.Client, world: World) -> None:
    real = recorded("gitlab", "gitlab_com_api_v4_projects_6812925_repository_commits")
    page_5 = "order_default_page_5_per_page_20_trailers_false"
    last_real = recorded("gitlab", f"gitlab_com_api_v4_projects_6812925_repository_commits_id_6812925_{page_5}")
    repo = world.forges.repo(GITLAB_REPO)
    history = repo.history()

    first = client.get(f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/commits")

    assert set(first.json()[0]) == set(real["body"][0])
    assert len(first.json()) == 20 and first.json()[0]["id"] == history[0].sha
    assert "X-Total" not in first.headers and "x-total" not in real["headers"]
    assert {first.headers[name] for name in ("X-Page", "X-Per-Page", "X-Next-Page", "X-Prev-Page")} == {
        "1",
        "20",
        "2",
        "",
    }
    assert set(first.links) == {"next", "first", "last"} and "page=2" in first.links["last"]["url"]
    assert f"id={repo.id}" in first.links["next"]["url"] and "trailers=false" in first.links["next"]["url"]
    everything = gitlab_all(client, f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/commits?per_page=500")
    assert [item["id"] for item in everything] == [commit.sha for commit in history]
    half = -(-len(history) // 2)
    last = client.get(f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/commits?per_page={half}&page=2")
    assert last.headers["X-Next-Page"] == "" == last_real["headers"]["x-next-page"]
    assert set(last.links) == set(httpx.Response(200, headers={"Link": last_real["headers"]["link"]}).links)
    assert [item["id"] for item in last.json()] == [commit.sha for commit in history[half:]]
    capped = client.get(f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/commits?per_page=500")
    assert capped.headers["X-Per-Page"] == "100"
    merges = [item for item in everything if len(item["parent_ids"]) > 1]
    assert merges and all(merge["parent_ids"][1] in {item["id"] for item in everything} for merge in merges)
    # Dates carry the committer's own offset and milliseconds, as GitLab writes them.
    assert any(not item["committed_date"].endswith("+00:00") for item in everything)
    assert all(item["committed_date"][19:23] == ".000" for item in everything)


def test_gitlab_since_and_until_are_inclusive_on_the_committer_date(client: httpx.Client, world: World) -> None:
    history = world.forges.repo(GITLAB_REPO).history()
    inside = [c.sha for c in history if START <= c.committed <= MIDNIGHT - timedelta(seconds=1)]
    since, until = START.strftime("%Y-%m-%dT%H:%M:%SZ"), (MIDNIGHT - timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )

    got = gitlab_all(
        client, f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/commits?per_page=100&since={since}&until={until}"
    )

    assert [item["id"] for item in got] == inside
    dates = {datetime.fromisoformat(item["committed_date"]) for item in got}
    assert START in dates and MIDNIGHT - timedelta(seconds=1) in dates  # both edges, inclusive
    assert client.get(f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/commits?since=yesterday").status_code == 400


def test_gitlab_revision_range_lists_only_what_is_new_and_pages(world: World) -> None:
    repo = world.forges.repo(GITLAB_REPO)
    head, branch = repo.head, repo.default_branch
    new = world.forges.push(GITLAB_REPO, 3, when=NOW, merge=True)
    commits = f"/_forge/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/commits"
    with StandIn(world) as standin, httpx.Client(base_url=standin.url) as client:
        answer = client.get(f"{commits}?ref_name={head[:12]}..{branch}&per_page=100")
        paged = gitlab_all(client, f"{commits}?ref_name={head}..{branch}&per_page=2")
        open_ended = client.get(f"{commits}?ref_name={head}..")
        unknown = client.get(f"{commits}?ref_name={'0' * 40}..{branch}")
        empty = client.get(f"{commits}?ref_name={branch}..{head}")

    # The merge and both its sides: reachable from the new head, not from the old one; newest first.
    want = [commit.sha for commit in sorted(new, key=lambda commit: commit.committed, reverse=True)]
    assert [item["id"] for item in answer.json()] == want and len(want) == 3
    assert answer.headers["X-Next-Page"] == "" and "X-Total" not in answer.headers
    assert [item["id"] for item in paged] == want  # two pages of two and one
    assert [item["id"] for item in open_ended.json()] == want  # A.. is A..HEAD, as in git
    assert unknown.status_code == 404 and unknown.json() == {"message": "404 Commit Not Found"}
    assert empty.status_code == 200 and empty.json() == []


def test_gitlab_commit_sequence_counts_the_ancestors(client: httpx.Client, world: World) -> None:
    repo = world.forges.repo(GITLAB_REPO)
    commits = f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/commits"
    history = repo.history()

    answer = client.get(f"{commits}/{repo.head}/sequence")
    older = client.get(f"{commits}/{history[5].sha}/sequence")

    assert answer.json() == {"count": len(history)} and answer.headers["ETag"].startswith('W/"')
    assert older.json() == {"count": len(repo.history(history[5].sha))} and older.json()["count"] < len(history)
    first_parents = client.get(f"{commits}/{repo.head}/sequence?first_parent=true").json()["count"]
    assert first_parents < len(history)  # merges bring side branches in
    assert client.get(f"{commits}/{'f' * 40}/sequence").status_code == 404
    assert [entry.resource for entry in world.forges.requests("gitlab.com")][-1] == "sequence"


def test_gitlab_contributors_group_by_email_and_sort(client: httpx.Client, world: World) -> None:
    real = recorded("gitlab", "gitlab_com_api_v4_projects_6812925_repository_contributors")
    repo = world.forges.repo(GITLAB_REPO)
    non_merges = [c for c in repo.history() if not c.is_merge]

    answer = client.get(f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/contributors?order_by=commits&sort=desc")

    body = answer.json()
    assert set(body[0]) == set(real["body"][0])
    assert {name: answer.headers[name] for name in ("X-Total", "X-Total-Pages", "X-Page")} == {
        "X-Total": str(len(body)),
        "X-Total-Pages": "1",
        "X-Page": "1",
    }
    assert sum(item["commits"] for item in body) == len(non_merges)
    assert [item["commits"] for item in body] == sorted((item["commits"] for item in body), reverse=True)
    names = [item["name"] for item in body]
    assert len(names) > len(set(names))  # one person with two emails is listed twice, as GitLab does
    default = client.get(f"/gitlab.com/api/v4/projects/{GITLAB_ID}/repository/contributors").json()
    assert [item["commits"] for item in default] == sorted(item["commits"] for item in default)


def test_gitlab_moved_project_redirects_to_its_id_and_missing_is_404(client: httpx.Client, world: World) -> None:
    moved = world.forges.repo("https://gitlab.com/old-gitlab/django-gitlab-delta")

    answer = client.get("/gitlab.com/api/v4/projects/old-gitlab%2Fdjango-gitlab-delta/repository/commits?per_page=5")

    assert answer.status_code == 301
    assert answer.headers["Location"].endswith(
        f"/_forge/gitlab.com/api/v4/projects/{moved.id}/repository/commits?per_page=5"
    )
    project = client.get("/gitlab.com/api/v4/projects/old-gitlab%2Fdjango-gitlab-delta", follow_redirects=True).json()
    assert project["path_with_namespace"] == moved.path != "old-gitlab/django-gitlab-delta"
    missing = client.get("/gitlab.com/api/v4/projects/ghost%2Fgroup%2Fnothing-here")
    assert (missing.status_code, missing.json()) == (404, {"message": "404 Project Not Found"})
    world.forges.hosts["gitlab.com"].follow_moves = True
    followed = client.get("/gitlab.com/api/v4/projects/old-gitlab%2Fdjango-gitlab-delta")
    assert followed.status_code == 200 and followed.json()["path_with_namespace"] == moved.path


def test_gitlab_rate_limit_answers_429_with_retry_after(world: World) -> None:
    world.forges.hosts["gitlab.com"].rate_limit = 2
    with StandIn(world) as standin:
        url = f"{standin.url}/_forge/gitlab.com/api/v4/projects/{GITLAB_ID}"
        statuses = [httpx.get(url) for _ in range(3)]

    assert [answer.status_code for answer in statuses] == [200, 200, 429]
    assert "RateLimit-Remaining" not in statuses[1].headers  # sent with the throttled answer only
    assert statuses[2].headers["RateLimit-Remaining"] == "0" and statuses[2].headers["RateLimit-Limit"] == "2"
    assert int(statuses[2].headers["Retry-After"]) >= 1 and statuses[2].text == "Retry later\n"


# --- Forgejo ---------------------------------------------------------------------------


def test_forgejo_repository_counts_stars_not_subscribers(client: httpx.Client, world: World) -> None:
    repo = world.forges.repo(CODEBERG_REPO)

    body = client.get("/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha").json()

    assert (body["stars_count"], body["watchers_count"], body["forks_count"]) == (repo.stars, repo.watchers, repo.forks)
    assert repo.stars != repo.watchers
    assert (body["full_name"], body["html_url"], body["default_branch"]) == (
        repo.path,
        CODEBERG_REPO,
        repo.default_branch,
    )
    assert body["archived"] is False and body["archived_at"] == "1970-01-01T00:00:00Z"
    archived = client.get("/codeberg.org/api/v1/repos/Org2/django-codeberg-gamma").json()
    assert archived["archived"] is True and archived["archived_at"] != "1970-01-01T00:00:00Z"


def test_forgejo_commits_page_with_its_headers_and_caps(client: httpx.Client, world: World) -> None:
    history = world.forges.repo(CODEBERG_REPO).history()
    path = "/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha/commits"

    default = client.get(path)
    capped = client.get(f"{path}?limit=100&page=2")

    assert len(default.json()) == 30 and default.headers["X-PerPage"] == "30"
    assert default.headers["X-Total-Count"] == str(len(history)) == default.headers["X-Total"]
    assert default.headers["X-HasMore"] == "true"
    assert capped.headers["X-PerPage"] == "50" and [c["sha"] for c in capped.json()] == [c.sha for c in history[50:100]]
    assert capped.headers["X-PageCount"] == str(-(-len(history) // 50))
    rels = [part.split('rel="')[1].rstrip('"') for part in capped.headers["Link"].split(",")]
    assert rels[-2:] == ["first", "prev"] and "page=1" in capped.links["first"]["url"]
    # No since/until on Forgejo: they are ignored, the whole history pages.
    dated = client.get(f"{path}?since={MIDNIGHT.isoformat()}")
    assert dated.headers["X-Total-Count"] == str(len(history))


def test_forgejo_commit_objects_link_accounts_or_say_null(client: httpx.Client, world: World) -> None:
    history = world.forges.repo(CODEBERG_REPO).history()

    full = client.get("/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha/commits?limit=50").json()
    lean = client.get(
        "/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha/commits"
        "?limit=1&stat=false&verification=false&files=false"
    ).json()

    for item, commit in zip(full, history):
        assert item["sha"] == commit.sha and [p["sha"] for p in item["parents"]] == list(commit.parents)
        assert item["commit"]["committer"]["date"] == commit.committed.isoformat().replace("+00:00", "Z")
        assert (item["author"] or {}).get("login") == commit.author.login
    assert any(item["author"] is None for item in full) and any(item["author"] for item in full)
    assert "stats" in full[0] and full[0]["commit"]["verification"] and full[0]["files"]
    assert lean[0]["stats"] is None and lean[0]["commit"]["verification"] is None and lean[0]["files"] is None


def test_forgejo_not_lists_only_what_is_new(world: World) -> None:
    head = world.forges.repo(CODEBERG_REPO).head
    new = world.forges.push(CODEBERG_REPO, 3, when=NOW)
    with StandIn(world) as standin:
        answer = httpx.get(
            f"{standin.url}/_forge/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha/commits?not={head}"
        )

    assert [item["sha"] for item in answer.json()] == [commit.sha for commit in reversed(new)]
    assert answer.headers["X-Total-Count"] == "3" and answer.headers["X-HasMore"] == "false"
    assert [(entry.resource, entry.items) for entry in world.forges.requests("codeberg.org")] == [("commits", 3)]


def test_forgejo_renamed_repository_answers_307_with_a_path(client: httpx.Client, world: World) -> None:
    answer = client.get("/codeberg.org/api/v1/repos/Org3/django-codeberg-delta-old/commits?limit=1")

    assert answer.status_code == 307
    assert answer.headers["Location"] == "/_forge/codeberg.org/api/v1/repos/Org3/django-codeberg-delta/commits?limit=1"
    followed = client.get("/codeberg.org/api/v1/repos/Org3/django-codeberg-delta-old", follow_redirects=True)
    assert followed.json()["full_name"] == "Org3/django-codeberg-delta"
    missing = client.get("/codeberg.org/api/v1/repos/ghost/codeberg-nothing-here")
    assert missing.status_code == 404 and missing.json()["message"] == "The target couldn't be found."
    assert "X-RateLimit-Limit" not in missing.headers


# --- Bitbucket -----------------------------------------------------------------------------


def test_bitbucket_repository_and_envelopes_have_the_recorded_shape(client: httpx.Client, world: World) -> None:
    repo = world.forges.repo(BITBUCKET_REPO)
    base = "/bitbucket.org/2.0/repositories/workspace0/django-bitbucket-alpha"

    body = client.get(base).json()
    watchers = client.get(f"{base}/watchers/")
    forks = client.get(f"{base}/forks?pagelen=100")

    assert set(body) == set(recorded("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql")["body"])
    assert (body["full_name"], body["mainbranch"]["name"], body["links"]["html"]["href"]) == (
        repo.path,
        repo.default_branch,
        BITBUCKET_REPO,
    )
    real_watchers = recorded("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_watchers")["body"]
    assert set(watchers.json()) == set(real_watchers) and set(watchers.json()["values"][0]) == set(
        real_watchers["values"][0]
    )
    assert watchers.json()["size"] == repo.stars and watchers.json()["pagelen"] == 10
    assert watchers.json()["next"].endswith("/watchers/?page=2")
    assert (
        forks.json()["size"] == repo.forks and "next" not in forks.json() and len(forks.json()["values"]) == repo.forks
    )
    assert watchers.headers["ETag"].startswith('"')


def test_bitbucket_commits_page_newest_first_via_next(client: httpx.Client, world: World) -> None:
    real = recorded("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_commits_limit_50")["body"]
    repo = world.forges.repo(BITBUCKET_REPO)
    url = f"/bitbucket.org/2.0/repositories/workspace0/django-bitbucket-alpha/commits/{repo.default_branch}"

    first = client.get(url).json()
    seen, page = [], first
    while True:
        seen += page["values"]
        if "next" not in page:
            break
        page = client.get(page["next"]).json()

    assert set(first) == set(real) and first["pagelen"] == 30 and "size" not in first
    assert set(first["values"][0]) == set(real["values"][0])
    assert [item["hash"] for item in seen] == [commit.sha for commit in repo.history()]
    assert any("user" not in item["author"] for item in seen) and any("user" in item["author"] for item in seen)
    assert all(item["author"]["user"]["nickname"] for item in seen if "user" in item["author"])
    assert client.get(f"{url}?pagelen=500").json()["pagelen"] == 100


def test_bitbucket_exclude_renamed_and_missing(world: World) -> None:
    head = world.forges.repo(BITBUCKET_REPO).head
    new = world.forges.push(BITBUCKET_REPO, 2, when=NOW)
    with (
        StandIn(world) as standin,
        httpx.Client(base_url=f"{standin.url}/_forge/bitbucket.org/2.0/repositories") as client,
    ):
        fresh = client.get(f"/workspace0/django-bitbucket-alpha/commits?exclude={head}").json()
        moved = client.get("/workspace3/django-bitbucket-delta-old/watchers?pagelen=1")
        missing = client.get("/ghost/bitbucket-nothing-here")

    assert [item["hash"] for item in fresh["values"]] == [commit.sha for commit in reversed(new)]
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith("/repositories/workspace3/django-bitbucket-delta/watchers?pagelen=1")
    assert missing.status_code == 404 and missing.json()["type"] == "error"


# --- the recorded shapes ------------------------------------------------------------------------

# Headers of the recorded exchanges that are not the API's: the transfer's, the CDN's, tracing and timing.
NOT_THE_APIS = {
    "cf-cache-status", "cf-ray", "connection", "content-encoding", "date", "nel", "report-to", "server",
    "set-cookie", "strict-transport-security", "transfer-encoding", "gitlab-lb", "gitlab-sv", "x-gitlab-meta",
    "x-request-id", "x-runtime", "x-b3-spanid", "x-b3-traceid", "x-cache-info", "x-dc-location",
    "x-envoy-upstream-service-time", "x-render-time", "x-request-count", "x-served-by", "x-static-version",
    "x-trace-id", "x-usage-input-ops", "x-usage-output-ops", "x-usage-system-time", "x-usage-user-time",
    "x-used-mesh", "x-version", "x-view-name",
}  # fmt: skip
BITBUCKET_API = "/bitbucket.org/2.0/repositories/workspace0/django-bitbucket-alpha"
GITLAB_API = f"/gitlab.com/api/v4/projects/{GITLAB_ID}"
RECORDED = [
    ("gitlab", "gitlab_com_api_v4_projects_lansharkconsulting_2Fdjango_2Fdjango_encrypted_model_fields_license_True",
     f"{GITLAB_API}?license=True"),
    ("gitlab", "gitlab_com_api_v4_projects_6812925_repository_commits", f"{GITLAB_API}/repository/commits"),
    ("gitlab", "gitlab_com_api_v4_projects_6812925_repository_commits_id_6812925_order_default_page_5_per_page_20_"
               "trailers_false", f"{GITLAB_API}/repository/commits?order=default&page=LAST&per_page=20&trailers=false"),
    ("gitlab", "gitlab_com_api_v4_projects_6812925_repository_contributors", f"{GITLAB_API}/repository/contributors"),
    ("forgejo", "repos_someone_django_thing", "/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha"),
    ("forgejo", "repos_someone_django_thing_commits",
     "/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha/commits?limit=1&stat=false&verification=false&files=false"),
    ("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql", f"{BITBUCKET_API}/"),
    ("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_commits_limit_50",
     f"{BITBUCKET_API}/commits/?limit=50"),
    ("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_watchers", f"{BITBUCKET_API}/watchers/"),
    ("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_forks", f"{BITBUCKET_API}/forks/"),
]  # fmt: skip


def fields(value: Any, prefix: str = "") -> dict[str, str]:
    """Every field of a JSON value by its path (a list by its first item), with its JSON type."""
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for name, item in value.items():
            found[prefix + name] = type(item).__name__
            found.update(fields(item, f"{prefix}{name}."))
    elif isinstance(value, list) and value:
        found.update(fields(value[0], f"{prefix}[]."))
    return found


@pytest.mark.parametrize(("host", "name", "path"), RECORDED, ids=[name[-40:] for _, name, _ in RECORDED])
def test_every_answer_has_the_recorded_fields_and_headers(client: httpx.Client, world: World, host: str, name: str,
                                                          path: str) -> None:  # fmt: skip
    real = recorded(host, name)
    last = -(-len(world.forges.repo(GITLAB_REPO).history()) // 20)  # the last page of twenty, as recorded

    answer = client.get(path.replace("LAST", str(last)))

    assert answer.status_code == real["status"] == 200
    got, want = fields(answer.json()), fields(real["body"])
    assert sorted(set(want) - set(got)) == []  # every recorded field, nested where it was
    assert [(k, want[k], got[k]) for k in want if k in got and "NoneType" not in (want[k], got[k]) and
            want[k] != got[k]] == []  # fmt: skip
    sent = {header.lower() for header in answer.headers} - {"content-length"}
    real_headers = {header.lower(): value for header, value in real["headers"].items()}
    wanted = set(real_headers) - NOT_THE_APIS
    assert sorted(wanted - sent) == []
    if host != "forgejo":  # recorded from the live API: nothing more either
        assert sorted(set(got) - set(want)) == []
        assert sorted(sent - wanted - NOT_THE_APIS) == []
    if "link" in wanted:  # the same pages named, in the same order
        rels = [part.split('rel="')[1].rstrip('"') for part in answer.headers["Link"].split(",")]
        assert rels == [part.split('rel="')[1].rstrip('"') for part in real_headers["link"].split(",")]


# --- conditional requests, counting, tokens ---------------------------------------------------


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("gitlab.com", f"/api/v4/projects/{GITLAB_ID}/repository/commits?per_page=1"),
        ("bitbucket.org", "/2.0/repositories/workspace0/django-bitbucket-alpha/commits?pagelen=1"),
    ],
)
def test_conditional_requests_answer_304_until_a_push(world: World, host: str, path: str) -> None:
    with StandIn(world) as standin:
        url = f"{standin.url}/_forge/{host}{path}"
        first = httpx.get(url)
        again = httpx.get(url, headers={"If-None-Match": first.headers["ETag"]})
        world.forges.push(f"{host}/{world.forges.requests(host)[0].repo}", when=NOW)
        after_push = httpx.get(url, headers={"If-None-Match": first.headers["ETag"]})

    assert (first.status_code, again.status_code, after_push.status_code) == (200, 304, 200)
    assert again.content == b"" and again.headers["ETag"] == first.headers["ETag"]
    logged = world.forges.requests(host, "commits")
    assert [entry.conditional for entry in logged] == [False, True, True]
    assert [entry.status for entry in logged] == [200, 304, 200]


def test_forgejo_sends_no_etag_and_its_updated_at_moves_with_each_push(world: World) -> None:
    repo = world.forges.repo(CODEBERG_REPO)
    with StandIn(world) as standin:
        base = f"{standin.url}/_forge/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha"
        first, head = httpx.get(base), httpx.get(f"{base}/commits?limit=1")
        again = httpx.get(base, headers={"If-None-Match": 'W/"anything"'})
        world.forges.push(CODEBERG_REPO, when=NOW)
        world.forges.commit(CODEBERG_REPO, NOW - timedelta(days=1))  # dated earlier, pushed later all the same
        after_push = httpx.get(base)

    assert [answer.status_code for answer in (first, head, again, after_push)] == [200, 200, 200, 200]
    assert not {"etag", "last-modified"} & {name.lower() for answer in (first, head, again) for name in answer.headers}
    assert again.json() == first.json()
    assert first.json()["updated_at"] < after_push.json()["updated_at"] == "2026-03-04T15:30:08Z"
    assert repo.updated == NOW + timedelta(seconds=1)


def test_tokens_are_checked_per_host_and_logged(world: World) -> None:
    world.forges.hosts["gitlab.com"].token = "gl-secret"
    world.forges.hosts["codeberg.org"].token = "cb-secret"
    with StandIn(world) as standin:
        base = f"{standin.url}/_forge"
        good = httpx.get(f"{base}/gitlab.com/api/v4/projects/{GITLAB_ID}", headers={"PRIVATE-TOKEN": "gl-secret"})
        wrong = httpx.get(
            f"{base}/gitlab.com/api/v4/projects/{GITLAB_ID}", headers={"Authorization": "Bearer cb-secret"}
        )
        forgejo = httpx.get(
            f"{base}/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha", headers={"Authorization": "token cb-secret"}
        )
        anonymous = httpx.get(f"{base}/bitbucket.org/2.0/repositories/workspace0/django-bitbucket-alpha")

    assert (good.status_code, wrong.status_code, forgejo.status_code, anonymous.status_code) == (200, 401, 200, 200)
    assert wrong.json() == {"message": "401 Unauthorized"}
    assert [(entry.host, entry.credential) for entry in world.forges.requests()] == [
        ("gitlab.com", "gl-secret"),
        ("gitlab.com", "Bearer cb-secret"),
        ("codeberg.org", "token cb-secret"),
        ("bitbucket.org", None),
    ]
    assert world.forges.counts()[("gitlab.com", "repo")] == 2


def test_hosts_config_names_the_stand_in_for_every_host(world: World) -> None:
    with StandIn(world) as standin:
        config = tomllib.loads(standin.hosts_config({"gitlab.com": "GITLAB_TOKEN"}))
        gitlab_api = config["hosts"]["gitlab.com"]["api_url"]
        answer = httpx.get(f"{gitlab_api}/projects/{GITLAB_ID}")

    assert {host: table["kind"] for host, table in config["hosts"].items()} == forge.DEFAULT_HOSTS
    assert config["hosts"]["bitbucket.org"]["api_url"] == f"{standin.url}/_forge/bitbucket.org/2.0"
    # A variable named for a host is its; every other reads the stand-in's own, never a real forge's.
    assert config["hosts"]["gitlab.com"]["token_env"] == "GITLAB_TOKEN"
    assert config["hosts"]["codeberg.org"]["token_env"] == "FETCHER_STANDIN_TOKEN"
    assert answer.json()["web_url"] == GITLAB_REPO


# --- a world a test describes, reached in-process ----------------------------------------------------

ALICE = Person("Alice", "alice@example.org", "alice")


@pytest.fixture
def small() -> Forges:
    """One repository a/b on each kind's public host, with no commit yet; the world's clock at NOW."""
    forges = Forges(now=NOW)
    for number, (host, kind) in enumerate([("gitlab.com", "gitlab"), ("codeberg.org", "forgejo"),
                                           ("bitbucket.org", "bitbucket")]):  # fmt: skip
        forges.add_host(host, kind)
        forges.add_repo(ForgeRepo(host, "a/b", 10 + number, 3, 2, "A thing.", START))
    return forges


@pytest.fixture
def inprocess(small: Forges) -> Iterator[httpx.Client]:
    with httpx.Client(transport=forge.ForgeTransport(small)) as client:
        yield client


def test_the_transport_serves_each_host_at_its_own_api_url_and_nothing_else(
    small: Forges, inprocess: httpx.Client
) -> None:
    small.commit("gitlab.com/a/b", START, author=ALICE, sha="c1")

    gitlab = inprocess.get("https://gitlab.com/api/v4/projects/a%2Fb/repository/commits?per_page=1")
    bitbucket = inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b")
    with pytest.raises(httpx.ConnectError, match="no such host: evil.example.com"):
        inprocess.get("https://evil.example.com/api/v4/projects/1", headers={"Authorization": "Bearer x"})

    assert [item["id"] for item in gitlab.json()] == ["c1"] and gitlab.headers["X-Per-Page"] == "1"
    assert "api/v4/projects/10/repository/commits?" in gitlab.headers["Link"]  # links on the host's own URL
    assert bitbucket.json()["links"]["self"]["href"] == "https://api.bitbucket.org/2.0/repositories/a/b"
    assert small.own_api_url("bitbucket.org") == "https://api.bitbucket.org/2.0"
    assert small.own_api_url("codeberg.org") == "https://codeberg.org/api/v1"
    assert [(entry.host, entry.status, entry.credential) for entry in small.log] == [
        ("gitlab.com", 200, None), ("bitbucket.org", 200, None), ("evil.example.com", 0, "Bearer x")]
    assert small.log[0].url == "https://gitlab.com/api/v4/projects/a%2Fb/repository/commits?per_page=1"
    assert [entry.repo for entry in small.requests(repo="A/B")] == ["a/b", "a/b"]
    with pytest.raises(ValueError, match="already has project 10"):
        small.add_repo(ForgeRepo("gitlab.com", "c/d", 10, 0, 0, None, START))


def test_a_history_written_commit_by_commit_with_a_topic_branch_a_rewrite_and_a_prune(
    small: Forges, inprocess: httpx.Client
) -> None:
    url = "https://gitlab.com/a/b"
    small.commit(url, START, author=ALICE, sha="root")
    small.commit(url, START + timedelta(days=1), sha="main1")
    small.commit(url, START + timedelta(days=2), sha="topic", parents=("root",), side=True)
    assert small.repo(url).head == "main1"  # a side commit leaves the head where it was
    small.commit(url, START + timedelta(days=3), sha="merge", parents=("main1", "topic"))
    commits = "https://gitlab.com/api/v4/projects/10/repository/commits"

    listed = [item["id"] for item in inprocess.get(commits).json()]
    merge = [item["parent_ids"] for item in inprocess.get(commits).json() if item["id"] == "merge"]
    small.reset(url, "main1")
    small.commit(url, START + timedelta(days=4), sha="new")
    after = inprocess.get(f"{commits}?ref_name=merge..main").json()  # the old head is still known...
    assert sorted(small.prune(url)) == ["merge", "topic"]
    gone = inprocess.get(f"{commits}?ref_name=merge..main")  # ...until it is garbage-collected

    assert listed == ["merge", "topic", "main1", "root"] and merge == [["main1", "topic"]]
    assert [item["id"] for item in after] == ["new"]
    assert gone.status_code == 404 and gone.json() == {"message": "404 Commit Not Found"}
    with pytest.raises(ValueError, match="no commit 'nowhere'"):
        small.commit(url, NOW, parents=("nowhere",))
    with pytest.raises(ValueError, match="cannot name"):
        small.commit(url, NOW, sha="root")


def test_a_throttled_gitlab_answers_429_with_its_headers_until_the_reset(small: Forges,
                                                                          inprocess: httpx.Client) -> None:
    small.throttle("gitlab.com", until=NOW + timedelta(hours=2))
    project = "https://gitlab.com/api/v4/projects/a%2Fb"

    limited = inprocess.get(project)
    small.throttle("gitlab.com", None)
    lifted = inprocess.get(project)

    assert (limited.status_code, limited.text) == (429, "Retry later\n")
    assert limited.headers["RateLimit-Remaining"] == "0" and limited.headers["Retry-After"] == "7200"
    assert limited.headers["RateLimit-Reset"] == str(int((NOW + timedelta(hours=2)).timestamp()))
    assert limited.headers["RateLimit-ResetTime"] == "Wed, 04 Mar 2026 17:30:07 GMT"
    assert lifted.status_code == 200 and "RateLimit-Remaining" not in lifted.headers
    with pytest.raises(ValueError, match="codeberg.org is forgejo: its rate limit is not modelled"):
        small.throttle("codeberg.org", NOW)


def test_a_throttled_bitbucket_answers_429_saying_neither_when_nor_how_long(small: Forges,
                                                                           inprocess: httpx.Client) -> None:
    small.throttle("bitbucket.org", until=NOW + timedelta(minutes=30))
    limited = inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b")
    small.throttle("bitbucket.org", None)
    lifted = inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b")

    assert limited.status_code == 429
    assert limited.json() == {"type": "error", "error": {"message": "Rate limit for this resource has been exceeded"}}
    assert not {name.lower() for name in limited.headers} & {"retry-after", "x-ratelimit-reset", "ratelimit-reset"}
    assert lifted.status_code == 200


def test_a_host_taken_down_answers_nothing_in_process_or_over_loopback(small: Forges, inprocess: httpx.Client) -> None:
    small.take_down("codeberg.org", "refused (Authorization: {authorization})")
    with pytest.raises(httpx.ConnectError, match=r"^refused \(Authorization: token secret\)$"):
        inprocess.get("https://codeberg.org/api/v1/repos/a/b", headers={"Authorization": "token secret"})
    world = World(forges=small)
    with StandIn(world) as standin, pytest.raises(httpx.TransportError):  # the connection dropped unanswered
        httpx.get(f"{standin.url}/_forge/codeberg.org/api/v1/repos/a/b")
    small.bring_up("codeberg.org")

    assert inprocess.get("https://codeberg.org/api/v1/repos/a/b").status_code == 200
    assert [entry.status for entry in small.requests("codeberg.org")] == [0, 0, 200]
    assert [entry.status for entry in standin.requests] == [0]


def test_a_host_that_stumbles_answers_its_gateways_status_as_often_as_told_where_told(
    small: Forges, inprocess: httpx.Client
) -> None:
    small.stumble("codeberg.org", 502, "not=", times=2)
    small.commit("codeberg.org/a/b", START, author=ALICE, sha="c1")
    statuses = [inprocess.get("https://codeberg.org/api/v1/repos/a/b/commits?sha=c1&not=c1").status_code
                for _ in range(3)]
    plain = inprocess.get("https://codeberg.org/api/v1/repos/a/b")

    assert statuses == [502, 502, 200] and plain.status_code == 200
    assert [entry.status for entry in small.requests("codeberg.org")] == [502, 502, 200, 200]


def test_a_host_whose_name_does_not_resolve_fails_as_httpx_fails_for_one(small: Forges,
                                                                        inprocess: httpx.Client) -> None:
    small.take_down("bitbucket.org", "[Errno -2] Name or service not known", resolves=False)
    with pytest.raises(httpx.ConnectError, match="Name or service not known") as raised:
        inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b")
    assert isinstance(raised.value.__cause__, socket.gaierror)
    with pytest.raises(httpx.ConnectError) as refused:  # another host down, its name still known
        small.take_down("gitlab.com")
        inprocess.get("https://gitlab.com/api/v4/projects/10")
    assert refused.value.__cause__ is None
    small.bring_up("bitbucket.org")
    assert inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b").status_code == 200


def test_a_repository_can_report_another_path_than_its_own(small: Forges, inprocess: httpx.Client) -> None:
    for repo in list(small.repos.values()):
        small.misreport_path(f"{repo.host}/{repo.path}", "evil/x#y")
    small.misreport_path("bitbucket.org/a/b", "w/n", "https://elsewhere.example/w/n")

    gitlab = inprocess.get("https://gitlab.com/api/v4/projects/a%2Fb").json()
    forgejo = inprocess.get("https://codeberg.org/api/v1/repos/a/b").json()
    bitbucket = inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b").json()
    there = inprocess.get("https://codeberg.org/api/v1/repos/evil/x%23y")
    small.misreport_path("codeberg.org/a/b", None)

    assert (gitlab["path_with_namespace"], gitlab["web_url"]) == ("evil/x#y", "https://gitlab.com/evil/x#y")
    assert (forgejo["full_name"], forgejo["html_url"]) == ("evil/x#y", "https://codeberg.org/evil/x#y")
    assert (bitbucket["full_name"], bitbucket["links"]["html"]["href"]) == ("w/n", "https://elsewhere.example/w/n")
    assert there.status_code == 404  # served where it is, and nothing where it says it is
    assert inprocess.get("https://codeberg.org/api/v1/repos/a/b").json()["full_name"] == "a/b"


def test_a_long_history_grows_cheaply_and_an_old_commit_the_repository_lost_is_an_error(
    small: Forges, inprocess: httpx.Client
) -> None:
    people = [ALICE, Person("Bob", "bob@example.org")]
    for repo in list(small.repos.values()):
        length = small.grow(f"{repo.host}/{repo.path}", 120, start=START, end=START + timedelta(days=119),
                            people=people)
        assert length == 120
    forgejo = inprocess.get("https://codeberg.org/api/v1/repos/a/b/commits?sha=main&limit=50&page=3")
    unknown_not = inprocess.get("https://codeberg.org/api/v1/repos/a/b/commits?sha=main&not=0123abc")
    unknown_exclude = inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b/commits?include=main&exclude=gone1")

    assert len(forgejo.json()) == 20 and forgejo.headers["X-Total-Count"] == "120"
    assert [item["commit"]["author"]["name"] for item in forgejo.json()][:2] == ["Bob", "Alice"]  # taking turns
    assert (unknown_not.status_code, unknown_not.json()) == (500, {"message": "", "url": "https://codeberg.org/api/swagger"})
    assert (unknown_exclude.status_code, unknown_exclude.json()) == (
        404, {"type": "error", "error": {"message": "Commit not found: gone1"}})
    with pytest.raises(ValueError, match="not newer than the head"):
        small.grow("codeberg.org/a/b", 2, start=START, end=NOW)


def test_a_www_before_a_hosts_name_is_that_hosts(small: Forges) -> None:
    assert small.repo("https://www.gitlab.com/a/b") is small.repo("https://gitlab.com/a/b")
    assert small.expected("https://www.codeberg.org/a/b")["repo_url"] == "https://www.codeberg.org/a/b"


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("https://gitlab.com/api/v4/projects/a%2Fb/repository/commits", {"message": "no Bearer s3cret"}),
        ("https://codeberg.org/api/v1/repos/a/b",
         {"message": "no Bearer s3cret", "url": "https://codeberg.org/api/swagger"}),
        ("https://api.bitbucket.org/2.0/repositories/a/b/watchers",
         {"type": "error", "error": {"message": "no Bearer s3cret"}}),
    ],
)  # fmt: skip
def test_a_refused_repository_answers_in_its_hosts_error_shape(small: Forges, inprocess: httpx.Client, url: str,
                                                               body: dict[str, Any]) -> None:  # fmt: skip
    for repo in small.repos.values():
        small.refuse(f"{repo.host}/{repo.path}", 418, "no {authorization}")

    answer = inprocess.get(url, headers={"Authorization": "Bearer s3cret"})

    assert (answer.status_code, answer.json()) == (418, body)


def test_next_links_can_point_off_the_api_and_a_total_can_be_no_count(small: Forges, inprocess: httpx.Client) -> None:
    for repo in small.repos.values():
        small.push(f"{repo.host}/{repo.path}", 3, when=NOW)
        small.misdirect_next(f"{repo.host}/{repo.path}", "https://evil.example.com/next")
    small.misreport_total("codeberg.org/a/b", "-3")

    gitlab = inprocess.get("https://gitlab.com/api/v4/projects/10/repository/commits?per_page=1")
    forgejo = inprocess.get("https://codeberg.org/api/v1/repos/a/b/commits?limit=1")
    bitbucket = inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b/commits?pagelen=1").json()
    watchers = inprocess.get("https://api.bitbucket.org/2.0/repositories/a/b/watchers?pagelen=1").json()

    assert gitlab.links["next"]["url"] == forgejo.links["next"]["url"] == "https://evil.example.com/next"
    assert "page=2" in gitlab.links["last"]["url"] and "page=3" in forgejo.links["last"]["url"]  # the rest as ever
    assert bitbucket["next"] == watchers["next"] == "https://evil.example.com/next"
    assert forgejo.headers["X-Total-Count"] == forgejo.headers["X-Total"] == "-3"


def test_a_gitlab_older_than_16_9_has_no_commit_sequence(small: Forges, inprocess: httpx.Client) -> None:
    small.push("gitlab.com/a/b", 2, when=NOW)
    sequence = f"https://gitlab.com/api/v4/projects/10/repository/commits/{small.repo('gitlab.com/a/b').head}/sequence"

    new = inprocess.get(sequence)
    small.hosts["gitlab.com"].version = "16.8.2"
    old = inprocess.get(sequence)

    assert new.json() == {"count": 2} and (old.status_code, old.json()) == (404, {"error": "404 Not Found"})
    assert small.hosts["gitlab.com"].has_sequence is False and forge.ForgeHost("x", "gitlab").has_sequence
    assert [entry.resource for entry in small.log] == ["sequence", "sequence"]


def test_the_probes_fetcher_check_sends_are_answered(small: Forges, inprocess: httpx.Client) -> None:
    small.hosts["bitbucket.org"].token = "bb-token"

    version = inprocess.get("https://codeberg.org/api/v1/version")
    projects = inprocess.get("https://gitlab.com/api/v4/projects?per_page=1")
    repositories = inprocess.get("https://api.bitbucket.org/2.0/repositories?pagelen=1",
                                 headers={"Authorization": "Bearer bb-token"})
    rejected = inprocess.get("https://api.bitbucket.org/2.0/repositories?pagelen=1",
                             headers={"Authorization": "Bearer another"})

    assert version.json() == {"version": small.hosts["codeberg.org"].version} == {"version": "10.0.1+gitea-1.22.0"}
    assert [item["path_with_namespace"] for item in projects.json()] == ["a/b"] and projects.headers["X-Total"] == "1"
    assert set(projects.json()[0]) == set(recorded(
        "gitlab", "gitlab_com_api_v4_projects_lansharkconsulting_2Fdjango_2Fdjango_encrypted_model_fields_license_True"
    )["body"]) - {"license", "license_url"}  # fmt: skip
    assert [item["full_name"] for item in repositories.json()["values"]] == ["a/b"]
    assert "next" not in repositories.json() and "size" not in repositories.json()
    assert rejected.status_code == 401
    assert [entry.resource for entry in small.log] == ["version", "projects", "repositories", "repositories"]


# --- the truth -------------------------------------------------------------------------------


def _commit(sha: str, at: datetime, parents: int = 1, person: Person | None = None) -> Commit:
    who = person or Person("Ada", "ada@example.org", "ada")
    return Commit(sha, tuple(f"p{sha}{n}" for n in range(parents)), who, at, who, at, sha)


def test_windows_are_half_open_seven_days_ending_at_midnight_and_skip_merges() -> None:
    commits = [
        _commit("start", START),
        _commit("before-start", START - timedelta(seconds=1)),
        _commit("edge-26", MIDNIGHT - timedelta(weeks=26)),
        _commit("last-second", MIDNIGHT - timedelta(seconds=1)),
        _commit("midnight", MIDNIGHT),
        _commit("merge", MIDNIGHT - timedelta(days=3), parents=2),
        _commit("offset", datetime(2026, 3, 3, 20, 0, tzinfo=timezone(timedelta(hours=-5)))),  # 01:00 UTC today
    ]

    counts = weekly_counts(commits, MIDNIGHT)

    assert len(counts) == 52 and counts[0] == 1 and counts[26] == 1 and counts[25] == 0 and counts[51] == 1
    assert sum(counts) == 3


def test_generated_histories_straddle_every_window_edge(world: World) -> None:
    for repo in world.forges.repos.values():
        dates = {commit.committed for commit in repo.history()}
        if repo.archived:
            assert max(dates) < START
            continue
        assert {START, START - timedelta(seconds=1), MIDNIGHT - timedelta(seconds=1), MIDNIGHT} <= dates, repo.path
        assert any(commit.is_merge for commit in repo.history()), repo.path


def test_expected_fields_follow_the_issue_table(world: World) -> None:
    forges = world.forges
    gitlab = forges.repo(GITLAB_REPO)
    codeberg = forges.repo(CODEBERG_REPO)

    gl = forges.expected(GITLAB_REPO)
    cb = forges.expected(CODEBERG_REPO)
    moved = forges.expected("https://gitlab.com/old-gitlab/django-gitlab-delta")

    assert gl["repo_watchers"] == gitlab.stars and gl["repo_forks"] == gitlab.forks
    assert gl["repo_description"] == "" and gitlab.description is None
    assert gl["last_updated"] == MIDNIGHT.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert gl["commits_over_52"] == weekly_counts(gitlab.history(), MIDNIGHT)
    assert len(gl["participants"]) == len(set(gl["participants"]))
    people = {commit.author.login or commit.author.name for commit in codeberg.history()}
    assert set(cb["participants"]) == people
    counts = [
        sum(1 for c in codeberg.history() if (c.author.login or c.author.name) == key) for key in cb["participants"]
    ]
    assert counts == sorted(counts, reverse=True)
    assert moved["repo_url"] == f"https://gitlab.com/{forges.repo('gitlab.com/old-gitlab/django-gitlab-delta').path}"
    with pytest.raises(KeyError):
        forges.expected("https://gitlab.com/ghost/group/nothing-here")


def test_world_expected_fields_covers_forge_records_with_pypi() -> None:
    world = World()
    records = forge.add_to_world(world, seed=5, per_host=1, now=NOW)

    fields = world.expected_fields(records[0])

    assert fields["pypi_version"] == world.pypi[records[0]["slug"]]
    assert fields["repo_url"] == records[0]["repo_url"] and records[0]["id"] == 100_001
    assert len(records) == 3 * len(forge.DEFAULT_HOSTS)  # per host: one repository, one moved, one missing


def test_push_and_force_push_change_the_truth(world: World) -> None:
    forges = world.forges
    before = forges.expected(CODEBERG_REPO)
    old_head = forges.repo(CODEBERG_REPO).head
    stranger = Person("New Person", "new@example.org")

    made = forges.push(CODEBERG_REPO, 2, when=NOW, author=stranger, merge=True)
    after = forges.expected(CODEBERG_REPO)
    rewritten = forges.force_push(CODEBERG_REPO, drop=3, commits=1)

    assert made[-1].is_merge and made[-1].parents == (old_head, made[0].sha)
    assert after["last_updated"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ") and "New Person" in after["participants"]
    assert after["commits_over_52"] == before["commits_over_52"]  # today is in no window yet
    history = forges.repo(CODEBERG_REPO).history()
    assert history[0] == rewritten[0] and made[-1] not in history and old_head not in {c.sha for c in history}
    with pytest.raises(ValueError):
        forges.push(CODEBERG_REPO, 1, when=START)  # older than the head


def test_generation_is_deterministic_per_seed_and_day() -> None:
    one, _ = forge.generate(seed=9, now=NOW)
    two, _ = forge.generate(seed=9, now=NOW + timedelta(hours=3))
    other, _ = forge.generate(seed=10, now=NOW)

    assert {key: repo.head for key, repo in one.repos.items()} == {key: repo.head for key, repo in two.repos.items()}
    assert {key: repo.head for key, repo in one.repos.items()} != {key: repo.head for key, repo in other.repos.items()}


def test_unknown_kind_and_unknown_host_are_refused(client: httpx.Client) -> None:
    with pytest.raises(ValueError, match="unknown forge kind"):
        Forges().add_host("example.org", "gogs")
    with pytest.raises(ValueError, match="add_host"):
        Forges().add_repo(ForgeRepo("example.org", "a/b", 1, 0, 0, None, NOW))
    assert client.get("/nowhere.example/api/v4/projects/1").status_code == 404
    assert today_midnight(NOW) == MIDNIGHT


def test_a_catalogue_names_the_forge_repositories_to_serve() -> None:
    records = [
        {"repo_url": "https://gitlab.gnome.org/GNOME/web/django-thing/-/tree/main", "pypi_url": ""},
        {"repo_url": "https://codeberg.org/allauth/django-allauth.git", "pypi_url": ""},
        {"repo_url": "https://bitbucket.org/Manfre/django-mssql/src/master/", "pypi_url": ""},
        {"repo_url": "https://github.com/django/django", "pypi_url": "https://pypi.org/project/Django/"},
    ]
    world = World.from_catalog(records)
    hosts = {**forge.DEFAULT_HOSTS, "gitlab.gnome.org": "gitlab"}

    forges = forge.add_catalog(world, records, seed=1, hosts=hosts)

    assert sorted(forges.repos) == [
        "bitbucket.org/manfre/django-mssql",
        "codeberg.org/allauth/django-allauth",
        "gitlab.gnome.org/gnome/web/django-thing",
    ]
    assert forges.expected(records[1]["repo_url"])["repo_url"] == records[1]["repo_url"]  # the same repository
    assert forges.repo(records[0]["repo_url"]).path == "GNOME/web/django-thing"
    assert forges.expected(records[2]["repo_url"])["repo_url"] == records[2]["repo_url"].rstrip("/")
    assert "django/django" in world.repos


def test_forge_bench_counts_each_host_from_the_log(world: World) -> None:
    from bench.forge_bench import WARM, host_rows, push_share

    records = [{"repo_url": CODEBERG_REPO}, {"repo_url": "https://codeberg.org/Org1/django-codeberg-beta"}]
    with StandIn(world) as standin:
        url = f"{standin.url}/_forge/codeberg.org/api/v1/repos/Org0/django-codeberg-alpha"
        httpx.get(url)
        httpx.get(url, headers={"If-None-Match": 'W/"kept"'})  # Forgejo sends no ETag: answered in full
        httpx.get(f"{url}/commits?limit=2")
    pushed = push_share(world.forges, 0.5, seed=1)

    rows = {row.host: row for row in host_rows(WARM, world.forges.log, world.forges, records)}

    codeberg = rows["codeberg.org"]
    assert (codeberg.packages, codeberg.requests, codeberg.per_package) == (2, 3, 1.5)
    assert (codeberg.conditional, codeberg.not_modified, codeberg.commits_listed) == (1, 0, 2)
    assert codeberg.by_resource == {"commits": 1, "repo": 2}
    assert (codeberg.repositories, codeberg.per_repository) == (1, 3.0)  # the one repository asked about
    assert rows["gitlab.com"].requests == 0 and rows["gitlab.com"].packages == 0
    assert pushed == round(len(world.forges.repos) * 0.5)
