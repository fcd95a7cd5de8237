"""Turn one HTTP answer (status, headers, body) into data or a typed failure.

Pure functions over plain values, no network in sight: this is where what
GitHub and PyPI mean by each answer is decided, and where most tests point.
"""

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

from fetcher.errors import (
    ApiVersionUnsupported,
    BadResponse,
    ContributorsTooLarge,
    EmptyRepository,
    NotFound,
    RateLimited,
    StatsPending,
    TokenRejected,
    Transient,
)

GITHUB, PYPI = "GitHub", "PyPI"
# GitHub: "If you receive a secondary rate limit without retry-after or
# x-ratelimit-reset headers, wait for at least one minute."
SECONDARY_LIMIT_DEFAULT_WAIT = timedelta(minutes=1)
# GitHub's budgets reset within the hour and its Retry-After is a minute or so: a wait
# or a reset further from now than this is a broken answer, not a limit to wait for.
PLAUSIBLE_WAIT = timedelta(days=1)
# SQLite stores integers as signed 64 bits; a larger number in an answer would crash the write.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
# The REST API version fetcher is written for (sent as X-GitHub-Api-Version).
API_VERSION = "2022-11-28"
# GitHub's 403 for GET /repos/{owner}/{repo}/contributors: "The history or contributor
# list is too large to list contributors for this repository via the API."
_TOO_LARGE = "too large to list contributors"
# A lone UTF-16 surrogate escape (\ud800-\udfff): json.loads accepts it, SQLite cannot store it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Answer:
    url: str
    status: int
    headers: Mapping[str, str]  # lower-case names
    data: Any  # parsed JSON; None for 204 and 304
    token_env: str | None = None  # the variable of the pool token that asked (fetcher.tokens), if one did


@dataclass(frozen=True)
class RateLimit:
    limit: int
    remaining: int
    reset_at: datetime
    resource: str


