"""ETag, Last-Modified and 304s as RFC 9110 (section 13) has them."""

from datetime import datetime, timezone

from fetcher.serve import conditional

CHANGED = datetime(2026, 12, 7, 17, 11, 6, 537379, tzinfo=timezone.utc)
TAG = conditional.etag(b"body")


def test_the_etag_is_strong_and_follows_every_byte():
    assert TAG.startswith('"') and TAG.endswith('"') and not TAG.startswith("W/")
    assert conditional.etag(b"body") == TAG
    assert conditional.etag(b"body ") != TAG


def test_last_modified_is_an_imf_fixdate_in_gmt_to_the_second():
    assert conditional.http_date(CHANGED) == "Mon, 07 Dec 2026 17:11:06 GMT"


def test_if_none_match_decides_and_compares_weakly():
    assert conditional.not_modified({"if-none-match": TAG}, TAG, CHANGED)
    assert conditional.not_modified({"if-none-match": f'"other", W/{TAG}'}, TAG, CHANGED)
    assert conditional.not_modified({"if-none-match": "*"}, TAG, CHANGED)
    assert not conditional.not_modified({"if-none-match": '"other"'}, TAG, CHANGED)
    # With If-None-Match sent, If-Modified-Since is not looked at (13.2.2).
    later = "Tue, 08 Dec 2026 00:00:00 GMT"
    assert not conditional.not_modified({"if-none-match": '"other"', "if-modified-since": later}, TAG, CHANGED)


def test_if_modified_since_alone_is_304_unless_changed_after_it():
    assert conditional.not_modified({"if-modified-since": "Mon, 07 Dec 2026 17:11:06 GMT"}, TAG, CHANGED)
    assert conditional.not_modified({"if-modified-since": "Mon, 07 Dec 2026 18:00:00 GMT"}, TAG, CHANGED)
    assert not conditional.not_modified({"if-modified-since": "Mon, 07 Dec 2026 17:11:05 GMT"}, TAG, CHANGED)


def test_an_if_modified_since_that_is_no_date_is_ignored():
    for text in ("yesterday", "", "Mon, 99 Foo 2026 25:61:61 GMT", "9" * 5000):
        assert not conditional.not_modified({"if-modified-since": text}, TAG, CHANGED)
