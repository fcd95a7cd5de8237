"""graphql: the batched repository query and what GitHub's answer to it means per repository."""

import copy
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.errors import BadResponse, NotFound, QueryTimedOut, RateLimited, Transient
from fetcher.hosts.github.graphql import BATCH_SIZE, build_query, parse_batch, query_cost, repo_meta
from fetcher.net.answer import Answer
from fetcher.links import RepoRef, parse_repo_url

URL = "https://api.github.com/graphql"
NOW = datetime(2024, 1, 13, 2, 46, 46, tzinfo=timezone.utc)
# As GitHub sends them on a GraphQL answer (names lower-cased, as Answer holds them).
HEADERS = {
    "content-type": "application/json; charset=utf-8",
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": "4990",
    "x-ratelimit-reset": "1705117606",  # 2024-01-13 03:46:46 UTC
    "x-ratelimit-used": "10",
    "x-ratelimit-resource": "graphql",
}

DEPS = parse_repo_url("https://github.com/django/deps")
RENAMED = parse_repo_url("https://github.com/audreyr/cookiecutter")  # now cookiecutter/cookiecutter
MISSING = parse_repo_url("https://github.com/djangopackages/does-not-exist")
EMPTY = parse_repo_url("https://github.com/someone/empty")

DEPS_NODE = {
    "nameWithOwner": "django/deps",
    "url": "https://github.com/django/deps",
    "description": "Django Enhancement Proposals",
    "forkCount": 85,
    "stargazerCount": 401,
    "pushedAt": "2023-12-19T21:59:33Z",
    "isArchived": False,
    "archivedAt": None,
    "defaultBranchRef": {"target": {"committedDate": "2023-12-19T21:59:33Z", "history": {"totalCount": 176}}},
}
RENAMED_NODE = {
    "nameWithOwner": "cookiecutter/cookiecutter",
    "url": "https://github.com/cookiecutter/cookiecutter",
    "description": "A cross-platform command-line utility that creates projects from cookiecutters "
    "(project templates), e.g. Python package projects, C projects.",
    "forkCount": 1989,
    "stargazerCount": 21345,
    "pushedAt": "2024-01-10T09:14:02Z",
    "isArchived": False,
    "defaultBranchRef": {"target": {"committedDate": "2024-01-09T17:30:00-08:00"}},
}
EMPTY_NODE = {
    "nameWithOwner": "someone/empty",
    "url": "https://github.com/someone/empty",
    "description": None,
    "forkCount": 0,
    "stargazerCount": 0,
    "pushedAt": "2024-01-02T10:00:00Z",
    "isArchived": False,
    "defaultBranchRef": None,
}


def not_found(alias: str, ref: RepoRef, line: int) -> dict:
    return {
        "type": "NOT_FOUND",
        "path": [alias],
        "locations": [{"line": line, "column": 3}],
        "message": f"Could not resolve to a Repository with the name '{ref.full_name}'.",
    }


def graphql_answer(body, headers=None) -> Answer:
    return Answer(URL, 200, {**HEADERS, **(headers or {})}, body)


def batch_body(nodes: dict, errors: list | None = None, cost: int = 1) -> dict:
    body = {"data": {"rateLimit": {"cost": cost, "remaining": 4990, "resetAt": "2024-01-13T03:46:46Z"}, **nodes}}
    if errors is not None:
        body["errors"] = errors
    return body


# build_query


