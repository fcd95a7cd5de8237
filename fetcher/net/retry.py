"""The one place that decides what a failed request leads to.

Transient failures (5xx, timeouts, resets, garbled bodies, 202 while GitHub
computes statistics) are asked again with exponential backoff and jitter, but
for a host whose name does not resolve (no backoff makes it resolve). A
rate limit is waited out when it resets within `max_rate_limit_wait`;
otherwise the RateLimited failure goes up and `sync` stops the run (exit 75).
Everything else (404, 401, a body of the wrong shape) is not retried.
"""

import logging
import random
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState

from fetcher.errors import RateLimited, ServerError, StatsPending, Transient, Unresolved
from fetcher.logs import event

log = logging.getLogger(__name__)

# A reset time is GitHub's clock, not ours: leave a little slack.
RESET_MARGIN = timedelta(seconds=1)
# A refusal whose reset has already passed (a client clock ahead of the server's) or a `Retry-After: 0` is not
# asked again at once: every wait for a rate limit is at least this long, so a refusal never becomes a storm.
MIN_RATE_LIMIT_WAIT = timedelta(seconds=1)
# A limit that is still there after this many waits is not going away within this run.
MAX_RATE_LIMIT_WAITS = 3


def backoff_delay(attempt: int, base: float) -> float:
    """About base × 1, 2, 4, 8 …, plus up to a quarter of that again so workers don't retry in step."""
    delay = base * 2 ** (attempt - 1)
    return delay + random.uniform(0, delay / 4)


def rate_limit_delay(failure: RateLimited, now: datetime) -> float:
    """Seconds until the limit's reset and a margin, and never less than MIN_RATE_LIMIT_WAIT."""
    return max(MIN_RATE_LIMIT_WAIT.total_seconds(), (failure.reset_at + RESET_MARGIN - now).total_seconds())


def retrying(
    *,
    retries: int,
    backoff: float,
    max_rate_limit_wait: timedelta,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[None]],
    on_rate_limit_wait: Callable[[float, datetime], None] = lambda seconds, until: None,
    pending: bool = True,
    final: frozenset[int] = frozenset(),
) -> AsyncRetrying:
    """The retry loop for one request. Rate-limit waits and transient retries are counted apart.

    `pending=False`: a 202 (statistics still computing) is not asked again here but goes up at once, so the
    package is not held while GitHub computes (sync comes back for it later in the run).
    `final`: 5xx statuses that go up at once too, to a caller that knows what they mean there.
    """
    failures = {"transient": 0, "rate limit": 0}

    def retry(state: RetryCallState) -> bool:
        # tenacity asks this first for every failed attempt, before wait and stop: count here.
        failure = state.outcome.exception()
        if isinstance(failure, RateLimited):
            failures["rate limit"] += 1
        elif isinstance(failure, StatsPending) and not pending:
            return False
        elif isinstance(failure, Unresolved) or (isinstance(failure, ServerError) and failure.status in final):
            return False
        elif isinstance(failure, Transient):
            failures["transient"] += 1
        else:
            return False
        return True

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception()
        if isinstance(failure, RateLimited):
            return rate_limit_delay(failure, clock())
        return backoff_delay(failures["transient"], backoff)

    def stop(state: RetryCallState) -> bool:
        failure = state.outcome.exception()
        if isinstance(failure, RateLimited):
            too_long = rate_limit_delay(failure, clock()) > max_rate_limit_wait.total_seconds()
            return too_long or failures["rate limit"] > MAX_RATE_LIMIT_WAITS
        return failures["transient"] > retries

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception()
        if isinstance(failure, RateLimited):
            on_rate_limit_wait(state.upcoming_sleep, failure.reset_at)
        log.info(
            "retrying in %.1fs: %s", state.upcoming_sleep, failure,
            extra=event("retry", delay=round(state.upcoming_sleep, 3), reason=str(failure),
                        url=getattr(failure, "url", None)),
        )

    return AsyncRetrying(
        retry=retry,
        wait=wait,
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
