"""The facts' pure derivations, against answers recorded from the live PyPI and hand-computed scores."""

from datetime import datetime, timezone

import pytest

from fetcher import facts
from fetcher.hosts import pypi
from fetcher.hosts.github import answers
from fetcher.errors import BadResponse, InputError
from fetcher.net.answer import Answer
from tests.conftest import pypi_body

UTC = timezone.utc


def answer(body, headers=None, url="https://pypi.org/pypi/x/json") -> Answer:
    return Answer(url, 200, headers or {}, body)


# name -> (license (the short license field's name, or the classifiers'), requires_python, Django versions, docs URL, supports_python3, latest release, yanked)
RECORDED = {
    "django": (["BSD-3-Clause"], ">=3.8", [], "https://docs.djangoproject.com/", True,
               "2022-02-01T07:56:23.036066+00:00"),
    "djangorestframework": (["BSD"], ">=3.6", ["2.2", "3.0", "3.1", "3.2", "4.0"], None, True,
                            "2021-12-15T15:18:42.237445+00:00"),
    "wagtail": (["BSD"], ">=3.7", ["3.2", "4.0"], None, True, "2022-02-11T13:58:20.278624+00:00"),
    "django-crispy-forms": (["MIT"], ">=3.7", ["2.2", "3.2", "4.0"], None, True,
                            "2022-01-25T08:08:34.739304+00:00"),
    "django-minify-html": (["MIT"], ">=3.8", ["2.2", "3.0", "3.1", "3.2", "4.0"], None, True,
                           "2021-12-28T10:37:18.583101+00:00"),
    # nango's license field is empty: the License classifier names it.
    "nango": (["MIT License"], ">=3.8", [], None, True, "2022-02-12T23:39:48.897997+00:00"),
}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_pypi_answers(name):
    license_, requires, django, docs, python3, released = RECORDED[name]
    piece = pypi.project_facts(answer(pypi_body(name)))
    derived = facts.pypi_derived(piece)
    assert derived["license"] == license_
    assert derived["requires_python"] == requires
    assert derived["django_versions"] == django
    assert piece["documentation_url"] == docs
    assert derived["supports_python3"] is python3
    assert derived["latest_release_at"] == released
    assert derived["latest_release_yanked"] is False
    assert derived["classifiers"] == pypi_body(name)["info"]["classifiers"]


def test_license_is_a_pep_639_expression_or_a_list_of_names_never_names_joined():
    text = "Copyright (c) 2010, Someone\nAll rights reserved.\n\nRedistribution and use ..."
    two = ["License :: OSI Approved :: MIT License", "License :: OSI Approved :: Apache Software License"]

    def chosen(expression, field, classifiers):
        return facts.choose_license(expression, facts.license_names(field, classifiers))

    assert chosen("MIT OR Apache-2.0", "MIT", two) == "MIT OR Apache-2.0"  # a real SPDX expression, as given
    assert chosen(" MIT ", None, []) == "MIT"
    assert chosen(None, "BSD", two) == ["BSD"]
    assert chosen(None, text, ["License :: OSI Approved :: BSD License"]) == ["BSD License"]
    assert chosen(None, "", two) == ["MIT License", "Apache Software License"]  # two names, not "... OR ..."
    assert chosen(None, "", [*two, two[0]]) == ["MIT License", "Apache Software License"]
    assert chosen(None, "x" * 101, []) is None
    assert chosen(None, "UNKNOWN", ["License :: OSI Approved"]) is None
    assert chosen("  ", None, []) is None


