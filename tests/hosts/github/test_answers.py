"""normalize: recorded GitHub and PyPI answers -> pieces -> record fields."""

import copy
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.errors import BadResponse
from fetcher.net.answer import Answer, lower_headers
from fetcher.hosts.github.answers import (
    canonical_repo_url,
    contributor_logins,
    newest_commit_date,
    participants,
    participation_weeks,
    repo_fields,
    read_repo,
)
from fetcher.hosts.pypi import version as pypi_version
from fetcher.links import parse_repo_url
from tests.conftest import pypi_body, recorded


def canonical(stored: str, full_name: str, html_url: str) -> str:
    return canonical_repo_url(stored, parse_repo_url(stored), full_name, html_url)

DEPS = "api_github_com_repos_django_deps"
DEPS_PEOPLE = "api_github_com_repos_django_deps_contributors_per_page_100"
DEPS_COMMITS = "api_github_com_repos_django_deps_commits_per_page_100"
PAGINATOR = "api_github_com_repos_pydanny_dj_paginator"
PAGINATOR_PEOPLE = "api_github_com_repos_pydanny_dj_paginator_contributors_per_page_100"
PARTICIPATION_URL = "https://api.github.com/repos/django/deps/stats/participation"

DEPS_LOGINS = [
    "carljm", "jacobian", "aaugustin", "andrewgodwin", "treyhunner", "ubernostrum", "jezdez",
    "adrianholovaty", "sjoerdjob", "akaariai", "carltongibson", "adamchainz", "ovangle", "timgraham",
    "thedrow", "nedbat", "MarkusH", "jdufresne", "thibaudcolas", "VishvajitP", "alexwlchan", "andreif",
    "berkerpeksag", "ewjoachim", "jarshwah", "mjtamlyn", "felixxm", "mblayman", "michael-k", "knyghty",
    "nessita",
]
PAGINATOR_LOGINS = ["audreyfeldroy", "pydanny"]

DEPS_PIECE = {
    "full_name": "django/deps",
    "html_url": "https://github.com/django/deps",
    "forks": 85,
    "stars": 401,
    "description": "Django Enhancement Proposals",
    "pushed_at": "2023-12-19T21:59:33Z",
    "archived": False,
}
PAGINATOR_PIECE = {
    "full_name": "pydanny/dj-paginator",
    "html_url": "https://github.com/pydanny/dj-paginator",
    "forks": 4,
    "stars": 36,
    "description": "Django + Pagination made easy.",
    "pushed_at": "2016-11-07T08:42:39Z",
    "archived": True,
}

AS_RECORDED = object()


def answer(name: str, *, data=AS_RECORDED, status: int | None = None) -> Answer:
    """A recorded exchange as an Answer, with its body or other data."""
    ex = recorded(name)
    return Answer(ex["uri"], status or ex["status"], lower_headers(ex["headers"]),
                  copy.deepcopy(ex["body"]) if data is AS_RECORDED else data)


def pypi_answer(name: str, data=AS_RECORDED) -> Answer:
    return Answer(f"https://pypi.org/pypi/{name}/json", 200, {}, pypi_body(name) if data is AS_RECORDED else data)


def participation(weeks, status: int = 200) -> Answer:
    return Answer(PARTICIPATION_URL, status, {}, None if weeks is None else {"all": weeks, "owner": [0] * 52})


# read_repo


def test_read_repo_of_django_deps():
    assert read_repo(answer(DEPS)) == DEPS_PIECE


def test_read_repo_of_dj_paginator_which_is_archived():
    assert read_repo(answer(PAGINATOR)) == PAGINATOR_PIECE


def test_watchers_count_not_subscribers_is_the_star_count():
    body = recorded(DEPS)["body"]
    body.update(watchers_count=401, stargazers_count=401, subscribers_count=25)
    assert read_repo(answer(DEPS, data=body))["stars"] == 401