def test_build_query_for_three_repositories():
    refs = [DEPS, parse_repo_url("git@github.com:pydanny/dj-paginator.git"), RENAMED]
    sent = build_query(refs)
    assert sent["variables"] == {
        "o0": "django", "n0": "deps",
        "o1": "pydanny", "n1": "dj-paginator",
        "o2": "audreyr", "n2": "cookiecutter",
    }
    lines = sent["query"].splitlines()
    assert lines[0] == (
        "query Repos($o0: String!, $n0: String!, $o1: String!, $n1: String!, $o2: String!, $n2: String!) {"
    )
    assert lines[1] == "  rateLimit { cost remaining resetAt }"
    assert lines[2:6] == [
        "  r0: repository(owner: $o0, name: $n0) { ...Fields }",
        "  r1: repository(owner: $o1, name: $n1) { ...Fields }",
        "  r2: repository(owner: $o2, name: $n2) { ...Fields }",
        "}",
    ]
    assert lines[6:] == [
        "fragment Fields on Repository {",
        "  nameWithOwner url description forkCount stargazerCount pushedAt isArchived archivedAt",
        "  defaultBranchRef { target { ... on Commit { committedDate history(first: 1) { totalCount } } } }",
        "}",
    ]
    assert set(sent) == {"query", "variables"}


def test_build_query_passes_names_as_variables_not_in_the_query_text():
    ref = RepoRef("github.com", 'evil"owner', "name) { id } x: viewer { login")
    sent = build_query([ref])
    assert sent["variables"] == {"o0": 'evil"owner', "n0": "name) { id } x: viewer { login"}
    assert "evil" not in sent["query"] and "viewer" not in sent["query"]


def test_build_query_for_a_full_batch():
    refs = [RepoRef("github.com", f"owner{i}", f"name{i}") for i in range(BATCH_SIZE)]
    sent = build_query(refs)
    assert BATCH_SIZE == 100
    assert len(sent["variables"]) == 200
    assert sent["variables"]["o99"] == "owner99" and sent["variables"]["n99"] == "name99"
    assert "  r99: repository(owner: $o99, name: $n99) { ...Fields }" in sent["query"].splitlines()
    assert sent["query"].count("repository(owner:") == 100


# parse_batch: one result per ref


def test_parse_batch_as_github_answers_a_partial_failure():
    body = {
        "data": {
            "rateLimit": {"cost": 1, "remaining": 4990, "resetAt": "2024-01-13T03:46:46Z"},
            "r0": copy.deepcopy(DEPS_NODE),
            "r1": None,
        },
        "errors": [not_found("r1", MISSING, 4)],
    }
    results = parse_batch(graphql_answer(body), [DEPS, MISSING], NOW)
    assert len(results) == 2
    assert results[0] == {
        "full_name": "django/deps",
        "html_url": "https://github.com/django/deps",
        "forks": 85,
        "stars": 401,
        "description": "Django Enhancement Proposals",
        "pushed_at": "2023-12-19T21:59:33Z",
        "archived": False,
        "archived_at": None,
        "commit_count": 176,  # the default branch's history.totalCount
        "last_updated": "2023-12-19T21:59:33+00:00",
    }
    assert isinstance(results[1], NotFound)
    assert results[1].status == 404
    assert results[1].url == "https://api.github.com/graphql (djangopackages/does-not-exist)"


def test_parse_batch_of_a_renamed_repository_carries_its_new_name_and_url():
    results = parse_batch(graphql_answer(batch_body({"r0": RENAMED_NODE})), [RENAMED], NOW)
    assert results == [
        {
            "full_name": "cookiecutter/cookiecutter",
            "html_url": "https://github.com/cookiecutter/cookiecutter",
            "forks": 1989,
            "stars": 21345,
            "description": RENAMED_NODE["description"],
            "pushed_at": "2024-01-10T09:14:02Z",
            "archived": False,
            "archived_at": None,
            "commit_count": None,  # the answer did not say: the stored count stays
            "last_updated": "2024-01-09T17:30:00-08:00",
        }
    ]


def test_parse_batch_of_an_empty_repository_has_no_last_updated():
    results = parse_batch(graphql_answer(batch_body({"r0": EMPTY_NODE})), [EMPTY], NOW)
    assert results == [
        {
            "full_name": "someone/empty",
            "html_url": "https://github.com/someone/empty",
            "forks": 0,
            "stars": 0,
            "description": None,
            "pushed_at": "2024-01-02T10:00:00Z",
            "archived": False,
            "archived_at": None,
            "commit_count": 0,  # no default branch: nothing committed yet
            "last_updated": None,
        }
    ]


