"""What every host reads the same way: a count, a text, an object, a list, a path, a date; and one guarded pager.

Every value a host takes from an answer comes through one of these, so an answer of the wrong
shape is a BadResponse naming its URL (its package fails and keeps what it had), never a crash
or nonsense written.
"""

from datetime import datetime
from urllib.parse import urlsplit

import httpx

from fetcher.errors import BadResponse
from fetcher.net.answer import Answer
from fetcher.net.credentials import origin, under
from fetcher.record import is_utf8, parse_datetime


def body_object(answer: Answer) -> dict:
    if not isinstance(answer.data, dict):
        raise BadResponse(answer.url, "answer is not a JSON object")
    return answer.data


def body_list(answer: Answer, key: str | None = None) -> list:
    data = body_object(answer).get(key) if key else answer.data
    if not isinstance(data, list):
        raise BadResponse(answer.url, f"answer lacks a list{f' under {key!r}' if key else ''}")
    return data


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def count_field(answer: Answer, data: dict, key: str) -> int:
    value = data.get(key)
    if not is_count(value):
        raise BadResponse(answer.url, f"answer lacks a count {key!r}")
    return value


def text_field(answer: Answer, data: dict, key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise BadResponse(answer.url, f"answer lacks a string {key!r}")
    return value


def path_field(answer: Answer, data: dict, key: str) -> str | None:
    """A repository's path as the host reports it, unchecked (None when it reports none): whether it is a path of
    the host's own grammar, and a move, is the host's to say (Forge.moved_to)."""
    value = data.get(key)
    return value if isinstance(value, str) else None


def names(web_url: str, host: str, path: str) -> bool:
    """Whether `web_url` is exactly https://HOST/PATH for `path` on `host` (a `www.` before either aside)."""
    try:
        split = urlsplit(web_url)
    except ValueError:
        return False
    return (split.scheme == "https" and not (split.query or split.fragment)
            and split.netloc.lower().removeprefix("www.") == host.lower().removeprefix("www.")
            and split.path.removesuffix("/") == f"/{path}")


def commit_date(answer: Answer, text) -> datetime:
    try:
        return parse_datetime(text)
    except (TypeError, ValueError):
        raise BadResponse(answer.url, f"commit date {text!r} is not an ISO 8601 date-time") from None


class Pager:
    """The pages of one paged answer: each next link stays under the API, is asked once, and at most `most`."""

    def __init__(self, api_url: str, label: str, most: int, what: str = "pages"):
        """`label` names the links in a failure (`contributors Link rel="next"`); `what`, the pages counted."""
        self.api_url = api_url
        self.label = label
        self.most = most
        self.what = what
        self._asked: set[str] = set()

    def admit(self, url: str) -> str:
        """`url`, fit to ask as the next page; a BadResponse otherwise (nothing is sent there)."""
        shown = url[:200]
        try:
            origin(url)
        except httpx.InvalidURL:
            raise BadResponse(shown, f"{self.label} is not a valid URL") from None
        if not under(url, self.api_url):
            raise BadResponse(shown, f"{self.label} points outside the API ({self.api_url}): not followed")
        if url in self._asked:
            raise BadResponse(shown, f"{self.label} leads back to a page already read")
        if len(self._asked) >= self.most:
            raise BadResponse(shown, f"more than {self.most} {self.what}")
        self._asked.add(url)
        return url


# -- texts inside an answer: a ValueError (or TypeError) names what is wrong; the caller makes it a BadResponse --

MAX_TEXT = 200  # a license name, a version specifier, a classifier, a status: all far shorter


def checked_text(value, limit: int | None) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    if not is_utf8(value):
        raise ValueError("a string is not valid Unicode")
    if limit is not None and len(value) > limit:
        raise ValueError(f"a string is longer than {limit} characters")
    return value


def optional_text(value, limit: int | None) -> str | None:
    return None if value is None else checked_text(value, limit)


def text_list(value, most: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > most:
        raise ValueError(f"expected a list of at most {most} strings")
    return [checked_text(item, MAX_TEXT) for item in value]
