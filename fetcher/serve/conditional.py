"""Validators and conditional requests (RFC 9110, section 13): ETag, Last-Modified, 304. Pure functions.

The ETag is strong and exact: a hash of the body, so it changes when a byte of the answer does and only then.
Last-Modified is the newest time the answer can reflect, to the second; a list can lose a package (`fetcher
remove`) without any time moving, so If-None-Match is the validator to trust, and it wins when both are sent.
"""

import hashlib
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the Last-Modified of an answer no time stands behind


def etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def http_date(moment: datetime) -> str:
    """An IMF-fixdate, as Last-Modified and Date are written: `Mon, 07 Dec 2026 17:11:06 GMT`."""
    return format_datetime(moment.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def not_modified(headers: dict[str, str], tag: str, last_modified: datetime) -> bool:
    """Whether a GET or HEAD with these request headers is answered 304 (RFC 9110, 13.2.2).

    If-None-Match, when sent, decides alone (weak comparison, `*` matches); else If-Modified-Since, when it is
    a valid date: 304 unless the answer changed after it. An If-Modified-Since that is not a date is ignored.
    """
    if "if-none-match" in headers:
        return matches(headers["if-none-match"], tag)
    since = _parse_date(headers.get("if-modified-since"))
    return since is not None and last_modified.replace(microsecond=0) <= since


def matches(field: str, tag: str) -> bool:
    """Whether an If-None-Match field names `tag`, comparing weakly (a `W/` prefix is no difference)."""
    if field.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == opaque for candidate in field.split(","))


def _parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # a date without a zone is -0000 (RFC 5322): UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment
