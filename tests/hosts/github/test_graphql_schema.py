"""Every GraphQL query fetcher sends, validated against GitHub's published schema.

The schema is octokit/graphql-schema's SDL of GitHub's public API, in fixtures/github-schema.graphql.
"""


import pytest
from graphql import build_schema, parse, validate

from fetcher.hosts.github.graphql import BATCH_SIZE, build_query
from fetcher.links import RepoRef
from tests.conftest import FIXTURES

SCHEMA = FIXTURES / "github-schema.graphql"


@pytest.fixture(scope="module")
def github_schema():
    return build_schema(SCHEMA.read_text(encoding="utf-8"), assume_valid_sdl=True)


@pytest.mark.parametrize("with_counts", [True, False], ids=["with-counts", "without-counts"])
@pytest.mark.parametrize("aliases", [1, BATCH_SIZE])
def test_the_batch_query_is_valid_against_githubs_schema(github_schema, aliases, with_counts):
    refs = [RepoRef("github.com", f"owner{i}", f"name{i}") for i in range(aliases)]
    query = build_query(refs, with_counts=with_counts)["query"]

    assert ("totalCount" in query) is with_counts

    assert validate(github_schema, parse(query)) == []


def test_a_field_github_does_not_have_is_caught(github_schema):
    query = build_query([RepoRef("github.com", "o", "n")])["query"].replace("archivedAt", "archivedSince")

    errors = validate(github_schema, parse(query))

    assert [error.message for error in errors] == [
        "Cannot query field 'archivedSince' on type 'Repository'. Did you mean 'archivedAt'?"]
