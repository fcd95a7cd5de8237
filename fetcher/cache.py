"""What each resource gave a record last time, and when it can stand in for asking again.

A piece is the part of a record one resource answered (a repository's
counts, a contributors list, the weekly commit counts, a PyPI version), kept
in the store with the validators of the answer it came from. Pure functions.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from fetcher.record import parse_datetime

# Printable ASCII: what a header value may carry back to the server unchanged.
_SENDABLE = re.compile(r"[\x20-\x7e]+")
# GitHub's contributors "may return information that is a few hours old": after a push
# they are asked again (conditionally) on every sync until a day has passed since it.
CONTRIBUTORS_SETTLE = timedelta(hours=24)


@dataclass(frozen=True)
class Validators:
    """What a resource answered last time, to ask "has it changed?" for free."""

    etag: str | None
    last_modified: str | None
    token_env: str | None = None  # the pool token that made them: GitHub's ETags hold for that token only

    def headers(self) -> dict[str, str]:
        """The conditional headers; a validator that could not be sent back as it is (an answer's
        non-ASCII or control characters) is left out, and the resource is asked in full instead."""
        sent = {}
        if self.etag and _SENDABLE.fullmatch(self.etag):
            sent["If-None-Match"] = self.etag
        if self.last_modified and _SENDABLE.fullmatch(self.last_modified):
            sent["If-Modified-Since"] = self.last_modified
        return sent


@dataclass(frozen=True)
class Cached:
    value: Any  # JSON: the piece itself
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    token_env: str | None = None  # the pool token whose answer it is (fetcher.tokens)

    @property
    def validators(self) -> Validators:
        return Validators(self.etag, self.last_modified, self.token_env)


def for_repo(cached: Cached | None, repo_key: str) -> Cached | None:
    """The cached piece if it was taken from this repository; a changed repo_url starts afresh."""
    if cached is not None and cached.value.get("repo") == repo_key:
        return cached
    return None


def unchanged_since_push(cached: Cached | None, pushed_at: str | None) -> bool:
    """Contributors, weekly counts and the newest commit cannot change without a push.

    A piece taken when the repository's pushedAt was what it is now is still
    true; an unknown pushedAt proves nothing.
    """
    return cached is not None and pushed_at is not None and cached.value.get("pushed_at") == pushed_at


def contributors_settled(cached: Cached | None, pushed_at: str | None) -> bool:
    """The contributors list still stands: no push since it was taken, and it was taken a day or more after the last one.

    Before that, GitHub's cached list may not show the push yet; a conditional
    ask is free with a token when nothing changed.
    """
    if not unchanged_since_push(cached, pushed_at):
        return False
    try:
        pushed = parse_datetime(pushed_at)
    except (TypeError, ValueError):
        return True  # no time to count from: the same pushedAt is all there is to go by
    return cached.fetched_at >= pushed + CONTRIBUTORS_SETTLE


def shift_weeks(weeks: list[int], fetched_at: datetime, now: datetime) -> list[int]:
    """Slide a 52-week window forward by the whole weeks since it was fetched, new weeks empty.

    GitHub's weeks are rolling windows that end at the UTC midnight of the day
    they are computed, so a shift is exact by whole weeks only: a window is
    moved once seven UTC days have passed, with no commits in between (the
    caller knows there was no push).
    """
    elapsed_days = (now.astimezone(timezone.utc).date() - fetched_at.astimezone(timezone.utc).date()).days
    shift = min(max(elapsed_days // 7, 0), len(weeks))
    return weeks[shift:] + [0] * shift
