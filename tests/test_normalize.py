"""normalize: recorded GitHub and PyPI bodies -> record fields."""

import copy
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.errors import BadResponse
from fetcher.github import RepoAnswers
from fetcher.interpret import Answer, lower_headers
from fetcher.normalize import (
    canonical_repo_url,
    commits_over_52,
    last_updated,
    participants,
    pypi_fields,
    repo_fields,
    repository_fields,
)
from tests.conftest import pypi_body, recorded

DEPS = "api_github_com_repos_django_deps"
DEPS_PEOPLE = "api_github_com_repos_django_deps_contributors_per_page_100"
DEPS_COMMITS = "api_github_com_repos_django_deps_commits_per_page_100"
PAGINATOR = "api_github_com_repos_pydanny_dj_paginator"
PAGINATOR_PEOPLE = "api_github_com_repos_pydanny_dj_paginator_contributors_per_page_100"

DEPS_LOGINS = [
    "carljm", "jacobian", "aaugustin", "andrewgodwin", "treyhunner", "ubernostrum", "jezdez",
    "adrianholovaty", "sjoerdjob", "akaariai", "carltongibson", "adamchainz", "ovangle", "timgraham",
    "thedrow", "nedbat", "MarkusH", "jdufresne", "thibaudcolas", "VishvajitP", "alexwlchan", "andreif",
    "berkerpeksag", "ewjoachim", "jarshwah", "mjtamlyn", "felixxm", "mblayman", "michael-k", "knyghty",
    "nessita",
]


AS_RECORDED = object()


def answer(name: str, *, data=AS_RECORDED, status: int | None = None) -> Answer:
    """A recorded exchange as an Answer, with its body or other data."""
    ex = recorded(name)
    return Answer(ex["uri"], status or ex["status"], lower_headers(ex["headers"]),
                  copy.deepcopy(ex["body"]) if data is AS_RECORDED else data)


def pypi_answer(name: str, data=AS_RECORDED) -> Answer:
    return Answer(f"https://pypi.org/pypi/{name}/json", 200, {}, pypi_body(name) if data is AS_RECORDED else data)


def participation(weeks, status: int = 200) -> Answer:
    return Answer("https://api.github.com/repos/django/deps/stats/participation", status, {},
                  None if weeks is None else {"all": weeks, "owner": [0] * 52})


# repository_fields


def test_repository_fields_of_django_deps():
    assert repository_fields("https://github.com/django/deps", answer(DEPS)) == {
        "repo_forks": 85,
        "repo_watchers": 401,
        "repo_description": "Django Enhancement Proposals",
        "repo_url": "https://github.com/django/deps",
    }


def test_repository_fields_of_dj_paginator():
    assert repository_fields("https://github.com/pydanny/dj-paginator", answer(PAGINATOR)) == {
        "repo_forks": 4,
        "repo_watchers": 36,
        "repo_description": "Django + Pagination made easy.",
        "repo_url": "https://github.com/pydanny/dj-paginator",
    }


def test_watchers_count_not_subscribers_is_the_star_count():
    body = recorded(DEPS)["body"]
    body.update(watchers_count=401, stargazers_count=401, subscribers_count=25)
    assert repository_fields("https://github.com/django/deps", answer(DEPS, data=body))["repo_watchers"] == 401


def test_null_description_is_empty():
    body = {**recorded(PAGINATOR)["body"], "description": None}
    assert repository_fields("https://github.com/pydanny/dj-paginator", answer(PAGINATOR, data=body))[
        "repo_description"
    ] == ""


@pytest.mark.parametrize(
    "stored",
    [
        "https://github.com/django/deps",
        "http://github.com/django/deps",
        "https://www.github.com/django/deps/",
        "https://github.com/django/deps.git",
        "https://github.com/Django/DEPS",
        "git@github.com:django/deps.git",
        "https://github.com/django/deps/tree/main/accepted",
    ],
)
def test_repo_url_kept_as_stored_when_it_names_the_same_repo(stored):
    assert repository_fields(stored, answer(DEPS))["repo_url"] == stored