def test_read_repo_keeps_a_null_description_and_pushed_at_as_none():
    body = {**recorded(PAGINATOR)["body"], "description": None, "pushed_at": None}
    piece = read_repo(answer(PAGINATOR, data=body))
    assert piece["description"] is None
    assert piece["pushed_at"] is None


def test_read_repo_without_full_name_or_archived():
    body = recorded(PAGINATOR)["body"]
    del body["full_name"], body["archived"]
    piece = read_repo(answer(PAGINATOR, data=body))
    assert piece["full_name"] == ""
    assert piece["archived"] is False


@pytest.mark.parametrize(
    "change",
    [
        {"forks_count": None},
        {"forks_count": "85"},
        {"forks_count": -1},
        {"forks_count": 8.5},
        {"watchers_count": True},
        {"watchers_count": None},
        {"html_url": None},
        {"html_url": 7},
    ],
)
def test_repository_of_the_wrong_shape_is_a_bad_response(change):
    body = {**recorded(DEPS)["body"], **change}
    with pytest.raises(BadResponse) as caught:
        read_repo(answer(DEPS, data=body))
    assert str(caught.value) == (
        "repository answer lacks forks_count, watchers_count or html_url (https://api.github.com/repos/django/deps)"
    )


@pytest.mark.parametrize("key", ["forks_count", "watchers_count", "html_url"])
def test_repository_missing_a_needed_key_is_a_bad_response(key):
    body = recorded(DEPS)["body"]
    del body[key]
    with pytest.raises(BadResponse) as caught:
        read_repo(answer(DEPS, data=body))
    assert caught.value.url == "https://api.github.com/repos/django/deps"


@pytest.mark.parametrize("description", [7, ["Django"], {"text": "Django"}])
def test_repository_description_that_is_not_a_string(description):
    body = {**recorded(DEPS)["body"], "description": description}
    with pytest.raises(BadResponse) as caught:
        read_repo(answer(DEPS, data=body))
    assert str(caught.value) == "repository description is not a string (https://api.github.com/repos/django/deps)"


@pytest.mark.parametrize("data", [[recorded(DEPS)["body"]], None, "django/deps"])
def test_repository_that_is_not_an_object_is_a_bad_response(data):
    with pytest.raises(BadResponse) as caught:
        read_repo(answer(DEPS, data=data))
    assert str(caught.value) == "answer is not a JSON object (https://api.github.com/repos/django/deps)"


# newest_commit_date


def test_newest_commit_date_from_the_recorded_commits():
    assert newest_commit_date(answer(DEPS_COMMITS)) == "2023-12-19T21:59:33+00:00"


def test_newest_commit_date_is_the_committer_date_not_the_author_date():
    body = recorded(DEPS_COMMITS)["body"]
    body[0]["commit"]["author"]["date"] = "2020-01-01T00:00:00Z"
    assert newest_commit_date(answer(DEPS_COMMITS, data=body)) == "2023-12-19T21:59:33+00:00"


def test_newest_commit_date_is_the_first_commit_of_the_page():
    body = recorded(DEPS_COMMITS)["body"]
    body[1]["commit"]["committer"]["date"] = "2030-01-01T00:00:00Z"
    assert newest_commit_date(answer(DEPS_COMMITS, data=body)) == "2023-12-19T21:59:33+00:00"


def test_newest_commit_date_keeps_the_offset_github_gave():
    body = recorded(DEPS_COMMITS)["body"]
    body[0]["commit"]["committer"]["date"] = "2023-12-19T22:59:33+01:00"
    assert newest_commit_date(answer(DEPS_COMMITS, data=body)) == "2023-12-19T22:59:33+01:00"


def test_newest_commit_date_of_an_empty_repository():
    assert newest_commit_date(None) is None


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
def test_newest_commit_date_of_the_wrong_shape(data):
    with pytest.raises(BadResponse) as caught:
        newest_commit_date(answer(DEPS_COMMITS, data=data))
    assert str(caught.value) == (
        "commits answer lacks the newest commit's committer date "
        "(https://api.github.com/repos/django/deps/commits?per_page=100)"
    )


