"""Each endpoint's answer, built without a server: `answers.answer` on a store made by `fetcher import`.

The expected bodies are Django Packages' and DRF's (the 404 texts of `get_object_or_404`, the 405 of
`MethodNotAllowed`, the envelope) or, for fetcher's own endpoints and a record's bytes, what the command prints.
"""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dateutil import tz

from fetcher.errors import StoreError
from fetcher.serve.answers import Asked, Serving, answer
from fetcher.store import open_store
from tests.conftest import BOTH_BACKENDS, FIXTURES, raw_store

NOW = datetime(2026, 12, 7, 17, 0, tzinfo=timezone.utc)
HOST = "api.example.org"

pytestmark = BOTH_BACKENDS


@pytest.fixture
def served(tmp_path, config_file, run_cli, store_at):
    """A store of the two real API records; `ask(path, query, **headers)` answers as the server would."""
    config = config_file()
    result = run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json"),
                     str(FIXTURES / "api-v4-django-auth-ldap.json"))  # fmt: skip
    assert result.exit_code == 0, result.output
    store = open_store(store_at, create=False, read_only=True)
    serving = Serving(tz.UTC, store_at, cache_seconds=60, last_sync_within=timedelta(hours=25))

    def ask(path: str, query: str = "", method: str = "GET", now: datetime = NOW, **headers):
        sent = {"host": HOST, **{name.replace("_", "-"): value for name, value in headers.items()}}
        return answer(Asked(method, path.encode("latin-1"), query.encode("latin-1"), sent), lambda: store.reads,
                      serving, now)  # fmt: skip

    ask.cli = lambda *args: run_cli(config, *args)
    ask.store_path = store_at
    return ask


def body(given) -> dict:
    return json.loads(given.body)


def test_the_index_links_the_lists_from_the_request_host(served):
    given = served("/api/v4/")
    assert given.status == 200
    assert body(given) == {"packages": f"http://{HOST}/api/v4/packages/", "grids": f"http://{HOST}/api/v4/grids/",
                           "categories": f"http://{HOST}/api/v4/categories/"}  # fmt: skip


def test_a_record_by_slug_and_by_id_is_the_bytes_show_prints(served):
    shown = served.cli("show", "django-todo").output.encode()
    by_slug, by_id = served("/api/v4/packages/django-todo/"), served("/api/v4/packages/409/")
    assert by_slug.status == by_id.status == 200
    assert by_slug.body == by_id.body == shown
    assert by_slug.headers["content-type"] == "application/json"
    assert by_slug.headers["last-modified"] == "Mon, 16 Feb 2026 01:08:21 GMT"  # its last_fetched, in GMT
    assert by_slug.headers["cache-control"] == "public, max-age=60"


def test_the_list_is_newest_id_first_each_record_the_bytes_export_prints(served):
    exported = served.cli("export", "--jsonl").output.splitlines()
    given = served("/api/v4/packages/")
    assert body(given)["count"] == 2 and body(given)["next"] is None and body(given)["previous"] is None
    assert [record["id"] for record in body(given)["results"]] == [410, 409]
    # export goes by slug (auth-ldap, todo); the list by id, newest first: the same order here.
    assert given.body == ('{"count": 2, "next": null, "previous": null, "results": [' + ", ".join(exported)
                          + "]}").encode()  # fmt: skip


@pytest.mark.parametrize("path, detail", [
    ("/api/v4/packages/no-such-package/", "No Package matches the given query."),
    ("/api/v4/packages/411/", "No Package matches the given query."),
    ("/api/v4/packages/0/", "No Package matches the given query."),
    ("/api/v4/packages/" + "9" * 30 + "/", "No Package matches the given query."),  # past 64 bits: no row's
    ("/api/v4/packages/" + "a" * 10000 + "/", "No Package matches the given query."),
    ("/api/v4/packages/%C3%A9t%C3%A9/", "No Package matches the given query."),
    ("/api/v4/packages/²/".encode().decode("latin-1"), "Not found."),  # digits int() cannot read: DRF's bare 404
    ("/api/v4/packages/%B2/", "Not found."),  # not UTF-8: nothing's name
    ("/api/v4/packages/%FF%FE/", "Not found."),
    ("/api/v4/packages/%00/", "Not found."),  # a NUL the database refuses to compare: DRF's bare 404
    ("/api/v4/packages/a/b/", "Not found."),  # no such endpoint
    ("/api/v4/nothing/", "Not found."),
    ("/", "Not found."),
    ("/api/v4/grids/1/", "No Grid matches the given query."),
    ("/api/v4/grids/some-grid/", "No Grid matches the given query."),
    ("/api/v4/categories/1/", "No Category matches the given query."),
    ("/api/v4/categories/apps/", "Not found."),  # categories are looked up by id alone
    ("/api/fetcher/packages/nope/facts/", "No Package matches the given query."),
    ("/api/fetcher/packages/nope/history/", "No Package matches the given query."),
])  # fmt: skip
def test_what_is_not_there_is_a_404_with_drfs_body(served, path, detail):
    given = served(path)
    assert (given.status, body(given)) == (404, {"detail": detail})
    assert given.headers["content-type"] == "application/json"


