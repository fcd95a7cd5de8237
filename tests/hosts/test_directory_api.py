"""A directory's API v4 as a service: its pages read into records or refused whole, its `next` admitted, its pace."""

import asyncio
import json

import pytest

from fetcher.errors import PageRefused
from fetcher.hosts.directory_api import DirectoryService, admit_next, listing_of, read_page
from fetcher.net.answer import Answer
from fetcher.net.request import Request
from fetcher.standin.directory import DOCUMENTED_CATEGORY, DOCUMENTED_GRID
from tests.conftest import api_record

API = "https://djangopackages.org/api/v4/"
URL = f"{API}packages/?limit=20"


def answer(data, headers=None, status=200) -> Answer:
    return Answer(URL, status, headers or {}, data)


def page(results, following=f"{API}packages/?limit=20&offset=20", **extra) -> dict:
    return {"count": 100, "next": following, "previous": None, "results": results, **extra}


def refused(data, listing="packages") -> str:
    with pytest.raises(PageRefused) as caught:
        read_page(answer(data), URL, listing, API)
    assert str(caught.value).startswith(f"{URL}: ") and str(caught.value).endswith("; nothing of this page was written")
    return str(caught.value).removeprefix(f"{URL}: ").removesuffix("; nothing of this page was written")


def test_a_page_of_packages_is_its_records_as_import_takes_them_its_next_and_validators():
    read = read_page(answer(page([api_record("django-auth-ldap")]), {"etag": 'W/"a"', "last-modified": "x" * 501}),
                     URL, "packages", API)
    assert [record["slug"] for record in read.items] == ["django-auth-ldap"]
    assert read.items[0]["last_updated"] == "2026-02-11T13:53:49.000000+00:00"  # stored in UTC, as import stores it
    assert (read.next_url, read.etag, read.last_modified) == (f"{API}packages/?limit=20&offset=20", 'W/"a"', None)


def test_the_documented_grid_and_category_are_read_and_any_other_shape_refused():
    grids = read_page(answer(page([DOCUMENTED_GRID], None)), URL, "grids", API).items
    categories = read_page(answer(page([DOCUMENTED_CATEGORY], None)), URL, "categories", API).items
    assert grids[0]["slug"] == "healt-checkers" and grids[0]["is_locked"] == 0
    assert json.loads(grids[0]["packages"])[0] == "https://djangopackages.org/api/v4/packages/5810/"
    assert categories[0]["created"] == "2010-08-15T02:47:52.000000+00:00"
    assert refused(page([{**DOCUMENTED_GRID, "is_locked": "no"}], None), "grids") == (
        "record 1 (slug 'healt-checkers'): is_locked must be true or false, got \"no\"")
    assert refused(page([{**DOCUMENTED_CATEGORY, "created": "2010-08-14T22:47:52"}], None), "categories") == (
        "record 1 (slug 'apps'): created '2010-08-14T22:47:52' has no UTC offset, got \"2010-08-14T22:47:52\"")
    assert refused(page([{**DOCUMENTED_GRID, "votes": 3}], None), "grids") == (
        "record 1 (slug 'healt-checkers'): unknown field votes")
    without = {key: value for key, value in DOCUMENTED_CATEGORY.items() if key != "show_pypi"}
    assert refused(page([without], None), "categories") == "record 1 (slug 'apps'): no show_pypi"


@pytest.mark.parametrize("data, reason", [
    ([], "not a page of packages: the answer is a JSON list, not an object"),
    ({"count": 1, "next": None}, "not a page of packages: no 'results'"),
    ({"results": []}, "not a page of packages: no 'next'"),
    (page({}), "'results' is not a list"),
    (page([], count=-1), "'count' is not a count"),
    (page([], count=True), "'count' is not a count"),
    (page([], 7), "'next' is neither a URL nor null"),
    (page([]), f"a page with no records says there is a next one ({API}packages/?limit=20&offset=20)"),
    (page([{**api_record("django-todo"), "repo_forks": -1}]),
     "record 1 (slug 'django-todo'): repo_forks must be a non-negative integer, got -1"),
    (page([{key: value for key, value in api_record("django-todo").items() if key != "participants"}]),
     "record 1 (slug 'django-todo'): no participants"),
    (page([api_record("django-todo"), {**api_record("django-todo"), "id": 7}]),
     "record 2: slug 'django-todo' appears twice with different ids (409 and 7)"),
])
def test_a_page_not_of_the_expected_shape_is_refused_naming_what_was_wrong(data, reason):
    assert refused(data) == reason


@pytest.mark.parametrize("following, reason", [
    ("https://elsewhere.example/api/v4/packages/?offset=20",
     "leads to another origin (https://elsewhere.example:443, not https://djangopackages.org:443): not followed"),
    ("http://djangopackages.org/api/v4/packages/?offset=20", "leads to another origin"),
    ("https://djangopackages.org/admin/?offset=20", "leads outside the API (https://djangopackages.org/api/v4/)"),
    ("https://djangopackages.org/api/v4/%2e%2e/admin/?offset=20", "leads outside the API"),
    ("https://djangopackages.org/api/v4/grids/?offset=20", "leads out of the packages listing"),
    ("javascript:alert(1)", "is not an http(s) URL"),
    ("https://djangopackages.org/api/v4/packages/?q=" + "x" * 2000, "is longer than 2000 characters"),
])
def test_a_next_link_off_the_listing_is_refused_without_being_asked(following, reason):
    with pytest.raises(PageRefused) as caught:
        admit_next(following, URL, "packages", API)
    assert reason in str(caught.value)


def test_each_page_belongs_to_one_listing():
    assert listing_of(f"{API}grids/?limit=3&offset=3", API) == "grids"
    assert listing_of(f"{API}packages/", API) == "packages"
    assert listing_of(f"{API}search/?q=x", API) is None


def test_the_pace_keeps_requests_apart_by_the_configured_rate():
    now, slept = [100.0], []

    async def sleep(seconds):
        slept.append(round(seconds, 6))
        now[0] += seconds

    async def three():
        service = DirectoryService(2, clock=lambda: now[0], sleep=sleep)
        request = Request(URL, "directory")
        await service.pace(request)
        await service.pace(request)
        now[0] += 0.2  # the answer took a while: only the rest of the interval is waited
        await service.pace(request)
        now[0] += 5
        await service.pace(request)  # long after: at once

    asyncio.run(three())
    assert slept == [0.5, 0.3]
