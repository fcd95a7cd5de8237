"""Reading each forge's answers: recorded payloads, and answers of the wrong shape."""

from datetime import datetime, timezone

import pytest

import httpx

from fetcher.config import HostConfig
from fetcher.errors import BadResponse
from fetcher.hosts.bitbucket import Bitbucket
from fetcher.hosts.forgejo import Forgejo
from fetcher.hosts.gitlab import GitLab
from fetcher.links import parse_nested_repo_url
from fetcher.net.answer import Answer, lower_headers
from tests.conftest import fixture

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def host(kind, name="h", api="https://h.example/api", token_env=None):
    return kind(HostConfig(name, kind.kind, api, token_env), client=None, share=1)


def answer(exchange: dict, body=None) -> Answer:
    return Answer(exchange["uri"], exchange["status"], lower_headers(exchange["headers"]),
                  exchange["body"] if body is None else body)


def test_gitlab_project_recorded_with_nested_groups():
    project = answer(fixture("gitlab", "gitlab_com_api_v4_projects_lansharkconsulting_2Fdjango_2Fdjango_"
                                       "encrypted_model_fields_license_True"))
    assert host(GitLab).read_repo(project) == {
        "id": 6812925, "path": "lansharkconsulting/django/django-encrypted-model-fields",
        "web_url": "https://gitlab.com/lansharkconsulting/django/django-encrypted-model-fields", "stars": 33, "forks": 25,
        "description": "A set of fields that wrap standard Django fields with encryption provided by the python "
                       "cryptography library.",
        "branch": "develop", "archived": False,
    }


def test_gitlab_commits_recorded_and_the_next_page_from_the_link_header():
    page = answer(fixture("gitlab", "gitlab_com_api_v4_projects_6812925_repository_commits"))
    commits = host(GitLab).read_commits(page)
    assert len(commits) == 20
    first = commits[0]
    assert first.committed.utcoffset() is not None and first.parents and not first.is_merge
    assert host(GitLab).next_page(page) == (
        "https://gitlab.com/api/v4/projects/6812925/repository/commits?id=6812925&order=default&page=2&per_page=20"
        "&trailers=false")


def test_gitlab_repo_url_forms():
    ref = parse_nested_repo_url("https://gitlab.com/group/sub/project.git")
    assert (ref.owner, ref.name, ref.full_name) == ("group/sub", "project", "group/sub/project")
    assert parse_nested_repo_url("https://gitlab.com/a/b/-/merge_requests/3").full_name == "a/b"
    assert parse_nested_repo_url("git@gitlab.com:a/b/c.git").full_name == "a/b/c"
    assert host(GitLab, api="https://gitlab.com/api/v4").repo_url(ref) == \
        "https://gitlab.com/api/v4/projects/group%2Fsub%2Fproject"


def test_bitbucket_repository_and_commits_recorded():
    bitbucket = host(Bitbucket)
    repo = bitbucket.read_repo(answer(fixture("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql")))
    assert (repo["path"], repo["branch"]) == ("Manfre/django-mssql", "master")
    assert (repo["web_url"], repo["id"]) == ("https://bitbucket.org/Manfre/django-mssql",
                                             "{fa7b9059-8ffd-401f-934f-afe495719186}")
    assert repo["description"].startswith("Microsoft SQL server backend for Django")
    page = answer(fixture("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_commits_limit_50"))
    commits = bitbucket.read_commits(page)
    assert len(commits) == 30 and sum(c.is_merge for c in commits) == 8
    assert commits[0].id == "5c1672ba764b65a30e81863ad0a1672b81376bec" and commits[0].author == "Manfre"
    # A linked account is named by its nickname, not by the name in author.raw ("erinwyher <...>").
    assert "Erin Mullaney" in {c.author for c in commits} and "erinwyher" not in {c.author for c in commits}
    assert bitbucket.next_page(page).endswith("commits/?limit=50&ctx=dc1b9b5d6cb2188fcb3e14bd5a152048&page=2")