def test_a_path_without_its_trailing_slash_is_sent_to_it_with_its_query(served):
    given = served("/api/v4/packages", "limit=5&offset=1")
    assert given.status == 301 and given.body == b""
    assert given.headers["location"] == "/api/v4/packages/?limit=5&offset=1"
    assert served("/api/v4/packages/django-todo").headers["location"] == "/api/v4/packages/django-todo/"
    assert served("/api/v4/nothing").status == 404


def test_percent_escapes_in_the_path_are_decoded_before_matching(served):
    assert served("/api/v4/%70ackages/django%2Dtodo/").body == served("/api/v4/packages/django-todo/").body


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW"])
def test_no_endpoint_writes(served, method):
    given = served("/api/v4/packages/django-todo/", method=method)
    assert (given.status, body(given)) == (405, {"detail": f'Method "{method}" not allowed.'})
    assert given.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("host", ["evil host", "a/b", "x@y", "", "exämple.org", "[::1", "a:b:c"])
def test_a_host_django_would_refuse_is_a_400(served, host):
    given = served("/api/v4/packages/", host=host or " ")
    assert (given.status, body(given)) == (400, {"detail": "Invalid Host header."})


def test_links_keep_the_host_and_port_as_sent(served):
    given = served("/api/v4/packages/", "limit=1", host="API.Example.org:8080")
    assert body(given)["next"] == "http://API.Example.org:8080/api/v4/packages/?limit=1&offset=1"


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "2026-12-01T00:00:00", "2026-12-01 00:00:00 00:00",
                                   "0001-01-01T00:00:00Z", "9" * 5000])  # fmt: skip
def test_a_bad_modified_since_is_a_400_naming_the_parameter(served, value):
    given = served("/api/v4/packages/", "modified_since=" + value)
    assert given.status == 400
    assert list(body(given)) == ["modified_since"]
    assert "ISO 8601" in body(given)["modified_since"][0]


def test_a_plus_sign_read_as_a_space_is_explained(served):
    message = body(served("/api/v4/packages/", "modified_since=2026-12-01T00:00:00+00:00"))["modified_since"][0]
    assert "%2B" in message


def test_modified_since_keeps_the_packages_modified_at_or_after_it(served):
    # django-auth-ldap was modified 2026-01-28T18:52:59.142434Z, django-todo later the same day.
    at = body(served("/api/v4/packages/", "modified_since=2026-01-28T13:52:59.142434-05:00"))
    after = body(served("/api/v4/packages/", "modified_since=2026-01-28T18:52:59.142435Z&limit=1"))
    assert at["count"] == 2
    assert [record["slug"] for record in at["results"]] == ["django-auth-ldap", "django-todo"]  # newest id first
    assert after == {**after, "count": 1, "next": None, "previous": None}
    assert [record["slug"] for record in after["results"]] == ["django-todo"]


def test_more_than_a_thousand_query_parameters_are_a_400(served):
    given = served("/api/v4/packages/", "&".join(f"p{n}=1" for n in range(1001)))
    assert given.status == 400 and "detail" in body(given)


def test_grids_and_categories_are_empty_lists_until_the_catalogue_has_them(served):
    for path in ("/api/v4/grids/", "/api/v4/categories/"):
        assert body(served(path)) == {"count": 0, "next": None, "previous": None, "results": []}
        assert body(served(path, "offset=40"))["previous"] == f"http://{HOST}{path}?limit=20&offset=20"


def test_a_conditional_request_is_answered_304_with_no_body(served):
    first = served("/api/v4/packages/django-todo/")
    again = served("/api/v4/packages/django-todo/", if_none_match=first.headers["etag"])
    assert again.status == 304 and again.body == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert "content-type" not in again.headers
    since = served("/api/v4/packages/django-todo/", if_modified_since=first.headers["last-modified"])
    assert since.status == 304
    assert served("/api/v4/packages/django-todo/", if_none_match='"stale"').status == 200


