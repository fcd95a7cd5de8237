"""The compatibility profile: read from the config, and what it makes of PyPI's answer (Python 3 support, the
score, the documentation URL) as Django Packages' updater does (package/pypi.py of djangopackages/djangopackages)."""

from datetime import datetime, timezone

import pytest
from dateutil.relativedelta import relativedelta

from fetcher import compat, config, facts
from fetcher.errors import ConfigError
from fetcher.hosts import pypi

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)


def test_the_profile_is_read_from_compat_profile(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "x.db"\n')
    assert config.load(str(path)).compat is compat.FETCHER  # the default
    path.write_text('[compat]\nprofile = "djangopackages"\n')
    assert config.load(str(path)).compat is compat.DJANGOPACKAGES
    path.write_text('[compat]\nprofile = "fetcher"\n')
    assert config.load(str(path)).compat is compat.FETCHER


def test_an_unknown_profile_is_one_line_naming_the_key_the_file_and_the_line(tmp_path, run_cli):
    path = tmp_path / "config.toml"
    path.write_text('[store]\npath = "x.db"\n\n[compat]\nprofile = "djangopackages.org"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    assert str(caught.value) == (f"{path}, line 5: compat.profile must be one of fetcher, djangopackages, "
                                 "not 'djangopackages.org'")
    shown = run_cli(path, "status")
    assert shown.exit_code == 2
    assert shown.output.strip().splitlines() == [f"fetcher: {caught.value}"]


# requires_python -> (fetcher's, Django Packages'): theirs tries 3.0 to 3.14 only, no patch release.
PYTHON3 = [
    (">=3.8", [], True, True),
    ("==3.8.5", [], True, False),
    (">=3.6.1,<3.6.5", [], True, False),
    (">=3.15", [], True, False),
    ("<3", ["Programming Language :: Python :: 3"], False, False),
    (">=3.6.*", ["Programming Language :: Python :: 2.7"], False, None),  # never false from the classifiers
    (None, ["Programming Language :: Python :: 2.7"], False, None),
    (None, ["Programming Language :: Python :: 3 :: Only"], True, True),
]


@pytest.mark.parametrize(("requires", "classifiers", "ours", "theirs"), PYTHON3)
def test_python3_support_as_each_profile_decides_it(requires, classifiers, ours, theirs):
    piece = {"requires_python": requires, "classifiers": classifiers}
    assert facts.pypi_derived(piece)["supports_python3"] is ours
    assert facts.pypi_derived(piece, compat.DJANGOPACKAGES)["supports_python3"] is theirs


def established(piece: dict, before: dict, profile) -> dict:
    row = {"repo_watchers": 100, "last_updated": NOW - relativedelta(months=1)}  # as the store reads it
    return facts.established(row, {}, None, {"classifiers": [], **piece}, None, before, NOW, profile)


def test_the_score_takes_python3_support_as_the_profile_decides_it():
    pinned = {"requires_python": "==3.8.5"}
    assert established(pinned, {}, compat.FETCHER)["score"] == 100
    assert established(pinned, {}, compat.DJANGOPACKAGES)["score"] == 70  # theirs: no Python 3, 30% less


def test_for_djangopackages_python3_support_it_cannot_tell_keeps_what_was_stored():
    unknown = {"requires_python": None}
    assert "supports_python3" not in established(unknown, {"supports_python3": 1}, compat.DJANGOPACKAGES)
    assert established(unknown, {"supports_python3": 1}, compat.DJANGOPACKAGES)["score"] == 100
    assert established(unknown, {"supports_python3": 1}, compat.FETCHER)["supports_python3"] is None


def test_the_documentation_url_as_django_packages_finds_it():
    urls = {"Home": "https://h.example/", "docs": "https://c.example/", "Docs": "https://b.example/"}
    assert pypi.documentation_url(None, urls) == "https://c.example/"  # fetcher: the first label PEP 753 reads so
    assert pypi.documentation_url_exact(None, urls) == "https://b.example/"  # theirs: Documentation, Docs, docs...
    assert pypi.documentation_url(None, {"DOCS.": "https://d.example/"}) == "https://d.example/"
    assert pypi.documentation_url_exact("https://pythonhosted.org/x/", urls) == "https://pythonhosted.org/x/"
    assert pypi.documentation_url_exact(None, {"DOCS": "https://d.example/"}) is None  # labels exactly as written
    assert pypi.documentation_url_exact(None, {"Documentation": "javascript:alert(1)"}) is None  # http(s) only
    assert pypi.documentation_url_exact(None, None) is None


def test_the_djangopackages_profile_differs_from_fetchers_in_the_documented_fields_only():
    differing = {name for name in compat.Profile.__dataclass_fields__
                 if getattr(compat.FETCHER, name) != getattr(compat.DJANGOPACKAGES, name)}
    assert differing == {"name", "forgejo_watchers", "forgejo_participants", "bitbucket_counts",
                         "bitbucket_participants", "gitlab_participants", "python3", "python3_probe",
                         "documentation_url"}
    assert compat.DJANGOPACKAGES.python3_probe == ("3.14", "3.13", "3.12", "3.11", "3.10", "3.9", "3.8", "3.7",
                                                   "3.6", "3.5", "3.4", "3.3", "3.2", "3.1", "3.0")
    assert compat.split_participants(["Doe, Jane", " ", "Ann"]) == ["Doe", "Jane", "Ann"]
