"""urls: repository and PyPI URLs in the forms people type them."""

import pytest

from fetcher.errors import InputError
from fetcher.links import RepoRef, github_hosts, normalize_pypi_name, parse_repo_url, pypi_name


@pytest.mark.parametrize(
    "url, host",
    [
        ("https://github.com/django/deps", "github.com"),
        ("http://github.com/django/deps", "github.com"),
        ("https://www.github.com/django/deps", "www.github.com"),
        ("https://github.com/django/deps/", "github.com"),
        ("https://github.com/django/deps.git", "github.com"),
        ("https://github.com/django/deps.git/", "github.com"),
        ("https://github.com/django/deps/tree/main/draft", "github.com"),
        ("https://github.com/django/deps/blob/main/README.rst", "github.com"),
        ("https://github.com/django/deps?tab=readme-ov-file", "github.com"),
        ("https://github.com/django/deps#readme", "github.com"),
        ("git@github.com:django/deps.git", "github.com"),
        ("git@github.com:django/deps", "github.com"),
        ("ssh://git@github.com/django/deps.git", "github.com"),
        ("github.com/django/deps", "github.com"),
        ("  https://github.com/django/deps  \n", "github.com"),
    ],
)
def test_parse_repo_url_accepts_every_form(url, host):
    assert parse_repo_url(url) == RepoRef(host=host, owner="django", name="deps")


def test_parse_repo_url_keeps_the_case_of_owner_and_name_but_lowers_the_host():
    ref = parse_repo_url("https://GitHub.com/Django-Auth-LDAP/Django-Auth-LDAP.git")
    assert ref == RepoRef(host="github.com", owner="Django-Auth-LDAP", name="Django-Auth-LDAP")
    assert ref.full_name == "Django-Auth-LDAP/Django-Auth-LDAP"


def test_parse_repo_url_scp_form_keeps_case_and_host():
    assert parse_repo_url("git@GitHub.com:PyDanny/Dj-Paginator.git") == RepoRef(
        host="github.com", owner="PyDanny", name="Dj-Paginator"
    )


def test_parse_repo_url_on_an_enterprise_host():
    assert parse_repo_url("https://ghe.example.com/team/tool") == RepoRef(
        host="ghe.example.com", owner="team", name="tool"
    )


def test_same_repo_ignores_case_and_form():
    a = parse_repo_url("git@github.com:Django/DEPS.git")
    b = parse_repo_url("https://github.com/django/deps")
    assert a.same_repo(b)
    assert not a.same_repo(parse_repo_url("https://github.com/django/django"))


@pytest.mark.parametrize("url", ["", "ftp://github.com/django/deps", "git+https://github.com/django/deps", "https://"])
def test_parse_repo_url_refuses_what_is_not_a_url(url):
    with pytest.raises(InputError) as caught:
        parse_repo_url(url)
    assert str(caught.value) == f"repo_url {url!r} is not a URL"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/",
        "https://github.com",
        "https://github.com/django",
        "https://github.com/django/",
        "https://github.com/django/.git",
        "git@github.com:django",
        "not a url",
    ],
)
def test_parse_repo_url_refuses_a_url_without_owner_and_name(url):
    with pytest.raises(InputError) as caught:
        parse_repo_url(url)
    assert str(caught.value) == f"repo_url {url!r} does not name an owner and a repository"


def test_input_error_exits_2():
    with pytest.raises(InputError) as caught:
        parse_repo_url("https://github.com/")
    assert caught.value.exit_code == 2


def test_github_hosts_for_github_com():
    assert github_hosts("https://api.github.com") == frozenset({"github.com", "www.github.com"})
    assert github_hosts("https://API.GitHub.com/") == frozenset({"github.com", "www.github.com"})


def test_github_hosts_adds_an_enterprise_host():
    assert github_hosts("https://ghe.example.com/api/v3") == frozenset(
        {"github.com", "www.github.com", "ghe.example.com"}
    )


def test_github_hosts_adds_a_stand_in_host_without_its_port():
    assert github_hosts("http://127.0.0.1:8080") == frozenset({"github.com", "www.github.com", "127.0.0.1"})
    # ... which is the host parse_repo_url gives a repo URL on that stand-in.
    assert parse_repo_url("http://127.0.0.1:8080/o/r").host == "127.0.0.1"


@pytest.mark.parametrize(
    "url, name",
    [
        ("https://pypi.org/project/django-crispy-forms/", "django-crispy-forms"),
        ("https://pypi.org/project/django-crispy-forms", "django-crispy-forms"),
        ("https://pypi.org/project/django-crispy-forms/#history", "django-crispy-forms"),
        ("http://pypi.python.org/pypi/django-auth-ldap", "django-auth-ldap"),
        ("https://pypi.org/pypi/nango", "nango"),
        ("https://pypi.org/pypi/nango/json", "nango"),
        ("https://pypi.org/pypi/nango/0.1.2", "nango"),
        ("https://pypi.org/simple/nango/", "nango"),
        ("https://www.pypi.org/project/nango/", "nango"),
        ("https://test.pypi.org/project/nango/", "nango"),
        ("pypi.org/project/nango/", "nango"),
        ("nango", "nango"),
        ("django-minify-html", "django-minify-html"),
        ("Django_Crispy.Forms", "Django_Crispy.Forms"),
        ("  nango  ", "nango"),
    ],
)
def test_pypi_name(url, name):
    assert pypi_name(url) == name


@pytest.mark.parametrize("url", ["", "   ", None])
def test_pypi_name_of_nothing_is_none(url):
    assert pypi_name(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/django/deps",
        "https://pypi.org/",
        "https://pypi.org/project/",
        "https://pypi.org/user/pydanny/",
        "https://example.com/pypi/nango",
    ],
)
def test_pypi_name_refuses_a_url_that_is_not_a_pypi_project(url):
    with pytest.raises(InputError) as caught:
        pypi_name(url)
    assert str(caught.value) == f"pypi_url {url!r} is not a PyPI project URL"


@pytest.mark.parametrize(
    "name, normal",
    [
        ("Django_Crispy.Forms", "django-crispy-forms"),
        ("django-crispy-forms", "django-crispy-forms"),
        ("Django", "django"),
        ("a--b__c..d-_.e", "a-b-c-d-e"),
        ("zope.interface", "zope-interface"),
    ],
)
def test_normalize_pypi_name_per_pep_503(name, normal):
    assert normalize_pypi_name(name) == normal