# contributor_logins


def test_contributor_logins_of_the_recorded_django_deps_page():
    assert contributor_logins(answer(DEPS_PEOPLE)) == DEPS_LOGINS


def test_contributor_logins_of_the_recorded_dj_paginator_page():
    assert contributor_logins(answer(PAGINATOR_PEOPLE)) == PAGINATOR_LOGINS


def test_contributor_logins_keep_bots_and_skip_entries_without_login():
    people = recorded(PAGINATOR_PEOPLE)["body"]
    bot = {**people[0], "login": "dependabot[bot]", "type": "Bot", "id": 49699333}
    anonymous = {"email": "someone@example.com", "name": "Someone", "type": "Anonymous", "contributions": 3}
    blank = {**people[1], "login": ""}
    null = {**people[1], "login": None}
    number = {**people[1], "login": 42}
    data = [people[0], bot, anonymous, blank, null, number, "junk", people[1]]
    assert contributor_logins(answer(PAGINATOR_PEOPLE, data=data)) == ["audreyfeldroy", "dependabot[bot]", "pydanny"]


def test_contributor_logins_of_an_empty_page():
    assert contributor_logins(answer(PAGINATOR_PEOPLE, data=[])) == []


@pytest.mark.parametrize("data", [{"message": "x"}, None, "pydanny"])
def test_contributors_page_that_is_not_a_list(data):
    with pytest.raises(BadResponse) as caught:
        contributor_logins(answer(PAGINATOR_PEOPLE, data=data))
    assert str(caught.value) == (
        "contributors answer is not a list (https://api.github.com/repos/pydanny/dj-paginator/contributors?per_page=100)"
    )


# participation_weeks


def test_participation_weeks():
    weeks = [week % 7 for week in range(52)]
    assert participation_weeks(participation(weeks)) == weeks


def test_participation_weeks_are_all_not_owner():
    answer_ = Answer(PARTICIPATION_URL, 200, {}, {"all": [3] * 52, "owner": [1] * 52})
    assert participation_weeks(answer_) == [3] * 52


def test_participation_weeks_of_an_empty_repository():
    assert participation_weeks(participation(None, status=204)) == []


@pytest.mark.parametrize(
    "data",
    [
        {"all": [0] * 51, "owner": [0] * 51},
        {"all": [0] * 53, "owner": [0] * 53},
        {"all": [], "owner": []},
        {"all": [0] * 51 + ["1"], "owner": [0] * 52},
        {"all": [0] * 51 + [-1], "owner": [0] * 52},
        {"all": [0] * 51 + [True], "owner": [0] * 52},
        {"all": [0] * 51 + [1.0], "owner": [0] * 52},
        {"owner": [0] * 52},
        {"all": None},
        [0] * 52,
        None,
    ],
)
def test_participation_weeks_of_the_wrong_shape(data):
    with pytest.raises(BadResponse) as caught:
        participation_weeks(Answer(PARTICIPATION_URL, 200, {}, data))
    assert str(caught.value) == f"participation answer lacks 52 weekly counts under 'all' ({PARTICIPATION_URL})"


# pypi_version


@pytest.mark.parametrize(
    "name, version", [("django-minify-html", "1.0.0"), ("django-crispy-forms", "1.14.0"), ("nango", "0.1.2")]
)
def test_pypi_version_from_recorded_bodies(name, version):
    assert pypi_version(pypi_answer(name)) == version


@pytest.mark.parametrize("version", [None, "", 1.14, "__missing__"])
def test_pypi_answer_without_a_version(version):
    body = pypi_body("django-crispy-forms")
    if version == "__missing__":
        del body["info"]["version"]
    else:
        body["info"]["version"] = version
    with pytest.raises(BadResponse) as caught:
        pypi_version(pypi_answer("django-crispy-forms", body))
    assert str(caught.value) == "PyPI answer lacks info.version (https://pypi.org/pypi/django-crispy-forms/json)"