def test_parse_batch_of_an_archived_repository():
    node = {**DEPS_NODE, "isArchived": True}
    assert parse_batch(graphql_answer(batch_body({"r0": node})), [DEPS], NOW)[0]["archived"] is True


def test_parse_batch_keeps_the_order_of_the_refs_and_fails_only_the_missing_one():
    refs = [DEPS, MISSING, RENAMED, EMPTY]
    body = batch_body(
        {"r0": DEPS_NODE, "r1": None, "r2": RENAMED_NODE, "r3": EMPTY_NODE},
        [not_found("r1", MISSING, 4)],
    )
    results = parse_batch(graphql_answer(body), refs, NOW)
    assert [r["full_name"] if isinstance(r, dict) else type(r).__name__ for r in results] == [
        "django/deps", "NotFound", "cookiecutter/cookiecutter", "someone/empty",
    ]


def test_parse_batch_blocked_repository_is_not_found_451():
    body = batch_body(
        {"r0": DEPS_NODE, "r1": None},
        [{"type": "FORBIDDEN", "path": ["r1"], "locations": [{"line": 4, "column": 3}],
          "message": "Repository access blocked"}],
    )
    results = parse_batch(graphql_answer(body), [DEPS, MISSING], NOW)
    assert results[0]["full_name"] == "django/deps"
    assert isinstance(results[1], NotFound)
    assert results[1].status == 451
    assert results[1].url == "https://api.github.com/graphql (djangopackages/does-not-exist)"


@pytest.mark.parametrize(
    "error",
    [
        {"type": "FORBIDDEN", "message": "Resource not accessible by integration"},
        {"type": "SOMETHING_NEW", "message": "Something went wrong"},
    ],
)
def test_parse_batch_other_alias_error_is_a_bad_response_for_that_alias(error):
    body = batch_body({"r0": None, "r1": DEPS_NODE}, [{**error, "path": ["r0"], "locations": [{"line": 3, "column": 3}]}])
    results = parse_batch(graphql_answer(body), [MISSING, DEPS], NOW)
    assert type(results[0]) is BadResponse
    assert str(results[0]) == (
        f"GraphQL error for djangopackages/does-not-exist: {error['message']} (https://api.github.com/graphql)"
    )
    assert results[1]["full_name"] == "django/deps"


def test_parse_batch_null_node_without_an_error_is_not_found():
    results = parse_batch(graphql_answer(batch_body({"r0": None})), [MISSING], NOW)
    assert isinstance(results[0], NotFound) and results[0].status == 404


@pytest.mark.parametrize(
    "change",
    [
        {"forkCount": None},
        {"stargazerCount": "401"},
        {"url": None},
        {"defaultBranchRef": {"target": {"committedDate": "yesterday"}}},
        {"defaultBranchRef": {"target": {"committedDate": "2023-12-19T21:59:33"}}},
    ],
)
def test_parse_batch_node_of_the_wrong_shape_is_a_bad_response_for_that_alias(change):
    body = batch_body({"r0": {**DEPS_NODE, **change}, "r1": EMPTY_NODE})
    results = parse_batch(graphql_answer(body), [DEPS, EMPTY], NOW)
    assert type(results[0]) is BadResponse
    assert str(results[0]) == "GraphQL answer for django/deps lacks expected fields (https://api.github.com/graphql)"
    assert results[1]["full_name"] == "someone/empty"


@pytest.mark.parametrize("missing", ["nameWithOwner", "url", "forkCount", "stargazerCount"])
def test_parse_batch_node_missing_a_field_is_a_bad_response_for_that_alias(missing):
    node = {k: v for k, v in DEPS_NODE.items() if k != missing}
    results = parse_batch(graphql_answer(batch_body({"r0": EMPTY_NODE, "r1": node})), [EMPTY, DEPS], NOW)
    assert results[0]["full_name"] == "someone/empty"
    assert type(results[1]) is BadResponse
    assert str(results[1]) == "GraphQL answer for django/deps lacks expected fields (https://api.github.com/graphql)"


