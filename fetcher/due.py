"""When a package is next due: its age, or, while it keeps failing, a rest that doubles. Pure functions.

A package is due once its last successful fetch is `stale_after` old. One
that failed N times in a row rests `stale_after × 2^(N−1)` after its last
failure, at most MAX_REST (or `stale_after`, if that is longer), so a
repository that is gone for good costs one request a month, not one a run.
A package written without a part its host was still computing (GitHub's 202)
is due at once until that part is written.
"""

from datetime import datetime, timedelta, timezone

MAX_REST = timedelta(days=30)
# Later than any time a package can be due at: where a stored time plus its wait is past what a date-time holds.
NEVER = datetime.max.replace(tzinfo=timezone.utc)


def rest(stale_after: timedelta, failures: int) -> timedelta:
    """How long a package that failed `failures` times in a row waits after its last failure."""
    cap = max(MAX_REST, stale_after)
    # Float seconds and a bounded exponent: a package that failed a thousand times overflows nothing.
    seconds = stale_after.total_seconds() * 2.0 ** min(max(failures - 1, 0), 64)
    return min(timedelta(seconds=min(seconds, cap.total_seconds())), cap)


def next_due(
    last_fetched: datetime | None, failures: int, last_failure: datetime | None, stale_after: timedelta,
    pending: bool = False,
) -> datetime | None:
    """When the package is next due; None: now, whatever the time (never fetched, or a part still pending)."""
    if pending and failures == 0:
        return None
    if failures > 0 and last_failure is not None:
        return _after(last_failure, rest(stale_after, failures))
    if last_fetched is None:
        return None
    return _after(last_fetched, stale_after)


def _after(moment: datetime, wait: timedelta) -> datetime:
    """`moment` + `wait`; NEVER past year 9999 (a time another program stored, such as 9999-12-31, read as it is)."""
    try:
        return moment + wait
    except OverflowError:
        return NEVER


def is_due(
    last_fetched: datetime | None, failures: int, last_failure: datetime | None, stale_after: timedelta,
    now: datetime, pending: bool = False,
) -> bool:
    due = next_due(last_fetched, failures, last_failure, stale_after, pending)
    return due is None or due <= now