@pytest.mark.parametrize(
    "stored", ["https://github.com/pydanny/dj-paginator", "https://github.com/django/deps-old", "not a url", ""]
)
def test_repo_url_switches_to_html_url_when_the_repo_moved(stored):
    assert repository_fields(stored, answer(DEPS))["repo_url"] == "https://github.com/django/deps"


def test_canonical_repo_url_drops_a_trailing_slash_of_html_url():
    assert canonical_repo_url("https://github.com/old/name", "https://github.com/new/name/") == (
        "https://github.com/new/name"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"forks_count": None},
        {"forks_count": "85"},
        {"forks_count": -1},
        {"watchers_count": True},
        {"html_url": None},
        {"description": 7},
    ],
)
def test_repository_of_the_wrong_shape_is_a_bad_response(change):
    body = {**recorded(DEPS)["body"], **change}
    with pytest.raises(BadResponse) as caught:
        repository_fields("https://github.com/django/deps", answer(DEPS, data=body))
    assert caught.value.url == "https://api.github.com/repos/django/deps"


def test_repository_that_is_not_an_object_is_a_bad_response():
    with pytest.raises(BadResponse) as caught:
        repository_fields("https://github.com/django/deps", answer(DEPS, data=[recorded(DEPS)["body"]]))
    assert str(caught.value) == "answer is not a JSON object (https://api.github.com/repos/django/deps)"


# participants


def test_participants_of_one_recorded_page():
    assert participants([answer(DEPS_PEOPLE)]) == DEPS_LOGINS


def test_participants_of_two_pages_in_order():
    assert participants([answer(DEPS_PEOPLE), answer(PAGINATOR_PEOPLE)]) == DEPS_LOGINS + ["audreyfeldroy", "pydanny"]


def test_participants_seen_on_an_earlier_page_are_dropped():
    first = answer(DEPS_PEOPLE)
    # Contributors shift between pages while they are read: the second page repeats two.
    second_body = recorded(DEPS_PEOPLE)["body"][-2:] + recorded(PAGINATOR_PEOPLE)["body"]
    second = answer(PAGINATOR_PEOPLE, data=second_body)
    assert participants([first, second]) == DEPS_LOGINS + ["audreyfeldroy", "pydanny"]


def test_participants_keep_bots_and_skip_entries_without_login():
    people = recorded(PAGINATOR_PEOPLE)["body"]
    bot = {**people[0], "login": "dependabot[bot]", "type": "Bot", "id": 49699333}
    anonymous = {"email": "someone@example.com", "name": "Someone", "type": "Anonymous", "contributions": 3}
    blank = {**people[1], "login": ""}
    null = {**people[1], "login": None}
    data = [people[0], bot, anonymous, blank, null, "junk", people[1]]
    assert participants([answer(PAGINATOR_PEOPLE, data=data)]) == ["audreyfeldroy", "dependabot[bot]", "pydanny"]


def test_no_pages_no_participants():
    assert participants([]) == []


def test_participants_page_that_is_not_a_list():
    page = answer(PAGINATOR_PEOPLE, data={"message": "x"})
    with pytest.raises(BadResponse) as caught:
        participants([answer(DEPS_PEOPLE), page])
    assert caught.value.url == "https://api.github.com/repos/pydanny/dj-paginator/contributors?per_page=100"


# commits_over_52


def test_commits_over_52():
    weeks = [week % 7 for week in range(52)]
    assert commits_over_52(participation(weeks)) == weeks


def test_commits_over_52_of_an_empty_repository():
    assert commits_over_52(participation(None, status=204)) == []


@pytest.mark.parametrize(
    "data",
    [
        {"all": [0] * 51, "owner": [0] * 51},
        {"all": [0] * 53, "owner": [0] * 53},
        {"all": [0] * 51 + ["1"], "owner": [0] * 52},
        {"all": [0] * 51 + [-1], "owner": [0] * 52},
        {"all": [0] * 51 + [True], "owner": [0] * 52},
        {"owner": [0] * 52},
        {"all": None},
        [0] * 52,
        None,
    ],
)
def test_commits_over_52_of_the_wrong_shape(data):
    with pytest.raises(BadResponse) as caught:
        commits_over_52(Answer("https://api.github.com/repos/django/deps/stats/participation", 200, {}, data))
    assert str(caught.value) == (
        "participation answer lacks 52 weekly counts under 'all' "
        "(https://api.github.com/repos/django/deps/stats/participation)"
    )