# parse_batch: failures of the whole query are raised


def test_rate_limited_query_raises_with_the_reset_of_the_headers():
    # GitHub's answer when the GraphQL points are spent: no data, one error without a path.
    body = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1234567."}]}
    answer = graphql_answer(body, {"x-ratelimit-remaining": "0"})
    with pytest.raises(RateLimited) as caught:
        parse_batch(answer, [DEPS, MISSING], NOW)
    assert caught.value.reset_at == datetime(2024, 1, 13, 3, 46, 46, tzinfo=timezone.utc)
    assert caught.value.secondary is False
    assert caught.value.url == URL


def test_rate_limited_query_without_a_reset_header_waits_a_minute():
    body = {"data": None, "errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}
    headers = {k: v for k, v in HEADERS.items() if k != "x-ratelimit-reset"}
    with pytest.raises(RateLimited) as caught:
        parse_batch(Answer(URL, 200, headers, body), [DEPS], NOW)
    assert caught.value.reset_at == NOW + timedelta(minutes=1)


def test_rate_limited_type_alone_is_enough():
    body = {"errors": [{"type": "RATE_LIMITED", "message": "Too many requests"}]}
    with pytest.raises(RateLimited) as caught:
        parse_batch(graphql_answer(body), [DEPS], NOW)
    assert caught.value.reset_at == datetime(2024, 1, 13, 3, 46, 46, tzinfo=timezone.utc)


def test_rate_limit_message_without_a_type_is_rate_limited():
    body = {"errors": [{"message": "API rate limit exceeded for user ID 1234567."}]}
    with pytest.raises(RateLimited) as caught:
        parse_batch(graphql_answer(body), [DEPS], NOW)
    assert caught.value.reset_at == datetime(2024, 1, 13, 3, 46, 46, tzinfo=timezone.utc)


def test_query_level_error_even_with_data_raises_rather_than_blaming_one_repo():
    body = batch_body({"r0": DEPS_NODE}, [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}])
    with pytest.raises(RateLimited):
        parse_batch(graphql_answer(body), [DEPS], NOW)


def test_a_query_github_stopped_for_its_time_is_timed_out_not_transient():
    error = {"message": "Something went wrong while executing your query. This may be the result of a timeout, "
                        "or it could be a GitHub bug."}

    with pytest.raises(QueryTimedOut) as caught:
        parse_batch(graphql_answer({"data": None, "errors": [error]}), [DEPS], NOW)

    assert str(caught.value) == f"GraphQL query timed out: {error['message']} ({URL})"


def test_other_query_level_error_is_transient():
    with pytest.raises(Transient) as caught:
        parse_batch(graphql_answer({"data": None, "errors": [{"type": "SERVICE_UNAVAILABLE", "message": ""}]}),
                    [DEPS], NOW)
    assert type(caught.value) is Transient
    assert str(caught.value) == f"GraphQL error: SERVICE_UNAVAILABLE ({URL})"


@pytest.mark.parametrize("body", [{}, {"data": None}, {"data": []}, None, [], "upstream timeout"])
def test_an_answer_without_data_is_transient(body):
    with pytest.raises(Transient) as caught:
        parse_batch(graphql_answer(body), [DEPS], NOW)
    assert type(caught.value) is Transient
    assert str(caught.value) == f"GraphQL answer has no data ({URL})"


def test_alias_errors_without_data_are_transient():
    body = {"data": None, "errors": [not_found("r0", MISSING, 3)]}
    with pytest.raises(Transient):
        parse_batch(graphql_answer(body), [MISSING], NOW)


# repo_meta


def test_repo_meta_of_a_node_directly():
    assert repo_meta(DEPS_NODE)["last_updated"] == "2023-12-19T21:59:33+00:00"
    assert repo_meta({**DEPS_NODE, "defaultBranchRef": {"target": None}})["last_updated"] is None


