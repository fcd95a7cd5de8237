"""When what GitHub answered last time still holds, so it need not be asked again. Pure functions.

Contributors, weekly counts and the newest commit cannot change without a push: an answer
taken when the repository's pushedAt was what it is now is still true. The weekly counts
slide forward by whole weeks while nothing is pushed.
"""

from datetime import datetime, timedelta, timezone

from fetcher.cache import Cached
from fetcher.record import parse_datetime

# GitHub's contributors "may return information that is a few hours old": after a push
# they are asked again (conditionally) on every sync until a day has passed since it.
CONTRIBUTORS_SETTLE = timedelta(hours=24)


def unchanged_since_push(cached: Cached | None, pushed_at: str | None) -> bool:
    """Contributors, weekly counts and the newest commit cannot change without a push.

    An answer taken when the repository's pushedAt was what it is now is still
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
