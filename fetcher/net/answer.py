"""One HTTP answer (status, headers, body) as plain values, and the readings every service shares.

Pure functions, no network in sight. A service's own rules (hosts/github/rules.py, hosts/forge_service.py,
hosts/pypi.py) decide what each status means for it; what they all read the same way is here,
once: the JSON of a body, a header's number, a `Retry-After`, a rate-limit reset, a `Link`.
"""

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

from fetcher.errors import BadResponse, NotFound, RateLimited, ServerError, Transient

# A wait or a reset further from now than this is a broken answer, not a limit to wait for: every
# service's budgets reset within the hour, and a Retry-After is a minute or so.
PLAUSIBLE_WAIT = timedelta(days=1)
# "If you receive a secondary rate limit without retry-after or x-ratelimit-reset headers, wait for
# at least one minute" (GitHub); the same is the sensible default for any service that says too little.
DEFAULT_LIMIT_WAIT = timedelta(minutes=1)
# SQLite stores integers as signed 64 bits; a larger number in an answer would crash the write.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
# The longest digit string a header number may have: more is no count, time or size any server means.
HEADER_DIGITS = 18
# A lone UTF-16 surrogate escape (\ud800-\udfff): json.loads accepts it, SQLite cannot store it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_LINK = re.compile(r'<(?P<url>[^>]+)>\s*;\s*rel="?(?P<rel>[^";]+)"?')


@dataclass(frozen=True)
class Answer:
    url: str
    status: int
    headers: Mapping[str, str]  # lower-case names
    data: Any  # parsed JSON; None for 204 and 304
    token_env: str | None = None  # the variable of the token that asked, where one did


@dataclass(frozen=True)
class Budget:
    """What an answer says is left of one rate-limit window."""

    name: str  # GitHub's resource (core, graphql, ...), or the forge's host name
    limit: int
    remaining: int
    reset_at: datetime


def lower_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Case-insensitive lookups by plain dict; repeated headers joined as HTTP does."""
    return {
        name.lower(): ", ".join(value) if isinstance(value, list) else str(value)
        for name, value in headers.items()
    }


def header_number(text: str | None) -> int | None:
    """A header's non-negative whole number: ASCII digits only, at most HEADER_DIGITS of them; else None.

    `str.isdigit()` takes "²" and "٣", which int() then refuses or reads; a digit string of thousands
    of digits trips Python's conversion limit. Every number fetcher reads from a header comes through here.
    """
    if text is None:
        return None
    text = text.strip()
    if len(text) > HEADER_DIGITS or not _ASCII_DIGITS.fullmatch(text):
        return None
    return int(text)


def digits(text: str | None) -> bool:
    """Whether a header's value is ASCII digits, of any length: a number, if maybe not one to believe."""
    return text is not None and _ASCII_DIGITS.fullmatch(text.strip()) is not None


def reset_time(text: str | None, now: datetime) -> datetime | None:
    """An epoch-seconds reset (X-RateLimit-Reset and the like) as a time; None when it is no time a window
    resets at: not a number, or further ahead than PLAUSIBLE_WAIT. A past reset is harmless."""
    seconds = header_number(text)
    if seconds is None or seconds > now.timestamp() + PLAUSIBLE_WAIT.total_seconds():
        return None
    return datetime.fromtimestamp(seconds, timezone.utc)


def budget_from(headers: Mapping[str, str], prefix: str, name: str, now: datetime) -> Budget | None:
    """The window `{prefix}limit`, `{prefix}remaining` and `{prefix}reset` report; None when they report
    none, or numbers no server means."""
    limit = header_number(headers.get(prefix + "limit"))
    remaining = header_number(headers.get(prefix + "remaining"))
    reset_at = reset_time(headers.get(prefix + "reset"), now)
    if limit is None or remaining is None or reset_at is None:
        return None
    return Budget(name, limit, remaining, reset_at)


def retry_after_time(url: str, value: str, now: datetime) -> datetime:
    """Retry-After is delta-seconds or an HTTP date; one further away than PLAUSIBLE_WAIT is a BadResponse,
    and one that cannot be read at all means the default wait."""
    value = value.strip()
    seconds = header_number(value)
    if seconds is not None:
        if seconds > PLAUSIBLE_WAIT.total_seconds():
            raise BadResponse(url, f"implausible Retry-After {value[:30]!r}")
        return now + timedelta(seconds=seconds)
    if digits(value):  # digits, but too many to be a wait
        raise BadResponse(url, f"implausible Retry-After {value[:30]!r}")
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return now + DEFAULT_LIMIT_WAIT
    if when.tzinfo is None:  # "-0000": the RFC's "UTC, but no zone known"
        when = when.replace(tzinfo=timezone.utc)
    if abs(when - now) > PLAUSIBLE_WAIT:
        raise BadResponse(url, f"implausible Retry-After {value[:40]!r}")
    return when


def next_link(headers: Mapping[str, str]) -> str | None:
    """The rel="next" URL of a paginated answer's Link header."""
    for match in _LINK.finditer(headers.get("link", "")):
        if "next" in match["rel"].split():
            return match["url"]
    return None


def read_common(url: str, status: int, headers: Mapping[str, str], body: bytes, now: datetime, service: str,
                *, budget: Budget | None = None) -> Answer:
    """What any service's answer means once its own rules have had their say: data, or a typed failure.

    A refusal with a `Retry-After`, a 429, or a spent `budget` is that service's rate limit; it fails the
    package that asked, never the run (a service whose limit ends the run says so in its own rules).
    """
    if status in (200, 203):
        return Answer(url, status, headers, parse_json(url, body))
    if status in (204, 304):
        return Answer(url, status, headers, None)
    limited = rate_limited(url, status, headers, now, service, budget)
    if limited is not None:
        raise limited
    if status in (404, 410, 451):
        raise NotFound(url, status)
    if status >= 500:
        raise ServerError(url, status)
    raise BadResponse(url, f"{service} answered HTTP {status}{message(body)}")


def rate_limited(url: str, status: int, headers: Mapping[str, str], now: datetime, service: str,
                 budget: Budget | None, *, ends_run: bool = False) -> RateLimited | None:
    """The rate limit a refusal means: its Retry-After, else its spent budget's reset, else (a 429 that says
    no more) the default wait; None for a refusal that is not about a limit."""
    if status not in (403, 429, 503):
        return None
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        return RateLimited(url, retry_after_time(url, retry_after, now), secondary=True, service=service,
                           ends_run=ends_run)
    if status != 503 and budget is not None and budget.remaining == 0:
        return RateLimited(url, budget.reset_at, secondary=False, service=service, ends_run=ends_run)
    if status == 429:
        return RateLimited(url, now + DEFAULT_LIMIT_WAIT, secondary=True, service=service, ends_run=ends_run)
    return None


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


def message(body: bytes) -> str:
    """The `{"message": ...}` most APIs put in an error's body, as ": text" for a failure's line; "" without."""
    try:
        text = json.loads(body).get("message")
    except (ValueError, AttributeError, RecursionError):
        return ""
    if not isinstance(text, str):
        return ""
    # It ends up in one line of stderr and in the store: one line, valid Unicode, not a novel.
    text = " ".join(text[:200].split()).encode("utf-8", "replace").decode("utf-8")
    return f": {text}"


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