# query_cost


def test_query_cost_reads_rate_limit_cost():
    assert query_cost(graphql_answer(batch_body({"r0": DEPS_NODE}, cost=3))) == 3
    assert query_cost(graphql_answer(batch_body({"r0": DEPS_NODE}, cost=1))) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"r0": DEPS_NODE}},
        {"data": {"rateLimit": None}},
        {"data": {"rateLimit": {"cost": None}}},
        {"data": {"rateLimit": {"cost": "2"}}},
        {"data": {"rateLimit": {"cost": -1}}},
        {"data": None},
        {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]},
        None,
    ],
)
def test_query_cost_defaults_to_one(body):
    assert query_cost(graphql_answer(body)) == 1


@pytest.mark.parametrize("change", [
    {"archivedAt": 17},
    {"archivedAt": "yesterday"},
    {"isArchived": "yes"},
    {"defaultBranchRef": {"target": {"committedDate": "2023-12-19T21:59:33Z", "history": {"totalCount": 10**30}}}},
    {"defaultBranchRef": {"target": {"committedDate": "2023-12-19T21:59:33Z", "history": {"totalCount": "12"}}}},
    {"defaultBranchRef": {"target": {"committedDate": "2023-12-19T21:59:33Z", "history": []}}},
])
def test_a_hostile_fact_in_one_node_fails_that_repository_alone(change):
    bad = {**copy.deepcopy(DEPS_NODE), **change}
    results = parse_batch(graphql_answer(batch_body({"r0": bad, "r1": copy.deepcopy(DEPS_NODE)})), [DEPS, DEPS], NOW)

    assert type(results[0]) is BadResponse
    assert results[1]["commit_count"] == 176


def test_a_secondary_limit_in_a_200_is_waited_out_by_its_retry_after():
    body = {"errors": [{"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}]}
    with pytest.raises(RateLimited) as caught:
        parse_batch(graphql_answer(body, {"retry-after": "45"}), [DEPS], NOW)
    assert caught.value.reset_at == NOW + timedelta(seconds=45) and caught.value.secondary


def test_an_absurd_reset_on_a_rate_limited_query_is_a_bad_response():
    body = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}
    with pytest.raises(BadResponse, match="implausible X-RateLimit-Reset"):
        parse_batch(graphql_answer(body, {"x-ratelimit-reset": str(10**30)}), [DEPS], NOW)


@pytest.mark.parametrize("errors", [7, "boom", [{"path": 3, "message": 5}], [None]])
def test_errors_of_any_shape_are_a_typed_failure(errors):
    with pytest.raises((Transient, BadResponse)):
        parse_batch(graphql_answer({"errors": errors}), [DEPS], NOW)


@pytest.mark.parametrize("change", [{"nameWithOwner": 7}, {"pushedAt": 12}, {"description": ["x"]},
                                    {"defaultBranchRef": {"target": {"committedDate": 5}}}])
def test_a_node_with_fields_of_the_wrong_type_fails_its_repository(change):
    body = {"data": {"r0": {**DEPS_NODE, **change}}}
    [result] = parse_batch(graphql_answer(body), [DEPS], NOW)
    assert isinstance(result, BadResponse)


@pytest.mark.parametrize("body", [{"data": [1]}, {"data": {"rateLimit": [2]}}, {"data": {"rateLimit": {"cost": 2**62}}},
                                  {"data": {"rateLimit": {"cost": True}}}, ["x"]])
def test_a_cost_no_query_has_counts_as_one(body):
    assert query_cost(graphql_answer(body)) == 1


def test_a_query_error_with_a_retry_after_is_waited_out_whatever_its_words():
    body = {"errors": [{"message": "You have triggered an abuse detection mechanism."}]}
    with pytest.raises(RateLimited) as caught:
        parse_batch(graphql_answer(body, {"retry-after": "20"}), [DEPS], NOW)
    assert caught.value.reset_at == NOW + timedelta(seconds=20)