def test_the_license_is_stored_printed_and_imported_as_a_list_or_an_expression():
    names = ["MIT License", "Apache Software License"]
    assert facts.to_columns({"license": names}) == {"license": '["MIT License", "Apache Software License"]'}
    assert facts.to_columns({"license": "MIT OR Apache-2.0"}) == {"license": "MIT OR Apache-2.0"}
    assert facts.to_api({"license": '["MIT License", "Apache Software License"]'}, UTC)["license"] == names
    assert facts.to_api({"license": "MIT OR Apache-2.0"}, UTC)["license"] == "MIT OR Apache-2.0"
    # A value stored before names were a list reads as the string it is (the next sync stores the list).
    assert facts.to_api({"license": "MIT License OR Apache Software License"}, UTC)["license"] == \
        "MIT License OR Apache Software License"
    assert facts.to_api({"license": "[MIT]"}, UTC)["license"] == "[MIT]"
    assert facts.check({"license": names}, "f.json: record 1") == facts.to_columns({"license": names})
    assert facts.check({"license": "MIT"}, "f.json: record 1") == {"license": "MIT"}
    for bad in ([1], '["MIT"]', 5, {"names": []}):
        with pytest.raises(InputError, match="facts.license must be a list of names, an SPDX expression or null"):
            facts.check({"license": bad}, "f.json: record 1")


def test_the_pypi_piece_keeps_the_expression_and_the_names_apart():
    piece = pypi.project_facts(answer(pypi_body("nango")))
    assert (piece["license_expression"], piece["license_names"]) == (None, ["MIT License"])
    assert "license" not in piece


def test_django_versions_sort_as_versions_not_strings():
    classifiers = ["Framework :: Django :: 4.10", "Framework :: Django :: 4.2", "Framework :: Django",
                   "Framework :: Django :: 10.0", "Framework :: Django :: 4.2", "Framework :: Django :: x"]
    assert facts.django_versions(classifiers) == ["4.2", "4.10", "10.0"]


# requires_python as real projects publish it (setup.py python_requires, pyproject requires-python), and whether it
# admits some Python 3. Read against Python 3's releases, patch versions included.
PY3 = ["Programming Language :: Python :: 3"]
REQUIRES_PYTHON = [
    (">=3.8", True),                                            # Django 4.2
    (">=3.10", True),                                           # Django 5.0
    (">=3.6.1", True),                                          # stsouko/CGRtools
    ("==3.8.5", True),                                          # uppsalaconflictdataprogram/viewser: one patch
    ("==3.12.12", True),                                        # a pinned interpreter, from a pyproject.toml
    ("==3.14.6", True),                                         # likewise
    (">=3.6.1,<3.6.5", True),                                   # four patch releases of 3.6 (issue 17)
    ("==3.8.20", True),                                         # the last release of 3.8
    ("==3.8.21", False),                                        # 3.8 ended at 3.8.20: no such Python
    ("~=3.7", True),                                            # GlasgowEmbedded/glasgow
    ("==3.13.*", True),                                         # python-discord/sir-lancebot
    (">=3.8.1,<3.9", True),                                     # from a ruff issue
    (">=2.7, !=3.0.*, !=3.1.*", True),
    (">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, <4", True),    # a setup.py template
    (">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*, !=3.5.*, !=3.6.*", True),  # ployground/ploy_ansible
    (">=3.15", True),                                           # a Python 3 yet to come is a Python 3
    ("==3.13.0b1", True),                                       # a named pre-release of Python 3
    (">=3.14.0b1,<3.14.0rc2", True),                            # only pre-releases, named: 3.14.0b1 to rc1
    ("<3", False),
    (">=2.7, <3", False),                                       # CellProfiler/CellProfiler
    ("==2.7.*", False),                                         # taraslayshchuk/es2csv, Products.Archetypes
    ("<3.0.0a0", False),
    (">=4", False),
]


@pytest.mark.parametrize("requires, expected", REQUIRES_PYTHON)
def test_requires_python_admits_python3_over_its_releases_patch_versions_included(requires, expected):
    assert facts.supports_python3(requires, []) is expected
    # requires_python says, so the classifiers do not count
    assert facts.supports_python3(requires, PY3 if not expected else ["Programming Language :: Python :: 2.7"]) \
        is expected


def test_the_python3_releases_are_real_ones():
    releases = {str(v) for v in facts.PYTHON3_RELEASES}
    assert {"3.0.0", "3.0.1", "3.6.15", "3.7.17", "3.8.20", "3.9.0", "3.14.6", "3.39.0"} <= releases
    assert not {"3.0.2", "3.6.16", "3.8.21", "3.40.0"} & releases


