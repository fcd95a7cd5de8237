"""The stand-in's facts: PyPI's JSON Index API page, the dressed JSON API answer, archivedAt and commit counts."""

from fetcher.standin import SIMPLE_JSON, ProjectFacts, StandIn
from tests.standin.test_github import AUTH, get, post, repos_query, small_world

SIMPLE = {"Accept": SIMPLE_JSON}


def test_the_json_index_api_serves_the_project_status_conditionally_and_free():
    world = small_world()
    world.pypi_facts["django-todo"] = ProjectFacts(status="archived", yanked=True)
    with StandIn(world, token="s3cret") as standin:
        moved = get(standin, "/simple/Django_Todo/", SIMPLE)
        page = get(standin, "/simple/django-todo/", SIMPLE)
        again = get(standin, "/simple/django-todo/", {**SIMPLE, "If-None-Match": page.headers["ETag"]})
        missing = get(standin, "/simple/no-such-thing/", SIMPLE)
        charged = standin.points_charged

    assert (moved.status, moved.headers["Location"]) == (301, f"{standin.url}/simple/django-todo/")
    assert page.status == 200 and page.headers["Content-Type"] == SIMPLE_JSON
    assert page.json["meta"]["api-version"] == "1.4" and page.json["name"] == "django-todo"
    assert page.json["project-status"]["status"] == "archived"
    assert page.json["versions"] == ["2.5.0"] and all(f["yanked"] for f in page.json["files"])
    assert (again.status, missing.status, charged) == (304, 404, 0)


def test_a_quarantined_project_is_hidden_from_the_json_api_while_the_index_names_it_as_warehouse_does():
    world = small_world()
    world.pypi_facts["django-todo"] = ProjectFacts(status="quarantined")
    with StandIn(world) as standin:
        hidden = get(standin, "/pypi/django-todo/json")
        spelled = get(standin, "/pypi/Django_Todo/json")
        page = get(standin, "/simple/django-todo/", SIMPLE)
        moved = get(standin, "/simple/Django_Todo/", SIMPLE)

    assert (hidden.status, spelled.status) == (404, 404)  # no redirect first: the lookup leaves the project out
    assert page.status == 200 and page.headers["Content-Type"] == SIMPLE_JSON
    assert page.json == {"meta": page.json["meta"], "name": "django-todo", "project-status": {"status": "quarantined"},
                         "versions": [], "files": []}
    assert moved.status == 301


def test_the_json_api_answer_carries_the_projects_facts():
    world = small_world()
    facts = ProjectFacts(
        license_expression="MIT", requires_python=">=3.10", classifiers=["Framework :: Django :: 5.0"],
        project_urls={"Docs": "https://docs.example/"}, uploaded_at="2025-02-03T04:05:06.000000Z")
    world.pypi_facts["django-todo"] = facts
    with StandIn(world) as standin:
        body = get(standin, "/pypi/django-todo/json").json

    info = body["info"]
    assert (info["license_expression"], info["requires_python"], info["classifiers"]) == (
        "MIT", ">=3.10", ["Framework :: Django :: 5.0"])
    assert info["project_urls"] == {"Docs": "https://docs.example/"}
    assert body["urls"][0]["upload_time_iso_8601"] == "2025-02-03T04:05:06.000000Z"
    assert body["releases"] == {"2.5.0": body["urls"]}


def test_graphql_nodes_say_when_a_repository_was_archived_and_how_many_commits_it_has():
    world = small_world()
    repo = world.repo("shacker/django-todo")
    repo.archived, repo.archived_at = True, "2025-01-01T00:00:00Z"
    with StandIn(world, token="s3cret") as standin:
        node = post(standin, "/graphql", repos_query(["shacker/django-todo"]), AUTH).json["data"]["r0"]

    assert (node["isArchived"], node["archivedAt"]) == (True, "2025-01-01T00:00:00Z")
    assert node["defaultBranchRef"]["target"]["history"] == {"totalCount": repo.commit_count}
