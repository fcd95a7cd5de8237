"""A walk's pages: each written whole with the walk's place, or not at all; the grids and categories it keeps,
read back in Django Packages' API v4 shape for whatever serves them."""

import sqlite3
from datetime import datetime, timezone

import pytest
from dateutil import tz

from fetcher.directory import check, to_api
from fetcher.errors import InputError
from fetcher.record import validate
from fetcher.standin.directory import DOCUMENTED_CATEGORY, DOCUMENTED_GRID
from fetcher.store import open_store
from tests.conftest import api_record

API = "https://djangopackages.org/api/v4/"
STAMP = "2026-12-01T00:00:00.000000+00:00"
NEW_YORK = tz.gettz("America/New_York")


def grids(*numbers: int) -> list[dict]:
    return [check("grids", {**DOCUMENTED_GRID, "id": n, "slug": f"grid-{n}"}, "grid") for n in numbers]


def test_a_grid_and_a_category_read_back_as_their_api_records():
    assert to_api("grids", check("grids", DOCUMENTED_GRID, "g"), NEW_YORK) == DOCUMENTED_GRID
    assert to_api("categories", check("categories", DOCUMENTED_CATEGORY, "c"), NEW_YORK) == DOCUMENTED_CATEGORY
    assert to_api("grids", check("grids", DOCUMENTED_GRID, "g"), timezone.utc)["created"] == \
        "2023-12-27T17:40:58.914633+00:00"


def test_grids_and_categories_are_listed_newest_id_first_with_a_count_and_found_by_id_or_slug(tmp_path):
    store = open_store(tmp_path / "s.db")
    store.walks.write_page(API, STAMP, f"{API}grids/", "grids", grids(3, 12, 7), (None, None), None, None, STAMP)
    categories = [check("categories", {**DOCUMENTED_CATEGORY, "id": n}, "c") for n in (1, 4)]  # the same slug
    store.walks.write_page(API, STAMP, f"{API}categories/", "categories", categories, (None, None), None, None, STAMP)
    reads = store.reads

    assert [grid["id"] for grid in reads.grid_page(10, 0)] == [12, 7, 3] and reads.grid_count() == 3
    assert [grid["id"] for grid in reads.grid_page(1, 1)] == [7] and reads.grid_page(5, 3) == []
    assert reads.grid(id=7)["slug"] == "grid-7" and reads.grid(slug="grid-7")["id"] == 7
    assert to_api("grids", reads.grid(id=7), NEW_YORK) == {**DOCUMENTED_GRID, "id": 7, "slug": "grid-7"}
    assert reads.grid(slug="nope") is None and reads.grid(id=99) is None and reads.grid(id=2**64) is None
    assert reads.grid(id=7)["imported"] == STAMP
    assert reads.category_count() == 2 and [c["id"] for c in reads.category_page(10, 0)] == [4, 1]
    assert to_api("categories", reads.category(1), NEW_YORK) == DOCUMENTED_CATEGORY
    assert reads.category(2) is None and reads.category(2**64) is None


def test_a_store_from_before_the_walk_reads_as_having_no_grids_or_categories(tmp_path):
    store = open_store(tmp_path / "s.db")
    store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute("DROP TABLE grid")
        db.execute("DROP TABLE category")
    reads = open_store(tmp_path / "s.db", read_only=True).reads
    assert (reads.grid_page(10, 0), reads.grid_count(), reads.grid(id=1), reads.grid(slug="x")) == ([], 0, None, None)
    assert (reads.category_page(10, 0), reads.category_count(), reads.category(1)) == ([], 0, None)


def test_a_page_is_written_whole_with_the_walks_place_or_not_at_all(tmp_path):
    store = open_store(tmp_path / "s.db")
    ldap = validate(api_record("django-auth-ldap"), "r")
    store.catalogue.add("other", "https://github.com/o/other", "", "other",
                        datetime(2026, 1, 1, tzinfo=timezone.utc))
    other_id = store.catalogue.packages(["other"])[0]["id"]
    clash = validate({**api_record("django-todo"), "id": other_id}, "r")  # an id another package holds

    with pytest.raises(InputError):
        store.walks.write_page(API, STAMP, f"{API}packages/", "packages", [ldap, clash], ('"e"', None),
                               f"{API}packages/?offset=2", f"{API}packages/?offset=2", STAMP)

    assert store.walks.state(API) is None and store.walks.page(f"{API}packages/") is None
    assert [row["slug"] for row in store.db.select("SELECT slug FROM package")] == ["other"]

    store.walks.write_page(API, STAMP, f"{API}packages/", "packages", [ldap], ('"e"', None),
                           f"{API}packages/?offset=2", f"{API}packages/?offset=2", STAMP)
    state = store.walks.state(API)
    assert (state.next_url, state.pages) == (f"{API}packages/?offset=2", 1)
    assert store.walks.page(f"{API}packages/")["etag"] == '"e"'
    assert store.walks.read_in_walk(f"{API}packages/", API, STAMP)
    assert not store.walks.read_in_walk(f"{API}packages/", API, "2027-01-01T00:00:00.000000+00:00")


def test_a_grid_whose_slug_another_id_now_has_gives_way(tmp_path):
    store = open_store(tmp_path / "s.db")
    store.walks.write_page(API, STAMP, f"{API}grids/", "grids", grids(3), (None, None), None, None, STAMP)
    renamed = check("grids", {**DOCUMENTED_GRID, "id": 4, "slug": "grid-3"}, "g")
    store.walks.write_page(API, STAMP, f"{API}grids/?offset=1", "grids", [renamed], (None, None), None, None, STAMP)
    assert [grid["id"] for grid in store.reads.grid_page(10, 0)] == [4]