@pytest.mark.parametrize("data", [{"message": "Not Found"}, {"info": None}, {"info": "1.14.0"}])
def test_pypi_answer_without_info(data):
    with pytest.raises(BadResponse) as caught:
        pypi_version(pypi_answer("nango", data))
    assert str(caught.value) == "PyPI answer lacks info.version (https://pypi.org/pypi/nango/json)"


def test_pypi_answer_that_is_not_an_object():
    with pytest.raises(BadResponse) as caught:
        pypi_version(pypi_answer("nango", ["0.1.2"]))
    assert str(caught.value) == "answer is not a JSON object (https://pypi.org/pypi/nango/json)"


# repo_fields: the pieces together


def test_repo_fields_from_the_recorded_django_deps_answers():
    weeks = [1] * 52
    fields = repo_fields(
        "git@github.com:django/deps.git",
        parse_repo_url("git@github.com:django/deps.git"),
        read_repo(answer(DEPS)),
        newest_commit_date(answer(DEPS_COMMITS)),
        [contributor_logins(answer(DEPS_PEOPLE))],
        participation_weeks(participation(weeks)),
    )
    assert fields == {
        "repo_forks": 85,
        "repo_watchers": 401,
        "repo_description": "Django Enhancement Proposals",
        "repo_url": "git@github.com:django/deps.git",
        "participants": DEPS_LOGINS,
        "last_updated": datetime(2023, 12, 19, 21, 59, 33, tzinfo=timezone.utc),
        "commits_over_52": weeks,
    }
    assert fields["last_updated"].utcoffset() == timedelta(0)


def test_repo_fields_leave_commits_over_52_out_while_github_computes_them():
    fields = repo_fields(
        "https://github.com/pydanny/dj-paginator",
        parse_repo_url("https://github.com/pydanny/dj-paginator"),
        read_repo(answer(PAGINATOR)),
        None,
        [contributor_logins(answer(PAGINATOR_PEOPLE))],
        None,
    )
    assert fields == {
        "repo_forks": 4,
        "repo_watchers": 36,
        "repo_description": "Django + Pagination made easy.",
        "repo_url": "https://github.com/pydanny/dj-paginator",
        "participants": PAGINATOR_LOGINS,
        "last_updated": None,
    }


def test_repo_fields_of_an_empty_repository_have_no_weeks_and_no_participants():
    fields = repo_fields("https://github.com/pydanny/dj-paginator", parse_repo_url("https://github.com/pydanny/dj-paginator"), PAGINATOR_PIECE, None, [], [])
    assert fields["commits_over_52"] == []
    assert fields["participants"] == []
    assert fields["last_updated"] is None


def test_repo_fields_null_description_is_empty():
    fields = repo_fields("https://github.com/pydanny/dj-paginator", parse_repo_url("https://github.com/pydanny/dj-paginator"), {**PAGINATOR_PIECE, "description": None},
                         None, [], None)
    assert fields["repo_description"] == ""


def test_repo_fields_last_updated_keeps_its_offset_as_an_aware_datetime():
    fields = repo_fields("https://github.com/django/deps", parse_repo_url("https://github.com/django/deps"), DEPS_PIECE, "2023-12-19T22:59:33+01:00", [], None)
    assert fields["last_updated"] == datetime(2023, 12, 19, 21, 59, 33, tzinfo=timezone.utc)
    assert fields["last_updated"].utcoffset() == timedelta(hours=1)


def test_repo_fields_use_html_url_when_the_repo_moved():
    fields = repo_fields("https://github.com/pydanny/dj-paginator", parse_repo_url("https://github.com/pydanny/dj-paginator"), DEPS_PIECE, None, [], None)
    assert fields["repo_url"] == "https://github.com/django/deps"


# canonical_repo_url