def test_bitbucket_an_author_with_no_linked_account_counts_by_the_name_in_raw():
    # Bitbucket's author has `raw` ("Name <email>" as committed) and, only where the email is an account's, `user`:
    # "This may be the only value available if the author does not match a user in Bitbucket" (its API schema).
    exchange = fixture("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_commits_limit_50")
    linked = next(item for item in exchange["body"]["values"] if item["hash"].startswith("e212858b"))
    assert linked["author"]["user"]["nickname"] == "Erin Mullaney"  # recorded linked: the raw path not taken
    unlinked = [
        {**linked, "author": {"type": "author", "raw": "erinwyher <emullaney@caktusgroup.com>"}},  # no `user`
        {**linked, "author": {"type": "author", "raw": "Some One <one@example.org>", "user": None}},
        {**linked, "author": {"type": "author", "raw": "  just-a-name  "}},  # no email at all
    ]
    commits = host(Bitbucket).read_commits(answer(exchange, {**exchange["body"], "values": unlinked}))
    assert [c.author for c in commits] == ["erinwyher", "Some One", "just-a-name"]


def test_forgejo_repository_and_commits_from_the_swagger_built_fixture():
    forgejo = host(Forgejo)
    repo = forgejo.read_repo(answer(fixture("forgejo", "repos_someone_django_thing")))
    assert repo == {"id": 12345, "path": "someone/django-thing", "web_url": "https://codeberg.org/someone/django-thing",
                    "stars": 21, "watchers": 7, "forks": 4, "description": "A Django app.",
                    "branch": "main", "archived": False, "archived_at": None,  # 1970-01-01 means never archived
                    "updated_at": "2026-11-01T00:00:00.000000+00:00"}  # its last push, as stored
    page = answer(fixture("forgejo", "repos_someone_django_thing_commits"))
    (commit,) = forgejo.read_commits(page)
    assert (commit.id, commit.parents, commit.author) == ("3f1c", ("2e0b",), "someone")
    assert commit.committed == datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    assert "page=2" in forgejo.next_page(page)


@pytest.mark.parametrize("said", [None, 1762000000, "yesterday", "2026-11-01T00:00:00", "2026-11-01T00:00:00Z" + " " * 40,
                                  "9" * 5000, ["2026-11-01T00:00:00Z"]])
def test_a_forgejo_updated_at_that_is_no_date_time_is_kept_as_none_and_fails_nothing(said):
    repo = fixture("forgejo", "repos_someone_django_thing")
    assert host(Forgejo).read_repo(answer(repo, {**repo["body"], "updated_at": said}))["updated_at"] is None


def test_forgejo_an_unlinked_author_counts_by_name_and_an_empty_repository_has_no_branch():
    exchange = fixture("forgejo", "repos_someone_django_thing_commits")
    item = {**exchange["body"][0], "author": None}
    (commit,) = host(Forgejo).read_commits(answer(exchange, [item]))
    assert commit.author == "Some One"
    repo = fixture("forgejo", "repos_someone_django_thing")
    assert host(Forgejo).read_repo(answer(repo, {**repo["body"], "empty": True}))["branch"] is None


@pytest.mark.parametrize(
    ("kind", "name", "change"),
    [
        (GitLab, ("gitlab", "gitlab_com_api_v4_projects_jeff_triplett_2Fdjango_metadata_license_True"),
         {"star_count": "33"}),
        (GitLab, ("gitlab", "gitlab_com_api_v4_projects_jeff_triplett_2Fdjango_metadata_license_True"),
         {"id": True}),
        (Forgejo, ("forgejo", "repos_someone_django_thing"), {"stars_count": -1}),
        (Forgejo, ("forgejo", "repos_someone_django_thing"), {"description": 5}),
        (Bitbucket, ("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql"), {"description": [1]}),
    ],
)
def test_a_repository_answer_of_the_wrong_shape_is_a_bad_response(kind, name, change):
    exchange = fixture(*name)
    with pytest.raises(BadResponse):
        host(kind).read_repo(answer(exchange, {**exchange["body"], **change}))


