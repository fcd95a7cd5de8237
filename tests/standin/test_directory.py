"""The directory stand-in answers as Django Packages' API v4 (Django REST framework) does, or tests on it prove
nothing: its envelopes, links, order, records by id or slug, throttling, validators."""

import httpx
import pytest

from fetcher.standin import Directory, StandIn, World
from fetcher.standin.directory import DOCUMENTED_CATEGORY, DOCUMENTED_GRID, PACKAGE_FIELDS
from tests.conftest import api_record

RECORDS = [api_record("django-auth-ldap"), api_record("django-todo")]


@pytest.fixture
def served():
    world = World()
    world.directory = Directory.from_records(RECORDS)
    with StandIn(world) as standin:
        yield standin, world.directory


def get(standin, path: str, **headers) -> httpx.Response:
    return httpx.get(f"{standin.url}{path}", headers=headers)


def test_a_listing_is_drfs_limit_offset_envelope_newest_id_first_with_absolute_links(served):
    standin, _ = served
    first = get(standin, "/api/v4/packages/?limit=1").json()
    second = get(standin, "/api/v4/packages/?limit=1&offset=1").json()

    assert list(first) == ["count", "next", "previous", "results"] and first["count"] == 2
    assert first["results"] == [RECORDS[0]] and second["results"] == [RECORDS[1]]  # 410 before 409
    assert (first["next"], first["previous"]) == (f"{standin.url}/api/v4/packages/?limit=1&offset=1", None)
    assert (second["next"], second["previous"]) == (None, f"{standin.url}/api/v4/packages/?limit=1")
    assert get(standin, "/api/v4/packages/").json()["results"] == RECORDS  # PAGE_SIZE 20
    headers = get(standin, "/api/v4/packages/").headers
    assert (headers["allow"], headers["vary"], headers["content-type"]) == (
        "GET, HEAD, OPTIONS", "Accept", "application/json; charset=utf-8")
    assert "etag" not in headers  # DRF sends none of its own


def test_records_are_served_by_id_or_slug_and_categories_by_id_only(served):
    standin, _ = served
    assert get(standin, "/api/v4/packages/django-todo/").json() == RECORDS[1] == get(standin, "/api/v4/packages/409/").json()
    assert get(standin, "/api/v4/grids/healt-checkers/").json() == DOCUMENTED_GRID
    assert get(standin, "/api/v4/categories/1/").json() == DOCUMENTED_CATEGORY
    missing = get(standin, "/api/v4/categories/apps/")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not found."})


def test_the_grids_and_categories_the_records_name_are_there_naming_their_packages(served):
    standin, directory = served
    grids = {grid["id"]: grid for grid in get(standin, "/api/v4/grids/").json()["results"]}
    assert sorted(grids) == sorted({438, 7, 271, *(int(url.split("/")[-2]) for url in RECORDS[1]["grids"])})
    assert grids[7]["packages"] == ["https://djangopackages.org/api/v4/packages/410/"]
    assert list(grids[7]) == list(DOCUMENTED_GRID)
    assert [category["id"] for category in directory.categories] == [1]


def test_a_catalogue_record_is_completed_with_every_field_the_api_sends():
    directory = Directory.from_records([{"slug": "x", "repo_url": "https://github.com/o/x"}, RECORDS[0]])
    made = directory.packages[0]
    assert list(made) == list(PACKAGE_FIELDS) and made["id"] == 411 and made["title"] == "x"
    assert made["last_fetched"] is None and made["commits_over_52"] == []


def test_throttled_is_drfs_429_with_retry_after_in_whole_seconds(served):
    standin, directory = served
    directory.throttle(1, retry_after=3)
    throttled = get(standin, "/api/v4/packages/")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "3"
    assert throttled.json() == {"detail": "Request was throttled. Expected available in 3 seconds."}
    assert get(standin, "/api/v4/packages/").status_code == 200


def test_with_etags_a_page_asked_again_with_its_etag_is_304(served):
    standin, directory = served
    directory.etags = True
    etag = get(standin, "/api/v4/grids/?limit=2").headers["etag"]
    assert get(standin, "/api/v4/grids/?limit=2", **{"If-None-Match": etag}).status_code == 304
    assert [(asked.status, asked.conditional) for asked in directory.asked("grids")] == [(200, False), (304, True)]