def test_facts_history_and_trending_are_what_the_commands_print(served):
    assert served("/api/fetcher/packages/django-todo/facts/").body == \
        served.cli("show", "django-todo", "--facts").output.encode()
    assert served("/api/fetcher/packages/409/history/").body == \
        served.cli("history", "django-todo", "--json").output.encode()
    assert served("/api/fetcher/trending/").body == served.cli("trending", "--json").output.encode()


@pytest.mark.parametrize("query", ["days=0", "days=-1", "days=x", "days=36501", "limit=0", "limit=1001", "limit=1e3"])
def test_trending_refuses_what_the_command_would_refuse(served, query):
    given = served("/api/fetcher/trending/", query)
    assert given.status == 400 and list(body(given)) == [query.split("=")[0]]


def test_health_says_whether_the_last_sync_was_recent(served):
    never = served("/api/fetcher/health/")
    assert never.status == 503 and never.headers["cache-control"] == "no-store"
    assert body(never)["store"] == {"readable": True, "packages": 2}
    assert body(never)["last_sync"]["finished"] is None
    store = open_store(served.store_path)
    finished = NOW - timedelta(hours=2)
    with store.db.write():
        store.db.insert("sync_run", {
            "command": "sync", "started": finished.isoformat(), "finished": finished.isoformat(), "packages": 2,
            "synced": 2, "unchanged": 0, "failed": 0, "skipped": 0, "pending": 0, "requests": 8, "not_modified": 0,
            "retries": 0, "graphql_points": 1, "points": 5, "seconds": 1.0})  # fmt: skip
    recent = served("/api/fetcher/health/")
    assert recent.status == 200
    assert body(recent)["healthy"] is True
    assert body(recent)["last_sync"]["seconds_ago"] == 7200
    stale = served("/api/fetcher/health/", now=NOW + timedelta(hours=24))
    assert stale.status == 503 and body(stale)["last_sync"]["recent"] is False
    # A 503 is never a 304, whatever the client holds.
    assert served("/api/fetcher/health/", now=NOW + timedelta(hours=24), if_none_match="*").status == 503


def test_a_store_that_cannot_be_read_is_a_503_and_health_says_why(tmp_path):
    def unreadable():
        raise StoreError(f"{tmp_path}/gone.db: no store there")

    serving = Serving(tz.UTC, Path(tmp_path / "gone.db"))
    asked = Asked("GET", b"/api/v4/packages/", b"", {"host": HOST})
    given = answer(asked, unreadable, serving, NOW)
    assert (given.status, json.loads(given.body)) == (503, {"detail": "The store cannot be read now."})
    health = answer(Asked("GET", b"/api/fetcher/health/", b"", {"host": HOST}), unreadable, serving, NOW)
    assert health.status == 503
    assert json.loads(health.body) == {"healthy": False, "store": {"readable": False}, "last_sync": None}


def test_grids_and_categories_a_walk_stored_are_printed_in_the_apis_shape(served):
    with raw_store(served.store_path) as db:  # as `import --from-api` writes them (fetcher/store/walk.py)
        db.execute("""INSERT INTO grid (id, title, slug, description, is_locked, packages, header, created, modified,
                                        imported)
                      VALUES (7, 'Auth', 'auth', 'Log in', 1, '["https://x.org/api/v4/packages/3/"]', 0,
                              '2020-01-02T03:04:05+00:00', '2024-05-06T07:08:09+00:00', '2026-12-07T10:00:00+00:00')""")
        db.execute("""INSERT INTO category (id, title, slug, description, title_plural, show_pypi, created, modified,
                                            imported)
                      VALUES (2, 'App', 'apps', 'Small', 'Apps', 1, '2020-01-02T03:04:05+00:00',
                              '2024-05-06T07:08:09+00:00', '2026-12-07T11:00:00+00:00')""")
    listed = served("/api/v4/grids/")
    grid = body(served("/api/v4/grids/auth/"))

    assert body(listed)["results"] == [grid]
    assert grid["is_locked"] is True and grid["header"] is False
    assert grid["packages"] == ["https://x.org/api/v4/packages/3/"] and "imported" not in grid
    assert listed.headers["last-modified"] == "Mon, 07 Dec 2026 10:00:00 GMT"  # when the walk wrote it
    category = body(served("/api/v4/categories/2/"))
    assert category["show_pypi"] is True and category["title_plural"] == "Apps" and "imported" not in category
    assert served("/api/v4/categories/").headers["last-modified"] == "Mon, 07 Dec 2026 11:00:00 GMT"
