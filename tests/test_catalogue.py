"""catalog: reading catalogue files of API v4 records, checked before anything is written."""

import io
import json
import sys

import pytest

from fetcher.catalogue import read_catalogue
from fetcher.errors import InputError
from fetcher.record import validate
from tests.conftest import api_record

LDAP = api_record("django-auth-ldap")
TODO = api_record("django-todo")


def write_json(tmp_path, document, name="catalog.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return str(path)


def refused(name: str) -> str:
    with pytest.raises(InputError) as caught:
        read_catalogue(name).records
    return str(caught.value)


def test_a_single_record(tmp_path):
    records = read_catalogue(write_json(tmp_path, LDAP)).records
    assert records == [validate(LDAP, "any")]
    assert records[0]["slug"] == "django-auth-ldap"
    assert records[0]["last_updated"] == "2026-02-11T13:53:49.000000+00:00"


def test_a_list_of_records_in_order(tmp_path):
    records = read_catalogue(write_json(tmp_path, [TODO, LDAP])).records
    assert [r["slug"] for r in records] == ["django-todo", "django-auth-ldap"]
    assert [r["id"] for r in records] == [409, 410]


def test_an_empty_list(tmp_path):
    assert read_catalogue(write_json(tmp_path, [])).records == []


def test_an_api_page(tmp_path):
    page = {"count": 2, "next": "https://djangopackages.org/api/v4/packages/?page=2", "previous": None,
            "results": [LDAP, TODO]}
    records = read_catalogue(write_json(tmp_path, page)).records
    assert [r["slug"] for r in records] == ["django-auth-ldap", "django-todo"]
    assert records[1]["repo_forks"] == 285


def test_a_partial_record(tmp_path):
    assert read_catalogue(write_json(tmp_path, {"slug": "nango", "pypi_url": "https://pypi.org/project/nango/"})).records == [
        {"slug": "nango", "pypi_url": "https://pypi.org/project/nango/"}
    ]


def test_standard_input(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps([LDAP, TODO])))
    assert [r["slug"] for r in read_catalogue("-").records] == ["django-auth-ldap", "django-todo"]


def test_standard_input_is_named_in_errors(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("[{"))
    with pytest.raises(InputError) as caught:
        read_catalogue("-").records
    assert str(caught.value) == "<stdin>: not JSON: Expecting property name enclosed in double quotes at line 1, column 3"


def test_not_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"slug": "django-todo"},\n  {slug: "x"}\n]\n', encoding="utf-8")
    assert refused(str(path)) == (
        f"{path}: not JSON: Expecting property name enclosed in double quotes at line 3, column 4"
    )


def test_an_empty_file_is_not_json(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("")
    assert refused(str(path)) == f"{path}: not JSON: Expecting value at line 1, column 1"


def test_a_record_without_slug_names_file_and_record_number(tmp_path):
    second = {k: v for k, v in TODO.items() if k != "slug"}
    name = write_json(tmp_path, [LDAP, second])
    assert refused(name) == f"{name}: record 2: no slug"


def test_a_bad_field_names_file_record_slug_and_field(tmp_path):
    name = write_json(tmp_path, {"count": 2, "next": None, "results": [LDAP, {**TODO, "repo_forks": "285"}]})
    assert refused(name) == f"{name}: record 2 (slug 'django-todo'): repo_forks must be a non-negative integer, got \"285\""


def test_a_record_that_is_not_an_object(tmp_path):
    name = write_json(tmp_path, [LDAP, "django-todo"])
    assert refused(name) == f"{name}: record 2: a record must be a JSON object, not str"


@pytest.mark.parametrize("document, kind", [("django-todo", "str"), (42, "int"), (None, "NoneType")])
def test_a_document_that_is_no_record(tmp_path, document, kind):
    name = write_json(tmp_path, document)
    assert refused(name) == f"{name}: expected a record, a list of records or an API page, not {kind}"


def test_an_api_page_whose_results_are_not_a_list(tmp_path):
    name = write_json(tmp_path, {"count": 1, "next": None, "results": LDAP})
    assert refused(name) == f"{name}: 'results' must be a list of records"


def test_the_same_slug_twice_with_different_ids_is_refused(tmp_path):
    name = write_json(tmp_path, [LDAP, TODO, {**LDAP, "id": 999}])
    assert refused(name) == (
        f"{name}: record 3: slug 'django-auth-ldap' appears twice with different ids (410 and 999)"
    )


def test_the_same_slug_twice_with_and_without_an_id_is_refused(tmp_path):
    name = write_json(tmp_path, [LDAP, {"slug": "django-auth-ldap", "repo_forks": 1}])
    assert refused(name) == (
        f"{name}: record 2: slug 'django-auth-ldap' appears twice with different ids (410 and None)"
    )


def test_the_same_slug_twice_with_the_same_id_is_accepted(tmp_path):
    records = read_catalogue(write_json(tmp_path, [LDAP, {"slug": "django-auth-ldap", "id": 410, "repo_forks": 1}])).records
    assert [(r["slug"], r["id"]) for r in records] == [("django-auth-ldap", 410), ("django-auth-ldap", 410)]
    assert records[1] == {"slug": "django-auth-ldap", "id": 410, "repo_forks": 1}


def test_a_slug_given_twice_is_named_with_both_records_to_be_said(tmp_path):
    catalogue = read_catalogue(write_json(tmp_path, [LDAP, TODO, {"slug": "django-auth-ldap", "repo_forks": 1, "id": 410},
                                                     {"slug": "django-todo", "id": 409}]))
    assert catalogue.merged == (("django-auth-ldap", 1, 3), ("django-todo", 2, 4))


def test_the_same_id_for_two_slugs_is_refused(tmp_path):
    name = write_json(tmp_path, [LDAP, {**TODO, "id": 410}])
    assert refused(name) == f"{name}: record 2: id 410 is given to both 'django-auth-ldap' and 'django-todo'"


def test_a_missing_file(tmp_path):
    name = str(tmp_path / "nowhere.json")
    assert refused(name) == f"{name}: cannot read: No such file or directory"


def test_a_directory_cannot_be_read(tmp_path):
    assert refused(str(tmp_path)) == f"{tmp_path}: cannot read: Is a directory"


def test_a_file_that_is_not_utf8_cannot_be_read(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"slug": "caf\xe9"}')
    message = refused(str(path))
    assert message.startswith(f"{path}: cannot read: 'utf-8' codec can't decode byte 0xe9")


def test_invalid_input_exits_2(tmp_path):
    with pytest.raises(InputError) as caught:
        read_catalogue(str(tmp_path / "nowhere.json")).records
    assert caught.value.exit_code == 2