@pytest.mark.parametrize(
    "stored",
    [
        "https://github.com/django/deps",
        "http://github.com/django/deps",
        "https://www.github.com/django/deps/",
        "https://github.com/django/deps.git",
        "https://github.com/Django/DEPS",
        "git@github.com:django/deps.git",
        "github.com/django/deps",
        "https://github.com/django/deps/tree/main/accepted",
    ],
)
def test_repo_url_kept_as_stored_when_it_names_the_same_repo(stored):
    assert canonical(stored, "django/deps", "https://github.com/django/deps") == stored


@pytest.mark.parametrize("stored", ["https://github.com/pydanny/dj-paginator", "https://github.com/django/deps-old"])
def test_repo_url_switches_to_html_url_when_github_confirms_a_rename(stored):
    assert canonical(stored, "django/deps", "https://github.com/django/deps") == "https://github.com/django/deps"


def test_canonical_repo_url_drops_a_trailing_slash_of_html_url():
    assert canonical("https://github.com/old/name", "new/name", "https://github.com/new/name/") == (
        "https://github.com/new/name"
    )


def test_canonical_repo_url_of_a_renamed_owner():
    assert canonical(
        "https://github.com/audreyr/cookiecutter", "cookiecutter/cookiecutter", "https://github.com/cookiecutter/cookiecutter"
    ) == "https://github.com/cookiecutter/cookiecutter"


@pytest.mark.parametrize(
    "full_name, html_url",
    [
        ("new/name", ""),  # an empty html_url never wipes the catalogue's URL
        ("new/name", "https://evil.example/new/name"),  # another host
        ("new/name", "http://github.com/new/name"),  # not https
        ("new/name", "https://github.com/new/name/tree/main"),  # more than Owner/Name
        ("new/name", "https://github.com/new/name?x=1"),
        ("new/name", "https://github.com:8443/new/name"),
        ("new/name", "https://github.com/other/repo"),  # html_url disagrees with the full name
        ("", "https://github.com/new/name"),  # no full name: nothing confirmed
        ("old/name", "https://github.com/new/name"),  # the full name asked: no rename
        ("new/name", "https://user@github.com/new/name"),
        ("new/name", "https://github.com/new/name\n"),
    ],
)
def test_repo_url_is_kept_unless_the_rename_is_confirmed_on_the_same_host(full_name, html_url):
    assert canonical("https://github.com/old/name", full_name, html_url) == "https://github.com/old/name"


def test_a_github_enterprise_rename_stays_on_its_host():
    assert canonical("https://ghe.example.com/a/b", "c/d", "https://ghe.example.com/c/d") == (
        "https://ghe.example.com/c/d"
    )
    assert canonical("https://ghe.example.com/a/b", "c/d", "https://github.com/c/d") == (
        "https://ghe.example.com/a/b"
    )


# participants


def test_participants_of_one_recorded_page():
    assert participants([contributor_logins(answer(DEPS_PEOPLE))]) == DEPS_LOGINS


def test_participants_of_two_pages_in_order():
    pages = [contributor_logins(answer(DEPS_PEOPLE)), contributor_logins(answer(PAGINATOR_PEOPLE))]
    assert participants(pages) == DEPS_LOGINS + PAGINATOR_LOGINS


def test_participants_seen_on_an_earlier_page_are_dropped():
    # Contributors shift between pages while they are read: the second page repeats two.
    second_body = recorded(DEPS_PEOPLE)["body"][-2:] + recorded(PAGINATOR_PEOPLE)["body"]
    pages = [contributor_logins(answer(DEPS_PEOPLE)), contributor_logins(answer(PAGINATOR_PEOPLE, data=second_body))]
    assert pages[1] == ["knyghty", "nessita", "audreyfeldroy", "pydanny"]
    assert participants(pages) == DEPS_LOGINS + PAGINATOR_LOGINS


def test_participants_keep_bots_and_first_order():
    pages = [["dependabot[bot]", "alice"], ["bob", "dependabot[bot]", "alice", "pre-commit-ci[bot]"]]
    assert participants(pages) == ["dependabot[bot]", "alice", "bob", "pre-commit-ci[bot]"]


def test_no_pages_no_participants():
    assert participants([]) == []
    assert participants([[], []]) == []
