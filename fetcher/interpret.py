"""Turn one HTTP answer (status, headers, body) into data or a typed failure.

Pure functions over plain values, no network in sight: this is where what
GitHub and PyPI mean by each answer is decided, and where most tests point.
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

from fetcher.errors import (
    BadResponse,
    EmptyRepository,
    NotFound,
    RateLimited,
    StatsPending,
    TokenRejected,
    Transient,
)

# GitHub: "If you receive a secondary rate limit without retry-after or
# x-ratelimit-reset headers, wait for at least one minute."
SECONDARY_LIMIT_DEFAULT_WAIT = timedelta(minutes=1)


@dataclass(frozen=True)
class Answer:
    url: str
    status: int
    headers: Mapping[str, str]  # lower-case names
    data: Any  # parsed JSON; None for 204 and 304


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
    """GitHub's and Forgejo's X-RateLimit-* headers, or GitLab's RateLimit-* (Unix-time resets both)."""
    for prefix in ("x-ratelimit-", "ratelimit-"):
        try:
            return RateLimit(
                limit=int(headers[prefix + "limit"]),
                remaining=int(headers[prefix + "remaining"]),
                reset_at=datetime.fromtimestamp(int(headers[prefix + "reset"]), timezone.utc),
                resource=headers.get("x-ratelimit-resource", "core"),
            )
        except (KeyError, ValueError, OverflowError, OSError):
            continue
    return None


_LINK = re.compile(r'<(?P<url>[^>]+)>\s*;\s*rel="?(?P<rel>[^";]+)"?')


def next_link(headers: Mapping[str, str]) -> str | None:
    """The rel="next" URL of a paginated answer's Link header."""
    for match in _LINK.finditer(headers.get("link", "")):
        if "next" in match["rel"].split():
            return match["url"]
    return None


def interpret(url: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime) -> Answer:
    """Data for a usable answer; raise the typed failure for any other."""
    if status in (200, 203):
        return Answer(url, status, headers, _json(url, body))
    if status in (204, 304):
        return Answer(url, status, headers, None)
    if status == 202:
        raise StatsPending(url)
    if status == 401:
        raise TokenRejected(url)
    if status in (403, 429):
        limited = _rate_limited(url, status, headers, body, now)
        if limited:
            raise limited
    if status in (404, 410, 451):
        raise NotFound(url, status)
    if status == 409:
        raise EmptyRepository(url)
    if status >= 500:
        raise Transient(url, f"server error {status}")
    raise BadResponse(url, f"unexpected HTTP {status}{_message(body)}")


def _json(url: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        # A body cut short or garbled on the way usually comes whole next time.
        raise Transient(url, "invalid JSON in the answer") from None


def _rate_limited(url: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime) -> RateLimited | None:
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        return RateLimited(url, _retry_after(retry_after, now), secondary=True)
    limit = rate_limit(headers)
    if limit is not None and limit.remaining == 0:
        return RateLimited(url, limit.reset_at, secondary=False)
    if status == 429 or "rate limit" in _message(body).lower():
        return RateLimited(url, now + SECONDARY_LIMIT_DEFAULT_WAIT, secondary=True)
    return None


def _retry_after(value: str, now: datetime) -> datetime:
    """Retry-After is delta-seconds or an HTTP date."""
    if value.strip().isdigit():
        return now + timedelta(seconds=int(value))
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return now + SECONDARY_LIMIT_DEFAULT_WAIT


def _message(body: bytes) -> str:
    """GitHub's {"message": ...}, for error texts."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if isinstance(message, str) else ""