# A path each host's grammar allows, and one it does not: the answer's path is a move only if it is the host's own.
PATHS = {
    GitLab: (["a/b", "Jazz-Band/apps/contrib/django-x", "_old/x.y", "g/" + "/".join(["s"] * 20) + "/p"],
             ["a", "a//b", "-a/b", "a/.b", "a/b.git", "a/b.atom", "a/b#c", "a/b\x1b[31m", "a/../b", "a/b c",
              "g/" + "/".join(["s"] * 21) + "/p", "a/b?x", "a/b%2F", "a/bé"]),
    Forgejo: (["someone/django-thing", "Org0/x.y_z", "a1/b"],
              ["a/b/c", "-a/b", "a-/b", "a--b/c", "a/..", "a/.", "a/-", "a/x..y", "a/b.git", "a/b.wiki", "a/b.RSS",
               "a/b#c", "a/b\n", "a/b c", "/b"]),
    Bitbucket: (["Manfre/django-mssql", "workspace0/x.y", "a_b/_c", "w/.hidden"],
                ["a/b/c", "-w/b", "w/b-", "w/b--c", "w/..", "w/.", "w/" + "x" * 63, "w/b#c", "w/b\t", "w.x/b"]),
}


@pytest.mark.parametrize("kind", PATHS)
def test_each_forge_knows_its_own_path_grammar(kind):
    good, bad = PATHS[kind]
    assert [path for path in good if not host(kind).is_path(path)] == []
    assert [path for path in bad if host(kind).is_path(path)] == []


@pytest.mark.parametrize("body", [{"values": "x"}, [1], {"values": [{"hash": "a", "parents": "b"}]},
                                  {"values": [{"hash": "a", "parents": [], "date": "yesterday"}]}])
def test_a_commits_answer_of_the_wrong_shape_is_a_bad_response(body):
    exchange = fixture("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_commits_limit_50")
    with pytest.raises(BadResponse):
        host(Bitbucket).read_commits(answer(exchange, body))


def test_each_forge_sends_its_token_under_its_own_api_url_only_and_refuses_links_outside_it(monkeypatch):
    monkeypatch.setenv("GITLAB_SECRET", "glpat-secret-123")
    monkeypatch.setenv("CODEBERG_SECRET", "cb-secret-1234")
    gitlab = host(GitLab, api="https://gitlab.example.org/api/v4", token_env="GITLAB_SECRET")
    codeberg = host(Forgejo, name="cb", api="https://codeberg.org/api/v1", token_env="CODEBERG_SECRET")
    plain = host(Forgejo, name="plain", api="https://git.example.org/api/v1")

    def sent(forge, url):
        credential = forge.service.credential
        if credential is None:
            return None
        request = next(credential.auth_flow(httpx.Request("GET", url)))
        return request.headers.get("Authorization")

    assert sent(gitlab, "https://gitlab.example.org/api/v4/projects/1") == "Bearer glpat-secret-123"
    assert sent(codeberg, "https://codeberg.org/api/v1/repos/a/b") == "token cb-secret-1234"
    assert plain.service.credential is None  # no token of another API is lent there
    assert sent(gitlab, "https://gitlab.example.org/other/api") is None
    assert sent(codeberg, "https://gitlab.example.org/api/v4/projects/1") is None
    gitlab.pager().admit("https://gitlab.example.org/api/v4/projects/1?page=2")
    for elsewhere in ("https://gitlab.example.org:8443/api/v4/projects/1", "http://gitlab.example.org/api/v4/x",
                      "https://evil.example/api/v4/projects/1", "https://gitlab.example.org/api/v4x/projects",
                      "https://gitlab.example.org/other/api", "not a url"):
        with pytest.raises(BadResponse):
            gitlab.pager().admit(elsewhere)


def test_an_archived_forgejo_repository_says_since_when():
    exchange = fixture("forgejo", "repos_someone_django_thing")
    body = {**exchange["body"], "archived": True, "archived_at": "2025-06-01T10:00:00+02:00"}
    repo = host(Forgejo).read_repo(answer(exchange, body))
    assert repo["archived"] is True and repo["archived_at"].startswith("2025-06-01T08:00:00")