@pytest.mark.parametrize("requires, classifiers, expected", [
    # No usable requires_python: the classifiers say.
    (">=3.6.*", PY3, True),                                     # pythongssapi/python-gssapi, python-semver: invalid
    (">=3.6.*", [], None),
    ("3.6", ["Programming Language :: Python :: 2.7"], False),  # no operator: invalid
    (None, ["Programming Language :: Python :: 3 :: Only"], True),
    (None, ["Programming Language :: Python :: 2.7"], False),
    ("not a specifier", ["Programming Language :: Python :: 3.9"], True),
    (None, ["Framework :: Django"], None),
    ("", [], None),
])
def test_supports_python3_from_the_classifiers_without_a_usable_requires_python(requires, classifiers, expected):
    assert facts.supports_python3(requires, classifiers) is expected


def test_docs_url_from_docs_url_or_a_label_that_normalizes_to_docs():
    assert pypi.normalize_label("Docs!") == "docs"
    assert pypi.normalize_label("Documentation ") == "documentation"
    docs_url = "https://pythonhosted.org/x/"
    assert pypi.documentation_url(docs_url, {"Docs": "https://d"}) == docs_url
    assert pypi.documentation_url(None, {"Home": "https://h", "Read the docs": "https://r",
                                          "DOCS.": "https://docs.example"}) == "https://docs.example"
    assert pypi.documentation_url(None, {"Documentation": "javascript:alert(1)"}) is None
    assert pypi.documentation_url(None, None) is None


def test_latest_release_from_releases_when_urls_is_empty_and_yanked_when_every_file_is():
    body = {"info": {"version": "2.0"}, "urls": [], "releases": {"2.0": [
        {"upload_time_iso_8601": "2024-05-02T10:00:00.5Z", "yanked": True},
        {"upload_time_iso_8601": "2024-05-01T09:00:00Z", "yanked": True},
    ]}}
    assert pypi.latest_release(body, "2.0") == ("2024-05-01T09:00:00.000000+00:00", True)
    assert pypi.latest_release({"urls": []}, "1.0") == (None, None)


def test_commit_count_from_the_last_page_of_link():
    link = ('<https://api.github.com/repositories/1/commits?per_page=1&page=2>; rel="next", '
            '<https://api.github.com/repositories/1/commits?per_page=1&page=1342>; rel="last"')
    assert answers.commit_count(Answer("u", 200, {"link": link}, [{}])) == 1342
    assert answers.commit_count(Answer("u", 200, {}, [{}])) == 1
    for link in ('<https://x/?page=99999999999999999999>; rel="last"', '<https://x/?page=abc>; rel="last"',
                 '<https://x/?page=0>; rel="last"', '<https://x/>; rel="last"'):
        with pytest.raises(BadResponse):
            answers.commit_count(Answer("u", 200, {"link": link}, [{}]))
    with pytest.raises(BadResponse):
        answers.commit_count(Answer("u", 200, {}, {"message": "not a list"}))


def test_project_status_pep_792():
    page = {"meta": {"api-version": "1.4"}, "name": "x", "files": []}
    assert pypi.project_status(answer(page)) == "active"
    assert pypi.project_status(answer({**page, "project-status": {"status": "archived", "reason": "done"}})) == \
        "archived"
    assert pypi.project_status(answer({**page, "project-status": {}})) == "active"
    for bad in ({"status": 5}, {"status": "a b"}, {"status": "x" * 500}, {"status": "\ud800"}, "archived"):
        with pytest.raises(BadResponse):
            pypi.project_status(answer({**page, "project-status": bad}))
    with pytest.raises(BadResponse):
        pypi.project_status(answer(["not", "a", "page"]))


# A quarantined project's page as PyPI serves it (warehouse `_simple_detail`: the status alone, no files).
WAREHOUSE_QUARANTINED = {"meta": {"api-version": "1.4", "_last-serial": 31337}, "name": "x",
                         "project-status": {"status": "quarantined"}, "versions": [], "files": []}


