"""records: checking imported records, storing them as columns, printing them as the API does."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dateutil import tz

from fetcher.errors import InputError
from fetcher.record import API_FIELDS, parse_datetime, to_api, to_columns, validate
from fetcher.store.stored import COLUMNS, decoded
from tests.conftest import api_record

NEW_YORK = tz.gettz("America/New_York")
WHERE = "catalog.json: record 3"


def invalid(record, where=WHERE) -> str:
    with pytest.raises(InputError) as caught:
        validate(record, where)
    return str(caught.value)


def read(columns: dict) -> dict:
    """Columns as the store reads them back (lists as lists, date-times as date-times)."""
    return decoded(Path("test.db"), "package 'x'", COLUMNS["package"], columns)


def with_field(**fields) -> dict:
    return {**api_record("django-auth-ldap"), **fields}


def test_api_fields_are_the_18_of_the_api_in_its_order():
    assert list(API_FIELDS) == list(api_record("django-auth-ldap"))
    assert len(API_FIELDS) == 18


def test_a_real_record_becomes_columns():
    columns = validate(api_record("django-auth-ldap"), WHERE)
    assert list(columns) == list(API_FIELDS)
    assert columns["id"] == 410
    assert columns["slug"] == "django-auth-ldap"
    assert columns["title"] == "django-auth-ldap"
    assert columns["category"] == "https://djangopackages.org/api/v4/categories/1/?format=api"
    assert columns["repo_url"] == "https://github.com/django-auth-ldap/django-auth-ldap"
    assert columns["pypi_version"] == "5.3.0"
    assert columns["pypi_url"] == "http://pypi.python.org/pypi/django-auth-ldap"
    assert columns["documentation_url"] == "https://django-auth-ldap.readthedocs.io/"
    assert columns["repo_forks"] == 104
    assert columns["repo_watchers"] == 365
    assert columns["repo_description"] == "Django authentication backend that authenticates against an LDAP service."
    # Lists as JSON text.
    assert columns["grids"] == (
        '["https://djangopackages.org/api/v4/grids/7/?format=api", '
        '"https://djangopackages.org/api/v4/grids/271/?format=api"]'
    )
    assert json.loads(columns["commits_over_52"]) == api_record("django-auth-ldap")["commits_over_52"]
    assert columns["commits_over_52"].startswith("[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 6, ")
    assert columns["participants"].startswith('["jdufresne", "francoisfreitag", "psagers", "dependabot[bot]", ')
    assert len(json.loads(columns["participants"])) == 26
    # Date-times in UTC with microseconds, whatever offset they came with.
    assert columns["last_updated"] == "2026-02-11T13:53:49.000000+00:00"
    assert columns["last_fetched"] == "2026-02-15T19:29:59.434883+00:00"
    assert columns["created"] == "2010-09-28T12:42:18.494410+00:00"
    assert columns["modified"] == "2026-01-28T18:52:59.142434+00:00"


def test_the_other_real_record_becomes_columns():
    columns = validate(api_record("django-todo"), WHERE)
    assert columns["last_updated"] == "2022-11-03T06:16:36.000000+00:00"
    assert columns["commits_over_52"] == "[" + ", ".join(["0"] * 52) + "]"
    assert columns["grids"] == '["https://djangopackages.org/api/v4/grids/53/", "https://djangopackages.org/api/v4/grids/62/"]'


def test_only_the_fields_present_are_returned():
    assert validate({"slug": "django-todo", "repo_forks": 3, "last_updated": None}, WHERE) == {
        "slug": "django-todo",
        "repo_forks": 3,
        "last_updated": None,
    }


def test_non_ascii_is_kept_in_lists():
    columns = validate({"slug": "x", "participants": ["jörg", "日本"]}, WHERE)
    assert columns["participants"] == '["jörg", "日本"]'


def test_nullable_fields_accept_null():
    columns = validate(
        with_field(category=None, pypi_version=None, pypi_url=None, documentation_url=None,
                   last_updated=None, last_fetched=None),
        WHERE,
    )
    assert [columns[f] for f in ("category", "pypi_version", "pypi_url", "documentation_url",
                                 "last_updated", "last_fetched")] == [None] * 6


def test_an_empty_repo_url_is_accepted():
    assert validate(with_field(repo_url=""), WHERE)["repo_url"] == ""


@pytest.mark.parametrize("repo_url", ["git@github.com:Django-Auth-LDAP/django-auth-ldap.git",
                                      "http://www.github.com/django-auth-ldap/django-auth-ldap/"])
def test_repo_url_is_stored_as_written(repo_url):
    assert validate(with_field(repo_url=repo_url), WHERE)["repo_url"] == repo_url


def test_missing_slug():
    record = api_record("django-todo")
    del record["slug"]
    assert invalid(record) == f"{WHERE}: no slug"


@pytest.mark.parametrize("slug", ["", "bad slug", "-leading-dash", "a/b", 7, None])
def test_bad_slug(slug):
    assert invalid(with_field(slug=slug)) == (
        f"{WHERE} (slug {slug!r}): slug must be a non-empty slug, got {json.dumps(slug)}"
    )


SLUG = "(slug 'django-auth-ldap')"


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("repo_forks", "3", 'repo_forks must be a non-negative integer, got "3"'),
        ("repo_forks", True, "repo_forks must be a non-negative integer, got true"),
        ("repo_forks", -1, "repo_forks must be a non-negative integer, got -1"),
        ("repo_forks", 3.0, "repo_forks must be a non-negative integer, got 3.0"),
        ("repo_watchers", False, "repo_watchers must be a non-negative integer, got false"),
        ("repo_watchers", None, "repo_watchers must be a non-negative integer, got null"),
        ("id", True, "id must be a positive integer, got true"),
        ("id", 0, "id must be a positive integer, got 0"),
        ("id", "410", 'id must be a positive integer, got "410"'),
        ("grids", "https://djangopackages.org/api/v4/grids/7/", 'grids must be a list of strings, got "https://djangopackages.org/api/v4/grids/7/"'),
        ("grids", {"a": 1}, 'grids must be a list of strings, got {"a": 1}'),
        ("grids", [7], "grids must be a list of strings, got [7]"),
        ("participants", "jdufresne", 'participants must be a list of strings, got "jdufresne"'),
        ("participants", ["jdufresne", None], 'participants must be a list of strings, got ["jdufresne", null]'),
        ("commits_over_52", [0, "1", 2], 'commits_over_52 must be a list of non-negative integers, got [0, "1", 2]'),
        ("commits_over_52", [0, True], "commits_over_52 must be a list of non-negative integers, got [0, true]"),
        ("commits_over_52", [0, -1], "commits_over_52 must be a list of non-negative integers, got [0, -1]"),
        ("commits_over_52", "0,0,0", 'commits_over_52 must be a list of non-negative integers, got "0,0,0"'),
        ("last_updated", "2026-02-11T08:53:49", "last_updated '2026-02-11T08:53:49' has no UTC offset, got \"2026-02-11T08:53:49\""),
        ("last_fetched", "2026-02-15", "last_fetched '2026-02-15' has no UTC offset, got \"2026-02-15\""),
        ("created", "yesterday", "created 'yesterday' is not an ISO 8601 date-time, got \"yesterday\""),
        ("modified", "2026-02-30T10:00:00Z", "modified '2026-02-30T10:00:00Z' is not an ISO 8601 date-time, got \"2026-02-30T10:00:00Z\""),
        ("created", None, "created must be an ISO 8601 date-time string, got null"),
        ("modified", 1706467979, "modified must be an ISO 8601 date-time string, got 1706467979"),
        ("title", None, "title must be a string, got null"),
        ("repo_description", None, "repo_description must be a string, got null"),
        ("repo_url", None, "repo_url must be a string, got null"),
        ("category", 1, "category must be a string or null, got 1"),
        ("pypi_version", 5.3, "pypi_version must be a string or null, got 5.3"),
        ("documentation_url", ["x"], 'documentation_url must be a string or null, got ["x"]'),
    ],
)
def test_wrong_type(field, value, problem):
    assert invalid(with_field(**{field: value})) == f"{WHERE} {SLUG}: {problem}"


def test_a_long_bad_value_is_cut_to_60_characters():
    value = "x" * 100
    assert invalid(with_field(grids=value)) == f'{WHERE} {SLUG}: grids must be a list of strings, got "{"x" * 59}'


def test_repo_url_that_is_not_a_url():
    assert invalid(with_field(repo_url="not a url")) == (
        f"{WHERE} {SLUG}: repo_url 'not a url' does not name an owner and a repository"
    )


def test_repo_url_with_another_scheme():
    assert invalid(with_field(repo_url="ftp://github.com/o/r")) == (
        f"{WHERE} {SLUG}: repo_url 'ftp://github.com/o/r' is not a URL"
    )


def test_unknown_field_names_where_the_slug_and_the_field():
    message = invalid(with_field(stars=3))
    assert message.startswith(f"{WHERE} {SLUG}: ")
    assert "unknown field stars" in message


def test_unknown_fields_are_all_named():
    message = invalid({"slug": "a", "zeta": 1, "alpha": 2})
    assert message.endswith("unknown field alpha, zeta")
    assert message.startswith(WHERE)


@pytest.mark.parametrize("record, kind", [([api_record("django-todo")], "list"), ("django-todo", "str"),
                                          (None, "NoneType"), (409, "int")])
def test_a_record_that_is_not_an_object(record, kind):
    assert invalid(record) == f"{WHERE}: a record must be a JSON object, not {kind}"


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_a_date_time_that_leaves_the_range_in_utc_is_an_input_error(value):
    # Valid as written, but year 10000 / year 0 once moved to UTC for storage.
    message = invalid(with_field(last_updated=value))
    assert message.startswith(f"{WHERE} {SLUG}: last_updated ")


def test_parse_datetime_keeps_the_offset():
    value = parse_datetime("2026-02-11T08:53:49-05:00")
    assert value == datetime(2026, 2, 11, 13, 53, 49, tzinfo=timezone.utc)
    assert value.utcoffset().total_seconds() == -5 * 3600


def test_to_columns_accepts_datetimes():
    value = datetime(2023, 12, 19, 21, 59, 33, tzinfo=timezone.utc)
    assert to_columns({"last_updated": value, "participants": ["a"], "commits_over_52": []}) == {
        "last_updated": "2023-12-19T21:59:33.000000+00:00",
        "participants": '["a"]',
        "commits_over_52": "[]",
    }


def test_to_api_returns_the_18_fields_in_order():
    columns = validate(api_record("django-todo"), WHERE)
    shuffled = dict(reversed(list(columns.items())))
    shuffled["extra_column"] = "not an API field"
    record = to_api(read(shuffled), tz.UTC)
    assert list(record) == list(API_FIELDS)
    assert record["commits_over_52"] == [0] * 52
    assert record["grids"] == ["https://djangopackages.org/api/v4/grids/53/", "https://djangopackages.org/api/v4/grids/62/"]
    assert record["participants"][:3] == ["shacker", "bittner", "dependabot[bot]"]


def test_to_api_prints_date_times_in_the_given_zone():
    columns = validate(api_record("django-auth-ldap"), WHERE)
    in_utc = to_api(read(columns), tz.UTC)
    assert in_utc["last_updated"] == "2026-02-11T13:53:49+00:00"
    assert in_utc["created"] == "2010-09-28T12:42:18.494410+00:00"
    in_new_york = to_api(read(columns), NEW_YORK)
    # Winter and summer offsets, as the API printed them.
    assert in_new_york["last_updated"] == "2026-02-11T08:53:49-05:00"
    assert in_new_york["created"] == "2010-09-28T08:42:18.494410-04:00"
    assert in_new_york["last_fetched"] == "2026-02-15T14:29:59.434883-05:00"
    assert in_new_york["modified"] == "2026-01-28T13:52:59.142434-05:00"


def test_to_api_keeps_a_null_last_updated():
    columns = validate(with_field(last_updated=None), WHERE)
    assert to_api(read(columns), NEW_YORK)["last_updated"] is None


@pytest.mark.parametrize("slug", ["django-auth-ldap", "django-todo"])
def test_round_trip_fixture_validate_to_api_is_the_fixture(slug):
    fixture = api_record(slug)
    assert to_api(read(validate(fixture, WHERE)), NEW_YORK) == fixture


def test_round_trip_survives_json_text():
    fixture = api_record("django-auth-ldap")
    stored = json.loads(json.dumps(validate(fixture, WHERE)))
    assert json.dumps(to_api(read(stored), NEW_YORK), indent=2) == json.dumps(fixture, indent=2)


# -- whole slugs, dates every zone can print -------------------------------------------


def test_a_slug_with_a_trailing_newline_is_refused():
    with pytest.raises(InputError) as refused:
        validate({"slug": "pkg\n"}, "file.json: record 1")
    assert "slug must be a non-empty slug" in str(refused.value)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T00:00:00-05:00",
                                  "0001-01-01T12:00:00+14:00"])
def test_dates_some_zone_could_not_print_are_refused(text):
    with pytest.raises(InputError) as refused:
        validate({"slug": "pkg", "last_updated": text}, "file.json: record 1")
    assert "out of range" in str(refused.value)


@pytest.mark.parametrize("text", ["0001-01-02T00:00:00Z", "9999-12-30T23:59:59Z"])
def test_the_extremes_allowed_print_in_every_zone(text):
    columns = validate({"slug": "pkg", "last_updated": text}, "x")
    for zone in ("America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "UTC"):
        row = {field: None for field in API_FIELDS} | {"grids": "[]", "commits_over_52": "[]", "participants": "[]"}
        assert to_api(read({**row, "last_updated": columns["last_updated"]}), tz.gettz(zone))["last_updated"]


def test_a_stored_date_a_zone_cannot_print_is_printed_in_utc():
    row = {field: None for field in API_FIELDS} | {"grids": "[]", "commits_over_52": "[]", "participants": "[]"}
    row["last_updated"] = "0001-01-01T00:00:00+00:00"  # written before import refused it, or by another program
    assert to_api(read(row), tz.gettz("America/New_York"))["last_updated"] == "0001-01-01T00:00:00+00:00"