# last_updated


def test_last_updated_from_the_recorded_commits():
    value = last_updated(answer(DEPS_COMMITS))
    assert value == datetime(2023, 12, 19, 21, 59, 33, tzinfo=timezone.utc)
    assert value.utcoffset() == timedelta(0)


def test_last_updated_is_the_committer_date_not_the_author_date():
    body = recorded(DEPS_COMMITS)["body"]
    body[0]["commit"]["author"]["date"] = "2020-01-01T00:00:00Z"
    assert last_updated(answer(DEPS_COMMITS, data=body)) == datetime(2023, 12, 19, 21, 59, 33, tzinfo=timezone.utc)


def test_last_updated_of_an_empty_repository():
    assert last_updated(None) is None


@pytest.mark.parametrize(
    "data",
    [
        [],
        {},
        [{"sha": "bd84846d"}],
        [{"commit": {"committer": None}}],
        [{"commit": {"committer": {"date": "yesterday"}}}],
        [{"commit": {"committer": {"date": "2023-12-19T21:59:33"}}}],
        [{"commit": {"committer": {"date": 1703023173}}}],
        None,
    ],
)
def test_last_updated_of_the_wrong_shape(data):
    with pytest.raises(BadResponse) as caught:
        last_updated(answer(DEPS_COMMITS, data=data))
    assert str(caught.value) == (
        "commits answer lacks the newest commit's committer date "
        "(https://api.github.com/repos/django/deps/commits?per_page=100)"
    )


# repo_fields, all four answers together


def test_repo_fields_from_four_recorded_answers():
    weeks = [1] * 52
    answers = RepoAnswers(answer(DEPS), [answer(DEPS_PEOPLE)], participation(weeks), answer(DEPS_COMMITS))
    assert repo_fields("git@github.com:django/deps.git", answers) == {
        "repo_forks": 85,
        "repo_watchers": 401,
        "repo_description": "Django Enhancement Proposals",
        "repo_url": "git@github.com:django/deps.git",
        "participants": DEPS_LOGINS,
        "last_updated": datetime(2023, 12, 19, 21, 59, 33, tzinfo=timezone.utc),
        "commits_over_52": weeks,
    }


def test_repo_fields_leave_commits_over_52_out_while_github_computes_them():
    answers = RepoAnswers(answer(PAGINATOR), [answer(PAGINATOR_PEOPLE)], None, None)
    assert repo_fields("https://github.com/pydanny/dj-paginator", answers) == {
        "repo_forks": 4,
        "repo_watchers": 36,
        "repo_description": "Django + Pagination made easy.",
        "repo_url": "https://github.com/pydanny/dj-paginator",
        "participants": ["audreyfeldroy", "pydanny"],
        "last_updated": None,
    }


# pypi_fields


@pytest.mark.parametrize(
    "name, version", [("django-minify-html", "1.0.0"), ("django-crispy-forms", "1.14.0"), ("nango", "0.1.2")]
)
def test_pypi_fields_from_recorded_bodies(name, version):
    assert pypi_fields(pypi_answer(name)) == {"pypi_version": version}


@pytest.mark.parametrize("version", [None, "", 1.14, "__missing__"])
def test_pypi_answer_without_a_version(version):
    body = pypi_body("django-crispy-forms")
    if version == "__missing__":
        del body["info"]["version"]
    else:
        body["info"]["version"] = version
    with pytest.raises(BadResponse) as caught:
        pypi_fields(pypi_answer("django-crispy-forms", body))
    assert str(caught.value) == "PyPI answer lacks info.version (https://pypi.org/pypi/django-crispy-forms/json)"


@pytest.mark.parametrize("data", [{"message": "Not Found"}, {"info": None}, {"info": "1.14.0"}])
def test_pypi_answer_without_info(data):
    with pytest.raises(BadResponse) as caught:
        pypi_fields(pypi_answer("nango", data))
    assert caught.value.url == "https://pypi.org/pypi/nango/json"


def test_pypi_answer_that_is_not_an_object():
    with pytest.raises(BadResponse):
        pypi_fields(pypi_answer("nango", ["0.1.2"]))