@pytest.mark.parametrize(("page", "status"), [
    (WAREHOUSE_QUARANTINED, "quarantined"),
    # PEP 792's example: the object with a reason.
    ({"meta": {"api-version": "1.4"}, "name": "x", "files": [], "versions": [],
      "project-status": {"status": "quarantined", "reason": "the project is haunted"}}, "quarantined"),
    # The simple repository API spec's example before its erratum: a string in meta, the reason beside it.
    ({"meta": {"api-version": "1.4", "project-status": "quarantined", "project-status-reason": "haunted"},
      "name": "x", "files": [], "versions": []}, "quarantined"),
    ({"meta": {"api-version": "1.4", "project-status": "archived"}, "name": "x", "files": []}, "archived"),
    # PEP 792's text names the key `state`.
    ({"meta": {"api-version": "1.4"}, "name": "x", "files": [], "project-status": {"state": "deprecated"}},
     "deprecated"),
    # Both forms: the top-level object wins.
    ({"meta": {"api-version": "1.4", "project-status": "archived"}, "name": "x", "files": [],
      "project-status": {"status": "quarantined"}}, "quarantined"),
    ({"meta": {"api-version": "1.4", "project-status": None}, "name": "x", "files": []}, "active"),
])
def test_project_status_in_either_form_an_index_sends(page, status):
    assert pypi.project_status(answer(page)) == status


@pytest.mark.parametrize("meta", [{"project-status": 5}, {"project-status": "a b"}, {"project-status": ["x"]}])
def test_a_project_status_in_meta_of_the_wrong_shape_is_a_bad_response(meta):
    with pytest.raises(BadResponse, match="meta.project-status"):
        pypi.project_status(answer({"meta": {"api-version": "1.4", **meta}, "name": "x", "files": []}))


def test_only_a_quarantine_explains_a_json_api_404():
    assert pypi.explains_missing("quarantined")
    assert not any(pypi.explains_missing(status) for status in ("active", "archived", "deprecated", "frozen"))


@pytest.mark.parametrize("change", [
    {"classifiers": "Framework :: Django"},
    {"classifiers": [1, 2]},
    {"classifiers": ["\ud800"]},
    {"license": 5},
    {"license_expression": ["MIT"]},
    {"requires_python": "x" * 5000},
    {"project_urls": ["https://docs"]},
    {"docs_url": 7},
])
def test_hostile_pypi_fields_are_a_bad_response(change):
    body = pypi_body("nango")
    body["info"].update(change)
    with pytest.raises(BadResponse):
        pypi.project_facts(answer(body))


@pytest.mark.parametrize("urls", ["files", [1], [{"upload_time_iso_8601": 5}],
                                  [{"upload_time_iso_8601": "99999-01-01T00:00:00Z"}],
                                  [{"upload_time_iso_8601": "2024-01-01T00:00:00"}],  # no offset: ambiguous
                                  [{"upload_time_iso_8601": "2024-01-01T00:00:00Z", "yanked": "no"}]])
def test_hostile_release_files_are_a_bad_response(urls):
    body = pypi_body("nango")
    body["urls"] = urls
    with pytest.raises(BadResponse):
        pypi.project_facts(answer(body))


def test_graphql_repo_facts_and_hostile_nodes():
    node = {"isArchived": True, "archivedAt": "2023-04-05T06:07:08Z",
            "defaultBranchRef": {"target": {"committedDate": "x", "history": {"totalCount": 1234}}}}
    assert answers.graphql_repo_facts(node) == {
        "archived": True, "archived_at": "2023-04-05T06:07:08.000000+00:00", "commit_count": 1234}
    assert answers.graphql_repo_facts({"isArchived": False, "defaultBranchRef": None})["commit_count"] == 0
    for bad in ({"isArchived": "yes", "defaultBranchRef": None},
                {**node, "archivedAt": 17},
                {**node, "defaultBranchRef": {"target": {"history": {"totalCount": 10**30}}}},
                {**node, "defaultBranchRef": {"target": {"history": {"totalCount": -1}}}}):
        with pytest.raises((TypeError, ValueError)):
            answers.graphql_repo_facts(bad)


NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("last_updated, stars, python3, expected", [
    # 2 whole months: no staleness penalty; 3 months: a tenth of the stars.
    (datetime(2026, 4, 15, 12, 0, 1, tzinfo=UTC), 1000, True, 1000),   # 2 months, 29 days, 23:59:59
    (datetime(2026, 3, 15, 12, 0, 1, tzinfo=UTC), 1000, True, 1000),   # one second short of 3 months
    (datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC), 1000, True, 900),    # exactly 3 months
    (datetime(2025, 12, 15, 12, 0, 1, tzinfo=UTC), 1000, True, 900),   # just short of 6 months
    (datetime(2025, 12, 15, 12, 0, 0, tzinfo=UTC), 1000, True, 800),   # 6 months
    (datetime(2025, 9, 15, 12, 0, 0, tzinfo=UTC), 1000, True, 700),    # 9 months
    (datetime(2025, 9, 15, 12, 0, 0, tzinfo=UTC), 1000, None, 400),    # unknown Python 3: −300
    (datetime(2025, 9, 15, 12, 0, 0, tzinfo=UTC), 5000, False, 5000 - 1500 - 1000),  # penalty capped at 1000
    (datetime(2026, 6, 1, tzinfo=UTC), 7, False, 4),                    # 7 − 2.1 = 4.9, truncated
    (None, 1000, True, 900),                                            # no last_updated: stars / 10
    (datetime(2016, 6, 15, 12, 0, tzinfo=UTC), 1000, True, -500),       # 40 quarters: 1000 − 4000 → floor
    (datetime(2016, 6, 15, 12, 0, tzinfo=UTC), 100, True, -300),        # 100 − 400, above the floor
    (datetime(2030, 1, 1, tzinfo=UTC), 10, True, 24),                   # 42 months ahead: 14 quarters' bonus
])
def test_score(last_updated, stars, python3, expected):
    assert facts.score(stars, last_updated, python3, NOW) == expected


def test_repo_facts_archived_then_unarchived():
    first = datetime(2026, 1, 1, tzinfo=UTC)
    seen = facts.repo_facts({"archived": True, "commit_count": 5}, {}, first)
    assert seen == {"archived": True, "archived_at": "2026-01-01T00:00:00.000000+00:00", "commit_count": 5}
    later = facts.repo_facts({"archived": True}, seen, datetime(2026, 2, 1, tzinfo=UTC))
    assert later["archived_at"] == seen["archived_at"]  # when first seen, not when seen again
    assert facts.repo_facts({"archived": False}, later, first) == {"archived": False, "archived_at": None}
    told = facts.repo_facts({"archived": True, "archived_at": "2020-01-01T00:00:00.000000+00:00"}, {}, first)
    assert told["archived_at"] == "2020-01-01T00:00:00.000000+00:00"
    assert facts.repo_facts({}, later, first) == {}  # a host that says nothing changes nothing


def test_imported_facts_are_checked():
    columns = facts.check({"archived": True, "django_versions": ["4.2"], "archived_at": "2024-01-01T00:00:00Z",
                           "score": -12}, "f.json: record 1")
    assert columns == {"archived": 1, "django_versions": '["4.2"]',
                       "archived_at": "2024-01-01T00:00:00.000000+00:00", "score": -12}
    for bad, field in (({"archived": "yes"}, "facts.archived"), ({"commit_count": 1.5}, "facts.commit_count"),
                       ({"classifiers": "x"}, "facts.classifiers"), ({"stars": 1}, "unknown fact stars"),
                       ({"archived_at": "yesterday"}, "facts.archived_at")):
        with pytest.raises(InputError, match=f"f.json: record 1: {field}"):
            facts.check(bad, "f.json: record 1")
    with pytest.raises(InputError, match="facts must be a JSON object"):
        facts.check([], "f.json: record 1")
