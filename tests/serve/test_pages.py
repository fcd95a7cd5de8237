"""DRF's LimitOffsetPagination as Django Packages configures it (PAGE_SIZE 20, no max_limit), rule by rule.

Every expected value is written out from DRF's rest_framework/pagination.py and utils/urls.py (3.17), and from
Django Packages' documented example (`"next": "https://djangopackages.org/api/v4/packages/?limit=20&offset=20"`),
never from what fetcher computes.
"""

import json

import pytest

from fetcher.serve import pages
from fetcher.serve.pages import Page

URL = "https://djangopackages.org/api/v4/packages/"


def test_the_documented_first_page():
    at = pages.page({})
    assert at == Page(20, 0)
    assert pages.next_link(URL, at, 5327) == "https://djangopackages.org/api/v4/packages/?limit=20&offset=20"
    assert pages.previous_link(URL, at) is None


@pytest.mark.parametrize("query, expected", [
    ({"limit": "5"}, Page(5, 0)),
    ({"limit": "0"}, Page(20, 0)),  # strict: 0 is no limit DRF takes
    ({"limit": "-3"}, Page(20, 0)),
    ({"limit": "abc"}, Page(20, 0)),
    ({"limit": ""}, Page(20, 0)),
    ({"limit": "2.5"}, Page(20, 0)),
    ({"limit": " 7 "}, Page(7, 0)),  # Python's int() strips blanks, so DRF takes it
    ({"limit": "1_0"}, Page(10, 0)),  # ... and reads digit groups
    ({"limit": "٣"}, Page(3, 0)),  # ... and any Unicode decimal digit
    ({"limit": "9" * 5000}, Page(20, 0)),  # past int()'s 4,300 digits: a ValueError, so the default
    ({"limit": "1000000"}, Page(1000, 0)),  # the one departure: cut to MAX_LIMIT, as max_limit would
    ({"offset": "40"}, Page(20, 40)),
    ({"offset": "-1"}, Page(20, 0)),
    ({"offset": "x"}, Page(20, 0)),
    ({"offset": "0"}, Page(20, 0)),
    ({"offset": "9" * 400}, Page(20, int("9" * 400))),  # no bound on an offset: past the end, no rows
])  # fmt: skip
def test_limit_and_offset_as_drf_reads_them(query, expected):
    assert pages.page(query) == expected


def test_a_repeated_parameter_counts_by_its_last_value_as_in_djangos_querydict():
    assert pages.parameters(b"limit=5&limit=7&offset=1&offset=2") == {"limit": "7", "offset": "2"}


def test_the_query_is_decoded_as_django_decodes_it():
    assert pages.parameters(b"q=a+b&r=%41%zz&s&t=%FF") == {"q": "a b", "r": "A%zz", "s": "", "t": "\ufffd"}


def test_more_than_a_thousand_parameters_are_refused_as_django_refuses_them():
    assert len(pages.parameters(b"&".join(b"p%d=1" % n for n in range(1000)))) == 1000
    with pytest.raises(pages.BadQuery):
        pages.parameters(b"&".join(b"p%d=1" % n for n in range(1001)))


def test_a_middle_page_links_both_ways_with_every_parameter_sorted_and_kept():
    url = URL + "?zeta=1&offset=40&limit=20&alpha=x%20y"
    at = Page(20, 40)
    assert pages.next_link(url, at, 100) == URL + "?alpha=x+y&limit=20&offset=60&zeta=1"
    assert pages.previous_link(url, at) == URL + "?alpha=x+y&limit=20&offset=20&zeta=1"


def test_previous_drops_offset_when_stepping_back_reaches_zero():
    assert pages.previous_link(URL + "?offset=20", Page(20, 20)) == URL + "?limit=20"
    assert pages.previous_link(URL + "?offset=5", Page(20, 5)) == URL + "?limit=20"


def test_the_last_page_has_no_next():
    assert pages.next_link(URL + "?offset=80", Page(20, 80), 100) is None
    assert pages.next_link(URL + "?offset=81", Page(20, 81), 100) is None
    assert pages.next_link(URL + "?offset=79", Page(20, 79), 100) == URL + "?limit=20&offset=99"


def test_past_the_end_no_rows_no_next_and_previous_steps_back_by_one_page():
    at = Page(20, 500)
    assert at.past_the_end(100)
    assert pages.next_link(URL + "?offset=500", at, 100) is None
    assert pages.previous_link(URL + "?offset=500", at) == URL + "?limit=20&offset=480"


def test_an_empty_listing_reads_no_rows_and_links_back_only_from_an_offset():
    assert Page(20, 0).past_the_end(0)
    assert pages.next_link(URL, Page(20, 0), 0) is None
    assert pages.previous_link(URL + "?offset=40", Page(20, 40)) == URL + "?limit=20&offset=20"


def test_an_invalid_limit_is_replaced_in_the_links_by_the_one_served():
    assert pages.next_link(URL + "?limit=abc&limit=-2", Page(20, 0), 50) == URL + "?limit=20&offset=20"


def test_the_envelope_is_exactly_json_dumps_of_the_whole():
    records = [{"id": 2, "title": "é"}, {"id": 1, "title": "b"}]
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    whole = {"count": 7, "next": URL + "?limit=2&offset=2", "previous": None, "results": records}
    assert pages.envelope(7, whole["next"], None, lines) == json.dumps(whole, ensure_ascii=False)
    assert pages.envelope(0, None, None, []) == '{"count": 0, "next": null, "previous": null, "results": []}'