def lower_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Case-insensitive lookups by plain dict; repeated headers joined as HTTP does."""
    return {
        name.lower(): ", ".join(value) if isinstance(value, list) else str(value)
        for name, value in headers.items()
    }


def rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """The budget an answer reports (GitHub's and Forgejo's X-RateLimit-*, GitLab's RateLimit-*); None when it
    reports none, or numbers no server means."""
    for prefix in ("x-ratelimit-", "ratelimit-"):
        try:
            limit, remaining = int(headers[prefix + "limit"]), int(headers[prefix + "remaining"])
            reset_at = reset_time(headers[prefix + "reset"])
        except (KeyError, ValueError):
            continue
        if reset_at is None or not (0 <= remaining <= INT_MAX and 0 <= limit <= INT_MAX):
            return None
        return RateLimit(limit, remaining, reset_at, headers.get("x-ratelimit-resource", "core"))
    return None


def reset_time(value: str) -> datetime | None:
    """X-RateLimit-Reset (epoch seconds) as a time; None when it is no time a budget resets at.

    A past reset is harmless (nothing to wait for); one further ahead than
    PLAUSIBLE_WAIT is not. The bound is checked on the number first:
    fromtimestamp overflows on absurd values.
    """
    seconds = int(value)
    if not 0 <= seconds <= datetime.now(timezone.utc).timestamp() + PLAUSIBLE_WAIT.total_seconds():
        return None
    return datetime.fromtimestamp(seconds, timezone.utc)


_LINK = re.compile(r'<(?P<url>[^>]+)>\s*;\s*rel="?(?P<rel>[^";]+)"?')


def next_link(headers: Mapping[str, str]) -> str | None:
    """The rel="next" URL of a paginated answer's Link header."""
    for match in _LINK.finditer(headers.get("link", "")):
        if "next" in match["rel"].split():
            return match["url"]
    return None


def interpret(
    url: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime, service: str = GITHUB
) -> Answer:
    """Data for a usable answer; raise the typed failure for any other.

    `service` says whose answer it is: a 401 or a rate limit from PyPI is PyPI's, not GitHub's.
    """
    if status in (200, 203):
        return Answer(url, status, headers, parse_json(url, body))
    if status in (204, 304):
        return Answer(url, status, headers, None)
    if status == 202 and service == GITHUB:
        raise StatsPending(url)
    if service != GITHUB:
        return _other_service(url, status, headers, body, now, service)
    if status == 401:
        raise TokenRejected(url)
    if status in (400, 410) and _about_api_version(body):
        raise ApiVersionUnsupported(url, API_VERSION, status, _message(body))
    # A secondary limit comes as a 403 or 429, but GraphQL's may come with another status: its message says.
    if status in (403, 429) or ("retry-after" in headers and says_limited(_message(body))):
        limited = _rate_limited(url, status, headers, body, now, service)
        if limited:
            raise limited
    if status == 403 and _TOO_LARGE in _message(body).lower():
        raise ContributorsTooLarge(url, f"GitHub will not list them (403{_message(body)})")
    if status in (404, 410, 451):
        raise NotFound(url, status)
    if status == 409:
        raise EmptyRepository(url)
    if status >= 500:
        raise Transient(url, f"server error {status}")
    raise BadResponse(url, f"unexpected HTTP {status}{_message(body)}")


def _other_service(url: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime, service: str):
    """PyPI and the like: no token, no statistics; a refusal or a limit is theirs and fails the package."""
    if status == 429 or (status in (403, 503) and "retry-after" in headers):
        raise _rate_limited(url, 429, headers, body, now, service)
    if status in (404, 410, 451):
        raise NotFound(url, status)
    if status >= 500:
        raise Transient(url, f"server error {status}")
    raise BadResponse(url, f"{service} answered HTTP {status}{_message(body)}")


def parse_json(url: str, body: bytes) -> Any:
    """The JSON of a body, only if every value in it can be stored as it is.

    Integers must fit SQLite's 64 bits, strings must be valid Unicode (a lone
    surrogate cannot be encoded), and nesting stops at the decoder's recursion
    limit: each is a BadResponse of that answer rather than a crash later.
    """
    try:
        data = json.loads(body, parse_int=_int, parse_float=_float, parse_constant=_no_constant)
    except _OutOfRange as exc:
        raise BadResponse(url, f"number out of range in the answer: {exc}") from None
    except RecursionError:
        raise BadResponse(url, "JSON nested too deeply in the answer") from None
    except UnicodeDecodeError:
        raise BadResponse(url, "answer is not UTF-8") from None
    except ValueError:
        # A body cut short or garbled on the way usually comes whole next time.
        raise Transient(url, "invalid JSON in the answer") from None
    if _SURROGATE_ESCAPE.search(body):
        # Rare, so checked only when an escape is there: a valid pair decodes to one character.
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadResponse(url, "invalid Unicode (a lone surrogate) in the answer") from None
    return data


class _OutOfRange(ValueError):
    pass


def _int(text: str) -> int:
    if len(text) > 20:  # int() of a huge digit string is slow, and it is out of range anyway
        raise _OutOfRange(f"{text[:20]}…")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise _OutOfRange(text)
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRange(text[:20])
    return value


def _no_constant(text: str):
    raise _OutOfRange(text)  # NaN, Infinity: not JSON, and nothing SQLite or an export could hold


def _rate_limited(
    url: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime, service: str = GITHUB
) -> RateLimited | None:
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        return RateLimited(url, retry_after_time(url, retry_after, now), secondary=True, service=service)
    if headers.get("x-ratelimit-remaining") == "0" or headers.get("ratelimit-remaining") == "0":  # GitLab: no X-
        limit = rate_limit(headers)
        if limit is None:
            name = "X-RateLimit-Reset" if "x-ratelimit-remaining" in headers else "RateLimit-Reset"
            raise BadResponse(url, f"implausible {name} {headers.get(name.lower(), '')[:30]!r}")
        return RateLimited(url, limit.reset_at, secondary=False, service=service)
    if status == 429 or says_limited(_message(body)):
        return RateLimited(url, now + SECONDARY_LIMIT_DEFAULT_WAIT, secondary=True, service=service)
    return None


def retry_after_time(url: str, value: str, now: datetime) -> datetime:
    """Retry-After is delta-seconds or an HTTP date; one further away than PLAUSIBLE_WAIT is a BadResponse."""
    value = value.strip()
    if value.isdigit():
        if int(value[:12]) > PLAUSIBLE_WAIT.total_seconds():
            raise BadResponse(url, f"implausible Retry-After {value[:30]!r}")
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return now + SECONDARY_LIMIT_DEFAULT_WAIT
    if when.tzinfo is None:  # "-0000": the RFC's "UTC, but no zone known"
        when = when.replace(tzinfo=timezone.utc)
    if abs(when - now) > PLAUSIBLE_WAIT:
        raise BadResponse(url, f"implausible Retry-After {value[:40]!r}")
    return when


def says_limited(message: str) -> bool:
    """GitHub's words for a rate limit: "rate limit", or for a secondary one formerly "abuse detection"."""
    message = message.lower()
    return "rate limit" in message or "abuse detection" in message


def _about_api_version(body: bytes) -> bool:
    """GitHub says in the message when X-GitHub-Api-Version names a version it no longer serves."""
    message = _message(body).lower()
    return "version" in message and "api" in message


def _message(body: bytes) -> str:
    """GitHub's {"message": ...}, for error texts."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError, RecursionError):
        return ""
    if not isinstance(message, str):
        return ""
    # It ends up in one line of stderr and in the store: one line, valid Unicode, not a novel.
    message = " ".join(message[:200].split()).encode("utf-8", "replace").decode("utf-8")
    return f": {message}"
