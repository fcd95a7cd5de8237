"""policy: what a failed request leads to; a fake clock and sleep, no waiting."""

import asyncio
import random
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.net import retry as policy
from fetcher.errors import (BadResponse, NotFound, RateLimited, ServerError, StatsPending, TokenRejected, Transient,
                            Unreachable)

NOW = datetime(2024, 1, 13, 2, 46, 46, tzinfo=timezone.utc)
URL = "https://api.github.com/repos/django/deps"


def test_backoff_delay_without_jitter_doubles(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    assert [policy.backoff_delay(attempt, 1.0) for attempt in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert [policy.backoff_delay(attempt, 0.5) for attempt in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_backoff_delay_jitter_is_at_most_a_quarter(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert [policy.backoff_delay(attempt, 2.0) for attempt in (1, 2, 3, 4)] == [2.5, 5.0, 10.0, 20.0]


def test_backoff_delay_stays_in_its_band():
    random.seed(1234)
    for attempt, low in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)):
        delays = [policy.backoff_delay(attempt, 1.0) for _ in range(200)]
        assert all(low <= d <= low * 1.25 for d in delays)
        assert len(set(delays)) > 150  # jittered, so workers don't retry in step


def test_backoff_delay_of_zero_base_is_zero():
    assert [policy.backoff_delay(attempt, 0) for attempt in (1, 2, 3)] == [0.0, 0.0, 0.0]


def test_rate_limit_delay_adds_a_second_of_margin():
    limited = RateLimited(URL, NOW + timedelta(seconds=30), secondary=True)
    assert policy.rate_limit_delay(limited, NOW) == 31.0


def test_a_reset_already_past_or_a_retry_after_of_zero_still_waits_the_least_wait():
    # A client clock ahead of the server's sees GitHub's reset in the past: asking again at once would be a storm.
    least = policy.MIN_RATE_LIMIT_WAIT.total_seconds()
    assert least >= 1.0
    assert policy.rate_limit_delay(RateLimited(URL, NOW - timedelta(minutes=5), secondary=False), NOW) == least
    assert policy.rate_limit_delay(RateLimited(URL, NOW, secondary=True), NOW) == least  # Retry-After: 0
    assert policy.rate_limit_delay(RateLimited(URL, NOW, secondary=False), NOW + timedelta(milliseconds=250)) == least


class Scripted:
    """A request that fails as scripted, then answers "answer"; counts its calls."""

    def __init__(self, *failures):
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self, url):
        self.calls += 1
        assert url == URL
        if self.failures:
            raise self.failures.pop(0)
        return "answer"


def run(request, *, retries=3, backoff=1.0, max_wait=timedelta(minutes=15), now=NOW, final=frozenset()):
    """(result or raised failure, delays slept) of request through policy.retrying."""
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    async def main():
        retry = policy.retrying(retries=retries, backoff=backoff, max_rate_limit_wait=max_wait,
                                clock=lambda: now, sleep=sleep, final=final)
        try:
            return await retry(request, URL)
        except Exception as exc:  # noqa: BLE001 - the test looks at what came out
            return exc

    return asyncio.run(main()), slept


def test_a_success_is_not_retried():
    request = Scripted()
    assert run(request) == ("answer", [])
    assert request.calls == 1


def test_transient_is_retried_then_succeeds(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    request = Scripted(Transient(URL, "server error 502"), Transient(URL, "timed out"))
    assert run(request, backoff=0.5) == ("answer", [0.5, 1.0])
    assert request.calls == 3


@pytest.mark.parametrize("retries", [0, 1, 4])
def test_transient_is_retried_retries_times_then_raised(monkeypatch, retries):
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    failures = [Transient(URL, f"server error {500 + n}") for n in range(retries + 1)]
    request = Scripted(*failures, Transient(URL, "never reached"))
    result, slept = run(request, retries=retries, backoff=1.0)
    assert result is failures[-1]
    assert request.calls == retries + 1
    assert slept == [1.0, 2.0, 4.0, 8.0][:retries]


def test_a_5xx_the_caller_reads_as_an_answer_goes_up_at_once_and_any_other_is_retried():
    gone = ServerError(URL, 500)  # Forgejo's answer to not= a commit the repository no longer has
    request = Scripted(gone)
    assert run(request, backoff=0, final=frozenset({500})) == (gone, [])
    assert request.calls == 1
    request = Scripted(ServerError(URL, 502), ServerError(URL, 503))  # its gateway's passing trouble
    assert run(request, backoff=0, final=frozenset({500})) == ("answer", [0.0, 0.0])
    assert request.calls == 3


def test_backoff_delays_are_jittered_within_a_quarter():
    random.seed(7)
    request = Scripted(*[Transient(URL, "x") for _ in range(5)])
    result, slept = run(request, retries=4, backoff=2.0)
    assert isinstance(result, Transient)
    assert len(slept) == 4
    for delay, low in zip(slept, [2.0, 4.0, 8.0, 16.0]):
        assert low <= delay <= low * 1.25


@pytest.mark.parametrize("failure", [StatsPending(URL), Unreachable(URL, "cannot connect")])
def test_transient_kinds_are_retried(failure):
    request = Scripted(failure)
    result, slept = run(request, backoff=0)
    assert result == "answer"
    assert request.calls == 2
    assert slept == [0.0]


def test_rate_limit_within_the_wait_is_waited_out_then_retried():
    request = Scripted(RateLimited(URL, NOW + timedelta(seconds=30), secondary=True))
    assert run(request) == ("answer", [31.0])
    assert request.calls == 2


def test_primary_rate_limit_within_the_wait_is_waited_out():
    request = Scripted(RateLimited(URL, NOW + timedelta(minutes=10), secondary=False))
    assert run(request, max_wait=timedelta(minutes=15)) == ("answer", [601.0])


def test_rate_limit_wait_ignores_backoff(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    request = Scripted(Transient(URL, "x"), RateLimited(URL, NOW + timedelta(seconds=5), secondary=True))
    assert run(request, backoff=1.0) == ("answer", [1.25, 6.0])


def test_rate_limit_beyond_the_wait_is_raised_at_once():
    limited = RateLimited(URL, NOW + timedelta(hours=1), secondary=False)
    request = Scripted(limited)
    result, slept = run(request, max_wait=timedelta(minutes=15))
    assert result is limited
    assert slept == []
    assert request.calls == 1


def test_rate_limit_just_beyond_the_wait_counts_the_margin():
    # 15 minutes to the reset plus the one-second margin is more than 15 minutes.
    limited = RateLimited(URL, NOW + timedelta(minutes=15), secondary=True)
    request = Scripted(limited)
    assert run(request, max_wait=timedelta(minutes=15)) == (limited, [])


def test_rate_limit_with_no_wait_allowed_is_raised_at_once():
    limited = RateLimited(URL, NOW + timedelta(seconds=1), secondary=True)
    assert run(Scripted(limited), max_wait=timedelta(0)) == (limited, [])


def test_rate_limit_within_the_wait_is_waited_out_even_with_no_transient_retries():
    # `retries` is about transient failures (config.toml: "further tries of a transient
    # failure"); a rate limit that resets within max_rate_limit_wait is waited out.
    request = Scripted(RateLimited(URL, NOW + timedelta(seconds=30), secondary=True))
    assert run(request, retries=0) == ("answer", [31.0])


@pytest.mark.parametrize(
    "failure",
    [NotFound(URL, 404), NotFound(URL, 451), TokenRejected(URL), BadResponse(URL, "unexpected HTTP 403")],
)
def test_other_failures_are_not_retried(failure):
    request = Scripted(failure)
    result, slept = run(request)
    assert result is failure
    assert slept == []
    assert request.calls == 1


def test_an_unexpected_exception_is_not_retried():
    boom = KeyError("x")
    request = Scripted(boom)
    assert run(request) == (boom, [])
    assert request.calls == 1
